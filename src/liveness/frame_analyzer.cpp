#include "liveness/frame_analyzer.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "face/align.h"
#include "face/quality.h"
#include "face/tf_image_ops.h"

namespace idm::liveness {

namespace {
float Dist2(const cv::Point3f& a, const cv::Point3f& b) { return std::hypot(a.x - b.x, a.y - b.y); }
float Dist(const cv::Point2f& a, const cv::Point2f& b) { return std::hypot(a.x - b.x, a.y - b.y); }
constexpr int kIrisInput = 64;
}  // namespace

float LidOpening(const std::array<cv::Point2f, 16>& lid) {
  float gap = 0;
  for (int k = 1; k <= 5; ++k) gap += Dist(lid[static_cast<size_t>(9 + k)], lid[static_cast<size_t>(1 + k)]);
  return gap / 5.f / std::max(Dist(lid[0], lid[8]), 1e-3f);
}

cv::Rect2f MeshBounds(const face::FaceMesh& mesh) {
  float x1 = 1e9f, y1 = 1e9f, x2 = -1e9f, y2 = -1e9f;
  for (const auto& p : mesh.points) {
    x1 = std::min(x1, p.x), y1 = std::min(y1, p.y), x2 = std::max(x2, p.x), y2 = std::max(y2, p.y);
  }
  return {x1, y1, x2 - x1, y2 - y1};
}

void MeasureGeometry(FrameObservation& o) {
  const auto& m = o.mesh;
  face::HeadPose(m, &o.yaw_deg, &o.pitch_deg, &o.roll_deg);
  face::EyeOpenness(m, &o.ear_left, &o.ear_right);
  const cv::Point3f re = (m.points[33] + m.points[133]) * 0.5f, le = (m.points[362] + m.points[263]) * 0.5f;
  o.eye_distance_px = Dist2(re, le);
  o.face_height_px = Dist2(m.points[10], m.points[152]);
}

FrameAnalyzer::FrameAnalyzer(const FrameAnalyzerOptions& options)
    : options_(options),
      own_detector_(std::make_unique<face::FaceDetector>(options.threads)),
      own_mesh_(std::make_unique<face::MeshModel>(options.threads)),
      detector_(own_detector_.get()),
      mesh_(own_mesh_.get()) {
  LoadIris();
}

FrameAnalyzer::FrameAnalyzer(const FrameAnalyzerOptions& options, const face::FaceDetector& share_detector,
                             const face::MeshModel& share_mesh)
    : options_(options), detector_(&share_detector), mesh_(&share_mesh) {
  LoadIris();
}

void FrameAnalyzer::LoadIris() {
  if (options_.iris) {
    nn::TfjsLoadOptions opt;
    opt.batch = 2;  // both eyes in one run, as Human does
    iris_ = nn::Model::FromTfjs("iris", nn::ModelRoot() + "/human-models/models/iris.json", opt, options_.threads);
  }
}

// Human's iris crops (human/src/face/iris.ts): per eye, the square around the two eye corners,
// x2.3 their distance, at 64 px, [0, 1]; batch 0 the left eye mirrored, batch 1 the right eye.
// Unlike Human the crop is rotated with the eye-corner line (as MediaPipe does), so a rolled head
// still gives level eyes.
void FrameAnalyzer::MeasureLids(const cv::Mat& rgb, FrameObservation& o) const {
  if (!iris_) return;
  const auto& m = o.mesh;
  auto p2 = [&](int i) { return cv::Point2f(m.points[i].x, m.points[i].y); };
  struct Eye {
    cv::Point2f a, b;  // image-left and image-right corner
    bool mirror;
    cv::Matx23f map;   // crop pixel -> frame pixel
  } eyes[2] = {{p2(362), p2(263), true, {}}, {p2(33), p2(133), false, {}}};
  std::vector<float> input(static_cast<size_t>(2 * kIrisInput * kIrisInput * 3));
  for (int e = 0; e < 2; ++e) {
    Eye& eye = eyes[e];
    const cv::Point2f c = (eye.a + eye.b) * 0.5f, d = eye.b - eye.a;
    const float len = std::max(Dist(eye.a, eye.b), 1.f), k = 2.3f * len / kIrisInput;
    const float cs = d.x / len * k, sn = d.y / len * k, sx = eye.mirror ? -1.f : 1.f, h = (kIrisInput - 1) / 2.f;
    // frame = c + R * (sx * (u - h), v - h) * k
    eye.map = cv::Matx23f(sx * cs, -sn, c.x - sx * cs * h + sn * h, sx * sn, cs, c.y - sx * sn * h - cs * h);
    cv::Mat crop;
    cv::warpAffine(rgb, crop, cv::Mat(eye.map), cv::Size(kIrisInput, kIrisInput), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_CONSTANT);
    float* dst = input.data() + static_cast<size_t>(e) * kIrisInput * kIrisInput * 3;
    for (int y = 0; y < kIrisInput; ++y) {
      const uint8_t* row = crop.ptr<uint8_t>(y);
      for (int x = 0; x < kIrisInput * 3; ++x) *dst++ = row[x] / 255.f;
    }
  }
  const auto outs = iris_->Run({input.data()});
  if (outs.empty() || outs[0].size() < 2 * 228) return;
  for (int e = 0; e < 2; ++e) {
    auto& lid = e == 0 ? o.lid_left : o.lid_right;
    const float* p = outs[0].data() + static_cast<size_t>(e) * 228;
    const cv::Matx23f& M = eyes[e].map;
    for (int i = 0; i < 16; ++i) {
      const float u = p[3 * i], v = p[3 * i + 1];
      lid[static_cast<size_t>(i)] = cv::Point2f(M(0, 0) * u + M(0, 1) * v + M(0, 2), M(1, 0) * u + M(1, 1) * v + M(1, 2));
    }
  }
  o.lids = true;
  o.lid_open_left = LidOpening(o.lid_left);
  o.lid_open_right = LidOpening(o.lid_right);
}

void FrameAnalyzer::Reset() {
  prev_.reset();
  prev_thumb_.release();
  prev_chip_.release();
  since_detect_ = 0;
}

std::vector<face::FaceBox> FrameAnalyzer::Detect(const face::FloatImage& frame) const {
  std::vector<face::FaceBox> faces = detector_->Detect(frame);
  if (faces.empty()) {
    // A face filling the frame is too large for the anchors: retry with a border (as FaceAnalyzer).
    const int border = std::max(frame.width, frame.height) / 2;
    face::FloatImage padded;
    padded.width = frame.width + 2 * border;
    padded.height = frame.height + 2 * border;
    padded.data.assign(static_cast<size_t>(padded.width) * padded.height * 3, 0.f);
    for (int y = 0; y < frame.height; ++y) std::copy(frame.at(y, 0), frame.at(y, 0) + frame.width * 3, padded.at(y + border, border));
    faces = detector_->Detect(padded);
    for (auto& f : faces) {
      f.box.x -= border;
      f.box.y -= border;
      for (auto& k : f.keypoints) k -= cv::Point2f(static_cast<float>(border), static_cast<float>(border));
    }
  }
  std::sort(faces.begin(), faces.end(), [](const auto& a, const auto& b) { return a.box.area() > b.box.area(); });
  return faces;
}

FrameObservation FrameAnalyzer::Analyze(const cv::Mat& rgb, int64_t t_ms) {
  FrameObservation o;
  o.t_ms = t_ms;
  {
    cv::Mat grey, thumb;
    cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
    cv::resize(grey, thumb, cv::Size(32, 24), 0, 0, cv::INTER_AREA);
    if (!prev_thumb_.empty()) o.frame_change = static_cast<float>(cv::norm(thumb, prev_thumb_, cv::NORM_L1) / thumb.total());
    prev_thumb_ = thumb;
  }
  const face::FloatImage frame = face::ToFloat(rgb);
  bool tracked = false;
  if (prev_) {
    const face::FaceMesh m = mesh_->Run(frame, face::MeshCropBox(MeshBounds(*prev_), 1.25f));
    if (m.score >= options_.min_mesh_score) {
      o.mesh = m;
      tracked = true;
      // Every `redetect_every` frames the detector also runs, only to count faces: re-cropping a
      // tracked face from the detector box would make the landmarks (and the pose) jump.
      if (options_.redetect_every > 0 && ++since_detect_ >= options_.redetect_every) {
        o.detector_ran = true;
        o.faces_found = static_cast<int>(Detect(frame).size());
        since_detect_ = 0;
      }
    }
  }
  if (!tracked) {
    prev_chip_.release();
    const auto faces = Detect(frame);
    o.detector_ran = true;
    o.faces_found = static_cast<int>(faces.size());
    since_detect_ = 0;
    if (faces.empty()) {
      prev_.reset();
      return o;
    }
    o.redetected = !prev_.has_value();
    // Keep following the tracked face if it is still there; else take the largest.
    size_t pick = 0;
    if (prev_) {
      const cv::Rect2f pb = MeshBounds(*prev_);
      float best = -1;
      for (size_t i = 0; i < faces.size(); ++i) {
        const float iou = face::IoU(faces[i].box, pb);
        if (iou > best) best = iou, pick = i;
      }
    }
    o.mesh = mesh_->Refine(frame, faces[pick]);
    if (o.mesh.score < options_.min_mesh_score) {
      prev_.reset();
      return o;
    }
  }
  o.face = true;
  o.box = MeshBounds(o.mesh);
  {
    // The face aligned by its own landmarks (similarity), grey, zero mean / unit variance.
    const cv::Mat chip = face::WarpChip(rgb, face::DlibChipTransform(face::MeshToLandmarks68(o.mesh), 32, 0.1), 32);
    cv::Mat grey, f;
    cv::cvtColor(chip, grey, cv::COLOR_RGB2GRAY);
    grey.convertTo(f, CV_32F);
    cv::Scalar mean, sd;
    cv::meanStdDev(f, mean, sd);
    f = (f - mean[0]) / std::max(sd[0], 1.0);
    if (!prev_chip_.empty()) o.face_change = static_cast<float>(cv::norm(f, prev_chip_, cv::NORM_L1) / static_cast<double>(f.total()));
    prev_chip_ = f;
  }
  prev_ = o.mesh;
  MeasureGeometry(o);
  MeasureLids(rgb, o);
  // Sharpness on a 64 px grey crop of the face box.
  const cv::Rect roi = cv::Rect(o.box) & cv::Rect(0, 0, rgb.cols, rgb.rows);
  if (roi.area() > 16) {
    cv::Mat grey, small, lap;
    cv::cvtColor(rgb(roi), grey, cv::COLOR_RGB2GRAY);
    cv::resize(grey, small, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
    cv::Laplacian(small, lap, CV_32F);
    cv::Scalar mean, sd;
    cv::meanStdDev(lap, mean, sd);
    o.sharpness = static_cast<float>(sd[0] * sd[0]);
  }
  return o;
}

}  // namespace idm::liveness
