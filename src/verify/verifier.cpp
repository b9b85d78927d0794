#include "verify/verifier.h"

#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "document/document.h"
#include "nn/model.h"

namespace idm::verify {

std::string DefaultCalibrationPath() {
  const char* env = std::getenv("IDMATCH_CALIBRATION");
  return env != nullptr && *env != '\0' ? env : IDMATCH_CALIBRATION_FILE;
}

Calibration LoadCalibration(const std::string& path, const std::string& embedder) {
  std::ifstream f(path);
  if (!f) throw Error(ErrorCode::kNotFound, "no calibration file at '" + path + "' (run: idmatch eval --calibrate)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
    const auto& e = j.at("embedders").at(embedder);
    Calibration c;
    c.embedder = embedder;
    c.fmr_target = e.at("fmr_target").get<double>();
    c.threshold = e.at("threshold").get<double>();
    c.source = e.value("source", "");
    c.model_sha256 = e.value("model_sha256", "");
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, "calibration '" + path + "' has no usable entry for '" + embedder + "': " + e.what());
  }
}

void SaveCalibration(const std::string& path, const Calibration& c) {
  nlohmann::json j = nlohmann::json::object();
  if (std::ifstream f(path); f) {
    try { j = nlohmann::json::parse(f); } catch (const nlohmann::json::exception&) { j = nlohmann::json::object(); }
  }
  j["embedders"][c.embedder] = {{"fmr_target", c.fmr_target}, {"threshold", c.threshold}, {"source", c.source},
                                {"model_sha256", c.model_sha256}};
  std::ofstream(path) << j.dump(2) << "\n";
}

Verifier::Verifier(const face::AnalyzerOptions& options, const Calibration& calibration)
    : calibration_(calibration), reference_(options), probe_(options) {
  if (calibration.embedder != options.embedder) {
    throw Error(ErrorCode::kInvalidArgument, "calibration is for '" + calibration.embedder + "', embedder is '" + options.embedder + "'");
  }
}

namespace {
ImageReport Report(const face::FaceAnalysis& a) {
  ImageReport r;
  r.faces_found = a.faces_found;
  r.face_box = a.detection.box;
  r.quality = a.quality;
  r.detect_ms = a.detect_ms;
  r.landmark_ms = a.landmark_ms;
  r.embed_ms = a.embed_ms;
  return r;
}

// The reference analysed by `analyse_reference` on another thread while the probe is analysed
// here; an error names the image it is about.
template <class AnalyseReference>
VerifyResult Decide(const Calibration& calibration, AnalyseReference analyse_reference,
                    const face::FaceAnalyzer& probe_analyzer, const cv::Mat& probe_rgb) {
  const auto t0 = std::chrono::steady_clock::now();
  auto named = [](const char* which, auto analyse) {
    try {
      return analyse();
    } catch (const Error& e) {
      throw Error(e.code(), std::string(which) + " image: " + e.what());
    }
  };
  auto ref_future = std::async(std::launch::async, [&] { return named("reference", analyse_reference); });
  face::FaceAnalysis probe = named("probe", [&] { return probe_analyzer.Analyze(probe_rgb); });
  face::FaceAnalysis ref = ref_future.get();
  VerifyResult r;
  r.score = face::CosineSimilarity(ref.embedding, probe.embedding);
  r.calibration = calibration;
  r.match = r.score >= calibration.threshold;
  r.reference = Report(ref);
  r.probe = Report(probe);
  r.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;  // ref/probe (embeddings, meshes) are wiped as they go out of scope
}
}  // namespace

VerifyResult Verifier::Verify(const cv::Mat& reference_rgb, const cv::Mat& probe_rgb) const {
  return Decide(
      calibration_, [&] { return reference_.Analyze(reference_rgb); }, probe_, probe_rgb);
}

VerifyResult Verifier::VerifyPortrait(const cv::Mat& portrait_crop, const cv::Mat& probe_rgb) const {
  return Decide(
      calibration_, [&] { return document::AnalyzePortrait(reference_, portrait_crop); }, probe_, probe_rgb);
}

}  // namespace idm::verify
