// The face pipeline on real photos: every face reported, the right one picked, quality measures
// that move the right way, alignment maths, embeddings that separate people.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/image.h"
#include "face/align.h"
#include "face/analyzer.h"
#include "test_util.h"

namespace idm {
namespace {

std::string Faces(const std::string& rel) { return test::SharedDir() + "/data/faces/" + rel; }

class FacePipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::Exists(Faces("lfw_view2/pairs.csv"))) return;
    analyzer_ = new face::FaceAnalyzer(face::AnalyzerOptions{});
  }
  static void TearDownTestSuite() {
    delete analyzer_;
    analyzer_ = nullptr;
  }
  void SetUp() override {
    if (analyzer_ == nullptr) GTEST_SKIP() << "shared face data missing at " << test::SharedDir();
  }
  static face::FaceAnalyzer* analyzer_;
};
face::FaceAnalyzer* FacePipeline::analyzer_ = nullptr;

TEST_F(FacePipeline, CountsEveryFaceInGroupPhotos) {
  // compreface's multi-face samples carry their true face counts in the file name and a CSV.
  const std::vector<std::pair<std::string, int>> cases = {
      {"000_5.jpg", 5}, {"010_2.jpg", 2}, {"011_3.jpg", 3}, {"012_4.jpg", 4}, {"013_4.jpg", 4},
      {"014_5.jpg", 5}, {"015_6.jpg", 6}, {"016_8.jpg", 8}, {"017_0.jpg", 0}};
  int exact = 0;
  for (const auto& [file, want] : cases) {
    const cv::Mat rgb = LoadImageFile(Faces("compreface_samples/multi_face/" + file));
    const int got = static_cast<int>(analyzer_->DetectAll(face::ToFloat(rgb)).size());
    EXPECT_LE(std::abs(got - want), 1) << file << ": found " << got << ", truth " << want;
    exact += got == want;
  }
  EXPECT_GE(exact, 8) << "exact face counts on 9 group photos";
}

TEST_F(FacePipeline, FlagsMultipleFacesAndPicksTheLargest) {
  const cv::Mat rgb = LoadImageFile(Faces("face_recognition/extras_multi_face/two_people.jpg"));
  const auto faces = analyzer_->DetectAll(face::ToFloat(rgb));
  ASSERT_EQ(faces.size(), 2u);
  const face::FaceAnalysis a = analyzer_->Analyze(rgb);
  EXPECT_EQ(a.faces_found, 2);
  EXPECT_NE(std::find(a.quality.flags.begin(), a.quality.flags.end(), "multiple_faces"), a.quality.flags.end());
  EXPECT_GE(a.detection.box.area(), std::max(faces[0].box.area(), faces[1].box.area()) - 1e-3f);
}

TEST_F(FacePipeline, NoFaceIsAnError) {
  cv::Mat grey(240, 320, CV_8UC3, cv::Scalar(120, 120, 120));
  try {
    analyzer_->Analyze(grey);
    FAIL() << "expected kNoFace";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNoFace);
  }
}

TEST_F(FacePipeline, QualityMovesTheRightWay) {
  const cv::Mat rgb = LoadImageFile(Faces("lfw_view2/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"));
  const face::FaceAnalysis base = analyzer_->Analyze(rgb);
  EXPECT_GT(base.quality.eye_distance_px, 30);
  EXPECT_LT(std::abs(base.quality.roll_deg), 10);

  cv::Mat blurred;
  cv::GaussianBlur(rgb, blurred, cv::Size(0, 0), 3.0);
  const face::FaceAnalysis b = analyzer_->Analyze(blurred);
  EXPECT_LT(b.quality.sharpness, base.quality.sharpness / 3);
  EXPECT_NE(std::find(b.quality.flags.begin(), b.quality.flags.end(), "blurry"), b.quality.flags.end());

  const cv::Mat dark = rgb * 0.25;
  const face::FaceAnalysis d = analyzer_->Analyze(dark);
  EXPECT_LT(d.quality.brightness, base.quality.brightness / 2);
  EXPECT_NE(std::find(d.quality.flags.begin(), d.quality.flags.end(), "too_dark"), d.quality.flags.end());

  // Rolling the head by rotating the picture 20 degrees shows up as ~20 degrees of roll.
  cv::Mat rotated;
  cv::warpAffine(rgb, rotated, cv::getRotationMatrix2D(cv::Point2f(125, 125), -20, 1.0), rgb.size());
  const face::FaceAnalysis r = analyzer_->Analyze(rotated);
  EXPECT_NEAR(r.quality.roll_deg - base.quality.roll_deg, 20.0, 5.0);

  // A mirror image turns the head the other way.
  cv::Mat mirrored;
  cv::flip(rgb, mirrored, 1);
  const face::FaceAnalysis m = analyzer_->Analyze(mirrored);
  EXPECT_NEAR(m.quality.yaw_deg, -base.quality.yaw_deg, 4.0);
}

