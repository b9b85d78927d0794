#include "document/document.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <opencv2/imgproc.hpp>

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

cv::Vec3b MedianColour(const cv::Mat& rgb) {
  std::vector<cv::Mat> ch;
  cv::split(rgb, ch);
  cv::Vec3b out;
  for (int c = 0; c < 3; ++c) {
    std::vector<uint8_t> v(ch[c].begin<uint8_t>(), ch[c].end<uint8_t>());
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    out[c] = v[v.size() / 2];
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

double LayoutScore(const cv::Mat& card, const DocumentLayout& l, double est_aspect, MrzFormat mrz_format) {
  const cv::Size sz = card.size();
  cv::Mat gray;
  cv::cvtColor(card, gray, cv::COLOR_RGB2GRAY);
  const double dh = ColourDistance(MedianColour(card(l.header.ToRect(sz))), l.header_rgb);
  // The background: the card's median colour outside the header and portrait.
  cv::Mat body = card(cv::Rect(0, l.header.ToRect(sz).height, sz.width, sz.height - l.header.ToRect(sz).height)).clone();
  const double db = ColourDistance(MedianColour(body), l.background);
  double s = std::exp(-0.5 * std::pow(dh / 22, 2)) * std::exp(-0.5 * std::pow(db / 14, 2));
  if (est_aspect > 0) s *= std::exp(-0.5 * std::pow(std::log(est_aspect / l.aspect()) / 0.12, 2));
  if (l.qr) {
    const cv::Mat q = gray(l.qr->ToRect(sz));
    const double dark = Fraction(q, 0, 90), bright = Fraction(q, 170, 255);
    s *= (dark > 0.15 && bright > 0.15) ? 1.0 : 0.5;
  }
  if (l.mrz_format != MrzFormat::kUnknown) {
    if (mrz_format != MrzFormat::kUnknown) {
      s *= mrz_format == l.mrz_format ? 1.0 : 0.05;
    } else {
      const cv::Mat m = gray(l.mrz.ToRect(sz));
      const double dark = Fraction(m, 0, 110);
      s *= (dark > 0.04 && dark < 0.4) ? 1.0 : 0.3;
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

}  // namespace

const char* ProblemHint(const std::string& code) {
  if (code == kCardNotFound) return "no card found: lay the card flat on a plain, darker surface and fill most of the frame";
  if (code == kCardTooSmall) return "the card is too small in the picture: move the camera closer";
  if (code == kCardCutOff) return "part of the card is outside the picture: include all four corners";
  if (code == kBlurred) return "the picture is blurred: hold still and let the camera focus";
  if (code == kGlareOnPortrait) return "glare over the portrait: tilt the card or move away from the light";
  if (code == kGlareOnMrz) return "glare over the machine-readable lines: tilt the card or move away from the light";
  if (code == kPortraitObstructed) return "something covers the portrait (a finger?): hold the card by its edges";
  if (code == kPortraitNotFound) return "no face found on the card's portrait";
  if (code == kBlankImage) return "the image is blank";
  return "";
}

CardDetection FindCard(const cv::Mat& rgb) {
  CardDetection d;
  if (rgb.empty()) {
    d.problems.push_back(kCardNotFound);
    return d;
  }
  const double s = std::min(1.0, 800.0 / std::max(rgb.cols, rgb.rows));
  cv::Mat small, gray;
  cv::resize(rgb, small, cv::Size(), s, s, cv::INTER_AREA);
  cv::cvtColor(small, gray, cv::COLOR_RGB2GRAY);
  const double img_area = static_cast<double>(small.total());
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
    cv::kmeans(samples, k, labels, cv::TermCriteria(cv::TermCriteria::COUNT, 10, 1.0), 1, cv::KMEANS_PP_CENTERS, centres);
    fg.create(lab.size(), CV_8U);
    for (int y = 0; y < lab.rows; ++y)
      for (int x = 0; x < lab.cols; ++x) {
        const cv::Vec3f& v = lab.at<cv::Vec3f>(y, x);
        float dmin = 1e9f;
        for (int c = 0; c < k; ++c) {
          const float* ce = centres.ptr<float>(c);
          const float d = (v[0] - ce[0]) * (v[0] - ce[0]) + (v[1] - ce[1]) * (v[1] - ce[1]) + (v[2] - ce[2]) * (v[2] - ce[2]);
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
  if (best_quad.empty()) {
    d.problems.push_back(kCardNotFound);
    return d;
  }
  // A band of the card in a colour of its own (a header) can have a stronger edge on its inner
  // side than on the card's: push each side outward while the strip crossed is foreground
  // (unlike the table) and there is an edge further out.
  {
    std::array<cv::Point2f, 4> o = OrderCorners(best_quad);
    const cv::Point2f centre = (o[0] + o[1] + o[2] + o[3]) * 0.25f;
    auto frac = [&](const cv::Mat& m, const cv::Point2f& p, const cv::Point2f& q, bool is_mag) {
      int on = 0, n = 0;
      for (int k = 0; k <= 30; ++k) {
        const cv::Point2f x = p + (q - p) * (0.15f + 0.7f * k / 30.f);
        const int xi = cvRound(x.x), yi = cvRound(x.y);
        if (xi < 0 || yi < 0 || xi >= m.cols || yi >= m.rows) continue;
        ++n;
        on += is_mag ? m.at<float>(yi, xi) > 60 : m.at<uint8_t>(yi, xi) > 0;
      }
      return n ? static_cast<double>(on) / n : 0.0;
    };
    std::array<float, 4> shift{};
    for (int i = 0; i < 4; ++i) {
      const cv::Point2f a = o[i], b = o[(i + 1) % 4];
      cv::Point2f nrm(-(b - a).y, (b - a).x);
      nrm *= 1.f / static_cast<float>(cv::norm(nrm) + 1e-6);
      if (nrm.dot((a + b) * 0.5f - centre) < 0) nrm = -nrm;
      const double other = (Dist(o[(i + 1) % 4], o[(i + 2) % 4]) + Dist(o[(i + 3) % 4], o[i])) / 2;
      for (int dd = 3; dd < 0.35 * other; ++dd) {
        const cv::Point2f p = a + nrm * static_cast<float>(dd), q = b + nrm * static_cast<float>(dd);
        if (frac(fg, a + nrm * static_cast<float>(dd - 2), b + nrm * static_cast<float>(dd - 2), false) < 0.85) break;
        if (frac(mag, p, q, true) > 0.6 && frac(fg, a + nrm * static_cast<float>(dd + 3), b + nrm * static_cast<float>(dd + 3), false) < 0.3)
          shift[i] = static_cast<float>(dd);
      }
    }
    std::array<std::pair<cv::Point2f, cv::Point2f>, 4> sides;
    for (int i = 0; i < 4; ++i) {
      const cv::Point2f a = o[i], b = o[(i + 1) % 4];
      cv::Point2f nrm(-(b - a).y, (b - a).x);
      nrm *= 1.f / static_cast<float>(cv::norm(nrm) + 1e-6);
      if (nrm.dot((a + b) * 0.5f - centre) < 0) nrm = -nrm;
      sides[i] = {a + nrm * shift[i], b + nrm * shift[i]};
    }
    for (int i = 0; i < 4; ++i) {
      const auto& [p1, p2] = sides[(i + 3) % 4];
      const auto& [p3, p4] = sides[i];
      const cv::Point2f r = p2 - p1, t = p4 - p3;
      const float den = r.x * t.y - r.y * t.x;
      if (std::abs(den) < 1e-6f) continue;
      const float uu = ((p3.x - p1.x) * t.y - (p3.y - p1.y) * t.x) / den;
      best_quad[i] = p1 + r * uu;
    }
    for (int i = 0; i < 4; ++i) o[i] = best_quad[i];
  }
  const auto o = OrderCorners(best_quad);
  d.found = true;
  for (int i = 0; i < 4; ++i) d.corners[i] = o[i] * static_cast<float>(1.0 / s);
  d.area_fraction = cv::contourArea(best_quad) / img_area;
  d.aspect = (Dist(o[0], o[1]) + Dist(o[3], o[2])) / std::max(1.0, Dist(o[0], o[3]) + Dist(o[1], o[2]));
  const float m = 3;
  for (const auto& p : best_quad)
    d.touches_edge |= p.x < m || p.y < m || p.x > small.cols - 1 - m || p.y > small.rows - 1 - m;
  if (d.touches_edge) d.problems.push_back(kCardCutOff);
  if (d.area_fraction < 0.10) d.problems.push_back(kCardTooSmall);
  return d;
}

cv::Mat Rectify(const cv::Mat& rgb, const std::array<cv::Point2f, 4>& c, cv::Size size) {
  const std::vector<cv::Point2f> src(c.begin(), c.end());
  const std::vector<cv::Point2f> dst = {{0, 0}, {static_cast<float>(size.width), 0},
                                        {static_cast<float>(size.width), static_cast<float>(size.height)},
                                        {0, static_cast<float>(size.height)}};
  cv::Mat out;
  cv::warpPerspective(rgb, out, cv::getPerspectiveTransform(src, dst), size, cv::INTER_AREA, cv::BORDER_REPLICATE);
  return out;
}

Classification Classify(const cv::Mat& rectified, const std::vector<DocumentLayout>& layouts, MrzFormat mrz_format) {
  Classification c;
  if (rectified.empty() || layouts.empty()) return c;
  const double est_aspect = static_cast<double>(rectified.cols) / rectified.rows;
  for (const auto& l : layouts) {
    cv::Mat card;
    cv::resize(rectified, card, l.CanonicalSize(), 0, 0, cv::INTER_AREA);
    c.scores.emplace_back(l.id, LayoutScore(card, l, est_aspect, mrz_format));
  }
  std::sort(c.scores.begin(), c.scores.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  const double best = c.scores[0].second, second = c.scores.size() > 1 ? c.scores[1].second : 0;
  // How well the best layout matches, times how clearly it beats the runner-up.
  c.confidence = std::pow(best, 0.25) * (best / (best + second + 1e-12));
  c.type = c.scores[0].first;
  return c;
}

namespace {

// Card orientation: the layout match of the card and of the card turned 180 degrees.
Classification ClassifyBothWays(cv::Mat& rectified, const std::vector<DocumentLayout>& layouts, MrzFormat f) {
  Classification a = Classify(rectified, layouts, f);
  cv::Mat turned;
  cv::rotate(rectified, turned, cv::ROTATE_180);
  Classification b = Classify(turned, layouts, f);
  if (b.scores.empty() || a.scores.empty() || b.scores[0].second <= a.scores[0].second) return a;
  rectified = turned;
  return b;
}

}  // namespace

std::optional<cv::Rect> FindPortrait(const cv::Mat& card, const DocumentLayout* layout, const face::FaceAnalyzer& analyzer) {
  cv::Rect zone(0, 0, card.cols, card.rows);
  if (layout) zone = Expand(layout->portrait.ToRect(card.size()), 1.5, card.size());
  cv::Mat crop = card(zone);
  // Portraits are small: bring the zone to ~480 px on its long side for the detector.
  const double up = std::clamp(480.0 / std::max(crop.cols, crop.rows), 1.0, 4.0);
  cv::Mat big;
  cv::resize(crop, big, cv::Size(), up, up, up > 1 ? cv::INTER_CUBIC : cv::INTER_AREA);
  const auto faces = analyzer.DetectAll(face::ToFloat(big));
  // The largest face is the main portrait (a ghost image is smaller and paler).
  for (const auto& f : faces) {
    cv::Rect b(cvRound(f.box.x / up) + zone.x, cvRound(f.box.y / up) + zone.y, cvRound(f.box.width / up),
               cvRound(f.box.height / up));
    b &= cv::Rect(0, 0, card.cols, card.rows);
    if (b.area() > 0) return b;
  }
  return std::nullopt;
}

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
  r.detection = FindCard(rgb);
  for (const auto& p : r.detection.problems)
    if (p != kCardNotFound) add(p);
  cv::Mat card;
  cv::Mat H_inv;  // rectified -> photo
  if (r.detection.found) {
    const double aspect = std::clamp(r.detection.aspect, 1.2, 1.8);
    const cv::Size sz(1000, static_cast<int>(1000 / aspect));
    card = Rectify(rgb, r.detection.corners, sz);
  } else {
    // No edges of a card: perhaps a scan that is the document itself.
    r.whole_image = true;
    card = rgb.clone();
  }
  MrzFormat mrz_format = MrzFormat::kUnknown;
  r.classification = ClassifyBothWays(card, layouts, mrz_format);
  const DocumentLayout* layout = FindLayout(layouts, r.classification.type);
  const bool try_mrz = options.read_mrz && (r.whole_image || (layout && layout->mrz_format != MrzFormat::kUnknown) ||
                                            r.classification.confidence < options.unknown_below);
  if (try_mrz) {
    MrzReading m = ReadMrz(card, options.ocr);
    if (m.found) {
      mrz_format = m.mrz.format;
      r.mrz = std::move(m);
      if (mrz_format != MrzFormat::kUnknown) {
        r.classification = Classify(card, layouts, mrz_format);
        // A valid MRZ names the document family even when the design is not one of ours.
        for (const auto& l : layouts) {
          if (l.mrz_format == mrz_format && l.id != r.classification.type) continue;
          if (l.mrz_format == mrz_format) {
            r.classification.confidence = std::max(r.classification.confidence, r.mrz->mrz.valid ? 0.9 : 0.6);
            break;
          }
        }
      }
    }
  }
  if (r.whole_image && !r.mrz) {
    // Neither a card outline nor an MRZ: do not guess a document out of an arbitrary picture.
    add(kCardNotFound);
    r.classification.type = "unknown";
    r.classification.confidence = 0;
    return r;
  }
  if (r.classification.confidence < options.unknown_below) r.classification.type = "unknown";
  layout = FindLayout(layouts, r.classification.type);
  if (layout && r.detection.found) card = Rectify(rgb, r.detection.corners, layout->CanonicalSize());
  if (layout && r.detection.found) {
    // Re-apply the orientation chosen above.
    cv::Mat turned;
    cv::rotate(card, turned, cv::ROTATE_180);
    if (LayoutScore(turned, *layout, 0, mrz_format) > LayoutScore(card, *layout, 0, mrz_format)) card = turned;
  }
  r.rectified = card;
  // Capture quality on the rectified card.
  cv::Mat gray;
  cv::cvtColor(card, gray, cv::COLOR_RGB2GRAY);
  {
    cv::Mat g1000, lap;
    const double s = 1000.0 / card.cols;
    cv::resize(gray, g1000, cv::Size(), s, s, cv::INTER_AREA);
    cv::Laplacian(g1000, lap, CV_32F);
    cv::Scalar m, sd;
    cv::meanStdDev(lap, m, sd);
    if (sd[0] * sd[0] < 25) add(kBlurred);
  }
  // Glare is local: saturated pixels in the zone well above the card's own share of them (a
  // white paper scan is saturated everywhere).
  const double card_white = Fraction(gray, 250, 255);
  if (layout && card_white < 0.2) {
    if (Fraction(gray(layout->portrait.ToRect(card.size())), 250, 255) > 0.05 + 2 * card_white) add(kGlareOnPortrait);
    if (layout->mrz_format != MrzFormat::kUnknown &&
        Fraction(gray(layout->mrz.ToRect(card.size())), 252, 255) > 0.25 + 2 * card_white)
      add(kGlareOnMrz);
  }
  if (options.find_portrait && analyzer != nullptr) {
    r.portrait_box = FindPortrait(card, layout, *analyzer);
    if (r.portrait_box) {
      r.portrait = card(Expand(*r.portrait_box, 2.2, card.size())).clone();
      if (r.detection.found) {
        // Back to photo coordinates through the rectifying homography.
        const std::vector<cv::Point2f> dst(r.detection.corners.begin(), r.detection.corners.end());
        const std::vector<cv::Point2f> src = {{0, 0}, {static_cast<float>(card.cols), 0},
                                              {static_cast<float>(card.cols), static_cast<float>(card.rows)},
                                              {0, static_cast<float>(card.rows)}};
        const cv::Mat H = cv::getPerspectiveTransform(src, dst);
        const cv::Rect b = *r.portrait_box;
        std::vector<cv::Point2f> pts = {b.tl(), {static_cast<float>(b.br().x), static_cast<float>(b.y)}, b.br(),
                                        {static_cast<float>(b.x), static_cast<float>(b.br().y)}}, out;
        cv::perspectiveTransform(pts, out, H);
        r.portrait_box_in_photo = cv::boundingRect(out);
      } else {
        r.portrait_box_in_photo = r.portrait_box;
      }
    } else if (layout) {
      // The zone is there but holds no detectable face: something covers it, or glare does.
      add(std::find(r.problems.begin(), r.problems.end(), kGlareOnPortrait) != r.problems.end() ? kPortraitNotFound
                                                                                                : kPortraitObstructed);
    } else {
      add(kPortraitNotFound);
    }
  }
  return r;
}

}  // namespace idm::document
