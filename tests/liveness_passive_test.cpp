// Single-frame passive check on the three silent_face_antispoof photos (a printed poster, a
// tablet screen, a real face): the cues each one gives, and the verdicts.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/image.h"
#include "liveness/frame_analyzer.h"
#include "liveness/passive.h"
#include "test_util.h"

namespace idm::liveness {
namespace {

const std::string kDir = "/data/liveness/silent_face_antispoof/images/";

PassiveResult CheckImage(const std::string& name) {
  const cv::Mat rgb = LoadImageFile(test::SharedDir() + kDir + name);
  FrameAnalyzer fa(FrameAnalyzerOptions{1, 15, 0.5f, /*iris=*/false});
  const FrameObservation o = fa.Analyze(rgb, 0);
  EXPECT_TRUE(o.face) << name;
  static const PassiveChecker pc;
  const PassiveResult p = pc.Check(rgb, o.mesh);
  std::string why;
  for (const auto& r : p.reasons) why += r + " ";
  std::printf("  %-14s attack score %.3f (antispoof %.3f, liveness %.3f, moire %.1f dB, sides %.0f, glare %.3f, clipping %.3f) %s\n",
              name.c_str(), p.attack_score, p.cues.antispoof_real, p.cues.liveness_live, p.cues.moire_db, p.cues.enclosure, p.cues.glare,
              p.cues.clipping, why.c_str());
  return p;
}

TEST(LivenessPassive, SilentFaceAntispoofSamples) {
  if (!test::Exists(test::SharedDir() + kDir + "image_T1.jpg")) GTEST_SKIP() << "no samples";
  if (!test::Exists(test::ModelDir() + "/human-models/models/antispoof.json")) GTEST_SKIP() << "models missing";
  // The real face must pass.
  EXPECT_FALSE(CheckImage("image_T1.jpg").attack);
  // The two attacks are NOT flagged yet (docs/liveness.md, Limits: no cue separates them from the
  // real photo without flagging far more than 5% of LFW). Reported, not asserted, so that the
  // day one is caught shows up here.
  const PassiveResult poster = CheckImage("image_F1.jpg"), tablet = CheckImage("image_F2.jpg");
  std::printf("  attacks flagged: poster %s, tablet %s\n", poster.attack ? "yes" : "NO", tablet.attack ? "yes" : "NO");
}

}  // namespace
}  // namespace idm::liveness
