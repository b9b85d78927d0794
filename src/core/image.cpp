#include "core/image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/secure_memory.h"

namespace idm {
namespace {

enum class Format { kJpeg, kPng, kWebp };

struct Header {
  Format format;
  int64_t width;
  int64_t height;
};

[[noreturn]] void Corrupt(const std::string& what) {
  throw Error(ErrorCode::kImageDecode, "cannot decode image: " + what);
}

uint32_t Be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t Be32(const uint8_t* p) { return (Be16(p) << 16) | Be16(p + 2); }
uint32_t Le16(const uint8_t* p) { return (uint32_t{p[1]} << 8) | p[0]; }
uint32_t Le24(const uint8_t* p) { return (uint32_t{p[2]} << 16) | Le16(p); }
uint32_t Le32(const uint8_t* p) { return (uint32_t{p[3]} << 24) | Le24(p); }

bool StartsWith(std::span<const uint8_t> b, size_t at, const char* magic, size_t n) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

// PNG: the IHDR chunk must come first (PNG spec 5.6), width and height big-endian at 16 and 20.
// Truncation and corruption further on are caught by libpng itself, which OpenCV reports as an
// empty Mat.
Header ParsePng(std::span<const uint8_t> b) {
  if (b.size() < 24 || !StartsWith(b, 12, "IHDR", 4)) Corrupt("PNG has no IHDR header");
  return {Format::kPng, Be32(&b[16]), Be32(&b[20])};
}

// WebP (RIFF): the first chunk at offset 12 is VP8 (lossy), VP8L (lossless) or VP8X (extended,
// carrying the canvas size). Layouts per the WebP container and bitstream specs.
Header ParseWebp(std::span<const uint8_t> b) {
  if (StartsWith(b, 12, "VP8 ", 4)) {
    // 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height (top 2 bits: scale).
    if (b.size() < 30 || b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a) Corrupt("bad WebP VP8 header");
    return {Format::kWebp, Le16(&b[26]) & 0x3fff, Le16(&b[28]) & 0x3fff};
  }
  if (StartsWith(b, 12, "VP8L", 4)) {
    // Signature byte 0x2f, then 14 bits width-1 and 14 bits height-1, little-endian bit order.
    if (b.size() < 25 || b[20] != 0x2f) Corrupt("bad WebP VP8L header");
    const uint32_t bits = Le32(&b[21]);
    return {Format::kWebp, (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1};
  }
  if (StartsWith(b, 12, "VP8X", 4)) {
    // 4 bytes of flags, then 24-bit canvas width-1 and height-1.
    if (b.size() < 30) Corrupt("bad WebP VP8X header");
    return {Format::kWebp, int64_t{Le24(&b[24])} + 1, int64_t{Le24(&b[27])} + 1};
  }
  Corrupt("unknown WebP chunk");
}

// JPEG: walks the marker segments to the frame header (SOFn) for the size, and on through every
// scan to the EOI marker. libjpeg "succeeds" on a truncated file, filling the missing part with
// grey and only warning on stderr, which we cannot see through cv::imdecode; a face half-grey is
// worse than an error, so a stream that ends before EOI is refused here. Bytes after EOI (e.g. a
// "motion photo" video appended by phones) are allowed.
Header ParseJpeg(std::span<const uint8_t> b) {
  const size_t n = b.size();
  int64_t width = 0, height = 0;
  bool have_frame = false;
  size_t i = 2;  // after SOI
  for (;;) {
    // Stray bytes before a marker are skipped, as libjpeg does (with a warning); then fill bytes.
    while (i < n && b[i] != 0xff) ++i;
    while (i < n && b[i] == 0xff) ++i;
    if (i >= n) Corrupt("JPEG is truncated (no end-of-image marker)");
    const uint8_t marker = b[i++];
    if (marker == 0xd9) break;  // EOI
    // No length field: TEM, RSTn, and a stuffed FF 00 out of place (libjpeg skips that too).
    if (marker == 0x01 || marker == 0x00 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker == 0xd8) Corrupt("JPEG has a second start-of-image marker");
    if (i + 2 > n) Corrupt("JPEG is truncated (no end-of-image marker)");
    const size_t length = Be16(&b[i]);  // includes the two length bytes
    if (length < 2) Corrupt("invalid JPEG segment length");
    if (i + length > n) Corrupt("JPEG is truncated (no end-of-image marker)");
    // SOF0..SOF15, except C4 (DHT), C8 (JPG) and CC (DAC) which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc) {
      if (length < 8) Corrupt("invalid JPEG frame header");
      height = Be16(&b[i + 3]);
      width = Be16(&b[i + 5]);
      have_frame = true;
    }
    i += length;
    if (marker == 0xda) {  // SOS: entropy-coded data runs to the next marker that is not RSTn
      if (!have_frame) Corrupt("JPEG scan before frame header");
      for (;; ++i) {
        if (i + 1 >= n) Corrupt("JPEG is truncated (no end-of-image marker)");
        if (b[i] != 0xff) continue;
        const uint8_t next = b[i + 1];
        if (next != 0x00 && next != 0xff && !(next >= 0xd0 && next <= 0xd7)) break;
      }
    }
  }
  if (!have_frame) Corrupt("JPEG has no frame header");
  return {Format::kJpeg, width, height};
}

Header ParseHeader(std::span<const uint8_t> b) {
  if (StartsWith(b, 0, "\xff\xd8\xff", 3)) return ParseJpeg(b);
  if (StartsWith(b, 0, "\x89PNG\r\n\x1a\n", 8)) return ParsePng(b);
  if (StartsWith(b, 0, "RIFF", 4) && StartsWith(b, 8, "WEBP", 4)) return ParseWebp(b);
  Corrupt("not a JPEG, PNG or WebP image");
}

[[noreturn]] void TooLarge(const std::string& what) {
  throw Error(ErrorCode::kImageTooLarge, "image too large: " + what);
}

}  // namespace

cv::Mat DecodeImage(std::span<const uint8_t> bytes, const ImageLimits& limits) {
  // Every cv::Mat below, OpenCV-internal ones included, is wiped on release. (libjpeg/libpng/libwebp
  // working buffers are plain malloc and out of our reach; they hold a few rows at most for
  // JPEG/PNG.)
  InstallSecureAllocators();
  if (bytes.size() > limits.max_bytes) {
    TooLarge(std::to_string(bytes.size()) + " bytes (limit " + std::to_string(limits.max_bytes) + ")");
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) TooLarge("over 2 GiB");  // cv::Mat header limit

  // Our own header check rather than OpenCV's: its pixel cap (OPENCV_IO_MAX_IMAGE_PIXELS) is read
  // once from the environment, cannot be set per call, and is 2^30 by default.
  const Header h = ParseHeader(bytes);
  if (h.width <= 0 || h.height <= 0) Corrupt("zero image dimension");
  if (h.width > limits.max_side || h.height > limits.max_side || h.width * h.height > limits.max_pixels) {
    TooLarge(std::to_string(h.width) + "x" + std::to_string(h.height) + " (limits: " +
             std::to_string(limits.max_side) + " per side, " + std::to_string(limits.max_pixels) + " pixels)");
  }

  // Wraps the caller's bytes without a copy. All three formats decode from memory in OpenCV 4.6
  // (formats that cannot would be spilled to a temp file -- another reason to allow only these).
  // IMREAD_COLOR converts grey/alpha/16-bit to 8-bit BGR and applies JPEG EXIF orientation
  // (verified for imdecode in 4.6; the EXIF test guards it).
  const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<uint8_t*>(bytes.data()));
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    Corrupt(e.what());
  }
  if (bgr.empty() || bgr.type() != CV_8UC3) Corrupt("the decoder rejected the data (corrupt or truncated)");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

cv::Mat LoadImageFile(const std::string& path, const ImageLimits& limits) {
  // Plain POSIX reads straight into a SecureVector: an ifstream would leave a copy of the encoded
  // image in its own (unwiped) buffer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::kNotFound, "cannot open image " + path + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(ErrorCode::kNotFound, "not a regular file: " + path);
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size > limits.max_bytes) {
    TooLarge(path + " is " + std::to_string(size) + " bytes (limit " + std::to_string(limits.max_bytes) + ")");
  }

  SecureVector<uint8_t> bytes(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, bytes.data() + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(ErrorCode::kNotFound, "cannot read image " + path + ": " + std::strerror(errno));
    if (got == 0) break;  // file shrank while reading: decode what is there, the parser judges it
    done += static_cast<size_t>(got);
  }
  bytes.resize(done);
  return DecodeImage(bytes, limits);
}

}  // namespace idm
