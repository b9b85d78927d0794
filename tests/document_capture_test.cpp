// Document side (issue 3): layouts as data, the card generator, card detection and
// rectification, classification, capture problems, MRZ OCR end to end on the shared specimens,
// portrait location. Generated cards that carry LFW faces stay in memory; nothing is written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/image.h"
#include "document/cardgen.h"
#include "document/csv.h"
#include "document/document.h"
#include "document/layout.h"
#include "document/mrz_ocr.h"
#include "document/report_json.h"
#include "face/analyzer.h"
#include "freetype_text.h"
#include "specimen_portraits.h"
#include "test_util.h"

namespace idm::document {
namespace {

std::string LayoutDir() { return std::string(IDMATCH_SOURCE_DIR) + "/layouts"; }
std::string DocDir() { return test::SharedDir() + "/data/documents"; }
std::string LfwDir() { return test::SharedDir() + "/data/faces/lfw_view2/"; }
bool HaveModels() { return test::Exists(test::ModelDir() + "/human-models/models/facemesh.json"); }

// GTEST_SKIP returns from the test body, so the guard must be a macro.
#define SKIP_WITHOUT_SPECIMENS_OR_MODELS()                                                             \
  do {                                                                                                 \
    if (!test::Exists(DocDir() + "/specimens/labels.csv")) GTEST_SKIP() << "shared documents missing"; \
    if (!HaveModels()) GTEST_SKIP() << "models missing";                                               \
  } while (false)

const std::vector<DocumentLayout>& Layouts() {
  static const auto l = LoadLayouts(LayoutDir());
  return l;
}

const face::FaceAnalyzer& Analyzer() {
  static const face::FaceAnalyzer a{face::AnalyzerOptions{}};
  return a;
}

// The worst corner's distance to the nearest detected corner (the detected order may start at any
// corner: the card can be turned), in photo pixels.
double CornerError(const CardDetection& d, const CapturedCard& cap) {
  double err = 0;
  for (int i = 0; i < 4; ++i) {
    double best = 1e9;
    for (int k = 0; k < 4; ++k) best = std::min(best, cv::norm(d.corners[k] - cap.corners[i]));
    err = std::max(err, best);
  }
  return err;
}

// A face-free stand-in portrait for the tests that only need the card geometry.
cv::Mat SyntheticPortrait() {
  cv::Mat m(250, 250, CV_8UC3, cv::Scalar(150, 160, 170));
  cv::ellipse(m, {125, 120}, {55, 75}, 0, 0, 360, cv::Scalar(200, 170, 150), cv::FILLED);
  return m;
}

TEST(DocumentLayout, ShipsEveryRequiredType) {
  const auto& l = Layouts();
  for (const char* id : {"kr_resident_registration", "kr_driver_license", "kr_residence_card_2023",
                         "kr_residence_card_old", "passport_td3", "id_card_td1", "id_card_td2"}) {
    const DocumentLayout* x = FindLayout(l, id);
    ASSERT_NE(x, nullptr) << id;
    EXPECT_GT(x->portrait.w, 0) << id;
    EXPECT_FALSE(x->text_zones.empty()) << id;
  }
  EXPECT_EQ(FindLayout(l, "passport_td3")->mrz_format, MrzFormat::kTD3);
  EXPECT_EQ(FindLayout(l, "id_card_td1")->mrz_format, MrzFormat::kTD1);
  EXPECT_EQ(FindLayout(l, "id_card_td2")->mrz_format, MrzFormat::kTD2);
  EXPECT_NEAR(FindLayout(l, "passport_td3")->aspect(), 125.0 / 88.0, 1e-9);
  // The two residence-card designs: new = colour portrait on the right + QR; old = B/W on the left.
  const auto* n = FindLayout(l, "kr_residence_card_2023");
  const auto* o = FindLayout(l, "kr_residence_card_old");
  EXPECT_TRUE(n->qr.has_value());
  EXPECT_FALSE(o->qr.has_value());
  EXPECT_GT(n->portrait.x, 0.5);
  EXPECT_LT(o->portrait.x, 0.5);
  EXPECT_GT(n->portrait.w * n->portrait.h, o->portrait.w * o->portrait.h);
  EXPECT_FALSE(o->portrait_colour);
  // The issuer is data too: a Korean type names Korea; an ICAO format names no state (its MRZ does).
  for (const auto& x : l) EXPECT_EQ(x.issuing_country, x.id.rfind("kr_", 0) == 0 ? "KOR" : "") << x.id;
  const std::string base = R"({"id": "x", "name": "x", "format": "ID-1", "size_mm": [85.6, 53.98],
    "background_rgb": [1, 2, 3], "header": {"box": [0, 0, 1, 0.1], "rgb": [1, 2, 3]},
    "portrait": {"box": [0.1, 0.2, 0.2, 0.4]}, "mrz": null, "qr": null, "keywords": [], "text_zones": [])";
  EXPECT_EQ(ParseLayout(base + "}").issuing_country, "");
  EXPECT_EQ(ParseLayout(base + R"(, "issuing_country": "UTO"})").issuing_country, "UTO");
  EXPECT_THROW(ParseLayout(base + R"(, "issuing_country": "korea"})"), Error);
  EXPECT_THROW(ParseLayout(base + R"(, "issuing_country": 410})"), Error);
}

TEST(DocumentLayout, MalformedFilesAreNamed) {
  test::ScopedTempDir dir;
  dir.Write("bad.json", R"({"id": "x", "name": "x", "format": "ID-1", "size_mm": [85.6, 53.98]})");
  try {
    LoadLayouts(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LoadLayouts(dir.File("missing")), Error);
}

TEST(DocumentCardgen, EveryLayoutRendersWithAValidMrzWhereItHasOne) {
  for (const auto& l : Layouts()) {
    const GeneratedCard c = RenderCard(l, SyntheticPortrait(), 7);
    EXPECT_EQ(c.rgb.size(), l.CanonicalSize()) << l.id;
    EXPECT_EQ(c.mrz_lines.empty(), l.mrz_format == MrzFormat::kUnknown) << l.id;
    if (!c.mrz_lines.empty()) {
      const MrzResult r = ParseMrz(c.mrz_lines);
      EXPECT_EQ(r.format, l.mrz_format) << l.id;
      EXPECT_TRUE(r.valid) << l.id;
    }
    // Deterministic for a seed.
    EXPECT_EQ(cv::norm(c.rgb, RenderCard(l, SyntheticPortrait(), 7).rgb, cv::NORM_INF), 0) << l.id;
  }
}

// A capture is a function of its seed alone: what ran before on the thread (here: draws from
// OpenCV's thread RNG, which cv::randn uses) must not change it. It did: the two-thread card eval
// gave different numbers from one run to the next.
TEST(DocumentCardgen, ACaptureDependsOnlyOnItsSeed) {
  const GeneratedCard c = RenderCard(Layouts().front(), SyntheticPortrait(), 7);
  const CapturedCard first = SimulateCapture(c.rgb, 11);
  cv::Mat scratch(64, 64, CV_32F);
  cv::randn(scratch, 0, 1);  // moves the thread RNG
  const CapturedCard again = SimulateCapture(c.rgb, 11);
  ASSERT_EQ(first.rgb.size(), again.rgb.size());
  EXPECT_EQ(cv::norm(first.rgb, again.rgb, cv::NORM_INF), 0);
}

// Generated captures (synthetic portraits): the card is found, its corners are where the
// generator put them, and the type is right.
TEST(DocumentCapture, FindsAndClassifiesGeneratedCards) {
  int n = 0, found = 0, typed = 0;
  for (const auto& l : Layouts()) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      const GeneratedCard card = RenderCard(l, SyntheticPortrait(), seed);
      const CapturedCard cap = SimulateCapture(card.rgb, seed * 31 + 5);
      DocumentOptions opt;
      opt.read_mrz = false;
      const DocumentReport r = AnalyzeDocument(cap.rgb, Layouts(), nullptr, opt);
      ++n;
      if (r.detection.found) found += CornerError(r.detection, cap) < 25;
      typed += r.classification.type == l.id;
      if (r.classification.type != l.id)
        std::printf("  %s seed %d -> %s (%.2f)\n", l.id.c_str(), static_cast<int>(seed), r.classification.type.c_str(),
                    r.classification.confidence);
    }
  }
  std::printf("[document capture] %d generated captures: card found %d, type right %d\n", n, found, typed);
  // A small sample with synthetic portraits (the issue's >= 98% is measured on >= 500 LFW
  // captures by DocumentEval.GeneratedCardsFoundAndTyped): measured 28/28 found and 27-28/28
  // typed since the line hypotheses (was 21 and 20; runs differ slightly because the capture
  // noise is drawn from OpenCV's per-thread RNG). One miss of slack on each.
  EXPECT_GE(found, n - 1);
  EXPECT_GE(typed, n - 2);
}

