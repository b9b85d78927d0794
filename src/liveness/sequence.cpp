#include "liveness/sequence.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <numeric>

#include <opencv2/imgproc.hpp>

#include "face/tf_image_ops.h"

namespace idm::liveness {

namespace {

float Median(std::vector<float> v) {
  if (v.empty()) return 0.f;
  auto mid = v.begin() + static_cast<long>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

float Percentile(std::vector<float> v, float q) {
  if (v.empty()) return 0.f;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::clamp(q, 0.f, 1.f) * static_cast<float>(v.size() - 1) + 0.5f)];
}

cv::Point2f P2(const face::FaceMesh& m, int i) { return {m.points[i].x, m.points[i].y}; }
float D(const cv::Point2f& a, const cv::Point2f& b) { return std::hypot(a.x - b.x, a.y - b.y); }
float EyeDist(const face::FaceMesh& m) { return D((P2(m, 33) + P2(m, 133)) * 0.5f, (P2(m, 362) + P2(m, 263)) * 0.5f); }

// Points near the eyes move when the eyelids do: left out of the homography used to undo pose.
std::vector<int> RigidFor(const face::FaceMesh& m) {
  const cv::Point2f re = (P2(m, 33) + P2(m, 133)) * 0.5f, le = (P2(m, 362) + P2(m, 263)) * 0.5f;
  const float r = 0.32f * D(re, le);
  std::vector<int> out;
  for (int i = 0; i < 468; ++i) {
    const cv::Point2f p = P2(m, i);
    if (D(p, re) > r && D(p, le) > r) out.push_back(i);
  }
  return out;
}

// Hartley normalisation: centroid to the origin, mean distance sqrt(2).
cv::Matx33d Normaliser(const std::vector<cv::Point2f>& p) {
  double cx = 0, cy = 0;
  for (const auto& q : p) cx += q.x, cy += q.y;
  cx /= static_cast<double>(p.size()), cy /= static_cast<double>(p.size());
  double d = 0;
  for (const auto& q : p) d += std::hypot(q.x - cx, q.y - cy);
  d = std::max(d / static_cast<double>(p.size()), 1e-9);
  const double s = std::sqrt(2.0) / d;
  return {s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1};
}

// Least-squares homography (normalised DLT) taking points `a` onto `b`.
// (OpenCV's calib3d is not linked; the DLT is a few lines.)
cv::Mat FitHomography(const std::vector<cv::Point2f>& a, const std::vector<cv::Point2f>& b) {
  if (a.size() < 4 || a.size() != b.size()) return {};
  const cv::Matx33d Ta = Normaliser(a), Tb = Normaliser(b);
  cv::Mat A(static_cast<int>(2 * a.size()), 9, CV_64F);
  for (size_t k = 0; k < a.size(); ++k) {
    const cv::Vec3d p = Ta * cv::Vec3d(a[k].x, a[k].y, 1), q = Tb * cv::Vec3d(b[k].x, b[k].y, 1);
    double* r0 = A.ptr<double>(static_cast<int>(2 * k));
    double* r1 = A.ptr<double>(static_cast<int>(2 * k + 1));
    const double x = p[0], y = p[1], u = q[0], v = q[1];
    const double row0[9] = {-x, -y, -1, 0, 0, 0, u * x, u * y, u};
    const double row1[9] = {0, 0, 0, -x, -y, -1, v * x, v * y, v};
    std::copy(row0, row0 + 9, r0);
    std::copy(row1, row1 + 9, r1);
  }
  cv::Mat h;
  cv::SVD::solveZ(A, h);
  if (h.empty()) return {};
  const cv::Matx33d Hn(h.ptr<double>());
  cv::Matx33d H = Tb.inv() * Hn * Ta;
  if (std::abs(H(2, 2)) < 1e-12) return {};
  H *= 1.0 / H(2, 2);
  return cv::Mat(H).clone();
}

// The same between two meshes, on the points `idx`.
cv::Mat FitHomography(const face::FaceMesh& from, const face::FaceMesh& to, const std::vector<int>& idx) {
  std::vector<cv::Point2f> a, b;
  a.reserve(idx.size());
  b.reserve(idx.size());
  for (int i : idx) a.push_back(P2(from, i)), b.push_back(P2(to, i));
  return FitHomography(a, b);
}

cv::Point2f Apply(const cv::Mat& H, const cv::Point2f& p) {
  const double* h = H.ptr<double>();
  const double w = h[6] * p.x + h[7] * p.y + h[8];
  return {static_cast<float>((h[0] * p.x + h[1] * p.y + h[2]) / w),
          static_cast<float>((h[3] * p.x + h[4] * p.y + h[5]) / w)};
}

std::array<cv::Point2f, 16> MapLid(const cv::Mat& H, const std::array<cv::Point2f, 16>& lid) {
  std::array<cv::Point2f, 16> out;
  for (size_t i = 0; i < lid.size(); ++i) out[i] = Apply(H, lid[i]);
  return out;
}

// Foreshortening of a homography at point p: 1 - (smaller / larger singular value of its local
// Jacobian). 0 for a similarity (shift, rotation, zoom); a plane tilted by t degrees gives about
// 1 - cos(t).
float Foreshortening(const cv::Mat& H, const cv::Point2f& p) {
  if (H.empty()) return 0.f;
  const double* h = H.ptr<double>();
  const double w = h[6] * p.x + h[7] * p.y + h[8];
  const double u = (h[0] * p.x + h[1] * p.y + h[2]) / w, v = (h[3] * p.x + h[4] * p.y + h[5]) / w;
  const cv::Matx22d J((h[0] - u * h[6]) / w, (h[1] - u * h[7]) / w, (h[3] - v * h[6]) / w, (h[4] - v * h[7]) / w);
  cv::Matx21d sv;
  cv::SVD::compute(J, sv, cv::SVD::NO_UV);
  return sv(0) > 0 ? static_cast<float>(1.0 - sv(1) / sv(0)) : 0.f;
}

cv::Point2f Centroid(const face::FaceMesh& m, const std::vector<int>& idx) {
  cv::Point2f c(0, 0);
  for (int i : idx) c += P2(m, i);
  return c * (1.f / static_cast<float>(std::max<size_t>(idx.size(), 1)));
}

// Lid movement between an open and a closed lid contour (both in the same coordinates): how far
// the upper lid came down and the lower lid came up, as fractions of the open gap, measured
// across the eye (perpendicular to the open contour's corner line). A blink is the upper lid
// coming down; a picture squashed by a tilt brings both towards the middle.
void LidMotion(const std::array<cv::Point2f, 16>& open, const std::array<cv::Point2f, 16>& closed, float* upper_down,
               float* lower_up) {
  cv::Point2f a = open[0], b = open[8];
  if (a.x > b.x) std::swap(a, b);
  const cv::Point2f d = (b - a) * (1.f / std::max(D(a, b), 1e-3f));
  const cv::Point2f n(-d.y, d.x);  // across the eye, pointing down the image
  auto across = [&](const std::array<cv::Point2f, 16>& lid, int from, int to) {
    float s = 0;
    for (int i = from; i <= to; ++i) s += (lid[static_cast<size_t>(i)] - a).dot(n);
    return s / static_cast<float>(to - from + 1);
  };
  const float up0 = across(open, 10, 14), lo0 = across(open, 2, 6), up1 = across(closed, 10, 14),
              lo1 = across(closed, 2, 6);
  const float gap = std::max(lo0 - up0, 1e-3f);
  *upper_down = (up1 - up0) / gap;
  *lower_up = (lo0 - lo1) / gap;
}

// RMS residual of `b`'s points `idx` after the best homography from `a`'s, in eye distances.
float PlanarResidualOn(const face::FaceMesh& a, const face::FaceMesh& b, const std::vector<int>& idx) {
  const cv::Mat H = FitHomography(a, b, idx);
  if (H.empty()) return 0.f;
  double ss = 0;
  for (int i : idx) {
    const cv::Point2f d = Apply(H, P2(a, i)) - P2(b, i);
    ss += d.x * d.x + d.y * d.y;
  }
  return static_cast<float>(std::sqrt(ss / static_cast<double>(std::max<size_t>(idx.size(), 1)))) /
         std::max({EyeDist(a), EyeDist(b), 1e-3f});
}

// Inner over outer proportions: eye spans over cheek-to-cheek width (grows as a real face comes
// closer, because the cheeks are further from the camera than the eyes and nose).
float InnerOuter(const std::vector<cv::Point2f>& p) {
  const float outer = std::max(D(p[234], p[454]), 1e-3f);
  return 0.5f * (D(p[33], p[263]) + D(p[133], p[362])) / outer;
}

std::vector<cv::Point2f> Points2(const face::FaceMesh& m) {
  std::vector<cv::Point2f> v(468);
  for (int i = 0; i < 468; ++i) v[i] = P2(m, i);
  return v;
}

// Perspective parallax of an approach. A real face at distance Z projects a point at depth z
// (relative to the face's mean depth) magnified by Z / (Z + z): coming from Z1 to Z2 magnifies
// near points (the nose) more than far ones (the cheeks, the ears), by a factor
// 1 - kappa * z / W, kappa = W * (1/Z2 - 1/Z1) > 0 (W: the face's width, so kappa is the
// change of the face's angular width). A flat picture's points all move by one homography.
// So: fit the homography ref -> cur on all 468 points, and regress what it leaves over onto the
// displacement pattern that depth would have left over (the mesh's own z, from `ref`, as the
// depth of each point; the pattern's own homography-explainable part removed the same way).
// Returns kappa (signed: > 0 for an approach) and, in *explained, the share of the residual
// energy the depth pattern explains (landmark noise on a flat picture is not depth-shaped).
}  // namespace

