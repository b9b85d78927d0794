#include "liveness/passive.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "face/tf_image_ops.h"
#include "liveness/frame_analyzer.h"

namespace idm::liveness {

namespace {

// Higher value = more attack-like: 0.5 at `t`, 1 at `full`, linear in between and below.
float RisingScore(float x, float t, float full) {
  if (x < t) return std::max(0.f, 0.5f * x / t);
  return std::min(1.f, 0.5f + 0.5f * (x - t) / std::max(full - t, 1e-6f));
}
// A probability of being genuine: 0.5 at `t`, 1 at 0, 0 at 1.
float FallingScore(float p, float t) {
  if (p >= t) return 0.5f * (1.f - p) / std::max(1.f - t, 1e-6f);
  return 0.5f + 0.5f * (t - p) / std::max(t, 1e-6f);
}

cv::Rect ClipRect(const cv::Rect2f& r, const cv::Mat& m) {
  return cv::Rect(cv::Point(static_cast<int>(std::floor(r.x)), static_cast<int>(std::floor(r.y))),
                  cv::Point(static_cast<int>(std::ceil(r.br().x)), static_cast<int>(std::ceil(r.br().y)))) &
         cv::Rect(0, 0, m.cols, m.rows);
}

}  // namespace

float MoirePeakDb(const cv::Mat& grey_face) {
  const int side = std::min({grey_face.cols, grey_face.rows, 128}) & ~1;
  if (side < 32) return 0.f;
  const cv::Rect c((grey_face.cols - side) / 2, (grey_face.rows - side) / 2, side, side);
  cv::Mat f;
  grey_face(c).convertTo(f, CV_32F);
  f -= cv::mean(f)[0];
  cv::Mat win;
  cv::createHanningWindow(win, f.size(), CV_32F);
  f = f.mul(win);
  cv::Mat spec;
  cv::dft(f, spec, cv::DFT_COMPLEX_OUTPUT);
  std::vector<cv::Mat> ch;
  cv::split(spec, ch);
  cv::Mat mag;
  cv::magnitude(ch[0], ch[1], mag);
  const int n = side, half = n / 2;
  // Log magnitude over the upper half plane (the spectrum of a real image is symmetric).
  std::vector<std::vector<float>> ring(static_cast<size_t>(half) + 1);
  auto at = [&](int u, int v) { return mag.at<float>((v + n) % n, (u + n) % n); };
  auto db = [&](int u, int v) { return 20.f * std::log10(at(u, v) + 1e-3f); };
  for (int v = 0; v <= half; ++v) {
    for (int u = -half + 1; u <= half; ++u) {
      const int r = static_cast<int>(std::lround(std::hypot(u, v)));
      if (r <= half) ring[static_cast<size_t>(r)].push_back(db(u, v));
    }
  }
  std::vector<float> med(ring.size(), 0.f);
  for (size_t r = 0; r < ring.size(); ++r) {
    if (ring[r].empty()) continue;
    auto mid = ring[r].begin() + static_cast<long>(ring[r].size() / 2);
    std::nth_element(ring[r].begin(), mid, ring[r].end());
    med[r] = *mid;
  }
  // JPEG's 8x8 blocks put peaks at multiples of 1/8 cycle/px along each axis: not evidence.
  auto on_jpeg_grid = [&](int u) {
    const float k = std::abs(u) * 8.f / n;
    return std::abs(k - std::round(k)) * n / 8.f <= 1.01f;
  };
  float best = 0.f;
  const int r0 = static_cast<int>(0.12f * n);
  for (int v = 0; v <= half; ++v) {
    for (int u = -half + 1; u <= half; ++u) {
      const float rr = std::hypot(static_cast<float>(u), static_cast<float>(v));
      if (rr < r0 || rr > half) continue;
      if (on_jpeg_grid(u) || on_jpeg_grid(v) || std::abs(u) <= 1 || v <= 1) continue;
      const float x = db(u, v);
      // An isolated peak: above its 8 neighbours and above its ring's median.
      bool local_max = true;
      for (int dv = -1; dv <= 1 && local_max; ++dv) {
        for (int du = -1; du <= 1; ++du) {
          if ((du || dv) && db(u + du, v + dv) > x) {
            local_max = false;
            break;
          }
        }
      }
      if (!local_max) continue;
      best = std::max(best, x - med[static_cast<size_t>(std::lround(rr))]);
    }
  }
  return best;
}

int EnclosureSides(const cv::Mat& rgb, const cv::Rect2f& face) {
  cv::Mat grey, edges;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  cv::Canny(grey, edges, 60, 160);
  std::vector<cv::Vec4i> lines;
  const double min_len = 0.6 * face.height;
  cv::HoughLinesP(edges, lines, 1, CV_PI / 180, 30, min_len, 4);
  bool side[4] = {false, false, false, false};  // left, right, top, bottom
  const float reach = 2.5f * std::max(face.width, face.height);
  for (const auto& l : lines) {
    const float x1 = static_cast<float>(l[0]), y1 = static_cast<float>(l[1]), x2 = static_cast<float>(l[2]),
                y2 = static_cast<float>(l[3]);
    const float dx = std::abs(x2 - x1), dy = std::abs(y2 - y1);
    if (dy > 2.2f * dx) {  // near vertical (within ~24 degrees)
      const float ylo = std::min(y1, y2), yhi = std::max(y1, y2);
      const float overlap = std::min(yhi, face.br().y) - std::max(ylo, face.y);
      if (overlap < 0.5f * face.height) continue;
      const float x = 0.5f * (x1 + x2);
      if (std::max(x1, x2) < face.x - 0.05f * face.width && x > face.x - reach) side[0] = true;
      if (std::min(x1, x2) > face.br().x + 0.05f * face.width && x < face.br().x + reach) side[1] = true;
    } else if (dx > 2.2f * dy) {
      const float xlo = std::min(x1, x2), xhi = std::max(x1, x2);
      const float overlap = std::min(xhi, face.br().x) - std::max(xlo, face.x);
      if (overlap < 0.5f * face.width) continue;
      const float y = 0.5f * (y1 + y2);
      if (std::max(y1, y2) < face.y - 0.05f * face.height && y > face.y - reach) side[2] = true;
      if (std::min(y1, y2) > face.br().y + 0.05f * face.height && y < face.br().y + reach) side[3] = true;
    }
  }
  return side[0] + side[1] + side[2] + side[3];
}

void GlareAndClipping(const cv::Mat& rgb_face, float* glare, float* clipping) {
  *glare = *clipping = 0.f;
  if (rgb_face.empty()) return;
  cv::Mat hsv;
  cv::cvtColor(rgb_face, hsv, cv::COLOR_RGB2HSV);
  int g = 0, c = 0;
  for (int y = 0; y < rgb_face.rows; ++y) {
    for (int x = 0; x < rgb_face.cols; ++x) {
      const cv::Vec3b p = rgb_face.at<cv::Vec3b>(y, x), h = hsv.at<cv::Vec3b>(y, x);
      if (h[2] >= 235 && h[1] <= 30) ++g;
      if (p[0] == 0 || p[1] == 0 || p[2] == 0 || p[0] == 255 || p[1] == 255 || p[2] == 255) ++c;
    }
  }
  const float n = static_cast<float>(rgb_face.total());
  *glare = static_cast<float>(g) / n;
  *clipping = static_cast<float>(c) / n;
}

namespace {

// The part of the frame that holds picture: flat black rows and columns along the edges are
// padding (letterboxing, LFW's crops past the photo's edge), and their border with the picture is
// the camera frame's edge, not an edge in the scene. Only black: a flat white or grey band is as
// likely a clipped wall above a poster, whose edge is the very thing to find.
cv::Rect ContentRect(const cv::Mat& rgb) {
  auto padding = [](const cv::Mat& line) {
    cv::Scalar m, sd;
    cv::meanStdDev(line, m, sd);
    return std::max({m[0], m[1], m[2]}) < 24 && std::max({sd[0], sd[1], sd[2]}) < 8;
  };
  int top = 0, bottom = rgb.rows, left = 0, right = rgb.cols;
  while (top < bottom - 1 && padding(rgb.row(top))) ++top;
  while (bottom - 1 > top && padding(rgb.row(bottom - 1))) --bottom;
  while (left < right - 1 && padding(rgb(cv::Range(top, bottom), cv::Range(left, left + 1)))) ++left;
  while (right - 1 > left && padding(rgb(cv::Range(top, bottom), cv::Range(right - 1, right)))) --right;
  return {left, top, right - left, bottom - top};
}

}  // namespace

float SilhouetteCut(const cv::Mat& rgb_in, const cv::Mat& person, const cv::Rect2f& face_in) {
  if (rgb_in.empty() || person.empty() || face_in.area() <= 0) return 0.f;
  // Work at most 640 px wide or high: the outline comes from a 256 px mask anyway, and the
  // pixel-sized tolerances below then mean the same for every capture size.
  const double scale = std::min(1.0, 640.0 / std::max(rgb_in.cols, rgb_in.rows));
  cv::Mat rgb = rgb_in;
  if (scale < 1.0) cv::resize(rgb_in, rgb, cv::Size(), scale, scale, cv::INTER_AREA);
  const auto sf = static_cast<float>(scale);
  const cv::Rect2f face(face_in.x * sf, face_in.y * sf, face_in.width * sf, face_in.height * sf);
  const float size = std::max(face.width, face.height);
  const float frame = static_cast<float>(std::max(rgb.cols, rgb.rows));

  cv::Mat prob;
  cv::resize(person, prob, rgb.size(), 0, 0, cv::INTER_LINEAR);
  // The person: the connected part of the mask that covers most of the face.
  const cv::Mat inside = prob > 0.5f;
  cv::Mat labels;
  const int count = cv::connectedComponents(inside, labels, 8, CV_32S);
  const cv::Rect fr = ClipRect(face, rgb);
  if (count < 2 || fr.area() <= 0) return 0.f;
  std::vector<int> votes(static_cast<size_t>(count), 0);
  for (int y = fr.y; y < fr.br().y; ++y) {
    for (int x = fr.x; x < fr.br().x; ++x) ++votes[static_cast<size_t>(labels.at<int>(y, x))];
  }
  votes[0] = 0;
  const int who = static_cast<int>(std::max_element(votes.begin(), votes.end()) - votes.begin());
  if (votes[static_cast<size_t>(who)] < fr.area() / 4) return 0.f;  // the mask missed the person
  std::vector<std::vector<cv::Point>> outline;
  cv::findContours(labels == who, outline, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);

  cv::Mat grey, gx, gy;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  cv::GaussianBlur(grey, grey, cv::Size(3, 3), 0);
  cv::Sobel(grey, gx, CV_32F, 1, 0, 3);
  cv::Sobel(grey, gy, CV_32F, 0, 1, 3);
  // An image edge across direction n at p: within 2 px, a step of >= 10 grey levels (Sobel 40)
  // whose gradient points along n (within ~25 degrees).
  auto edge_at = [&](cv::Point2f p, cv::Point2f n) {
    for (int d = -2; d <= 2; ++d) {
      const cv::Point2f q = p + n * static_cast<float>(d);
      const int x = cvRound(q.x), y = cvRound(q.y);
      if (x < 1 || y < 1 || x >= rgb.cols - 1 || y >= rgb.rows - 1) continue;
      const float ax = gx.at<float>(y, x), ay = gy.at<float>(y, x);
      const float along = std::abs(ax * n.x + ay * n.y);
      if (along >= 40.f && along >= 0.9f * std::hypot(ax, ay)) return true;
    }
    return false;
  };
  // Distance from the person (probability >= 0.3): "background" is at least 4% of the face away.
  cv::Mat away;
  cv::distanceTransform(prob < 0.3f, away, cv::DIST_L2, 3);
  const cv::Rect content = ContentRect(rgb);
  const float margin = 0.02f * frame;
  auto near_border = [&](cv::Point2f p) {
    return p.x < static_cast<float>(content.x) + margin || p.y < static_cast<float>(content.y) + margin ||
           p.x > static_cast<float>(content.br().x - 1) - margin ||
           p.y > static_cast<float>(content.br().y - 1) - margin;
  };
  // How far the edge runs on from `p` along `dir` through the background: it may first cross up
  // to 0.2 face sizes of the person's fringe, then gaps up to 5% of the face are bridged; the
  // supported pixels are counted.
  auto continuation = [&](cv::Point2f p, cv::Point2f dir, cv::Point2f n) {
    float supported = 0, miss = 0;
    for (float t = 1; t <= 1.5f * size; t += 1) {
      const cv::Point2f q = p + dir * t;
      if (q.x < static_cast<float>(content.x + 2) || q.y < static_cast<float>(content.y + 2) ||
          q.x > static_cast<float>(content.br().x - 3) || q.y > static_cast<float>(content.br().y - 3)) {
        break;
      }
      if (away.at<float>(cvRound(q.y), cvRound(q.x)) < 0.04f * size) {
        if (t < 0.2f * size && supported == 0) continue;
        break;
      }
      if (edge_at(q, n)) {
        ++supported;
        miss = 0;
      } else if (++miss > 0.05f * size) {
        break;
      }
    }
    return supported;
  };

  const cv::Point2f centre(face.x + 0.5f * face.width, face.y + 0.5f * face.height);
  float best = 0.f;
  for (const auto& c : outline) {
    // Straight stretches: the outline simplified to within 1.2% of the frame (3 mask pixels).
    std::vector<cv::Point> poly;
    cv::approxPolyDP(c, poly, 0.012 * frame, true);
    for (size_t k = 0; k < poly.size(); ++k) {
      const cv::Point2f a = poly[k], b = poly[(k + 1) % poly.size()];
      const float len = static_cast<float>(cv::norm(b - a));
      if (len < 0.2f * size || near_border(0.5f * (a + b))) continue;  // short, or the frame's own edge
      if (std::min(a.y, b.y) >= face.br().y) continue;                 // below the chin: shoulders, arms, a desk
      if (cv::norm(0.5f * (a + b) - centre) > 2.f * size) continue;
      const cv::Point2f dir = (b - a) / len, n(-dir.y, dir.x);
      int on = 0, steps = 0;
      for (float t = 0; t <= len; t += 1, ++steps) on += edge_at(a + dir * t, n);
      if (on < 0.7f * static_cast<float>(steps)) continue;  // the mask's guess, not an edge in the image
      const float beyond = continuation(a, -dir, n) + continuation(b, dir, n);
      best = std::max(best, std::min(len, beyond) / size);
    }
  }
  return best;
}

cv::Mat PassiveChecker::PersonProbability(const cv::Mat& rgb) const {
  // Human's preprocessing: the whole frame stretched to the input size (TF legacy bilinear), 0..1.
  const int side = 256;
  face::FloatImage x = face::ResizeBilinearTf(face::ToFloat(rgb), side, side);
  const float zero[3] = {0, 0, 0};
  face::Normalize(x, zero, 255.f, 0.f);
  const auto out = const_cast<nn::Model&>(*selfie_).Run({x.data.data()});
  cv::Mat m(side, side, CV_32F);
  std::copy(out.at(0).begin(), out.at(0).end(), m.ptr<float>());
  return m;
}

PassiveChecker::PassiveChecker(int threads, const PassiveThresholds& t) : t_(t) {
  const std::string root = nn::ModelRoot() + "/human-models/models/";
  antispoof_ = nn::Model::FromTfjs("antispoof", root + "antispoof.json", {}, threads);
  liveness_ = nn::Model::FromTfjs("liveness", root + "liveness.json", {}, threads);
  selfie_ = nn::Model::FromTfjs("selfie", root + "selfie.json", {}, threads);
}

PassiveCues PassiveChecker::Measure(const cv::Mat& rgb, const face::FaceMesh& mesh) const {
  PassiveCues c;
  // Human's face tensor: the mesh crop at 192 px, 0..1; the two nets take it resized.
  const face::FloatImage frame = face::ToFloat(rgb);
  const float H = static_cast<float>(frame.height), W = static_cast<float>(frame.width);
  const cv::Rect2f& b = mesh.crop;
  face::FloatImage crop = face::CropAndResizeTf(frame, b.y / H, b.x / W, b.br().y / H, b.br().x / W,
                                                face::MeshModel::kInputSize, face::MeshModel::kInputSize);
  const float zero[3] = {0, 0, 0};
  face::Normalize(crop, zero, 255.f, 0.f);
  {
    const face::FloatImage x = face::ResizeBilinearTf(crop, 128, 128);
    c.antispoof_real = const_cast<nn::Model&>(*antispoof_).Run({x.data.data()})[0][0];
  }
  {
    const face::FloatImage x = face::ResizeBilinearTf(crop, 32, 32);
    c.liveness_live = const_cast<nn::Model&>(*liveness_).Run({x.data.data()})[0][0];
  }
  const cv::Rect2f fb = MeshBounds(mesh);
  const cv::Rect roi = ClipRect(fb, rgb);
  if (roi.area() > 64) {
    cv::Mat grey;
    cv::cvtColor(rgb(roi), grey, cv::COLOR_RGB2GRAY);
    c.moire_db = MoirePeakDb(grey);
    GlareAndClipping(rgb(roi), &c.glare, &c.clipping);
  }
  c.enclosure = static_cast<float>(EnclosureSides(rgb, fb));
  c.silhouette_cut = SilhouetteCut(rgb, PersonProbability(rgb), fb);
  return c;
}

PassiveResult PassiveChecker::Score(const PassiveCues& c) const {
  PassiveResult r;
  r.cues = c;
  r.antispoof_score = FallingScore(c.antispoof_real, t_.antispoof_real);
  r.liveness_score = FallingScore(c.liveness_live, t_.liveness_live);
  r.moire_score = RisingScore(c.moire_db, t_.moire_db, t_.moire_db_full);
  r.enclosure_score = RisingScore(c.enclosure, t_.enclosure_sides, 4.f);
  r.glare_score = RisingScore(c.glare, t_.glare, t_.glare_full);
  r.clipping_score = RisingScore(c.clipping, t_.clipping, t_.clipping_full);
  r.silhouette_cut_score = RisingScore(c.silhouette_cut, t_.silhouette_cut, t_.silhouette_cut_full);
  const std::pair<float, const char*> all[] = {{r.antispoof_score, "antispoof_net"},
                                               {r.liveness_score, "liveness_net"},
                                               {r.moire_score, "moire_pattern"},
                                               {r.enclosure_score, "screen_or_photo_border"},
                                               {r.glare_score, "specular_glare"},
                                               {r.clipping_score, "colour_clipping"},
                                               {r.silhouette_cut_score, "silhouette_cut_straight"}};
  for (const auto& [s, name] : all) {
    r.attack_score = std::max(r.attack_score, s);
    if (s >= 0.5f) r.reasons.push_back(name);
  }
  r.attack = r.attack_score >= t_.attack;
  return r;
}

PassiveResult PassiveChecker::Check(const cv::Mat& rgb, const face::FaceMesh& mesh) const {
  return Score(Measure(rgb, mesh));
}

}  // namespace idm::liveness
