// 1:1 verification: two images -> match / no match at a threshold calibrated for a stated
// false-match rate.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "face/analyzer.h"

namespace idm::verify {

// The decision threshold for one embedder, fitted on LFW impostor scores for a target FMR
// (written by `idmatch eval --calibrate`, read from models/calibration.json).
struct Calibration {
  std::string embedder = "resnet128";
  double fmr_target = 1e-3;
  double threshold = 0.0;
  std::string source;         // what it was fitted on, e.g. "LFW View-2, 3000 impostor pairs"
  std::string model_sha256;   // the embedder version it holds for
};

std::string DefaultCalibrationPath();
// Reads the entry for `embedder` (throws kNotFound / kInvalidArgument with the reason).
Calibration LoadCalibration(const std::string& path, const std::string& embedder);
void SaveCalibration(const std::string& path, const Calibration& c);  // adds or replaces the entry

struct ImageReport {
  int faces_found = 0;
  cv::Rect2f face_box;
  face::FaceQuality quality;
  double detect_ms = 0, landmark_ms = 0, embed_ms = 0;
};

struct VerifyResult {
  bool match = false;
  double score = 0;  // cosine similarity
  Calibration calibration;
  ImageReport reference, probe;
  double total_ms = 0;
};

class Verifier {
 public:
  Verifier(const face::AnalyzerOptions& options, const Calibration& calibration);
  // Analyses both images (in parallel) and decides. Throws idm::Error (e.g. kNoFace naming which
  // image) on failure. The embeddings are wiped before returning.
  VerifyResult Verify(const cv::Mat& reference_rgb, const cv::Mat& probe_rgb) const;
  // The same with a card's portrait crop (DocumentReport::portrait) as the reference, analysed as
  // document::AnalyzePortrait does.
  VerifyResult VerifyPortrait(const cv::Mat& portrait_crop, const cv::Mat& probe_rgb) const;
  const face::FaceAnalyzer& analyzer() const { return reference_; }

 private:
  Calibration calibration_;
  face::FaceAnalyzer reference_, probe_;  // one per image so the two run concurrently
};

}  // namespace idm::verify
