// Image decoding with the engine's limits: any byte string either decodes to an RGB image within
// the limits or fails with idm::Error -- never a crash, a hang or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "core/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  idm::ImageLimits limits;
  limits.max_pixels = 4'000'000;  // keeps each input fast; the header check is what is exercised
  try {
    const cv::Mat img = idm::DecodeImage(std::span<const uint8_t>(data, size), limits);
    if (img.type() != CV_8UC3 || img.total() > static_cast<size_t>(limits.max_pixels)) __builtin_trap();
  } catch (const idm::Error&) {
  }
  return 0;
}
