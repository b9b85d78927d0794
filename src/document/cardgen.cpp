#include "document/cardgen.h"

#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

namespace idm::document {
namespace {

std::mutex g_renderer_mu;
TextRenderer g_renderer;

bool IsAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 128; });
}

void HersheyText(cv::Mat& img, const std::string& utf8, const std::string& latin, const cv::Rect& box,
                 const cv::Scalar& colour, bool monospace) {
  const std::string text = IsAscii(utf8) ? utf8 : latin;
  if (text.empty() || box.area() <= 0) return;
  const int font = monospace ? cv::FONT_HERSHEY_PLAIN : cv::FONT_HERSHEY_SIMPLEX;
  const int thickness = std::max(1, box.height / 14);
  if (monospace) {
    // Fixed pitch: one cell per character, as in OCR-B.
    const double pitch = static_cast<double>(box.width) / static_cast<double>(text.size());
    int base = 0;
    const cv::Size ref = cv::getTextSize("0", font, 1.0, thickness, &base);
    const double scale = std::min(box.height * 0.8 / ref.height, pitch * 0.9 / ref.width);
    for (size_t i = 0; i < text.size(); ++i) {
      const std::string ch(1, text[i]);
      const cv::Size sz = cv::getTextSize(ch, font, scale, thickness, &base);
      const int x = box.x + static_cast<int>(i * pitch + (pitch - sz.width) / 2);
      cv::putText(img, ch, {x, box.y + (box.height + sz.height) / 2}, font, scale, colour, thickness, cv::LINE_AA);
    }
    return;
  }
  int base = 0;
  const cv::Size sz = cv::getTextSize(text, font, 1.0, thickness, &base);
  const double scale = std::min(box.height * 0.75 / sz.height, box.width / static_cast<double>(sz.width));
  cv::putText(img, text, {box.x, box.y + static_cast<int>(box.height * 0.8)}, font, scale, colour, thickness,
              cv::LINE_AA);
}

void DrawText(cv::Mat& img, const std::string& utf8, const std::string& latin, const cv::Rect& box,
              const cv::Scalar& colour, bool monospace = false) {
  TextRenderer r;
  {
    std::lock_guard<std::mutex> lock(g_renderer_mu);
    r = g_renderer;
  }
  if (r) {
    r(img, utf8, latin, box, colour, monospace);
  } else {
    HersheyText(img, utf8, latin, box, colour, monospace);
  }
}

// Invented data: nothing here is a real person's.
struct Invented {
  std::string surname, given, name_ko, rrn, frn, licence, doc_number, country, birth, expiry, issue, address_ko;
  char sex;
};

Invented Invent(std::mt19937_64& rng) {
  static const char* kSurnames[] = {"SPECIMEN", "SAMPLE", "MUSTER", "EXEMPLAR", "TESTCASE", "MODELO", "PROBE", "VZOR"};
  static const char* kGiven[] = {"ALEX", "JORDAN", "SAM", "CASEY", "ROBIN", "TAYLOR", "JAMIE", "KIM"};
  static const char* kKoNames[] = {"홍길동", "김견본", "이표본", "박예시", "최샘플"};
  static const char* kCountries[] = {"UTO", "XXA", "KOR", "ZZZ"};
  auto pick = [&](auto& arr) { return arr[std::uniform_int_distribution<size_t>(0, std::size(arr) - 1)(rng)]; };
  auto digits = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
    return s;
  };
  auto date = [&](int y0, int y1) {
    char b[8];
    // One draw per statement: argument evaluation order is unspecified, and the same seed must give
    // the same card whichever compiler built the generator (the draws keep GCC's right-to-left order).
    const int day = static_cast<int>(1 + rng() % 28), month = static_cast<int>(1 + rng() % 12);
    const int year = static_cast<int>(y0 + rng() % (y1 - y0 + 1)) % 100;
    std::snprintf(b, sizeof b, "%02d%02d%02d", year, month, day);
    return std::string(b);
  };
  Invented d;
  d.surname = pick(kSurnames);
  d.given = pick(kGiven);
  d.name_ko = pick(kKoNames);
  d.sex = rng() % 2 ? 'M' : 'F';
  d.birth = date(1950, 2004);
  d.rrn = d.birth + "-" + (d.sex == 'M' ? "1" : "2") + digits(6);
  d.frn = d.birth + "-" + (d.sex == 'M' ? "5" : "6") + digits(6);
  d.licence = "00-" + digits(2) + "-" + digits(6) + "-" + digits(2);
  d.doc_number = std::string(1, static_cast<char>('A' + rng() % 26)) + "X" + digits(7);
  d.country = pick(kCountries);
  d.expiry = date(2027, 2035);
  d.issue = date(2018, 2025);
  d.address_ko = "견본시 표본구 예시로 " + std::to_string(1 + rng() % 200);
  return d;
}

