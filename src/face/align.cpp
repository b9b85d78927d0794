#include "face/align.h"

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace idm::face {

cv::Matx23d EstimateSimilarity(const std::vector<cv::Point2f>& from, const std::vector<cv::Point2f>& to) {
  if (from.size() != to.size() || from.size() < 2) throw Error(ErrorCode::kInvalidArgument, "similarity needs >= 2 point pairs");
  const double n = static_cast<double>(from.size());
  cv::Point2d mf(0, 0), mt(0, 0);
  for (size_t i = 0; i < from.size(); ++i) mf += cv::Point2d(from[i]), mt += cv::Point2d(to[i]);
  mf /= n;
  mt /= n;
  // With complex numbers z = x + iy the optimal similarity is  t_c = a * f_c  with
  // a = sum(conj(f_c) t_c) / sum(|f_c|^2): a encodes scale and rotation.
  double re = 0, im = 0, norm = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    const cv::Point2d f = cv::Point2d(from[i]) - mf, t = cv::Point2d(to[i]) - mt;
    re += f.x * t.x + f.y * t.y;
    im += f.x * t.y - f.y * t.x;
    norm += f.x * f.x + f.y * f.y;
  }
  if (norm <= 1e-12) throw Error(ErrorCode::kInvalidArgument, "degenerate landmarks (all points coincide)");
  const double a = re / norm, b = im / norm;
  return {a, -b, mt.x - (a * mf.x - b * mf.y), b, a, mt.y - (b * mf.x + a * mf.y)};
}

Landmarks68 MeshToLandmarks68(const FaceMesh& mesh) {
  // Mesh vertex for each iBUG point dlib aligns with (27-35 nose, 36-47 eyes, 48-54 and 60-64
  // mouth); -1 where alignment has no use for the point.
  static const int kMeshIndex[68] = {
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,  // jaw
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,                              // brows
      168, 197, 5, 4, 75, 97, 2, 326, 305,                                 // nose bridge, nostrils
      33, 160, 158, 133, 153, 144,                                         // subject's right eye
      362, 385, 387, 263, 373, 380,                                        // subject's left eye
      61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,                  // outer lips
      78, 81, 13, 311, 308, 402, 14, 178};                                 // inner lips
  Landmarks68 out{};
  for (int i = 0; i < 68; ++i) {
    if (kMeshIndex[i] >= 0) out[i] = cv::Point2f(mesh.points[kMeshIndex[i]].x, mesh.points[kMeshIndex[i]].y);
  }
  return out;
}

cv::Matx23d DlibChipTransform(const Landmarks68& lm, int size, double padding) {
  // dlib's mean face for points 17..67, in [0,1] of the landmark bounding box (from dlib's
  // get_face_chip_details).
  static const double kMeanX[51] = {
      0.000213256, 0.0752622, 0.18113,  0.29077,  0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
      0.490127,    0.490127,  0.490127, 0.490127, 0.36688,  0.426036, 0.490127, 0.554217, 0.613373, 0.121737,
      0.187122,    0.265825,  0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751,
      0.719335,    0.254149,  0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
      0.490127,    0.423532,  0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127,
      0.42689};
  static const double kMeanY[51] = {
      0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
      0.203352, 0.307009, 0.409805,  0.515625,  0.587326,  0.609345,  0.628106,  0.609345,  0.587326, 0.216423,
      0.178758, 0.179852, 0.231733,  0.245099,  0.244077,  0.231733,  0.179852,  0.178758,  0.216423, 0.244077,
      0.245099, 0.780233, 0.745405,  0.727388,  0.742578,  0.727388,  0.745405,  0.780233,  0.864805, 0.902192,
      0.909281, 0.902192, 0.864805,  0.784792,  0.778746,  0.785343,  0.778746,  0.784792,  0.824182, 0.831803,
      0.824182};
  std::vector<cv::Point2f> from, to;
  for (int i = 27; i < 68; ++i) {
    if ((55 <= i && i <= 59) || (65 <= i && i <= 67)) continue;  // dlib skips the lower lip
    from.push_back(lm[i]);
    to.emplace_back(static_cast<float>((padding + kMeanX[i - 17]) / (2 * padding + 1) * size),
                    static_cast<float>((padding + kMeanY[i - 17]) / (2 * padding + 1) * size));
  }
  return EstimateSimilarity(from, to);
}

cv::Mat WarpChip(const cv::Mat& rgb, const cv::Matx23d& m, int size) {
  const double scale = std::sqrt(std::abs(m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0)));
  cv::Mat src = rgb;
  cv::Matx23d t = m;
  cv::Mat smaller;
  double s = scale;
  // Halve the source until the warp shrinks by at most 2x, as dlib's pyramid does.
  while (s < 0.5 && src.cols > 2 * size) {
    cv::pyrDown(src, smaller);
    src = smaller.clone();
    t(0, 0) *= 2, t(0, 1) *= 2, t(1, 0) *= 2, t(1, 1) *= 2;
    s *= 2;
  }
  cv::Mat chip;
  cv::warpAffine(src, chip, cv::Mat(t), cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  return chip;
}

}  // namespace idm::face
