// BlazeFace (Human's 256x256 PINTO conversion): anchor decoding and weighted NMS.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include <opencv2/core.hpp>

#include "face/tf_image_ops.h"
#include "nn/model.h"

namespace idm::face {

struct FaceBox {
  cv::Rect2f box;                       // frame pixels
  float score = 0.f;                    // sigmoid of the detector logit
  std::array<cv::Point2f, 6> keypoints; // right eye, left eye, nose, mouth, right ear, left ear (subject's)
};

struct DetectorOptions {
  float min_score = 0.5f;
  float nms_iou = 0.3f;  // boxes overlapping more than this are merged (weighted by score)
  int max_faces = 16;
};

class FaceDetector {
 public:
  static constexpr int kInputSize = 256;
  explicit FaceDetector(int threads = 1);

  // Every face found, highest score first. The frame is letterboxed to a square first (Human
  // stretches it, which squashes faces in portrait or landscape photos).
  std::vector<FaceBox> Detect(const FloatImage& frame, const DetectorOptions& options = {}) const;
  const nn::Model& model() const { return *model_; }

 private:
  std::unique_ptr<nn::Model> model_;
  std::vector<cv::Point2f> anchors_;
};

// Intersection over union of two boxes.
float IoU(const cv::Rect2f& a, const cv::Rect2f& b);

// MediaPipe-style weighted NMS: each kept face is the score-weighted mean of the boxes it absorbs.
std::vector<FaceBox> WeightedNms(std::vector<FaceBox> boxes, float iou, int max_faces);

}  // namespace idm::face
