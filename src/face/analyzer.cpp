#include "face/analyzer.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace idm::face {

namespace {
double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

FaceAnalyzer::FaceAnalyzer(const AnalyzerOptions& options)
    : options_(options),
      detector_(options.threads),
      mesh_(options.threads),
      embedder_(MakeEmbedder(options.embedder, options.threads)) {}

std::vector<FaceBox> FaceAnalyzer::DetectAll(const FloatImage& frame) const {
  std::vector<FaceBox> faces = detector_.Detect(frame, options_.detector);
  if (faces.empty()) {
    // A face that fills the whole picture (a tight crop, a card portrait) is too large for the
    // detector's anchors: look again with a border around the image.
    const int border = std::max(frame.width, frame.height) / 2;
    FloatImage padded;
    padded.width = frame.width + 2 * border;
    padded.height = frame.height + 2 * border;
    padded.data.assign(static_cast<size_t>(padded.width) * padded.height * 3, 0.f);
    for (int y = 0; y < frame.height; ++y) std::copy(frame.at(y, 0), frame.at(y, 0) + frame.width * 3, padded.at(y + border, border));
    faces = detector_.Detect(padded, options_.detector);
    for (FaceBox& f : faces) {
      f.box.x -= border;
      f.box.y -= border;
      for (auto& k : f.keypoints) k -= cv::Point2f(static_cast<float>(border), static_cast<float>(border));
    }
  }
  std::sort(faces.begin(), faces.end(), [](const FaceBox& a, const FaceBox& b) { return a.box.area() > b.box.area(); });
  return faces;
}

FaceAnalysis FaceAnalyzer::Analyze(const cv::Mat& rgb, FacePick pick) const {
  FaceAnalysis r;
  auto t0 = std::chrono::steady_clock::now();
  const FloatImage frame = ToFloat(rgb);
  const std::vector<FaceBox> faces = DetectAll(frame);
  r.detect_ms = MsSince(t0);
  if (faces.empty()) throw Error(ErrorCode::kNoFace, "no face found in the image");
  r.faces_found = static_cast<int>(faces.size());
  r.detection = faces.front();
  if (pick == FacePick::kCentral) {
    const cv::Point2f c(rgb.cols / 2.f, rgb.rows / 2.f);
    auto dist = [&](const FaceBox& f) { return cv::norm(c - (f.box.tl() + f.box.br()) * 0.5f); };
    for (const FaceBox& f : faces) {
      if (dist(f) < dist(r.detection)) r.detection = f;
    }
  }

  t0 = std::chrono::steady_clock::now();
  r.mesh = mesh_.Refine(frame, r.detection);
  r.quality = MeasureQuality(rgb, r.detection.box, r.mesh, options_.quality);
  if (r.faces_found > 1) r.quality.flags.push_back("multiple_faces");
  r.landmark_ms = MsSince(t0);

  t0 = std::chrono::steady_clock::now();
  r.embedding = embedder_->Embed(rgb, frame, r.mesh);
  r.embed_ms = MsSince(t0);
  return r;
}

}  // namespace idm::face
