// idmatch liveness: challenge-response liveness over a video or a folder of frames, or the
// single-frame passive check on one image (or, for evaluation, on every image under a folder).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/image.h"
#include "liveness/challenge.h"
#include "liveness/frame_analyzer.h"
#include "liveness/passive.h"
#include "liveness/sequence.h"

namespace idm::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace idm::liveness;

constexpr int kMaxFrames = 900;  // 30 s at 30 fps
constexpr int kMaxSide = 1280;   // frames are scaled down to this

cv::Mat Fit(cv::Mat rgb) {
  const int side = std::max(rgb.cols, rgb.rows);
  if (side <= kMaxSide) return rgb;
  cv::Mat small;
  const double s = static_cast<double>(kMaxSide) / side;
  cv::resize(rgb, small, cv::Size(), s, s, cv::INTER_AREA);
  return small;
}

void ReadVideo(const std::string& path, std::vector<cv::Mat>* frames, std::vector<int64_t>* t_ms) {
  if (!fs::exists(path)) throw Error(ErrorCode::kNotFound, "no such video: " + path);
  cv::VideoCapture cap(path);
  if (!cap.isOpened()) throw Error(ErrorCode::kImageDecode, "cannot decode video '" + path + "'");
  const double fps = cap.get(cv::CAP_PROP_FPS);
  cv::Mat bgr;
  while (cap.read(bgr)) {
    if (static_cast<int>(frames->size()) >= kMaxFrames)
      throw Error(ErrorCode::kImageTooLarge, "video longer than 900 frames");
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    double ms = cap.get(cv::CAP_PROP_POS_MSEC);
    const int64_t i = static_cast<int64_t>(frames->size());
    if (!(ms > 0) && i > 0) ms = fps > 0 ? 1000.0 * static_cast<double>(i) / fps : 33.0 * static_cast<double>(i);
    // Some containers report the same position twice: keep timestamps strictly increasing.
    int64_t t = static_cast<int64_t>(ms);
    if (!t_ms->empty() && t <= t_ms->back()) t = t_ms->back() + 1;
    frames->push_back(Fit(rgb));
    t_ms->push_back(t);
  }
  if (frames->empty()) throw Error(ErrorCode::kImageDecode, "no frames in video '" + path + "'");
}

