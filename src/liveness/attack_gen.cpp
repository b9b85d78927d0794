#include "liveness/attack_gen.h"

#include <cmath>
#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace idm::liveness {

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Pose {
  double rx = 0, ry = 0, rz = 0;  // degrees: tilt (top away), turn (right edge away), in-plane
  double tx = 0, ty = 0;          // camera pixels at the rest distance
  double z = 1;                   // distance, relative to the rest distance
};

// The physical picture: the face photo as printed or as shown on a phone, with its surround.
cv::Mat MakeCard(AttackSpecies s, const cv::Mat& photo, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> U(0, 1);
  cv::Mat img;
  if (s == AttackSpecies::kPhoneScreen) {
    // Screen: 3x upsampled, each screen pixel drawn as R, G, B subpixel stripes with dark gaps.
    cv::Mat up;
    const int k = 3;
    cv::resize(photo, up, cv::Size(photo.cols * k, photo.rows * k), 0, 0, cv::INTER_NEAREST);
    const double gamma = 0.8 + 0.3 * U(rng);  // screen tone curve differs from the camera's
    const double reflect_pos = U(rng), reflect_strength = 0.10 + 0.2 * U(rng);
    for (int y = 0; y < up.rows; ++y) {
      for (int x = 0; x < up.cols; ++x) {
        cv::Vec3b& p = up.at<cv::Vec3b>(y, x);
        const int sub = x % k;
        const bool gap = (y % k) == k - 1;
        for (int c = 0; c < 3; ++c) {
          double v = std::pow(p[c] / 255.0, gamma);
          v = c == sub ? std::min(1.0, v * 1.25) : v * 0.8;  // the lit subpixel carries more of the colour
          if (gap) v *= 0.85;
          // A soft diagonal reflection band across the glass.
          const double d = (static_cast<double>(x) / up.cols + static_cast<double>(y) / up.rows) * 0.5 - reflect_pos;
          v += reflect_strength * std::exp(-d * d / 0.01);
          p[c] = cv::saturate_cast<uint8_t>(255.0 * v);
        }
      }
    }
    // Bezel (black glass) and phone body.
    const int bezel = static_cast<int>(up.cols * (0.04 + 0.03 * U(rng)));
    const int body = static_cast<int>(up.cols * 0.03);
    cv::Mat screen;
    cv::copyMakeBorder(up, screen, bezel * 2, bezel * 2, bezel, bezel, cv::BORDER_CONSTANT, cv::Scalar(8, 8, 10));
    const int g = static_cast<int>(40 + 60 * U(rng));
    cv::copyMakeBorder(screen, img, body, body, body, body, cv::BORDER_CONSTANT, cv::Scalar(g, g, g + 5));
  } else {
    // Print: ink gamut (lower contrast, slightly desaturated, warm paper white) and paper grain.
    cv::Mat p = photo.clone();
    std::normal_distribution<double> grain(0, 3);
    const double sat = 0.75 + 0.2 * U(rng);
    for (int y = 0; y < p.rows; ++y) {
      for (int x = 0; x < p.cols; ++x) {
        cv::Vec3b& q = p.at<cv::Vec3b>(y, x);
        const double l = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
        for (int c = 0; c < 3; ++c) {
          const double v = l + sat * (q[c] - l);
          q[c] = cv::saturate_cast<uint8_t>(18 + v * (232.0 - 18) / 255.0 + grain(rng));
        }
      }
    }
    const int margin = static_cast<int>(p.cols * (0.04 + 0.06 * U(rng)));
    cv::copyMakeBorder(p, img, margin, margin, margin, margin, cv::BORDER_CONSTANT, cv::Scalar(240, 236, 226));
  }
  return img;
}

cv::Mat MakeBackground(int w, int h, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> U(0, 1);
  cv::Mat bg(h, w, CV_8UC3);
  // One draw per variable: the order of a call's arguments is unspecified, and a seed must give the
  // same scene whichever compiler built this (the draws keep GCC's right-to-left order).
  auto draw3 = [&](double base) {
    const double z = U(rng), y = U(rng), x = U(rng);
    return cv::Vec3d(base + 150 * x, base + 150 * y, base + 150 * z);
  };
  const cv::Vec3d a = draw3(60);
  const cv::Vec3d b = draw3(30);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double t = 0.5 * (static_cast<double>(x) / w + static_cast<double>(y) / h);
      const cv::Vec3d v = a * (1 - t) + b * t;
      bg.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uint8_t>(v[0]), cv::saturate_cast<uint8_t>(v[1]),
                                         cv::saturate_cast<uint8_t>(v[2]));
    }
  }
  // A few soft shapes (furniture, a door frame).
  for (int i = 0; i < 3; ++i) {
    const double y1 = U(rng), x1 = U(rng);
    const cv::Point p1(static_cast<int>(x1 * w), static_cast<int>(y1 * h));
    const double y2 = U(rng), x2 = U(rng);
    const cv::Point p2(p1.x + static_cast<int>((x2 - 0.5) * w), p1.y + static_cast<int>((y2 - 0.5) * h));
    const cv::Vec3d c = draw3(0) * (255.0 / 150.0);
    cv::rectangle(bg, p1, p2, cv::Scalar(c[0], c[1], c[2]), cv::FILLED);
  }
  cv::GaussianBlur(bg, bg, cv::Size(0, 0), 4);
  return bg;
}

