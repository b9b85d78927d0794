#include "face/quality.h"

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "face/align.h"

namespace idm::face {

namespace {
constexpr float kDeg = 57.2957795f;
cv::Point3f P(const FaceMesh& m, int i) { return m.points[i]; }
float Dist(const cv::Point3f& a, const cv::Point3f& b) { return std::hypot(a.x - b.x, a.y - b.y); }
}  // namespace

void HeadPose(const FaceMesh& m, float* yaw, float* pitch, float* roll) {
  // Face axes: x from the subject's right cheek (234) to left cheek (454), y from forehead (10)
  // to chin (152); the normal points out of the face.
  cv::Vec3f x = cv::Vec3f(P(m, 454).x - P(m, 234).x, P(m, 454).y - P(m, 234).y, P(m, 454).z - P(m, 234).z);
  cv::Vec3f y = cv::Vec3f(P(m, 152).x - P(m, 10).x, P(m, 152).y - P(m, 10).y, P(m, 152).z - P(m, 10).z);
  x = cv::normalize(x);
  y = cv::normalize(y);
  cv::Vec3f z = cv::normalize(x.cross(y));
  *yaw = std::asin(std::clamp(-z[0], -1.f, 1.f)) * kDeg;
  *pitch = std::asin(std::clamp(z[1], -1.f, 1.f)) * kDeg;
  const cv::Point3f re = (P(m, 33) + P(m, 133)) * 0.5f, le = (P(m, 362) + P(m, 263)) * 0.5f;
  *roll = std::atan2(le.y - re.y, le.x - re.x) * kDeg;
}

void EyeOpenness(const FaceMesh& m, float* left, float* right) {
  // Upper/lower lid mid points over corner-to-corner width.
  *right = Dist(P(m, 159), P(m, 145)) / std::max(Dist(P(m, 33), P(m, 133)), 1e-3f);
  *left = Dist(P(m, 386), P(m, 374)) / std::max(Dist(P(m, 362), P(m, 263)), 1e-3f);
}

FaceQuality MeasureQuality(const cv::Mat& rgb, const cv::Rect2f& box, const FaceMesh& mesh, const QualityThresholds& t) {
  FaceQuality q;
  q.face_size_px = std::max(box.width, box.height);
  const cv::Point3f re = (P(mesh, 33) + P(mesh, 133)) * 0.5f, le = (P(mesh, 362) + P(mesh, 263)) * 0.5f;
  q.eye_distance_px = Dist(re, le);
  HeadPose(mesh, &q.yaw_deg, &q.pitch_deg, &q.roll_deg);
  EyeOpenness(mesh, &q.left_eye_open, &q.right_eye_open);

  // Photometric measures on an aligned 112 px chip, so they do not depend on the face's size.
  const cv::Mat chip = WarpChip(rgb, DlibChipTransform(MeshToLandmarks68(mesh), 112, 0.0), 112);
  cv::Mat grey, lap;
  cv::cvtColor(chip, grey, cv::COLOR_RGB2GRAY);
  cv::Laplacian(grey, lap, CV_32F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  q.sharpness = static_cast<float>(stddev[0] * stddev[0]);
  q.brightness = static_cast<float>(cv::mean(grey)[0]);
  const int dark = cv::countNonZero(grey <= 5), bright = cv::countNonZero(grey >= 250);
  q.clipped = static_cast<float>(dark + bright) / static_cast<float>(grey.total());

  if (q.eye_distance_px < t.min_eye_distance_px) q.flags.push_back("face_too_small");
  if (q.sharpness < t.min_sharpness) q.flags.push_back("blurry");
  if (q.brightness < t.min_brightness) q.flags.push_back("too_dark");
  if (q.brightness > t.max_brightness) q.flags.push_back("too_bright");
  if (q.clipped > t.max_clipped) q.flags.push_back("overexposed_or_underexposed");
  if (std::abs(q.yaw_deg) > t.max_yaw_deg) q.flags.push_back("head_turned");
  if (std::abs(q.pitch_deg) > t.max_pitch_deg) q.flags.push_back("head_tilted_up_or_down");
  if (std::abs(q.roll_deg) > t.max_roll_deg) q.flags.push_back("head_tilted_sideways");
  if (std::min(q.left_eye_open, q.right_eye_open) < t.min_eye_open) q.flags.push_back("eyes_closed");
  return q;
}

}  // namespace idm::face
