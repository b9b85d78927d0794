#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/image.h"
#include "document/document.h"
#include "liveness/sequence.h"
#include "verify/document_facts.h"
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

// Options shared by both forms of `verify`.
face::AnalyzerOptions AnalyzerFromArgs(const Args& args) {
  face::AnalyzerOptions opt;
  opt.embedder = args.Get("embedder", "resnet128");
  opt.threads = args.GetInt("threads", 1);
  return opt;
}

// Decodes one input image; an error names which image it is (`which`) and its path.
cv::Mat LoadNamed(const std::string& path, const char* which) {
  try {
    return LoadImageFile(path);
  } catch (const Error& e) {
    throw Error(e.code(), std::string(which) + " image '" + path + "': " + e.what());
  }
}

// The decision fields both forms of `verify` print, as JSON and as text.
nlohmann::json DecisionJson(const verify::VerifyResult& r) {
  return {{"decision", r.match ? "match" : "no_match"},
          {"score", r.score},
          {"threshold", r.calibration.threshold},
          {"fmr_target", r.calibration.fmr_target},
          {"embedder", r.calibration.embedder},
          {"probe", QualityJson(r.probe)},
          {"total_ms", r.total_ms}};
}
void PrintDecision(const verify::VerifyResult& r) {
  std::printf("decision   %s\n", r.match ? "match" : "no_match");
  std::printf("score      %.4f (cosine, %s)\n", r.score, r.calibration.embedder.c_str());
  std::printf("threshold  %.4f for a false-match rate of %g (%s)\n", r.calibration.threshold, r.calibration.fmr_target,
              r.calibration.source.c_str());
}

// `verify --document card.jpg --probe selfie.jpg`: the reference is the card's printed portrait
// (issue 3). Names and numbers read from its MRZ are wiped at once, never printed.
int VerifyDocument(const Args& args) {
  const std::string card_path = args.Require("document"), probe_path = args.Require("probe");
  const face::AnalyzerOptions opt = AnalyzerFromArgs(args);
  const auto calibration =
      verify::LoadCalibration(args.Get("calibration", verify::DefaultCalibrationPath()), opt.embedder);
  const cv::Mat card = LoadNamed(card_path, "document"), probe = LoadNamed(probe_path, "probe");
  const auto layouts = document::LoadLayouts();
  const verify::Verifier verifier(opt, calibration);
  // The MRZ is read (a valid one can decide the type, and so where the portrait is), then wiped.
  document::DocumentReport doc = document::AnalyzeDocument(card, layouts, &verifier.analyzer(), {});
  verify::WipeDocumentText(doc);
  std::string problems;
  for (const auto& p : doc.problems) problems += (problems.empty() ? "" : ", ") + p;
  if (doc.portrait.empty())
    throw Error(ErrorCode::kNoFace, "document image '" + card_path + "': no portrait found" +
                                        (problems.empty() ? "" : " (" + problems + ")"));
  const verify::VerifyResult r = verifier.VerifyPortrait(doc.portrait, probe);
  if (args.Has("json")) {
    nlohmann::json j = DecisionJson(r);
    j["document"] = {{"type", doc.classification.type}, {"problems", doc.problems}};
    j["reference"] = QualityJson(r.reference);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintDecision(r);
    std::printf("document   %s, problems: %s\n", doc.classification.type.c_str(),
                problems.empty() ? "none" : problems.c_str());
    std::printf("probe      %d face(s), quality flags: %s\n", r.probe.faces_found,
                Flags(r.probe.quality.flags).c_str());
  }
  return r.match ? 0 : 1;
}

}  // namespace

int VerifyCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json"});
  if (args.Has("document")) {
    args.AllowOnly({"document", "probe", "json", "embedder", "threads", "calibration"});
    return VerifyDocument(args);
  }
  args.AllowOnly({"reference", "probe", "json", "embedder", "threads", "calibration"});
  const std::string ref_path = args.Require("reference"), probe_path = args.Require("probe");
  const face::AnalyzerOptions opt = AnalyzerFromArgs(args);
  const auto calibration =
      verify::LoadCalibration(args.Get("calibration", verify::DefaultCalibrationPath()), opt.embedder);
  // Decode first: a bad file is reported before models load.
  const cv::Mat ref = LoadNamed(ref_path, "reference"), probe = LoadNamed(probe_path, "probe");
  const verify::Verifier verifier(opt, calibration);
  const verify::VerifyResult r = verifier.Verify(ref, probe);
  if (args.Has("json")) {
    nlohmann::json j = DecisionJson(r);
    j["model_sha256"] = verifier.analyzer().embedder().model().sha256();
    j["reference"] = QualityJson(r.reference);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintDecision(r);
    std::printf("reference  %d face(s), quality flags: %s\n", r.reference.faces_found,
                Flags(r.reference.quality.flags).c_str());
    std::printf("probe      %d face(s), quality flags: %s\n", r.probe.faces_found,
                Flags(r.probe.quality.flags).c_str());
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
  std::vector<const nn::Model*> models = {&analyzer.detector().model(), &analyzer.mesh_model().model(),
                                          &analyzer.embedder().model(), &faceres->model()};
  // The liveness verdict's own models (the ones a receipt names besides the three above).
  const liveness::LivenessVerifier liveness;
  for (const nn::Model* m : liveness.models()) {
    if (std::none_of(models.begin(), models.end(), [&](const nn::Model* k) { return k->name() == m->name(); }))
      models.push_back(m);
  }
  nlohmann::json j = nlohmann::json::array();
  for (const nn::Model* m : models) {
    j.push_back({{"name", m->name()}, {"sha256", m->sha256()}});
    if (!args.Has("json")) std::printf("%-20s %s\n", m->name().c_str(), m->sha256().c_str());
  }
  if (args.Has("json")) std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

}  // namespace idm::cli