TEST_F(FacePipeline, EmbeddingsAreUnitLengthAndSeparatePeople) {
  auto embed = [&](const std::string& rel) { return analyzer_->Analyze(LoadImageFile(Faces(rel))).embedding; };
  const auto a1 = embed("lfw_view2/images/Abel_Pacheco/Abel_Pacheco_0001.jpg");
  const auto a4 = embed("lfw_view2/images/Abel_Pacheco/Abel_Pacheco_0004.jpg");
  const auto b1 = embed("lfw_view2/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
  ASSERT_EQ(a1.size(), 128u);
  double norm = 0;
  for (float v : a1) norm += v * v;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_NEAR(face::CosineSimilarity(a1, a1), 1.0, 1e-5);
  EXPECT_GT(face::CosineSimilarity(a1, a4), face::CosineSimilarity(a1, b1) + 0.05);
  // Deterministic: the same image gives the same vector.
  const auto again = embed("lfw_view2/images/Abel_Pacheco/Abel_Pacheco_0001.jpg");
  EXPECT_NEAR(face::CosineSimilarity(a1, again), 1.0, 1e-6);
}

// The unmirrored ResNet embedding on the mirrored embedder's runtime (how a server worker avoids a
// second copy of the ResNet) is the one an embedder of its own computes.
TEST_F(FacePipeline, NoFlipEmbeddingOnASharedRuntimeIsItsOwnEmbedding) {
  const cv::Mat rgb = LoadImageFile(Faces("lfw_view2/images/Abel_Pacheco/Abel_Pacheco_0001.jpg"));
  const face::FaceAnalysis a = analyzer_->Analyze(rgb);
  const auto shared = face::MakeResNet128NoFlipSharing(analyzer_->embedder());
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(&shared->model(), &analyzer_->embedder().model());
  const auto own = face::MakeEmbedder("resnet128-noflip");
  const face::FloatImage frame = face::ToFloat(rgb);
  const face::Embedding e_shared = shared->Embed(rgb, frame, a.mesh), e_own = own->Embed(rgb, frame, a.mesh);
  EXPECT_GT(face::CosineSimilarity(e_shared, e_own), 0.99999f);
  // ... and not the mirrored one the runtime's owner computes.
  EXPECT_LT(face::CosineSimilarity(e_shared, a.embedding), 0.9999f);
  // Whichever landmarks or mirror the runtime's owner uses, the shared embedder is the same one
  // (mesh landmarks, no mirror); another network has nothing to share.
  for (const std::string name : {"resnet128-lm68", "resnet128-noflip"}) {
    const auto owner = face::MakeEmbedder(name);
    const auto on_owner = face::MakeResNet128NoFlipSharing(*owner);
    ASSERT_NE(on_owner, nullptr) << name;
    EXPECT_EQ(&on_owner->model(), &owner->model()) << name;
    EXPECT_GT(face::CosineSimilarity(on_owner->Embed(rgb, frame, a.mesh), e_own), 0.99999f) << name;
  }
  EXPECT_EQ(face::MakeResNet128NoFlipSharing(*face::MakeEmbedder("faceres")), nullptr);
}

TEST(Alignment, SimilarityRecoversAKnownTransform) {
  const double angle = 0.3, scale = 1.7, tx = 12, ty = -5;
  std::vector<cv::Point2f> from = {{0, 0}, {10, 0}, {0, 10}, {7, 3}, {-4, 8}}, to;
  for (const auto& p : from) {
    to.emplace_back(static_cast<float>(scale * (std::cos(angle) * p.x - std::sin(angle) * p.y) + tx),
                    static_cast<float>(scale * (std::sin(angle) * p.x + std::cos(angle) * p.y) + ty));
  }
  const cv::Matx23d m = face::EstimateSimilarity(from, to);
  EXPECT_NEAR(m(0, 0), scale * std::cos(angle), 1e-4);
  EXPECT_NEAR(m(1, 0), scale * std::sin(angle), 1e-4);
  EXPECT_NEAR(m(0, 2), tx, 1e-3);
  EXPECT_NEAR(m(1, 2), ty, 1e-3);
  EXPECT_THROW(face::EstimateSimilarity({{1, 1}, {1, 1}}, {{0, 0}, {2, 2}}), Error);
}

TEST(Alignment, DlibChipPutsTheMeanFaceWhereDlibDoes) {
  // Landmarks already on dlib's template (size 150, padding 0.25) give the identity transform.
  face::Landmarks68 lm{};
  const cv::Matx23d identity(1, 0, 0, 0, 1, 0);
  // Build the template by transforming an arbitrary face onto it, then aligning the result again.
  for (int i = 0; i < 68; ++i) lm[i] = cv::Point2f(40.f + (i % 9) * 7.f, 50.f + (i / 9) * 9.f);
  const cv::Matx23d m = face::DlibChipTransform(lm, 150, 0.25);
  face::Landmarks68 on_template{};
  for (int i = 0; i < 68; ++i) {
    on_template[i] = cv::Point2f(static_cast<float>(m(0, 0) * lm[i].x + m(0, 1) * lm[i].y + m(0, 2)),
                                 static_cast<float>(m(1, 0) * lm[i].x + m(1, 1) * lm[i].y + m(1, 2)));
  }
  const cv::Matx23d again = face::DlibChipTransform(on_template, 150, 0.25);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(again(r, c), identity(r, c), 1e-3) << r << "," << c;
}

}  // namespace
}  // namespace idm
