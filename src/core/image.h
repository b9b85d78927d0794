// Image decoding: JPEG, PNG or WebP bytes -> 8-bit RGB cv::Mat, with hard size limits.
//
// Input images come from untrusted callers, so the limits are checked from the container header
// before the decoder allocates a full-size frame: a 100-byte PNG claiming 30000x30000 must not
// cost 2.7 GB. All pixel buffers use the zeroising cv::Mat allocator (InstallSecureAllocators),
// and the encoded bytes LoadImageFile reads sit in a SecureVector, so a face never outlives its Mat.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include <opencv2/core.hpp>

namespace idm {

struct ImageLimits {
  size_t max_bytes = 20u << 20;         // encoded size
  int64_t max_pixels = 40'000'000;      // width * height
  int max_side = 12000;                 // either dimension
};

// Decodes JPEG, PNG or WebP bytes to CV_8UC3 in RGB order (not OpenCV's usual BGR). Grey and
// alpha inputs become RGB (alpha is dropped); JPEG EXIF orientation is applied.
// Throws Error(kImageTooLarge) when the bytes or the header dimensions exceed `limits`, and
// Error(kImageDecode) for anything that is not a complete, decodable image of those formats.
cv::Mat DecodeImage(std::span<const uint8_t> bytes, const ImageLimits& limits = {});

// Reads `path` and decodes it as DecodeImage does. Throws Error(kNotFound) if the file is missing
// or unreadable, Error(kImageTooLarge) if it exceeds limits.max_bytes (checked before reading).
cv::Mat LoadImageFile(const std::string& path, const ImageLimits& limits = {});

}  // namespace idm
