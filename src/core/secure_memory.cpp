#include "core/secure_memory.h"

#include <malloc.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <xnnpack.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/core/core_c.h>  // CV_AUTOSTEP

#include "core/error.h"

namespace idm {

void SecureZero(void* p, size_t n) {
  if (p != nullptr && n != 0) sodium_memzero(p, n);
}

namespace {

// Frees a malloc'd block after wiping all of it (malloc_usable_size covers the slack too).
void ZeroAndFree(void* p) {
  if (p == nullptr) return;
  SecureZero(p, malloc_usable_size(p));
  std::free(p);
}

// cv::Mat allocator: the same contiguous layout as OpenCV's standard allocator, but the block
// is wiped before it goes back to the heap.
class ZeroingMatAllocator final : public cv::MatAllocator {
 public:
  cv::UMatData* allocate(int dims, const int* sizes, int type, void* data0, size_t* step,
                         cv::AccessFlag, cv::UMatUsageFlags) const override {
    size_t total = CV_ELEM_SIZE(type);
    for (int i = dims - 1; i >= 0; --i) {
      if (step != nullptr) {
        if (data0 != nullptr && step[i] != CV_AUTOSTEP) {
          total = step[i];
        } else {
          step[i] = total;
        }
      }
      total *= static_cast<size_t>(sizes[i]);
    }
    auto* data = static_cast<uchar*>(data0 != nullptr ? data0 : cv::fastMalloc(total));
    auto* u = new cv::UMatData(this);
    u->data = u->origdata = data;
    u->size = total;
    if (data0 != nullptr) u->flags |= cv::UMatData::USER_ALLOCATED;
    return u;
  }

  bool allocate(cv::UMatData* u, cv::AccessFlag, cv::UMatUsageFlags) const override { return u != nullptr; }

  void deallocate(cv::UMatData* u) const override {
    if (u == nullptr) return;
    if (!(u->flags & cv::UMatData::USER_ALLOCATED)) {
      SecureZero(u->origdata, u->size);
      cv::fastFree(u->origdata);
      u->origdata = nullptr;
    }
    delete u;
  }
};

void* XnnAllocate(void*, size_t size) { return std::malloc(size); }
void* XnnReallocate(void*, void* p, size_t size) {
  if (p == nullptr) return std::malloc(size);
  void* q = std::malloc(size);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, std::min(size, malloc_usable_size(p)));
  ZeroAndFree(p);
  return q;
}
void XnnDeallocate(void*, void* p) { ZeroAndFree(p); }
void* XnnAlignedAllocate(void*, size_t alignment, size_t size) {
  void* p = nullptr;
  if (posix_memalign(&p, std::max(alignment, sizeof(void*)), size) != 0) return nullptr;
  return p;
}
void XnnAlignedDeallocate(void*, void* p) { ZeroAndFree(p); }

const xnn_allocator kXnnZeroingAllocator = {
    nullptr, XnnAllocate, XnnReallocate, XnnDeallocate, XnnAlignedAllocate, XnnAlignedDeallocate,
};

}  // namespace

void EnsureSodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw Error(ErrorCode::kInternal, "libsodium failed to initialise");
}

void InstallSecureAllocators() {
  static std::once_flag once;
  std::call_once(once, [] {
    EnsureSodium();
    static ZeroingMatAllocator mat_allocator;
    cv::Mat::setDefaultAllocator(&mat_allocator);
    if (xnn_initialize(&kXnnZeroingAllocator) != xnn_status_success) {
      throw Error(ErrorCode::kRuntime, "XNNPACK failed to initialise (unsupported CPU?)");
    }
  });
}

bool DisableCoreDumps() {
  rlimit none{0, 0};
  bool ok = setrlimit(RLIMIT_CORE, &none) == 0;
  ok = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 && ok;
  return ok;
}

}  // namespace idm
