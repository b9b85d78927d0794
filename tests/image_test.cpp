// Image decoding: formats, RGB channel order, limits checked before decoding, truncation, EXIF.
// Every test image is generated in memory; nothing is written to disk.
#include "core/image.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "test_util.h"

namespace idm {
namespace {

const std::string kLfwJpeg =
    IDMATCH_SHARED_DIR "/data/faces/lfw_view2/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg";
// The tests that read kLfwJpeg skip, saying so, when the shared data is not there (GTEST_SKIP
// returns from the test body, so the guard is a macro).
#define SKIP_WITHOUT_LFW_JPEG()                                                            \
  do {                                                                                     \
    if (!test::Exists(kLfwJpeg)) GTEST_SKIP() << "shared LFW image missing: " << kLfwJpeg; \
  } while (0)
// kLfwJpeg decoded to RGB uint8 [250,250,3] by jpeg-js.
const std::string kGoldenFrame = IDMATCH_SHARED_DIR "/golden/frames/real1.rgb_u8.bin";

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `fn` and returns the idm::ErrorCode it threw (fails the test if it threw nothing).
template <typename Fn>
ErrorCode CodeOf(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected an idm::Error";
  return ErrorCode::kInternal;
}

// An RGB test pattern whose three channels all differ, so a channel swap cannot go unnoticed.
cv::Mat Pattern(int width, int height) {
  cv::Mat rgb(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      rgb.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x * 4), static_cast<uint8_t>(y * 4), 200);
    }
  }
  return rgb;
}

// cv::imencode takes BGR; this takes RGB like DecodeImage returns.
std::vector<uint8_t> Encode(const std::string& ext, const cv::Mat& rgb, const std::vector<int>& params = {}) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> out;
  EXPECT_TRUE(cv::imencode(ext, bgr, out, params));
  return out;
}

uint32_t Crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

double MeanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar m = cv::mean(diff);
  return (m[0] + m[1] + m[2]) / 3.0;
}

TEST(ImageTest, DecodesLfwJpegAsRgb) {
  SKIP_WITHOUT_LFW_JPEG();
  const cv::Mat img = LoadImageFile(kLfwJpeg);
  ASSERT_EQ(img.cols, 250);
  ASSERT_EQ(img.rows, 250);
  ASSERT_EQ(img.type(), CV_8UC3);

  std::vector<uint8_t> golden = ReadFile(kGoldenFrame);
  ASSERT_EQ(golden.size(), 250u * 250u * 3u);
  const cv::Mat expected(250, 250, CV_8UC3, golden.data());
  cv::Mat swapped;
  cv::cvtColor(expected, swapped, cv::COLOR_RGB2BGR);
  const double diff = MeanAbsDiff(img, expected);
  const double diff_if_bgr = MeanAbsDiff(img, swapped);
  // libjpeg-turbo and jpeg-js differ by IDCT/upsampling rounding only.
  EXPECT_LT(diff, 3.0);
  EXPECT_GT(diff_if_bgr, diff + 3.0) << "the golden frame cannot tell RGB from BGR";
}

TEST(ImageTest, PngRoundTripIsExactAndGreyAndAlphaBecomeRgb) {
  const cv::Mat rgb = Pattern(37, 23);
  const cv::Mat png = DecodeImage(Encode(".png", rgb));
  ASSERT_EQ(png.type(), CV_8UC3);
  EXPECT_EQ(cv::norm(png, rgb, cv::NORM_INF), 0.0);

  cv::Mat grey(10, 12, CV_8UC1, cv::Scalar(77));
  std::vector<uint8_t> grey_png;
  ASSERT_TRUE(cv::imencode(".png", grey, grey_png));
  const cv::Mat from_grey = DecodeImage(grey_png);
  ASSERT_EQ(from_grey.type(), CV_8UC3);
  EXPECT_EQ(from_grey.at<cv::Vec3b>(5, 5), cv::Vec3b(77, 77, 77));

  cv::Mat bgra(10, 12, CV_8UC4, cv::Scalar(30, 60, 90, 128));  // B, G, R, A
  std::vector<uint8_t> bgra_png;
  ASSERT_TRUE(cv::imencode(".png", bgra, bgra_png));
  const cv::Mat from_rgba = DecodeImage(bgra_png);
  ASSERT_EQ(from_rgba.type(), CV_8UC3);
  EXPECT_EQ(from_rgba.at<cv::Vec3b>(5, 5), cv::Vec3b(90, 60, 30));
}

