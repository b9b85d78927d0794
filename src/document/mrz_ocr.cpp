#include "document/mrz_ocr.h"

#include <tesseract/baseapi.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <memory>
#include <tuple>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/secure_memory.h"
#include "document/mrz_glyphs.h"

namespace idm::document {
namespace {

constexpr const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";
// CheckBlindFields' margin. On 120 generated captures (MrzOnGeneratedCaptures, 40 per layout,
// 2026-11-27) it held back the one valid reading with a check-blind misread (QX01712163 for
// GX01712163) at 0.03, 0.05 and 0.1, and 2, 4 and 8 of the 90 right ones; no exact specimen
// reading at 0.1 (measured before 8/S joined the pairs; with it the UK visa specimen is held back).
constexpr float kCheckBlindMargin = 0.05f;

struct Line {
  std::string text;
  cv::Rect box;
};

std::string TessdataDir(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("TESSDATA_PREFIX")) return env;
  for (const char* p : {"/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                        "/usr/share/tessdata"}) {
    if (std::filesystem::exists(std::string(p) + "/eng.traineddata")) return p;
  }
  return "";
}

struct TessDeleter {
  void operator()(tesseract::TessBaseAPI* t) const {
    t->End();
    delete t;
  }
};
using Tess = std::unique_ptr<tesseract::TessBaseAPI, TessDeleter>;

Tess MakeTess(const std::string& tessdata) {
  Tess t(new tesseract::TessBaseAPI());
  const std::string dir = TessdataDir(tessdata);
  if (t->Init(dir.empty() ? nullptr : dir.c_str(), "eng", tesseract::OEM_LSTM_ONLY) != 0)
    throw Error(ErrorCode::kNotFound, "Tesseract's eng model was not found (tessdata '" + dir + "')");
  t->SetVariable("tessedit_char_whitelist", kAlphabet);
  t->SetVariable("load_system_dawg", "0");
  t->SetVariable("load_freq_dawg", "0");
  t->SetVariable("debug_file", "/dev/null");
  return t;
}

std::vector<Line> OcrLines(tesseract::TessBaseAPI& t, const cv::Mat& gray, tesseract::PageSegMode psm) {
  t.SetPageSegMode(psm);
  t.SetImage(gray.data, gray.cols, gray.rows, 1, static_cast<int>(gray.step));
  t.SetSourceResolution(300);
  std::vector<Line> out;
  if (t.Recognize(nullptr) != 0) return out;
  std::unique_ptr<tesseract::ResultIterator> it(t.GetIterator());
  if (!it) return out;
  do {
    std::unique_ptr<char[]> txt(it->GetUTF8Text(tesseract::RIL_TEXTLINE));
    if (!txt) continue;
    int x1, y1, x2, y2;
    if (!it->BoundingBox(tesseract::RIL_TEXTLINE, &x1, &y1, &x2, &y2)) continue;
    std::string s;
    for (const char* p = txt.get(); *p; ++p)
      if (std::strchr(kAlphabet, *p) != nullptr && *p) s += *p;
    SecureZero(txt.get(), std::strlen(txt.get()));
    out.push_back({s, cv::Rect(x1, y1, x2 - x1, y2 - y1)});
  } while (it->Next(tesseract::RIL_TEXTLINE));
  t.Clear();
  return out;
}

struct Symbol {
  char c;
  cv::Rect box;
};

// Pass 2's reader: symbols with their boxes, line by line. A symbol read as a letter whose glyph
// matches the '<' glyphs of the same MRZ (normalised cross-correlation with their mean) is a
// filler: Tesseract's eng model reads OCR-B's chevron as K. Symbols whose boxes mostly overlap
// the previous one are one glyph read twice.
std::vector<std::string> OcrSymbols(tesseract::TessBaseAPI& t, const cv::Mat& gray) {
  t.SetPageSegMode(tesseract::PSM_SINGLE_BLOCK);
  t.SetImage(gray.data, gray.cols, gray.rows, 1, static_cast<int>(gray.step));
  t.SetSourceResolution(300);
  std::vector<std::vector<Symbol>> lines;
  if (t.Recognize(nullptr) != 0) return {};
  std::unique_ptr<tesseract::ResultIterator> it(t.GetIterator());
  if (!it) return {};
  do {
    if (it->Empty(tesseract::RIL_SYMBOL)) continue;
    if (lines.empty() || it->IsAtBeginningOf(tesseract::RIL_TEXTLINE)) lines.emplace_back();
    std::unique_ptr<char[]> txt(it->GetUTF8Text(tesseract::RIL_SYMBOL));
    int x1, y1, x2, y2;
    if (!txt || !it->BoundingBox(tesseract::RIL_SYMBOL, &x1, &y1, &x2, &y2)) continue;
    const char c = txt[0];
    SecureZero(txt.get(), std::strlen(txt.get()));
    if (std::strchr(kAlphabet, c) == nullptr || c == 0) continue;
    lines.back().push_back({c, cv::Rect(x1, y1, x2 - x1, y2 - y1) & cv::Rect(0, 0, gray.cols, gray.rows)});
  } while (it->Next(tesseract::RIL_SYMBOL));
  t.Clear();
  const cv::Size norm(12, 16);
  auto glyph = [&](const cv::Rect& b) {
    cv::Mat g;
    cv::resize(gray(b), g, norm, 0, 0, cv::INTER_AREA);
    g.convertTo(g, CV_32F);
    cv::Scalar mean, sd;
    cv::meanStdDev(g, mean, sd);
    g = (g - mean[0]) / std::max(1.0, sd[0]);
    return g;
  };
  cv::Mat tmpl = cv::Mat::zeros(norm, CV_32F);
  int n = 0;
  for (auto& l : lines)
    for (auto& s : l)
      if (s.c == '<' && s.box.area() > 0) {
        tmpl += glyph(s.box);
        ++n;
      }
  // OCR-B is monospaced: put every symbol in its cell (pitch = median distance between
  // neighbouring symbols). Two symbols in one cell are one glyph read twice (the first is kept);
  // an empty cell inside the line is a filler the OCR dropped.
  std::vector<std::string> out;
  for (auto& l : lines) {
    std::vector<Symbol> sy;
    for (auto& x : l)
      if (x.box.area() > 0) sy.push_back(x);
    if (sy.size() < 2) continue;
    std::vector<double> dx;
    for (size_t i = 1; i < sy.size(); ++i)
      dx.push_back((sy[i].box.x + sy[i].box.width / 2.0) - (sy[i - 1].box.x + sy[i - 1].box.width / 2.0));
    std::nth_element(dx.begin(), dx.begin() + dx.size() / 2, dx.end());
    const double pitch = std::max(1.0, dx[dx.size() / 2]);
    const double x0 = sy[0].box.x + sy[0].box.width / 2.0;
    std::string text;
    for (auto& x : sy) {
      const int cell = static_cast<int>(std::lround((x.box.x + x.box.width / 2.0 - x0) / pitch));
      if (cell < static_cast<int>(text.size()) || cell > 60) continue;
      while (static_cast<int>(text.size()) < cell) text += '<';
      char c = x.c;
      if (n >= 4 && c >= 'A' && c <= 'Z') {
        const cv::Mat g = glyph(x.box);
        const double ncc = g.dot(tmpl / n) / (cv::norm(g) * cv::norm(tmpl / n) + 1e-9);
        if (ncc > 0.6) c = '<';
      }
      text += c;
    }
    out.push_back(text);
  }
  return out;
}

// What each MRZ position can hold (DecodeGlyphLine's classes): 'A' letters and '<', 'N' digits,
// 'C' digits and '<', 'X' alphanumerics and '<', 'S' sex. ICAO 9303 parts 4-7.
std::vector<std::string> FieldClasses(int lines, int len, bool visa) {
  if (lines == 3) {
    return {"AAAAAXXXXXXXXXCXXXXXXXXXXXXXXX", "NNNNNNNSNNNNNNNAAAXXXXXXXXXXXN", std::string(30, 'A')};
  }
  std::string l2 = "XXXXXXXXXNAAANNNNNNNSNNNNNNN";  // number, check, nationality, birth, check, sex, expiry, check
  if (len == 44) l2 += visa ? std::string(16, 'X') : std::string(14, 'X') + "CN";
  else l2 += visa ? std::string(8, 'X') : std::string(7, 'X') + "N";
  return {std::string(static_cast<size_t>(len), 'A'), l2};
}

bool LooksLikeMrz(const std::string& s) {
  const auto fillers = std::count(s.begin(), s.end(), '<');
  return s.size() >= 20 && s.size() <= 50 && (s.find("<<") != std::string::npos || fillers >= 3);
}

// The MRZ block: consecutive MRZ-like lines of similar width, the lowest group wins.
std::vector<Line> PickBlock(std::vector<Line> lines) {
  std::vector<Line> cand;
  for (auto& l : lines)
    if (LooksLikeMrz(l.text)) cand.push_back(l);
  // A line without fillers (a visa's second line can have none) joins when it sits right under or
  // over an MRZ-like line of the same width and left edge.
  const size_t strict = cand.size();
  for (auto& l : lines) {
    if (LooksLikeMrz(l.text) || l.text.size() < 20 || l.text.size() > 50) continue;
    for (size_t i = 0; i < strict; ++i) {
      const Line& m = cand[i];
      const int gap = std::max(l.box.y - (m.box.y + m.box.height), m.box.y - (l.box.y + l.box.height));
      const double wr = static_cast<double>(l.box.width) / std::max(1, m.box.width);
      if (gap < 2 * std::max(l.box.height, m.box.height) && wr > 0.85 && wr < 1.15 &&
          std::abs(l.box.x - m.box.x) < 0.1 * m.box.width) {
        cand.push_back(l);
        break;
      }
    }
  }
  std::sort(cand.begin(), cand.end(), [](const Line& a, const Line& b) { return a.box.y < b.box.y; });
  if (cand.size() <= 3) return cand;
  // Groups of lines whose vertical gap is under two line heights.
  std::vector<std::vector<Line>> groups;
  for (auto& l : cand) {
    if (!groups.empty()) {
      const Line& p = groups.back().back();
      if (l.box.y - (p.box.y + p.box.height) < 2 * std::max(p.box.height, l.box.height)) {
        groups.back().push_back(l);
        continue;
      }
    }
    groups.push_back({l});
  }
  auto best = groups.back();
  for (auto& g : groups)
    if (g.size() >= 2 && g.size() <= 3) best = g;  // the last group of MRZ size
  if (best.size() > 3) {
    // Three consecutive lines, those with the most MRZ-like lines (with fillers) among them, the
    // lowest on a tie. A line that joined without fillers can be the print's edge under the MRZ:
    // on Peru's card, taking the lowest three dropped the first MRZ line for it.
    size_t from = 0;
    int most = -1;
    for (size_t i = 0; i + 3 <= best.size(); ++i) {
      const int n = static_cast<int>(
          std::count_if(best.begin() + i, best.begin() + i + 3, [](const Line& l) { return LooksLikeMrz(l.text); }));
      if (n >= most) {
        most = n;
        from = i;
      }
    }
    best = std::vector<Line>(best.begin() + from, best.begin() + from + 3);
  }
  return best;
}

}  // namespace

std::vector<std::string> CleanMrzLines(const std::vector<std::string>& in) {
  std::vector<std::string> lines;
  for (const auto& raw : in) {
    std::string s;
    for (char c : raw)
      if (std::strchr(kAlphabet, c) != nullptr && c) s += c;
    if (s.size() >= 20) lines.push_back(s);
  }
  if (lines.size() > 3) lines.erase(lines.begin(), lines.end() - 3);
  if (lines.empty()) return lines;
  double mean = 0;
  for (auto& s : lines) mean += static_cast<double>(s.size()) / static_cast<double>(lines.size());
  size_t target = 0;
  if (lines.size() == 3) {
    target = 30;
  } else {
    target = std::abs(mean - 36) < std::abs(mean - 44) ? 36 : 44;
  }
  const bool td1 = lines.size() == 3;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string& s = lines[i];
    // In the name field nothing but fillers follows the first "<<<": a K, X or C there is a
    // misread '<' (OCR-B's '<' is often read as K).
    const bool names = td1 ? i == 2 : i == 0;
    if (names) {
      const size_t start = td1 ? 0 : 5;
      const size_t f = s.find("<<<", start);
      if (f != std::string::npos)
        for (size_t k = f; k < s.size(); ++k) s[k] = '<';
    }
    // Trailing fillers: too long -> drop extra '<' from the end; too short -> pad.
    while (s.size() > target && s.back() == '<') s.pop_back();
    while (s.size() > target) {
      // Remove a spurious character inside the longest filler run (a '<' split in two).
      const size_t k = s.find("<K<");
      if (k == std::string::npos) break;
      s.erase(k + 1, 1);
    }
    if (s.size() > target) s.resize(target);
    while (s.size() < target) s += '<';
  }
  return lines;
}

