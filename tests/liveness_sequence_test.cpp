// Liveness over frame sequences: action detection on real and geometrically simulated motion,
// the 3-D (non-planar) cue, ordering, the real blink clip, and generated attacks (in memory).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "core/image.h"
#include "face/analyzer.h"
#include "liveness/attack_gen.h"
#include "liveness/challenge.h"
#include "liveness/frame_analyzer.h"
#include "liveness/sequence.h"
#include "test_util.h"

namespace idm::liveness {
namespace {

const std::string kBlinkClip = "/data/videos/blink_detector/videos/test.mp4";

#define REQUIRE_DATA(rel)                                                                       \
  if (!test::Exists(test::SharedDir() + rel)) GTEST_SKIP() << "missing " << test::SharedDir() + rel; \
  if (!test::Exists(test::ModelDir() + "/human-models/models/facemesh.json")) GTEST_SKIP() << "models missing"

Clip LoadVideo(const std::string& path) {
  Clip c;
  cv::VideoCapture cap(path);
  const double fps = cap.get(cv::CAP_PROP_FPS);
  cv::Mat bgr;
  while (cap.read(bgr)) {
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    c.t_ms.push_back(static_cast<int64_t>(1000.0 * static_cast<double>(c.frames.size()) / (fps > 0 ? fps : 25)));
    c.frames.push_back(rgb);
  }
  return c;
}

LivenessVerifier& Verifier() {
  static LivenessVerifier v;
  return v;
}

Challenge For(const std::vector<Action>& a, int64_t start = 0) {
  Challenge c;
  c.nonce = "test";
  c.actions = a;
  c.issued_ms = start;
  c.expires_ms = start + 20000;
  return c;
}

// The blink clip's observations (tracked once, shared by the tests).
const std::vector<FrameObservation>& BlinkObservations() {
  static const std::vector<FrameObservation> obs = [] {
    const Clip clip = LoadVideo(test::SharedDir() + kBlinkClip);
    FrameAnalyzer fa;
    std::vector<FrameObservation> o;
    for (size_t i = 0; i < clip.frames.size(); ++i) o.push_back(fa.Analyze(clip.frames[i], clip.t_ms[i]));
    return o;
  }();
  return obs;
}

// A real 3-D mesh rotated as a head turns (positive `left_deg`: towards the subject's left, the
// nose moving to the image's right) and looks up (positive `up_deg`), orthographic projection.
face::FaceMesh Rotate(const face::FaceMesh& m, float left_deg, float up_deg) {
  cv::Point3f c(0, 0, 0);
  for (const auto& p : m.points) c += p;
  c *= 1.f / 468.f;
  const float a = left_deg * static_cast<float>(CV_PI) / 180.f, b = up_deg * static_cast<float>(CV_PI) / 180.f;
  face::FaceMesh r = m;
  for (auto& p : r.points) {
    const float dx = p.x - c.x, dy = p.y - c.y, dz = p.z - c.z;
    const float x1 = dx * std::cos(a) - dz * std::sin(a), z1 = dx * std::sin(a) + dz * std::cos(a);
    const float y2 = dy * std::cos(b) + z1 * std::sin(b), z2 = -dy * std::sin(b) + z1 * std::cos(b);
    p = cv::Point3f(c.x + x1, c.y + y2, c.z + z2);
  }
  return r;
}

// The same mesh seen by a pinhole camera at distance `dist` (in face widths), recentred and
// rescaled so that the face is `px` eye distances... i.e. a face brought closer or further.
face::FaceMesh Perspective(const face::FaceMesh& m, float dist_widths, float scale) {
  cv::Point3f c(0, 0, 0);
  for (const auto& p : m.points) c += p;
  c *= 1.f / 468.f;
  const float width = std::hypot(m.points[454].x - m.points[234].x, m.points[454].y - m.points[234].y);
  const float D = dist_widths * width;
  face::FaceMesh r = m;
  for (auto& p : r.points) {
    const float dx = p.x - c.x, dy = p.y - c.y, dz = p.z - c.z;
    const float k = scale * D / (D + dz);
    p = cv::Point3f(c.x + dx * k, c.y + dy * k, c.z + dz * scale);
  }
  return r;
}

// A homography applied to the mesh: what a flat picture of it does when tilted.
face::FaceMesh Warp(const face::FaceMesh& m, const cv::Matx33d& H) {
  face::FaceMesh r = m;
  for (auto& p : r.points) {
    const cv::Vec3d q = H * cv::Vec3d(p.x, p.y, 1);
    p.x = static_cast<float>(q[0] / q[2]);
    p.y = static_cast<float>(q[1] / q[2]);
  }
  return r;
}

FrameObservation Obs(const face::FaceMesh& m, int64_t t) {
  FrameObservation o;
  o.t_ms = t;
  o.face = true;
  o.mesh = m;
  o.box = MeshBounds(m);
  MeasureGeometry(o);
  return o;
}

// Neutral frames, then a movement out to `amount` and back (a smooth, uneven human profile).
std::vector<FrameObservation> Movement(const face::FaceMesh& m, int64_t t0, const std::function<face::FaceMesh(const face::FaceMesh&, float)>& f) {
  std::vector<FrameObservation> out;
  const float profile[] = {0, 0, 0, 0.08f, 0.25f, 0.5f, 0.72f, 0.9f, 1.f, 1.f, 0.95f, 0.7f, 0.4f, 0.15f, 0.03f, 0};
  int64_t t = t0;
  for (float u : profile) {
    out.push_back(Obs(f(m, u), t));
    t += 66;
  }
  return out;
}

TEST(LivenessGeometry, MeshDepthConventionAndPoseSigns) {
  REQUIRE_DATA(kBlinkClip);
  const auto& obs = BlinkObservations();
  ASSERT_GT(obs.size(), 30u);
  const face::FaceMesh& m = obs[5].mesh;
  // MediaPipe: smaller z is nearer the camera; the nose tip is nearer than the cheeks.
  EXPECT_LT(m.points[1].z, m.points[234].z);
  EXPECT_LT(m.points[1].z, m.points[454].z);
  const FrameObservation o0 = Obs(m, 0), left = Obs(Rotate(m, 25, 0), 0), up = Obs(Rotate(m, 0, 20), 0);
  std::printf("  yaw %.1f -> %.1f (turned left 25), pitch %.1f -> %.1f (looked up 20)\n", o0.yaw_deg, left.yaw_deg,
              o0.pitch_deg, up.pitch_deg);
  EXPECT_GT(left.yaw_deg - o0.yaw_deg, 15.f);
  EXPECT_GT(up.pitch_deg - o0.pitch_deg, 12.f);
  // The nose moves to the image's right when the subject turns to their left.
  EXPECT_GT(left.mesh.points[1].x, o0.mesh.points[1].x + 3);
}

TEST(LivenessGeometry, PlanarResidualSeparatesPictureFromHead) {
  REQUIRE_DATA(kBlinkClip);
  const face::FaceMesh& m = BlinkObservations()[5].mesh;
  const cv::Point2f c(m.points[1].x, m.points[1].y);
  // A picture tilted by 35 degrees about its vertical axis (strong perspective), shifted, scaled.
  const double k = std::sin(35 * CV_PI / 180) / (4.0 * 60);
  const cv::Matx33d T(1, 0, -c.x, 0, 1, -c.y, 0, 0, 1), Ti(1, 0, c.x + 7, 0, 1, c.y - 4, 0, 0, 1);
  const cv::Matx33d P(std::cos(35 * CV_PI / 180) * 1.2, 0.05, 0, 0, 1.2, 0, k, 0, 1);
  const float flat = PlanarResidual(m, Warp(m, Ti * P * T));
  const float head = PlanarResidual(m, Rotate(m, 25, 0)), up = PlanarResidual(m, Rotate(m, 0, 18));
  std::printf("  residual: flat %.4f, head turn 25 %.4f, look up 18 %.4f (threshold %.3f)\n", flat, head, up,
              SequenceThresholds{}.min_nonplanar);
  EXPECT_LT(flat, 0.005f);
  EXPECT_GT(head, SequenceThresholds{}.min_nonplanar);
  EXPECT_GT(up, SequenceThresholds{}.min_nonplanar);
}

TEST(LivenessGeometry, DetectsSimulatedTurnsLookUpAndApproachAs3d) {
  REQUIRE_DATA(kBlinkClip);
  const face::FaceMesh& m = BlinkObservations()[5].mesh;
  const SequenceThresholds t;
  struct Case {
    Action a;
    std::function<face::FaceMesh(const face::FaceMesh&, float)> f;
  };
  const Case cases[] = {
      {Action::kTurnLeft, [](const face::FaceMesh& x, float u) { return Rotate(x, 28 * u, 0); }},
      {Action::kTurnRight, [](const face::FaceMesh& x, float u) { return Rotate(x, -28 * u, 0); }},
      {Action::kLookUp, [](const face::FaceMesh& x, float u) { return Rotate(x, 0, 22 * u); }},
      // 8 face widths away -> 4 (about arm's length -> half of it).
      {Action::kComeCloser, [](const face::FaceMesh& x, float u) { return Perspective(x, 8 - 4 * u, 1 + u); }},
  };
  for (const auto& c : cases) {
    const auto seq = Movement(m, 0, c.f);
    for (Action other : kAllActions) {
      const ActionResult r = DetectAction(seq, other, 0, t);
      if (other == c.a) {
        EXPECT_TRUE(r.detected) << ActionName(c.a) << ": " << r.detail;
        EXPECT_TRUE(r.non_planar) << ActionName(c.a) << " nonplanar " << r.nonplanar;
        std::printf("  %-11s amount %.2f, 3-D evidence %.4f\n", ActionName(c.a), r.amount, r.nonplanar);
      } else if (other != Action::kComeCloser || c.a != Action::kLookUp) {
        EXPECT_FALSE(r.detected) << ActionName(other) << " seen in " << ActionName(c.a);
      }
    }
  }
}

TEST(LivenessGeometry, PictureMovedLikeAnActionIsFlat) {
  REQUIRE_DATA(kBlinkClip);
  const face::FaceMesh& m = BlinkObservations()[5].mesh;
  const cv::Point2f c(m.points[1].x, m.points[1].y);
  const cv::Matx33d T(1, 0, -c.x, 0, 1, -c.y, 0, 0, 1), Ti(1, 0, c.x, 0, 1, c.y, 0, 0, 1);
  // Scaling a picture up 1.8x while tilting it: "come closer" by a flat object.
  const auto seq = Movement(m, 0, [&](const face::FaceMesh& x, float u) {
    const double s = 1 + 0.8 * u, k = 0.0015 * u;
    return Warp(x, Ti * cv::Matx33d(s, 0, 0, 0, s, 0, k, 0, 1) * T);
  });
  const ActionResult r = DetectAction(seq, Action::kComeCloser, 0, SequenceThresholds{});
  EXPECT_TRUE(r.detected);
  EXPECT_FALSE(r.non_planar) << r.nonplanar;
  std::printf("  flat approach: depth cue %.4f (threshold %.3f)\n", r.nonplanar, SequenceThresholds{}.min_closer_depth);
}

TEST(LivenessGeometry, BlinkNeedsBothUpperLidsOverAStillFace) {
  REQUIRE_DATA(kBlinkClip);
  const auto& obs = BlinkObservations();
  const SequenceThresholds t;
  const ActionResult real = DetectAction(obs, Action::kBlink, 0, t);
  ASSERT_TRUE(real.detected) << real.detail;
  std::printf("  real blink: %s\n", real.detail.c_str());
  // A wink (one eye only) is not a blink: keep the left eye's lids open through the closure.
  std::vector<FrameObservation> wink = obs;
  int open = -1;
  for (int i = real.begin_frame; i >= 0 && open < 0; --i) {
    if (wink[static_cast<size_t>(i)].lids) open = i;
  }
  ASSERT_GE(open, 0);
  for (int i = real.begin_frame + 1; i < real.end_frame; ++i) {
    auto& o = wink[static_cast<size_t>(i)];
    const cv::Point2f shift = (o.lid_left[0] + o.lid_left[8] - wink[static_cast<size_t>(open)].lid_left[0] - wink[static_cast<size_t>(open)].lid_left[8]) * 0.5f;
    for (size_t k = 0; k < 16; ++k) o.lid_left[k] = wink[static_cast<size_t>(open)].lid_left[k] + shift;
    o.lid_open_left = LidOpening(o.lid_left);
  }
  EXPECT_FALSE(DetectAction(wink, Action::kBlink, 0, t).detected);
  // Eyes squashed together with the whole face (a picture tilted forward) are not a blink: the
  // face's own homography is undone before the lids are measured.
  std::vector<FrameObservation> squash = obs;
  for (int i = real.begin_frame + 1; i < real.end_frame; ++i) {
    auto& o = squash[static_cast<size_t>(i)];
    const auto& src = squash[static_cast<size_t>(open)];
    const cv::Point2f c(src.mesh.points[1].x, src.mesh.points[1].y);
    const cv::Matx33d H = cv::Matx33d(1, 0, c.x, 0, 1, c.y, 0, 0, 1) * cv::Matx33d(1, 0, 0, 0, 0.7, 0, 0, 0.002, 1) *
                          cv::Matx33d(1, 0, -c.x, 0, 1, -c.y, 0, 0, 1);
    auto warp = [&](cv::Point2f p) {
      const cv::Vec3d q = H * cv::Vec3d(p.x, p.y, 1);
      return cv::Point2f(static_cast<float>(q[0] / q[2]), static_cast<float>(q[1] / q[2]));
    };
    o.mesh = Warp(src.mesh, H);
    for (size_t k = 0; k < 16; ++k) o.lid_left[k] = warp(src.lid_left[k]), o.lid_right[k] = warp(src.lid_right[k]);
    o.lid_open_left = LidOpening(o.lid_left), o.lid_open_right = LidOpening(o.lid_right);
  }
  const ActionResult sq = DetectAction(squash, Action::kBlink, 0, t);
  EXPECT_FALSE(sq.detected) << sq.detail;
  std::printf("  squashed face: %s\n", sq.detail.c_str());
}

// "Come closer": a real head grows in front of a background that stays; a picture's own
// surroundings grow with the face. Frames composed in memory from two LFW images.
TEST(LivenessGeometry, SurroundOfAPictureComesCloserWithTheFace) {
  REQUIRE_DATA("/data/faces/lfw_view2/images");
  const std::string dir = test::SharedDir() + "/data/faces/lfw_view2/images/";
  const cv::Mat person = LoadImageFile(dir + "Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
  const cv::Mat room = LoadImageFile(dir + "Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001.jpg");
  cv::Mat bg;
  cv::resize(room, bg, cv::Size(320, 240));
  cv::Mat head_mask = cv::Mat::zeros(person.size(), CV_8U);
  cv::ellipse(head_mask, cv::Point(125, 120), cv::Size(62, 85), 0, 0, 360, cv::Scalar(255), cv::FILLED);
  auto place = [&](const cv::Mat& img, const cv::Mat& mask, double s, const cv::Point2d& at, const cv::Point2d& centre) {
    const cv::Mat M = (cv::Mat_<double>(2, 3) << s, 0, at.x - centre.x * s, 0, s, at.y - centre.y * s);
    cv::Mat moved, m, out = bg.clone();
    cv::warpAffine(img, moved, M, bg.size());
    cv::warpAffine(mask, m, M, bg.size());
    moved.copyTo(out, m);
    return out;
  };
  FrameAnalyzer fa;
  auto measure = [&](const cv::Mat& a, const cv::Mat& b) {
    fa.Reset();
    const FrameObservation oa = fa.Analyze(a, 0);
    fa.Reset();
    const FrameObservation ob = fa.Analyze(b, 66);
    EXPECT_TRUE(oa.face && ob.face);
    cv::Mat ga, gb, sa, sb;
    cv::cvtColor(a, ga, cv::COLOR_RGB2GRAY);
    cv::cvtColor(b, gb, cv::COLOR_RGB2GRAY);
    cv::resize(ga, sa, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    cv::resize(gb, sb, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    return MeasureSurround(sa, sb, oa.mesh, ob.mesh, 0.5f);
  };
  // A head coming 1.6x closer in front of the room.
  const cv::Mat all = cv::Mat(person.size(), CV_8U, cv::Scalar(255));
  const SurroundMotion head = measure(place(person, head_mask, 0.5, {160, 125}, {125, 120}), place(person, head_mask, 0.8, {160, 125}, {125, 120}));
  // The whole photo (face, its background, its edges) brought 1.6x closer in front of the room.
  const SurroundMotion photo = measure(place(person, all, 0.5, {160, 125}, {125, 120}), place(person, all, 0.8, {160, 125}, {125, 120}));
  std::printf("  surround moving with the face: head %.2f of %d px, photo %.2f of %d px (threshold %.2f)\n", head.follow, head.textured,
              photo.follow, photo.textured, SequenceThresholds{}.closer_max_follow);
  EXPECT_GE(head.textured, SequenceThresholds{}.closer_min_textured);
  EXPECT_GE(photo.textured, SequenceThresholds{}.closer_min_textured);
  EXPECT_LT(head.follow, SequenceThresholds{}.closer_max_follow);
  EXPECT_GT(photo.follow, SequenceThresholds{}.closer_max_follow);
}

TEST(LivenessSequence, BlinkClipPassesBlinkChallenge) {
  REQUIRE_DATA(kBlinkClip);
  const Clip clip = LoadVideo(test::SharedDir() + kBlinkClip);
  const SequenceResult r = Verifier().Verify(For({Action::kBlink}), clip.frames, clip.t_ms);
  std::string why;
  for (const auto& s : r.reasons) why += s + " ";
  ASSERT_EQ(r.actions.size(), 1u);
  EXPECT_TRUE(r.actions[0].detected) << r.actions[0].detail;
  EXPECT_EQ(r.verdict, Verdict::kLive) << why << " score " << r.attack_score;
  EXPECT_GT(r.identity_min_cos, 0.9f);
  EXPECT_TRUE(r.track_continuous);
  std::printf("  blink at %.2f-%.2f s, attack score %.3f, passive %.3f\n", r.actions[0].begin_ms / 1000.0,
              r.actions[0].end_ms / 1000.0, r.attack_score, r.passive_score);
}

// A server worker's verifier runs on its face analyser's detector, mesh and ResNet runtimes; the
// verdict and every score must be those of a verifier with its own copies.
TEST(LivenessSequence, VerifierOnAnAnalysersRuntimesDecidesTheSame) {
  REQUIRE_DATA(kBlinkClip);
  const Clip clip = LoadVideo(test::SharedDir() + kBlinkClip);
  const face::FaceAnalyzer analyzer;
  LivenessVerifier shared(LivenessVerifier::Options{}, &analyzer);
  EXPECT_EQ(&shared.frame_analyzer().detector(), &analyzer.detector());
  EXPECT_EQ(&shared.frame_analyzer().mesh_model(), &analyzer.mesh_model());
  EXPECT_EQ(&shared.embedder().model(), &analyzer.embedder().model());
  EXPECT_EQ(shared.embedder().name(), "resnet128-noflip");
  // The analyser still works between the verifier's calls (one worker, one request at a time).
  const face::FaceAnalysis before = analyzer.Analyze(clip.frames[0]);
  const SequenceResult a = Verifier().Verify(For({Action::kBlink}), clip.frames, clip.t_ms);
  const SequenceResult b = shared.Verify(For({Action::kBlink}), clip.frames, clip.t_ms);
  EXPECT_GT(face::CosineSimilarity(before.embedding, analyzer.Analyze(clip.frames[0]).embedding), 0.99999f);
  EXPECT_EQ(a.verdict, b.verdict);
  EXPECT_EQ(a.reasons, b.reasons);
  EXPECT_NEAR(a.identity_min_cos, b.identity_min_cos, 1e-4);
  EXPECT_NEAR(a.attack_score, b.attack_score, 1e-4);
  EXPECT_NEAR(a.passive_score, b.passive_score, 1e-4);
  ASSERT_EQ(a.actions.size(), b.actions.size());
  EXPECT_EQ(a.actions[0].begin_ms, b.actions[0].begin_ms);
  EXPECT_EQ(a.actions[0].end_ms, b.actions[0].end_ms);
  // A ResNet embedder reading other landmarks lends its runtime too; another network has no ResNet
  // runtime to lend, and the verifier then loads its own.
  face::AnalyzerOptions lm68;
  lm68.embedder = "resnet128-lm68";
  const face::FaceAnalyzer resnet_lm68(lm68);
  const LivenessVerifier on_lm68(LivenessVerifier::Options{}, &resnet_lm68);
  EXPECT_EQ(&on_lm68.embedder().model(), &resnet_lm68.embedder().model());
  EXPECT_EQ(on_lm68.embedder().name(), "resnet128-noflip");
  face::AnalyzerOptions faceres;
  faceres.embedder = "faceres";
  const face::FaceAnalyzer other(faceres);
  const LivenessVerifier own(LivenessVerifier::Options{}, &other);
  EXPECT_NE(&own.embedder().model(), &other.embedder().model());
  EXPECT_EQ(own.embedder().name(), "resnet128-noflip");
}

TEST(LivenessSequence, BlinkClipFailsEveryOtherAction) {
  REQUIRE_DATA(kBlinkClip);
  const Clip clip = LoadVideo(test::SharedDir() + kBlinkClip);
  for (Action a : {Action::kTurnLeft, Action::kTurnRight, Action::kLookUp, Action::kComeCloser}) {
    const SequenceResult r = Verifier().Verify(For({a}), clip.frames, clip.t_ms);
    EXPECT_NE(r.verdict, Verdict::kLive) << ActionName(a);
    EXPECT_FALSE(r.actions[0].detected) << ActionName(a);
  }
  // Two-action challenges containing the blink still fail on the missing turn.
  const SequenceResult r = Verifier().Verify(For({Action::kBlink, Action::kTurnLeft}), clip.frames, clip.t_ms);
  EXPECT_NE(r.verdict, Verdict::kLive);
}

TEST(LivenessSequence, WrongOrderFails) {
  REQUIRE_DATA(kBlinkClip);
  // The real blink clip, then a (simulated 3-D) turn to the left: blink-then-turn is answered,
  // turn-then-blink is not.
  std::vector<FrameObservation> seq = BlinkObservations();
  const auto turn = Movement(seq.back().mesh, seq.back().t_ms + 66, [](const face::FaceMesh& x, float u) { return Rotate(x, 28 * u, 0); });
  seq.insert(seq.end(), turn.begin(), turn.end());
  SequenceEvidence ev;
  ev.frames = seq;
  const SequenceResult ok = VerifySequence(For({Action::kBlink, Action::kTurnLeft}), ev);
  ASSERT_EQ(ok.actions.size(), 2u);
  EXPECT_TRUE(ok.actions[0].detected && ok.actions[1].detected);
  EXPECT_LT(ok.actions[0].end_frame, ok.actions[1].begin_frame);
  const SequenceResult bad = VerifySequence(For({Action::kTurnLeft, Action::kBlink}), ev);
  EXPECT_TRUE(bad.actions[0].detected);
  EXPECT_FALSE(bad.actions[1].detected);
  EXPECT_NE(bad.verdict, Verdict::kLive);
  // And a turn the wrong way is not a turn.
  const SequenceResult wrong_way = VerifySequence(For({Action::kBlink, Action::kTurnRight}), ev);
  EXPECT_FALSE(wrong_way.actions[1].detected);
}

TEST(LivenessSequence, OutsideWindowOrNonMonotonicTimesAreNotLive) {
  REQUIRE_DATA(kBlinkClip);
  SequenceEvidence ev;
  ev.frames = BlinkObservations();
  Challenge c = For({Action::kBlink}, 10000);  // issued after the frames were captured
  EXPECT_NE(VerifySequence(c, ev).verdict, Verdict::kLive);
  ev.frames[10].t_ms = ev.frames[9].t_ms;
  const SequenceResult r = VerifySequence(For({Action::kBlink}), ev);
  EXPECT_NE(r.verdict, Verdict::kLive);
}

// A handful of generated attacks per species and action (the full >= 200-face evaluation is
// SlowLivenessEval, run with IDMATCH_SLOW=1).
TEST(LivenessAttacks, GeneratedPhotoAttacksAreNeverLive) {
  REQUIRE_DATA("/data/faces/lfw_view2/images");
  const std::string dir = test::SharedDir() + "/data/faces/lfw_view2/images/";
  const cv::Mat photo = LoadImageFile(dir + "Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
  const cv::Mat other = LoadImageFile(dir + "Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001.jpg");
  uint64_t seed = 1;
  for (AttackSpecies s : {AttackSpecies::kPrintedPhoto, AttackSpecies::kPhoneScreen}) {
    for (Action a : kAllActions) {
      const Clip clip = MakeAttack(s, photo, {a}, seed++);
      const SequenceResult r = Verifier().Verify(For({a}), clip.frames, clip.t_ms);
      std::string why;
      for (const auto& x : r.reasons) why += x + " ";
      std::printf("  %-13s %-11s -> %-12s %s\n", AttackSpeciesName(s), ActionName(a), VerdictName(r.verdict), why.c_str());
      EXPECT_NE(r.verdict, Verdict::kLive) << AttackSpeciesName(s) << " " << ActionName(a);
    }
  }
  const Clip cut = MakeAttack(AttackSpecies::kCutToOther, photo, {Action::kTurnLeft, Action::kBlink}, 99, {}, other);
  const SequenceResult r = Verifier().Verify(For({Action::kTurnLeft, Action::kBlink}), cut.frames, cut.t_ms);
  EXPECT_EQ(r.verdict, Verdict::kAttack);
  EXPECT_TRUE(!r.track_continuous || r.identity_min_cos < SequenceThresholds{}.same_person_cos);
}

TEST(LivenessAttacks, ReplayOfRealClipAnsweringAnotherChallengeFails) {
  REQUIRE_DATA(kBlinkClip);
  const Clip clip = LoadVideo(test::SharedDir() + kBlinkClip);
  // The clip answers "blink"; a replay against any challenge that asks for more must fail.
  for (const auto& c : {std::vector<Action>{Action::kLookUp, Action::kBlink}, {Action::kBlink, Action::kComeCloser},
                        {Action::kTurnRight, Action::kBlink, Action::kLookUp}}) {
    EXPECT_NE(Verifier().Verify(For(c), clip.frames, clip.t_ms).verdict, Verdict::kLive) << ActionsToString(c);
  }
}

}  // namespace
}  // namespace idm::liveness