TEST(ImageTest, WebpRoundTrip) {
  const cv::Mat rgb = Pattern(37, 23);
  const cv::Mat lossless = DecodeImage(Encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 101}));  // VP8L
  ASSERT_EQ(lossless.size(), rgb.size());
  EXPECT_EQ(cv::norm(lossless, rgb, cv::NORM_INF), 0.0);

  const std::vector<uint8_t> lossy_bytes = Encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 95});
  ASSERT_EQ(std::string(lossy_bytes.begin() + 12, lossy_bytes.begin() + 16), "VP8 ");
  const cv::Mat lossy = DecodeImage(lossy_bytes);
  ASSERT_EQ(lossy.size(), rgb.size());
  EXPECT_LT(MeanAbsDiff(lossy, rgb), 6.0);
}

TEST(ImageTest, MissingFileIsNotFound) {
  EXPECT_EQ(CodeOf([] { LoadImageFile(IDMATCH_SHARED_DIR "/no/such/image.jpg"); }), ErrorCode::kNotFound);
}

TEST(ImageTest, TruncatedJpegIsRefused) {
  SKIP_WITHOUT_LFW_JPEG();
  std::vector<uint8_t> bytes = ReadFile(kLfwJpeg);
  bytes.resize(bytes.size() / 2);
  EXPECT_EQ(CodeOf([&] { DecodeImage(bytes); }), ErrorCode::kImageDecode);
}

TEST(ImageTest, TruncatedPngAndWebpAreRefused) {
  const cv::Mat rgb = Pattern(37, 23);
  for (const char* ext : {".png", ".webp"}) {
    std::vector<uint8_t> bytes = Encode(ext, rgb);
    bytes.resize(bytes.size() / 2);
    EXPECT_EQ(CodeOf([&] { DecodeImage(bytes); }), ErrorCode::kImageDecode) << ext;
  }
}

TEST(ImageTest, TextIsNotAnImage) {
  const std::string text = "name,age\nAaron Eckhart,56\n";
  const std::vector<uint8_t> bytes(text.begin(), text.end());
  EXPECT_EQ(CodeOf([&] { DecodeImage(bytes); }), ErrorCode::kImageDecode);
  EXPECT_EQ(CodeOf([&] { DecodeImage({}); }), ErrorCode::kImageDecode);
}

TEST(ImageTest, HugePngIsRefusedFromItsHeader) {
  // A valid 8x8 PNG whose IHDR (with a correct CRC) claims 30000x30000: decoding it would
  // allocate 2.7 GB, the header check must refuse it first.
  std::vector<uint8_t> png = Encode(".png", Pattern(8, 8));
  ASSERT_EQ(std::string(png.begin() + 12, png.begin() + 16), "IHDR");
  PutBe32(&png[16], 30000);
  PutBe32(&png[20], 30000);
  PutBe32(&png[29], Crc32(&png[12], 4 + 13));  // CRC covers chunk type + 13 data bytes
  EXPECT_EQ(CodeOf([&] { DecodeImage(png); }), ErrorCode::kImageTooLarge);
}