std::string Pad(std::string s, size_t n) {
  if (s.size() > n) s.resize(n);
  while (s.size() < n) s += '<';
  return s;
}

std::vector<std::string> MakeMrz(MrzFormat f, const Invented& d) {
  const std::string names = d.surname + "<<" + d.given;
  std::vector<std::string> l;
  const std::string sex(1, d.sex);
  if (f == MrzFormat::kTD1) {
    l = {Pad("I<" + d.country + d.doc_number + "0", 30),
         Pad(d.birth + "0" + sex + d.expiry + "0" + d.country, 29) + "0", Pad(names, 30)};
  } else if (f == MrzFormat::kTD2) {
    l = {Pad("I<" + d.country + names, 36),
         Pad(d.doc_number + "0" + d.country + d.birth + "0" + sex + d.expiry + "0", 35) + "0"};
  } else {
    l = {Pad("P<" + d.country + names, 44),
         Pad(d.doc_number + "0" + d.country + d.birth + "0" + sex + d.expiry + "0", 42) + "00"};
  }
  FillMrzCheckDigits(f, l);
  return l;
}

std::string ZoneText(const TextZone& z, const Invented& d, std::string* latin) {
  auto fmt_date = [](const std::string& yymmdd) {
    const int yy = std::stoi(yymmdd.substr(0, 2));
    return std::to_string(yy > 40 ? 1900 + yy : 2000 + yy) + "." + yymmdd.substr(2, 2) + "." + yymmdd.substr(4, 2);
  };
  if (z.kind == "fixed") {
    *latin = z.latin;
    return z.text;
  }
  if (z.kind == "name_ko") {
    *latin = d.surname + " " + d.given;
    return d.name_ko + " (" + d.surname + ")";
  }
  if (z.kind == "address_ko") {
    *latin = "SPECIMEN-SI PYOBON-GU";
    return d.address_ko;
  }
  if (z.kind == "date") {
    *latin = fmt_date(z.name == "expiry" ? d.expiry : z.name == "birth_date" ? d.birth : d.issue);
    return *latin;
  }
  // Zones printed as they read, in Latin script.
  const std::map<std::string, std::string> latin_text = {{"name_latin", d.surname + " " + d.given},
                                                         {"surname_latin", d.surname},
                                                         {"given_latin", d.given},
                                                         {"rrn", d.rrn},
                                                         {"frn", d.frn},
                                                         {"licence_number", d.licence},
                                                         {"mrz_number", d.doc_number},
                                                         {"country", d.country}};
  const auto it = latin_text.find(z.kind);
  *latin = it == latin_text.end() ? "" : it->second;
  return *latin;
}

cv::Scalar Col(const cv::Vec3b& c) { return cv::Scalar(c[0], c[1], c[2]); }

void Guilloche(cv::Mat& card, std::mt19937_64& rng, const cv::Vec3b& base) {
  const cv::Scalar c(std::max(0, base[0] - 40), std::max(0, base[1] - 30), std::max(0, base[2] - 20));
  std::uniform_real_distribution<double> u(0, 1);
  const double f1 = 2 + 4 * u(rng), f2 = 5 + 8 * u(rng), ph = 6.28 * u(rng);
  for (int k = 0; k < 14; ++k) {
    std::vector<cv::Point> pts;
    for (int x = 0; x <= card.cols; x += 4) {
      const double t = static_cast<double>(x) / card.cols;
      const double y =
          card.rows * (0.5 + 0.35 * std::sin(6.283 * f1 * t + ph + k * 0.45) * std::cos(6.283 * f2 * t * 0.3 + k));
      pts.push_back({x, static_cast<int>(y)});
    }
    cv::polylines(card, pts, false, c, 1, cv::LINE_AA);
  }
}