// Photos cropped off-centre around a tilted card: the generator's camera looks at the card's
// centre, wherever the card lands in the photo, as a photo cropped around the card would. The
// card's aspect measured with the principal point at the photo's centre was then off by up to 16%
// (an ID-1 card measured 1.33 instead of 1.59), and the aspect test of the layouts preferred an
// outline cut short inside the card, or another card type. Four captures of the 504-card eval
// (DocumentEval.GeneratedCards*, numbers 78, 103, 288, 417) that failed so before.
TEST(DocumentCapture, CroppedPhotosOfTiltedCardsKeepTheirOutlineAndType) {
  if (!test::Exists(LfwDir() + "images")) GTEST_SKIP() << "LFW missing";
  const auto labels = ReadCsvFile(LfwDir() + "labels.csv");
  for (const int n : {78, 103, 288, 417}) {
    const auto& l = Layouts()[static_cast<size_t>(n) % Layouts().size()];
    const cv::Mat face = LoadImageFile(LfwDir() + labels[static_cast<size_t>(n * 7) % labels.size()].at("file"));
    const CapturedCard cap = SimulateCapture(RenderCard(l, face, 1000 + n).rgb, 5000 + n);
    DocumentOptions opt;
    opt.read_mrz = false;
    const DocumentReport r = AnalyzeDocument(cap.rgb, Layouts(), nullptr, opt);
    ASSERT_TRUE(r.detection.found) << n;
    EXPECT_LT(CornerError(r.detection, cap), 25) << "capture " << n << " (" << l.id << ")";
    EXPECT_EQ(r.classification.type, l.id) << "capture " << n;
    EXPECT_NEAR(r.detection.aspect_if_cropped, l.aspect(), 0.03 * l.aspect()) << "capture " << n;
  }
}

// The 2023 residence card's QR code (invented content) is decoded on a captured card, and only
// the fact that it decoded is reported: the content appears nowhere in the JSON output. Layouts
// without a QR code never report one.
TEST(DocumentCapture, QrCodeIsReadButItsContentNeverReported) {
  const auto* l = FindLayout(Layouts(), "kr_residence_card_2023");
  ASSERT_NE(l, nullptr);
  int read = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const GeneratedCard card = RenderCard(*l, SyntheticPortrait(), seed);
    ASSERT_FALSE(card.qr_text.empty());
    // The printed card itself, then a capture (perspective, halftone, blur, noise, JPEG; no
    // glare, which can legitimately wash a QR code out).
    DocumentOptions opt;
    opt.read_mrz = false;
    CaptureOptions co;
    co.glare = false;
    const CapturedCard cap = SimulateCapture(card.rgb, seed * 13 + 1, co);
    const DocumentReport r = AnalyzeDocument(cap.rgb, Layouts(), nullptr, opt);
    read += r.qr_read;
    EXPECT_EQ(r.classification.type, l->id) << "seed " << seed;
    const std::string json = DocumentReportJson(r).dump();
    EXPECT_NE(json.find("\"qr_read\""), std::string::npos);
    EXPECT_EQ(json.find(card.qr_text), std::string::npos);
    // Nor the invented number alone.
    EXPECT_EQ(json.find(card.qr_text.substr(card.qr_text.find('-') + 1)), std::string::npos);
  }
  EXPECT_EQ(read, 3);
  const auto* other = FindLayout(Layouts(), "kr_resident_registration");
  const CapturedCard cap = SimulateCapture(RenderCard(*other, SyntheticPortrait(), 2).rgb, 27);
  DocumentOptions opt;
  opt.read_mrz = false;
  EXPECT_FALSE(AnalyzeDocument(cap.rgb, Layouts(), nullptr, opt).qr_read);
}

