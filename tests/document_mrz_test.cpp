// MRZ parser (src/document/mrz.h) against every row of the shared MRZ vectors: the formats and the
// check digits computed independently of the source parsers, the source's expected validity where
// it is about check digits or format, check-digit-guided OCR repair, the expiry flag, masking.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "document/csv.h"
#include "document/mrz.h"
#include "document/mrz_glyphs.h"
#include "test_util.h"

namespace idm::document {
namespace {

std::string MrzDir() { return test::SharedDir() + "/data/mrz"; }

std::vector<std::string> Lines(const std::map<std::string, std::string>& row) {
  std::vector<std::string> v;
  for (const char* k : {"line1", "line2", "line3"})
    if (!row.at(k).empty()) v.push_back(row.at(k));
  return v;
}

TEST(DocumentMrz, CheckDigitVectors) {
  const std::string path = MrzDir() + "/check_digit_vectors.csv";
  if (!test::Exists(path)) GTEST_SKIP() << "shared data missing: " << path;
  const auto rows = ReadCsvFile(path);
  ASSERT_EQ(rows.size(), 7u);
  for (const auto& r : rows) {
    const int want = std::stoi(r.at("computed_check_digit_7_3_1"));
    EXPECT_EQ(MrzCheckDigit(r.at("input")), want) << r.at("input");
    const bool valid = std::stoi(r.at("check_digit")) == MrzCheckDigit(r.at("input"));
    EXPECT_EQ(valid, r.at("source_expected_valid") == "true") << r.at("input");
  }
  EXPECT_EQ(MrzCheckDigit("AB?"), -1);
}

TEST(DocumentMrz, EveryTestVector) {
  const std::string path = MrzDir() + "/mrz_test_vectors.csv";
  if (!test::Exists(path)) GTEST_SKIP() << "shared data missing: " << path;
  const auto rows = ReadCsvFile(path);
  ASSERT_EQ(rows.size(), 75u);
  int formats = 0, checks = 0, validity = 0, validity_skipped = 0;
  for (const auto& row : rows) {
    const std::string id = row.at("source_path") + " / " + row.at("case");
    MrzParseOptions opt;
    opt.repair = false;
    const MrzResult r = ParseMrz(Lines(row), opt);
    const std::string want_format = row.at("computed_format");
    if (want_format == "other") {
      EXPECT_EQ(r.format, MrzFormat::kUnknown) << id;
      EXPECT_FALSE(r.valid) << id;
      EXPECT_FALSE(r.error.empty()) << id;
    } else {
      EXPECT_EQ(MrzFormatName(r.format), want_format) << id;
    }
    ++formats;
    if (!row.at("computed_check_digits").empty()) {
      const auto want = nlohmann::json::parse(row.at("computed_check_digits"));
      for (const auto& [name, v] : want.items()) {
        const MrzCheck* c = r.Check(name);
        ASSERT_NE(c, nullptr) << id << " " << name;
        if (v.is_null()) {
          EXPECT_EQ(c->state, CheckState::kUnreadable) << id << " " << name;
        } else if (v.is_boolean()) {
          EXPECT_EQ(c->state == CheckState::kPass, v.get<bool>()) << id << " " << name;
        } else {  // "long_doc_number(see optional field)": the number continues in the optional data
          EXPECT_TRUE(r.fields.long_document_number) << id;
          EXPECT_GT(r.fields.document_number.size(), 9u) << id;
          if (row.at("computed_all_check_digits_ok") == "True") {
            EXPECT_EQ(c->state, CheckState::kPass) << id;
          }
        }
        ++checks;
      }
      bool all = true;
      for (const auto& c : r.checks) all &= c.state == CheckState::kPass;
      EXPECT_EQ(all, row.at("computed_all_check_digits_ok") == "True") << id;
    }
    // The source's own verdict, where it is about ICAO check digits or layout. Exempt: national
    // formats that are not ICAO 9303 (French ID card and driving licence, Swiss licence: we
    // report them as not ICAO, the source has dedicated parsers), and rules about which state
    // codes exist (the fictional UTO, "BOS" for Bosnia), which are not check digits or format.
    const std::string src = row.at("source_expected_valid"), sf = row.at("source_format");
    const bool national = sf.rfind("FRENCH", 0) == 0 || sf.rfind("SWISS", 0) == 0;
    const bool state_rule = row.at("note").find("non-check-digit rules") != std::string::npos ||
                            row.at("line2").find("BOS") != std::string::npos;
    if ((src == "true" || src == "false") && !national && !state_rule) {
      EXPECT_EQ(r.valid, src == "true") << id;
      ++validity;
    } else if (src == "throws") {
      EXPECT_EQ(r.format, MrzFormat::kUnknown) << id;
      ++validity;
    } else if (!src.empty()) {
      ++validity_skipped;
    }
  }
  EXPECT_EQ(formats, 75);
  std::printf("[mrz vectors] 75 rows: %d check results compared, %d source verdicts compared, %d exempt\n", checks,
              validity, validity_skipped);
}

TEST(DocumentMrz, FieldsOfTheUtopiaPassport) {
  MrzParseOptions opt;
  opt.today = "20100101";
  const auto r = ParseMrz({"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"}, opt);
  ASSERT_EQ(r.format, MrzFormat::kTD3);
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.fields.document_code, "P<");
  EXPECT_EQ(r.fields.issuing_state, "UTO");
  EXPECT_EQ(r.fields.document_number, "L898902C3");
  EXPECT_EQ(r.fields.surname, "ERIKSSON");
  EXPECT_EQ(r.fields.given_names, "ANNA MARIA");
  EXPECT_EQ(r.fields.nationality, "UTO");
  EXPECT_EQ(r.fields.birth_date, "740812");
  EXPECT_EQ(r.fields.sex, "F");
  EXPECT_EQ(r.fields.expiry_date, "120415");
  EXPECT_EQ(r.fields.optional1, "ZE184226B");
  EXPECT_FALSE(r.expired);
  opt.today = "20261126";
  EXPECT_TRUE(ParseMrz(r.lines, opt).expired);
  opt.today = "20120415";
  EXPECT_FALSE(ParseMrz(r.lines, opt).expired);  // valid through its expiry day
}

TEST(DocumentMrz, LongDocumentNumber) {
  const auto r = ParseMrz({"I<PRT007777779<ZZ92<<<<<<<<<<<", "8303143M3405282PRT<<<<<<<<<<<2", "CACADOR<DE<ARAUJO<<ANDRE<ESTEV"});
  EXPECT_TRUE(r.valid);
  EXPECT_TRUE(r.fields.long_document_number);
  EXPECT_EQ(r.fields.document_number, "007777779ZZ9");
  EXPECT_EQ(r.fields.surname, "CACADOR DE ARAUJO");
}

TEST(DocumentMrz, RepairsOcrConfusionsOnlyWhereChecksPass) {
  const std::vector<std::string> good = {"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                                         "L898902C36UTO7408122F1204159ZE184226B<<<<<10"};
  // Dates and check digits read with letters: O for 0, I for 1, B for 8, S for 5.
  auto bad = good;
  bad[1] = "L898902C36UTO74O8I22F12O4I59ZE184226B<<<<<IO";
  auto r = ParseMrz(bad);
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.lines, good);
  EXPECT_EQ(r.repairs, 6);
  // Document number: 8 read as B (the field is alphanumeric, the check digit decides).
  bad = good;
  bad[1][1] = 'B';
  r = ParseMrz(bad);
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.lines, good);
  // Without repair the same lines fail.
  MrzParseOptions no;
  no.repair = false;
  EXPECT_FALSE(ParseMrz(bad, no).valid);
  // A wrong digit that is not an OCR confusion is not "repaired" into something else.
  bad = good;
  bad[1][14] = '3';  // 7408122 -> 7438122 (birth date month 38)
  r = ParseMrz(bad);
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.Check("birth_date")->state, CheckState::kFail);
  EXPECT_EQ(r.repairs, 0);
}

