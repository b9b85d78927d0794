#include "document/document.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <numeric>
#include <opencv2/imgproc.hpp>

// The UTF-8 API of zxing-cpp 1.4 (not that any text is read here: only whether a code decodes).
#define ZX_USE_UTF8 1
#include <ZXing/ReadBarcode.h>
#include <sodium.h>

#include "face/analyzer.h"
#include "face/tf_image_ops.h"

namespace idm::document {
namespace {

double Dist(const cv::Point2f& a, const cv::Point2f& b) { return cv::norm(a - b); }

// TL, TR, BR, BL by position; the long side horizontal.
std::array<cv::Point2f, 4> OrderCorners(std::vector<cv::Point2f> p) {
  const cv::Point2f c = (p[0] + p[1] + p[2] + p[3]) * 0.25f;
  std::sort(p.begin(), p.end(), [&](const cv::Point2f& a, const cv::Point2f& b) {
    return std::atan2(a.y - c.y, a.x - c.x) < std::atan2(b.y - c.y, b.x - c.x);
  });
  // atan2 order from -pi: TL, TR, BR, BL for an upright quad.
  std::array<cv::Point2f, 4> q = {p[0], p[1], p[2], p[3]};
  const double w = Dist(q[0], q[1]) + Dist(q[3], q[2]), h = Dist(q[0], q[3]) + Dist(q[1], q[2]);
  if (h > w) q = {q[3], q[0], q[1], q[2]};  // card stands on its short side: rotate the labels
  return q;
}

cv::Vec3f Lab(const cv::Vec3b& rgb) {
  cv::Mat m(1, 1, CV_8UC3, cv::Scalar(rgb[0], rgb[1], rgb[2])), lab;
  cv::cvtColor(m, lab, cv::COLOR_RGB2Lab);
  const cv::Vec3b v = lab.at<cv::Vec3b>(0, 0);
  return {v[0] * 100.f / 255.f, v[1] - 128.f, v[2] - 128.f};
}

// Per channel, the value at sorted position total/2, found by counting: it runs for every layout
// on every candidate outline, where copying and partially sorting the pixels was a sixth of the
// whole document analysis.
cv::Vec3b MedianColour(const cv::Mat& rgb) {
  std::array<std::array<int64_t, 256>, 3> count{};
  for (int y = 0; y < rgb.rows; ++y) {
    const cv::Vec3b* row = rgb.ptr<cv::Vec3b>(y);
    for (int x = 0; x < rgb.cols; ++x)
      for (int c = 0; c < 3; ++c) ++count[c][row[x][c]];
  }
  const int64_t half = static_cast<int64_t>(rgb.total()) / 2;
  cv::Vec3b out;
  for (int c = 0; c < 3; ++c) {
    int v = 0;
    for (int64_t seen = count[c][0]; seen <= half && v < 255; seen += count[c][v]) ++v;
    out[c] = static_cast<uint8_t>(v);
  }
  return out;
}

// Colour distance with lightness down-weighted (lighting changes it most).
double ColourDistance(const cv::Vec3b& a, const cv::Vec3b& b) {
  const cv::Vec3f la = Lab(a), lb = Lab(b);
  const double dl = (la[0] - lb[0]) / 3, da = la[1] - lb[1], db = la[2] - lb[2];
  return std::sqrt(dl * dl + da * da + db * db);
}

double Fraction(const cv::Mat& gray, int lo, int hi) {
  if (gray.empty()) return 0;
  cv::Mat m;
  cv::inRange(gray, lo, hi, m);
  return static_cast<double>(cv::countNonZero(m)) / static_cast<double>(gray.total());
}

// Share of a zone's pixels covered by thin dark print: at least 50 grey levels under the zone
// closed over about a glyph's width (`card_width` / 34: an MRZ glyph at any classification
// width). A fixed darkness cut misses OCR-B at 240 px, whose strokes average out to mid-grey
// (on generated passports 40 of 60 MRZs fell under it, against 0 of 60 here).
double InkFraction(const cv::Mat& gray_zone, int card_width, int min_depth = 50) {
  if (gray_zone.empty()) return 0;
  const int k = std::max(3, (card_width / 34) | 1);
  cv::Mat ink;
  cv::morphologyEx(gray_zone, ink, cv::MORPH_BLACKHAT, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(k, k)));
  return Fraction(ink, min_depth, 255);
}

// Share of pixels whose every channel is >= 220: what glare leaves of a printed picture.
double WashedOutFraction(const cv::Mat& rgb) {
  if (rgb.empty()) return 0;
  cv::Mat m;
  cv::inRange(rgb, cv::Scalar(220, 220, 220), cv::Scalar(255, 255, 255), m);
  return static_cast<double>(cv::countNonZero(m)) / static_cast<double>(m.total());
}

// The grey picture of one zone: only the QR, MRZ and field zones are measured in grey, so the
// rest of the card is not converted (this runs per layout on every candidate outline).
cv::Mat GrayZone(const cv::Mat& card, const cv::Rect& zone) {
  cv::Mat gray;
  if (zone.empty()) return gray;  // a layout's thin zone can round to nothing at 240 px
  cv::cvtColor(card(zone), gray, cv::COLOR_RGB2GRAY);
  return gray;
}

// `est_aspect` (0: not known) is the card's width / height as measured from its outline in the
// photo; `alt_aspect` (0: none), the same under the other principal-point hypothesis
// (PerspectiveAspect): the closer of the two counts.
double LayoutScore(const cv::Mat& card, const DocumentLayout& l, double est_aspect, MrzFormat mrz_format,
                   double alt_aspect = 0) {
  const cv::Size sz = card.size();
  const double dh = ColourDistance(MedianColour(card(l.header.ToRect(sz))), l.header_rgb);
  // The background: the card's median colour outside the header and portrait.
  const cv::Mat body = card(cv::Rect(0, l.header.ToRect(sz).height, sz.width, sz.height - l.header.ToRect(sz).height));
  const double db = ColourDistance(MedianColour(body), l.background);
  double s = std::exp(-0.5 * std::pow(dh / 22, 2)) * std::exp(-0.5 * std::pow(db / 14, 2));
  auto aspect_fit = [&](double a) { return std::exp(-0.5 * std::pow(std::log(a / l.aspect()) / 0.12, 2)); };
  if (est_aspect > 0) s *= std::max(aspect_fit(est_aspect), alt_aspect > 0 ? aspect_fit(alt_aspect) : 0.0);
  if (l.qr) {
    const cv::Mat q = GrayZone(card, l.qr->ToRect(sz));
    const double dark = Fraction(q, 0, 90), bright = Fraction(q, 170, 255);
    s *= (dark > 0.15 && bright > 0.15) ? 1.0 : 0.5;
  }
  if (l.mrz_format != MrzFormat::kUnknown) {
    if (mrz_format != MrzFormat::kUnknown) {
      s *= mrz_format == l.mrz_format ? 1.0 : 0.05;
    } else {
      const double ink = InkFraction(GrayZone(card, l.mrz.ToRect(sz)), sz.width);
      s *= (ink > 0.04 && ink < 0.4) ? 1.0 : 0.3;
    }
  } else if (mrz_format != MrzFormat::kUnknown) {
    s *= 0.2;
  }
  return s;
}

cv::Rect Expand(const cv::Rect& r, double f, const cv::Size& bound) {
  const int dx = static_cast<int>(r.width * (f - 1) / 2), dy = static_cast<int>(r.height * (f - 1) / 2);
  return cv::Rect(r.x - dx, r.y - dy, r.width + 2 * dx, r.height + 2 * dy) & cv::Rect(0, 0, bound.width, bound.height);
}

// Whether `q` is within `tol` px (every corner) of one of `list`.
bool SameQuad(const std::vector<std::array<cv::Point2f, 4>>& list, const std::array<cv::Point2f, 4>& q, double tol) {
  for (const auto& o : list) {
    double e = 0;
    for (int i = 0; i < 4; ++i) e = std::max(e, Dist(o[i], q[i]));
    if (e < tol) return true;
  }
  return false;
}

// Width / height of the rectangle a quad (TL, TR, BR, BL) is the picture of. The image aspect of a
// tilted card is off by up to ~20% at 30 degrees, enough to take an ID-1 card for ID-2. Given the
// principal point, the two vanishing points of the quad give the focal length (the
// whiteboard-rectification relation of Zhang and He); when the quad is too close to a
// parallelogram for that, a phone-like focal length (0.9 x the photo width) is assumed. The
// principal point is where the camera's axis met the picture: the photo's centre for a whole
// camera frame, but not for a photo cropped off-centre (cropped around the card, it is nearer the
// card's centre); a wrong one gives an aspect wrong by up to ~16%.
double PerspectiveAspect(const std::array<cv::Point2f, 4>& q, cv::Size photo, cv::Point2d principal) {
  const double cx = principal.x, cy = principal.y;
  auto h = [&](const cv::Point2f& p) { return cv::Vec3d(p.x - cx, p.y - cy, 1); };
  const cv::Vec3d m1 = h(q[0]), m2 = h(q[1]), m3 = h(q[3]), m4 = h(q[2]);  // TL, TR, BL, BR
  const double k2 = m1.cross(m4).dot(m3) / m2.cross(m4).dot(m3);
  const double k3 = m1.cross(m4).dot(m2) / m3.cross(m4).dot(m2);
  const cv::Vec3d n2 = k2 * m2 - m1, n3 = k3 * m3 - m1;
  double f2 = 0;
  if (std::abs(n2[2] * n3[2]) > 1e-9) f2 = -(n2[0] * n3[0] + n2[1] * n3[1]) / (n2[2] * n3[2]);
  const double w = photo.width;
  if (!(f2 > (0.5 * w) * (0.5 * w) && f2 < (2.5 * w) * (2.5 * w))) f2 = (0.9 * w) * (0.9 * w);
  const double num = (n2[0] * n2[0] + n2[1] * n2[1]) / f2 + n2[2] * n2[2];
  const double den = (n3[0] * n3[0] + n3[1] * n3[1]) / f2 + n3[2] * n3[2];
  if (!(num > 0 && den > 0) || !std::isfinite(num / den)) {
    return (Dist(q[0], q[1]) + Dist(q[3], q[2])) / std::max(1.0, Dist(q[0], q[3]) + Dist(q[1], q[2]));
  }
  return std::sqrt(num / den);
}

// Where two lines (each through two points) cross; false when they are (nearly) parallel.
bool Intersect(const cv::Point2f& p1, const cv::Point2f& p2, const cv::Point2f& p3, const cv::Point2f& p4,
               cv::Point2f* out) {
  const cv::Point2f r = p2 - p1, t = p4 - p3;
  const float den = r.x * t.y - r.y * t.x;
  if (std::abs(den) < 1e-6f * static_cast<float>(cv::norm(r) * cv::norm(t) + 1e-6)) return false;
  const float u = ((p3.x - p1.x) * t.y - (p3.y - p1.y) * t.x) / den;
  *out = p1 + r * u;
  return true;
}

// Straight-edge evidence for card outlines. The gradient is taken across a line only (text and
// clutter edges running across a side do not count), in the colour channel where it is
// strongest (a card and a table of one brightness still differ in colour).
class LineEvidence {
 public:
  explicit LineEvidence(const cv::Mat& rgb_small) {
    cv::Mat b;
    cv::GaussianBlur(rgb_small, b, cv::Size(5, 5), 0);
    std::vector<cv::Mat> ch;
    cv::split(b, ch);
    gx_ = cv::Mat::zeros(b.size(), CV_32F);
    gy_ = cv::Mat::zeros(b.size(), CV_32F);
    cv::Mat best = cv::Mat::zeros(b.size(), CV_32F);
    for (const auto& c : ch) {
      cv::Mat gx, gy, m;
      cv::Sobel(c, gx, CV_32F, 1, 0);
      cv::Sobel(c, gy, CV_32F, 0, 1);
      cv::magnitude(gx, gy, m);
      const cv::Mat take = m > best;
      gx.copyTo(gx_, take);
      gy.copyTo(gy_, take);
      m.copyTo(best, take);
    }
  }

