// The document evaluations of issue 3 (run with IDMATCH_SLOW=1; minutes on two cores):
//   * >= 500 generated captures over every layout and every degradation: card found, type right;
//   * LFW genuine pairs rebuilt as card-vs-selfie (card printed from file_a, selfie = file_b)
//     against photo-vs-photo on the same pairs; impostors are every cross-identity combination
//     of the same images, so FAR = 1e-3 is measurable.
// Cards carry LFW faces: they are made, analysed and dropped in memory; nothing is written.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/image.h"
#include "document/cardgen.h"
#include "document/csv.h"
#include "document/document.h"
#include "eval/metrics.h"
#include "face/analyzer.h"
#include "freetype_text.h"
#include "specimen_portraits.h"
#include "test_util.h"
#include "verify/verifier.h"

namespace idm::document {
namespace {

bool Slow() { return std::getenv("IDMATCH_SLOW") != nullptr; }
// These evals run only with IDMATCH_SLOW=1 and the shared data they read (`what` names it).
#define SKIP_UNLESS_SLOW_WITH(path, what)                        \
  do {                                                           \
    if (!Slow()) GTEST_SKIP() << "set IDMATCH_SLOW=1";           \
    if (!test::Exists(path)) GTEST_SKIP() << what << " missing"; \
  } while (0)
std::string LfwDir() { return test::SharedDir() + "/data/faces/lfw_view2/"; }
int EnvInt(const char* k, int def) {
  const char* v = std::getenv(k);
  return v ? std::atoi(v) : def;
}

// How far the detected outline is from the true card: the worst corner's distance to the nearest
// detected corner (either orientation counts), in photo pixels; 1e9 when no card was found.
double CornerError(const DocumentReport& r, const CapturedCard& cap) {
  if (!r.detection.found) return 1e9;
  double err = 0;
  for (int i = 0; i < 4; ++i) {
    double best = 1e9;
    for (int j = 0; j < 4; ++j) best = std::min(best, cv::norm(r.detection.corners[j] - cap.corners[i]));
    err = std::max(err, best);
  }
  return err;
}

TEST(DocumentEval, GeneratedCardsFoundAndTyped) {
  SKIP_UNLESS_SLOW_WITH(LfwDir() + "labels.csv", "LFW");
  // IDMATCH_DOC_FONTS=1: text in real fonts (OCR-B, Nanum Gothic) instead of OpenCV's Hershey.
  const bool fonts = std::getenv("IDMATCH_DOC_FONTS") != nullptr && InstallFreeTypeText(kNanumFont, kOcrbFont);
  const RestoreDefaultText restore;
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  const auto labels = ReadCsvFile(LfwDir() + "labels.csv");
  const int per_layout = EnvInt("IDMATCH_DOC_CARDS_PER_LAYOUT", 72);
  std::map<std::string, std::pair<int, int>> found, typed;  // layout -> (ok, n)
  int n = 0, ok_found = 0, ok_type = 0;
  std::map<std::string, std::map<std::string, int>> confusion;  // true layout -> type said (cards found)
  std::map<std::string, int> misses;
  for (int k = 0; k < per_layout; ++k) {
    for (const auto& l : layouts) {
      const cv::Mat face = LoadImageFile(LfwDir() + labels[static_cast<size_t>(n * 7) % labels.size()].at("file"));
      const GeneratedCard card = RenderCard(l, face, 1000 + n);
      const CapturedCard cap = SimulateCapture(card.rgb, 5000 + n);
      DocumentOptions opt;
      opt.read_mrz = false;
      const DocumentReport r = AnalyzeDocument(cap.rgb, layouts, nullptr, opt);
      const double err = CornerError(r, cap);
      const bool f = err < 25, t = r.classification.type == l.id;
      if (f) ++confusion[l.id][r.classification.type];
      else ++misses[r.detection.found ? "found elsewhere (corner error >= 25 px)" : "not found"];
      if (std::getenv("IDMATCH_DOC_DEBUG") != nullptr && !(f && t)) {
        std::string applied;
        for (const auto& a : cap.applied) applied += a + " ";
        std::printf("  miss #%d %-24s found=%d err=%.0f type=%s (%.2f) [%s]\n", n, l.id.c_str(), r.detection.found ? 1 : 0,
                    std::min(err, 9999.0), r.classification.type.c_str(), r.classification.confidence, applied.c_str());
      }
      ok_found += f;
      ok_type += f && t;
      found[l.id].first += f;
      found[l.id].second++;
      typed[l.id].first += f && t;
      ++n;
    }
  }
  std::printf(
      "[document eval] %d generated captures (all degradations on, %s text): card found %d (%.1f%%), found and type "
      "right %d (%.1f%%)\n",
      n, fonts ? "FreeType" : "Hershey", ok_found, 100.0 * ok_found / n, ok_type, 100.0 * ok_type / n);
  for (const auto& [id, v] : found)
    std::printf("  %-26s found %3d/%3d  typed %3d\n", id.c_str(), v.first, v.second, typed[id].first);
  std::printf("  detection failures:");
  for (const auto& [why, c] : misses) std::printf("  %s %d;", why.c_str(), c);
  std::printf("\n  confusion among cards found (true -> said):\n");
  for (const auto& [id, row] : confusion) {
    std::printf("    %-26s", id.c_str());
    for (const auto& [said, c] : row)
      if (said != id) std::printf(" %s %d;", said.c_str(), c);
    std::printf("\n");
  }
  // 98% exactly: n * 98 / 100 rounded down let 493 of 504 (97.8%) pass.
  EXPECT_GE(ok_type * 100, n * 98) << ok_type << " of " << n << " found and typed";
}

// The MRZ read from photographed cards (the specimen and Utopia tests read scans): every layout
// with an MRZ, printed in OCR-B (Debian fonts-ocr-b, as tools/cardgen prints it), every
// degradation. Reports how many read exactly and how many the checks call valid; asserts that no
// reading the checks call valid has a wrong document number, birth or expiry date -- the fields
// the check digits cover, where a wrong value would pass on as verified. (Names carry no check
// digit: ICAO 9303 cannot catch a misread name.)
TEST(DocumentEval, MrzOnGeneratedCaptures) {
  SKIP_UNLESS_SLOW_WITH(LfwDir() + "labels.csv", "LFW");
  if (!InstallFreeTypeText(kNanumFont, kOcrbFont)) GTEST_SKIP() << "no OpenCV FreeType or no OCR-B / Nanum font";
  const RestoreDefaultText restore;
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  const auto labels = ReadCsvFile(LfwDir() + "labels.csv");
  const int per_layout = EnvInt("IDMATCH_DOC_MRZ_CARDS", 20);
  int n = 0, found = 0, exact = 0, valid = 0, valid_wrong = 0, ambiguous = 0, typed = 0;
  std::map<std::string, std::array<int, 4>> by;  // layout -> n, exact, valid, typed right
  for (const auto& l : layouts) {
    if (l.mrz_format == MrzFormat::kUnknown) continue;
    for (int k = 0; k < per_layout; ++k, ++n) {
      const cv::Mat face = LoadImageFile(LfwDir() + labels[static_cast<size_t>(n * 11) % labels.size()].at("file"));
      const int shift = EnvInt("IDMATCH_DOC_MRZ_SEED", 0);
      const GeneratedCard card = RenderCard(l, face, 3000 + shift + n);
      const CapturedCard cap = SimulateCapture(card.rgb, 4000 + shift + n);
      const DocumentReport r = AnalyzeDocument(cap.rgb, layouts, nullptr, DocumentOptions{});
      const bool read = r.mrz.has_value() && r.mrz->mrz.format != MrzFormat::kUnknown;
      const bool same = read && r.mrz->mrz.lines == card.mrz_lines;
      const bool ok = read && r.mrz->mrz.valid;
      const MrzFields truth = ParseMrz(card.mrz_lines).fields;
      const bool checked_fields_right = read && r.mrz->mrz.fields.document_number == truth.document_number &&
                                        r.mrz->mrz.fields.birth_date == truth.birth_date &&
                                        r.mrz->mrz.fields.expiry_date == truth.expiry_date;
      bool doubt = false;
      for (const auto& c : read ? r.mrz->mrz.checks : std::vector<MrzCheck>{})
        doubt |= c.state == CheckState::kAmbiguous;
      found += read;
      exact += same;
      valid += ok;
      ambiguous += doubt;
      valid_wrong += ok && !checked_fields_right;
      // Typed with the MRZ read, as the server reads it (the generated-card eval reads none).
      typed += r.classification.type == l.id;
      auto& v = by[l.id];
      ++v[0];
      v[1] += same;
      v[2] += ok;
      v[3] += r.classification.type == l.id;
      if (std::getenv("IDMATCH_DOC_DEBUG") != nullptr && !same) {
        std::string applied;
        for (const auto& a : cap.applied) applied += a + " ";
        std::printf("  #%d %-14s %s, %d repairs, typed %s [%s]\n", n, l.id.c_str(),
                    read ? (ok      ? "valid, differs"
                            : doubt ? "ambiguous"
                                    : "read, checks fail")
                         : "not read",
                    read ? r.mrz->mrz.repairs : 0, r.classification.type.c_str(), applied.c_str());
        for (size_t i = 0; read && i < card.mrz_lines.size() && i < r.mrz->mrz.lines.size(); ++i)
          std::printf("      want %s\n      got  %s\n", card.mrz_lines[i].c_str(), r.mrz->mrz.lines[i].c_str());
      }
    }
  }
  std::printf(
      "[mrz on captures] %d generated captures (every degradation): MRZ read %d, exact %d (%.1f%%), valid %d, "
      "valid with a wrong number or date %d; held back as ambiguous %d; typed right %d\n",
      n, found, exact, 100.0 * exact / std::max(1, n), valid, valid_wrong, ambiguous, typed);
  for (const auto& [id, v] : by)
    std::printf("  %-14s %2d: exact %2d, valid %2d, typed right %2d\n", id.c_str(), v[0], v[1], v[2], v[3]);
  ASSERT_GT(n, 0);
  EXPECT_EQ(valid_wrong, 0);
  // The 98% for the type, here with the MRZ read (52 of 60 before a garbled reading's
  // format stopped counting as evidence, 2026-11-28; 60 since).
  EXPECT_GE(100 * typed, 98 * n) << "typed right " << typed << " of " << n;
}

// LFW genuine pairs for the card-vs-selfie evals: the first pair of each identity in pairs.csv
// (so every cross combination is an impostor pair), both photos embedded with LFW's protocol.
// `tried` numbers the identities tried, failures included (it seeds the cards, as before).
struct LfwPair {
  std::string identity;
  cv::Mat a;  // the photo the card is printed from
  face::Embedding ea, eb;
  int tried = 0;
};
std::vector<LfwPair> GenuinePairsOnePerIdentity(const face::FaceAnalyzer& photo, int limit, int* photo_fail) {
  std::vector<LfwPair> pairs;
  std::map<std::string, int> seen;
  int tried = 0;
  for (const auto& row : ReadCsvFile(LfwDir() + "pairs.csv")) {
    if (row.at("same_identity") != "1") continue;
    if (static_cast<int>(pairs.size()) >= limit) break;
    const std::string id = row.at("file_a").substr(7, row.at("file_a").rfind('/') - 7);
    if (seen[id]++) continue;
    LfwPair p;
    p.identity = id;
    p.tried = ++tried;
    p.a = LoadImageFile(LfwDir() + row.at("file_a"));
    try {
      p.ea = photo.Analyze(p.a).embedding;
      p.eb = photo.Analyze(LoadImageFile(LfwDir() + row.at("file_b"))).embedding;
    } catch (const Error&) {
      ++*photo_fail;
      continue;
    }
    pairs.push_back(std::move(p));
  }
  return pairs;
}

// The embedder of both sides of the card evals: the shipped default unless
// IDMATCH_DOC_EMBEDDER names another (e.g. resnet128-lm68), to compare embedders on the same cards.
face::AnalyzerOptions EvalAnalyzerOptions() {
  face::AnalyzerOptions o;
  if (const char* e = std::getenv("IDMATCH_DOC_EMBEDDER")) o.embedder = e;
  return o;
}

face::FaceAnalyzer LfwPhotoAnalyzer() {
  face::AnalyzerOptions o = EvalAnalyzerOptions();
  o.pick = face::FacePick::kCentral;  // LFW's protocol: the face the image is centred on
  return face::FaceAnalyzer(o);
}

// The portrait target on the specimen scans, through the whole document path (what
// `idmatch document` and `verify --document` run), each found box checked against where the scan
// prints its portrait (tests/specimen_portraits.h). The path never takes the largest face
// anywhere on a photo taken whole (it could be the applicant's beside the document). Measured
// 2026-11-28: 33 of 34, another face on none (29 before visas scanned whole were searched within
// the document around their MRZ, 31 before Peru's MRZ read and Malta's orientation were fixed:
// DocumentPortrait.ScansOnceGivingAnotherFaceGiveTheirPrintedFace); missed: Sweden (front not
// tied to its MRZ). The German visa, which has no portrait, still gives its emblem.
TEST(DocumentEval, PortraitOnSpecimenScansThroughTheDocumentPath) {
  const std::string dir = test::SharedDir() + "/data/documents/specimens/";
  SKIP_UNLESS_SLOW_WITH(dir + "labels.csv", "shared documents");
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  const face::FaceAnalyzer analyzer;
  int with_portrait = 0, right = 0, wrong = 0;
  for (const auto& row : ReadCsvFile(dir + "labels.csv")) {
    const auto* truth = test::FindSpecimenPortrait(row.at("file"));
    ASSERT_NE(truth, nullptr) << row.at("file");
    const cv::Mat img = LoadImageFile(dir + row.at("file"));
    const DocumentReport r = AnalyzeDocument(img, layouts, &analyzer);
    const char* verdict = "no portrait";
    if (truth->fx < 0) {
      verdict = r.portrait_box_in_photo ? "a face on a document without a portrait" : "none, rightly";
    } else {
      ++with_portrait;
      if (r.portrait_box_in_photo) {
        const bool is = test::IsThePortrait(*truth, *r.portrait_box_in_photo, img.size());
        right += is;
        wrong += !is;
        verdict = is ? "the portrait" : "another face";
      }
    }
    std::printf("  %-40s %s\n", row.at("file").c_str(), verdict);
  }
  std::printf("[portrait, document path] the printed face on %d of %d specimens with one, another face on %d\n", right,
              with_portrait, wrong);
  EXPECT_GE(10 * right, 9 * with_portrait);  // the 90%
  EXPECT_EQ(wrong, 0);
}

// The same scans laid on a white page (margins of 0.3 and 0.6, the scan on the page's left and
// right: 136 pages), as a flatbed scan or a loose crop gives them. Not a target of the issue: a
// measure of how far the document path carries beyond scans cropped to the document. Today's
// capability is asserted, so that a change that loses pages is seen.
TEST(DocumentEval, PortraitOnSpecimenScansLaidOnAWhitePage) {
  const std::string dir = test::SharedDir() + "/data/documents/specimens/";
  SKIP_UNLESS_SLOW_WITH(dir + "labels.csv", "shared documents");
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  const face::FaceAnalyzer analyzer;
  int pages = 0, right = 0, wrong = 0;
  for (const auto& s : test::kSpecimenPortraits) {
    if (s.fx < 0) continue;
    const cv::Mat scan = LoadImageFile(dir + s.file);
    for (const double margin : {0.3, 0.6})
      for (const bool on_right : {false, true}) {
        cv::Rect at;
        const DocumentReport r = AnalyzeDocument(test::OnWhitePage(scan, margin, on_right, at), layouts, &analyzer);
        ++pages;
        const char* verdict = "no portrait";
        if (r.portrait_box_in_photo) {
          const bool is = test::IsThePortrait(s, *r.portrait_box_in_photo - at.tl(), scan.size());
          verdict = is ? "the portrait" : "ANOTHER FACE";
          (is ? right : wrong)++;
        }
        std::printf("  %-40s margin %.1f %-5s %-26s %.2f %s\n", s.file, margin, on_right ? "right" : "left",
                    r.classification.type.c_str(), r.classification.confidence, verdict);
      }
  }
  std::printf("[portrait, scans on a white page] the printed face on %d of %d, another face on %d\n", right, pages,
              wrong);
  EXPECT_GE(right, 118);  // 2026-11-28 (110 before the page's document and the card-wide face search)
  EXPECT_LE(wrong, 12);
}

TEST(DocumentEval, CardToSelfieOnLfwPairs) {
  SKIP_UNLESS_SLOW_WITH(LfwDir() + "pairs.csv", "LFW");
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  const face::FaceAnalyzer photo = LfwPhotoAnalyzer();
  struct Pair {
    std::string identity;
    face::Embedding a, b, card, card_first;  // card: the last capture taken; card_first: the first
    bool card_ok = false, card_first_ok = false;
    int takes = 0;
    std::string layout;
    std::vector<std::string> applied;  // the capture's degradations
  };
  constexpr int kMaxCaptures = 3;  // the first photo and up to two retakes
  const int shift = EnvInt("IDMATCH_DOC_CARD_SEED", 0);  // other cards and captures, same pairs
  int card_fail = 0, photo_fail = 0;
  std::map<std::string, int> retake_for;
  std::mutex mu;
  // 900 pairs (809,100 impostors): on 300 the TAR at FAR = 1e-3 moved by 3-4 points from one
  // draw of the cards to the next, the size of the target itself.
  const std::vector<LfwPair> lfw = GenuinePairsOnePerIdentity(photo, EnvInt("IDMATCH_DOC_PAIRS", 900), &photo_fail);
  std::vector<Pair> pairs(lfw.size());
  // Two cores: one card pipeline (own analyser) each. A capture depends only on its seed, so the
  // split does not change the result.
  auto work = [&](size_t worker, size_t workers) {
    const face::FaceAnalyzer portrait{EvalAnalyzerOptions()};
    for (size_t i = worker; i < lfw.size(); i += workers) {
      Pair& p = pairs[i];
      p.identity = lfw[i].identity;
      p.a = lfw[i].ea;
      p.b = lfw[i].eb;
      const auto& l = layouts[i % layouts.size()];
      const GeneratedCard card = RenderCard(l, lfw[i].a, 7000 + shift + lfw[i].tried);
      p.layout = l.id;
      // The capture page's flow (web/app.js): a card photo with a capture problem is taken again
      // (every problem code is in its RETAKE set). The first capture is scored as well, as if the
      // applicant had ignored the advice. Each capture draws every degradation afresh.
      for (int take = 0; take < kMaxCaptures; ++take) {
        const CapturedCard cap = SimulateCapture(card.rgb, 9000 + shift + lfw[i].tried + 100000 * take);
        DocumentOptions opt;
        opt.read_mrz = false;
        const DocumentReport r = AnalyzeDocument(cap.rgb, layouts, &portrait, opt);
        face::Embedding e;
        bool ok = false;
        if (!r.portrait.empty()) {
          try {
            e = AnalyzePortrait(portrait, r.portrait).embedding;
            ok = true;
          } catch (const Error&) {
          }
        }
        if (take == 0) {
          p.card_first = e;
          p.card_first_ok = ok;
        }
        p.card = e;
        p.card_ok = ok;
        p.takes = take + 1;
        if (r.problems.empty() || take + 1 == kMaxCaptures) {
          // A misplaced corner skews the rectified portrait.
          const double corner_err = CornerError(r, cap);
          p.applied = cap.applied;
          p.applied.push_back(corner_err < 25 ? "card found (corners < 25 px)" : "card misplaced or not found");
          for (const auto& q : r.problems) p.applied.push_back("problem left " + q);
          break;
        }
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& q : r.problems) ++retake_for[q];
      }
    }
  };
  {
    std::thread second(work, 1, 2);
    work(0, 2);
    second.join();
  }
  for (const auto& p : pairs) card_fail += !p.card_ok;
  const size_t n = pairs.size();
  ASSERT_GE(n, 50u);
  std::vector<double> s_photo, s_card, s_first;
  std::vector<bool> g;
  int retaken = 0, first_fail = 0;
  for (const auto& p : pairs) {
    retaken += p.takes > 1;
    first_fail += !p.card_first_ok;
  }
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      g.push_back(i == j);
      s_photo.push_back(face::CosineSimilarity(pairs[i].a, pairs[j].b));
      // A card whose portrait could not be read is a rejection: the lowest possible score.
      s_card.push_back(pairs[i].card_ok ? face::CosineSimilarity(pairs[i].card, pairs[j].b) : -1.0);
      s_first.push_back(pairs[i].card_first_ok ? face::CosineSimilarity(pairs[i].card_first, pairs[j].b) : -1.0);
    }
  const auto roc_p = eval::ComputeRoc(s_photo, g), roc_c = eval::ComputeRoc(s_card, g),
             roc_f = eval::ComputeRoc(s_first, g);
  const auto op_p = eval::TarAtFar(roc_p, 1e-3), op_c = eval::TarAtFar(roc_c, 1e-3), op_f = eval::TarAtFar(roc_f, 1e-3);
  const auto op_p2 = eval::TarAtFar(roc_p, 1e-2), op_c2 = eval::TarAtFar(roc_c, 1e-2),
             op_f2 = eval::TarAtFar(roc_f, 1e-2);
  std::printf(
      "[card-vs-selfie] %zu LFW genuine pairs (one per identity, first in pairs.csv), %zu impostor combinations; "
      "card seed shift %d\n",
      n, n * (n - 1), shift);
  std::printf("  photo failures skipped %d, card portrait not read %d (first capture %d; scored as rejections)\n",
              photo_fail, card_fail, first_fail);
  std::printf("  cards photographed again on a reported capture problem: %d of %zu (at most %d photos);", retaken, n,
              kMaxCaptures);
  for (const auto& [q, c] : retake_for) std::printf(" %s %d;", q.c_str(), c);
  std::printf("\n");
  std::printf("  photo-vs-photo               : TAR %.4f at FAR %.5f (thr %.4f); TAR %.4f at FAR<=1e-2; AUC %.4f\n",
              op_p.tar, op_p.far, op_p.threshold, op_p2.tar, eval::RocAuc(roc_p));
  std::printf("  card-vs-selfie, first capture: TAR %.4f at FAR %.5f (thr %.4f); TAR %.4f at FAR<=1e-2; AUC %.4f\n",
              op_f.tar, op_f.far, op_f.threshold, op_f2.tar, eval::RocAuc(roc_f));
  std::printf("  card-vs-selfie, with retakes : TAR %.4f at FAR %.5f (thr %.4f); TAR %.4f at FAR<=1e-2; AUC %.4f\n",
              op_c.tar, op_c.far, op_c.threshold, op_c2.tar, eval::RocAuc(roc_c));
  // At the threshold that ships (fitted on LFW photo-vs-photo impostors): what each comparison's
  // TAR and FAR are there (the card comparison's impostors are not the photos').
  const double shipped =
      verify::LoadCalibration(verify::DefaultCalibrationPath(), EvalAnalyzerOptions().embedder).threshold;
  auto at_shipped = [&](const std::vector<double>& s) {
    int tp = 0, fp = 0;
    for (size_t k = 0; k < s.size(); ++k) (g[k] ? tp : fp) += s[k] >= shipped;
    std::printf("TAR %.4f at FAR %.5f", tp / static_cast<double>(n), fp / static_cast<double>(n * (n - 1)));
  };
  std::printf("  at the shipped threshold %.4f: photo-vs-photo ", shipped);
  at_shipped(s_photo);
  std::printf("; card-vs-selfie with retakes ");
  at_shipped(s_card);
  std::printf("\n");
  // Where the genuine pairs are lost: per layout and per degradation, how many card-vs-selfie
  // genuine scores reach the card operating point (and photo-vs-photo ones reach theirs).
  std::map<std::string, std::array<int, 4>> by;  // key -> n, card not read, card accepted, photo accepted
  for (const auto& p : pairs) {
    const bool card_acc = p.card_ok && face::CosineSimilarity(p.card, p.b) >= op_c.threshold;
    const bool photo_acc = face::CosineSimilarity(p.a, p.b) >= op_p.threshold;
    std::vector<std::string> keys = {"layout " + p.layout};
    for (const auto& d : p.applied) keys.push_back("with " + d);
    for (const auto& k : keys) {
      auto& v = by[k];
      ++v[0];
      v[1] += !p.card_ok;
      v[2] += card_acc;
      v[3] += photo_acc;
    }
  }
  std::printf("  genuine pairs accepted at the FAR=1e-3 operating points (n, card portrait not read, card, photo):\n");
  for (const auto& [k, v] : by) std::printf("    %-34s %3d  %2d  %3d  %3d\n", k.c_str(), v[0], v[1], v[2], v[3]);
  EXPECT_GE(op_c.tar, op_p.tar - 0.03) << "card-vs-selfie TAR more than 3 points under photo-vs-photo";
}