TEST(DocumentMrz, UnknownLayoutsAreReportedNotGuessed) {
  EXPECT_EQ(ParseMrz({}).format, MrzFormat::kUnknown);
  EXPECT_EQ(ParseMrz({"ABC"}).format, MrzFormat::kUnknown);
  EXPECT_EQ(ParseMrz({std::string(44, '<'), std::string(43, '<')}).format, MrzFormat::kUnknown);
}

TEST(DocumentMrz, FillCheckDigitsMakesValidLines) {
  std::vector<std::string> l = {"I<UTOD23145890<<<<<<<<<<<<<<<<", "7408120F1204150UTO<<<<<<<<<<<0",
                                "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"};
  l[0][14] = '0';
  FillMrzCheckDigits(MrzFormat::kTD1, l);
  EXPECT_TRUE(ParseMrz(l).valid);
}

TEST(DocumentMrz, Masking) {
  EXPECT_EQ(MaskIdentifier("900101-1234567"), "900101-1******");
  EXPECT_EQ(MaskIdentifier("9001011234567"), "900101-1******");
  EXPECT_EQ(MaskIdentifier("L898902C3"), "L********");
  EXPECT_EQ(MaskName("ANNA MARIA"), "A*** M****");
  const auto r = ParseMrz({"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"});
  const auto m = MaskMrzLines(r);
  EXPECT_EQ(m[0], "P<UTOE*******<<A***<M****<<<<<<<<<<<<<<<<<<<");
  EXPECT_EQ(m[1], "L********6UTO7408122F1204159*********<<<<<10");
}