  // The strongest gradient across the direction `n` within 2 px of `p`; false if all of that is
  // outside the image.
  bool AcrossAt(const cv::Point2f& p, const cv::Point2f& n, float* g) const {
    bool inside = false;
    *g = 0;
    for (int j = -2; j <= 2; ++j) {
      const int x = cvRound(p.x + n.x * j), y = cvRound(p.y + n.y * j);
      if (x < 0 || y < 0 || x >= gx_.cols || y >= gx_.rows) continue;
      inside = true;
      *g = std::max(*g, std::abs(gx_.at<float>(y, x) * n.x + gy_.at<float>(y, x) * n.y));
    }
    return inside;
  }

  // Fraction of the points from t0 to t1 along a->b with an edge across the line (within 2 px of it).
  double Support(const cv::Point2f& a, const cv::Point2f& b, double t0, double t1, int samples) const {
    const cv::Point2f d = b - a;
    const float len = static_cast<float>(cv::norm(d));
    if (len < 1) return 0;
    const cv::Point2f n(-d.y / len, d.x / len);
    int on = 0, total = 0;
    for (int k = 0; k < samples; ++k) {
      float g = 0;
      if (!AcrossAt(a + d * static_cast<float>(t0 + (t1 - t0) * (k + 0.5) / samples), n, &g)) continue;
      ++total;
      on += g > kEdge;
    }
    return total ? static_cast<double>(on) / total : 0.0;
  }

  // Mean gradient across the segment a->b (the strongest within 2 px of each point): how much of
  // an edge is there, without a threshold (for edges too faint for Support).
  double MeanAcross(const cv::Point2f& a, const cv::Point2f& b, int samples) const {
    const cv::Point2f d = b - a;
    const float len = static_cast<float>(cv::norm(d));
    if (len < 1) return 0;
    const cv::Point2f n(-d.y / len, d.x / len);
    double sum = 0;
    int total = 0;
    for (int k = 0; k < samples; ++k) {
      float g = 0;
      if (!AcrossAt(a + d * static_cast<float>((k + 0.5) / samples), n, &g)) continue;
      ++total;
      sum += g;
    }
    return total ? sum / total : 0.0;
  }

  // Outlines near `seed` (TL, TR, BR, BL): each side may be replaced by a straight edge roughly
  // parallel to it -- found by sliding the side along its normal, or a long LSD segment -- and
  // every combination is scored as a whole (Score); the valid ones are appended to `out`.
  void AddQuads(const std::array<cv::Point2f, 4>& seed, const std::vector<cv::Vec4f>& segments, double img_area,
                std::vector<std::pair<double, std::array<cv::Point2f, 4>>>* out) const {
    using Line = std::pair<cv::Point2f, cv::Point2f>;
    std::array<std::vector<std::pair<double, Line>>, 4> cands;
    const cv::Point2f centre = (seed[0] + seed[1] + seed[2] + seed[3]) * 0.25f;
    for (int i = 0; i < 4; ++i) {
      const cv::Point2f a = seed[i], b = seed[(i + 1) % 4];
      const float len = static_cast<float>(cv::norm(b - a));
      cv::Point2f n(-(b - a).y / len, (b - a).x / len);
      if (n.dot((a + b) * 0.5f - centre) < 0) n = -n;  // outward
      const double other = (Dist(seed[(i + 1) % 4], seed[(i + 2) % 4]) + Dist(seed[(i + 3) % 4], seed[i])) / 2;
      const int reach = static_cast<int>(0.3 * other);
      auto& c = cands[i];
      c.push_back({2.0, {a, b}});  // the seed's own side always competes
      // Slide the side along its normal: local maxima of the support profile...
      std::vector<double> prof(2 * reach + 1);
      for (int dd = -reach; dd <= reach; ++dd)
        prof[dd + reach] = Support(a + n * static_cast<float>(dd), b + n * static_cast<float>(dd), 0.12, 0.88, 24);
      for (int dd = -reach; dd <= reach; ++dd) {
        const double v = prof[dd + reach];
        if (v < 0.25 || std::abs(dd) < 3) continue;
        bool peak = true;
        for (int k = std::max(-reach, dd - 3); k <= std::min(reach, dd + 3); ++k)
          peak &= prof[k + reach] <= v && !(prof[k + reach] == v && k < dd);
        if (!peak) continue;
        // ...each tilted a little (perspective makes a header's inner edge not quite parallel).
        double bs = -1;
        Line bl;
        for (int da = -8; da <= 8; da += 2)
          for (int db = -8; db <= 8; db += 2) {
            const Line l{a + n * static_cast<float>(dd + da), b + n * static_cast<float>(dd + db)};
            const double sc = Support(l.first, l.second, 0.12, 0.88, 24);
            if (sc > bs) bs = sc, bl = l;
          }
        c.push_back({bs, bl});
      }
      // Long LSD segments roughly parallel to the side, within the same reach.
      const cv::Point2f dir = (b - a) * (1.f / len);
      for (const auto& sg : segments) {
        const cv::Point2f p(sg[0], sg[1]), q(sg[2], sg[3]);
        const double sl = cv::norm(q - p);
        if (sl < 0.25 * len) continue;
        if (std::abs(dir.dot((q - p) * static_cast<float>(1.0 / sl))) < std::cos(10 * CV_PI / 180)) continue;
        const cv::Point2f m = (p + q) * 0.5f;
        const double off = (m - a).dot(n), along = (m - a).dot(dir) / len;
        if (std::abs(off) > reach || along < -0.1 || along > 1.1) continue;
        c.push_back({Support(p, q, 0, 1, 24), {p, q}});
      }
      // The strongest few, without near-duplicates.
      std::sort(c.begin(), c.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
      std::vector<std::pair<double, Line>> keep;
      for (const auto& e : c) {
        bool dup = false;
        for (const auto& k : keep) {
          cv::Point2f u, v;
          // Distance between the two lines where the seed side starts and ends.
          const auto at = [&](const Line& l, const cv::Point2f& x, cv::Point2f* o) {
            return Intersect(l.first, l.second, x, x + n, o);
          };
          if (at(e.second, a, &u) && at(k.second, a, &v) && Dist(u, v) < 3 && at(e.second, b, &u) &&
              at(k.second, b, &v) && Dist(u, v) < 3)
            dup = true;
        }
        if (!dup) keep.push_back(e);
        if (keep.size() >= 6) break;
      }
      c = keep;
    }
    std::array<size_t, 4> idx{};
    for (idx[0] = 0; idx[0] < cands[0].size(); ++idx[0])
      for (idx[1] = 0; idx[1] < cands[1].size(); ++idx[1])
        for (idx[2] = 0; idx[2] < cands[2].size(); ++idx[2])
          for (idx[3] = 0; idx[3] < cands[3].size(); ++idx[3]) {
            std::array<cv::Point2f, 4> q;
            bool ok = true;
            for (int i = 0; i < 4 && ok; ++i) {
              const Line& l0 = cands[(i + 3) % 4][idx[(i + 3) % 4]].second;
              const Line& l1 = cands[i][idx[i]].second;
              ok = Intersect(l0.first, l0.second, l1.first, l1.second, &q[i]);
            }
            if (!ok) continue;
            const double sc = Score(q, img_area);
            if (sc > 0) out->emplace_back(sc, q);
          }
  }

  // An outline's score: area x how completely every side lies on an edge x right angles, and a
  // penalty when a side's edge runs on past a corner -- the corner is then inside the card (the
  // inner edge of a header band, a photo's frame) rather than one of the card's own.
  double Score(const std::array<cv::Point2f, 4>& q, double img_area) const {
    const std::vector<cv::Point2f> poly(q.begin(), q.end());
    if (!cv::isContourConvex(poly)) return -1;
    const double area = cv::contourArea(poly);
    if (area < 0.03 * img_area || area > 0.995 * img_area) return -1;
    const double w = (Dist(q[0], q[1]) + Dist(q[3], q[2])) / 2, h = (Dist(q[0], q[3]) + Dist(q[1], q[2])) / 2;
    const double aspect = std::max(w, h) / std::max(1.0, std::min(w, h));
    if (aspect < 1.15 || aspect > 2.0) return -1;
    double worst = 0;
    for (int i = 0; i < 4; ++i) {
      const cv::Point2f a = q[(i + 3) % 4] - q[i], b = q[(i + 1) % 4] - q[i];
      worst = std::max(worst, std::abs(a.dot(b)) / (cv::norm(a) * cv::norm(b) + 1e-9));
    }
    if (worst > 0.6) return -1;
    double sum = 0, lo = 1;
    std::array<double, 4> fwd{}, bwd{};  // edge support past each side's end / start
    for (int i = 0; i < 4; ++i) {
      const cv::Point2f a = q[i], b = q[(i + 1) % 4];
      const double s = Support(a, b, 0.06, 0.94, 40);
      sum += s;
      lo = std::min(lo, s);
      const double len = Dist(a, b), ext = std::max(10.0, 0.12 * len);
      // Past each end: from 6 px beyond the corner (clear of the rounded corner and the card's
      // drop shadow) over `ext` px.
      const double t0 = 1 + 6 / len, t1 = 1 + (6 + ext) / len;
      fwd[i] = Support(a, b, t0, t1, 12);
      bwd[i] = Support(b, a, t0, t1, 12);
    }
    // Sides running on past a corner: the corner is then inside the card (a header band's inner
    // edge is crossed by the card's own sides). Measured at all eight ends and averaged: requiring
    // both neighbours of a side to run on (the exact header signature) missed faint band edges.
    double run_on = 0;
    for (int i = 0; i < 4; ++i) run_on += fwd[i] + bwd[i];
    const double mean = sum / 4;
    return std::sqrt(area) * mean * mean * mean * (0.5 + 0.5 * lo) * (1.2 - worst) * std::exp(-3 * run_on / 8);
  }

 private:
  static constexpr float kEdge = 40;  // Sobel units: a step of ~15 grey levels after the 5x5 blur
  cv::Mat gx_, gy_;
};

}  // namespace

const char* ProblemHint(const std::string& code) {
  if (code == kCardNotFound)
    return "no card found: lay the card flat on a plain, darker surface and fill most of the frame";
  if (code == kCardTooSmall) return "the card is too small in the picture: move the camera closer";
  if (code == kCardCutOff) return "part of the card is outside the picture: include all four corners";
  if (code == kBlurred) return "the picture is blurred: hold still and let the camera focus";
  if (code == kGlareOnPortrait) return "glare over the portrait: tilt the card or move away from the light";
  if (code == kGlareOnMrz) return "glare over the machine-readable lines: tilt the card or move away from the light";
  if (code == kPortraitObstructed) return "something covers the portrait (a finger?): hold the card by its edges";
  if (code == kPortraitNotFound) return "no face found on the card: show the side with the portrait";
  if (code == kBlankImage) return "the image is blank";
  return "";
}

namespace {

// Card outlines in the photo (TL, TR, BR, BL), best first, with their scores (LineEvidence::Score
// at the working scale); at most `max`, none within 8 px (working scale) of a better one. The
// evidence stays available to score other outlines of the same photo.
struct CardSearch {
  double scale = 1;  // working scale (long side <= 800 px) / photo
  double img_area = 0;
  std::unique_ptr<LineEvidence> ev;
  std::vector<std::pair<double, std::array<cv::Point2f, 4>>> cands;

