#include "face/landmarks68.h"

#include <algorithm>
#include <cmath>

#include "face/tf_image_ops.h"
#include "nn/faceapi_nets.h"
#include "nn/tfjs_weights.h"

namespace idm::face {

Landmark68Model::Landmark68Model(int threads) {
  const std::string manifest = nn::ModelRoot() + "/face-api/model/face_landmark_68_model-weights_manifest.json";
  model_ = nn::Model::FromWeightManifest("faceapi-landmark68", manifest, nn::BuildFaceLandmark68Net, threads);
}

cv::Rect2f TightBoxFromMesh(const FaceMesh& mesh) {
  float x1 = 1e9f, y1 = 1e9f, x2 = -1e9f, y2 = -1e9f;
  for (const auto& p : mesh.points) {
    x1 = std::min(x1, p.x), y1 = std::min(y1, p.y), x2 = std::max(x2, p.x), y2 = std::max(y2, p.y);
  }
  // On the golden LFW frames face-api's SSD box starts ~10% of the mesh height above the mesh
  // and is ~10% taller; width matches.
  const float h = y2 - y1;
  return {x1, y1 - 0.1f * h, x2 - x1, 1.1f * h};
}

Landmarks68 Landmark68Model::Run(const cv::Mat& rgb, const cv::Rect2f& box) const {
  // Integer slice, clipped to the image (face-api's Box.clipAtImageBorders + floor).
  const int x = std::max(0, static_cast<int>(std::floor(box.x)));
  const int y = std::max(0, static_cast<int>(std::floor(box.y)));
  const int w = std::min(rgb.cols - x, static_cast<int>(std::floor(box.width)));
  const int h = std::min(rgb.rows - y, static_cast<int>(std::floor(box.height)));
  Landmarks68 out{};
  if (w < 4 || h < 4) return out;
  const cv::Mat crop = rgb(cv::Rect(x, y, w, h));
  // Centre-pad to a square: round(d/2) after, the rest before (JS Math.round).
  const int side = std::max(w, h), d = side - std::min(w, h);
  const int after = static_cast<int>(std::floor(d / 2.0 + 0.5)), before = d - after;
  const int pad_x = w < h ? before : 0, pad_y = h < w ? before : 0;
  FloatImage sq;
  sq.width = sq.height = side;
  sq.data.assign(static_cast<size_t>(side) * side * 3, 0.f);
  for (int r = 0; r < h; ++r) {
    const uint8_t* src = crop.ptr<uint8_t>(r);
    float* dst = sq.at(r + pad_y, pad_x);
    for (int i = 0; i < w * 3; ++i) dst[i] = src[i];
  }
  FloatImage input = ResizeBilinearTf(sq, kInputSize, kInputSize);
  const float mean[3] = {122.782f, 117.001f, 104.298f};
  Normalize(input, mean, 255.f, 0.f);
  auto outs = const_cast<nn::Model&>(*model_).Run({input.data.data()});
  for (int i = 0; i < 68; ++i) {
    out[i] = cv::Point2f(outs[0][2 * i] * side - pad_x + x, outs[0][2 * i + 1] * side - pad_y + y);
  }
  return out;
}

}  // namespace idm::face