namespace {

// ICAO 9303 Part 3 codes the issuing state and the nationality from its list. A reading with a
// code that is not on it (after FixStateCodes) is a misread far more often than a document: a
// garbled line can pass its check digits and the composite by chance (about 1 in 100), and on
// 60 generated captures one did, with `AAA` for `XXA` and a wrong document number
// (DocumentEval.MrzOnGeneratedCaptures, 2026-11-27). Such a reading is not valid: a failed
// "state_codes" check.
void FailUnlistedStateCodes(MrzResult& m) {
  if (m.format == MrzFormat::kUnknown || m.lines.size() < 2) return;
  bool listed = true;
  for (const auto& [l, p] : StateCodeStarts(m.lines.size()))
    listed &= m.lines[l].size() >= p + 3 && IsIcaoStateCode(std::string_view(m.lines[l]).substr(p, 3));
  if (listed) return;
  m.checks.push_back({"state_codes", CheckState::kFail});
  m.valid = false;
}

// Tesseract lays a page out well with text on an image at least ~1400 px wide: `gray` brought
// there (at most 4x), and the scale used.
double ToLayoutWidth(const cv::Mat& gray, cv::Mat& big) {
  const double s = std::clamp(1400.0 / gray.cols, 1.0, 4.0);
  cv::resize(gray, big, cv::Size(), s, s, cv::INTER_CUBIC);
  return s;
}

}  // namespace

