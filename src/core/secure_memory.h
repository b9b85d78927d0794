// Memory that is wiped when it is released.
//
// Everything that can hold biometric data -- pixels, landmarks, activations, embeddings -- is
// allocated through one of these hooks, so that a freed buffer never leaves a face behind in the
// heap for a later core dump, a swap-out or a heap-disclosure bug to find:
//   * SecureVector<T>: std::vector with an allocator that sodium_memzero()s on deallocate;
//   * InstallSecureAllocators(): makes every cv::Mat and every XNNPACK buffer do the same.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace idm {

// Zeroises `n` bytes in a way the compiler cannot elide.
void SecureZero(void* p, size_t n);

// Initialises libsodium once for the process (sodium_malloc aborts and randombytes is not
// thread-safe before it); every user of libsodium calls this first. Throws kInternal on failure.
void EnsureSodium();

template <typename T>
struct ZeroingAllocator {
  using value_type = T;
  ZeroingAllocator() noexcept = default;
  template <typename U>
  ZeroingAllocator(const ZeroingAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, size_t n) noexcept {
    SecureZero(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <typename U>
  bool operator==(const ZeroingAllocator<U>&) const noexcept { return true; }
};

template <typename T>
using SecureVector = std::vector<T, ZeroingAllocator<T>>;

// Installs the zeroising allocator as OpenCV's default cv::Mat allocator and initialises XNNPACK
// with one. Idempotent and thread-safe; call before any image or model work (the engine does).
void InstallSecureAllocators();

// Process-wide hardening for a process that holds biometric data: no core dumps
// (RLIMIT_CORE=0, PR_SET_DUMPABLE=0). Returns false if any step failed.
bool DisableCoreDumps();

}  // namespace idm
