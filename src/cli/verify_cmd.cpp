#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/image.h"
#include "verify/verifier.h"

namespace idm::cli {

namespace {

nlohmann::json QualityJson(const verify::ImageReport& r) {
  const auto& q = r.quality;
  return {{"faces_found", r.faces_found},
          {"face_box", {r.face_box.x, r.face_box.y, r.face_box.width, r.face_box.height}},
          {"face_size_px", q.face_size_px},
          {"eye_distance_px", q.eye_distance_px},
          {"sharpness", q.sharpness},
          {"brightness", q.brightness},
          {"yaw_deg", q.yaw_deg},
          {"pitch_deg", q.pitch_deg},
          {"roll_deg", q.roll_deg},
          {"eyes_open", {q.left_eye_open, q.right_eye_open}},
          {"flags", q.flags},
          {"timings_ms", {{"detect", r.detect_ms}, {"landmarks", r.landmark_ms}, {"embed", r.embed_ms}}}};
}

std::string Flags(const std::vector<std::string>& f) {
  if (f.empty()) return "none";
  std::string s;
  for (const auto& x : f) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

int VerifyCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json"});
  args.AllowOnly({"reference", "probe", "json", "embedder", "threads", "calibration"});
  const std::string ref_path = args.Require("reference"), probe_path = args.Require("probe");
  face::AnalyzerOptions opt;
  opt.embedder = args.Get("embedder", "resnet128");
  opt.threads = args.GetInt("threads", 1);
  const auto calibration = verify::LoadCalibration(args.Get("calibration", verify::DefaultCalibrationPath()), opt.embedder);
  // Decode first: a bad file is reported before models load, naming which image it is.
  auto load = [](const std::string& path, const char* which) {
    try {
      return LoadImageFile(path);
    } catch (const Error& e) {
      throw Error(e.code(), std::string(which) + " image '" + path + "': " + e.what());
    }
  };
  const cv::Mat ref = load(ref_path, "reference"), probe = load(probe_path, "probe");
  const verify::Verifier verifier(opt, calibration);
  const verify::VerifyResult r = verifier.Verify(ref, probe);
  const char* decision = r.match ? "match" : "no_match";
  if (args.Has("json")) {
    nlohmann::json j = {{"decision", decision},
                        {"score", r.score},
                        {"threshold", r.calibration.threshold},
                        {"fmr_target", r.calibration.fmr_target},
                        {"embedder", r.calibration.embedder},
                        {"model_sha256", verifier.analyzer().embedder().model().sha256()},
                        {"reference", QualityJson(r.reference)},
                        {"probe", QualityJson(r.probe)},
                        {"total_ms", r.total_ms}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("decision   %s\n", decision);
    std::printf("score      %.4f (cosine, %s)\n", r.score, r.calibration.embedder.c_str());
    std::printf("threshold  %.4f for a false-match rate of %g (%s)\n", r.calibration.threshold, r.calibration.fmr_target,
                r.calibration.source.c_str());
    std::printf("reference  %d face(s), quality flags: %s\n", r.reference.faces_found, Flags(r.reference.quality.flags).c_str());
    std::printf("probe      %d face(s), quality flags: %s\n", r.probe.faces_found, Flags(r.probe.quality.flags).c_str());
    std::printf("time       %.1f ms (reference: detect %.1f, landmarks %.1f, embed %.1f ms)\n", r.total_ms,
                r.reference.detect_ms, r.reference.landmark_ms, r.reference.embed_ms);
  }
  return r.match ? 0 : 1;
}

int ModelsCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json"});
  args.AllowOnly({"json"});
  face::AnalyzerOptions opt;
  const face::FaceAnalyzer analyzer(opt);
  const auto faceres = face::MakeEmbedder("faceres");
  const nn::Model* models[] = {&analyzer.detector().model(), &analyzer.mesh_model().model(), &analyzer.embedder().model(),
                               &faceres->model()};
  nlohmann::json j = nlohmann::json::array();
  for (const nn::Model* m : models) {
    j.push_back({{"name", m->name()}, {"sha256", m->sha256()}});
    if (!args.Has("json")) std::printf("%-20s %s\n", m->name().c_str(), m->sha256().c_str());
  }
  if (args.Has("json")) std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace idm::cli