float DepthParallax(const face::FaceMesh& ref, const face::FaceMesh& cur, float* explained) {
  *explained = 0.f;
  const std::vector<cv::Point2f> a = Points2(ref), b = Points2(cur);
  const cv::Mat H = FitHomography(a, b);
  if (H.empty()) return 0.f;
  const float W = std::max(D(a[234], a[454]), 1e-3f);
  float zbar = 0;
  for (int i = 0; i < 468; ++i) zbar += ref.points[i].z;
  zbar /= 468.f;
  std::vector<cv::Point2f> pred(468), shifted(468);
  cv::Point2f c(0, 0);
  for (int i = 0; i < 468; ++i) pred[i] = Apply(H, a[i]), c += pred[i];
  c *= 1.f / 468.f;
  // The depth pattern at a small amplitude (linear regime), and what a homography cannot absorb of it.
  constexpr float eps = 0.02f;
  for (int i = 0; i < 468; ++i) shifted[i] = pred[i] - eps * (ref.points[i].z - zbar) / W * (pred[i] - c);
  const cv::Mat Hp = FitHomography(pred, shifted);
  if (Hp.empty()) return 0.f;
  double num = 0, den = 0, res2 = 0;
  for (int i = 0; i < 468; ++i) {
    const cv::Point2f pat = (shifted[i] - Apply(Hp, pred[i])) * (1.f / eps);
    const cv::Point2f res = b[i] - pred[i];
    num += res.dot(pat), den += pat.dot(pat), res2 += res.dot(res);
  }
  if (den <= 0) return 0.f;
  const double kappa = num / den;
  *explained = res2 > 0 ? static_cast<float>(kappa * kappa * den / res2) : 0.f;
  return static_cast<float>(kappa);
}

