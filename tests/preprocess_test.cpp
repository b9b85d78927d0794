// Preprocessing (face/tf_image_ops.h) against the exact network inputs Human and face-api built for
// the golden frames (shared/golden README section 4), and our detector + mesh against Human's own
// end-to-end result in pipelines.json. Frames are read from the golden folder into memory only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "face/detector.h"
#include "face/mesh.h"
#include "face/tf_image_ops.h"
#include "test_util.h"

namespace idm::face {
namespace {

using nlohmann::json;

constexpr int kFrameSide = 250;  // both golden frames are 250x250 LFW photos

const json& Pipelines() {
  static const json p = test::ReadJson(test::GoldenDir() + "/pipelines.json");
  return p;
}

std::string GoldenFile(const std::string& rel) { return test::GoldenDir() + "/" + rel; }

// The decoded frame (uint8 HWC RGB, jpeg-js) as an 8-bit cv::Mat and as float.
cv::Mat FrameRgb(const std::string& c) {
  const std::vector<uint8_t> bytes = test::ReadBytes(GoldenFile("frames/" + c + ".rgb_u8.bin"));
  if (bytes.size() != static_cast<size_t>(kFrameSide) * kFrameSide * 3) throw std::runtime_error("bad frame size");
  return cv::Mat(kFrameSide, kFrameSide, CV_8UC3, const_cast<uint8_t*>(bytes.data())).clone();
}

double MaxAbsDiff(const FloatImage& got, const std::vector<float>& want) {
  EXPECT_EQ(got.data.size(), want.size());
  double m = 0;
  for (size_t i = 0; i < std::min(got.data.size(), want.size()); ++i) m = std::max(m, std::fabs(double{got.data[i]} - want[i]));
  return m;
}

void Scale(FloatImage& img, float k) {
  for (float& v : img.data) v *= k;
}

// face-api's crop: an integer slice of the frame, zero-padded to a centred square: with
// d = |h - w|, round(d/2) rows/columns go after the image and the rest before it.
FloatImage SlicePadSquare(const FloatImage& f, const json& slice) {
  const int y = slice.at("begin")[0], x = slice.at("begin")[1];
  const int h = slice.at("size")[0], w = slice.at("size")[1];
  const int d = std::abs(h - w), after = (d + 1) / 2, before = d - after;  // JS Math.round: .5 goes up
  FloatImage o;
  o.height = o.width = std::max(h, w);
  o.data.assign(static_cast<size_t>(o.width) * o.width * 3, 0.f);
  const int oy = h < w ? before : 0, ox = w < h ? before : 0;
  for (int r = 0; r < h; ++r) std::copy(f.at(y + r, x), f.at(y + r, x) + 3 * w, o.at(r + oy, ox));
  return o;
}

const float kZero[3] = {0, 0, 0};
const float kFaceApiMean[3] = {122.782f, 117.001f, 104.298f};

class Preprocess : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!test::Exists(GoldenFile("frames/" + GetParam() + ".rgb_u8.bin"))) GTEST_SKIP() << "no golden frames";
    rgb_ = FrameRgb(GetParam());
    frame_ = ToFloat(rgb_);
    pipe_ = &Pipelines().at("images").at(GetParam());
  }
  // Human's 192x192 face crop, /255.
  FloatImage HumanCrop() const {
    const auto b = pipe_->at("human").at("face_crop_box").at("boxes_y1x1y2x2_normalised").get<std::vector<float>>();
    FloatImage crop = CropAndResizeTf(frame_, b[0], b[1], b[2], b[3], 192, 192);
    Normalize(crop, kZero, 255.f, 0.f);
    return crop;
  }
  void Expect(const FloatImage& got, const std::string& golden, double tol) {
    const std::string path = GoldenFile(golden + "/" + GetParam() + ".input.bin");
    if (!test::Exists(path)) {
      std::printf("  (no %s)\n", path.c_str());
      return;
    }
    const double d = MaxAbsDiff(got, test::ReadFloats(path));
    std::printf("  %-6s %-28s max |diff| %.2e\n", GetParam().c_str(), golden.c_str(), d);
    EXPECT_LT(d, tol) << golden << " " << GetParam();
  }

  cv::Mat rgb_;
  FloatImage frame_;
  const json* pipe_ = nullptr;
};