TEST(DocumentMrz, IcaoStateCodes) {
  for (const char* c : {"LIE", "ESP", "GBR", "FRA", "UTO", "D<<", "XXA", "UNO"}) EXPECT_TRUE(IsIcaoStateCode(c)) << c;
  for (const char* c : {"LIF", "FSP", "UTD", "QBR", "INP", "DEU<", "GB", "D"}) EXPECT_FALSE(IsIcaoStateCode(c)) << c;
  const auto& codes = IcaoStateCodes();
  EXPECT_GT(codes.size(), 270u);
  EXPECT_TRUE(std::is_sorted(codes.begin(), codes.end()));
  EXPECT_EQ(std::adjacent_find(codes.begin(), codes.end()), codes.end());
  for (const auto& c : codes) EXPECT_EQ(c.size(), 3u) << c;
}

// Glyph scores for a reading: 0.9 for the character read, 0.5 for the others, but for the cells
// given.
std::vector<GlyphLine> Scored(const std::vector<std::string>& lines,
                              const std::vector<std::tuple<size_t, size_t, char, float>>& set) {
  std::vector<GlyphLine> g(lines.size());
  for (size_t l = 0; l < lines.size(); ++l) {
    std::array<float, 37> flat{};
    flat.fill(0.5f);
    g[l].scores.assign(lines[l].size(), flat);
  }
  const std::string alphabet = GlyphAlphabet();
  for (size_t l = 0; l < lines.size(); ++l)
    for (size_t i = 0; i < lines[l].size(); ++i) g[l].scores[i][alphabet.find(lines[l][i])] = 0.9f;
  for (const auto& [l, i, c, v] : set) g[l].scores[i][alphabet.find(c)] = v;
  return g;
}