  double ScoreOf(const std::array<cv::Point2f, 4>& photo_quad) const {
    std::array<cv::Point2f, 4> q;
    for (int i = 0; i < 4; ++i) q[i] = photo_quad[i] * static_cast<float>(scale);
    return ev ? ev->Score(q, img_area) : -1;
  }
};

CardSearch CardCandidates(const cv::Mat& rgb, int max_candidates) {
  CardSearch search;
  auto& out = search.cands;
  if (rgb.empty()) return search;
  const double s = std::min(1.0, 800.0 / std::max(rgb.cols, rgb.rows));
  cv::Mat small, gray;
  cv::resize(rgb, small, cv::Size(), s, s, cv::INTER_AREA);
  cv::cvtColor(small, gray, cv::COLOR_RGB2GRAY);
  const double img_area = static_cast<double>(small.total());
  search.scale = s;
  search.img_area = img_area;
  search.ev = std::make_unique<LineEvidence>(small);
  const LineEvidence& ev = *search.ev;
  // Edge maps: grey at two sensitivities, and the strongest colour-channel edges (a card and a
  // table of the same brightness still differ in colour).
  std::vector<cv::Mat> edge_maps;
  cv::Mat blur;
  cv::GaussianBlur(gray, blur, cv::Size(5, 5), 0);
  for (auto [lo, hi] : {std::pair{30, 90}, std::pair{60, 180}}) {
    cv::Mat e;
    cv::Canny(blur, e, lo, hi);
    edge_maps.push_back(e);
  }
  {
    std::vector<cv::Mat> ch;
    cv::Mat b2;
    cv::GaussianBlur(small, b2, cv::Size(5, 5), 0);
    cv::split(b2, ch);
    cv::Mat e = cv::Mat::zeros(gray.size(), CV_8U);
    for (auto& c : ch) {
      cv::Mat ec;
      cv::Canny(c, ec, 40, 120);
      e |= ec;
    }
    edge_maps.push_back(e);
  }
  // Gradient magnitude, for scoring how well a quad's sides lie on edges.
  // (the strongest of the three colour channels: a card and a table can share a brightness)
  cv::Mat mag = cv::Mat::zeros(gray.size(), CV_32F);
  {
    cv::Mat b3;
    cv::GaussianBlur(small, b3, cv::Size(5, 5), 0);
    std::vector<cv::Mat> ch;
    cv::split(b3, ch);
    for (const auto& c : ch) {
      cv::Mat gx, gy, m;
      cv::Sobel(c, gx, CV_32F, 1, 0);
      cv::Sobel(c, gy, CV_32F, 0, 1);
      cv::magnitude(gx, gy, m);
      mag = cv::max(mag, m);
    }
  }
  cv::dilate(mag, mag, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
  auto edge_support = [&](const std::array<cv::Point2f, 4>& o) {
    int on = 0, total = 0;
    for (int i = 0; i < 4; ++i) {
      const cv::Point2f a = o[i], b = o[(i + 1) % 4];
      for (int k = 1; k < 40; ++k) {
        const cv::Point2f p = a + (b - a) * (k / 40.f);
        const int x = cvRound(p.x), y = cvRound(p.y);
        if (x < 0 || y < 0 || x >= mag.cols || y >= mag.rows) continue;
        ++total;
        on += mag.at<float>(y, x) > 60;
      }
    }
    return total ? static_cast<double>(on) / total : 0.0;
  };
  // Candidate outlines: contours of the edge maps, and the foreground mask of colours unlike the
  // photo's border (the table), opened so that thin clutter touching the card comes off.
  std::vector<std::vector<cv::Point>> candidates;
  cv::Mat fg;
  for (cv::Mat& e : edge_maps) {
    cv::dilate(e, e, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3)));
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(e, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
    for (auto& c : contours)
      if (cv::contourArea(c) >= 0.03 * img_area) candidates.push_back(std::move(c));
  }
  {
    cv::Mat lab;
    cv::GaussianBlur(small, lab, cv::Size(5, 5), 0);
    cv::cvtColor(lab, lab, cv::COLOR_RGB2Lab);
    lab.convertTo(lab, CV_32FC3);
    std::vector<cv::Vec3f> border;
    const int step = 4;
    for (int x = 0; x < lab.cols; x += step) {
      border.push_back(lab.at<cv::Vec3f>(0, x));
      border.push_back(lab.at<cv::Vec3f>(lab.rows - 1, x));
    }
    for (int y = 0; y < lab.rows; y += step) {
      border.push_back(lab.at<cv::Vec3f>(y, 0));
      border.push_back(lab.at<cv::Vec3f>(y, lab.cols - 1));
    }
    cv::Mat samples(static_cast<int>(border.size()), 3, CV_32F, border.data()), labels, centres;
    const int k = std::min<int>(6, static_cast<int>(border.size()));
    // k-means++ seeds from OpenCV's thread RNG: fixed here (and restored after) so that a photo
    // always gives the same outline, whatever ran before on this thread.
    cv::RNG& rng = cv::theRNG();
    const uint64_t saved = rng.state;
    rng.state = 0x9e3779b97f4a7c15ULL;
    cv::kmeans(samples, k, labels, cv::TermCriteria(cv::TermCriteria::COUNT, 10, 1.0), 1, cv::KMEANS_PP_CENTERS,
               centres);
    rng.state = saved;
    fg.create(lab.size(), CV_8U);
    for (int y = 0; y < lab.rows; ++y)
      for (int x = 0; x < lab.cols; ++x) {
        const cv::Vec3f& v = lab.at<cv::Vec3f>(y, x);
        float dmin = 1e9f;
        for (int c = 0; c < k; ++c) {
          const float* ce = centres.ptr<float>(c);
          const float d =
              (v[0] - ce[0]) * (v[0] - ce[0]) + (v[1] - ce[1]) * (v[1] - ce[1]) + (v[2] - ce[2]) * (v[2] - ce[2]);
          dmin = std::min(dmin, d);
        }
        fg.at<uint8_t>(y, x) = dmin > 18 * 18 ? 255 : 0;
      }
    cv::morphologyEx(fg, fg, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(9, 9)));
    cv::morphologyEx(fg, fg, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(15, 15)));
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(fg, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    for (auto& c : contours)
      if (cv::contourArea(c) >= 0.03 * img_area) candidates.push_back(std::move(c));
  }
  double best = 0;
  std::vector<cv::Point2f> best_quad;
  std::vector<std::pair<double, std::array<cv::Point2f, 4>>> seeds;  // every outline that passed, by score
  // Moves each side along its normal (by up to ~8 px, both ends independently) onto the
  // strongest edge, then intersects the sides: corners of a rounded card, or of a polygon
  // approximation, land on the card's real outline.
  auto refine = [&](std::array<cv::Point2f, 4> o) {
    std::array<std::pair<cv::Point2f, cv::Point2f>, 4> sides;
    for (int i = 0; i < 4; ++i) {
      cv::Point2f a = o[i], b = o[(i + 1) % 4];
      const cv::Point2f dir = (b - a) * (1.f / static_cast<float>(cv::norm(b - a) + 1e-6));
      const cv::Point2f nrm(-dir.y, dir.x);
      // Only the middle 70% of the side: the corners are rounded.
      const cv::Point2f a2 = a + (b - a) * 0.15f, b2 = a + (b - a) * 0.85f;
      auto line_support = [&](const cv::Point2f& p, const cv::Point2f& q) {
        double sum = 0;
        for (int k = 0; k <= 30; ++k) {
          const cv::Point2f x = p + (q - p) * (k / 30.f);
          const int xi = cvRound(x.x), yi = cvRound(x.y);
          if (xi >= 0 && yi >= 0 && xi < mag.cols && yi < mag.rows) sum += std::min(mag.at<float>(yi, xi), 300.f);
        }
        return sum;
      };
      double best_s = -1;
      cv::Point2f bp = a2, bq = b2;
      for (int da = -8; da <= 8; da += 2)
        for (int db = -8; db <= 8; db += 2) {
          const cv::Point2f p = a2 + nrm * static_cast<float>(da), q = b2 + nrm * static_cast<float>(db);
          const double sc = line_support(p, q);
          if (sc > best_s) {
            best_s = sc;
            bp = p;
            bq = q;
          }
        }
      sides[i] = {bp, bq};
    }
    std::array<cv::Point2f, 4> out = o;
    for (int i = 0; i < 4; ++i) {
      const auto& [p1, p2] = sides[(i + 3) % 4];
      const auto& [p3, p4] = sides[i];
      const cv::Point2f r = p2 - p1, t = p4 - p3;
      const float den = r.x * t.y - r.y * t.x;
      if (std::abs(den) < 1e-6f) continue;
      const float u = ((p3.x - p1.x) * t.y - (p3.y - p1.y) * t.x) / den;
      out[i] = p1 + r * u;
    }
    return out;
  };
  auto consider = [&](const std::vector<cv::Point>& approx, double area) {
    if (!cv::isContourConvex(approx)) return;
    const double qa = cv::contourArea(approx);
    if (qa < 0.03 * img_area || qa > 0.995 * img_area) return;
    const auto o = refine(OrderCorners(std::vector<cv::Point2f>(approx.begin(), approx.end())));
    const std::vector<cv::Point2f> q(o.begin(), o.end());
    const double w = (Dist(o[0], o[1]) + Dist(o[3], o[2])) / 2, h = (Dist(o[0], o[3]) + Dist(o[1], o[2])) / 2;
    const double aspect = w / std::max(1.0, h);
    if (aspect < 1.15 || aspect > 2.0) return;
    // Angles near 90 degrees (perspective up to ~30 degrees keeps them within ~35).
    double worst = 0;
    for (int i = 0; i < 4; ++i) {
      const cv::Point2f a = o[(i + 3) % 4] - o[i], b = o[(i + 1) % 4] - o[i];
      worst = std::max(worst, std::abs(a.dot(b)) / (cv::norm(a) * cv::norm(b) + 1e-9));
    }
    if (worst > 0.6) return;
    const double support = edge_support(o);
    if (support < 0.5) return;
    const double fill = std::min(1.0, area / qa);
    const double score = qa * (0.5 + 0.5 * fill) * (1.2 - worst) * support;
    seeds.emplace_back(score, OrderCorners(q));
    if (score > best) {
      best = score;
      best_quad = q;
    }
  };
  for (const auto& c : candidates) {
    const double area = cv::contourArea(c);
    std::vector<cv::Point> hull, approx;
    cv::convexHull(c, hull);
    const double peri = cv::arcLength(hull, true);
    for (double eps : {0.01, 0.02, 0.04, 0.08}) {
      cv::approxPolyDP(hull, approx, eps * peri, true);
      if (approx.size() < 4) break;
      if (approx.size() > 8) continue;
      // Something touching the card (a blob of clutter) adds corners to the hull: every
      // 4-corner subset is a candidate, and the edges decide.
      const int n = static_cast<int>(approx.size());
      for (int a = 0; a < n; ++a)
        for (int b = a + 1; b < n; ++b)
          for (int c2 = b + 1; c2 < n; ++c2)
            for (int d2 = c2 + 1; d2 < n; ++d2) consider({approx[a], approx[b], approx[c2], approx[d2]}, area);
    }
  }
  if (best_quad.empty()) return search;
  // Line hypotheses around the best outlines: each side can move to another straight edge
  // parallel to it (a header band's inner edge, the card's own edge beyond it, a clutter line),
  // and the combination is scored on the whole outline, not side by side.
  {
    std::sort(seeds.begin(), seeds.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<cv::Vec4f> segments;
    cv::createLineSegmentDetector()->detect(gray, segments);
    std::vector<std::array<cv::Point2f, 4>> distinct;
    std::vector<std::pair<double, std::array<cv::Point2f, 4>>> scored;
    for (const auto& sq : seeds) {
      if (!SameQuad(distinct, sq.second, 6)) distinct.push_back(sq.second);
      if (distinct.size() >= 6) break;
    }
    // Outlines straight from the segments as well: two roughly parallel long segments crossed by
    // two others. When glare or clutter merges the card's contour with its surroundings, no
    // contour gives a seed near the card, but its sides are still long straight segments.
    {
      std::vector<cv::Vec4f> longest;
      const double min_len = 0.1 * std::max(small.cols, small.rows);
      for (const auto& sg : segments)
        if (std::hypot(sg[2] - sg[0], sg[3] - sg[1]) >= min_len) longest.push_back(sg);
      std::sort(longest.begin(), longest.end(), [](const cv::Vec4f& a, const cv::Vec4f& b) {
        return std::hypot(a[2] - a[0], a[3] - a[1]) > std::hypot(b[2] - b[0], b[3] - b[1]);
      });
      if (longest.size() > 24) longest.resize(24);
      auto angle = [](const cv::Vec4f& a) { return std::atan2(a[3] - a[1], a[2] - a[0]); };
      auto parallel = [&](const cv::Vec4f& a, const cv::Vec4f& b, double tol) {
        const double d = std::abs(std::remainder(angle(a) - angle(b), CV_PI));
        return d < tol;
      };
      std::vector<std::pair<int, int>> pairs;
      for (int i = 0; i < static_cast<int>(longest.size()); ++i)
        for (int j = i + 1; j < static_cast<int>(longest.size()); ++j) {
          if (!parallel(longest[i], longest[j], 15 * CV_PI / 180)) continue;
          // Far enough apart to be opposite sides of a card.
          const cv::Point2f a(longest[i][0], longest[i][1]), b(longest[i][2], longest[i][3]);
          const cv::Point2f m((longest[j][0] + longest[j][2]) / 2, (longest[j][1] + longest[j][3]) / 2);
          const cv::Point2f d = b - a;
          const double off = std::abs(d.x * (m.y - a.y) - d.y * (m.x - a.x)) / (cv::norm(d) + 1e-9);
          if (off > 0.12 * std::min(small.cols, small.rows)) pairs.emplace_back(i, j);
        }
      std::vector<std::pair<double, std::array<cv::Point2f, 4>>> from_lines;
      for (size_t p1 = 0; p1 < pairs.size(); ++p1)
        for (size_t p2 = p1 + 1; p2 < pairs.size(); ++p2) {
          const auto& A = pairs[p1];
          const auto& B = pairs[p2];
          const double cross = std::abs(std::remainder(angle(longest[A.first]) - angle(longest[B.first]), CV_PI));
          if (cross < 45 * CV_PI / 180) continue;
          auto P = [&](int k, int e) { return cv::Point2f(longest[k][2 * e], longest[k][2 * e + 1]); };
          const int lines[4] = {A.first, B.first, A.second, B.second};
          std::vector<cv::Point2f> c(4);
          bool ok = true;
          for (int i = 0; i < 4 && ok; ++i)
            ok = Intersect(P(lines[i], 0), P(lines[i], 1), P(lines[(i + 1) % 4], 0), P(lines[(i + 1) % 4], 1), &c[i]);
          if (!ok) continue;
          const auto q = OrderCorners(c);
          const double sc = ev.Score(q, img_area);
          if (sc > 0) from_lines.emplace_back(sc, q);
        }
      std::sort(from_lines.begin(), from_lines.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
      for (size_t i = 0; i < from_lines.size() && i < 3; ++i)
        if (!SameQuad(distinct, from_lines[i].second, 6)) distinct.push_back(from_lines[i].second);
    }
    for (const auto& q : distinct) ev.AddQuads(q, segments, img_area, &scored);
    std::sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    std::vector<std::array<cv::Point2f, 4>> kept;
    for (const auto& [sc, q] : scored) {
      if (SameQuad(kept, q, 8)) continue;
      kept.push_back(q);
      std::vector<cv::Point2f> full;
      for (int i = 0; i < 4; ++i) full.push_back(q[i] * static_cast<float>(1.0 / s));
      out.emplace_back(sc, OrderCorners(full));
      if (static_cast<int>(out.size()) >= max_candidates) break;
    }
  }
  return search;
}

// The aspect a card is rectified and classified at: the measured one, held to the range of
// document shapes (ID-1 1.59, ID-2 and ID-3 1.42) with room for measurement error, so that a
// wild perspective estimate cannot stretch the card into a strip.
double RectifyAspect(double measured) { return std::clamp(measured, 1.2, 1.8); }

CardDetection DetectionFromQuad(const std::array<cv::Point2f, 4>& o, cv::Size photo) {
  CardDetection d;
  d.found = true;
  d.corners = o;
  const std::vector<cv::Point2f> poly(o.begin(), o.end());
  d.area_fraction = cv::contourArea(poly) / (static_cast<double>(photo.width) * photo.height);
  d.aspect = PerspectiveAspect(o, photo, cv::Point2d(photo.width / 2.0, photo.height / 2.0));
  cv::Point2f centre;  // where the diagonals cross
  d.aspect_if_cropped = Intersect(o[0], o[2], o[1], o[3], &centre) ? PerspectiveAspect(o, photo, centre) : d.aspect;
  // 3 px at the 800 px working scale, as before.
  const float m = 3 * std::max(1.f, static_cast<float>(std::max(photo.width, photo.height)) / 800.f);
  for (const auto& p : o)
    d.touches_edge |= p.x < m || p.y < m || p.x > photo.width - 1 - m || p.y > photo.height - 1 - m;
  if (d.touches_edge) d.problems.push_back(kCardCutOff);
  if (d.area_fraction < 0.10) d.problems.push_back(kCardTooSmall);
  return d;
}

}  // namespace

CardDetection FindCard(const cv::Mat& rgb) {
  const auto c = CardCandidates(rgb, 1).cands;
  if (c.empty()) {
    CardDetection d;
    d.problems.push_back(kCardNotFound);
    return d;
  }
  return DetectionFromQuad(c[0].second, rgb.size());
}

cv::Mat Rectify(const cv::Mat& rgb, const std::array<cv::Point2f, 4>& c, cv::Size size) {
  const std::vector<cv::Point2f> src(c.begin(), c.end());
  const std::vector<cv::Point2f> dst = {{0, 0},
                                        {static_cast<float>(size.width), 0},
                                        {static_cast<float>(size.width), static_cast<float>(size.height)},
                                        {0, static_cast<float>(size.height)}};
  cv::Mat out;
  cv::warpPerspective(rgb, out, cv::getPerspectiveTransform(src, dst), size, cv::INTER_AREA, cv::BORDER_REPLICATE);
  return out;
}

namespace {

// The card as if evenly lit: a partial shadow across it darkens the header on one side and the
// background on the other, and the colour match then fails for every layout (confidence under
// the `unknown` floor) or picks the layout whose colours are darker. The card's own lighting is
// estimated as the brightest channel's local maximum over ~30% of the card's height (wider than
// any header band, so that a band reads as dark print rather than shade), smoothed, and every
// pixel is brought to the card's median lighting (gain clamped to 0.7..1.6: a portrait larger
// than the window is left roughly as is rather than blown out).
cv::Mat FlattenShading(const cv::Mat& rgb) {
  cv::Mat v;
  {
    std::vector<cv::Mat> ch;
    cv::split(rgb, ch);
    v = cv::max(ch[0], cv::max(ch[1], ch[2]));
  }
  const int k = std::max(3, (rgb.rows * 3 / 10) | 1);
  cv::Mat light;
  cv::dilate(v, light, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(k, k)));
  light.convertTo(light, CV_32F);
  cv::GaussianBlur(light, light, cv::Size(0, 0), k / 3.0);
  std::vector<float> vals(light.begin<float>(), light.end<float>());
  std::nth_element(vals.begin(), vals.begin() + vals.size() / 2, vals.end());
  const float ref = std::max(1.f, vals[vals.size() / 2]);
  cv::Mat gain = ref / cv::max(light, 1.f);
  gain = cv::min(cv::max(gain, 0.7f), 1.6f);
  cv::Mat gain3, f, out;
  cv::merge(std::vector<cv::Mat>{gain, gain, gain}, gain3);
  rgb.convertTo(f, CV_32FC3);
  cv::multiply(f, gain3, f);
  f.convertTo(out, CV_8UC3);
  return out;
}

// Share of the card outside its portrait and header zones within colour distance 20 of the
// layout's background, on the card brought to 240 px and flattened for shading (`card` already
// turned the way it was classified).
constexpr double kMinBackgroundShare = 0.6;
double BackgroundShare(const cv::Mat& card, const DocumentLayout& l) {
  if (card.empty()) return 0;
  const cv::Size canon = l.CanonicalSize();
  cv::Mat c;
  cv::resize(card, c, cv::Size(240, std::max(1, canon.height * 240 / canon.width)), 0, 0, cv::INTER_AREA);
  c = FlattenShading(c);
  const cv::Rect portrait = l.portrait.ToRect(c.size()), header = l.header.ToRect(c.size());
  // One Lab conversion of the whole card, the same distance as ColourDistance.
  cv::Mat lab;
  cv::cvtColor(c, lab, cv::COLOR_RGB2Lab);
  const cv::Vec3f bg = Lab(l.background);
  int in = 0, n = 0;
  for (int y = 0; y < lab.rows; ++y) {
    const cv::Vec3b* row = lab.ptr<cv::Vec3b>(y);
    for (int x = 0; x < lab.cols; ++x) {
      if (portrait.contains({x, y}) || header.contains({x, y})) continue;
      ++n;
      const float dl = (row[x][0] * 100.f / 255.f - bg[0]) / 3, da = row[x][1] - 128.f - bg[1],
                  db = row[x][2] - 128.f - bg[2];
      in += dl * dl + da * da + db * db < 20 * 20;
    }
  }
  return n ? static_cast<double>(in) / n : 0.0;
}

// Median over a layout's printed fields (its text zones but the fixed title) of the share of thin
// print at least 40 grey levels deep, on the card at 600 px. A card prints its fields there; a
// face photo taken for a card by its colours (skin for a pink background) has bare skin or an eye
// there. Throw-away driver, every degradation: the 15 of the first 300 LFW photos that the
// background share let through measured <= 0.040 (none of the 300 is typed with this check);
// 120 generated cards of the four layouts without an MRZ >= 0.069 in real fonts (>= 0.119 in
// Hershey). Not for layouts with an MRZ: their Latin fields in OCR-B are sparse (TD1 medians from
// 0.011), and their MRZ ink test already keeps faces out.
constexpr double kMinFieldInk = 0.055;
double FieldInk(const cv::Mat& card, const DocumentLayout& l) {
  if (card.empty()) return 0;
  cv::Mat c;
  cv::resize(card, c, cv::Size(600, std::max(1, card.rows * 600 / card.cols)), 0, 0, cv::INTER_AREA);
  std::vector<double> ink;
  for (const auto& z : l.text_zones) {
    if (z.kind != "fixed") ink.push_back(InkFraction(GrayZone(c, z.box.ToRect(c.size())), c.cols, 40));
  }
  if (ink.empty()) return 1;  // nothing printed to look for
  std::nth_element(ink.begin(), ink.begin() + static_cast<std::ptrdiff_t>(ink.size() / 2), ink.end());
  return ink[ink.size() / 2];
}

// Classify with the card brought to `width` px for the colour and zone measurements: colours and
// zone fractions need no detail, and this runs on several candidate outlines per photo.
// `flattened`: the card is already at `width` and through FlattenShading (both orientations
// share one pass).
Classification ClassifyAt(const cv::Mat& rectified, const std::vector<DocumentLayout>& layouts, MrzFormat mrz_format,
                          int width, bool flattened = false, double alt_aspect = 0) {
  Classification c;
  if (rectified.empty() || layouts.empty()) return c;
  const double est_aspect = static_cast<double>(rectified.cols) / rectified.rows;
  cv::Mat flat;
  if (flattened) {
    flat = rectified;
  } else {
    cv::resize(rectified, flat, cv::Size(width, std::max(1, rectified.rows * width / rectified.cols)), 0, 0,
               cv::INTER_AREA);
    flat = FlattenShading(flat);
  }
  for (const auto& l : layouts) {
    const cv::Size canon = l.CanonicalSize();
    cv::Mat card;
    cv::resize(flat, card, cv::Size(width, std::max(1, canon.height * width / canon.width)), 0, 0, cv::INTER_AREA);
    c.scores.emplace_back(l.id, LayoutScore(card, l, est_aspect, mrz_format, alt_aspect));
  }
  std::sort(c.scores.begin(), c.scores.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  const double best = c.scores[0].second, second = c.scores.size() > 1 ? c.scores[1].second : 0;
  // How well the best layout matches, times how clearly it beats the runner-up.
  c.confidence = std::pow(best, 0.25) * (best / (best + second + 1e-12));
  c.type = c.scores[0].first;
  return c;
}

// The layout match of the card and of the card turned 180 degrees, the card turned to the better:
// the way up the card is typed and its MRZ read in. OrientCard decides once the type is known.
Classification ClassifyBothWays(cv::Mat& rectified, const std::vector<DocumentLayout>& layouts, MrzFormat f,
                                int width = 400, double alt_aspect = 0, bool* turned_over = nullptr) {
  cv::Mat flat;
  cv::resize(rectified, flat, cv::Size(width, std::max(1, rectified.rows * width / rectified.cols)), 0, 0,
             cv::INTER_AREA);
  flat = FlattenShading(flat);
  Classification a = ClassifyAt(flat, layouts, f, width, true, alt_aspect);
  cv::Mat flat_turned, turned;
  cv::rotate(flat, flat_turned, cv::ROTATE_180);
  Classification b = ClassifyAt(flat_turned, layouts, f, width, true, alt_aspect);
  cv::rotate(rectified, turned, cv::ROTATE_180);
  if (b.scores.empty() || a.scores.empty() || b.scores[0].second <= a.scores[0].second) return a;
  rectified = turned;
  if (turned_over) *turned_over = !*turned_over;
  return b;
}

}  // namespace

Classification Classify(const cv::Mat& rectified, const std::vector<DocumentLayout>& layouts, MrzFormat mrz_format) {
  return ClassifyAt(rectified, layouts, mrz_format, 400);
}

bool QrDecodes(const cv::Mat& rectified, const ZoneBox& zone) {
  if (rectified.empty()) return false;
  const cv::Rect z = Expand(zone.ToRect(rectified.size()), 1.4, rectified.size());
  if (z.area() <= 0) return false;
  cv::Mat gray;
  cv::cvtColor(rectified(z), gray, cv::COLOR_RGB2GRAY);
  // Modules of a few pixels after rectification: bring the zone to ~300 px for the decoder.
  const double up = std::clamp(300.0 / std::max(gray.cols, gray.rows), 1.0, 3.0);
  if (up > 1) cv::resize(gray, gray, cv::Size(), up, up, cv::INTER_CUBIC);
  if (!gray.isContinuous()) gray = gray.clone();
  ZXing::DecodeHints hints;
  hints.setFormats(ZXing::BarcodeFormat::QRCode);
  hints.setTryHarder(true);
  hints.setTryRotate(true);
  ZXing::Result r = ZXing::ReadBarcode({gray.data, gray.cols, gray.rows, ZXing::ImageFormat::Lum}, hints);
  const bool ok = r.isValid();
  // Only the fact that it decoded is used. The result owns the content (and its codewords) in byte
  // buffers the result itself does not let us modify; they are our object's members, so writing
  // through const_cast is defined. text() is never called, so no string copy of it exists.
  auto wipe = [](const ZXing::ByteArray& b) {
    auto& m = const_cast<ZXing::ByteArray&>(b);
    if (!m.empty()) sodium_memzero(m.data(), m.size());
  };
  wipe(r.bytes());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  wipe(r.rawBytes());
#pragma GCC diagnostic pop
  sodium_memzero(gray.data, gray.total());
  return ok;
}

cv::Rect CardBoxInPhoto(const cv::Rect& box, const std::array<cv::Point2f, 4>& corners, cv::Size card_size) {
  const std::vector<cv::Point2f> card = {{0, 0},
                                         {static_cast<float>(card_size.width), 0},
                                         {static_cast<float>(card_size.width), static_cast<float>(card_size.height)},
                                         {0, static_cast<float>(card_size.height)}};
  const cv::Mat H = cv::getPerspectiveTransform(card, std::vector<cv::Point2f>(corners.begin(), corners.end()));
  std::vector<cv::Point2f> pts = {box.tl(),
                                  {static_cast<float>(box.br().x), static_cast<float>(box.y)},
                                  box.br(),
                                  {static_cast<float>(box.x), static_cast<float>(box.br().y)}},
                           out;
  cv::perspectiveTransform(pts, out, H);
  return cv::boundingRect(out);
}

namespace {

// The image's own corners, as an outline: for a photo that is the document.
std::array<cv::Point2f, 4> ImageOutline(cv::Size image) {
  const float w = static_cast<float>(image.width), h = static_cast<float>(image.height);
  return {cv::Point2f(0, 0), cv::Point2f(w, 0), cv::Point2f(w, h), cv::Point2f(0, h)};
}

// The same outline starting from the opposite corner: the card it rectifies to is turned 180 degrees.
std::array<cv::Point2f, 4> TurnedOutline(const std::array<cv::Point2f, 4>& c) { return {c[2], c[3], c[0], c[1]}; }

}  // namespace

cv::Rect PortraitCrop(const cv::Rect& face_box, cv::Size card_size) { return Expand(face_box, 2.2, card_size); }

face::FaceAnalysis AnalyzePortrait(const face::FaceAnalyzer& analyzer, const cv::Mat& portrait_crop) {
  return analyzer.Analyze(portrait_crop, face::FacePick::kCentral);
}

namespace {

// A face the detector found on a card: its box on the card, and the detection in the zone as the
// detector saw it, kept so the face mesh can look at the same face without detecting it again.
struct CardFace {
  cv::Rect box;
  face::FaceBox detection;  // in `zone`'s pixels
  face::FloatImage zone;    // the searched zone, enlarged for a small portrait
};

// The largest face in `zone` of the card, brought to ~480 px on its long side for the detector
// (portraits are small).
std::optional<CardFace> LargestFaceIn(const cv::Mat& card, const cv::Rect& zone, const face::FaceAnalyzer& analyzer) {
  cv::Mat crop = card(zone);
  const double up = std::clamp(480.0 / std::max(crop.cols, crop.rows), 1.0, 4.0);
  cv::Mat big;
  cv::resize(crop, big, cv::Size(), up, up, up > 1 ? cv::INTER_CUBIC : cv::INTER_AREA);
  face::FloatImage seen = face::ToFloat(big);
  // Largest first: the main portrait (a ghost image is smaller and paler).
  for (const auto& f : analyzer.DetectAll(seen)) {
    cv::Rect b(cvRound(f.box.x / up) + zone.x, cvRound(f.box.y / up) + zone.y, cvRound(f.box.width / up),
               cvRound(f.box.height / up));
    b &= cv::Rect(0, 0, card.cols, card.rows);
    if (b.area() > 0) return CardFace{b, f, std::move(seen)};
  }
  return std::nullopt;
}

// Whether the face mesh takes what the detector boxed for a face (its face-presence score).
// Measured on the portrait's crop, printed portraits of a usable size score 0.98 and up; a
// hologram, an emblem or a fingerprint taken by the detector 0.03 at most; so do a few tiny real
// portraits (0.003-0.005), which is why this only ever breaks a tie, never rejects a portrait on
// its own. Run on the zone as the detector saw it instead (no second detection), it turned the
// same cards: 280 generated captures and the specimens, portrait for portrait.
bool MeshSeesAFace(const CardFace& face, const face::FaceAnalyzer& analyzer) {
  return analyzer.mesh_model().Refine(face.zone, face.detection).score >= 0.5f;
}

// FindPortrait, with the detection.
std::optional<CardFace> FindPortraitFace(const cv::Mat& card, const DocumentLayout* layout,
                                         const face::FaceAnalyzer& analyzer) {
  if (layout) return LargestFaceIn(card, Expand(layout->portrait.ToRect(card.size()), 1.5, card.size()), analyzer);
  std::optional<CardFace> best = LargestFaceIn(card, cv::Rect(0, 0, card.cols, card.rows), analyzer);
  if (best) return best;
  // A portrait a quarter of the card's height is too small for the detector in the whole card:
  // squares of the card's short side, half a side apart along the long one (a card, or a scan of
  // both its sides: not a strip, which would take hundreds of squares).
  const bool wide = card.cols >= card.rows;
  const int side = std::min(card.cols, card.rows), length = std::max(card.cols, card.rows);
  if (side < 32 || length > 4 * side) return best;
  for (int at = 0;; at = std::min(at + side / 2, length - side)) {
    const cv::Rect window = wide ? cv::Rect(at, 0, side, side) : cv::Rect(0, at, side, side);
    auto face = LargestFaceIn(card, window, analyzer);
    if (face && (!best || face->box.area() > best->box.area())) best = std::move(face);
    if (at + side >= length) break;
  }
  return best;
}

}  // namespace

std::optional<cv::Rect> FindPortrait(const cv::Mat& card, const DocumentLayout* layout,
                                     const face::FaceAnalyzer& analyzer) {
  if (auto face = FindPortraitFace(card, layout, analyzer)) return face->box;
  return std::nullopt;
}

namespace {

// A header band in nearly the table's colour has no visible outer edge: the strongest outline
// then stops at the band's inner edge. For each header height among the layouts, `base` grown by
// that band (above, or below for a card upside down) is returned with the evidence for it, 0..1:
// is there an edge where the grown outline puts the card's new side, and along the stretches its
// neighbouring sides gained? Too faint for the outline score, it still stands out against the
// gradient a little further out (a strip of bare table -- the band grown on the wrong side --
// shows none).
std::vector<std::pair<std::array<cv::Point2f, 4>, double>> OutlinesGrownByHeaderBands(
    const cv::Mat& rgb, const CardSearch& search, const std::vector<DocumentLayout>& layouts,
    const std::array<cv::Point2f, 4>& base) {
  std::vector<std::pair<std::array<cv::Point2f, 4>, double>> grown;
  const std::vector<cv::Point2f> unit = {{0, 0}, {1, 0}, {1, 1}, {0, 1}};
  const cv::Mat H = cv::getPerspectiveTransform(unit, std::vector<cv::Point2f>(base.begin(), base.end()));
  std::vector<double> heights;
  for (const auto& l : layouts)
    if (l.header.y < 0.01 && l.header.h > 0.03 && l.header.h < 0.4) heights.push_back(l.header.h);
  std::sort(heights.begin(), heights.end());
  heights.erase(std::unique(heights.begin(), heights.end(), [](double a, double b) { return std::abs(a - b) < 0.01; }),
                heights.end());
  const cv::Point2f up = base[0] - base[3], left = base[0] - base[1];
  const float sc = static_cast<float>(search.scale);
  auto contrast = [&](const cv::Point2f& a, const cv::Point2f& b, const cv::Point2f& outward) {
    cv::Point2f n(-(b - a).y, (b - a).x);
    n *= 1.f / static_cast<float>(cv::norm(n) + 1e-6);
    if (n.dot(outward) < 0) n = -n;
    const double on = search.ev->MeanAcross(a * sc, b * sc, 20);
    const double off = search.ev->MeanAcross((a + n * 10.f) * sc, (b + n * 10.f) * sc, 20);
    return std::clamp((on / std::max(1.0, off) - 1) / 1.5, 0.0, 1.0);
  };
  for (const double h : heights) {
    const float e = static_cast<float>(h / (1 - h));
    for (const bool top : {true, false}) {
      const std::vector<cv::Point2f> ext = top ? std::vector<cv::Point2f>{{0, -e}, {1, -e}, {1, 1}, {0, 1}}
                                               : std::vector<cv::Point2f>{{0, 0}, {1, 0}, {1, 1 + e}, {0, 1 + e}};
      std::vector<cv::Point2f> q;
      cv::perspectiveTransform(ext, q, H);
      bool inside = true;
      for (const auto& p : q) inside &= p.x >= 0 && p.y >= 0 && p.x < rgb.cols && p.y < rgb.rows;
      if (!inside) continue;
      const double evidence = top ? 0.5 * contrast(q[0], q[1], up) + 0.25 * contrast(q[0], base[0], left) +
                                        0.25 * contrast(q[1], base[1], -left)
                                  : 0.5 * contrast(q[2], q[3], -up) + 0.25 * contrast(q[3], base[3], left) +
                                        0.25 * contrast(q[2], base[2], -left);
      grown.push_back({{q[0], q[1], q[2], q[3]}, evidence});
    }
  }
  return grown;
}

// Under this confidence a card typed as a layout without an MRZ is also searched for one, and an
// image of a document's shape is taken for the document rather than for an outline inside it.
constexpr double kSureWithoutMrz = 0.7;

// A landscape image within 3% of a layout's shape: a scan or a crop of that document, not a
// camera frame.
bool IsCroppedToADocument(cv::Size image, const std::vector<DocumentLayout>& layouts) {
  if (image.width <= image.height) return false;
  const double a = static_cast<double>(image.width) / image.height;
  for (const auto& l : layouts)
    if (std::abs(a / l.aspect() - 1) < 0.03) return true;
  return false;
}

// Outlines that score close to the best compete on what they show: the one that looks most like
// a known document wins. A header band's inner edge or a clutter line can make an outline as
// straight and as strong as the card's own, but the card it cuts out then lacks its header or
// carries a strip of table, and matches every layout worse.
CardDetection ChooseCardOutline(const cv::Mat& rgb, const std::vector<DocumentLayout>& layouts) {
  // A scan cropped to the card, edge to edge, has no outline of its own: what the search finds is
  // a quad inside it (the US residence cards' specimen scans). An image of a document's shape
  // whose best outline covers under half of it, and is not surely one of our designs, is the
  // card. A camera frame is 4:3, 16:9, 3:2 or upright: never a document's shape, but for 16:10,
  // where a card typed surely on its outline keeps it.
  const bool document_shaped = !layouts.empty() && IsCroppedToADocument(rgb.size(), layouts);
  auto whole_image = [&] {
    CardDetection d = DetectionFromQuad(ImageOutline(rgb.size()), rgb.size());
    d.touches_edge = false;  // the card's edges are the image's
    d.problems.clear();
    return d;
  };
  const CardSearch search = CardCandidates(rgb, 6);
  const auto& cands = search.cands;
  CardDetection chosen;
  if (cands.empty()) {
    if (document_shaped) return whole_image();
    chosen.problems.push_back(kCardNotFound);
    return chosen;
  }
  if (layouts.empty()) return DetectionFromQuad(cands[0].second, rgb.size());
  double best = -1, best_rel = 0, best_score = 0;
  auto judge = [&](const std::array<cv::Point2f, 4>& quad, double rel) {
    CardDetection d = DetectionFromQuad(quad, rgb.size());
    const double aspect = RectifyAspect(d.aspect);
    cv::Mat small_card = Rectify(rgb, d.corners, cv::Size(300, static_cast<int>(300 / aspect)));
    const Classification c =
        ClassifyBothWays(small_card, layouts, MrzFormat::kUnknown, 240, RectifyAspect(d.aspect_if_cropped));
    const double match = 0.05 + (c.scores.empty() ? 0.0 : c.scores[0].second);
    const double v = rel * match * match;
    if (v > best) {
      best = v;
      best_rel = rel;
      best_score = c.scores.empty() ? 0.0 : c.scores[0].second;
      chosen = d;
    }
  };
  for (const auto& [score, quad] : cands) {
    const double rel = score / cands[0].first;
    if (rel < 0.6) break;
    judge(quad, rel);
  }
  if (!chosen.found) return chosen;
  // Grown outlines compete at a small handicap; the card one cuts out must then show the header
  // where the layout has it.
  const double base_rel = best_rel;
  for (const auto& [quad, evidence] : OutlinesGrownByHeaderBands(rgb, search, layouts, chosen.corners))
    judge(quad, 0.9 * base_rel * evidence);
  if (document_shaped && chosen.area_fraction < 0.5 && best_score < kSureWithoutMrz) return whole_image();
  return chosen;
}

// Capture problems visible on the rectified card: blur over the whole card, glare over the
// portrait or MRZ zone.
std::vector<std::string> CardQualityProblems(const cv::Mat& card, const DocumentLayout* layout) {
  std::vector<std::string> problems;
  cv::Mat gray;
  cv::cvtColor(card, gray, cv::COLOR_RGB2GRAY);
  {
    cv::Mat g1000, lap;
    const double s = 1000.0 / card.cols;
    cv::resize(gray, g1000, cv::Size(), s, s, cv::INTER_AREA);
    cv::Laplacian(g1000, lap, CV_32F);
    cv::Scalar m, sd;
    cv::meanStdDev(lap, m, sd);
    if (sd[0] * sd[0] < 25) problems.push_back(kBlurred);
  }
  // Glare is local: saturated pixels in the zone well above the card's own share of them (a
  // white paper scan is saturated everywhere).
  const double card_white = Fraction(gray, 250, 255);
  if (layout && card_white < 0.2) {
    if (Fraction(gray(layout->portrait.ToRect(card.size())), 250, 255) > 0.05 + 2 * card_white)
      problems.push_back(kGlareOnPortrait);
    if (layout->mrz_format != MrzFormat::kUnknown &&
        Fraction(gray(layout->mrz.ToRect(card.size())), 252, 255) > 0.25 + 2 * card_white)
      problems.push_back(kGlareOnMrz);
  }
  return problems;
}

// Lines of print across at least 3/4 of the card, in its top or bottom 40% (an MRZ is at one end
// of the card whichever way up). A cheap look before an OCR pass (~0.5 s): measured 2026-11-27 on
// generated captures, 120 of the Korean layouts showed 0 such lines (94), 1 (25) or 2 (1); 180 of
// the MRZ layouts 2 or more; the Utopia and ICAO specimen scans with an MRZ 1 or more, but for
// Serbia's and Qatar's, which are not cards of one side.
int CardWideLines(const cv::Mat& card) {
  constexpr int kWidth = 600;
  cv::Mat gray, small, ink;
  cv::cvtColor(card, gray, cv::COLOR_RGB2GRAY);
  cv::resize(gray, small, cv::Size(kWidth, std::max(1, gray.rows * kWidth / gray.cols)), 0, 0, cv::INTER_AREA);
  // Thin dark print against its surroundings, joined along a line (a character pitch apart).
  cv::morphologyEx(small, ink, cv::MORPH_BLACKHAT, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(15, 7)));
  ink = ink > 40;
  cv::morphologyEx(ink, ink, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, cv::Size(21, 3)));
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(ink, labels, stats, centroids, 8);
  int lines = 0;
  for (int i = 1; i < n; ++i) {
    const int h = stats.at<int>(i, cv::CC_STAT_HEIGHT);
    const double at = (stats.at<int>(i, cv::CC_STAT_TOP) + h / 2.0) / small.rows;
    if ((at > 0.4 && at < 0.6) || h > 0.12 * small.rows) continue;
    if (stats.at<int>(i, cv::CC_STAT_WIDTH) >= 0.75 * kWidth) ++lines;
  }
  return lines;
}

cv::Rect BoundsOf(const std::array<cv::Point2f, 4>& q) {
  return cv::boundingRect(std::vector<cv::Point2f>(q.begin(), q.end()));
}

// A scan of both sides of a card shows two card outlines; the MRZ is on one (the back of an ID
// card) and the portrait on the other. The other side: the best outline of the photo with the MRZ
// side painted over in the page's colour (else every candidate is a variant of that side's), if
// it has that side's size (each side within 15%) and does not overlap it.
std::optional<std::array<cv::Point2f, 4>> OtherSideOutline(const cv::Mat& rgb,
                                                           const std::array<cv::Point2f, 4>& mrz_side) {
  const cv::Rect a = BoundsOf(mrz_side) & cv::Rect(0, 0, rgb.cols, rgb.rows);
  if (a.empty()) return std::nullopt;
  cv::Mat border = cv::Mat::zeros(rgb.size(), CV_8U);
  cv::rectangle(border, cv::Rect(0, 0, rgb.cols, rgb.rows), cv::Scalar(255), 2);
  cv::Mat rest = rgb.clone();
  rest(Expand(a, 1.04, rgb.size())).setTo(cv::mean(rgb, border));
  const double a_long = std::max(a.width, a.height), a_short = std::min(a.width, a.height);
  for (const auto& [score, quad] : CardCandidates(rest, 6).cands) {  // best first
    const cv::Rect b = BoundsOf(quad);
    const double b_long = std::max(b.width, b.height), b_short = std::min(b.width, b.height);
    if ((a & b).area() > 0.1 * std::min(a.area(), b.area())) continue;
    if (std::abs(b_long / a_long - 1) > 0.15 || std::abs(b_short / a_short - 1) > 0.15) continue;
    return quad;
  }
  return std::nullopt;
}

// An outline that left the MRZ out (the MRZ was read on the whole photo) is the other side of the
// same card when it is as wide as the MRZ's card would be (the MRZ spans 0.89 of an ID-1 card's
// width and of an ID-3 page's; 0.87 of an ID-2 card's) and does not hold the MRZ.
bool IsOtherSideOf(const std::array<cv::Point2f, 4>& outline, const cv::Rect& mrz_box) {
  const cv::Rect b = BoundsOf(outline);
  if (b.contains((mrz_box.tl() + mrz_box.br()) / 2)) return false;
  const double ratio = static_cast<double>(b.width) / std::max(1, mrz_box.width);
  return ratio > 0.95 && ratio < 1.4;
}

// The document an MRZ is printed on, as a box in the image the MRZ was read on (upright as read).
// ICAO 9303 fixes what this needs: 10 characters per inch, each format's line length and document
// size, and the MRZ along the bottom edge. Only for the formats whose MRZ shares its side with the
// portrait (a TD1 card prints its MRZ on the back). `slack`: that fraction of the document's width
// added on either side, and of its height below.
std::optional<cv::Rect> DocumentAroundMrz(const MrzReading& m, cv::Size image, double slack) {
  struct Format {
    MrzFormat format;
    int chars;          // per line
    double w_mm, h_mm;  // the document, landscape
  };
  static constexpr Format kFormats[] = {{MrzFormat::kTD2, 36, 105.0, 74.0},
                                        {MrzFormat::kTD3, 44, 125.0, 88.0},
                                        {MrzFormat::kMRVA, 44, 120.0, 80.0},
                                        {MrzFormat::kMRVB, 36, 105.0, 74.0}};
  const auto f =
      std::find_if(std::begin(kFormats), std::end(kFormats), [&](const Format& x) { return x.format == m.mrz.format; });
  if (f == std::end(kFormats) || m.box.width <= 0) return std::nullopt;
  const double px_per_mm = m.box.width / (f->chars * 2.54), cx = m.box.x + m.box.width / 2.0;
  const double bottom = m.box.br().y + 5 * px_per_mm;  // the MRZ's last line ends ~5 mm above the edge
  const double w = f->w_mm * px_per_mm * (1 + 2 * slack), h = f->h_mm * px_per_mm * (1 + slack);
  const cv::Rect doc =
      cv::Rect(cvRound(cx - w / 2), cvRound(bottom + slack * f->h_mm * px_per_mm - h), cvRound(w), cvRound(h)) &
      cv::Rect(0, 0, image.width, image.height);
  if (doc.empty()) return std::nullopt;
  return doc;
}

// A card of a known layout, rectified at the layout's size, the right way up.
struct OrientedCard {
  cv::Mat card;
  bool turned_over = false;           // relative to Rectify's corners
  // The portrait search's answer (none included) when the face check decided the way up.
  std::optional<CardFace> portrait;
};

// Which way up the card lies, decided once its layout is known, from the strongest evidence there
// is. ClassifyBothWays chose a way up to type the card and read its MRZ in; this is the decision.
//  1. An MRZ found at all was read upright (Tesseract lays out no upside-down `<<` lines), even
//     one that fails its checks (`turned_by_mrz`): Interpol's page, MRZ read but with a state code
//     not on ICAO's list, was turned upside down again by its colours and its portrait looked for
//     in the wrong corner.
//  2. Otherwise, the layout's colours: the card against the card turned 180 degrees.
//  3. A card those colours typed narrowly and that has no MRZ read (`face_check`) has its way up
//     from weak evidence: Malta's card, typed as the TD2 layout at 0.57, came out upside down and
//     the hologram its zone then fell on was taken for the portrait. A printed face is upright, so
//     the card is turned when its zone holds no face the face mesh believes in and, turned, it
//     does. Not by the detector's scores: on generated captures a line of print upside down
//     outscored a portrait under glare (0.87 against 0.81).
OrientedCard OrientCard(const cv::Mat& rectified, const DocumentLayout& layout, std::optional<bool> turned_by_mrz,
                        MrzFormat mrz_format, const face::FaceAnalyzer* face_check) {
  cv::Mat turned;
  cv::rotate(rectified, turned, cv::ROTATE_180);
  OrientedCard o;
  o.turned_over = turned_by_mrz
                      ? *turned_by_mrz
                      : LayoutScore(turned, layout, 0, mrz_format) > LayoutScore(rectified, layout, 0, mrz_format);
  o.card = o.turned_over ? turned : rectified;
  if (turned_by_mrz || face_check == nullptr) return o;
  const cv::Mat other = o.turned_over ? rectified : turned;
  // A face the mesh believes in, in the layout's zone (`zone`) or anywhere on the card (null), on
  // this side (`turn` false) or the other: the side it is on is taken as upright.
  auto believable_face = [&](const DocumentLayout* zone, bool turn) {
    auto face = FindPortraitFace(turn ? other : o.card, zone, *face_check);
    if (!face || !MeshSeesAFace(*face, *face_check)) return false;
    if (turn) {
      o.card = other;
      o.turned_over = !o.turned_over;
    }
    o.portrait = std::move(face);
    return true;
  };
  std::optional<CardFace> zone_face = FindPortraitFace(o.card, &layout, *face_check);
  if (zone_face && MeshSeesAFace(*zone_face, *face_check)) {
    o.portrait = std::move(zone_face);
    return o;
  }
  if (believable_face(&layout, true)) return o;
  // No believable face in the zone either way up: the colours may have typed a design that is not
  // ours (the UK residence permit, typed as the resident registration card at 0.53, had a signature
  // taken for a face where that layout prints its portrait). A face the mesh believes in anywhere
  // on the card, either way up, is then the better guess.
  if (believable_face(nullptr, false) || believable_face(nullptr, true)) return o;
  o.portrait = std::move(zone_face);  // the zone's face the mesh does not believe in, or none
  return o;
}

}  // namespace

