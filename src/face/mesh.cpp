#include "face/mesh.h"

#include <algorithm>
#include <cmath>

namespace idm::face {

cv::Rect2f MeshCropBox(const cv::Rect2f& d, float enlarge) {
  const float cx = d.x + d.width / 2, cy = d.y + d.height / 2;
  const float half = enlarge * std::max(d.width, d.height) / 2;
  const float x1 = std::round(cx - half), y1 = std::round(cy - half);
  const float x2 = std::round(cx + half), y2 = std::round(cy + half);
  return {x1, y1, x2 - x1, y2 - y1};
}

MeshModel::MeshModel(int threads) {
  nn::TfjsLoadOptions opt;
  opt.outputs = {"output_mesh", "output_faceflag"};
  model_ = nn::Model::FromTfjs("facemesh", nn::ModelRoot() + "/human-models/models/facemesh.json", opt, threads);
}

FaceMesh MeshModel::Run(const FloatImage& frame, const cv::Rect2f& crop) const {
  const float H = static_cast<float>(frame.height), W = static_cast<float>(frame.width);
  FloatImage input = CropAndResizeTf(frame, crop.y / H, crop.x / W, (crop.y + crop.height) / H,
                                     (crop.x + crop.width) / W, kInputSize, kInputSize);
  const float zero[3] = {0, 0, 0};
  Normalize(input, zero, 255.f, 0.f);
  auto outs = const_cast<nn::Model&>(*model_).Run({input.data.data()});
  FaceMesh mesh;
  mesh.crop = crop;
  mesh.score = outs[1][0];
  // TF's cropAndResize samples at box * (size - 1): map crop pixels back the same way.
  const float sx = crop.width * (W - 1) / W / (kInputSize - 1), sy = crop.height * (H - 1) / H / (kInputSize - 1);
  const float ox = crop.x * (W - 1) / W, oy = crop.y * (H - 1) / H;
  for (int i = 0; i < 468; ++i) {
    const float* p = &outs[0][3 * i];
    mesh.points[i] = cv::Point3f(ox + p[0] * sx, oy + p[1] * sy, p[2] * sx);
  }
  return mesh;
}

FaceMesh MeshModel::Refine(const FloatImage& frame, const FaceBox& detection) const {
  FaceMesh first = Run(frame, MeshCropBox(detection.box));
  float x1 = 1e9f, y1 = 1e9f, x2 = -1e9f, y2 = -1e9f;
  for (const auto& p : first.points) {
    x1 = std::min(x1, p.x), y1 = std::min(y1, p.y), x2 = std::max(x2, p.x), y2 = std::max(y2, p.y);
  }
  // The mesh spans forehead to chin; x1.25 around it frames the face like the detector crop does.
  FaceMesh second = Run(frame, MeshCropBox(cv::Rect2f(x1, y1, x2 - x1, y2 - y1), 1.25f));
  return second.score >= first.score * 0.9f ? second : first;
}

}  // namespace idm::face