TEST(DocumentCapture, NoCardBlankImageAndCardCutInHalfAreCaptureProblems) {
  auto has = [](const DocumentReport& r, const char* p) {
    return std::find(r.problems.begin(), r.problems.end(), p) != r.problems.end();
  };
  DocumentOptions opt;
  // Blank.
  const cv::Mat blank(600, 800, CV_8UC3, cv::Scalar(128, 128, 128));
  auto r = AnalyzeDocument(blank, Layouts(), nullptr, opt);
  EXPECT_TRUE(has(r, kBlankImage));
  EXPECT_TRUE(has(r, kCardNotFound));
  EXPECT_EQ(r.classification.type, "unknown");
  // A photo with no card: a smooth gradient with a few blobs, and an LFW portrait.
  cv::Mat scene(600, 800, CV_8UC3);
  for (int y = 0; y < scene.rows; ++y)
    for (int x = 0; x < scene.cols; ++x) scene.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 255 / 800, y * 255 / 600, 90);
  cv::circle(scene, {300, 300}, 80, cv::Scalar(20, 200, 40), cv::FILLED);
  r = AnalyzeDocument(scene, Layouts(), nullptr, opt);
  EXPECT_TRUE(has(r, kCardNotFound));
  EXPECT_EQ(r.classification.type, "unknown");
  if (test::Exists(LfwDir() + "images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg")) {
    // A face photo is never taken for a known document (a rectangle in its background may be
    // reported as an unknown card: known limitation).
    r = AnalyzeDocument(LoadImageFile(LfwDir() + "images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"), Layouts(), nullptr,
                        opt);
    EXPECT_TRUE(has(r, kCardNotFound) || r.classification.type == "unknown");
  }
  // A card cut in half by the picture's edge.
  const auto* l = FindLayout(Layouts(), "kr_resident_registration");
  const CapturedCard cap = SimulateCapture(RenderCard(*l, SyntheticPortrait(), 3).rgb, 11);
  float minx = 1e9, maxx = 0;
  for (auto& p : cap.corners) minx = std::min(minx, p.x), maxx = std::max(maxx, p.x);
  const int cut = static_cast<int>((minx + maxx) / 2);
  r = AnalyzeDocument(cap.rgb(cv::Rect(0, 0, cut, cap.rgb.rows)).clone(), Layouts(), nullptr, opt);
  EXPECT_TRUE(has(r, kCardCutOff) || has(r, kCardNotFound)) << "problems: " << r.problems.size();
  EXPECT_FALSE(r.problems.empty());
}

// Face photos are not documents. Their median colours can match a Korean layout's (skin and a
// pale background against a pale card): of the first 300 LFW photos, 59 were typed as a card by
// colour, 15 after the background-share check, none since the field-ink check (2026-11-27).
TEST(DocumentCapture, FacePhotosAreNotTakenForDocuments) {
  if (!test::Exists(LfwDir() + "images")) GTEST_SKIP() << "LFW missing";
  std::vector<std::string> dirs;
  for (const auto& e : std::filesystem::directory_iterator(LfwDir() + "images")) dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  DocumentOptions opt;
  opt.read_mrz = false;
  int n = 0, typed = 0;
  for (const auto& d : dirs) {
    const std::string name = std::filesystem::path(d).filename().string();
    const std::string file = d + "/" + name + "_0001.jpg";
    if (!test::Exists(file)) continue;
    const DocumentReport r = AnalyzeDocument(LoadImageFile(file), Layouts(), nullptr, opt);
    if (r.classification.type != "unknown") {
      ++typed;
      ADD_FAILURE() << name << "_0001.jpg typed as " << r.classification.type;
    }
    if (++n == 60) break;
  }
  ASSERT_EQ(n, 60);
  EXPECT_EQ(typed, 0);
}

// With the MRZ read (as the server reads it), a reading that fails its checks does not decide the
// format the classifier is given: Hershey's MRZ on a generated TD1 card is found but garbled, and
// its three lines read as two fitted TD2's 2 x 36, which typed the card `unknown` (10 of 20 LFW
// captures in a throw-away driver; 1 of 20 after).
TEST(DocumentCapture, GarbledMrzDoesNotRetypeTheCard) {
  const auto* td1 = FindLayout(Layouts(), "id_card_td1");
  ASSERT_NE(td1, nullptr);
  int typed = 0, garbled = 0;
  for (int seed = 0; seed < 8; ++seed) {
    const cv::Mat img = SimulateCapture(RenderCard(*td1, SyntheticPortrait(), 500 + seed).rgb, 800 + seed).rgb;
    DocumentOptions opt;
    opt.find_portrait = false;
    const DocumentReport r = AnalyzeDocument(img, Layouts(), nullptr, opt);
    typed += r.classification.type == td1->id;
    garbled += r.mrz.has_value() && !r.mrz->mrz.valid;
  }
  std::printf("  TD1 captures with the MRZ read: typed right %d of 8, MRZ found but not valid %d\n", typed, garbled);
  EXPECT_GE(garbled, 4);  // the case this is about
  EXPECT_GE(typed, 7);
}

// The Utopia data pages, scanned, through the whole document path (what `idmatch document` and
// `verify --document` run): typed by their valid MRZ, portrait found. The TD3 page is white like
// the resident registration card and was typed as one by colour (0.45), its MRZ never read.
TEST(DocumentCapture, UtopiaScansAreTypedByTheirMrzAndGiveTheirPortrait) {
  if (!test::Exists(DocDir() + "/utopia/labels.csv")) GTEST_SKIP() << "shared documents missing";
  if (!HaveModels()) GTEST_SKIP() << "models missing";
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  for (const std::string f : {"passport-td3.png", "passport-td3.jpg", "passport-td2.png", "passport-td2.jpg"}) {
    const DocumentReport r = AnalyzeDocument(LoadImageFile(DocDir() + "/utopia/" + f), layouts, &Analyzer());
    EXPECT_EQ(r.classification.type, f.find("td3") != std::string::npos ? "passport_td3" : "id_card_td2") << f;
    ASSERT_TRUE(r.mrz.has_value()) << f;
    EXPECT_TRUE(r.mrz->mrz.valid) << f;
    EXPECT_FALSE(r.portrait.empty()) << f;
  }
}

