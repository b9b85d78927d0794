// One image -> the face to compare: detect every face, pick one (the largest, or the central one),
// landmark it, judge its quality and embed it. This is the single path from pixels to an embedding.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "face/detector.h"
#include "face/embedder.h"
#include "face/mesh.h"
#include "face/quality.h"

namespace idm::face {

// Which face to use when there are several. A live capture wants the largest; LFW's protocol means
// the face its images are centred on (a larger one can be in the background), and so does a card
// portrait's crop (document::AnalyzePortrait).
enum class FacePick { kLargest, kCentral };

struct AnalyzerOptions {
  std::string embedder = "resnet128";
  FacePick pick = FacePick::kLargest;
  int threads = 1;
  DetectorOptions detector;
  QualityThresholds quality;
};

struct FaceAnalysis {
  int faces_found = 0;        // every face the detector reported
  FaceBox detection;          // the one picked (AnalyzerOptions::pick)
  FaceMesh mesh;
  FaceQuality quality;        // flags include "multiple_faces" when faces_found > 1
  Embedding embedding;        // unit length
  double detect_ms = 0, landmark_ms = 0, embed_ms = 0;
};

class FaceAnalyzer {
 public:
  explicit FaceAnalyzer(const AnalyzerOptions& options = {});

  // Throws Error(kNoFace) when no face is found. The face is the one `options().pick` says, or
  // `pick`.
  FaceAnalysis Analyze(const cv::Mat& rgb) const { return Analyze(rgb, options_.pick); }
  FaceAnalysis Analyze(const cv::Mat& rgb, FacePick pick) const;
  // Every face in the image, largest first (for counting and multi-face handling).
  std::vector<FaceBox> DetectAll(const FloatImage& frame) const;

  const Embedder& embedder() const { return *embedder_; }
  const FaceDetector& detector() const { return detector_; }
  const MeshModel& mesh_model() const { return mesh_; }
  const AnalyzerOptions& options() const { return options_; }

 private:
  AnalyzerOptions options_;
  FaceDetector detector_;
  MeshModel mesh_;
  std::unique_ptr<Embedder> embedder_;
};

}  // namespace idm::face
