// FaceMesh: 468 3-D landmarks from a face crop (MediaPipe topology, via Human's graph model).
#pragma once

#include <array>
#include <memory>

#include <opencv2/core.hpp>

#include "face/detector.h"

namespace idm::face {

struct FaceMesh {
  std::array<cv::Point3f, 468> points;  // x, y in frame pixels; z relative depth in the same scale
  float score = 0.f;                    // the model's face-presence probability
  cv::Rect2f crop;                      // the square crop the mesh was computed on (frame pixels)
  float crop_roll_deg = 0.f;            // and its rotation
};

// Human's face crop for a detection: the box enlarged x1.4 about its centre, squared to the
// larger side, corners rounded to whole pixels.
cv::Rect2f MeshCropBox(const cv::Rect2f& detection, float enlarge = 1.4f);

class MeshModel {
 public:
  static constexpr int kInputSize = 192;
  explicit MeshModel(int threads = 1);

  // Landmarks for the face in `crop` (a square box in frame pixels, e.g. MeshCropBox(...)).
  // `roll_deg` rotates the crop about its centre first so the eyes come out level, as the model
  // expects (it under-reports a tilted head otherwise); 0 reproduces Human's crop exactly.
  FaceMesh Run(const FloatImage& frame, const cv::Rect2f& crop, float roll_deg = 0.f) const;
  // Detection -> mesh, then a second pass on a crop re-centred on the first mesh, which
  // steadies the landmarks when the detector box is off-centre.
  FaceMesh Refine(const FloatImage& frame, const FaceBox& detection) const;
  const nn::Model& model() const { return *model_; }

 private:
  std::unique_ptr<nn::Model> model_;
};

}  // namespace idm::face