// The boxes a report gives are in the photo's pixels, wherever the card lies: a passport data page
// photographed upside down has its portrait and MRZ where the photo shows them (before, the
// portrait's box was mapped as if the card were upright: on the wrong side of the photo).
TEST(DocumentCapture, BoxesAreInThePhotoWhenTheCardIsUpsideDown) {
  SKIP_WITHOUT_SPECIMENS_OR_MODELS();
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  auto overlap = [](const cv::Rect& a, const cv::Rect& b) {
    return static_cast<double>((a & b).area()) / std::max(1, (a | b).area());
  };
  for (const std::string f : {"passports/Canada.png", "other/TD2_ICAO_Example.png"}) {
    const cv::Mat upright = LoadImageFile(DocDir() + "/specimens/images/" + f);
    cv::Mat upside_down;
    cv::rotate(upright, upside_down, cv::ROTATE_180);
    const DocumentReport a = AnalyzeDocument(upright, layouts, &Analyzer());
    const DocumentReport b = AnalyzeDocument(upside_down, layouts, &Analyzer());
    ASSERT_TRUE(a.portrait_box_in_photo && b.portrait_box_in_photo && a.mrz_box_in_photo && b.mrz_box_in_photo) << f;
    ASSERT_TRUE(a.mrz->mrz.valid && b.mrz->mrz.valid) << f;
    auto turned = [&](const cv::Rect& r) {
      return cv::Rect(upright.cols - r.br().x, upright.rows - r.br().y, r.width, r.height);
    };
    // The portrait is in the left half of the upright page, the MRZ in its bottom third.
    EXPECT_LT(a.portrait_box_in_photo->br().x, upright.cols / 2) << f;
    EXPECT_GT(a.mrz_box_in_photo->y, upright.rows * 2 / 3) << f;
    EXPECT_GT(overlap(*b.portrait_box_in_photo, turned(*a.portrait_box_in_photo)), 0.6)
        << f << ": " << *b.portrait_box_in_photo << " vs " << turned(*a.portrait_box_in_photo);
    EXPECT_GT(overlap(*b.mrz_box_in_photo, turned(*a.mrz_box_in_photo)), 0.6)
        << f << ": " << *b.mrz_box_in_photo << " vs " << turned(*a.mrz_box_in_photo);
  }
}

// A visa (no layout of ours) scanned whole: its portrait is the largest face within the document
// its valid MRZ is printed on (placed by the MRZ's format), never a face beside it. Before, a photo
// taken whole without a layout gave no portrait at all.
TEST(DocumentCapture, AVisaScanGivesItsPortraitAndNotAFaceBesideIt) {
  if (!test::Exists(DocDir() + "/specimens/labels.csv")) GTEST_SKIP() << "shared documents missing";
  if (!HaveModels() || !test::Exists(LfwDir() + "images")) GTEST_SKIP() << "models or LFW missing";
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  for (const std::string f : {"images/visas/USA2.png", "images/visas/France.png"}) {
    const auto* truth = test::FindSpecimenPortrait(f);
    ASSERT_NE(truth, nullptr);
    const cv::Mat visa = LoadImageFile(DocDir() + "/specimens/" + f);
    const DocumentReport r = AnalyzeDocument(visa, layouts, &Analyzer());
    EXPECT_TRUE(r.whole_image) << f;
    ASSERT_TRUE(r.mrz && r.mrz->mrz.valid) << f;
    ASSERT_TRUE(r.portrait_box_in_photo.has_value()) << f;
    EXPECT_TRUE(test::IsThePortrait(*truth, *r.portrait_box_in_photo, visa.size())) << f;
  }
  // The visa below a band holding someone's face, larger than the visa's portrait.
  const cv::Mat visa = LoadImageFile(DocDir() + "/specimens/images/visas/USA2.png");
  const int band = 250;
  cv::Mat page(visa.rows + band, visa.cols, CV_8UC3, cv::Scalar(255, 255, 255)), face;
  visa.copyTo(page(cv::Rect(0, band, visa.cols, visa.rows)));
  cv::resize(LoadImageFile(LfwDir() + "images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"), face, cv::Size(230, 230));
  face.copyTo(page(cv::Rect(visa.cols / 2 - 115, 10, 230, 230)));
  const DocumentReport r = AnalyzeDocument(page, layouts, &Analyzer());
  ASSERT_TRUE(r.whole_image);  // the case this is about
  ASSERT_TRUE(r.portrait_box_in_photo.has_value());
  EXPECT_GE(r.portrait_box_in_photo->y, band) << *r.portrait_box_in_photo << ": the face beside the visa";
  EXPECT_LT(r.portrait_box_in_photo->br().x, visa.cols / 3) << *r.portrait_box_in_photo;
}

