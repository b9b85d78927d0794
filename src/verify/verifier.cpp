#include "verify/verifier.h"

#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "core/error.h"
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
}  // namespace

VerifyResult Verifier::Verify(const cv::Mat& reference_rgb, const cv::Mat& probe_rgb,
                              std::optional<face::FacePick> reference_pick) const {
  const auto t0 = std::chrono::steady_clock::now();
  auto analyse = [](const face::FaceAnalyzer& an, const cv::Mat& img, face::FacePick pick, const char* which) {
    try {
      return an.Analyze(img, pick);
    } catch (const Error& e) {
      throw Error(e.code(), std::string(which) + " image: " + e.what());
    }
  };
  auto ref_future = std::async(std::launch::async, analyse, std::cref(reference_), std::cref(reference_rgb),
                               reference_pick.value_or(reference_.options().pick), "reference");
  face::FaceAnalysis probe = analyse(probe_, probe_rgb, probe_.options().pick, "probe");
  face::FaceAnalysis ref = ref_future.get();
  VerifyResult r;
  r.score = face::CosineSimilarity(ref.embedding, probe.embedding);
  r.calibration = calibration_;
  r.match = r.score >= calibration_.threshold;
  r.reference = Report(ref);
  r.probe = Report(probe);
  r.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;  // ref/probe (embeddings, meshes) are wiped as they go out of scope
}

}  // namespace idm::verify
