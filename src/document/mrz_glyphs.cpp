#include "document/mrz_glyphs.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <opencv2/imgproc.hpp>

#include "document/mrz.h"
#include "document/ocrb_glyph_size.h"

namespace idm::document {
namespace {

#include "document/ocrb_glyphs.inc"

constexpr const char* kGlyphAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";
constexpr int kMargin = 4;  // px around a cell in the compared patch: the shifts tried

// Glyph widths tried for every template, as a factor of OCR-B's, and what each costs. The cell is
// scaled so that the print's median glyph is as wide as OCR-B's, but national prints are not all
// OCR-B: some print 0 as wide as O (OCR-B's 0 is narrower), or O and D narrower than their other
// glyphs; a template only at its own width then loses to a look-alike of the right width (a French
// visa's zeros read O, 6 or D, a UK visa's number AD0725981 read ADO7Z598I). A template used at
// another width gives up kWidthCost * |ln factor| of correlation (0.009 at 1.2), so that a glyph
// read equally well at OCR-B's own width keeps that reading (at no cost, Monaco's E was read F).
constexpr std::array<double, 3> kWidths = {1.0, 0.85, 1.2};
constexpr double kWidthCost = 0.05;

// FixStateCodes: the most correlation a listed code may give up against the code read (summed
// over its three cells). The specimens' fixes cost 0.001-0.07; the nearest listed code to a
// printed unlisted one (Interpol's INP) costs more than 0.16.
constexpr float kMaxStateCodeCost = 0.12f;

// Templates as matched: float, blurred like the patches, at each of kWidths (index w * 37 + t).
// (A second, blurrier set for upscaled low-resolution scans was tried: 13/22 exact instead of
// 14/22; templates degraded to the scan's resolution and a comparison of look-alikes on the pixels
// where they differ did not help either.)
const std::vector<cv::Mat>& Bank() {
  static const std::vector<cv::Mat> bank = [] {
    std::vector<cv::Mat> b;
    for (double w : kWidths)
      for (int i = 0; i < 37; ++i) {
        cv::Mat t(kGlyphH, kGlyphW, CV_8U, const_cast<unsigned char*>(&kOcrbGlyphs[i][0][0])), f;
        t.convertTo(f, CV_32F);
        if (w != 1.0) {
          // Stretched about the cell's centre, the height unchanged.
          const cv::Matx23d m(w, 0, (1 - w) * kGlyphW / 2.0, 0, 1, 0);
          cv::warpAffine(f, f, m, f.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 0);
        }
        cv::GaussianBlur(f, f, cv::Size(0, 0), 1.0);
        b.push_back(f);
      }
    return b;
  }();
  return bank;
}

double Median(std::vector<double> v);

// The templates' median ink width (wide glyphs: not I, 1 or <) as a fraction of the cell.
double FontWidthRatio() {
  static const double r = [] {
    std::vector<double> w;
    for (int i = 0; i < 37; ++i) {
      const char c = kGlyphAlphabet[i];
      if (c == 'I' || c == '1' || c == '<') continue;
      cv::Mat t(kGlyphH, kGlyphW, CV_8U, const_cast<unsigned char*>(&kOcrbGlyphs[i][0][0]));
      w.push_back(cv::boundingRect(t > 127).width / static_cast<double>(kGlyphW));
    }
    return Median(w);
  }();
  return r;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

struct Comp {
  cv::Rect box;
  double cx() const { return box.x + box.width / 2.0; }
};

}  // namespace

const char* GlyphAlphabet() { return kGlyphAlphabet; }

cv::Mat GlyphTemplate(char c) {
  const char* p = std::strchr(kGlyphAlphabet, c);
  if (p == nullptr || c == 0) return {};
  return cv::Mat(kGlyphH, kGlyphW, CV_8U, const_cast<unsigned char*>(&kOcrbGlyphs[p - kGlyphAlphabet][0][0])).clone();
}

GlyphLine ReadGlyphLine(const cv::Mat& gray, const cv::Rect& line_box, int x0, int x1, int n) {
  GlyphLine out;
  if (gray.empty() || line_box.height < 4 || n < 2) return out;
  const int h0 = line_box.height;
  const cv::Rect img_rect(0, 0, gray.cols, gray.rows);
  const cv::Rect roi = cv::Rect(std::min(x0, line_box.x) - h0, line_box.y - h0 * 35 / 100,
                                std::max(x1, line_box.x + line_box.width) - std::min(x0, line_box.x) + 2 * h0,
                                line_box.height + h0 * 70 / 100) & img_rect;
  if (roi.width < 2 * n || roi.height < 4) return out;
  cv::Mat bin;
  cv::threshold(gray(roi), bin, 0, 255, cv::THRESH_BINARY_INV | cv::THRESH_OTSU);
  cv::Mat labels, stats, centroids;
  const int k = cv::connectedComponentsWithStats(bin, labels, stats, centroids, 8, CV_32S);
  std::vector<Comp> comps;
  const double mid = line_box.y - roi.y + h0 / 2.0;
  for (int i = 1; i < k; ++i) {
    const cv::Rect b(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                     stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
    if (b.height < 0.3 * h0 || b.height > 1.4 * h0 || b.width > 2.0 * h0) continue;
    if (stats.at<int>(i, cv::CC_STAT_AREA) < 0.02 * h0 * h0) continue;
    if (std::abs(b.y + b.height / 2.0 - mid) > 0.4 * h0) continue;
    comps.push_back({b});
  }
  if (comps.size() < 4) return out;
  // Cap line and base line from the tall glyphs (a straight line each: the MRZ may be skewed).
  std::vector<double> heights;
  for (auto& c : comps) heights.push_back(c.box.height);
  const double tall = Median(heights);
  std::vector<Comp> tall_comps;
  for (auto& c : comps)
    if (c.box.height > 0.8 * tall && c.box.height < 1.25 * tall) tall_comps.push_back(c);
  if (tall_comps.size() < 3) return out;
  // Least squares on (cx, top) and (cx, bottom).
  double sx = 0, sy = 0, sxx = 0, sxy = 0, sb = 0, sxb = 0;
  for (auto& c : tall_comps) {
    const double x = c.cx(), t = c.box.y, bt = c.box.y + c.box.height;
    sx += x; sy += t; sxx += x * x; sxy += x * t; sb += bt; sxb += x * bt;
  }
  const double m = static_cast<double>(tall_comps.size());
  const double den = m * sxx - sx * sx;
  double slope = 0;
  if (std::abs(den) > 1e-6) slope = ((m * sxy - sx * sy) + (m * sxb - sx * sb)) / (2 * den);
  slope = std::clamp(slope, -0.15, 0.15);
  const double top0 = (sy - slope * sx) / m, bot0 = (sb - slope * sx) / m;
  const double cap = bot0 - top0;
  if (cap < 4) return out;
  // The character grid: monospaced cells of one pitch. Every component centre votes for the grid
  // (anchor, pitch) it lies on; the n consecutive cells holding the most components are the line
  // (clutter beyond the ends, or a glyph broken in two or merged with its neighbour, does not move it).
  std::sort(comps.begin(), comps.end(), [](const Comp& a, const Comp& b) { return a.cx() < b.cx(); });
  std::vector<double> gaps;
  for (size_t i = 1; i < comps.size(); ++i) gaps.push_back(comps[i].cx() - comps[i - 1].cx());
  const double d = std::max(2.0, Median(gaps));
  double best_c0 = 0, best_p = 0;
  int best_in = -1;
  for (double p = 0.8 * d; p <= 1.2 * d; p += 0.01 * d) {
    for (const auto& anchor : comps) {
      std::vector<int> cells;
      for (const auto& c : comps) {
        const double k = (c.cx() - anchor.cx()) / p;
        if (std::abs(k - std::round(k)) < 0.25) cells.push_back(static_cast<int>(std::lround(k)));
      }
      std::sort(cells.begin(), cells.end());
      cells.erase(std::unique(cells.begin(), cells.end()), cells.end());
      // The window of n cells with the most components.
      for (size_t i = 0, j = 0; i < cells.size(); ++i) {
        while (j < cells.size() && cells[j] < cells[i] + n) ++j;
        const int in = static_cast<int>(j - i);
        if (in > best_in) {
          best_in = in;
          best_p = p;
          best_c0 = anchor.cx() + cells[i] * p;
        }
      }
    }
  }
  if (best_in < n / 2) return out;
  // Least squares of the component centres on their cells.
  {
    double sk = 0, sc = 0, skk = 0, skc = 0;
    int m2 = 0;
    for (const auto& c : comps) {
      const double k = (c.cx() - best_c0) / best_p;
      if (std::abs(k - std::round(k)) >= 0.25) continue;
      if (std::round(k) < 0 || std::round(k) > n - 1) {
        ++out.outside;
        continue;
      }
      const double ki = std::round(k);
      sk += ki; sc += c.cx(); skk += ki * ki; skc += ki * c.cx();
      ++m2;
    }
    const double den2 = m2 * skk - sk * sk;
    if (m2 >= 3 && std::abs(den2) > 1e-9) {
      best_p = (m2 * skc - sk * sc) / den2;
      best_c0 = (sc - best_p * sk) / m2;
    }
  }
  out.inliers = best_in;
  const double c0 = best_c0, pitch = best_p;
  if (pitch < 2 || pitch > 2.5 * cap || pitch < 0.4 * cap) return out;
  out.pitch = pitch;
  // Each cell, resampled to the template grid with kMargin px around it, matched at every shift.
  const auto& bank = Bank();
  // Prints differ in how wide their glyphs are for the pitch (OCR-B fills ~70% of it; some
  // national prints are narrower): the cell is sampled so that the glyphs come out as wide as the
  // templates' (the median width of the wide glyphs, I and 1 left out).
  std::vector<double> widths;
  for (const auto& c : tall_comps)
    if (c.box.width > 0.35 * cap && c.box.width < 1.2 * pitch) widths.push_back(c.box.width / pitch);
  const double hscale = widths.size() >= 5 ? std::clamp(Median(widths) / FontWidthRatio(), 0.6, 1.3) : 1.0;
  const double cell_w = pitch * hscale;
  const double sx_scale = cell_w / kGlyphW, sy_scale = cap / kGlyphH;
  cv::Mat src;
  const double blur = 0.4 * std::max(sx_scale, sy_scale);
  if (blur > 0.5) cv::GaussianBlur(gray(roi), src, cv::Size(0, 0), blur);
  else src = gray(roi);
  for (int i = 0; i < n; ++i) {
    const double cx = c0 + i * pitch;
    const double top = top0 + slope * cx;
    // dst (u, v) -> src (x, y): x = cx - pitch/2 + (u - kMargin + 0.5) * sx - 0.5
    cv::Matx23d M(sx_scale, 0, cx - cell_w / 2 + (0.5 - kMargin) * sx_scale - 0.5,
                  0, sy_scale, top + (0.5 - kMargin) * sy_scale - 0.5);
    {
      const cv::Rect cell = cv::Rect(cvRound(cx - pitch / 2), cvRound(top), cvRound(pitch), cvRound(cap)) &
                            cv::Rect(0, 0, bin.cols, bin.rows);
      if (cell.area() == 0 || cv::countNonZero(bin(cell)) < 0.03 * cell.area()) ++out.empty_cells;
    }
    cv::Mat patch;
    cv::warpAffine(src, patch, M, cv::Size(kGlyphW + 2 * kMargin, kGlyphH + 2 * kMargin),
                   cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
    patch.convertTo(patch, CV_32F, -1.0, 255.0);  // ink = high, like the templates
    cv::GaussianBlur(patch, patch, cv::Size(0, 0), 1.0);
    float best = -2, second = -2;
    int bi = 36, si = 36;
    cv::Mat res;
    std::array<float, 37> all{};
    std::array<cv::Point, 37> where{};
    for (int t = 0; t < 37; ++t) {
      double mx = -2;
      for (size_t v = 0; v < bank.size() / 37; ++v) {
        cv::matchTemplate(patch, bank[v * 37 + static_cast<size_t>(t)], res, cv::TM_CCOEFF_NORMED);
        double m = 0;
        cv::Point at;
        cv::minMaxLoc(res, nullptr, &m, nullptr, &at);
        m -= kWidthCost * std::abs(std::log(kWidths[v]));
        if (m > mx) {
          mx = m;
          where[static_cast<size_t>(t)] = at;
        }
      }
      const float s = static_cast<float>(mx);
      all[static_cast<size_t>(t)] = s;
      if (s > best) {
        second = best; si = bi;
        best = s; bi = t;
      } else if (s > second) {
        second = s; si = t;
      }
    }
    out.text += kGlyphAlphabet[bi];
    out.second += kGlyphAlphabet[si];
    out.score.push_back(best);
    out.scores.push_back(all);
    out.where.push_back(where);
    out.patches.push_back(patch);
  }
  return out;
}

namespace {

// Whether MRZ character `c` may stand at a position of class `cls` (DecodeGlyphLine's classes).
bool InClass(char c, char cls) {
  const bool letter = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9', filler = c == '<';
  switch (cls) {
    case 'A':
      return letter || filler;
    case 'N':
      return digit;
    case 'C':
      return digit || filler;
    case 'S':
      return c == 'M' || c == 'F' || filler;
    default:
      return true;
  }
}

// Best and runner-up template index at position i among the class's characters.
std::pair<int, int> BestInClass(const GlyphLine& line, size_t i, char cls) {
    int bi = 36, si = 36;
    float best = -3, second = -3;
    for (int t = 0; t < 37; ++t) {
      const char c = kGlyphAlphabet[t];
      if (!InClass(c, cls)) continue;
      const float v = line.scores[i][static_cast<size_t>(t)];
      if (v > best) {
        second = best;
        si = bi;
        best = v;
        bi = t;
      } else if (v > second) {
        second = v;
        si = t;
      }
    }
    return {bi, si};
}

}  // namespace

std::string DecodeGlyphLine(const GlyphLine& line, const std::string& allowed) {
  std::string out;
  for (size_t i = 0; i < line.scores.size(); ++i) {
    const char cls = i < allowed.size() ? allowed[i] : '*';
    char c = kGlyphAlphabet[BestInClass(line, i, cls).first];
    // Numbers and optional data hold digits far more often than the letters O and I: unless the
    // letter is clearly better, it is the digit (0 and O differ only in their width in OCR-B).
    if (cls == 'X' && c == 'O' && line.scores[i][26] > line.scores[i][14] - 0.1f) c = '0';
    if (cls == 'X' && c == 'I' && line.scores[i][27] > line.scores[i][8] - 0.1f) c = '1';
    out += c;
  }
  return out;
}

float GlyphScore(const GlyphLine& line, size_t i, char c) {
  const char* p = std::strchr(kGlyphAlphabet, c);
  if (p == nullptr || c == 0 || i >= line.scores.size()) return -1;
  return line.scores[i][static_cast<size_t>(p - kGlyphAlphabet)];
}

namespace {

// The fields a check digit covers, for a reading of this geometry (the digit follows the field).
std::vector<MrzCheckedSpan> CheckedFields(const std::vector<std::string>& lines, bool visa) {
  if (lines.size() == 3) return CheckDigitSpans(MrzFormat::kTD1);
  if (lines.size() != 2) return {};
  if (lines[1].size() == 44) return CheckDigitSpans(visa ? MrzFormat::kMRVA : MrzFormat::kTD3);
  return CheckDigitSpans(visa ? MrzFormat::kMRVB : MrzFormat::kTD2);
}

// A character's value in the 7-3-1 sum.
int MrzValue(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : 0; }

// Look-alikes whose values differ by a multiple of 10 (6 16 26; M 22 / W 32; F 15 / P 25; 8 / S
// 28): a check digit cannot tell them apart. (The UK visa specimen's 8 is read S by the print's
// own templates, and that reading passes.) Other check-blind pairs do not look alike; flagging
// 0/U too made France's exact reading ambiguous (its wide zeros score as U).
bool CheckBlindLookalikes(char a, char b) {
  static constexpr const char* kPairs[] = {"6G", "G6", "GQ", "QG", "6Q", "Q6", "MW", "WM", "FP", "PF", "8S", "S8"};
  for (const char* p : kPairs)
    if (p[0] == a && p[1] == b) return (MrzValue(a) - MrzValue(b)) % 10 == 0;
  return false;
}

}  // namespace

std::vector<std::string> CheckBlindFields(const std::vector<GlyphLine>& glyphs, const std::vector<std::string>& classes,
                                          const std::vector<std::string>& lines, bool visa, float margin) {
  std::vector<std::string> blind;
  for (const auto& f : CheckedFields(lines, visa)) {
    if (f.line >= lines.size() || f.line >= glyphs.size() || f.line >= classes.size()) continue;
    const std::string& l = lines[f.line];
    const GlyphLine& g = glyphs[f.line];
    if (l.size() < f.start + f.length || g.scores.size() < l.size()) continue;
    bool doubt = false;
    for (size_t i = f.start; i < f.start + f.length && !doubt; ++i) {
      const char cls = i < classes[f.line].size() ? classes[f.line][i] : 'X';
      const float cur = GlyphScore(g, i, l[i]);
      for (const char* a = kGlyphAlphabet; *a && !doubt; ++a)
        doubt = CheckBlindLookalikes(l[i], *a) && InClass(*a, cls) && GlyphScore(g, i, *a) > cur - margin;
    }
    if (doubt) blind.emplace_back(f.name);
  }
  return blind;
}

std::vector<std::string> RepairWithScores(const std::vector<GlyphLine>& glyphs, const std::vector<std::string>& classes,
                                          std::vector<std::string>& lines, bool visa,
                                          const std::vector<std::string>* witness) {
  std::vector<std::string> doubtful;
  for (const auto& f : CheckedFields(lines, visa)) {
    if (f.line >= lines.size() || f.line >= glyphs.size() || f.line >= classes.size()) continue;
    std::string& l = lines[f.line];
    const GlyphLine& g = glyphs[f.line];
    if (l.size() < f.start + f.length + 1 || g.scores.size() < l.size()) continue;
    auto passes = [&](const std::string& s) {
      const char c = s[f.start + f.length];
      const int want = c == '<' ? 0 : (c >= '0' && c <= '9' ? c - '0' : -1);
      return want >= 0 && MrzCheckDigit(std::string_view(s).substr(f.start, f.length)) == want;
    };
    if (passes(l) || l[f.start + f.length] == '<') continue;
    // Alternatives per position, cheapest first.
    struct Alt {
      size_t pos;
      char c;
      float cost;
    };
    std::vector<Alt> alts;
    for (size_t i = f.start; i <= f.start + f.length; ++i) {
      const float cur = GlyphScore(g, i, l[i]);
      const char cls = i < classes[f.line].size() ? classes[f.line][i] : 'X';
      for (const char* a = kGlyphAlphabet; *a; ++a) {
        if (*a == l[i] || !InClass(*a, cls)) continue;
        if (i == f.start + f.length && !(*a >= '0' && *a <= '9')) continue;
        const float cost = cur - GlyphScore(g, i, *a);
        if (cost < 0.25f) alts.push_back({i, *a, std::max(0.f, cost)});
      }
    }
    std::sort(alts.begin(), alts.end(), [](const Alt& a, const Alt& b) { return a.cost < b.cost; });
    if (alts.size() > 24) alts.resize(24);
    float best_cost = 1e9f, second_cost = 1e9f;  // the two cheapest passing readings
    std::string best;
    std::string t = l;
    auto offer = [&](float cost) {
      if (!passes(t)) return;
      if (cost < best_cost) {
        second_cost = best_cost;
        best_cost = cost;
        best = t;
      } else if (cost < second_cost) {
        second_cost = cost;
      }
    };
    const size_t n = alts.size();
    for (size_t a = 0; a < n; ++a) {
      t[alts[a].pos] = alts[a].c;
      offer(alts[a].cost);
      for (size_t b = a + 1; b < n; ++b) {
        if (alts[b].pos == alts[a].pos) continue;
        t[alts[b].pos] = alts[b].c;
        const float cb = alts[a].cost + alts[b].cost;
        offer(cb);
        for (size_t c = b + 1; c < n; ++c) {
          if (alts[c].pos == alts[a].pos || alts[c].pos == alts[b].pos) continue;
          t[alts[c].pos] = alts[c].c;
          offer(cb + alts[c].cost);
          t[alts[c].pos] = l[alts[c].pos];
        }
        t[alts[b].pos] = l[alts[b].pos];
      }
      t[alts[a].pos] = l[alts[a].pos];
    }
    if (best.empty()) continue;
    l = best;
    const bool witnessed =
        witness == nullptr || (f.line < witness->size() && (*witness)[f.line].size() >= f.start + f.length + 1 &&
                               (*witness)[f.line].compare(f.start, f.length + 1, l, f.start, f.length + 1) == 0);
    if (second_cost - best_cost < kRepairMargin || !witnessed) doubtful.emplace_back(f.name);
  }
  return doubtful;
}

void AdaptGlyphs(std::vector<GlyphLine>& lines, const std::vector<std::string>& allowed) {
  std::array<cv::Mat, 37> sum;
  std::array<int, 37> count{};
  for (size_t l = 0; l < lines.size(); ++l) {
    const GlyphLine& g = lines[l];
    for (size_t i = 0; i < g.scores.size(); ++i) {
      const auto [b, s] = BestInClass(g, i, l < allowed.size() && i < allowed[l].size() ? allowed[l][i] : '*');
      const auto bu = static_cast<size_t>(b), su = static_cast<size_t>(s);
      if (g.scores[i][bu] < 0.6f || g.scores[i][bu] - g.scores[i][su] < 0.1f) continue;
      const cv::Mat crop = g.patches[i](cv::Rect(g.where[i][bu], cv::Size(kGlyphW, kGlyphH)));
      if (sum[bu].empty()) sum[bu] = crop.clone();
      else sum[bu] += crop;
      ++count[bu];
    }
  }
  cv::Mat res;
  for (auto& g : lines)
    for (size_t i = 0; i < g.scores.size(); ++i)
      for (size_t t = 0; t < 37; ++t) {
        if (count[t] == 0) continue;
        cv::matchTemplate(g.patches[i], sum[t] / count[t], res, cv::TM_CCOEFF_NORMED);
        double mx = 0;
        cv::minMaxLoc(res, nullptr, &mx);
        g.scores[i][t] = std::max(g.scores[i][t], static_cast<float>(mx));
      }
}

// A code read that is not on ICAO's list is replaced by the listed code whose glyphs give up the
// least correlation (summed over the three cells), if that is under kMaxStateCodeCost: at 9-10 px
// per character E/F and O/D come within a few hundredths of each other (LIF for LIE, UTD for
// UTO), while an unlisted code that is printed (a specimen's own) stays when nothing listed is
// that close. Only the cheapest code is taken, so a misread that is itself a listed code stays.
void FixStateCodes(const std::vector<GlyphLine>& glyphs, std::vector<std::string>& lines) {
  for (const auto& [l, p] : StateCodeStarts(lines.size())) {
    if (l >= lines.size() || l >= glyphs.size() || lines[l].size() < p + 3 || glyphs[l].scores.size() < p + 3) continue;
    const std::string_view code = std::string_view(lines[l]).substr(p, 3);
    if (IsIcaoStateCode(code)) continue;
    float best = kMaxStateCodeCost;
    std::string_view fix;
    for (const auto& c : IcaoStateCodes()) {
      float cost = 0;
      for (size_t k = 0; k < 3; ++k)
        cost += std::max(0.f, GlyphScore(glyphs[l], p + k, code[k]) - GlyphScore(glyphs[l], p + k, c[k]));
      if (cost < best) best = cost, fix = c;
    }
    if (!fix.empty()) lines[l].replace(p, 3, fix);
  }
}

}  // namespace idm::document