MrzReading ReadMrz(const cv::Mat& rgb, const MrzOcrOptions& options) {
  MrzReading r;
  if (rgb.empty()) return r;
  cv::Mat gray;
  cv::cvtColor(rgb, gray, rgb.channels() == 3 ? cv::COLOR_RGB2GRAY : cv::COLOR_RGBA2GRAY);
  // Pass 1: page layout.
  cv::Mat big;
  const double s1 = ToLayoutWidth(gray, big);
  Tess tess = MakeTess(options.tessdata);
  auto block = PickBlock(OcrLines(*tess, big, tesseract::PSM_AUTO));
  if (block.size() < 2) block = PickBlock(OcrLines(*tess, big, tesseract::PSM_SPARSE_TEXT));
  if (block.size() < 2) {
    cv::Mat bin;
    cv::adaptiveThreshold(big, bin, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY, 31, 15);
    block = PickBlock(OcrLines(*tess, bin, tesseract::PSM_AUTO));
  }
  if (block.size() < 2) {
    r.mrz = ParseMrz({}, options.parse);
    return r;
  }
  cv::Rect u = block[0].box;
  int line_h = 0;
  for (const auto& l : block) {
    u |= l.box;
    line_h += l.box.height;
  }
  line_h /= static_cast<int>(block.size());
  const int pad = std::max(4, line_h / 2);
  u = cv::Rect(u.x - pad, u.y - pad, u.width + 2 * pad, u.height + 2 * pad) & cv::Rect(0, 0, big.cols, big.rows);
  r.found = true;
  r.box = cv::Rect(cvRound(u.x / s1), cvRound(u.y / s1), cvRound(u.width / s1), cvRound(u.height / s1)) &
          cv::Rect(0, 0, gray.cols, gray.rows);

  // Pass 2a: OCR-B templates, cell by cell (mrz_glyphs.h). Line count and length give the cells.
  // Candidates are ranked by checks passed, then by fewest repairs ParseMrz had to make, then by
  // how well the characters match the font (`quality`, template readings only).
  // The glyph readings of each line length tried (with the print's own templates): every
  // candidate of that geometry is checked against them for check-blind look-alikes.
  struct GlyphReading {
    std::vector<GlyphLine> lines;
    std::vector<std::string> classes;
    bool visa = false;
  };
  std::vector<GlyphReading> glyph_readings;
  // Checks that pass but prove nothing: `doubtful` fields, and check-blind look-alikes.
  auto hold_back = [&](MrzResult& m, std::vector<std::string> doubtful) {
    for (const auto& g : glyph_readings) {
      if (g.lines.size() != m.lines.size() || g.lines[0].scores.size() != m.lines[0].size()) continue;
      for (auto& name : CheckBlindFields(g.lines, g.classes, m.lines, g.visa, kCheckBlindMargin))
        doubtful.push_back(std::move(name));
    }
    for (auto& c : m.checks)
      if (c.state == CheckState::kPass && std::find(doubtful.begin(), doubtful.end(), c.name) != doubtful.end()) {
        c.state = CheckState::kAmbiguous;
        m.valid = false;
      }
  };
  // `doubtful`: fields a repair made pass without being clearly the best repair
  // (RepairWithScores); they count as ambiguous, half a passing check, and the reading is not
  // valid -- Tesseract's readings then get their turn.
  std::vector<std::string> best_lines;
  std::tuple<double, int, double> best_key{-1000, 0, 0};
  auto consider = [&](std::vector<std::string> lines, double quality = 0,
                      const std::vector<std::string>& doubtful = {}) {
    MrzResult m = ParseMrz(lines, options.parse);
    hold_back(m, doubtful);
    FailUnlistedStateCodes(m);
    double pass = m.format == MrzFormat::kUnknown ? -1 : 0;
    for (const auto& c : m.checks)
      pass += c.state == CheckState::kPass ? 1 : c.state == CheckState::kAmbiguous ? 0.5 : 0;
    if (m.valid) pass += 100;
    const std::tuple<double, int, double> key{pass, -m.repairs, quality};
    if (key > best_key) {
      best_key = key;
      best_lines = std::move(lines);
      r.mrz = std::move(m);
    }
  };
  if (block.size() >= 2 && block.size() <= 3) {
    const std::vector<int> lengths = block.size() == 3 ? std::vector<int>{30} : std::vector<int>{44, 36};
    for (int n : lengths) {
      std::vector<GlyphLine> glyphs;
      for (const auto& l : block) {
        GlyphLine g = ReadGlyphLine(big, l.box, u.x, u.x + u.width, n);
        if (g.text.empty()) break;
        glyphs.push_back(std::move(g));
      }
      if (glyphs.size() != block.size()) continue;
      int empty = 0, outside = 0;
      for (const auto& g : glyphs) empty += g.empty_cells, outside += g.outside;
      // The grid runs past the printed characters, or characters lie beyond it: wrong length.
      if (empty > 2 || outside > 2 * static_cast<int>(glyphs.size())) continue;
      const bool visa = DecodeGlyphLine(glyphs[0], "A")[0] == 'V';
      const auto classes = FieldClasses(static_cast<int>(glyphs.size()), n, visa);
      const std::vector<GlyphLine> font = glyphs;
      auto quality = [&](const std::vector<std::string>& lines) {
        double q = 0;
        int k = 0;
        for (size_t i = 0; i < lines.size(); ++i)
          for (size_t j = 0; j < lines[i].size(); ++j, ++k) q += GlyphScore(font[i], j, lines[i][j]);
        return k ? q / k : 0.0;
      };
      // The font's templates, then the print's own glyphs (AdaptGlyphs); each as decoded and
      // after the score-guided check-digit repair, which the other set's decoding witnesses.
      auto decode = [&](const std::vector<GlyphLine>& g) {
        std::vector<std::string> lines;
        for (size_t i = 0; i < g.size(); ++i) lines.push_back(DecodeGlyphLine(g[i], classes[i]));
        FixStateCodes(g, lines);
        return lines;
      };
      const std::vector<std::string> font_raw = decode(font);
      AdaptGlyphs(glyphs, classes);
      const std::vector<std::string> adapted_raw = decode(glyphs);
      std::vector<std::string> font_repaired = font_raw, adapted_repaired = adapted_raw;
      const auto font_doubtful = RepairWithScores(font, classes, font_repaired, visa, &adapted_raw);
      const auto adapted_doubtful = RepairWithScores(glyphs, classes, adapted_repaired, visa, &font_raw);
      glyph_readings.push_back({std::move(glyphs), classes, visa});
      consider(font_raw, quality(font_raw));
      consider(font_repaired, quality(font_repaired), font_doubtful);
      consider(adapted_raw, quality(adapted_raw));
      consider(adapted_repaired, quality(adapted_repaired), adapted_doubtful);
    }
  }
  // Pass 2b: Tesseract on the block alone at ~40 px per line, grey then binarised, read as one
  // block; the reading whose checks pass best wins.
  for (int variant = 0; variant < 2 && !r.mrz.valid; ++variant) {
    cv::Mat crop = big(u).clone();
    const double s2 = 40.0 / std::max(1, line_h);
    cv::resize(crop, crop, cv::Size(), s2, s2, cv::INTER_CUBIC);
    if (variant == 1) cv::threshold(crop, crop, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
    cv::copyMakeBorder(crop, crop, 20, 20, 20, 20, cv::BORDER_REPLICATE);
    consider(CleanMrzLines(OcrSymbols(*tess, crop)));
  }
  // Fall back to the first pass's own lines if the second pass found no layout.
  if (r.mrz.format == MrzFormat::kUnknown) {
    std::vector<std::string> texts;
    for (const auto& l : block) texts.push_back(l.text);
    best_lines = CleanMrzLines(texts);
    r.mrz = ParseMrz(best_lines, options.parse);
    hold_back(r.mrz, {});
  }
  r.raw_lines = best_lines;
  return r;
}

bool PrintsDocumentNumber(const cv::Mat& side, const std::string& document_number, const MrzOcrOptions& options) {
  auto normalise = [](std::string& s) {
    for (char& c : s) c = c == 'O' ? '0' : c == 'I' ? '1' : c;
  };
  std::string key;
  for (char c : document_number)
    if (c != '<') key += c;
  normalise(key);
  key.erase(0, key.find_first_not_of('0') == std::string::npos ? key.size() : key.find_first_not_of('0'));
  bool found = false;
  if (key.size() >= 5 && !side.empty()) {
    cv::Mat gray, big;
    cv::cvtColor(side, gray, side.channels() == 3 ? cv::COLOR_RGB2GRAY : cv::COLOR_RGBA2GRAY);
    ToLayoutWidth(gray, big);
    Tess tess = MakeTess(options.tessdata);
    for (auto& line : OcrLines(*tess, big, tesseract::PSM_AUTO)) {
      normalise(line.text);
      found |= line.text.find(key) != std::string::npos;
      SecureZero(line.text.data(), line.text.size());
    }
  }
  SecureZero(key.data(), key.size());
  return found;
}

}  // namespace idm::document