// Draws a real, decodable QR code of invented content into `box` and returns the content (the
// reader never logs or keeps what it decodes; the tests check that against this).
std::string DrawQr(cv::Mat& card, const cv::Rect& box, std::mt19937_64& rng) {
  const std::string content = "SPECIMEN-" + std::to_string(rng() % 1000000000ULL);
  const int side = std::min(box.width, box.height);
  try {
    const ZXing::BitMatrix m = ZXing::MultiFormatWriter(ZXing::BarcodeFormat::QRCode).encode(content, side, side);
    for (int y = 0; y < m.height() && y < side; ++y)
      for (int x = 0; x < m.width() && x < side; ++x)
        card.at<cv::Vec3b>(box.y + y, box.x + x) = m.get(x, y) ? cv::Vec3b(0, 0, 0) : cv::Vec3b(255, 255, 255);
  } catch (const std::exception&) {
    cv::rectangle(card, box, cv::Scalar(0, 0, 0), 2);
    return "";
  }
  return content;
}

}  // namespace

void SetTextRenderer(TextRenderer r) {
  std::lock_guard<std::mutex> lock(g_renderer_mu);
  g_renderer = std::move(r);
}

GeneratedCard RenderCard(const DocumentLayout& layout, const cv::Mat& face_rgb, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const cv::Size size = layout.CanonicalSize();
  GeneratedCard out;
  out.layout_id = layout.id;
  cv::Mat card(size, CV_8UC3, Col(layout.background));
  // Background tint gradient + guilloche.
  for (int y = 0; y < card.rows; ++y) {
    const double t = 0.93 + 0.07 * y / card.rows;
    cv::Mat row = card.row(y);
    row.convertTo(row, -1, t, 255 * (1 - t) * 0.5);
  }
  Guilloche(card, rng, layout.background);
  cv::rectangle(card, layout.header.ToRect(size), Col(layout.header_rgb), cv::FILLED);
  const Invented d = Invent(rng);
  // Portrait: the centre of the photo (LFW faces are centred), 3:4, into the zone.
  const cv::Rect pz = layout.portrait.ToRect(size);
  {
    const double zone_aspect = static_cast<double>(pz.width) / pz.height;
    const int ch = static_cast<int>(face_rgb.rows * 0.68),
              cw = std::min(face_rgb.cols, static_cast<int>(ch * zone_aspect));
    const cv::Rect src((face_rgb.cols - cw) / 2, static_cast<int>(face_rgb.rows * 0.14), cw, ch);
    cv::Mat p;
    cv::resize(face_rgb(src & cv::Rect(0, 0, face_rgb.cols, face_rgb.rows)), p, pz.size(), 0, 0, cv::INTER_AREA);
    if (!layout.portrait_colour) {
      cv::cvtColor(p, p, cv::COLOR_RGB2GRAY);
      cv::cvtColor(p, p, cv::COLOR_GRAY2RGB);
    }
    p.copyTo(card(pz));
    out.portrait_box = pz;
    if (layout.ghost_portrait) {
      const cv::Rect gz = layout.ghost_portrait->ToRect(size);
      cv::Mat g;
      cv::resize(p, g, gz.size(), 0, 0, cv::INTER_AREA);
      cv::cvtColor(g, g, cv::COLOR_RGB2GRAY);
      cv::cvtColor(g, g, cv::COLOR_GRAY2RGB);
      cv::addWeighted(g, 0.35, card(gz), 0.65, 0, card(gz));
    }
  }
  for (const auto& z : layout.text_zones) {
    std::string latin;
    const std::string text = ZoneText(z, d, &latin);
    const cv::Scalar colour = z.colour ? Col(*z.colour) : cv::Scalar(25, 25, 35);
    DrawText(card, text, latin, z.box.ToRect(size), colour);
  }
  if (layout.qr) out.qr_text = DrawQr(card, layout.qr->ToRect(size), rng);
  if (layout.mrz_format != MrzFormat::kUnknown) {
    out.mrz_lines = MakeMrz(layout.mrz_format, d);
    const cv::Rect mz = layout.mrz.ToRect(size);
    cv::rectangle(card, mz, cv::Scalar(250, 250, 250), cv::FILLED);
    const int n = static_cast<int>(out.mrz_lines.size());
    for (int i = 0; i < n; ++i) {
      const cv::Rect lb(mz.x + mz.width / 40, mz.y + mz.height * i / n + mz.height / (6 * n), mz.width * 38 / 40,
                        mz.height * 2 / (3 * n));
      DrawText(card, out.mrz_lines[i], out.mrz_lines[i], lb, cv::Scalar(10, 10, 10), true);
    }
  }
  // SPECIMEN / 견본 across the card, in red, over everything but clear of the portrait's face.
  {
    const int top = layout.mrz_format != MrzFormat::kUnknown ? layout.mrz.ToRect(size).y - size.height / 10
                                                             : size.height * 86 / 100;
    DrawText(card, "SPECIMEN 견본", "SPECIMEN",
             cv::Rect(size.width * 66 / 100, top, size.width * 30 / 100, size.height / 12), cv::Scalar(200, 30, 30));
  }
  // Fine guilloche over the portrait as well (as on real cards).
  cv::Mat over = card(pz);
  for (int k = 0; k < 6; ++k) {
    const int y0 = static_cast<int>(over.rows * (0.1 + 0.15 * k));
    for (int x = 0; x + 3 < over.cols; x += 3) {
      const int y = y0 + static_cast<int>(4 * std::sin(x * 0.08 + k));
      if (y >= 0 && y < over.rows) {
        cv::Vec3b& px = over.at<cv::Vec3b>(y, x);
        for (int c = 0; c < 3; ++c) px[c] = static_cast<uint8_t>(px[c] * 0.75 + 255 * 0.25);
      }
    }
  }
  out.rgb = card;
  return out;
}

