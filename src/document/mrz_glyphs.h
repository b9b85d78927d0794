// MRZ characters read by matching OCR-B cell templates (no Tesseract): the MRZ is printed in one
// monospaced font, so once a line's first and last glyphs are found every character sits in a
// known cell, and the 37 possible glyphs (A-Z 0-9 <) are compared with each cell.
//
// The templates (ocrb_glyphs.inc) are rendered from Debian's fonts-ocr-b by
// `cardgen --ocrb-glyphs src/document/ocrb_glyphs.inc` and compiled in: nothing is read at run
// time. Nothing read here is logged or written anywhere.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace idm::document {

struct GlyphLine {
  std::string text;                 // empty when the line could not be segmented
  std::vector<float> score;         // per character: correlation of the best template
  std::string second;               // per character: the runner-up template
  std::vector<std::array<float, 37>> scores;  // per character: every template's correlation
  std::vector<std::array<cv::Point, 37>> where;  // per character: each template's best shift
  std::vector<cv::Mat> patches;     // per character: the resampled cell with its margin (ink high)
  double pitch = 0;                 // px
  int inliers = 0;                  // glyph components on the character grid
  int outside = 0;                  // glyph components on the grid but past the n cells (too short)
  int empty_cells = 0;              // cells without ink (an MRZ prints every cell, fillers too)
};

// The best character at each position among those `allowed` there: allowed[i] is a class
// ('A' letters and '<', 'N' digits, 'C' digits and '<', 'X' letters, digits and '<', 'S' M F '<',
// anything else = all 37).
std::string DecodeGlyphLine(const GlyphLine& line, const std::string& allowed);

// The correlation of character `c` at position i (-1 when out of range).
float GlyphScore(const GlyphLine& line, size_t i, char c);

// The document's own glyphs: every character read clearly (correlation >= 0.6, 0.1 ahead of the
// runner-up of its class) is averaged into a template of this print, and every cell is scored
// against those too (the better of the font's and the print's). Fixes look-alikes (3/5, 0/O, E/F)
// that the font's templates separate poorly at 10 px per character.
void AdaptGlyphs(std::vector<GlyphLine>& lines, const std::vector<std::string>& allowed);

// Issuing state (line 1, positions 3-5) and nationality (TD1: line 2, 16-18; others: line 2,
// 11-13) are codes from ICAO's list (IsIcaoStateCode). In `lines`, as decoded from `glyphs`, a code
// that is not listed becomes the listed code whose glyphs score closest, if that is close enough
// (at 9-10 px per character E/F and O/D come within a few hundredths: LIF for LIE, UTD for UTO).
void FixStateCodes(const std::vector<GlyphLine>& glyphs, std::vector<std::string>& lines);

// Check-digit-guided repair with the template scores: in a field whose check digit fails, the
// cheapest set of at most three substitutions (each a character of the position's class whose
// correlation is within 0.25 of the one read; cost = the correlation given up) that makes the
// check pass is applied. A check digit is one digit: among the ~2,000 sets tried, about one in
// ten passes by chance, so the cheapest passing set is only evidence when it is clearly cheaper
// than the next one. Returns the fields ("document_number", "birth_date", "expiry_date",
// "personal_number") repaired with the runner-up within kRepairMargin, or that `witness` (the
// same MRZ decoded with the other template set, if given) reads otherwise than the repair: the
// caller must not call them checked. `classes` as DecodeGlyphLine's `allowed`, per line.
// The witness rule, measured on the same captures plus the default 60: the one remaining wrong
// valid reading (SXOZ577OB by the font templates' repair, where the print's own templates read
// SX02S7708) is held back, and 2 of 132 right TD2/TD3 readings.
std::vector<std::string> RepairWithScores(const std::vector<GlyphLine>& glyphs, const std::vector<std::string>& classes,
                                          std::vector<std::string>& lines, bool visa,
                                          const std::vector<std::string>* witness = nullptr);
// Measured on 240 generated captures (DocumentEval.MrzOnGeneratedCaptures at seed shifts 0 and
// 10000, 2026-11-27): in the 5 repaired readings that passed every check with a wrong document
// number, every repair had its runner-up 0.002-0.027 behind; in 6 of the 9 right ones, every
// repair was 0.06-0.14 ahead.
constexpr float kRepairMargin = 0.04f;

// A check digit cannot see one character read for another worth a multiple of 10 more or less in
// the 7-3-1 sum; among look-alikes: 6/G/Q (6, 16, 26), M/W, F/P, 8/S. The fields of `lines` (a
// reading, repaired or not) holding such a character whose twin scores within `margin` of it.
std::vector<std::string> CheckBlindFields(const std::vector<GlyphLine>& glyphs, const std::vector<std::string>& classes,
                                          const std::vector<std::string>& lines, bool visa, float margin);

// Reads one MRZ line of `n` characters. `gray` is the (grey, ink dark) image, `line_box` the
// line's approximate box (from the layout pass); `x_range` the horizontal extent the MRZ block
// may occupy (MRZ lines share their left edge and length).
GlyphLine ReadGlyphLine(const cv::Mat& gray, const cv::Rect& line_box, int x0, int x1, int n);

// The MRZ glyph alphabet in template order, and the template for one character (kGlyphH x kGlyphW,
// CV_8U, ink = 255): exposed for the card generator, which prints MRZs in OCR-B too.
const char* GlyphAlphabet();
cv::Mat GlyphTemplate(char c);

}  // namespace idm::document