// The card (a plane) at `pose`, seen by a pinhole camera, over the background; then the camera.
cv::Mat Render(const cv::Mat& card, const cv::Mat& bg, const Pose& pose, double rest_width_px, std::mt19937_64& rng) {
  const int W = bg.cols, H = bg.rows;
  const double f = 1.2 * W;                         // focal length (a ~45 degree field of view)
  const double Z0 = f * card.cols / rest_width_px;  // rest distance in card pixels
  const double rx = pose.rx * kPi / 180, ry = pose.ry * kPi / 180, rz = pose.rz * kPi / 180;
  const cv::Matx33d Rx(1, 0, 0, 0, std::cos(rx), -std::sin(rx), 0, std::sin(rx), std::cos(rx));
  const cv::Matx33d Ry(std::cos(ry), 0, std::sin(ry), 0, 1, 0, -std::sin(ry), 0, std::cos(ry));
  const cv::Matx33d Rz(std::cos(rz), -std::sin(rz), 0, std::sin(rz), std::cos(rz), 0, 0, 0, 1);
  const cv::Matx33d R = Rz * Ry * Rx;
  const double hw = card.cols / 2.0, hh = card.rows / 2.0;
  const cv::Point2f src[4] = {{0, 0},
                              {static_cast<float>(card.cols), 0},
                              {static_cast<float>(card.cols), static_cast<float>(card.rows)},
                              {0, static_cast<float>(card.rows)}};
  cv::Point2f dst[4];
  const double Z = Z0 * pose.z;
  const cv::Vec3d t(pose.tx * Z / f, pose.ty * Z / f, Z);
  for (int i = 0; i < 4; ++i) {
    const cv::Vec3d p = R * cv::Vec3d(src[i].x - hw, src[i].y - hh, 0) + t;
    dst[i] = cv::Point2f(static_cast<float>(f * p[0] / p[2] + W / 2.0), static_cast<float>(f * p[1] / p[2] + H / 2.0));
  }
  const cv::Mat M = cv::getPerspectiveTransform(src, dst);
  cv::Mat out = bg.clone();
  // No pre-filter: a screen's pixel grid aliases into moire exactly as on a real sensor.
  cv::warpPerspective(card, out, M, out.size(), cv::INTER_LINEAR, cv::BORDER_TRANSPARENT);
  // Camera: optics blur, sensor noise, JPEG.
  std::uniform_real_distribution<double> U(0, 1);
  cv::GaussianBlur(out, out, cv::Size(0, 0), 0.5 + 0.3 * U(rng));
  cv::Mat noise(out.size(), CV_16SC3);
  const double sigma = 2.0 + 2.0 * U(rng);
  cv::RNG(rng()).fill(noise, cv::RNG::NORMAL, 0, sigma);  // the attack's seed, not the thread's RNG
  cv::Mat o16;
  out.convertTo(o16, CV_16SC3);
  o16 += noise;
  o16.convertTo(out, CV_8UC3);
  std::vector<uint8_t> jpg;
  cv::imencode(".jpg", out, jpg, {cv::IMWRITE_JPEG_QUALITY, 75 + static_cast<int>(20 * U(rng))});
  return cv::imdecode(jpg, cv::IMREAD_COLOR);  // channel order is unchanged by the round trip
}

// Smooth 0 -> 1 -> 0 over u in [0, 1] (out and back), with the hold in the middle.
double OutAndBack(double u) {
  if (u < 0.4) return 0.5 - 0.5 * std::cos(kPi * u / 0.4);
  if (u < 0.6) return 1.0;
  return 0.5 + 0.5 * std::cos(kPi * (u - 0.6) / 0.4);
}

}  // namespace

const char* AttackSpeciesName(AttackSpecies s) {
  switch (s) {
    case AttackSpecies::kPrintedPhoto:
      return "printed_photo";
    case AttackSpecies::kPhoneScreen:
      return "phone_screen";
    case AttackSpecies::kCutToOther:
      return "cut_to_other_person";
  }
  return "?";
}