CapturedCard SimulateCapture(const cv::Mat& card_in, uint64_t seed, const CaptureOptions& o) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  CapturedCard out;
  cv::Mat card = card_in.clone();
  if (o.halftone) {
    // Print halftone: a fine dot screen modulating each channel.
    cv::Mat f;
    card.convertTo(f, CV_32FC3, 1.0 / 255);
    const double period = 3.0 + u(rng) * 2;
    for (int y = 0; y < f.rows; ++y)
      for (int x = 0; x < f.cols; ++x) {
        const double s = 0.5 + 0.5 * std::cos(6.283 * x / period) * std::cos(6.283 * y / period);
        cv::Vec3f& p = f.at<cv::Vec3f>(y, x);
        for (int c = 0; c < 3; ++c) p[c] = static_cast<float>(std::clamp(p[c] + 0.12 * (s - 0.5), 0.0, 1.0));
      }
    f.convertTo(card, CV_8UC3, 255);
    out.applied.push_back("halftone");
  }
  // Rounded corners of a plastic card: the photo's background shows there.
  cv::Mat mask(card.size(), CV_8U, cv::Scalar(255));
  {
    const int r = card.cols / 28;
    mask.setTo(0);
    cv::rectangle(mask, cv::Rect(r, 0, card.cols - 2 * r, card.rows), 255, cv::FILLED);
    cv::rectangle(mask, cv::Rect(0, r, card.cols, card.rows - 2 * r), 255, cv::FILLED);
    for (cv::Point c : {cv::Point(r, r), cv::Point(card.cols - r - 1, r), cv::Point(r, card.rows - r - 1),
                        cv::Point(card.cols - r - 1, card.rows - r - 1)})
      cv::circle(mask, c, r, 255, cv::FILLED);
  }
  // Background: a table-like texture with clutter.
  cv::Mat photo(o.photo, CV_8UC3);
  {
    const double b2 = u(rng), b1 = u(rng), b0 = u(rng);  // one draw per statement (see date())
    const cv::Scalar base(60 + 120 * b0, 50 + 120 * b1, 40 + 120 * b2);
    photo.setTo(base);
    cv::Mat noise(photo.size(), CV_8UC3);
    // From the capture's own seed, not cv::randn's thread RNG: a capture must not depend on what
    // ran before it on the thread (the two-thread card eval drew different noise per run).
    cv::RNG(rng()).fill(noise, cv::RNG::NORMAL, 0, 12);
    photo += noise;
    if (o.clutter) {
      for (int k = 0; k < 14; ++k) {
        const double c2 = u(rng), c1 = u(rng), c0 = u(rng);
        const cv::Scalar c(255 * c0, 255 * c1, 255 * c2);
        const double py = u(rng), px = u(rng);
        const cv::Point p(static_cast<int>(px * photo.cols), static_cast<int>(py * photo.rows));
        if (k % 3 == 0) {
          cv::circle(photo, p, static_cast<int>(20 + 80 * u(rng)), c, cv::FILLED, cv::LINE_AA);
        } else if (k % 3 == 1) {
          const double width = u(rng);
          const double qx = u(rng), qy = u(rng);  // a braced list is evaluated left to right
          cv::line(photo, p, {static_cast<int>(qx * photo.cols), static_cast<int>(qy * photo.rows)}, c,
                   static_cast<int>(2 + 6 * width), cv::LINE_AA);
        } else {
          cv::putText(photo, "receipt 12.50", p, cv::FONT_HERSHEY_SIMPLEX, 0.6 + u(rng), c, 2);
        }
      }
      out.applied.push_back("clutter");
    }
    cv::GaussianBlur(photo, photo, cv::Size(0, 0), 1.5);
  }
  // Where the card lands: centred-ish, tilted in 3D (a homography from a rotated plane).
  const double cw = o.card_fraction * o.photo.width * (0.85 + 0.3 * u(rng));
  const double ch = cw * card.rows / card.cols;
  const double cy = u(rng), cx = u(rng);
  const cv::Point2d centre(o.photo.width * (0.4 + 0.2 * cx), o.photo.height * (0.4 + 0.2 * cy));
  std::array<cv::Point2d, 4> flat = {cv::Point2d(-cw / 2, -ch / 2), cv::Point2d(cw / 2, -ch / 2),
                                     cv::Point2d(cw / 2, ch / 2), cv::Point2d(-cw / 2, ch / 2)};
  const double tilt = o.perspective ? (u(rng) * 2 - 1) * o.max_tilt_deg * CV_PI / 180 : 0;
  const double tilt2 = o.perspective ? (u(rng) * 2 - 1) * o.max_tilt_deg * 0.5 * CV_PI / 180 : 0;
  const double roll = (u(rng) * 2 - 1) * 15 * CV_PI / 180;
  const double f = o.photo.width * 1.1;
  std::vector<cv::Point2f> dst, src = {{0, 0},
                                       {static_cast<float>(card.cols), 0},
                                       {static_cast<float>(card.cols), static_cast<float>(card.rows)},
                                       {0, static_cast<float>(card.rows)}};
  for (const auto& p : flat) {
    // rotate about x (tilt2), y (tilt), then z (roll); project at distance f.
    double x = p.x, y = p.y, z = 0;
    double y1 = y * std::cos(tilt2), z1 = y * std::sin(tilt2);
    double x2 = x * std::cos(tilt) + z1 * std::sin(tilt), z2 = -x * std::sin(tilt) + z1 * std::cos(tilt);
    double x3 = x2 * std::cos(roll) - y1 * std::sin(roll), y3 = x2 * std::sin(roll) + y1 * std::cos(roll);
    z = f + z2;
    dst.push_back(cv::Point2f(static_cast<float>(centre.x + f * x3 / z), static_cast<float>(centre.y + f * y3 / z)));
  }
  if (o.perspective) out.applied.push_back("perspective");
  const cv::Mat H = cv::getPerspectiveTransform(src, dst);
  cv::Mat warped, wmask;
  cv::warpPerspective(card, warped, H, photo.size(), cv::INTER_LINEAR);
  cv::warpPerspective(mask, wmask, H, photo.size(), cv::INTER_LINEAR);
  // A soft drop shadow under the card, then the card.
  cv::Mat shadow;
  cv::GaussianBlur(wmask, shadow, cv::Size(0, 0), 6);
  for (int y = 0; y < photo.rows; ++y)
    for (int x = 0; x < photo.cols; ++x) {
      const float a = wmask.at<uint8_t>(y, x) / 255.f, s = shadow.at<uint8_t>(y, x) / 255.f;
      cv::Vec3b& p = photo.at<cv::Vec3b>(y, x);
      const cv::Vec3b& c = warped.at<cv::Vec3b>(y, x);
      for (int k = 0; k < 3; ++k) p[k] = cv::saturate_cast<uint8_t>((p[k] * (1 - 0.35f * s)) * (1 - a) + c[k] * a);
    }
  for (int i = 0; i < 4; ++i) out.corners[i] = dst[i];
  cv::Mat fimg;
  photo.convertTo(fimg, CV_32FC3);
  if (o.shadow && u(rng) < 0.7) {
    // A partial shadow: a dark half-plane with a soft edge across the photo.
    const double ang = u(rng) * CV_PI * 2, off = (u(rng) - 0.5) * 0.6;
    for (int y = 0; y < fimg.rows; ++y)
      for (int x = 0; x < fimg.cols; ++x) {
        const double d =
            ((x - fimg.cols / 2.0) * std::cos(ang) + (y - fimg.rows / 2.0) * std::sin(ang)) / fimg.cols - off;
        const float k = static_cast<float>(1 - 0.35 / (1 + std::exp(-d * 40)));
        fimg.at<cv::Vec3f>(y, x) *= k;
      }
    out.applied.push_back("shadow");
  }
  if (o.glare && u(rng) < 0.6) {
    // Lamination glare: a bright elliptical highlight somewhere on the card.
    const double t = u(rng);
    const cv::Point2f c = dst[0] * static_cast<float>(1 - t) * 0.5f + dst[2] * static_cast<float>(t) * 0.5f +
                          dst[1] * static_cast<float>(u(rng)) * 0.25f + dst[3] * 0.25f;
    cv::Mat g(fimg.size(), CV_32F, cv::Scalar(0));
    cv::ellipse(g, c, cv::Size(static_cast<int>(cw * 0.12), static_cast<int>(ch * 0.08)), u(rng) * 180, 0, 360,
                cv::Scalar(1), cv::FILLED);
    cv::GaussianBlur(g, g, cv::Size(0, 0), cw * 0.04);
    for (int y = 0; y < fimg.rows; ++y)
      for (int x = 0; x < fimg.cols; ++x) {
        const float a = std::min(1.f, 1.3f * g.at<float>(y, x));
        fimg.at<cv::Vec3f>(y, x) = fimg.at<cv::Vec3f>(y, x) * (1 - a) + cv::Vec3f(255, 255, 255) * a;
      }
    out.applied.push_back("glare");
  }
  if (o.blur) {
    const double s = 0.5 + 1.2 * u(rng);
    cv::GaussianBlur(fimg, fimg, cv::Size(0, 0), s);
    out.applied.push_back("blur");
  }
  if (o.noise) {
    cv::Mat n(fimg.size(), CV_32FC3);
    const double sigma = 3 + 5 * u(rng);
    cv::RNG(rng()).fill(n, cv::RNG::NORMAL, 0, sigma);
    fimg += n;
    out.applied.push_back("noise");
  }
  fimg.convertTo(photo, CV_8UC3);
  if (o.jpeg) {
    std::vector<uint8_t> buf;
    cv::Mat bgr;
    cv::cvtColor(photo, bgr, cv::COLOR_RGB2BGR);
    cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, static_cast<int>(55 + 35 * u(rng))});
    cv::cvtColor(cv::imdecode(buf, cv::IMREAD_COLOR), photo, cv::COLOR_BGR2RGB);
    std::fill(buf.begin(), buf.end(), 0);
    out.applied.push_back("jpeg");
  }
  out.rgb = photo;
  return out;
}

}  // namespace idm::document