// ICAO specimen scans through the whole document path, where the outline found is not where the
// MRZ is: Latvia's and Monaco's scans show the card's front above its back (the outline takes one
// side, the MRZ is on the other), Canada's data page came out of the colour test upside down.
// (Ukraine's, typed as a Korean card by colour with an outline inside the scan, is now taken as
// cropped to the page: ScansCroppedToTheDocumentAreTheDocument.) Each is read (to its label, where
// it has one) and typed by its MRZ family. A photo taken whole as the document gives a portrait
// only from its layout's zone or from the other side tied to its MRZ, never the largest face
// anywhere (which could be the applicant's beside the card).
TEST(DocumentCapture, SpecimenScansAreReadWhereTheOutlineMissesTheMrz) {
  SKIP_WITHOUT_SPECIMENS_OR_MODELS();
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  struct Case {
    std::string name, type;
    bool whole_image, portrait;
  };
  int n = 0;
  // Monaco and Sweden are scans of a card's front and back, the MRZ on the back. Monaco's front
  // prints the MRZ's number (029067), so its portrait is taken from there; Sweden's front is an
  // outline of its own too, but its number is not read under the SPECIMEN stamp, so the two sides
  // are not tied and no portrait is given.
  for (const Case& c : {Case{"Latvia", "id_card_td1", true, true}, Case{"Monaco", "id_card_td1", true, true},
                        Case{"Sweden", "id_card_td1", false, false}, Case{"Canada", "passport_td3", false, true}}) {
    for (const auto& row : ReadCsvFile(DocDir() + "/specimens/labels.csv")) {
      if (row.at("name") != c.name) continue;
      ++n;
      const cv::Mat scan = LoadImageFile(DocDir() + "/specimens/" + row.at("file"));
      const DocumentReport r = AnalyzeDocument(scan, layouts, &Analyzer());
      EXPECT_EQ(r.classification.type, c.type) << c.name;
      EXPECT_EQ(r.whole_image, c.whole_image) << c.name;
      ASSERT_TRUE(r.mrz.has_value()) << c.name;
      EXPECT_TRUE(r.mrz->mrz.valid) << c.name;
      std::vector<std::string> label = {row.at("mrz_line1"), row.at("mrz_line2")};
      if (!row.at("mrz_line3").empty()) label.push_back(row.at("mrz_line3"));
      if (!label[0].empty()) {
        EXPECT_EQ(r.mrz->mrz.lines, label) << c.name;
      }
      EXPECT_EQ(!r.portrait.empty(), c.portrait) << c.name;
      if (!c.portrait) {
        EXPECT_TRUE(FindPortrait(scan, nullptr, Analyzer()).has_value()) << c.name << ": no face to leave out";
        // The back of an ID card: the advice is to show the other side, not to move a finger.
        EXPECT_EQ(std::count(r.problems.begin(), r.problems.end(), std::string(kPortraitNotFound)), 1) << c.name;
        EXPECT_EQ(std::count(r.problems.begin(), r.problems.end(), std::string(kPortraitObstructed)), 0) << c.name;
      }
      if (c.name == "Monaco") {
        ASSERT_TRUE(r.portrait_box_in_photo.has_value());
        EXPECT_TRUE(r.portrait_on_other_side);
        // The face on the front, in the top half of the page (the back's coat of arms is below).
        const cv::Rect box = *r.portrait_box_in_photo;
        EXPECT_LT(box.y + box.height, scan.rows / 2) << box;
        EXPECT_GT(box.x, scan.cols / 2) << box;
        // With the number on the front blurred out of reading, nothing ties the front to the MRZ:
        // no portrait.
        cv::Mat untied = scan.clone();
        cv::Mat number = untied(cv::Rect(2, 38, 60, 18));
        cv::GaussianBlur(number, number, cv::Size(0, 0), 2);
        const DocumentReport u = AnalyzeDocument(untied, layouts, &Analyzer());
        ASSERT_TRUE(u.mrz.has_value());
        EXPECT_TRUE(u.mrz->mrz.valid);
        EXPECT_TRUE(u.portrait.empty());
        EXPECT_FALSE(u.portrait_on_other_side);
        EXPECT_EQ(std::count(u.problems.begin(), u.problems.end(), std::string(kPortraitNotFound)), 1);
      }
      // A scan is the document: no outline problem is reported for it.
      if (c.whole_image) {
        EXPECT_EQ(std::count(r.problems.begin(), r.problems.end(), std::string(kCardCutOff)), 0) << c.name;
      }
    }
  }
  EXPECT_EQ(n, 4);
}

// A scan cropped to the document, edge to edge, has no outline of its own: an image of a
// document's shape whose best outline covers under half of it is the card (the outline search
// found quads inside the US residence cards, and the portrait search a "face" on one's seal).
// An MRZ in an ICAO format found on a card typed in doubt as a design without one (a Korean
// card) makes the type unknown, even when the MRZ is not valid; an MRZ found at all gives the
// card's orientation (Interpol's page, whose state code INP is not on ICAO's list, was turned
// upside down by its colours, and its portrait looked for in the wrong corner).
TEST(DocumentCapture, ScansCroppedToTheDocumentAreTheDocument) {
  SKIP_WITHOUT_SPECIMENS_OR_MODELS();
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  struct Case {
    std::string file, type;
    bool mrz_valid;
  };
  for (const Case& c :
       {Case{"resident_cards/USA_Permanent.png", "unknown", false},
        Case{"passports/Interpol.png", "passport_td3", false}, Case{"passports/Ukraine.png", "passport_td3", true}}) {
    const cv::Mat scan = LoadImageFile(DocDir() + "/specimens/images/" + c.file);
    const DocumentReport r = AnalyzeDocument(scan, layouts, &Analyzer());
    EXPECT_EQ(r.classification.type, c.type) << c.file;
    ASSERT_TRUE(r.detection.found) << c.file;
    EXPECT_FALSE(r.whole_image) << c.file;
    const std::array<cv::Point2f, 4> image = {cv::Point2f(0, 0), cv::Point2f(scan.cols, 0),
                                              cv::Point2f(scan.cols, scan.rows), cv::Point2f(0, scan.rows)};
    for (int i = 0; i < 4; ++i)
      EXPECT_LT(cv::norm(r.detection.corners[i] - image[i]), 1.0) << c.file << " corner " << i;
    EXPECT_TRUE(r.problems.empty() || std::count(r.problems.begin(), r.problems.end(), std::string(kCardCutOff)) == 0)
        << c.file;
    ASSERT_TRUE(r.mrz.has_value()) << c.file;
    EXPECT_EQ(r.mrz->mrz.valid, c.mrz_valid) << c.file;
    // Each of the three prints its portrait in the left third (not on the seal, not upside down).
    ASSERT_TRUE(r.portrait_box_in_photo.has_value()) << c.file;
    const cv::Rect box = *r.portrait_box_in_photo;
    EXPECT_LT(box.x + box.width / 2, scan.cols / 3) << c.file << " " << box;
  }
}

// A layout file may give a zone so thin that it rounds to no pixel at the classification width:
// measured as empty, never an exception.
TEST(DocumentCapture, ZonesThatRoundToNothingAreMeasuredAsEmpty) {
  std::vector<DocumentLayout> layouts = Layouts();
  for (auto& l : layouts) {
    l.qr = ZoneBox{0.5, 0.5, 0.001, 0.001};
    if (l.mrz_format != MrzFormat::kUnknown) l.mrz = ZoneBox{0.1, 0.9, 0.8, 0.001};
    for (auto& z : l.text_zones) z.box = ZoneBox{z.box.x, z.box.y, 0.001, 0.001};
  }
  const auto* l = FindLayout(layouts, "kr_driver_license");
  ASSERT_NE(l, nullptr);
  const cv::Mat img = SimulateCapture(RenderCard(*l, SyntheticPortrait(), 9).rgb, 9).rgb;
  DocumentOptions opt;
  opt.read_mrz = false;
  EXPECT_NO_THROW(AnalyzeDocument(img, layouts, nullptr, opt));
}

TEST(DocumentCapture, BlurIsReported) {
  const auto* l = FindLayout(Layouts(), "id_card_td1");
  CaptureOptions o;
  o.blur = false;
  cv::Mat img = SimulateCapture(RenderCard(*l, SyntheticPortrait(), 5).rgb, 5, o).rgb;
  DocumentOptions opt;
  opt.read_mrz = false;
  auto r = AnalyzeDocument(img, Layouts(), nullptr, opt);
  ASSERT_TRUE(r.detection.found);
  EXPECT_EQ(std::count(r.problems.begin(), r.problems.end(), std::string(kBlurred)), 0);
  cv::GaussianBlur(img, img, cv::Size(0, 0), 6);
  r = AnalyzeDocument(img, Layouts(), nullptr, opt);
  EXPECT_EQ(std::count(r.problems.begin(), r.problems.end(), std::string(kBlurred)), 1);
}

