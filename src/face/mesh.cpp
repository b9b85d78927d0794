#include "face/mesh.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

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

FaceMesh MeshModel::Run(const FloatImage& frame, const cv::Rect2f& crop, float roll_deg) const {
  const float H = static_cast<float>(frame.height), W = static_cast<float>(frame.width);
  FaceMesh mesh;
  mesh.crop = crop;
  mesh.crop_roll_deg = roll_deg;
  // Crop pixel (u, v) -> frame pixel: m * (u, v, 1).
  cv::Matx23f m;
  FloatImage input;
  if (roll_deg == 0.f) {
    input = CropAndResizeTf(frame, crop.y / H, crop.x / W, (crop.y + crop.height) / H, (crop.x + crop.width) / W,
                            kInputSize, kInputSize);
    // TF's cropAndResize samples at box * (size - 1): map crop pixels back the same way.
    const float sx = crop.width * (W - 1) / W / (kInputSize - 1), sy = crop.height * (H - 1) / H / (kInputSize - 1);
    m = cv::Matx23f(sx, 0, crop.x * (W - 1) / W, 0, sy, crop.y * (H - 1) / H);
  } else {
    const float a = roll_deg * static_cast<float>(CV_PI) / 180.f, s = crop.width / kInputSize;
    const float cs = std::cos(a) * s, sn = std::sin(a) * s, h = (kInputSize - 1) / 2.f;
    const cv::Point2f c(crop.x + crop.width / 2, crop.y + crop.height / 2);
    m = cv::Matx23f(cs, -sn, c.x - cs * h + sn * h, sn, cs, c.y - sn * h - cs * h);
    input.height = input.width = kInputSize;
    input.data.assign(static_cast<size_t>(kInputSize) * kInputSize * 3, 0.f);
    const cv::Mat src(frame.height, frame.width, CV_32FC3, const_cast<float*>(frame.data.data()));
    cv::Mat dst(kInputSize, kInputSize, CV_32FC3, input.data.data());
    cv::warpAffine(src, dst, cv::Mat(m), dst.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT);
  }
  const float zero[3] = {0, 0, 0};
  Normalize(input, zero, 255.f, 0.f);
  auto outs = const_cast<nn::Model&>(*model_).Run({input.data.data()});
  mesh.score = outs[1][0];
  const float zscale = std::sqrt(m(0, 0) * m(0, 0) + m(1, 0) * m(1, 0));
  for (int i = 0; i < 468; ++i) {
    const float* p = &outs[0][3 * i];
    mesh.points[i] = cv::Point3f(m(0, 0) * p[0] + m(0, 1) * p[1] + m(0, 2), m(1, 0) * p[0] + m(1, 1) * p[1] + m(1, 2),
                                 p[2] * zscale);
  }
  return mesh;
}

namespace {
// The eye line's angle in degrees; below a few degrees the crop is left upright (Human's exact
// crop), above it is rotated so the model sees a level face.
float RollFrom(cv::Point2f subject_right_eye, cv::Point2f subject_left_eye) {
  const float deg = std::atan2(subject_left_eye.y - subject_right_eye.y, subject_left_eye.x - subject_right_eye.x) * 180.f /
                    static_cast<float>(CV_PI);
  return std::abs(deg) < 8.f ? 0.f : deg;
}
}  // namespace

FaceMesh MeshModel::Refine(const FloatImage& frame, const FaceBox& detection) const {
  FaceMesh first = Run(frame, MeshCropBox(detection.box), RollFrom(detection.keypoints[0], detection.keypoints[1]));
  float x1 = 1e9f, y1 = 1e9f, x2 = -1e9f, y2 = -1e9f;
  for (const auto& p : first.points) {
    x1 = std::min(x1, p.x), y1 = std::min(y1, p.y), x2 = std::max(x2, p.x), y2 = std::max(y2, p.y);
  }
  // The mesh spans forehead to chin; x1.25 around it frames the face like the detector crop does.
  auto eye = [&](int a, int b) {
    return cv::Point2f((first.points[a].x + first.points[b].x) / 2, (first.points[a].y + first.points[b].y) / 2);
  };
  // The box of a rotated mesh is larger than the face; its centre is still the face's centre.
  const float roll = RollFrom(eye(33, 133), eye(362, 263));
  const float side = roll == 0.f ? std::max(x2 - x1, y2 - y1)
                                 : std::hypot(first.points[10].x - first.points[152].x, first.points[10].y - first.points[152].y);
  const cv::Point2f centre((x1 + x2) / 2, (y1 + y2) / 2);
  FaceMesh second = Run(frame, MeshCropBox(cv::Rect2f(centre.x - side / 2, centre.y - side / 2, side, side), 1.25f), roll);
  return second.score >= first.score * 0.9f ? second : first;
}

}  // namespace idm::face