Clip MakeAttack(AttackSpecies species, const cv::Mat& photo, const std::vector<Action>& mimic, uint64_t seed,
                const AttackOptions& o, const cv::Mat& other) {
  if (photo.empty() || photo.type() != CV_8UC3)
    throw Error(ErrorCode::kInvalidArgument, "attack photo must be 8-bit RGB");
  if (species == AttackSpecies::kCutToOther && (other.empty() || other.type() != CV_8UC3))
    throw Error(ErrorCode::kInvalidArgument, "a cut attack needs a second 8-bit RGB photo");
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> U(0, 1);
  std::normal_distribution<double> N(0, 1);
  const AttackSpecies look = species == AttackSpecies::kCutToOther
                                 ? (U(rng) < 0.5 ? AttackSpecies::kPrintedPhoto : AttackSpecies::kPhoneScreen)
                                 : species;
  const cv::Mat card = MakeCard(look, photo, rng);
  const cv::Mat card_b = species == AttackSpecies::kCutToOther ? MakeCard(look, other, rng) : cv::Mat();
  const cv::Mat bg = MakeBackground(o.width, o.height, rng);
  const double rest_width = o.width * (0.45 + 0.15 * U(rng));
  Pose rest;
  rest.rx = 4 * N(rng), rest.ry = 4 * N(rng), rest.rz = 3 * N(rng);
  rest.tx = 0.05 * o.width * N(rng), rest.ty = 0.05 * o.height * N(rng);
  const double dt = 1000.0 / o.fps;
  const int64_t total = o.rest_ms + o.action_ms * static_cast<int64_t>(mimic.size());
  const int n = static_cast<int>(static_cast<double>(total) / dt);
  Clip clip;
  // Hand tremor: a slow random walk (drift) plus frame-to-frame shake.
  Pose drift;
  // How hard the attacker pushes each movement (a person moves a picture unevenly).
  std::vector<double> strength;
  for (size_t i = 0; i < mimic.size(); ++i) strength.push_back(0.8 + 0.4 * U(rng));
  for (int i = 0; i < n; ++i) {
    const double t = i * dt;
    Pose p = rest;
    if (t >= o.rest_ms) {
      const size_t k = std::min(mimic.size() - 1, static_cast<size_t>((t - o.rest_ms) / o.action_ms));
      const double u = (t - o.rest_ms - static_cast<double>(k) * o.action_ms) / o.action_ms;
      const double s = strength[k];
      switch (mimic[k]) {
        case Action::kTurnLeft:
          p.ry += 35 * s * OutAndBack(u);
          break;
        case Action::kTurnRight:
          p.ry -= 35 * s * OutAndBack(u);
          break;
        case Action::kLookUp:
          p.rx += 30 * s * OutAndBack(u);
          break;
        case Action::kComeCloser:
          p.z /= 1.0 + 0.8 * s * OutAndBack(u);
          break;
        case Action::kBlink: {
          // A quick forward tilt: squashes the eyes vertically for ~300 ms, like a closure.
          const double c = 0.45, w = 0.12;
          if (std::abs(u - c) < w) p.rx -= 35 * s * (0.5 + 0.5 * std::cos(kPi * (u - c) / w));
          break;
        }
      }
    }
    drift.rx += 0.3 * o.tremor * N(rng), drift.ry += 0.3 * o.tremor * N(rng), drift.rz += 0.2 * o.tremor * N(rng);
    drift.tx += 0.8 * o.tremor * N(rng), drift.ty += 0.8 * o.tremor * N(rng);
    drift.rx *= 0.95, drift.ry *= 0.95, drift.rz *= 0.95, drift.tx *= 0.95, drift.ty *= 0.95;
    p.rx += drift.rx, p.ry += drift.ry, p.rz += drift.rz;
    p.tx += drift.tx + 0.5 * o.tremor * N(rng), p.ty += drift.ty + 0.5 * o.tremor * N(rng);
    const bool second = species == AttackSpecies::kCutToOther && i >= n / 2;
    clip.frames.push_back(Render(second ? card_b : card, bg, p, rest_width, rng));
    clip.t_ms.push_back(o.start_ms + static_cast<int64_t>(std::llround(t)));
  }
  return clip;
}

cv::Mat MakeAttackFrame(AttackSpecies species, const cv::Mat& photo, uint64_t seed, const AttackOptions& o) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> U(0, 1);
  std::normal_distribution<double> N(0, 1);
  const cv::Mat card =
      MakeCard(species == AttackSpecies::kCutToOther ? AttackSpecies::kPrintedPhoto : species, photo, rng);
  const cv::Mat bg = MakeBackground(o.width, o.height, rng);
  Pose p;
  p.rx = 6 * N(rng), p.ry = 6 * N(rng), p.rz = 4 * N(rng);
  return Render(card, bg, p, o.width * (0.45 + 0.15 * U(rng)), rng);
}

}  // namespace idm::liveness
