// Single-frame passive check on the three silent_face_antispoof photos (a printed poster, a
// tablet screen, a real face): the cues each one gives, and the verdicts. Then the person
// segmentation behind the silhouette cue, and the cue on drawn scenes (all in memory).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <opencv2/imgproc.hpp>

#include "core/image.h"
#include "liveness/frame_analyzer.h"
#include "liveness/passive.h"
#include "test_util.h"

namespace idm::liveness {
namespace {

const std::string kDir = "/data/liveness/silent_face_antispoof/images/";

const PassiveChecker& Checker() {
  static const PassiveChecker pc;
  return pc;
}

PassiveResult CheckImage(const std::string& name) {
  const cv::Mat rgb = LoadImageFile(test::SharedDir() + kDir + name);
  FrameAnalyzer fa(FrameAnalyzerOptions{1, 15, 0.5f, /*iris=*/false});
  const FrameObservation o = fa.Analyze(rgb, 0);
  EXPECT_TRUE(o.face) << name;
  const PassiveResult p = Checker().Check(rgb, o.mesh);
  std::string why;
  for (const auto& r : p.reasons) why += r + " ";
  std::printf(
      "  %-14s attack score %.3f (antispoof %.3f, liveness %.3f, moire %.1f dB, sides %.0f, glare %.3f, clipping %.3f, "
      "silhouette cut %.3f) %s\n",
      name.c_str(), p.attack_score, p.cues.antispoof_real, p.cues.liveness_live, p.cues.moire_db, p.cues.enclosure,
      p.cues.glare, p.cues.clipping, p.cues.silhouette_cut, why.c_str());
  return p;
}

bool ModelsMissing() { return !test::Exists(test::ModelDir() + "/human-models/models/selfie.json"); }

TEST(LivenessPassive, SilentFaceAntispoofSamples) {
  if (!test::Exists(test::SharedDir() + kDir + "image_T1.jpg")) GTEST_SKIP() << "no samples";
  if (ModelsMissing()) GTEST_SKIP() << "models missing";
  // The real face passes; the poster (its top edge cuts the hair) and the tablet (its frame cuts
  // the hair at the side) are caught by the straight cut of the person's outline.
  const PassiveResult real = CheckImage("image_T1.jpg");
  EXPECT_FALSE(real.attack);
  EXPECT_LT(real.cues.silhouette_cut, Checker().thresholds().silhouette_cut);
  for (const char* name : {"image_F1.jpg", "image_F2.jpg"}) {
    const PassiveResult p = CheckImage(name);
    EXPECT_TRUE(p.attack) << name;
    EXPECT_NE(std::find(p.reasons.begin(), p.reasons.end(), "silhouette_cut_straight"), p.reasons.end()) << name;
  }
}

TEST(LivenessPassive, PersonSegmentationCoversTheFaceAndNothingElse) {
  if (ModelsMissing()) GTEST_SKIP() << "models missing";
  // A blank frame holds no person.
  const cv::Mat blank(480, 640, CV_8UC3, cv::Scalar(128, 128, 128));
  const cv::Mat empty = Checker().PersonProbability(blank);
  ASSERT_EQ(empty.size(), cv::Size(256, 256));
  EXPECT_LT(cv::mean(empty)[0], 0.05);
  // A face is inside the person: on a few LFW photos and the real sample, the mask covers the
  // mesh's face box.
  std::vector<std::string> files = {test::SharedDir() + kDir + "image_T1.jpg"};
  const std::string lfw = test::SharedDir() + "/data/faces/lfw_view2/images/";
  for (const char* f : {"Aaron_Sorkin/Aaron_Sorkin_0001.jpg", "George_W_Bush/George_W_Bush_0001.jpg",
                        "Serena_Williams/Serena_Williams_0001.jpg"}) {
    if (test::Exists(lfw + f)) files.push_back(lfw + f);
  }
  FrameAnalyzer fa(FrameAnalyzerOptions{1, 15, 0.5f, /*iris=*/false});
  int checked = 0;
  for (const auto& file : files) {
    if (!test::Exists(file)) continue;
    const cv::Mat rgb = LoadImageFile(file);
    fa.Reset();
    const FrameObservation o = fa.Analyze(rgb, 0);
    ASSERT_TRUE(o.face) << file;
    cv::Mat prob;
    cv::resize(Checker().PersonProbability(rgb), prob, rgb.size());
    const cv::Rect box = cv::Rect(MeshBounds(o.mesh)) & cv::Rect(0, 0, rgb.cols, rgb.rows);
    const double covered = cv::countNonZero(prob(box) > 0.5f) / static_cast<double>(box.area());
    EXPECT_GT(covered, 0.9) << file;
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no photos";
}

// A drawn scene: a grey room, a darker head-and-shoulders silhouette, and (optionally) a
// picture's border: the top `cut_y` rows are a light wall, the edge running across the frame.
// Sensor noise (sigma 3) on top, as in any capture.
cv::Mat Noisy(const cv::Mat& rgb) {
  cv::Mat noise(rgb.size(), CV_16SC3), out;
  cv::RNG rng(7);
  rng.fill(noise, cv::RNG::NORMAL, 0, 3);
  cv::add(rgb, noise, out, cv::noArray(), CV_8UC3);
  return out;
}
cv::Mat Scene(int cut_y) {
  cv::Mat rgb(480, 640, CV_8UC3, cv::Scalar(150, 150, 150));
  cv::ellipse(rgb, cv::Point(320, 230), cv::Size(110, 140), 0, 0, 360, cv::Scalar(60, 50, 40), cv::FILLED);
  cv::ellipse(rgb, cv::Point(320, 480), cv::Size(230, 120), 0, 0, 360, cv::Scalar(60, 50, 40), cv::FILLED);
  if (cut_y > 0) rgb(cv::Rect(0, 0, rgb.cols, cut_y)).setTo(cv::Scalar(230, 230, 230));
  return rgb;
}

cv::Mat SceneMask(int cut_y) {
  cv::Mat m(480, 640, CV_32F, cv::Scalar(0.f));
  cv::ellipse(m, cv::Point(320, 230), cv::Size(110, 140), 0, 0, 360, cv::Scalar(1.f), cv::FILLED);
  cv::ellipse(m, cv::Point(320, 480), cv::Size(230, 120), 0, 0, 360, cv::Scalar(1.f), cv::FILLED);
  if (cut_y > 0) m(cv::Rect(0, 0, m.cols, cut_y)).setTo(cv::Scalar(0.f));
  cv::Mat small;
  cv::resize(m, small, cv::Size(256, 256), 0, 0, cv::INTER_AREA);
  return small;
}

TEST(LivenessPassive, SilhouetteCutOnDrawnScenes) {
  const cv::Rect2f face(240, 170, 160, 190);
  // An uncut head: curves only.
  EXPECT_LT(SilhouetteCut(Noisy(Scene(0)), SceneMask(0), face), 0.2f);
  // The top of the head cut by an edge that runs on across the frame: a picture.
  const float cut = SilhouetteCut(Noisy(Scene(130)), SceneMask(130), face);
  EXPECT_GT(cut, 0.6f);
  // The same cut with nothing beyond the silhouette (the wall's edge stops at the head): the
  // outline is straight but nothing says it is a picture's border.
  cv::Mat stub = Scene(0);
  stub(cv::Rect(250, 0, 140, 130)).setTo(cv::Scalar(230, 230, 230));
  EXPECT_LT(SilhouetteCut(Noisy(stub), SceneMask(130), face), 0.2f);
  // The head cut by the frame's own top edge is how cameras see people: no cut.
  cv::Mat high = Scene(0), high_mask(480, 640, CV_32F, cv::Scalar(0.f));
  high = high(cv::Rect(0, 130, 640, 350)).clone();
  cv::Mat m(480, 640, CV_32F, cv::Scalar(0.f));
  cv::ellipse(m, cv::Point(320, 230), cv::Size(110, 140), 0, 0, 360, cv::Scalar(1.f), cv::FILLED);
  cv::ellipse(m, cv::Point(320, 480), cv::Size(230, 120), 0, 0, 360, cv::Scalar(1.f), cv::FILLED);
  cv::resize(m(cv::Rect(0, 130, 640, 350)), high_mask, cv::Size(256, 256), 0, 0, cv::INTER_AREA);
  EXPECT_LT(SilhouetteCut(Noisy(high), high_mask, cv::Rect2f(240, 40, 160, 190)), 0.2f);
  // Black letterboxing above the head is not a scene edge either.
  cv::Mat boxed = Scene(0);
  boxed = Noisy(boxed);
  boxed(cv::Rect(0, 0, 640, 130)).setTo(cv::Scalar(0, 0, 0));
  EXPECT_LT(SilhouetteCut(boxed, SceneMask(130), face), 0.2f);
}

}  // namespace
}  // namespace idm::liveness
