// The full presentation-attack evaluation (ISO/IEC 30107-3 terms): generated attacks from >= 200
// LFW faces, every species and every action, plus the passive check's BPCER on LFW. Slow (minutes):
// runs only with IDMATCH_SLOW=1. IDMATCH_EVAL_FACES sets the number of faces (default 200),
// IDMATCH_EVAL_THREADS the worker threads (default 2), IDMATCH_EVAL_ACTION one action only.
//
// APCER (per species) = attack presentations given the verdict "live" / attack presentations.
// "attack" and "inconclusive" are both rejections (not accepted as bona fide); both are counted.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "core/image.h"
#include "liveness/attack_gen.h"
#include "liveness/challenge.h"
#include "liveness/frame_analyzer.h"
#include "liveness/passive.h"
#include "liveness/sequence.h"
#include "test_util.h"

namespace idm::liveness {
namespace {

bool Slow() { return std::getenv("IDMATCH_SLOW") != nullptr && std::string(std::getenv("IDMATCH_SLOW")) == "1"; }
int EnvInt(const char* k, int d) { return std::getenv(k) ? std::atoi(std::getenv(k)) : d; }

// One image per identity, identities spread evenly over LFW's list.
std::vector<std::string> LfwFaces(int n) {
  const std::string root = test::SharedDir() + "/data/faces/lfw_view2/";
  std::ifstream f(root + "labels.csv");
  std::string line;
  std::getline(f, line);
  std::vector<std::string> firsts;
  std::string last_id;
  while (std::getline(f, line)) {
    const auto comma = line.find(',');
    const std::string file = line.substr(0, comma), id = line.substr(comma + 1);
    if (id != last_id) firsts.push_back(root + file), last_id = id;
  }
  std::vector<std::string> out;
  for (int i = 0; i < n && !firsts.empty(); ++i)
    out.push_back(firsts[static_cast<size_t>(i) * firsts.size() / static_cast<size_t>(n)]);
  return out;
}

struct Tally {
  int n = 0, live = 0, attack = 0, inconclusive = 0;
  std::map<std::string, int> reasons;
  void Add(const SequenceResult& r) {
    ++n;
    if (r.verdict == Verdict::kLive)
      ++live;
    else if (r.verdict == Verdict::kAttack)
      ++attack;
    else
      ++inconclusive;
    for (const auto& s : r.reasons) ++reasons[s];
  }
};

Challenge For(const std::vector<Action>& a) {
  Challenge c;
  c.nonce = "eval";
  c.actions = a;
  c.expires_ms = 60000;
  return c;
}

TEST(SlowLivenessEval, GeneratedAttacksPerSpeciesAndAction) {
  if (!Slow()) GTEST_SKIP() << "set IDMATCH_SLOW=1";
  const int n = EnvInt("IDMATCH_EVAL_FACES", 200), threads = std::max(1, EnvInt("IDMATCH_EVAL_THREADS", 2));
  const auto faces = LfwFaces(n);
  ASSERT_EQ(static_cast<int>(faces.size()), n);
  AttackOptions opt;
  opt.fps = 10;
  std::map<std::string, Tally> tally;  // "species/action"
  std::mutex mu;
  // IDMATCH_EVAL_ACTION=<action> evaluates that action only (no cut clips).
  const char* only = std::getenv("IDMATCH_EVAL_ACTION");
  std::atomic<int> next{0};
  int done = 0;  // guarded by mu
  auto work = [&] {
    LivenessVerifier v;
    auto gen = ChallengeGenerator::Seeded(7);
    for (int i; (i = next++) < n;) {
      const cv::Mat photo = LoadImageFile(faces[static_cast<size_t>(i)]);
      std::vector<std::pair<std::string, SequenceResult>> out;
      for (AttackSpecies s : {AttackSpecies::kPrintedPhoto, AttackSpecies::kPhoneScreen}) {
        for (Action a : kAllActions) {
          if (only != nullptr && only != std::string(ActionName(a))) continue;
          const Clip clip = MakeAttack(
              s, photo, {a},
              1000ull * static_cast<uint64_t>(i) + static_cast<uint64_t>(a) * 10 + static_cast<uint64_t>(s), opt);
          out.emplace_back(std::string(AttackSpeciesName(s)) + "/" + ActionName(a),
                           v.Verify(For({a}), clip.frames, clip.t_ms));
        }
      }
      if (only != nullptr) {
        std::lock_guard<std::mutex> lock(mu);
        for (auto& [k, r] : out) tally[k].Add(r);
        continue;
      }
      // A cut to the next face, under a random 2-3 action challenge the clip mimics.
      const cv::Mat other = LoadImageFile(faces[static_cast<size_t>((i + 1) % n)]);
      Challenge c = gen.Issue(0, 60000);
      for (int k = 0; k <= i % 7; ++k) c = gen.Issue(0, 60000);  // decorrelate from the worker order
      const Clip cut =
          MakeAttack(AttackSpecies::kCutToOther, photo, c.actions, 77ull + static_cast<uint64_t>(i), opt, other);
      out.emplace_back("cut_to_other_person/" + ActionsToString(c.actions).substr(0, 0) + "any",
                       v.Verify(c, cut.frames, cut.t_ms));
      std::lock_guard<std::mutex> lock(mu);
      for (auto& [k, r] : out) tally[k].Add(r);
      if (++done % 20 == 0) {
        // A running tally, so that an interrupted run still leaves numbers.
        std::fprintf(stderr, "  %d/%d faces:", done, n);
        for (const auto& [k, t] : tally) std::fprintf(stderr, " %s %d/%d live;", k.c_str(), t.live, t.n);
        std::fprintf(stderr, "\n");
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();

  std::map<std::string, Tally> species;
  std::printf("\n  %-32s %5s %5s %7s %12s  APCER   top reasons\n", "species/action", "n", "live", "attack",
              "inconclusive");
  for (const auto& [k, t] : tally) {
    std::vector<std::pair<int, std::string>> rs;
    for (const auto& [r, c] : t.reasons) rs.emplace_back(-c, r);
    std::sort(rs.begin(), rs.end());
    std::string top;
    for (size_t j = 0; j < std::min<size_t>(4, rs.size()); ++j)
      top += rs[j].second + "(" + std::to_string(-rs[j].first) + ") ";
    std::printf("  %-32s %5d %5d %7d %12d  %.4f  %s\n", k.c_str(), t.n, t.live, t.attack, t.inconclusive,
                static_cast<double>(t.live) / t.n, top.c_str());
    Tally& s = species[k.substr(0, k.find('/'))];
    s.n += t.n, s.live += t.live, s.attack += t.attack, s.inconclusive += t.inconclusive;
    EXPECT_EQ(t.live, 0) << k;
  }
  for (const auto& [k, t] : species) {
    std::printf("  species %-24s n=%d APCER=%.4f (attack %d, inconclusive %d)\n", k.c_str(), t.n,
                static_cast<double>(t.live) / t.n, t.attack, t.inconclusive);
  }
}

// Real clips replayed against challenges they do not answer (the replay species), and the same
// clips' bona fide results where they do answer (BPCER of the sequence path on real video).
TEST(SlowLivenessEval, ReplayedRealClipsAgainstOtherChallenges) {
  if (!Slow()) GTEST_SKIP() << "set IDMATCH_SLOW=1";
  const std::vector<std::string> clips = {"/data/videos/blink_detector/videos/test.mp4",
                                          "/data/videos/blink_detector/videos/example.mp4",
                                          "/data/faces/face_recognition/videos/short_hamilton_clip.mp4"};
  LivenessVerifier v;
  auto gen = ChallengeGenerator::Seeded(11);
  int n = 0, live = 0;
  for (const auto& rel : clips) {
    cv::VideoCapture cap(test::SharedDir() + rel);
    const double fps = cap.get(cv::CAP_PROP_FPS);
    std::vector<cv::Mat> frames;
    std::vector<int64_t> t;
    cv::Mat bgr;
    while (cap.read(bgr) && frames.size() < 150) {
      cv::Mat rgb;
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
      t.push_back(static_cast<int64_t>(1000.0 * static_cast<double>(frames.size()) / (fps > 0 ? fps : 25)));
      frames.push_back(rgb);
    }
    int clip_live = 0;
    for (int k = 0; k < 20; ++k) {
      Challenge c = gen.Issue(0, 60000);
      const SequenceResult r = v.Verify(c, frames, t);
      ++n;
      if (r.verdict == Verdict::kLive) ++live, ++clip_live;
    }
    const SequenceResult b = v.Verify(For({Action::kBlink}), frames, t);
    std::string why;
    for (const auto& s : b.reasons) why += s + " ";
    std::printf("  %-60s %zu frames: %d/20 random challenges live; blink-only challenge -> %s %s\n", rel.c_str(),
                frames.size(), clip_live, VerdictName(b.verdict), why.c_str());
  }
  std::printf("  replay species: n=%d APCER=%.4f\n", n, static_cast<double>(live) / n);
  EXPECT_EQ(live, 0);
}

// Single-frame passive check on LFW (bona fide direct captures): BPCER of the passive part.
// IDMATCH_EVAL_EVERY=k takes every k-th image (default 2: 3,850 images).
TEST(SlowLivenessEval, PassiveBpcerOnLfwAndGeneratedAttackFrames) {
  if (!Slow()) GTEST_SKIP() << "set IDMATCH_SLOW=1";
  const int every = std::max(1, EnvInt("IDMATCH_EVAL_EVERY", 2));
  const std::string root = test::SharedDir() + "/data/faces/lfw_view2/";
  std::ifstream f(root + "labels.csv");
  std::string line;
  std::getline(f, line);
  std::vector<std::string> files;
  for (int i = 0; std::getline(f, line); ++i) {
    if (i % every == 1 % every) files.push_back(root + line.substr(0, line.find(',')));
  }
  FrameAnalyzer fa;
  const PassiveChecker pc;
  int n = 0, flagged = 0, no_face = 0, only_cut = 0;
  std::map<std::string, int> by;
  // Flagged by the silhouette cue and nothing else: what that cue adds to the other cues.
  auto cut_alone = [](const PassiveResult& p) {
    return p.reasons == std::vector<std::string>{"silhouette_cut_straight"};
  };
  for (const auto& file : files) {
    const cv::Mat rgb = LoadImageFile(file);
    fa.Reset();
    const FrameObservation o = fa.Analyze(rgb, 0);
    if (!o.face) {
      ++no_face;
      continue;
    }
    const PassiveResult p = pc.Check(rgb, o.mesh);
    ++n;
    if (p.attack) ++flagged;
    only_cut += cut_alone(p);
    for (const auto& r : p.reasons) ++by[r];
  }
  std::string cues;
  for (const auto& [k, c] : by) cues += k + "=" + std::to_string(c) + " ";
  std::printf("  passive BPCER on LFW: %d / %d = %.4f (no face: %d); by cue: %s; by the silhouette cut alone: %d\n",
              flagged, n, static_cast<double>(flagged) / n, no_face, cues.c_str(), only_cut);
  EXPECT_LE(static_cast<double>(flagged) / n, 0.05);

  // Single re-captured frames (at rest) of 200 faces: the passive check alone, per species.
  const auto faces = LfwFaces(EnvInt("IDMATCH_EVAL_FACES", 200));
  for (AttackSpecies s : {AttackSpecies::kPrintedPhoto, AttackSpecies::kPhoneScreen}) {
    int m = 0, caught = 0, missed_face = 0, caught_by_cut_alone = 0;
    for (size_t i = 0; i < faces.size(); ++i) {
      const cv::Mat frame = MakeAttackFrame(s, LoadImageFile(faces[i]), 5000 + i);
      fa.Reset();
      const FrameObservation o = fa.Analyze(frame, 0);
      if (!o.face) {
        ++missed_face;
        continue;
      }
      ++m;
      const PassiveResult p = pc.Check(frame, o.mesh);
      caught += p.attack;
      caught_by_cut_alone += cut_alone(p);
    }
    std::printf(
        "  passive alone on single %s frames: %d / %d flagged (APCER of the passive part %.4f; no face %d; %d by the "
        "silhouette cut alone)\n",
        AttackSpeciesName(s), caught, m, 1.0 - static_cast<double>(caught) / std::max(m, 1), missed_face,
        caught_by_cut_alone);
  }
}

}  // namespace
}  // namespace idm::liveness
