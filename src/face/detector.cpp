#include "face/detector.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace idm::face {

namespace {

// Human's anchor layout for a 256 input: a 16x16 grid with 2 anchors per cell (stride 16), then
// an 8x8 grid with 6 per cell (stride 32); anchor centres in input pixels.
std::vector<cv::Point2f> MakeAnchors(int input) {
  std::vector<cv::Point2f> anchors;
  const int strides[2] = {input / 16, input / 8};
  const int per_cell[2] = {2, 6};
  for (int s = 0; s < 2; ++s) {
    const int grid = (input + strides[s] - 1) / strides[s];
    for (int y = 0; y < grid; ++y)
      for (int x = 0; x < grid; ++x)
        for (int k = 0; k < per_cell[s]; ++k) anchors.emplace_back(strides[s] * (x + 0.5f), strides[s] * (y + 0.5f));
  }
  return anchors;
}

float Sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }

}  // namespace

float IoU(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0.f ? inter / uni : 0.f;
}

std::vector<FaceBox> WeightedNms(std::vector<FaceBox> boxes, float iou, int max_faces) {
  std::sort(boxes.begin(), boxes.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
  std::vector<FaceBox> kept;
  std::vector<bool> used(boxes.size(), false);
  for (size_t i = 0; i < boxes.size() && static_cast<int>(kept.size()) < max_faces; ++i) {
    if (used[i]) continue;
    double wsum = 0, x = 0, y = 0, w = 0, h = 0;
    std::array<cv::Point2d, 6> kp{};
    for (size_t j = i; j < boxes.size(); ++j) {
      if (used[j] || IoU(boxes[i].box, boxes[j].box) <= iou) continue;
      used[j] = true;
      const double s = boxes[j].score;
      wsum += s;
      x += s * boxes[j].box.x;
      y += s * boxes[j].box.y;
      w += s * boxes[j].box.width;
      h += s * boxes[j].box.height;
      for (size_t k = 0; k < kp.size(); ++k) kp[k] += s * cv::Point2d(boxes[j].keypoints[k]);
    }
    FaceBox f = boxes[i];
    f.box = cv::Rect2f(static_cast<float>(x / wsum), static_cast<float>(y / wsum), static_cast<float>(w / wsum),
                       static_cast<float>(h / wsum));
    for (size_t k = 0; k < kp.size(); ++k) f.keypoints[k] = cv::Point2f(kp[k] / wsum);
    kept.push_back(f);
  }
  return kept;
}

FaceDetector::FaceDetector(int threads) : anchors_(MakeAnchors(kInputSize)) {
  nn::TfjsLoadOptions opt;
  opt.outputs = {"Identity_3", "Identity", "Identity_1", "Identity_2"};
  model_ = nn::Model::FromTfjs("blazeface", nn::ModelRoot() + "/human-models/models/blazeface.json", opt, threads);
}

std::vector<FaceBox> FaceDetector::Detect(const FloatImage& frame, const DetectorOptions& options) const {
  if (frame.height < 8 || frame.width < 8) return {};
  // Letterbox to a square (zero = black after normalisation is -1, as padding pixels are 0).
  const int side = std::max(frame.height, frame.width);
  const FloatImage* square = &frame;
  FloatImage padded;
  if (frame.height != frame.width) {
    padded.height = padded.width = side;
    padded.data.assign(static_cast<size_t>(side) * side * 3, 0.f);
    for (int y = 0; y < frame.height; ++y) std::copy(frame.at(y, 0), frame.at(y, 0) + frame.width * 3, padded.at(y, 0));
    square = &padded;
  }
  FloatImage input = ResizeBilinearTf(*square, kInputSize, kInputSize);
  const float zero[3] = {0, 0, 0};
  Normalize(input, zero, 127.5f, 1.f);
  auto outs = const_cast<nn::Model&>(*model_).Run({input.data.data()});
  // outs: [0] 384x16 regressors, [1] 512 logits, [2] 384 logits, [3] 512x16 regressors.
  const float scale = static_cast<float>(side) / kInputSize;
  std::vector<FaceBox> candidates;
  for (size_t i = 0; i < anchors_.size(); ++i) {
    const bool fine = i < 512;
    const size_t row = fine ? i : i - 512;
    const float logit = fine ? outs[1][row] : outs[2][row];
    const float score = Sigmoid(logit);
    if (score < options.min_score) continue;
    const float* r = fine ? &outs[3][row * 16] : &outs[0][row * 16];
    const cv::Point2f a = anchors_[i];
    const float cx = r[0] + a.x, cy = r[1] + a.y, w = r[2], h = r[3];
    FaceBox f;
    f.score = score;
    f.box = cv::Rect2f((cx - w / 2) * scale, (cy - h / 2) * scale, w * scale, h * scale);
    for (int k = 0; k < 6; ++k) f.keypoints[k] = cv::Point2f((r[4 + 2 * k] + a.x) * scale, (r[5 + 2 * k] + a.y) * scale);
    candidates.push_back(f);
  }
  return WeightedNms(std::move(candidates), options.nms_iou, options.max_faces);
}

}  // namespace idm::face