TEST(DocumentMrzGlyphs, StateCodeFixedOnlyWhenAListedCodeIsClose) {
  const std::vector<std::string> read = {"P<UTDERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                                         "L898902C36LIF7408122F1204159ZE184226B<<<<<10"};
  // D read for O by 0.02, F for E by 0.01: the listed codes UTO and LIE.
  auto lines = read;
  FixStateCodes(Scored(lines, {{0, 4, 'D', 0.84f}, {0, 4, 'O', 0.82f}, {1, 12, 'F', 0.80f}, {1, 12, 'E', 0.79f}}),
                lines);
  EXPECT_EQ(lines[0].substr(2, 3), "UTO");
  EXPECT_EQ(lines[1].substr(10, 3), "LIE");
  EXPECT_EQ(lines[0].substr(5), read[0].substr(5));
  // O far behind D (0.3): an unlisted code that is printed is not turned into a listed one.
  lines = read;
  FixStateCodes(Scored(lines, {{0, 4, 'D', 0.84f}, {0, 4, 'O', 0.54f}, {1, 12, 'F', 0.80f}, {1, 12, 'E', 0.60f}}),
                lines);
  EXPECT_EQ(lines, read);
}

// A check digit that fails is repaired with the cheapest substitutions that make it pass -- but
// only called checked when no other repair comes close: among the ~2,000 sets tried, one in ten
// passes by chance.
// A TD3 MRZ with `number` (9 characters) and the check digits filled in; the position classes.
std::vector<std::string> Td3WithNumber(const std::string& number) {
  std::vector<std::string> lines = {"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                                    number + "8UTO7408122F1204159<<<<<<<<<<<<<<<<"};
  FillMrzCheckDigits(MrzFormat::kTD3, lines);
  return lines;
}
const std::vector<std::string> kTd3Classes = {std::string(44, 'A'),
                                              "XXXXXXXXXNAAANNNNNNNSNNNNNNN" + std::string(14, 'X') + "CN"};

TEST(DocumentMrzGlyphs, RepairIsDoubtfulWhenAnotherRepairIsAlmostAsCheap) {
  const auto& classes = kTd3Classes;
  const std::vector<std::string> printed = Td3WithNumber("SX0257708");
  ASSERT_TRUE(ParseMrz(printed, {.repair = false, .today = "20260101"}).valid);
  std::vector<std::string> read = printed;
  read[1][4] = '6';  // 5 read as 6 (weight 3: the sum moves by 3)
  // The printed 5 is 0.05 behind: the one repair within reach.
  auto lines = read;
  EXPECT_TRUE(RepairWithScores(Scored(read, {{1, 4, '5', 0.85f}}), classes, lines, false).empty());
  EXPECT_EQ(lines, printed);
  // A 9 read 0.055 behind the 0 at position 7 (weight 3, 9 less) passes as well: the cheaper repair
  // is still applied, but the field is doubtful.
  lines = read;
  const auto doubtful =
      RepairWithScores(Scored(read, {{1, 4, '5', 0.85f}, {1, 7, '9', 0.845f}}), classes, lines, false);
  EXPECT_EQ(lines, printed);
  EXPECT_EQ(doubtful, std::vector<std::string>{"document_number"});
  // With the 9 far behind (0.2), the repair is clear again.
  lines = read;
  EXPECT_TRUE(RepairWithScores(Scored(read, {{1, 4, '5', 0.85f}, {1, 7, '9', 0.7f}}), classes, lines, false).empty());
}

// G read for Q (16 for 26, at weight 7: 70) passes every check digit: only the glyphs can tell.
TEST(DocumentMrzGlyphs, CheckBlindLookalikeMakesTheFieldDoubtful) {
  const auto& classes = kTd3Classes;
  const std::vector<std::string> read = Td3WithNumber("QX0171216");
  std::vector<std::string> twin = read;
  twin[1][0] = 'G';
  ASSERT_TRUE(ParseMrz(read, {.repair = false, .today = "20260101"}).valid);
  ASSERT_TRUE(ParseMrz(twin, {.repair = false, .today = "20260101"}).valid) << "G and Q must be check-blind";
  // G 0.02 behind the Q read: doubtful.
  EXPECT_EQ(CheckBlindFields(Scored(read, {{1, 0, 'G', 0.88f}}), classes, read, false, 0.05f),
            std::vector<std::string>{"document_number"});
  // G far behind: the Q stands.
  EXPECT_TRUE(CheckBlindFields(Scored(read, {{1, 0, 'G', 0.7f}}), classes, read, false, 0.05f).empty());
  // A look-alike that the check digit does see (O for 0, 24 apart) is not check-blind.
  EXPECT_TRUE(CheckBlindFields(Scored(read, {{1, 2, 'O', 0.9f}}), classes, read, false, 0.05f).empty());
}

// A national print whose 0 is as wide as OCR-B's O (OCR-B's 0 is narrower): the 0 template, used
// at other widths too, still fits it (0.85 at OCR-B's width only).
TEST(DocumentMrzGlyphs, ZeroPrintedWideStillMatchesZero) {
  const std::string text = "F0000000050UTO031106M1401143<";
  const int pitch = 30, n = static_cast<int>(text.size());
  cv::Mat img(120, pitch * (n + 4), CV_8U, cv::Scalar(255));
  for (int i = 0; i < n; ++i) {
    cv::Mat t = GlyphTemplate(text[static_cast<size_t>(i)]), big;
    if (text[static_cast<size_t>(i)] == '0') {
      const cv::Matx23d m(1.2, 0, -0.1 * t.cols, 0, 1, 0);  // 1.2 x as wide, about its centre
      cv::warpAffine(t, t, m, t.size());
    }
    cv::resize(t, big, cv::Size(), 1.25, 1.25, cv::INTER_LINEAR);
    cv::Mat cell = img(cv::Rect(2 * pitch + i * pitch, 40, big.cols, big.rows));
    cv::subtract(cell, big, cell);
  }
  cv::GaussianBlur(img, img, cv::Size(0, 0), 1.0);
  const GlyphLine g = ReadGlyphLine(img, cv::Rect(2 * pitch, 40, n * pitch, 30), 2 * pitch, (n + 2) * pitch, n);
  ASSERT_EQ(g.text.size(), text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '0') {
      EXPECT_GT(GlyphScore(g, i, '0'), 0.93f) << i;
    }
  }
  EXPECT_EQ(DecodeGlyphLine(g, std::string(text.size(), 'X')), "F0000000050UT0031106M1401143<");
}

}  // namespace
}  // namespace idm::document