TEST_P(Preprocess, ToFloatKeepsRgbHwc) {
  ASSERT_EQ(frame_.height, kFrameSide);
  ASSERT_EQ(frame_.width, kFrameSide);
  ASSERT_EQ(frame_.channels, 3);
  for (int y : {0, 17, 249}) {
    for (int x : {0, 101, 249}) {
      for (int c = 0; c < 3; ++c) EXPECT_EQ(frame_.at(y, x)[c], rgb_.at<cv::Vec3b>(y, x)[c]);
    }
  }
}

TEST_P(Preprocess, BlazeFaceInput) {
  FloatImage x = ResizeBilinearTf(frame_, 256, 256);
  Normalize(x, kZero, 127.5f, 1.f);
  Expect(x, "human/blazeface", 1e-5);
}

TEST_P(Preprocess, FaceMeshInput) { Expect(HumanCrop(), "human/facemesh", 1e-5); }

TEST_P(Preprocess, FaceResAndOtherCropInputs) {
  const FloatImage crop = HumanCrop();
  FloatImage faceres = ResizeBilinearTf(crop, 224, 224);
  Scale(faceres, 255.f);
  // README: the wasm pipeline itself is 1.1e-3 off the stored 0..255 input.
  Expect(faceres, "human/faceres", 2e-3);
  Expect(ResizeBilinearTf(crop, 112, 112), "human/mobilefacenet", 1e-5);
  Expect(ResizeBilinearTf(crop, 128, 128), "human/antispoof", 1e-5);
  Expect(ResizeBilinearTf(crop, 32, 32), "human/liveness", 1e-5);
}

TEST_P(Preprocess, FaceApiRecognitionInput) {
  FloatImage x = ResizeBilinearTf(SlicePadSquare(frame_, pipe_->at("faceapi").at("descriptor_crop_slice")), 150, 150);
  Normalize(x, kFaceApiMean, 255.f, 0.f);
  Expect(x, "faceapi/faceRecognitionNet", 1e-5);
}

TEST_P(Preprocess, FaceApiLandmarkInputWithCentredPadding) {
  const json& slice = pipe_->at("faceapi").at("landmark_crop_slice");
  FloatImage x = ResizeBilinearTf(SlicePadSquare(frame_, slice), 112, 112);
  Normalize(x, kFaceApiMean, 255.f, 0.f);
  Expect(x, "faceapi/faceLandmark68Net", 1e-5);
  // The slices are not square (118x92, 129x121): the padding path is really exercised.
  EXPECT_NE(slice.at("size")[0], slice.at("size")[1]);
}

TEST_P(Preprocess, SsdInput) {
  FloatImage x = ResizeBilinearTf(frame_, 512, 512);
  Normalize(x, kZero, 127.5f, 1.f);
  Expect(x, "faceapi/ssdMobilenetv1", 1e-5);  // stored for real1 only
}

// ---------------------------------------------------------------------------------------------
// Detector + mesh against Human's result on the same frame.

class EndToEnd : public Preprocess {};