SurroundMotion MeasureSurround(const cv::Mat& grey_ref, const cv::Mat& grey_cur, const face::FaceMesh& ref,
                               const face::FaceMesh& cur, float scale) {
  SurroundMotion out;
  if (grey_ref.empty() || grey_cur.empty() || grey_ref.size() != grey_cur.size()) return out;
  std::vector<int> all(468);
  std::iota(all.begin(), all.end(), 0);
  const cv::Mat H = FitHomography(ref, cur, all);
  if (H.empty()) return out;
  // The face's homography in thumbnail pixels: S H S^-1.
  const cv::Matx33d S(scale, 0, 0, 0, scale, 0, 0, 0, 1);
  const cv::Matx33d Hq = S * cv::Matx33d(H.ptr<double>()) * S.inv();
  cv::Mat warped;  // the reference moved as the face moved
  cv::warpPerspective(grey_ref, warped, cv::Mat(Hq), grey_ref.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                      cv::Scalar(-1));
  cv::Mat valid;
  cv::warpPerspective(cv::Mat(grey_ref.size(), CV_8U, cv::Scalar(255)), valid, cv::Mat(Hq), grey_ref.size(),
                      cv::INTER_NEAREST);
  cv::Mat a, b, c;
  grey_cur.convertTo(a, CV_32F);
  grey_ref.convertTo(b, CV_32F);
  warped.convertTo(c, CV_32F);
  cv::Mat d_still, d_face, gx, gy;
  cv::absdiff(a, b, d_still);
  cv::absdiff(a, c, d_face);
  cv::blur(d_still, d_still, cv::Size(5, 5));
  cv::blur(d_face, d_face, cv::Size(5, 5));
  cv::Sobel(a, gx, CV_32F, 1, 0, 3, 0.25);
  cv::Sobel(a, gy, CV_32F, 0, 1, 3, 0.25);
  const cv::Rect2f box = MeshBounds(cur);
  const cv::Point2f centre((box.x + box.width / 2) * scale, (box.y + box.height / 2) * scale);
  const float hx = std::max(box.width / 2 * scale, 1.f), hy = std::max(box.height / 2 * scale, 1.f);
  int follow = 0, still = 0;
  for (int y = 2; y < a.rows - 2; ++y) {
    for (int x = 2; x < a.cols - 2; ++x) {
      const float u = (x - centre.x) / hx, v = (y - centre.y) / hy, r = std::hypot(u, v);
      // The ring beyond the head and hair, at and above the face (below it the neck and
      // shoulders come closer with the face).
      if (r < 1.8f || r > 3.2f || v > 0.5f) continue;
      if (valid.at<uint8_t>(y, x) == 0) continue;
      if (std::hypot(gx.at<float>(y, x), gy.at<float>(y, x)) < 6.f) continue;  // flat: says nothing about motion
      const float ds = d_still.at<float>(y, x), df = d_face.at<float>(y, x);
      if (df + 2.f < ds)
        ++follow;
      else if (ds + 2.f < df)
        ++still;
    }
  }
  out.textured = follow + still;
  out.follow = out.textured > 0 ? static_cast<float>(follow) / static_cast<float>(out.textured) : 0.f;
  return out;
}