DocumentReport AnalyzeDocument(const cv::Mat& rgb, const std::vector<DocumentLayout>& layouts,
                               const face::FaceAnalyzer* analyzer, const DocumentOptions& options) {
  DocumentReport r;
  auto add = [&](const std::string& p) {
    if (std::find(r.problems.begin(), r.problems.end(), p) == r.problems.end()) r.problems.push_back(p);
  };
  {
    cv::Mat gray;
    cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
    cv::Scalar mean, sd;
    cv::meanStdDev(gray, mean, sd);
    if (sd[0] < 4) {
      add(kBlankImage);
      add(kCardNotFound);
      return r;
    }
  }
  r.detection = ChooseCardOutline(rgb, layouts);
  cv::Mat card;
  MrzFormat mrz_format = MrzFormat::kUnknown;
  // The outline's aspect under the other principal-point hypothesis (the card is rectified at the
  // whole-frame one), for the layouts' aspect test.
  double alt_aspect = 0;
  if (r.detection.found) {
    card =
        Rectify(rgb, r.detection.corners, cv::Size(1000, static_cast<int>(1000 / RectifyAspect(r.detection.aspect))));
    alt_aspect = RectifyAspect(r.detection.aspect_if_cropped);
  } else {
    // No edges of a card: perhaps a scan that is the document itself.
    r.whole_image = true;
    card = rgb.clone();
  }
  bool turned_over = false;  // `card` is upside down relative to Rectify's
  // Whether the photo shows two lines of print across it, as a scan of a document does: asked by
  // the MRZ read and the other-side search, counted once.
  std::optional<int> photo_wide_lines;
  auto photo_shows_print_across = [&] {
    if (!photo_wide_lines) photo_wide_lines = CardWideLines(rgb);
    return *photo_wide_lines >= 2;
  };
  // The card outline found when the MRZ was then read outside it (a scan of both sides).
  std::optional<std::array<cv::Point2f, 4>> outline_without_mrz;
  r.classification = ClassifyBothWays(card, layouts, mrz_format, 400, alt_aspect, &turned_over);
  const DocumentLayout* layout = FindLayout(layouts, r.classification.type);
  // A box on `card` -> its bounding box in the photo: through the outline (the image's own
  // corners for a photo taken whole), from its opposite corner when the card was turned.
  auto in_photo = [&](const cv::Rect& box) {
    const std::array<cv::Point2f, 4> outline = r.detection.found ? r.detection.corners : ImageOutline(rgb.size());
    return CardBoxInPhoto(box, turned_over ? TurnedOutline(outline) : outline, card.size());
  };
  for (const auto& p : r.detection.problems)
    if (p != kCardNotFound) add(p);
  const bool try_mrz = options.read_mrz && (r.whole_image || (layout && layout->mrz_format != MrzFormat::kUnknown) ||
                                            r.classification.confidence < options.unknown_below);
  // A layout without an MRZ won by colour, narrowly: the document may carry an MRZ all the same
  // (the Utopia passport's white page was typed as the white resident registration card at 0.45
  // and never read). Only a valid MRZ may overrule the colours here.
  const bool doubt = options.read_mrz && !try_mrz && layout && layout->mrz_format == MrzFormat::kUnknown &&
                     r.classification.confidence < kSureWithoutMrz;
  if (try_mrz || doubt) {
    // In doubt, the card is read only when it shows a line of print across it (of 100 generated
    // Korean captures, 42 were in doubt and each paid ~0.5 s for the read).
    MrzReading m = try_mrz || CardWideLines(card) >= 1 ? ReadMrz(card, options.ocr) : MrzReading{};
    bool mrz_on_photo = false;  // `m` was read on the photo while `card` stayed the outline's
    if (!m.found && r.detection.found) {
      // No MRZ on the card as rectified. A card of no known design has its orientation from weak
      // colour evidence: it may be upside down. And the outline may not be the document's: in a
      // scan of a card's front and back the MRZ is on the side the outline left out (of 35 ICAO
      // specimen scans, 12 read valid this way and not before, 2026-11-27). Each is one more OCR
      // pass: the turned card only for a card not typed as one of our designs without an MRZ, the
      // whole photo only when the outline reaches its edge or the photo shows two lines of print
      // across it, as a scan of a document does (no generated capture did: 0 of 208).
      cv::Mat turned;
      if (try_mrz) cv::rotate(card, turned, cv::ROTATE_180);
      if (MrzReading t = try_mrz ? ReadMrz(turned, options.ocr) : MrzReading{}; t.mrz.valid) {
        m = std::move(t);
        card = turned;
        turned_over = !turned_over;
      } else if (MrzReading w =
                     r.detection.touches_edge || photo_shows_print_across() ? ReadMrz(rgb, options.ocr) : MrzReading{};
                 w.mrz.valid) {
        // The image is the document (a scan): its outline and the problems found with it go.
        m = std::move(w);
        outline_without_mrz = r.detection.corners;
        for (const auto& p : r.detection.problems)
          r.problems.erase(std::remove(r.problems.begin(), r.problems.end(), p), r.problems.end());
        r.detection = CardDetection{};
        r.whole_image = true;
        card = rgb.clone();
        turned_over = false;
        alt_aspect = 0;
      } else if (doubt && w.found && w.mrz.format != MrzFormat::kUnknown) {
        m = std::move(w);  // not valid: evidence against the colours only (below)
        mrz_on_photo = true;
      }
    }
    if (m.found && (try_mrz || m.mrz.valid)) {
      // A reading's format is evidence for the classifier only when the reading is more than a
      // garble: valid, or with two check digits passing (one in ten passes by chance). A TD1
      // card's three lines read as two fit TD2's 2 x 36, and that typed 10 of 20 generated TD1
      // captures (Hershey print, the MRZ read) `unknown`; Interpol's page, whose check digits pass
      // and whose state code is not ICAO's, is typed as a passport by its format.
      const MrzFormat read_format = m.mrz.format;
      const auto passing = std::count_if(m.mrz.checks.begin(), m.mrz.checks.end(), [](const MrzCheck& c) {
        return c.state == CheckState::kPass && c.name != "state_codes";
      });
      if (m.mrz.valid || passing >= 2) mrz_format = read_format;
      r.mrz_box_in_photo = in_photo(m.box);
      r.mrz = std::move(m);
      if (read_format != MrzFormat::kUnknown) {
        if (mrz_format != MrzFormat::kUnknown)
          r.classification = ClassifyAt(card, layouts, mrz_format, 400, false, alt_aspect);
        // A valid MRZ names the document family even when the design is not one of ours (its
        // colours, or a scan's shape, can leave a layout of another family ahead): the family's
        // best layout. One that does not pass its checks only supports a family already chosen.
        for (const auto& [id, score] : r.classification.scores) {
          const DocumentLayout* l = FindLayout(layouts, id);
          if (l == nullptr || l->mrz_format != read_format) continue;
          if (r.mrz->mrz.valid) {
            r.classification.type = id;
            r.classification.confidence = std::max(r.classification.confidence, 0.9);
          } else if (id == r.classification.type) {
            r.classification.confidence = std::max(r.classification.confidence, 0.6);
          }
          break;
        }
      }
    } else if (doubt && m.found && m.mrz.format != MrzFormat::kUnknown) {
      // An MRZ in one of the ICAO formats, though not valid, on a card typed by its colours as a
      // design that has none: the colours were wrong, and which document it is stays unknown
      // rather than guessed (the US and UK residence cards' specimen scans were typed as Korean
      // cards; their MRZs, as read, fail their checks).
      r.mrz_box_in_photo = mrz_on_photo ? m.box : in_photo(m.box);
      r.mrz = std::move(m);
      r.classification.type = "unknown";
      r.classification.confidence = 0;
    }
  }
  if (r.whole_image && !r.mrz) {
    // Neither a card outline nor an MRZ: do not guess a document out of an arbitrary picture.
    add(kCardNotFound);
    r.classification.type = "unknown";
    r.classification.confidence = 0;
    return r;
  }
  // A layout with a QR code: a code that decodes in its zone is evidence for that layout (a
  // partial shadow can leave its colours short of the threshold). Tried for every QR layout that
  // is not far behind the best; only the fact that it decoded is kept.
  if (!r.whole_image && !r.classification.scores.empty()) {
    const double top = r.classification.scores[0].second;
    for (const auto& [id, score] : r.classification.scores) {
      const DocumentLayout* l = FindLayout(layouts, id);
      if (l == nullptr || !l->qr || score < 0.3 * top) continue;
      cv::Mat turned;
      cv::rotate(card, turned, cv::ROTATE_180);
      if (QrDecodes(card, *l->qr) || QrDecodes(turned, *l->qr)) {
        r.qr_read = true;
        if (r.classification.type != id || r.classification.confidence < 0.9) {
          r.classification.type = id;
          r.classification.confidence = std::max(r.classification.confidence, score >= top ? 0.9 : 0.6);
        }
        break;
      }
    }
  }
  // Typed by its colours alone (no valid MRZ, no QR code): the card must then be mostly the
  // layout's background outside the portrait and the header. A photo of a face or a scene whose
  // median colours happen to match a layout is not (of 300 LFW photos, 59 were typed as a Korean
  // card by colour, 15 after this check and none after FieldInk; 420 generated captures of every
  // layout, every degradation, measured 89% or more). Real documents typed by their MRZ can be far
  // busier (ICAO specimens down to 29%), which is why this applies to colour alone. And a layout
  // without an MRZ must show print in its fields (FieldInk), scan or photo.
  const bool typed_by_colour = !(r.mrz && r.mrz->mrz.valid) && !r.qr_read;
  if (typed_by_colour && r.classification.confidence >= options.unknown_below) {
    const DocumentLayout* l = FindLayout(layouts, r.classification.type);
    if (l != nullptr && !r.whole_image && BackgroundShare(card, *l) < kMinBackgroundShare)
      r.classification.confidence = 0;
    if (l != nullptr && l->mrz_format == MrzFormat::kUnknown && FieldInk(card, *l) < kMinFieldInk) {
      r.classification.confidence = 0;
    }
  }
  if (r.classification.confidence < options.unknown_below) r.classification.type = "unknown";
  layout = FindLayout(layouts, r.classification.type);
  if (layout) r.issuing_country = layout->issuing_country;
  std::optional<CardFace> oriented_portrait;  // found while orienting the card, else looked for below
  bool portrait_searched = false;             // by OrientCard's face check: its answer stands, none or one
  if (layout && r.detection.found) {
    const bool mrz_read = r.mrz && r.mrz->found && r.mrz->mrz.format != MrzFormat::kUnknown;
    const bool face_check = options.find_portrait && !mrz_read && r.classification.confidence < kSureWithoutMrz;
    OrientedCard o = OrientCard(Rectify(rgb, r.detection.corners, layout->CanonicalSize()), *layout,
                                mrz_read ? std::optional<bool>(turned_over) : std::nullopt, mrz_format,
                                face_check ? analyzer : nullptr);
    card = o.card;
    turned_over = o.turned_over;
    oriented_portrait = std::move(o.portrait);
    portrait_searched = face_check && analyzer != nullptr;
  }
  r.rectified = card;
  for (const auto& p : CardQualityProblems(card, layout)) add(p);
  if (options.find_portrait && analyzer != nullptr) {
    // The reference must be the document's printed portrait, never a face beside the document
    // (the applicant holding it up). A photo taken whole as the document (no outline, or an MRZ
    // outside the outline) is therefore searched only in its layout's zone or, without a layout,
    // within the document its valid MRZ is printed on; a face anywhere is looked for only within
    // a card's outline. The card the portrait is on:
    cv::Mat portrait_card = card;
    std::optional<std::array<cv::Point2f, 4>> portrait_outline;  // the other side's, when the face is there
    // A scan of both sides of a card: the MRZ was read on one side, the portrait is on the other.
    // It is looked for only within that side's outline, as a face anywhere on a card typed by its
    // MRZ is: never on the page at large, where it could be a face beside the card.
    auto search_other_side = [&] {
      std::optional<std::array<cv::Point2f, 4>> other;
      if (outline_without_mrz && IsOtherSideOf(*outline_without_mrz, r.mrz->box)) {
        other = outline_without_mrz;
      } else if (r.detection.found && photo_shows_print_across()) {
        other = OtherSideOutline(rgb, r.detection.corners);
      }
      // Two card-sized outlines on a page are one document only if the other side prints the
      // MRZ's document number (someone else's card beside the MRZ would not). The side is read
      // both ways up: its orientation is the one the number reads in, where the face is upright.
      for (int turn = 0; other && turn < 2; ++turn) {
        if (turn == 1) other = TurnedOutline(*other);
        cv::Mat side = Rectify(rgb, *other, layout->CanonicalSize());
        if (!PrintsDocumentNumber(side, r.mrz->mrz.fields.document_number, options.ocr)) continue;
        if (auto face = FindPortrait(side, nullptr, *analyzer)) {
          r.portrait_box = face;
          r.portrait_on_other_side = true;
          portrait_card = side;
          portrait_outline = other;
        }
        break;
      }
    };
    const bool valid_mrz = layout && r.mrz && r.mrz->mrz.valid;
    // A page whose outline left the MRZ out: a front tied to the MRZ is better evidence of where
    // the portrait is than the layout's zone laid over a page of two sides.
    if (valid_mrz && outline_without_mrz) search_other_side();
    // A photo taken whole is a page the document may lie anywhere on (a flatbed scan): the
    // layout's zone is laid over the document its valid MRZ is printed on, where the format puts
    // it, rather than over the page (TD1 aside: its MRZ is on the back).
    const std::optional<cv::Rect> page_document =
        r.whole_image && valid_mrz ? DocumentAroundMrz(*r.mrz, card.size(), 0) : std::nullopt;
    const bool search = !(r.whole_image && layout == nullptr);
    if (!r.portrait_box && page_document) {
      if (const auto face = FindPortrait(card(*page_document), layout, *analyzer))
        r.portrait_box = *face + page_document->tl();
    } else if (!r.portrait_box && search) {
      r.portrait_box = !portrait_searched  ? FindPortrait(card, layout, *analyzer)
                       : oriented_portrait ? std::optional<cv::Rect>(oriented_portrait->box)
                                           : std::nullopt;
    }
    if (!r.portrait_box && valid_mrz && !r.whole_image) {
      // Typed by its MRZ alone, the document may be another state's design with the portrait
      // elsewhere than our zone: the largest face on the card, unless it sits where the layout
      // prints its ghost image (with the main portrait covered, that is all that shows).
      const auto anywhere = FindPortrait(card, nullptr, *analyzer);
      const bool ghost = anywhere && layout->ghost_portrait &&
                         Expand(layout->ghost_portrait->ToRect(card.size()), 1.5, card.size())
                             .contains((anywhere->tl() + anywhere->br()) / 2);
      if (!ghost) r.portrait_box = anywhere;
    }
    if (!r.portrait_box && valid_mrz && !outline_without_mrz) search_other_side();
    if (!r.portrait_box && r.whole_image && layout == nullptr && r.mrz && r.mrz->mrz.valid) {
      // A photo taken whole, with a valid MRZ of a document that is none of our layouts (a visa):
      // the largest face within the document the MRZ is printed on, as its format's size puts it
      // around the MRZ. A face beside the document, the applicant's, is outside it.
      if (const auto doc = DocumentAroundMrz(*r.mrz, card.size(), 0.1))
        if (const auto face = FindPortrait(card(*doc), nullptr, *analyzer)) r.portrait_box = *face + doc->tl();
    }
    if (r.portrait_box) {
      r.portrait = portrait_card(PortraitCrop(*r.portrait_box, portrait_card.size())).clone();
      // Glare over the face itself, which the zone test above misses: a lamination highlight
      // covering a cheek or the eyes is a few percent of the zone yet costs the comparison more
      // than anything else a capture does (on LFW cards it is the largest single loss; see
      // docs/documents.md). Washed-out pixels are near white in every channel; a face, even a
      // pale one in black and white, has almost none.
      if (WashedOutFraction(portrait_card(Expand(*r.portrait_box, 0.8, portrait_card.size()))) > 0.05)
        add(kGlareOnPortrait);
      r.portrait_box_in_photo = portrait_outline
                                    ? CardBoxInPhoto(*r.portrait_box, *portrait_outline, portrait_card.size())
                                    : in_photo(*r.portrait_box);
    } else if (layout) {
      // The zone is there but holds no detectable face: something covers it, or glare does. Or
      // this is the back of an ID card: a TD1 card prints its MRZ on the back and its portrait on
      // the front (ICAO 9303 Part 5), so "hold the card by its edges" would be the wrong advice;
      // "show the side with your picture" is the right one.
      const bool glare = std::find(r.problems.begin(), r.problems.end(), kGlareOnPortrait) != r.problems.end();
      const bool back_of_id_card = r.mrz && r.mrz->mrz.valid && r.mrz->mrz.format == MrzFormat::kTD1;
      add(glare || back_of_id_card ? kPortraitNotFound : kPortraitObstructed);
    } else {
      add(kPortraitNotFound);
    }
  }
  return r;
}

}  // namespace idm::document