TEST_P(EndToEnd, DetectorAndMeshMatchHuman) {
  if (!test::Exists(test::ModelDir() + "/human-models/models/blazeface.json")) GTEST_SKIP() << "models not installed";
  const json& human = pipe_->at("human");
  const FaceDetector detector(1);
  const std::vector<FaceBox> faces = detector.Detect(frame_);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_GT(faces[0].score, 0.75f);

  // Human's crop box, normalised [y1, x1, y2, x2] -> frame pixels (the frame is square, so our
  // letterboxing is a no-op and the boxes are comparable).
  const auto b = human.at("face_crop_box").at("boxes_y1x1y2x2_normalised").get<std::vector<double>>();
  const cv::Rect2f want(static_cast<float>(b[1] * kFrameSide), static_cast<float>(b[0] * kFrameSide),
                        static_cast<float>((b[3] - b[1]) * kFrameSide), static_cast<float>((b[2] - b[0]) * kFrameSide));
  auto expect_box_near = [&](const cv::Rect2f& got, double tol, const char* what) {
    std::printf("  %s %-22s [%.1f %.1f %.1f %.1f]  Human [%.1f %.1f %.1f %.1f]\n", GetParam().c_str(), what, got.x, got.y,
                got.width, got.height, want.x, want.y, want.width, want.height);
    EXPECT_NEAR(got.x, want.x, tol) << what;
    EXPECT_NEAR(got.y, want.y, tol) << what;
    EXPECT_NEAR(got.x + got.width, want.x + want.width, tol) << what;
    EXPECT_NEAR(got.y + got.height, want.y + want.height, tol) << what;
  };
  // Human keeps the single best anchor (hard NMS): our decoding of that anchor must give its crop
  // exactly (anchors, regressor scale, x1.4 enlargement, squaring, corner rounding).
  DetectorOptions no_merge;
  no_merge.nms_iou = 0.999f;  // merge only (near-)identical boxes
  const std::vector<FaceBox> raw = detector.Detect(frame_, no_merge);
  ASSERT_FALSE(raw.empty());
  EXPECT_NEAR(raw[0].score, human.at("boxScore").get<double>(), 0.006);  // Human rounds to 0.01
  expect_box_near(MeshCropBox(raw[0].box), 0.5, "best anchor crop");
  // We average the overlapping anchors (weighted NMS), which moves the box by a few pixels.
  const cv::Rect2f crop = MeshCropBox(faces[0].box);
  expect_box_near(crop, 5.0, "weighted NMS crop");

  const json& pts = human.at("mesh_468");
  ASSERT_EQ(pts.size(), 468u);
  // Human floors the mesh coordinates to whole pixels (a least-squares fit of its points against
  // the raw network output has offset -0.5 px and residual 0.29 px = 1/sqrt(12)), so the centre
  // of each pixel is the unbiased reference.
  auto mean_dist = [&](const FaceMesh& m, double offset) {
    double sum = 0;
    for (size_t i = 0; i < 468; ++i) {
      sum += std::hypot(m.points[i].x - (pts[i][0].get<double>() + offset), m.points[i].y - (pts[i][1].get<double>() + offset));
    }
    return sum / 468;
  };
  const MeshModel mesh_model(1);
  // On Human's exact crop only the network and the coordinate mapping can differ ...
  const FaceMesh on_human_crop = mesh_model.Run(frame_, want);
  const double d_exact = mean_dist(on_human_crop, 0.5);
  // ... on our own crop the crop difference adds its share.
  const FaceMesh mesh = mesh_model.Run(frame_, crop);
  const double d = mean_dist(mesh, 0.0);
  std::printf("  %s mesh mean distance to Human: %.3f px on Human's crop (to pixel centres), %.3f px on ours (score %.3f)\n",
              GetParam().c_str(), d_exact, d, mesh.score);
  EXPECT_LT(d_exact, 0.5);
  EXPECT_LT(d, 2.0);
  EXPECT_GT(mesh.score, 0.9f);
  EXPECT_EQ(mesh.crop, crop);
}

INSTANTIATE_TEST_SUITE_P(Golden, Preprocess, ::testing::Values("real1", "real2"), [](const auto& i) { return i.param; });
INSTANTIATE_TEST_SUITE_P(Golden, EndToEnd, ::testing::Values("real1", "real2"), [](const auto& i) { return i.param; });

}  // namespace
}  // namespace idm::face