std::vector<std::string> ImagesUnder(const std::string& dir, bool recursive) {
  if (!fs::is_directory(dir)) throw Error(ErrorCode::kNotFound, "no such folder: " + dir);
  std::vector<std::string> out;
  auto take = [&](const fs::path& p) {
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), ::tolower);
    if (e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".webp") out.push_back(p.string());
  };
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) take(e.path());
  } else {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) take(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

json CuesJson(const PassiveResult& p) {
  return {{"antispoof_real", p.cues.antispoof_real},
          {"liveness_live", p.cues.liveness_live},
          {"moire_db", p.cues.moire_db},
          {"enclosure_sides", p.cues.enclosure},
          {"glare", p.cues.glare},
          {"clipping", p.cues.clipping},
          {"silhouette_cut", p.cues.silhouette_cut},
          {"scores",
           {{"antispoof", p.antispoof_score},
            {"liveness", p.liveness_score},
            {"moire", p.moire_score},
            {"enclosure", p.enclosure_score},
            {"glare", p.glare_score},
            {"clipping", p.clipping_score},
            {"silhouette_cut", p.silhouette_cut_score}}}};
}

// Face mesh for a still image (detector + refined mesh), or nullopt.
std::optional<FrameObservation> FaceOf(FrameAnalyzer& fa, const cv::Mat& rgb) {
  fa.Reset();
  FrameObservation o = fa.Analyze(rgb, 0);
  if (!o.face) return std::nullopt;
  return o;
}

int ImageMode(const Args& args) {
  const cv::Mat rgb = LoadImageFile(args.Require("image"));
  FrameAnalyzer fa({args.GetInt("threads", 1), 15, 0.5f, /*iris=*/false});
  const PassiveChecker pc(args.GetInt("threads", 1));
  const auto o = FaceOf(fa, rgb);
  if (!o) throw Error(ErrorCode::kNoFace, "no face found in the image");
  const PassiveResult p = pc.Check(rgb, o->mesh);
  const char* verdict = p.attack ? "attack" : "live";
  if (args.Has("json")) {
    json j = {{"verdict", verdict},   {"attack_score", p.attack_score}, {"threshold", pc.thresholds().attack},
              {"reasons", p.reasons}, {"faces_found", o->faces_found},  {"cues", CuesJson(p)}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("verdict       %s\n", verdict);
    std::printf("attack score  %.3f (threshold %.2f)\n", p.attack_score, pc.thresholds().attack);
    std::printf(
        "cues          antispoof real %.3f, liveness live %.3f, moire %.1f dB, border sides %.0f, glare %.3f, clipping "
        "%.3f, "
        "silhouette cut %.3f\n",
        p.cues.antispoof_real, p.cues.liveness_live, p.cues.moire_db, p.cues.enclosure, p.cues.glare, p.cues.clipping,
        p.cues.silhouette_cut);
    std::string why;
    for (const auto& r : p.reasons) why += (why.empty() ? "" : ", ") + r;
    std::printf("reasons       %s\n", why.empty() ? "none" : why.c_str());
  }
  return p.attack ? 1 : 0;
}

// Passive check over every image under a folder: the rate flagged (the BPCER when the images are
// bona fide captures), per-cue counts and cue percentiles. `--every K` takes every K-th image.
int EvalImagesMode(const Args& args) {
  auto files = ImagesUnder(args.Require("eval-images"), true);
  const int every = std::max(1, args.GetInt("every", 1)), offset = args.GetInt("offset", 0);
  FrameAnalyzer fa({1, 15, 0.5f, /*iris=*/false});
  const PassiveChecker pc(1);
  int n = 0, no_face = 0, flagged = 0;
  std::map<std::string, int> by_cue;
  std::map<std::string, std::vector<float>> vals;
  std::vector<std::string> flagged_files;
  for (size_t i = static_cast<size_t>(offset); i < files.size(); i += static_cast<size_t>(every)) {
    cv::Mat rgb;
    try {
      rgb = LoadImageFile(files[i]);
    } catch (const Error&) {
      continue;
    }
    const auto o = FaceOf(fa, rgb);
    if (!o) {
      ++no_face;
      continue;
    }
    const PassiveResult p = pc.Check(rgb, o->mesh);
    ++n;
    if (p.attack) ++flagged, flagged_files.push_back(files[i]);
    for (const auto& r : p.reasons) ++by_cue[r];
    vals["antispoof_real"].push_back(p.cues.antispoof_real);
    vals["liveness_live"].push_back(p.cues.liveness_live);
    vals["moire_db"].push_back(p.cues.moire_db);
    vals["enclosure_sides"].push_back(p.cues.enclosure);
    vals["glare"].push_back(p.cues.glare);
    vals["clipping"].push_back(p.cues.clipping);
    vals["silhouette_cut"].push_back(p.cues.silhouette_cut);
  }
  json pct;
  for (auto& [name, values] : vals) {
    auto& v = values;  // a plain reference: clang 14 cannot capture a structured binding
    std::sort(v.begin(), v.end());
    auto q = [&](double f) { return v.empty() ? 0.f : v[static_cast<size_t>(f * static_cast<double>(v.size() - 1))]; };
    pct[name] = {{"p01", q(0.01)}, {"p05", q(0.05)}, {"p50", q(0.5)}, {"p95", q(0.95)}, {"p99", q(0.99)}};
  }
  json j = {{"images", n},        {"no_face", no_face},
            {"flagged", flagged}, {"flagged_rate", n ? static_cast<double>(flagged) / n : 0.0},
            {"by_cue", by_cue},   {"percentiles", pct}};
  if (args.Has("list")) j["flagged_files"] = flagged_files;
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

json ActionJson(const ActionResult& a) {
  return {{"action", ActionName(a.action)},    {"detected", a.detected},
          {"three_d", a.non_planar},           {"frames", {a.begin_frame, a.peak_frame, a.end_frame}},
          {"time_ms", {a.begin_ms, a.end_ms}}, {"amount", a.amount},
          {"nonplanar", a.nonplanar},          {"detail", a.detail}};
}

int SequenceMode(const Args& args) {
  std::vector<cv::Mat> frames;
  std::vector<int64_t> t_ms;
  const auto t0 = std::chrono::steady_clock::now();
  if (args.Has("video")) {
    ReadVideo(args.Get("video"), &frames, &t_ms);
  } else {
    const auto files = ImagesUnder(args.Require("frames"), false);
    if (files.empty()) throw Error(ErrorCode::kNotFound, "no images in " + args.Get("frames"));
    if (static_cast<int>(files.size()) > kMaxFrames) throw Error(ErrorCode::kImageTooLarge, "more than 900 frames");
    const int fps = args.GetInt("fps", 30);
    if (fps <= 0 || fps > 240) throw Error(ErrorCode::kInvalidArgument, "--fps must be 1..240");
    for (size_t i = 0; i < files.size(); ++i) {
      frames.push_back(Fit(LoadImageFile(files[i])));
      t_ms.push_back(static_cast<int64_t>(1000.0 * static_cast<double>(i) / fps));
    }
  }
  Challenge c;
  c.actions = ParseActions(args.Require("challenge"));
  c.issued_ms = t_ms.front();
  c.expires_ms = t_ms.front() + std::max<int64_t>(args.GetInt("window-ms", 20000), 1);
  c.nonce = "cli";
  LivenessVerifier::Options opt;
  opt.threads = args.GetInt("threads", 1);
  LivenessVerifier v(opt);
  const auto t1 = std::chrono::steady_clock::now();
  SequenceEvidence ev;
  const SequenceResult r = v.Verify(c, frames, t_ms, &ev);
  const double verify_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  const double decode_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  if (args.Has("json")) {
    json acts = json::array();
    for (const auto& a : r.actions) acts.push_back(ActionJson(a));
    json j = {{"verdict", VerdictName(r.verdict)},
              {"reasons", r.reasons},
              {"challenge", ActionsToString(c.actions)},
              {"actions", acts},
              {"attack_score", r.attack_score},
              {"threshold", opt.thresholds.attack},
              {"passive_score", r.passive_score},
              {"planar_score", r.planar_score},
              {"identity_min_cosine", r.identity_min_cos},
              {"track_continuous", r.track_continuous},
              {"frames", r.frames},
              {"face_frames", r.face_frames},
              {"best_frames", r.best_frames},
              {"timings_ms", {{"decode", decode_ms}, {"verify", verify_ms}}}};
    if (args.Has("trace")) {
      // Per-frame measurements (for diagnosing a verdict; no image data).
      json tr = json::array();
      for (const auto& o : ev.frames) {
        tr.push_back({{"t", o.t_ms},
                      {"face", o.face},
                      {"yaw", o.yaw_deg},
                      {"pitch", o.pitch_deg},
                      {"roll", o.roll_deg},
                      {"ear", {o.ear_left, o.ear_right}},
                      {"eye_px", o.eye_distance_px},
                      {"sharp", o.sharpness},
                      {"change", o.frame_change},
                      {"det", o.detector_ran}});
      }
      j["trace"] = tr;
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("challenge  %s (%d frames, %d with a face, %.2f s)\n", ActionsToString(c.actions).c_str(), r.frames,
                r.face_frames, static_cast<double>(t_ms.back() - t_ms.front()) / 1000.0);
    for (const auto& a : r.actions) {
      std::printf("  %-12s %-13s", ActionName(a.action),
                  a.detected ? (a.non_planar ? "detected" : "detected-flat") : "not detected");
      if (a.detected)
        std::printf(" frames %d-%d (%.2f-%.2f s)", a.begin_frame, a.end_frame, a.begin_ms / 1000.0, a.end_ms / 1000.0);
      std::printf("  %s\n", a.detail.c_str());
    }
    std::string why;
    for (const auto& s : r.reasons) why += (why.empty() ? "" : ", ") + s;
    std::printf("verdict    %s\n", VerdictName(r.verdict));
    std::printf("score      %.3f (attack at >= %.2f; passive %.3f, flat-motion %.3f, identity min cosine %.3f)\n",
                r.attack_score, opt.thresholds.attack, r.passive_score, r.planar_score, r.identity_min_cos);
    std::printf("reasons    %s\n", why.empty() ? "none" : why.c_str());
    std::printf("time       %.0f ms decode, %.0f ms verify\n", decode_ms, verify_ms);
  }
  return r.verdict == Verdict::kLive ? 0 : 1;
}

int IssueMode() {
  const Challenge c = ChallengeGenerator::Secure().Issue(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  json acts = json::array();
  for (Action a : c.actions) acts.push_back(ActionName(a));
  std::printf("%s\n",
              json({{"nonce", c.nonce}, {"issued_ms", c.issued_ms}, {"expires_ms", c.expires_ms}, {"actions", acts}})
                  .dump(2)
                  .c_str());
  return 0;
}

}  // namespace

int LivenessCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json", "issue", "list", "trace"});
  args.AllowOnly({"video", "frames", "fps", "challenge", "image", "eval-images", "every", "offset", "list", "json",
                  "threads", "window-ms", "issue", "trace"});
  if (args.Has("issue")) return IssueMode();
  if (args.Has("image")) return ImageMode(args);
  if (args.Has("eval-images")) return EvalImagesMode(args);
  if (args.Has("video") || args.Has("frames")) return SequenceMode(args);
  throw Error(ErrorCode::kInvalidArgument,
              "usage: idmatch liveness --video clip.mp4 --challenge blink,turn-left [--json]\n"
              "       idmatch liveness --frames DIR [--fps 30] --challenge ... [--json]\n"
              "       idmatch liveness --image face.jpg [--json]\n"
              "       idmatch liveness --eval-images DIR [--every K] [--offset I] [--list]\n"
              "       idmatch liveness --issue");
}

}  // namespace idm::cli