// A lamination highlight over part of the face (the portrait still found) is a capture problem:
// on LFW cards it is what costs card-vs-selfie matching most (docs/documents.md).
TEST(DocumentCapture, GlareOverThePortraitsFaceIsReported) {
  if (!HaveModels() || !test::Exists(LfwDir() + "images")) GTEST_SKIP() << "models or LFW missing";
  auto has = [](const DocumentReport& r, const char* p) {
    return std::find(r.problems.begin(), r.problems.end(), p) != r.problems.end();
  };
  const cv::Mat face = LoadImageFile(LfwDir() + "images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
  DocumentOptions opt;
  opt.read_mrz = false;
  for (const char* id : {"kr_resident_registration", "kr_residence_card_old", "passport_td3"}) {
    const auto* l = FindLayout(Layouts(), id);
    const GeneratedCard card = RenderCard(*l, face, 21);
    CaptureOptions co;
    co.glare = false;
    const CapturedCard cap = SimulateCapture(card.rgb, 23, co);
    const DocumentReport clean = AnalyzeDocument(cap.rgb, Layouts(), &Analyzer(), opt);
    ASSERT_TRUE(clean.portrait_box.has_value()) << id;
    EXPECT_FALSE(has(clean, kGlareOnPortrait)) << id;
    // The printed portrait in the photo, through the card's homography.
    const cv::Rect box = CardBoxInPhoto(card.portrait_box, cap.corners, card.rgb.size());
    // A soft white ellipse over the upper face (eyes and forehead), a quarter of the portrait wide.
    cv::Mat g(cap.rgb.size(), CV_32F, cv::Scalar(0));
    const cv::Point centre(box.x + box.width / 2, box.y + box.height * 2 / 5);
    cv::ellipse(g, centre, cv::Size(box.width / 4, box.width / 6), 20, 0, 360, cv::Scalar(1), cv::FILLED);
    cv::GaussianBlur(g, g, cv::Size(0, 0), box.width * 0.05);
    cv::Mat glared = cap.rgb.clone();
    for (int y = 0; y < glared.rows; ++y)
      for (int x = 0; x < glared.cols; ++x) {
        const float a = std::min(1.f, 1.3f * g.at<float>(y, x));
        cv::Vec3b& px = glared.at<cv::Vec3b>(y, x);
        for (int c = 0; c < 3; ++c) px[c] = cv::saturate_cast<uint8_t>(px[c] * (1 - a) + 255 * a);
      }
    const DocumentReport r = AnalyzeDocument(glared, Layouts(), &Analyzer(), opt);
    EXPECT_TRUE(has(r, kGlareOnPortrait)) << id << ": " << r.problems.size() << " problems";
  }
}

// MRZ location + OCR-B templates / Tesseract + parser on the shared specimens. The counts are
// reported; the thresholds are the ones this implementation reaches today (the issue's targets
// are 4/4 and 16/18: see docs/documents.md for where it stands).
// A reading whose issuing state or nationality is not on ICAO's list is not valid, even when
// every check digit passes: printed cleanly in OCR-B, the generator's invented state ZZZ reads exactly and
// fails "state_codes"; the same card issued by UTO (ICAO's specimen state) is valid.
TEST(DocumentMrzOcr, UnlistedStateCodeIsNotValid) {
  if (!InstallFreeTypeText(kNanumFont, kOcrbFont)) GTEST_SKIP() << "no OpenCV FreeType or no OCR-B / Nanum font";
  const RestoreDefaultText restore;  // the MRZ printed in OCR-B, as tools/cardgen prints it
  const DocumentLayout* passport = nullptr;
  for (const auto& l : Layouts())
    if (l.id == "passport_td3") passport = &l;
  ASSERT_NE(passport, nullptr);
  std::map<std::string, GeneratedCard> by_state;  // one clean card per issuing state
  for (uint64_t seed = 1; seed < 200 && by_state.size() < 4; ++seed) {
    GeneratedCard c = RenderCard(*passport, SyntheticPortrait(), seed);
    by_state.emplace(c.mrz_lines.at(0).substr(2, 3), std::move(c));
  }
  ASSERT_TRUE(by_state.count("ZZZ") && by_state.count("UTO"));
  for (const std::string state : {"ZZZ", "UTO"}) {
    const GeneratedCard& card = by_state.at(state);
    const MrzReading r = ReadMrz(card.rgb);
    ASSERT_TRUE(r.found) << state;
    EXPECT_EQ(r.mrz.lines, card.mrz_lines) << state;
    const MrzCheck* codes = r.mrz.Check("state_codes");
    if (state == "ZZZ") {
      EXPECT_FALSE(r.mrz.valid);
      ASSERT_NE(codes, nullptr);
      EXPECT_EQ(codes->state, CheckState::kFail);
    } else {
      EXPECT_TRUE(r.mrz.valid);
      EXPECT_EQ(codes, nullptr);
    }
  }
}

// What ties a card's front to the MRZ read on its back: the front prints the MRZ's number.
// Compared without leading zeros and with O/0, I/1 alike; a number under 5 characters proves
// nothing and is never found.
TEST(DocumentMrzOcr, PrintsDocumentNumberFindsTheNumberOnAnotherSide) {
  cv::Mat side(300, 900, CV_8UC3, cv::Scalar(235, 230, 220));
  cv::putText(side, "SURNAME SPECIMEN", cv::Point(30, 70), cv::FONT_HERSHEY_SIMPLEX, 1.2, cv::Scalar(30, 30, 30), 2);
  cv::putText(side, "No: 029067   DOB 01 01 1999", cv::Point(30, 170), cv::FONT_HERSHEY_SIMPLEX, 1.2,
              cv::Scalar(30, 30, 30), 2);
  EXPECT_TRUE(PrintsDocumentNumber(side, "0029067"));
  EXPECT_TRUE(PrintsDocumentNumber(side, "O29O67"));      // letters O read for zeros in the MRZ
  EXPECT_FALSE(PrintsDocumentNumber(side, "0029068"));    // another card's number
  EXPECT_FALSE(PrintsDocumentNumber(side, "1999"));       // too short to prove anything
  EXPECT_FALSE(PrintsDocumentNumber(side, "0000<<<<<"));  // nothing left after the zeros
  EXPECT_FALSE(PrintsDocumentNumber(cv::Mat(), "029067"));
}

TEST(DocumentMrzOcr, UtopiaAndSpecimens) {
  if (!test::Exists(DocDir() + "/utopia/labels.csv")) GTEST_SKIP() << "shared documents missing";
  int utopia = 0, utopia_n = 0, spec = 0, spec_n = 0, spec_valid_when_exact = 0;
  for (const auto& row : ReadCsvFile(DocDir() + "/utopia/labels.csv")) {
    const MrzReading r = ReadMrz(LoadImageFile(DocDir() + "/utopia/" + row.at("file")));
    ++utopia_n;
    const bool exact = r.mrz.lines == std::vector<std::string>{row.at("mrz_line1"), row.at("mrz_line2")};
    utopia += exact;
    std::printf("  utopia/%-38s %s\n", row.at("file").c_str(),
                exact     ? "exact"
                : r.found ? "read, differs"
                          : "not located");
    if (std::getenv("IDMATCH_DOC_DEBUG") != nullptr && !exact)
      for (const auto& l : r.mrz.lines) std::printf("      got  %s\n", l.c_str());
  }
  for (const auto& row : ReadCsvFile(DocDir() + "/specimens/labels.csv")) {
    if (row.at("mrz_line1").empty()) continue;
    std::vector<std::string> want = {row.at("mrz_line1"), row.at("mrz_line2")};
    if (!row.at("mrz_line3").empty()) want.push_back(row.at("mrz_line3"));
    const MrzReading r = ReadMrz(LoadImageFile(DocDir() + "/specimens/" + row.at("file")));
    ++spec_n;
    const bool exact = r.mrz.lines == want;
    spec += exact;
    std::string doubt;  // checks held back as ambiguous (field names only)
    for (const auto& c : r.mrz.checks)
      if (c.state == CheckState::kAmbiguous) doubt += " " + c.name;
    // An exact reading is valid when its check digits are right -- unless a check passed only
    // through a repair the glyphs could not tell from another one (then it is ambiguous, and not
    // valid: a coincidence is not a check).
    const bool digits_ok = row.at("check_digits_ok_computed") == "True";
    if (exact) spec_valid_when_exact += r.mrz.valid == digits_ok || (digits_ok && !doubt.empty());
    std::printf("  %-45s %s%s%s\n", row.at("file").c_str(),
                exact     ? "exact"
                : r.found ? "read, differs"
                          : "not located",
                doubt.empty() ? "" : ", ambiguous:", doubt.c_str());
    // Specimen data only (invented names and numbers): IDMATCH_DOC_DEBUG=1 shows where a reading differs.
    if (std::getenv("IDMATCH_DOC_DEBUG") != nullptr && !exact)
      for (size_t i = 0; i < want.size(); ++i) {
        const std::string got = i < r.mrz.lines.size() ? r.mrz.lines[i] : "";
        std::string marks;
        for (size_t k = 0; k < want[i].size(); ++k) marks += k < got.size() && got[k] == want[i][k] ? ' ' : '^';
        std::printf("      want %s\n      got  %s\n           %s\n", want[i].c_str(), got.c_str(), marks.c_str());
      }
  }
  std::printf("[mrz ocr] utopia %d/%d exact, specimens %d/%d exact\n", utopia, utopia_n, spec, spec_n);
  EXPECT_EQ(spec_valid_when_exact, spec);
  EXPECT_EQ(utopia, 4);
  // Measured 11/18 (target 16/18). Five labels are not what their images print (docs/documents.md:
  // Liechtenstein, Malta_BAD, Germany visa, Interpol, ICAO_Example2), so 13/18 is the ceiling. The
  // UK visa read exactly until its number's 8 -- which its own print's templates read as S, a
  // substitution no check digit sees (8 and 28) -- was held back as ambiguous (2026-11-27).
  EXPECT_GE(spec, 11);
}

// The largest-face search over each whole specimen scan (no layout): the face it finds must be the
// printed portrait (tests/specimen_portraits.h, checked by eye). Measured 2026-11-28: 34 of the
// 34 scans with a portrait; on the 1997 German visa, which has none, it takes the emblem.
TEST(DocumentPortrait, FoundOnSpecimens) {
  SKIP_WITHOUT_SPECIMENS_OR_MODELS();
  int with_portrait = 0, right = 0, wrong = 0;
  for (const auto& row : ReadCsvFile(DocDir() + "/specimens/labels.csv")) {
    const auto* truth = test::FindSpecimenPortrait(row.at("file"));
    ASSERT_NE(truth, nullptr) << row.at("file") << " is not in specimen_portraits.h";
    if (truth->fx < 0) continue;
    ++with_portrait;
    const cv::Mat img = LoadImageFile(DocDir() + "/specimens/" + row.at("file"));
    const auto box = FindPortrait(img, nullptr, Analyzer());
    if (!box) {
      std::printf("  no portrait: %s\n", row.at("file").c_str());
    } else if (test::IsThePortrait(*truth, *box, img.size())) {
      ++right;
    } else {
      ++wrong;
      std::printf("  not the portrait: %s\n", row.at("file").c_str());
    }
  }
  std::printf("[portrait] specimens with a portrait: the printed face found on %d of %d, another face on %d\n", right,
              with_portrait, wrong);
  EXPECT_GE(10 * right, 9 * with_portrait);  // the issue's 90%
  EXPECT_EQ(wrong, 0);
}

// Two scans of both sides of a card where the document path took another face for the portrait
// (2026-11-28). Peru: the MRZ block took the print's edge under the MRZ for a line and dropped the
// first, the reading failed, and the card outline's side (the back) gave its fingerprint. Malta:
// typed by colour as the TD2 layout, upside down, so its zone fell on the hologram.
TEST(DocumentPortrait, ScansOnceGivingAnotherFaceGiveTheirPrintedFace) {
  SKIP_WITHOUT_SPECIMENS_OR_MODELS();
  for (const std::string file : {"images/id_cards/Peru.png", "images/id_cards/Malta_BAD.png"}) {
    SCOPED_TRACE(file);
    const cv::Mat img = LoadImageFile(DocDir() + "/specimens/" + file);
    const DocumentReport r = AnalyzeDocument(img, Layouts(), &Analyzer());
    ASSERT_TRUE(r.portrait_box_in_photo.has_value());
    EXPECT_TRUE(test::IsThePortrait(*test::FindSpecimenPortrait(file), *r.portrait_box_in_photo, img.size()));
    if (file.find("Peru") == std::string::npos) continue;
    // Peru's MRZ as printed, its first line included: its check digits and the composite pass.
    ASSERT_TRUE(r.mrz.has_value());
    EXPECT_TRUE(r.mrz->mrz.valid);
    ASSERT_EQ(r.mrz->mrz.lines.size(), 3u);
    EXPECT_EQ(r.mrz->mrz.lines[0].substr(0, 5), "I<PER");
  }
}

// A specimen scan laid on a white page (test::OnWhitePage) and analysed.
struct SpecimenOnPage {
  cv::Mat scan;
  cv::Rect at;  // where the scan lies on the page
  DocumentReport report;
  // Whether the reported portrait is the one the scan prints.
  bool GivesItsPortrait(const std::string& file) const {
    return report.portrait_box_in_photo &&
           test::IsThePortrait(*test::FindSpecimenPortrait(file), *report.portrait_box_in_photo - at.tl(), scan.size());
  }
};
SpecimenOnPage AnalyzeOnWhitePage(const std::string& file, double margin, bool right) {
  SpecimenOnPage p;
  p.scan = LoadImageFile(DocDir() + "/specimens/" + file);
  p.report = AnalyzeDocument(test::OnWhitePage(p.scan, margin, right, p.at), Layouts(), &Analyzer());
  return p;
}

// A passport page on a larger scan: no outline, so the photo is taken whole, typed by its valid
// MRZ, and the layout's zone must be laid over the document the MRZ is printed on, not over the
// page (it fell on the white to the page's left: no portrait).
TEST(DocumentPortrait, APassportPageOnALargerScanGivesItsPortrait) {
  SKIP_WITHOUT_SPECIMENS_OR_MODELS();
  const std::string file = "images/passports/Iceland.png";
  const SpecimenOnPage page = AnalyzeOnWhitePage(file, 0.6, true);
  const DocumentReport& r = page.report;
  EXPECT_TRUE(r.whole_image);
  ASSERT_TRUE(r.mrz.has_value());
  EXPECT_TRUE(r.mrz->mrz.valid);
  EXPECT_EQ(r.classification.type, "passport_td3");
  EXPECT_TRUE(page.GivesItsPortrait(file));
}

// The UK residence permit's front on a larger scan is typed by its colours, narrowly (0.53), as
// the resident registration card, a design it is not: where that layout prints its portrait, the
// detector took the permit's signature for a face, which the face mesh does not believe in. The
// face on the card the mesh believes in is its portrait.
TEST(DocumentPortrait, ACardTypedNarrowlyAsAnotherDesignGivesItsPrintedFaceNotItsSignature) {
  SKIP_WITHOUT_SPECIMENS_OR_MODELS();
  const std::string file = "images/resident_cards/UK.png";
  EXPECT_TRUE(AnalyzeOnWhitePage(file, 0.3, false).GivesItsPortrait(file));
}

// A portrait's crop is centred on the face the document path found, and another face in its
// margin can be larger (on a card printed from an LFW photo, a face in the photo's background):
// the face AnalyzePortrait analyses is the one the crop is centred on, not the largest.
TEST(DocumentPortrait, TheCropsCentredFaceIsAnalysedNotALargerOneInItsMargin) {
  if (!HaveModels() || !test::Exists(LfwDir() + "images")) GTEST_SKIP() << "models or LFW missing";
  const cv::Mat holder = LoadImageFile(LfwDir() + "images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
  const cv::Mat other = LoadImageFile(LfwDir() + "images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
  // LFW's 250 px images: the other person at full size on the right, the holder at 60% in the
  // middle, on top.
  cv::Mat crop(250, 600, CV_8UC3, cv::Scalar::all(200)), small;
  other.copyTo(crop(cv::Rect(350, 0, 250, 250)));
  cv::resize(holder, small, cv::Size(150, 150), 0, 0, cv::INTER_AREA);
  small.copyTo(crop(cv::Rect(225, 50, 150, 150)));
  const face::FaceAnalysis centred = AnalyzePortrait(Analyzer(), crop);
  const face::FaceAnalysis largest = Analyzer().Analyze(crop, face::FacePick::kLargest);
  ASSERT_GE(centred.faces_found, 2);
  EXPECT_GT(face::CosineSimilarity(centred.embedding, Analyzer().Analyze(holder).embedding), 0.93);
  // The control: the largest face is the other person's.
  EXPECT_GT(face::CosineSimilarity(largest.embedding, Analyzer().Analyze(other).embedding), 0.93);
  EXPECT_LT(face::CosineSimilarity(centred.embedding, largest.embedding), 0.9);
}

TEST(DocumentPortrait, FoundOnGeneratedCardsOfEveryLayout) {
  if (!HaveModels() || !test::Exists(LfwDir() + "images")) GTEST_SKIP() << "models or LFW missing";
  const cv::Mat face = LoadImageFile(LfwDir() + "images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
  // Today's capability, not the issue's target (>= 90% on >= 500 cards, DocumentEval.*): the
  // portrait is found on all but at most one layout's simulated capture (passport_td3 is missed
  // with this seed since the rotation-aware mesh landed).
  int missed = 0;
  for (const auto& l : Layouts()) {
    const GeneratedCard card = RenderCard(l, face, 3);
    const CapturedCard cap = SimulateCapture(card.rgb, 17);
    DocumentOptions opt;
    opt.read_mrz = false;
    const DocumentReport r = AnalyzeDocument(cap.rgb, Layouts(), &Analyzer(), opt);
    if (!r.portrait_box.has_value()) {
      std::printf("  portrait not found on %s\n", l.id.c_str());
      ++missed;
      continue;
    }
    EXPECT_FALSE(r.portrait.empty());
    if (r.classification.type == l.id) {
      // Inside the printed portrait zone.
      const cv::Rect zone = l.portrait.ToRect(r.rectified.size());
      const cv::Point c = (r.portrait_box->tl() + r.portrait_box->br()) / 2;
      EXPECT_TRUE(zone.contains(c)) << l.id;
    }
  }
  EXPECT_LE(missed, 1);
}

}  // namespace
}  // namespace idm::document