namespace {

int FirstFace(const std::vector<FrameObservation>& f, int from) {
  for (int i = std::max(from, 0); i < static_cast<int>(f.size()); ++i) {
    if (f[i].face) return i;
  }
  return -1;
}

// The signal an action is measured on, for frame i (NaN when there is no face).
float Signal(const FrameObservation& o, Action a) {
  switch (a) {
    case Action::kTurnLeft:
      return o.yaw_deg;  // sign: see docs/liveness.md
    case Action::kTurnRight:
      return -o.yaw_deg;
    case Action::kLookUp:
      return o.pitch_deg;
    case Action::kComeCloser:
      return o.eye_distance_px;
    case Action::kBlink:
      return 0.5f * (o.ear_left + o.ear_right);
  }
  return 0.f;
}

// Coefficient of variation of the per-frame increments of `s` over [b, e]: a human movement is
// uneven; an animation of a picture is typically constant-speed.
float IncrementCv(const std::vector<FrameObservation>& f, Action a, int b, int e) {
  std::vector<float> inc;
  for (int i = b + 1; i <= e; ++i) {
    if (f[i].face && f[i - 1].face) inc.push_back(Signal(f[i], a) - Signal(f[i - 1], a));
  }
  if (inc.size() < 4) return 1.f;
  const float mean = std::accumulate(inc.begin(), inc.end(), 0.f) / static_cast<float>(inc.size());
  float var = 0;
  for (float x : inc) var += (x - mean) * (x - mean);
  return std::sqrt(var / static_cast<float>(inc.size())) / std::max(std::abs(mean), 1e-6f);
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kLive:
      return "live";
    case Verdict::kAttack:
      return "attack";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "?";
}

float PlanarResidual(const face::FaceMesh& a, const face::FaceMesh& b) {
  std::vector<int> all(468);
  std::iota(all.begin(), all.end(), 0);
  const cv::Mat H = FitHomography(a, b, all);
  if (H.empty()) return 0.f;
  double ss = 0;
  for (int i = 0; i < 468; ++i) {
    const cv::Point2f d = Apply(H, P2(a, i)) - P2(b, i);
    ss += d.x * d.x + d.y * d.y;
  }
  // In eye distances of the larger of the two faces, so that scale does not inflate it.
  return static_cast<float>(std::sqrt(ss / 468.0)) / std::max({EyeDist(a), EyeDist(b), 1e-3f});
}

ActionResult DetectAction(const std::vector<FrameObservation>& f, Action a, int from, const SequenceThresholds& t) {
  ActionResult r;
  r.action = a;
  const int n = static_cast<int>(f.size());
  const int base = FirstFace(f, from);
  if (base < 0) {
    r.detail = "no face";
    return r;
  }
  if (a == Action::kBlink) {
    // Eyelids (iris model) of both eyes, with the face's own homography (fitted on the points
    // away from the eyes) undone onto the base frame: a blink moves the lids relative to the face;
    // a picture tilted or bent to fake one moves them with it.
    const std::vector<int> rigid = RigidFor(f[base].mesh);
    const size_t N = static_cast<size_t>(n);
    std::vector<float> lo(N, NAN), ro(N, NAN), raw_lo(N, NAN), raw_ro(N, NAN), rigid_res(N, NAN);
    std::vector<cv::Mat> Hs(N);
    std::vector<float> lv, rv, raw_lv, raw_rv;
    for (int i = base; i < n; ++i) {
      if (!f[i].face || !f[i].lids) continue;
      const cv::Mat H = FitHomography(f[i].mesh, f[base].mesh, rigid);
      if (H.empty()) continue;
      const size_t k = static_cast<size_t>(i);
      Hs[k] = H;
      lo[k] = LidOpening(MapLid(H, f[i].lid_left)), ro[k] = LidOpening(MapLid(H, f[i].lid_right));
      raw_lo[k] = f[i].lid_open_left, raw_ro[k] = f[i].lid_open_right;
      lv.push_back(lo[k]), rv.push_back(ro[k]), raw_lv.push_back(raw_lo[k]), raw_rv.push_back(raw_ro[k]);
    }
    const float open_l = Percentile(lv, 0.75f), open_r = Percentile(rv, 0.75f);
    if (lv.size() < 3 || open_l <= 0 || open_r <= 0) {
      r.detail = "no eyelids measured";
      return r;
    }
    auto both_open = [&](size_t k) { return lo[k] >= t.blink_recover * open_l && ro[k] >= t.blink_recover * open_r; };
    auto both_closed = [&](size_t k) { return lo[k] < t.blink_drop * open_l && ro[k] < t.blink_drop * open_r; };
    // Scan for open -> both closed -> open within blink_max_ms.
    int last_open = -1;
    std::string rejected;
    for (int i = base; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      if (std::isnan(lo[k])) continue;
      if (both_open(k)) {
        last_open = i;
        continue;
      }
      if (!both_closed(k) || last_open < 0) continue;
      int peak = i, reopen = -1;
      for (int j = i; j < n; ++j) {
        const size_t q = static_cast<size_t>(j);
        if (std::isnan(lo[q])) continue;
        if (f[j].t_ms - f[last_open].t_ms > t.blink_max_ms) break;
        if (lo[q] + ro[q] < lo[static_cast<size_t>(peak)] + ro[static_cast<size_t>(peak)]) peak = j;
        if (both_open(q)) {
          reopen = j;
          break;
        }
      }
      if (reopen < 0) continue;
      // The rest of the face must hold still while the lids close: the non-eye points of the
      // closed frame against the open one, after the best homography (a flexed or bent print
      // deforms them; a real blink does not).
      const float still = PlanarResidualOn(f[last_open].mesh, f[peak].mesh, rigid);
      const float tilt =
          Foreshortening(FitHomography(f[last_open].mesh, f[peak].mesh, rigid), Centroid(f[last_open].mesh, rigid));
      const size_t pk = static_cast<size_t>(peak), op = static_cast<size_t>(last_open);
      float ud_l, lu_l, ud_r, lu_r;
      LidMotion(MapLid(Hs[op], f[last_open].lid_left), MapLid(Hs[pk], f[peak].lid_left), &ud_l, &lu_l);
      LidMotion(MapLid(Hs[op], f[last_open].lid_right), MapLid(Hs[pk], f[peak].lid_right), &ud_r, &lu_r);
      const float drop = 1.f - 0.5f * (lo[pk] / open_l + ro[pk] / open_r);
      const bool lids_ok =
          std::min(ud_l, ud_r) >= t.blink_upper_lid && std::max(std::abs(lu_l), std::abs(lu_r)) <= t.blink_lower_lid;
      if (still > t.blink_max_face_residual || tilt > t.blink_max_foreshortening || !lids_ok) {
        rejected = "eyes narrowed but not as a blink (face residual " + std::to_string(still).substr(0, 5) +
                   ", foreshortening " + std::to_string(tilt).substr(0, 5) + ", upper lids down " +
                   std::to_string(ud_l).substr(0, 5) + "/" + std::to_string(ud_r).substr(0, 5) + ", lower lids up " +
                   std::to_string(lu_l).substr(0, 5) + "/" + std::to_string(lu_r).substr(0, 5) + ")";
        last_open = -1;
        continue;
      }
      r.detected = true;
      r.non_planar = true;  // measured with the face's own plane motion undone, the face held still
      r.begin_frame = last_open, r.peak_frame = peak, r.end_frame = reopen;
      r.amount = drop;
      r.nonplanar = drop;
      r.detail = "eyelids fell to " + std::to_string(lo[pk] / open_l).substr(0, 4) + " / " +
                 std::to_string(ro[pk] / open_r).substr(0, 4) + " of open (left / right), face residual " +
                 std::to_string(still).substr(0, 5) + ", foreshortening " + std::to_string(tilt).substr(0, 5) +
                 ", upper lid down " + std::to_string(ud_l).substr(0, 5) + "/" + std::to_string(ud_r).substr(0, 5) +
                 ", lower lid up " + std::to_string(lu_l).substr(0, 5) + "/" + std::to_string(lu_r).substr(0, 5);
      break;
    }
    if (!r.detected) {
      // How far the raw lids dipped (both eyes), against the plane-corrected ones.
      const float raw_open_l = Percentile(raw_lv, 0.75f), raw_open_r = Percentile(raw_rv, 0.75f);
      float raw_min = 1.f, planar_min = 1.f;
      for (int i = base; i < n; ++i) {
        const size_t k = static_cast<size_t>(i);
        if (std::isnan(lo[k])) continue;
        raw_min = std::min(raw_min,
                           std::max(raw_lo[k] / std::max(raw_open_l, 1e-6f), raw_ro[k] / std::max(raw_open_r, 1e-6f)));
        planar_min = std::min(planar_min, std::max(lo[k] / open_l, ro[k] / open_r));
      }
      r.amount = 1.f - planar_min;
      // The raw lids dipped like a blink while the plane-corrected ones stayed near open: the eyes
      // moved only with the whole face, as a flat picture tilted to fake a blink.
      if (!rejected.empty()) {
        r.detail = rejected;
        r.nonplanar = 0.f;
        r.peak_frame = base;  // marks "movement seen" for the planar score
      } else if (raw_min < t.blink_drop && planar_min > t.blink_recover) {
        r.detail = "eyelids dipped only with the whole face (flat picture tilted)";
        r.nonplanar = 0.f;
        r.peak_frame = base;
      } else {
        r.detail = "no blink";
      }
    }
  } else {
    // Base level: median of the first 3 face frames.
    std::vector<float> head;
    for (int i = base; i < n && head.size() < 3; ++i) {
      if (f[i].face) head.push_back(Signal(f[i], a));
    }
    const float s0 = Median(head);
    auto reached = [&](float s) {
      if (a == Action::kComeCloser) return s >= t.closer_ratio * s0;
      return s - s0 >= (a == Action::kLookUp ? t.look_up_deg : t.turn_deg);
    };
    auto moving = [&](float s) {
      if (a == Action::kComeCloser) return s >= 1.05f * s0;
      return s - s0 >= 3.f;
    };
    int begin = -1, hit = -1;
    for (int i = base; i < n; ++i) {
      if (!f[i].face) continue;
      const float s = Signal(f[i], a);
      if (!moving(s))
        begin = -1;
      else if (begin < 0)
        begin = i;
      if (reached(s)) {
        hit = i;
        break;
      }
    }
    float best = -1e9f;
    for (int i = base; i < n; ++i) {
      if (f[i].face) best = std::max(best, Signal(f[i], a));
    }
    r.amount = a == Action::kComeCloser ? best / std::max(s0, 1e-3f) : best - s0;
    if (hit < 0) {
      r.detail = "not reached";
      return r;
    }
    // Peak: the extreme within 1 s after the threshold was crossed.
    int peak = hit;
    for (int i = hit; i < n && f[i].t_ms - f[hit].t_ms <= 1000; ++i) {
      if (f[i].face && Signal(f[i], a) > Signal(f[peak], a)) peak = i;
    }
    r.detected = true;
    r.begin_frame = begin >= 0 ? begin : hit;
    r.peak_frame = peak;
    r.end_frame = hit;
    r.amount = a == Action::kComeCloser ? Signal(f[peak], a) / std::max(s0, 1e-3f) : Signal(f[peak], a) - s0;
    // The reference: the last face frame before the movement began.
    int ref = std::max(base, r.begin_frame > base ? r.begin_frame - 1 : base);
    while (ref > base && !f[ref].face) --ref;
    if (a == Action::kComeCloser) {
      // Undo the best plane motion; what is left in the inner/outer proportions is depth.
      std::vector<int> all(468);
      std::iota(all.begin(), all.end(), 0);
      const cv::Mat H = FitHomography(f[ref].mesh, f[peak].mesh, all);
      if (H.empty()) {
        r.detail = "degenerate landmarks";
        r.detected = false;
        return r;
      }
      // Measured on every frame that is close (eye distance past the threshold) within 1 s of the
      // crossing; the median of at least 2: a real face shows it on all of them, landmark noise on
      // a re-captured picture on one or two.
      std::vector<float> depth, kappas, shares;
      for (int k = hit; k < n && f[k].t_ms - f[hit].t_ms <= 1000; ++k) {
        if (!f[k].face || !reached(Signal(f[k], a))) continue;  // every "close" frame within 1 s
        const cv::Mat Hk = FitHomography(f[ref].mesh, f[k].mesh, all);
        if (Hk.empty()) continue;
        std::vector<cv::Point2f> pred(468);
        for (int i = 0; i < 468; ++i) pred[i] = Apply(Hk, P2(f[ref].mesh, i));
        depth.push_back(InnerOuter(Points2(f[k].mesh)) / std::max(InnerOuter(pred), 1e-6f) - 1.f);
        float share = 0;
        kappas.push_back(DepthParallax(f[ref].mesh, f[k].mesh, &share));
        shares.push_back(share);
      }
      r.nonplanar = depth.size() >= 2 ? Median(depth) : 0.f;
      const float kappa = kappas.size() >= 2 ? Median(kappas) : 0.f, share = shares.size() >= 2 ? Median(shares) : 0.f;
      r.non_planar = kappa >= t.min_closer_parallax || r.nonplanar >= t.min_closer_depth;
      r.detail = "proportions " + std::to_string(r.nonplanar).substr(0, 6) + ", parallax " +
                 std::to_string(kappa).substr(0, 6) + " explaining " + std::to_string(share).substr(0, 5) +
                 " of the residual";
    } else {
      r.nonplanar = PlanarResidual(f[ref].mesh, f[peak].mesh);
      r.non_planar = r.nonplanar >= t.min_nonplanar;
    }
  }
  if (r.detected) {
    r.begin_ms = f[r.begin_frame].t_ms;
    r.end_ms = f[r.end_frame].t_ms;
  }
  return r;
}

std::vector<int> RankBestFrames(const std::vector<FrameObservation>& f, int n) {
  std::vector<float> ear;
  for (const auto& o : f) {
    if (o.face) ear.push_back(0.5f * (o.ear_left + o.ear_right));
  }
  const float open = std::max(Percentile(ear, 0.75f), 1e-3f);
  std::vector<std::pair<float, int>> scored;
  for (int i = 0; i < static_cast<int>(f.size()); ++i) {
    const auto& o = f[i];
    if (!o.face) continue;
    const float frontal = -(std::abs(o.yaw_deg) + std::abs(o.pitch_deg)) / 10.f;
    const float eyes = 2.f * std::min(0.5f * (o.ear_left + o.ear_right) / open, 1.f);
    const float sharp = 0.5f * std::log1p(o.sharpness);
    scored.emplace_back(frontal + eyes + sharp, i);
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<int> out;
  for (int i = 0; i < std::min(n, static_cast<int>(scored.size())); ++i) out.push_back(scored[i].second);
  return out;
}

SequenceResult VerifySequence(const Challenge& c, const SequenceEvidence& ev, const SequenceThresholds& t) {
  const auto t0 = std::chrono::steady_clock::now();
  SequenceResult r;
  const auto& f = ev.frames;
  r.frames = static_cast<int>(f.size());
  bool hard_fail = false, soft_fail = false;
  auto reason = [&](const std::string& s) {
    if (std::find(r.reasons.begin(), r.reasons.end(), s) == r.reasons.end()) r.reasons.push_back(s);
  };
  if (f.size() < 5) {
    reason("too_few_frames");
    r.verdict = Verdict::kInconclusive;
    return r;
  }
  // Time window and ordering of timestamps.
  for (size_t i = 0; i < f.size(); ++i) {
    if (i > 0 && f[i].t_ms <= f[i - 1].t_ms) reason("timestamps_not_increasing"), hard_fail = true;
    if (f[i].t_ms < c.issued_ms || f[i].t_ms > c.expires_ms) reason("outside_challenge_window"), soft_fail = true;
  }
  // Face presence, face count and track continuity.
  std::vector<float> face_changes;
  for (size_t i = 1; i < f.size(); ++i) {
    if (f[i].face && f[i - 1].face) face_changes.push_back(f[i].face_change);
  }
  const float median_face_change = Median(face_changes);
  int64_t gap_start = -1;
  for (size_t i = 0; i < f.size(); ++i) {
    const auto& o = f[i];
    if (o.face) ++r.face_frames;
    if (o.detector_ran && o.faces_found > 1) reason("multiple_faces"), soft_fail = true;
    if (!o.face) {
      if (gap_start < 0) gap_start = i > 0 ? f[i - 1].t_ms : o.t_ms;
      continue;
    }
    if (gap_start >= 0 && o.t_ms - gap_start > t.max_gap_ms && r.face_frames > 1) {
      reason("face_track_gap"), r.track_continuous = false;
    }
    gap_start = -1;
    if (i > 0 && f[i - 1].face) {
      const float dt = static_cast<float>(std::max<int64_t>(o.t_ms - f[i - 1].t_ms, 33));
      float jump = 0;
      for (int k = 0; k < 468; ++k) jump += D(P2(o.mesh, k), P2(f[i - 1].mesh, k));
      jump /= 468.f * std::max(EyeDist(f[i - 1].mesh), 1e-3f);
      const float rate = jump * 66.7f / dt;
      if (rate > t.max_jump || (o.frame_change > t.max_frame_change && rate > 0.3f))
        reason("cut_in_sequence"), r.track_continuous = false;
      if (o.face_change > t.max_face_change && o.face_change > t.face_change_spike * median_face_change)
        reason("cut_in_sequence"), r.track_continuous = false;
    }
  }
  if (static_cast<float>(r.face_frames) < t.min_face_fraction * static_cast<float>(f.size()))
    reason("face_not_visible_throughout"), soft_fail = true;

  // Actions, in order.
  int from = 0;
  float planar = 0.f;
  for (Action a : c.actions) {
    ActionResult ar = DetectAction(f, a, from, t);
    if (a == Action::kComeCloser && ar.detected && ar.non_planar) {
      // The landmarks alone are not enough (the mesh model reads depth into a picture brought
      // closer): what surrounds the head must not come closer with the face.
      if (ev.grey.size() == f.size() && ev.grey_scale > 0) {
        int ref = std::max(0, ar.begin_frame - 1);
        while (ref > 0 && !f[ref].face) --ref;
        const SurroundMotion sm =
            MeasureSurround(ev.grey[static_cast<size_t>(ref)], ev.grey[static_cast<size_t>(ar.peak_frame)], f[ref].mesh,
                            f[ar.peak_frame].mesh, ev.grey_scale);
        ar.detail += ", surround: " + std::to_string(sm.textured) + " textured px, " +
                     std::to_string(sm.follow).substr(0, 4) + " moved with the face";
        if (sm.textured < t.closer_min_textured) {
          ar.non_planar = false;
          ar.nonplanar = t.min_closer_depth;  // no evidence either way: inconclusive, not an attack
          reason("come_closer_background_not_visible");
          soft_fail = true;
        } else if (sm.follow >= t.closer_max_follow) {
          ar.non_planar = false;
          ar.nonplanar = 0.f;
        }
      } else {
        ar.non_planar = false;
        ar.nonplanar = t.min_closer_depth;
        reason("come_closer_background_not_checked");
        soft_fail = true;
      }
    }
    if (ar.detected) {
      from = ar.end_frame + 1;
      if (!ar.non_planar && !(a == Action::kComeCloser && ar.nonplanar >= t.min_closer_depth)) {
        // Movement seen, but as a flat picture moves: strong evidence of an attack.
        const float thr = a == Action::kComeCloser ? t.min_closer_depth : t.min_nonplanar;
        planar = std::max(planar, 1.f - 0.5f * std::clamp(ar.nonplanar / thr, 0.f, 1.f));
        reason(std::string(ActionName(a)) + "_planar_motion");
      }
      if (a != Action::kBlink && ar.end_ms - ar.begin_ms < t.min_action_ms)
        reason(std::string(ActionName(a)) + "_too_fast"), soft_fail = true;
      if (a != Action::kBlink && IncrementCv(f, a, ar.begin_frame, ar.peak_frame) < 0.08f)
        reason(std::string(ActionName(a)) + "_too_regular"), soft_fail = true;
    } else {
      if (a == Action::kBlink && ar.peak_frame >= 0) {
        planar = std::max(planar, 0.75f);
        reason("blink_planar_motion");
      }
      reason(std::string(ActionName(a)) + "_not_detected");
      soft_fail = true;
    }
    r.actions.push_back(ar);
  }
  r.planar_score = planar;

  // Same person: sampled embeddings against their medoid.
  if (ev.embeddings.size() >= 2) {
    r.identity_checked = true;
    const size_t m = ev.embeddings.size();
    size_t medoid = 0;
    float best = -1e9f;
    for (size_t i = 0; i < m; ++i) {
      float s = 0;
      for (size_t j = 0; j < m; ++j) s += face::CosineSimilarity(ev.embeddings[i], ev.embeddings[j]);
      if (s > best) best = s, medoid = i;
    }
    for (size_t i = 0; i < m; ++i)
      r.identity_min_cos =
          std::min(r.identity_min_cos, face::CosineSimilarity(ev.embeddings[i], ev.embeddings[medoid]));
    if (r.identity_min_cos < t.same_person_cos) reason("identity_changed");
  } else {
    reason("identity_not_checked"), soft_fail = true;
  }

  // Passive cues over the checked frames (median: one odd frame does not decide).
  if (!ev.passive.empty()) {
    std::vector<float> s;
    for (const auto& p : ev.passive) s.push_back(p.attack_score);
    r.passive_score = Median(s);
    if (r.passive_score >= 0.5f) {
      for (const auto& p : ev.passive) {
        for (const auto& why : p.reasons) reason("passive_" + why);
      }
    }
  } else {
    reason("passive_not_checked"), soft_fail = true;
  }

  r.attack_score = std::max(r.passive_score, r.planar_score);
  if (r.identity_checked && r.identity_min_cos < t.same_person_cos) r.attack_score = 1.f;
  if (!r.track_continuous) r.attack_score = 1.f;
  if (hard_fail) r.attack_score = std::max(r.attack_score, 0.5f);
  r.best_frames = RankBestFrames(f, 3);

  if (r.attack_score >= t.attack)
    r.verdict = Verdict::kAttack;
  else if (soft_fail)
    r.verdict = Verdict::kInconclusive;
  else
    r.verdict = Verdict::kLive;
  r.analysis_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

LivenessVerifier::LivenessVerifier() : LivenessVerifier(Options{}) {}

namespace {
FrameAnalyzer MakeFrameAnalyzer(int threads, const face::FaceAnalyzer* share) {
  const FrameAnalyzerOptions fo{threads, 15, 0.5f};
  return share ? FrameAnalyzer(fo, share->detector(), share->mesh_model()) : FrameAnalyzer(fo);
}
}  // namespace

LivenessVerifier::LivenessVerifier(const Options& o, const face::FaceAnalyzer* share)
    : options_(o),
      frames_(MakeFrameAnalyzer(o.threads, share)),
      passive_(o.threads, o.passive),
      embedder_(share ? face::MakeResNet128NoFlipSharing(share->embedder()) : nullptr) {
  if (!embedder_) embedder_ = face::MakeResNet128Embedder(/*mesh_landmarks=*/true, /*flip=*/false, o.threads);
}

std::vector<const nn::Model*> LivenessVerifier::models() const {
  std::vector<const nn::Model*> m = {&frames_.detector().model(), &frames_.mesh_model().model(),
                                     &passive_.antispoof_model(), &passive_.liveness_model(),
                                     &passive_.selfie_model(),    &embedder_->model()};
  if (frames_.iris_model() != nullptr) m.push_back(frames_.iris_model());
  return m;
}

SequenceResult LivenessVerifier::Verify(const Challenge& challenge, const std::vector<cv::Mat>& rgb,
                                        const std::vector<int64_t>& t_ms, SequenceEvidence* out) {
  SequenceEvidence ev;
  frames_.Reset();
  for (size_t i = 0; i < rgb.size(); ++i) ev.frames.push_back(frames_.Analyze(rgb[i], t_ms[i]));
  std::vector<int> face_idx;
  for (int i = 0; i < static_cast<int>(ev.frames.size()); ++i) {
    if (ev.frames[i].face) face_idx.push_back(i);
  }
  const std::vector<int> best = RankBestFrames(ev.frames, options_.passive_frames);
  // Embed near-frontal, eyes-open frames spread over the whole track (a cut anywhere lands between
  // two of them), plus the best frame; turned frames would lower the similarity of one person.
  std::vector<float> yaws, pitches;
  for (int i : face_idx) yaws.push_back(ev.frames[i].yaw_deg), pitches.push_back(ev.frames[i].pitch_deg);
  std::sort(yaws.begin(), yaws.end());
  std::sort(pitches.begin(), pitches.end());
  std::vector<int> frontal;
  if (!face_idx.empty()) {
    const float y0 = yaws[yaws.size() / 2], p0 = pitches[pitches.size() / 2];
    for (int i : face_idx) {
      if (std::abs(ev.frames[i].yaw_deg - y0) < 12 && std::abs(ev.frames[i].pitch_deg - p0) < 12) frontal.push_back(i);
    }
  }
  if (frontal.size() < 2) frontal = face_idx;
  std::vector<int> emb;
  const int k = options_.embed_frames;
  for (int j = 0; j < k && !frontal.empty(); ++j) {
    emb.push_back(frontal[static_cast<size_t>(j) * (frontal.size() - 1) / std::max(k - 1, 1)]);
  }
  for (int i : emb) {
    ev.embedded_frames.push_back(i);
    ev.embeddings.push_back(embedder_->Embed(rgb[i], face::ToFloat(rgb[i]), ev.frames[i].mesh));
  }
  for (int i : best) {
    ev.passive_frames.push_back(i);
    ev.passive.push_back(passive_.Check(rgb[i], ev.frames[i].mesh));
  }
  // Small grey copies of the frames (memory only) for the image cues of the sequence.
  if (!rgb.empty() && rgb[0].cols > 0) {
    ev.grey_scale = std::min(1.f, 160.f / static_cast<float>(rgb[0].cols));
    for (const auto& m : rgb) {
      cv::Mat g, small;
      cv::cvtColor(m, g, cv::COLOR_RGB2GRAY);
      cv::resize(g, small, cv::Size(), ev.grey_scale, ev.grey_scale, cv::INTER_AREA);
      ev.grey.push_back(small);
    }
  }
  SequenceResult r = VerifySequence(challenge, ev, options_.thresholds);
  if (out) *out = std::move(ev);
  return r;
}

}  // namespace idm::liveness
