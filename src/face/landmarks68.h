// face-api's 68-point landmark net: iBUG 300-W points, the layout dlib's alignment is defined on.
#pragma once

#include <memory>

#include <opencv2/core.hpp>

#include "face/align.h"
#include "nn/model.h"

namespace idm::face {

class Landmark68Model {
 public:
  static constexpr int kInputSize = 112;
  explicit Landmark68Model(int threads = 1);

  // Landmarks for the face inside `box` (frame pixels; a tight face box, like face-api's SSD box).
  // The crop is face-api's: integer slice, zero-padded to a centred square, 112 px.
  Landmarks68 Run(const cv::Mat& rgb, const cv::Rect2f& box) const;
  const nn::Model& model() const { return *model_; }

 private:
  std::unique_ptr<nn::Model> model_;
};

// A tight face box from the mesh, framed like face-api's SSD detections (brows to chin).
cv::Rect2f TightBoxFromMesh(const FaceMesh& mesh);

}  // namespace idm::face
