// A growable byte buffer for session data (request bodies, embeddings) that lives only in
// libsodium's guarded heap: sodium_malloc'd pages are mlock'ed (never swapped), marked
// MADV_DONTDUMP (never in a core dump), fenced by guard pages, and wiped by sodium_free.
// Growing copies into a new block and frees (wipes) the old one, so no stale copy is left behind.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>

#include "core/secure_memory.h"

namespace idm::server {

class SecureBuffer {
 public:
  SecureBuffer() = default;
  explicit SecureBuffer(size_t capacity) { Reserve(capacity); }
  ~SecureBuffer() { Release(); }
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;
  SecureBuffer(SecureBuffer&& o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_) { o.data_ = nullptr, o.size_ = o.cap_ = 0; }
  SecureBuffer& operator=(SecureBuffer&& o) noexcept {
    if (this != &o) {
      Release();
      data_ = o.data_, size_ = o.size_, cap_ = o.cap_;
      o.data_ = nullptr, o.size_ = o.cap_ = 0;
    }
    return *this;
  }

  void Reserve(size_t capacity) {
    if (capacity <= cap_) return;
    EnsureSodium();  // a buffer may be the process's first use of libsodium
    auto* p = static_cast<uint8_t*>(sodium_malloc(capacity));
    if (p == nullptr) throw std::bad_alloc();
    if (size_ > 0) std::memcpy(p, data_, size_);
    if (data_ != nullptr) sodium_free(data_);  // wipes the old block
    data_ = p;
    cap_ = capacity;
  }
  void Append(const void* bytes, size_t n) {
    if (n == 0) return;
    if (size_ + n > cap_) Reserve(std::max({cap_ * 2, size_ + n, size_t{64} << 10}));
    std::memcpy(data_ + size_, bytes, n);
    size_ += n;
  }
  void Assign(const void* bytes, size_t n) {
    Clear();
    Append(bytes, n);
  }
  // Wipes the contents, keeps the block.
  void Clear() {
    if (data_ != nullptr) sodium_memzero(data_, cap_);
    size_ = 0;
  }
  // Wipes and unmaps.
  void Release() {
    if (data_ != nullptr) sodium_free(data_);
    data_ = nullptr;
    size_ = cap_ = 0;
  }

  const uint8_t* data() const { return data_; }
  uint8_t* data() { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0, cap_ = 0;
};

}  // namespace idm::server