// Where the card path loses, one degradation at a time: the card is rectified with its true
// corners (detection taken out), the portrait found and embedded, and compared with the photo it
// was printed from (how much of the face survives) and with the other photo of the pair (accepted
// at the photo-vs-photo FAR = 1e-3 threshold of the same pairs). No assertion: it explains the
// card-vs-selfie gap (docs/documents.md).
TEST(DocumentEval, CardPortraitLossPerDegradation) {
  SKIP_UNLESS_SLOW_WITH(LfwDir() + "pairs.csv", "LFW");
  const auto layouts = LoadLayouts(std::string(IDMATCH_SOURCE_DIR) + "/layouts");
  const face::FaceAnalyzer photo = LfwPhotoAnalyzer(), portrait{EvalAnalyzerOptions()};
  int photo_fail = 0;
  const std::vector<LfwPair> pairs = GenuinePairsOnePerIdentity(photo, EnvInt("IDMATCH_DOC_PAIRS", 150), &photo_fail);
  ASSERT_GE(pairs.size(), 50u);
  std::vector<double> s_photo;
  std::vector<bool> g;
  for (size_t i = 0; i < pairs.size(); ++i)
    for (size_t j = 0; j < pairs.size(); ++j) {
      g.push_back(i == j);
      s_photo.push_back(face::CosineSimilarity(pairs[i].ea, pairs[j].eb));
    }
  const double thr = eval::TarAtFar(eval::ComputeRoc(s_photo, g), 1e-3).threshold;
  int photo_acc = 0;
  for (const auto& p : pairs) photo_acc += face::CosineSimilarity(p.ea, p.eb) >= thr;
  std::printf("[card portrait loss] %zu LFW pairs; photo-vs-photo accepts %d at its FAR=1e-3 threshold %.4f\n",
              pairs.size(), photo_acc, thr);
  std::printf("  %-26s %8s %8s %8s\n", "capture", "printed", "selfie", "accepted");
  auto only = [](const char* what) {
    CaptureOptions o;
    o.halftone = o.glare = o.perspective = o.shadow = o.blur = o.noise = o.jpeg = o.clutter = false;
    const std::string w = what;
    o.halftone = w == "halftone";
    o.glare = w == "glare";
    o.perspective = w == "perspective";
    o.shadow = w == "shadow";
    o.blur = w == "blur";
    o.noise = w == "noise";
    o.jpeg = w == "jpeg";
    return o;
  };
  std::vector<std::pair<std::string, std::optional<CaptureOptions>>> configs = {{"card as printed", std::nullopt},
                                                                                {"capture, no degradation", only("")}};
  for (const char* d : {"halftone", "glare", "perspective", "shadow", "blur", "noise", "jpeg"})
    configs.emplace_back(std::string("only ") + d, only(d));
  configs.emplace_back("all", CaptureOptions{});
  CaptureOptions no_glare, no_blur, neither;
  no_glare.glare = neither.glare = false;
  no_blur.blur = neither.blur = false;
  configs.emplace_back("all but glare", no_glare);
  configs.emplace_back("all but blur", no_blur);
  configs.emplace_back("all but glare and blur", neither);
  for (const auto& [name, capture] : configs) {
    double printed = 0, selfie = 0;
    int accepted = 0, read = 0;
    for (size_t i = 0; i < pairs.size(); ++i) {
      const auto& l = layouts[i % layouts.size()];
      const GeneratedCard card = RenderCard(l, pairs[i].a, 7000 + i);
      cv::Mat rectified = card.rgb;
      if (capture) {
        const CapturedCard cap = SimulateCapture(card.rgb, 9000 + i, *capture);
        rectified = Rectify(cap.rgb, cap.corners, l.CanonicalSize());
      }
      const auto box = FindPortrait(rectified, &l, portrait);
      if (!box) continue;
      const cv::Rect crop = PortraitCrop(*box, rectified.size());
      try {
        const face::Embedding e = AnalyzePortrait(portrait, rectified(crop).clone()).embedding;
        const double s = face::CosineSimilarity(e, pairs[i].eb);
        printed += face::CosineSimilarity(e, pairs[i].ea);
        selfie += s;
        accepted += s >= thr;
        ++read;
      } catch (const Error&) {
      }
    }
    std::printf("  %-26s %8.4f %8.4f %5d/%zu%s\n", name.c_str(), read ? printed / read : 0.0,
                read ? selfie / read : 0.0, accepted, pairs.size(),
                read < static_cast<int>(pairs.size()) ? " (portraits not read counted as rejected)" : "");
    std::fflush(stdout);
  }
}

}  // namespace
}  // namespace idm::document