TEST(ImageTest, HeaderDimensionsAreReadForEveryFormat) {
  // Limits one pixel below the true size must refuse, the exact size must pass: this proves the
  // JPEG SOF, PNG IHDR, WebP VP8 and VP8L parsers read the right fields.
  const cv::Mat rgb = Pattern(37, 23);
  const std::vector<std::vector<uint8_t>> images = {
      Encode(".jpg", rgb), Encode(".png", rgb), Encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 90}),
      Encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 101})};
  for (size_t i = 0; i < images.size(); ++i) {
    ImageLimits exact;
    exact.max_pixels = 37 * 23;
    exact.max_side = 37;
    EXPECT_EQ(DecodeImage(images[i], exact).size(), cv::Size(37, 23)) << i;
    ImageLimits fewer_pixels = exact;
    fewer_pixels.max_pixels -= 1;
    EXPECT_EQ(CodeOf([&] { DecodeImage(images[i], fewer_pixels); }), ErrorCode::kImageTooLarge) << i;
    ImageLimits shorter_side = exact;
    shorter_side.max_side = 36;
    EXPECT_EQ(CodeOf([&] { DecodeImage(images[i], shorter_side); }), ErrorCode::kImageTooLarge) << i;
  }
}

TEST(ImageTest, OverByteLimitIsTooLarge) {
  SKIP_WITHOUT_LFW_JPEG();
  const std::vector<uint8_t> bytes = ReadFile(kLfwJpeg);
  ImageLimits limits;
  limits.max_bytes = bytes.size() - 1;
  EXPECT_EQ(CodeOf([&] { DecodeImage(bytes, limits); }), ErrorCode::kImageTooLarge);
  EXPECT_EQ(CodeOf([&] { LoadImageFile(kLfwJpeg, limits); }), ErrorCode::kImageTooLarge);
  limits.max_bytes = bytes.size();
  EXPECT_EQ(DecodeImage(bytes, limits).cols, 250);
}

TEST(ImageTest, JpegWithTrailingDataAfterEoiDecodes) {
  SKIP_WITHOUT_LFW_JPEG();
  // Phones append data after EOI (e.g. motion-photo video); only a missing EOI means truncation.
  std::vector<uint8_t> bytes = ReadFile(kLfwJpeg);
  bytes.insert(bytes.end(), 1000, 0xab);
  EXPECT_EQ(DecodeImage(bytes).size(), cv::Size(250, 250));
}

TEST(ImageTest, ExifOrientationIsApplied) {
  // 40x20: left half red, right half blue. EXIF Orientation=6 means "rotate 90 degrees clockwise
  // to display", so the result is 20x40 with red on top and blue below.
  cv::Mat rgb(20, 40, CV_8UC3, cv::Scalar(255, 0, 0));
  rgb(cv::Rect(20, 0, 20, 20)).setTo(cv::Scalar(0, 0, 255));
  const std::vector<uint8_t> jpeg = Encode(".jpg", rgb);

  // APP1 "Exif": big-endian TIFF header, IFD0 with one SHORT entry, tag 0x0112 = 6.
  const uint8_t app1[] = {0xff, 0xe1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,      // marker, length 34
                          'M', 'M', 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08,          // TIFF header
                          0x00, 0x01,                                            // 1 entry
                          0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,        // Orientation, SHORT, 1
                          0x00, 0x06, 0x00, 0x00,                                // value 6
                          0x00, 0x00, 0x00, 0x00};                               // no next IFD
  std::vector<uint8_t> rotated(jpeg.begin(), jpeg.begin() + 2);  // SOI
  rotated.insert(rotated.end(), std::begin(app1), std::end(app1));
  rotated.insert(rotated.end(), jpeg.begin() + 2, jpeg.end());

  const cv::Mat plain = DecodeImage(jpeg);
  EXPECT_EQ(plain.size(), cv::Size(40, 20));
  const cv::Mat img = DecodeImage(rotated);
  ASSERT_EQ(img.size(), cv::Size(20, 40));
  const cv::Vec3b top = img.at<cv::Vec3b>(8, 10), bottom = img.at<cv::Vec3b>(32, 10);
  EXPECT_GT(top[0], 200);
  EXPECT_LT(top[2], 50);
  EXPECT_GT(bottom[2], 200);
  EXPECT_LT(bottom[0], 50);
}

}  // namespace
}  // namespace idm
