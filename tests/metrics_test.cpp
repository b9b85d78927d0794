// Evaluation maths (src/eval): pair/label CSV parsing and the verification metrics, checked
// against small hand-computed cases, plus the real LFW View 2 pairs.csv when it is available.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "eval/metrics.h"
#include "eval/pairs.h"

namespace {

using idm::Error;
using idm::ErrorCode;
namespace ev = idm::eval;

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string LfwDir() { return std::string(IDMATCH_SHARED_DIR) + "/data/faces/lfw_view2"; }

std::vector<ev::Pair> ParsePairs(const std::string& text) {
  std::istringstream in(text);
  return ev::ParsePairsCsv(in, "pairs.csv");
}

std::vector<ev::LabeledImage> ParseLabels(const std::string& text) {
  std::istringstream in(text);
  return ev::ParseLabelsCsv(in, "labels.csv");
}

// Runs `fn`, expecting an idm::Error with `code` whose message contains `needle`.
template <typename Fn>
void ExpectError(Fn&& fn, ErrorCode code, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected idm::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message '" << e.what() << "' lacks '" << needle << "'";
  }
}

// Builds parallel score/label vectors from genuine and impostor score lists.
struct Scored {
  std::vector<double> scores;
  std::vector<bool> genuine;
};
Scored Make(const std::vector<double>& gen, const std::vector<double>& imp) {
  Scored s;
  for (double g : gen) s.scores.push_back(g), s.genuine.push_back(true);
  for (double i : imp) s.scores.push_back(i), s.genuine.push_back(false);
  return s;
}

// ------------------------------------------------------------------------------------------
// pairs.csv / labels.csv

TEST(PairsCsv, ParsesRowsWithCrlfBomBlankLinesAndBothBooleanSpellings) {
  const auto pairs = ParsePairs(
      "\xEF\xBB\xBF"
      "fold,file_a,file_b,same_identity\r\n"
      "1,images/A/A_0001.jpg,images/A/A_0002.jpg,1\r\n"
      "\r\n"
      "2, images/B/B_0001.jpg ,images/C/C_0001.jpg,0\r\n"
      "10,x.jpg,y.jpg,TRUE\n"
      "3,x.jpg,z.jpg,false");  // no final newline
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[0].fold, 1);
  EXPECT_EQ(pairs[0].a, "images/A/A_0001.jpg");
  EXPECT_EQ(pairs[0].b, "images/A/A_0002.jpg");
  EXPECT_TRUE(pairs[0].same);
  EXPECT_EQ(pairs[1].fold, 2);
  EXPECT_EQ(pairs[1].a, "images/B/B_0001.jpg");  // trimmed
  EXPECT_FALSE(pairs[1].same);
  EXPECT_EQ(pairs[2].fold, 10);
  EXPECT_TRUE(pairs[2].same);
  EXPECT_FALSE(pairs[3].same);
}

TEST(PairsCsv, FindsColumnsByNameAndAcceptsQuotedFields) {
  const auto pairs = ParsePairs(
      "Same_Identity,File_B,note,FOLD,file_a\n"
      "0,\"b, with comma.jpg\",\"say \"\"hi\"\"\",7,a.jpg\n");
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].fold, 7);
  EXPECT_EQ(pairs[0].a, "a.jpg");
  EXPECT_EQ(pairs[0].b, "b, with comma.jpg");
  EXPECT_FALSE(pairs[0].same);
}

TEST(PairsCsv, HeaderOnlyGivesNoPairs) {
  EXPECT_TRUE(ParsePairs("fold,file_a,file_b,same_identity\n").empty());
}

TEST(PairsCsv, MalformedRowsNameTheLine) {
  const std::string h = "fold,file_a,file_b,same_identity\n";
  const std::string ok = "1,a.jpg,b.jpg,1\n";
  const auto K = ErrorCode::kInvalidArgument;
  ExpectError([&] { ParsePairs(h + ok + "x,a.jpg,b.jpg,1\n"); }, K, "pairs.csv:3: fold");
  ExpectError([&] { ParsePairs(h + ok + "1.5,a.jpg,b.jpg,1\n"); }, K, "pairs.csv:3: fold");
  ExpectError([&] { ParsePairs(h + ok + ok + "1,a.jpg,b.jpg,maybe\n"); }, K,
              "pairs.csv:4: same_identity must be 1/0/true/false, got 'maybe'");
  ExpectError([&] { ParsePairs(h + "1,a.jpg,1\n"); }, K, "pairs.csv:2: expected 4 fields, got 3");
  ExpectError([&] { ParsePairs(h + "1,a.jpg,b.jpg,1,\n"); }, K, "pairs.csv:2: expected 4 fields");
  ExpectError([&] { ParsePairs(h + "\n\n1,,b.jpg,1\n"); }, K, "pairs.csv:4: file_a is empty");
  ExpectError([&] { ParsePairs(h + "1,a.jpg, ,0\n"); }, K, "pairs.csv:2: file_b is empty");
  ExpectError([&] { ParsePairs(h + "1,\"a.jpg,b.jpg,0\n"); }, K, "pairs.csv:2: unterminated");
  ExpectError([&] { ParsePairs(h + "1,a\"x.jpg,b.jpg,0\n"); }, K, "pairs.csv:2: stray quote");
  ExpectError([&] { ParsePairs("fold,file_a,file_b\n1,a,b\n"); }, K,
              "pairs.csv:1: header lacks column 'same_identity'");
  ExpectError([&] { ParsePairs("fold,file_a,file_b,same_identity,fold\n"); }, K,
              "pairs.csv:1: duplicate column 'fold'");
  ExpectError([&] { ParsePairs(""); }, K, "pairs.csv:1: empty file");
}

TEST(PairsCsv, ReadsFilesAndReportsMissingOnes) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/idmatch_metrics_test_pairs.csv";
  {
    std::ofstream out(path, std::ios::binary);
    out << "fold,file_a,file_b,same_identity\n4,a.jpg,b.jpg,0\n4,a.jpg,c.jpg,oops\n";
  }
  ExpectError([&] { ev::ReadPairsCsv(path); }, ErrorCode::kInvalidArgument, path + ":3:");
  {
    std::ofstream out(path, std::ios::binary);
    out << "fold,file_a,file_b,same_identity\n4,a.jpg,b.jpg,0\n";
  }
  const auto pairs = ev::ReadPairsCsv(path);
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].fold, 4);
  std::filesystem::remove(path);
  ExpectError([&] { ev::ReadPairsCsv(path); }, ErrorCode::kNotFound, path);
  ExpectError([&] { ev::ReadLabelsCsv(dir + "/idmatch_no_such_labels.csv"); },
              ErrorCode::kNotFound, "idmatch_no_such_labels.csv");
}

TEST(PairsLabels, ParsesAndRejectsMalformedRows) {
  const auto labels = ParseLabels("file,identity\r\na.jpg,alice\r\nb.jpg,bob\r\n");
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0].file, "a.jpg");
  EXPECT_EQ(labels[0].identity, "alice");
  EXPECT_EQ(labels[1].identity, "bob");

  const auto K = ErrorCode::kInvalidArgument;
  ExpectError([] { ParseLabels("file,identity\na.jpg,alice\nb.jpg,bob\na.jpg,carol\n"); }, K,
              "labels.csv:4: file 'a.jpg' already listed on line 2");
  ExpectError([] { ParseLabels("file,identity\na.jpg,\n"); }, K, "labels.csv:2: identity is empty");
  ExpectError([] { ParseLabels("file,identity\na.jpg\n"); }, K, "labels.csv:2: expected 2 fields");
  ExpectError([] { ParseLabels("path,identity\n"); }, K, "labels.csv:1: header lacks column 'file'");
}

TEST(PairsLabels, ImpliesEveryGenuineAndImpostorPair) {
  // alice x3, bob x1: genuine = C(3,2) = 3, impostor = C(4,2) - 3 = 3.
  const auto labels = ParseLabels("file,identity\na1,alice\na2,alice\nb1,bob\na3,alice\n");
  const ev::PairCounts counts = ev::CountImpliedPairs(labels);
  EXPECT_EQ(counts.genuine, 3u);
  EXPECT_EQ(counts.impostor, 3u);

  const auto pairs = ev::ImpliedPairs(labels);
  ASSERT_EQ(pairs.size(), 6u);
  const std::vector<std::tuple<std::string, std::string, bool>> expected = {
      {"a1", "a2", true}, {"a1", "b1", false}, {"a1", "a3", true},
      {"a2", "b1", false}, {"a2", "a3", true}, {"b1", "a3", false}};
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_EQ(pairs[i].fold, -1);
    EXPECT_EQ(pairs[i].a, std::get<0>(expected[i])) << i;
    EXPECT_EQ(pairs[i].b, std::get<1>(expected[i])) << i;
    EXPECT_EQ(pairs[i].same, std::get<2>(expected[i])) << i;
  }

  std::size_t visited = 0;
  ev::ForEachImpliedPair(labels, [&](std::size_t i, std::size_t j, bool same) {
    EXPECT_LT(i, j);
    EXPECT_EQ(same, labels[i].identity == labels[j].identity);
    ++visited;
  });
  EXPECT_EQ(visited, 6u);

  ExpectError([&] { ev::ImpliedPairs(labels, 5); }, ErrorCode::kInvalidArgument, "ForEachImpliedPair");
  EXPECT_TRUE(ev::ImpliedPairs({}).empty());
  EXPECT_TRUE(ev::ImpliedPairs({{"only.jpg", "x"}}).empty());
}

TEST(PairsLfw, RealView2PairsCsv) {
  const std::string path = LfwDir() + "/pairs.csv";
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << "LFW View 2 pairs not found at " << path
                 << " (set IDMATCH_SHARED_DIR at configure time to the shared data root)";
  }
  const auto pairs = ev::ReadPairsCsv(path);
  ASSERT_EQ(pairs.size(), 6000u);
  std::map<int, int> per_fold, genuine_per_fold;
  int genuine = 0;
  for (const auto& p : pairs) {
    ++per_fold[p.fold];
    if (p.same) ++genuine, ++genuine_per_fold[p.fold];
    EXPECT_FALSE(p.a.empty());
    EXPECT_NE(p.a, p.b);
  }
  EXPECT_EQ(genuine, 3000);
  ASSERT_EQ(per_fold.size(), 10u);
  for (int f = 1; f <= 10; ++f) {
    EXPECT_EQ(per_fold[f], 600) << "fold " << f;
    EXPECT_EQ(genuine_per_fold[f], 300) << "fold " << f;
  }
}

TEST(PairsLfw, RealLabelsAgreeWithPairs) {
  const std::string pairs_path = LfwDir() + "/pairs.csv";
  const std::string labels_path = LfwDir() + "/labels.csv";
  if (!std::filesystem::exists(pairs_path) || !std::filesystem::exists(labels_path)) {
    GTEST_SKIP() << "LFW View 2 pairs.csv/labels.csv not found under " << LfwDir();
  }
  const auto labels = ev::ReadLabelsCsv(labels_path);
  ASSERT_GT(labels.size(), 1000u);
  std::unordered_map<std::string, std::string> identity;
  for (const auto& l : labels) identity[l.file] = l.identity;
  for (const auto& p : ev::ReadPairsCsv(pairs_path)) {
    ASSERT_TRUE(identity.count(p.a)) << p.a;
    ASSERT_TRUE(identity.count(p.b)) << p.b;
    EXPECT_EQ(p.same, identity[p.a] == identity[p.b]) << p.a << " vs " << p.b;
  }
  const ev::PairCounts counts = ev::CountImpliedPairs(labels);
  EXPECT_EQ(counts.genuine + counts.impostor, labels.size() * (labels.size() - 1) / 2);
  EXPECT_GT(counts.genuine, 0u);
}

// ------------------------------------------------------------------------------------------
// ROC, AUC, EER

TEST(MetricsRoc, PerfectSeparation) {
  const Scored s = Make({0.9, 0.8}, {0.2, 0.1});
  const ev::RocCurve roc = ev::ComputeRoc(s.scores, s.genuine);
  EXPECT_EQ(roc.genuine_count, 2u);
  EXPECT_EQ(roc.impostor_count, 2u);
  const std::vector<std::array<double, 3>> expected = {
      {kInf, 0, 0}, {0.9, 0, 0.5}, {0.8, 0, 1}, {0.2, 0.5, 1}, {0.1, 1, 1}};
  ASSERT_EQ(roc.points.size(), expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(roc.points[k].threshold, expected[k][0]) << k;
    EXPECT_EQ(roc.points[k].far, expected[k][1]) << k;
    EXPECT_EQ(roc.points[k].tar, expected[k][2]) << k;
  }
  EXPECT_EQ(ev::RocAuc(roc), 1.0);
  const ev::EerPoint eer = ev::EqualErrorRate(roc);
  EXPECT_EQ(eer.eer, 0.0);
  EXPECT_EQ(eer.threshold, 0.8);
}

TEST(MetricsRoc, ReversedScores) {
  const Scored s = Make({0.1, 0.2}, {0.8, 0.9});
  const ev::RocCurve roc = ev::ComputeRoc(s.scores, s.genuine);
  EXPECT_EQ(ev::RocAuc(roc), 0.0);
  EXPECT_EQ(ev::EqualErrorRate(roc).eer, 1.0);
}

TEST(MetricsRoc, AllTiesGiveHalf) {
  const Scored s = Make({0.5, 0.5, 0.5}, {0.5, 0.5});
  const ev::RocCurve roc = ev::ComputeRoc(s.scores, s.genuine);
  ASSERT_EQ(roc.points.size(), 2u);  // (0,0) at +inf and (1,1) at 0.5: one diagonal segment
  EXPECT_EQ(roc.points[1].far, 1.0);
  EXPECT_EQ(roc.points[1].tar, 1.0);
  EXPECT_EQ(ev::RocAuc(roc), 0.5);
  EXPECT_EQ(ev::EqualErrorRate(roc).eer, 0.5);
  EXPECT_EQ(ev::EqualErrorRate(roc).threshold, 0.5);
}

TEST(MetricsRoc, TiesBetweenClassesCountHalf) {
  // Pairs (g, i): (.5,.5) tie = 1/2, (.5,.3), (.7,.5), (.7,.3) = 1 each -> 3.5 / 4.
  EXPECT_EQ(ev::RocAuc(Make({0.5, 0.7}, {0.5, 0.3}).scores, Make({0.5, 0.7}, {0.5, 0.3}).genuine),
            0.875);
  // EER interpolated on the diagonal tie segment (0,.5)-(.5,1): FAR = FRR = 0.25.
  const Scored s = Make({1.0, 0.5}, {0.5, 0.0});
  const ev::EerPoint eer = ev::EqualErrorRate(ev::ComputeRoc(s.scores, s.genuine));
  EXPECT_DOUBLE_EQ(eer.eer, 0.25);
  EXPECT_EQ(eer.threshold, 0.5);
}

TEST(MetricsRoc, AucEqualsMannWhitneyWithTies) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> level(0, 9);  // coarse scores: many ties
  std::bernoulli_distribution coin(0.4);
  std::vector<double> scores;
  std::vector<bool> genuine;
  for (int i = 0; i < 300; ++i) {
    const bool g = coin(rng);
    scores.push_back(level(rng) / 10.0 + (g ? 0.2 : 0.0));
    genuine.push_back(g);
  }
  double wins = 0;
  double n = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!genuine[i]) continue;
    for (std::size_t j = 0; j < scores.size(); ++j) {
      if (genuine[j]) continue;
      wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
      n += 1;
    }
  }
  const ev::RocCurve roc = ev::ComputeRoc(scores, genuine);
  EXPECT_DOUBLE_EQ(ev::RocAuc(roc), wins / n);
  for (std::size_t k = 1; k < roc.points.size(); ++k) {
    EXPECT_GT(roc.points[k - 1].threshold, roc.points[k].threshold);
    EXPECT_LE(roc.points[k - 1].far, roc.points[k].far);
    EXPECT_LE(roc.points[k - 1].tar, roc.points[k].tar);
  }
  EXPECT_EQ(roc.points.back().far, 1.0);
  EXPECT_EQ(roc.points.back().tar, 1.0);
}

TEST(MetricsRoc, RejectsInvalidInput) {
  const auto K = ErrorCode::kInvalidArgument;
  ExpectError([] { ev::ComputeRoc({0.1, 0.2}, {true}); }, K, "2 scores but 1 genuine");
  ExpectError([] { ev::ComputeRoc({}, {}); }, K, "no scores");
  ExpectError([] { ev::ComputeRoc({0.1, 0.2}, {true, true}); }, K, "no impostor");
  ExpectError([] { ev::ComputeRoc({0.1, 0.2}, {false, false}); }, K, "no genuine");
  ExpectError([] { ev::ComputeRoc({0.1, std::nan("")}, {true, false}); }, K, "not finite");
  ExpectError([] { ev::ComputeRoc({0.1, kInf}, {true, false}); }, K, "not finite");
  ExpectError([] { ev::RocAuc(ev::RocCurve{}); }, K, "empty ROC");
}

// Genuine {.95 .9 .8 .7 .55}, impostor {.85 .6 .5 .45 .4 .35 .3 .2 .1 .05}. The ROC from the top:
// .95 (0,.2)  .9 (0,.4)  .85 (.1,.4)  .8 (.1,.6)  .7 (.1,.8)  .6 (.2,.8)  .55 (.2,1)  .5 (.3,1) ...
Scored HandExample() {
  return Make({0.95, 0.9, 0.8, 0.7, 0.55}, {0.85, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.2, 0.1, 0.05});
}

TEST(MetricsRoc, HandExampleAucAndEer) {
  const Scored s = HandExample();
  const ev::RocCurve roc = ev::ComputeRoc(s.scores, s.genuine);
  EXPECT_EQ(roc.points.size(), 16u);
  // Genuine-over-impostor wins: 10 + 10 + 9 + 9 + 8 = 46 of 50.
  EXPECT_DOUBLE_EQ(ev::RocAuc(roc), 0.92);
  // FAR = FRR = 0.2 exactly at the point for threshold .6.
  const ev::EerPoint eer = ev::EqualErrorRate(roc);
  EXPECT_DOUBLE_EQ(eer.eer, 0.2);
  EXPECT_EQ(eer.threshold, 0.6);
}

TEST(MetricsTarAtFar, HandExample) {
  const Scored s = HandExample();
  const ev::RocCurve roc = ev::ComputeRoc(s.scores, s.genuine);
  struct Case {
    double target, tar, far, threshold;
  };
  const Case cases[] = {
      {0.0, 0.4, 0.0, 0.9},     // best zero-false-accept point
      {0.05, 0.4, 0.0, 0.9},    // target below 1/10 resolution
      {0.1, 0.8, 0.1, 0.7},
      {0.15, 0.8, 0.1, 0.7},    // not interpolated
      {0.2, 1.0, 0.2, 0.55},
      {0.5, 1.0, 0.2, 0.55},    // TAR already 1: keep the smallest FAR / highest threshold
      {1.0, 1.0, 0.2, 0.55},
  };
  for (const Case& c : cases) {
    const ev::OperatingPoint p = ev::TarAtFar(roc, c.target);
    EXPECT_EQ(p.tar, c.tar) << "target " << c.target;
    EXPECT_EQ(p.far, c.far) << "target " << c.target;
    EXPECT_EQ(p.threshold, c.threshold) << "target " << c.target;
  }
  // Genuine all below every impostor: nothing is accepted at FAR 0.
  const Scored r = Make({0.1}, {0.9});
  const ev::OperatingPoint none = ev::TarAtFar(ev::ComputeRoc(r.scores, r.genuine), 0.0);
  EXPECT_EQ(none.tar, 0.0);
  EXPECT_EQ(none.threshold, kInf);
  ExpectError([&] { ev::TarAtFar(roc, 1.5); }, ErrorCode::kInvalidArgument, "[0, 1]");
  ExpectError([&] { ev::TarAtFar(roc, -0.1); }, ErrorCode::kInvalidArgument, "[0, 1]");
}

TEST(MetricsFmrThreshold, HandExampleWithTies) {
  const std::vector<double> imp = {0.5, 0.1, 0.3, 0.9, 0.2, 0.3, 0.4, 0.7, 0.6, 0.8};
  struct Case {
    double target, threshold, fmr;
  };
  const Case cases[] = {
      {1.0, 0.1, 1.0},
      {0.1, 0.9, 0.1},
      {0.25, 0.8, 0.2},
      {0.6, 0.4, 0.6},
      {0.7, 0.4, 0.6},  // the two 0.3s pass together (0.8 > 0.7): the tie group is not split
      {0.8, 0.3, 0.8},
  };
  for (const Case& c : cases) {
    const ev::FmrThreshold t = ev::ThresholdForFmr(imp, c.target);
    EXPECT_EQ(t.threshold, c.threshold) << "target " << c.target;
    EXPECT_EQ(t.fmr, c.fmr) << "target " << c.target;
    EXPECT_EQ(t.impostor_count, 10u);
    EXPECT_EQ(t.false_matches, static_cast<std::size_t>(std::lround(c.fmr * 10)));
    // The achieved pass rate matches a direct count.
    const auto passing = std::count_if(imp.begin(), imp.end(), [&](double v) { return v >= t.threshold; });
    EXPECT_EQ(static_cast<std::size_t>(passing), t.false_matches);
  }
  // Below one impostor in ten: the threshold sits just above the highest impostor score.
  for (double target : {0.0, 0.05}) {
    const ev::FmrThreshold t = ev::ThresholdForFmr(imp, target);
    EXPECT_EQ(t.threshold, std::nextafter(0.9, kInf));
    EXPECT_EQ(t.fmr, 0.0);
    EXPECT_EQ(t.false_matches, 0u);
  }
  ExpectError([&] { ev::ThresholdForFmr({}, 0.1); }, ErrorCode::kInvalidArgument, "no scores");
  ExpectError([&] { ev::ThresholdForFmr(imp, 2.0); }, ErrorCode::kInvalidArgument, "[0, 1]");
}

// ------------------------------------------------------------------------------------------
// 10-fold accuracy

struct Folded {
  std::vector<double> scores;
  std::vector<bool> genuine;
  std::vector<int> folds;
  void Add(int fold, double score, bool g) {
    folds.push_back(fold);
    scores.push_back(score);
    genuine.push_back(g);
  }
};

TEST(MetricsTenFold, OneNoisyFold) {
  // Folds 1..10 each hold genuine {.9, .7} and impostor {.3, .1}, except that fold 4's second
  // genuine scores .2. With fold 4 in training the best cell is still (.3, .7] -> threshold .5
  // (35 of 36 right), so every clean fold scores 4/4; fold 4 itself is tested with the clean
  // threshold .5 and gets 3/4. Mean = (9 + .75) / 10 = .975; deviations .025 (x9) and -.225:
  // sum of squares .05625, sample variance .00625, std .0790569, standard error .025.
  Folded d;
  for (int pass = 0; pass < 2; ++pass) {  // interleave the folds' rows
    for (int f = 10; f >= 1; --f) {
      if (pass == 0) {
        d.Add(f, 0.9, true);
        d.Add(f, 0.3, false);
      } else {
        d.Add(f, f == 4 ? 0.2 : 0.7, true);
        d.Add(f, 0.1, false);
      }
    }
  }
  const ev::FoldAccuracy r = ev::TenFoldAccuracy(d.scores, d.genuine, d.folds);
  ASSERT_EQ(r.fold_ids.size(), 10u);
  for (int f = 1; f <= 10; ++f) {
    EXPECT_EQ(r.fold_ids[f - 1], f);
    EXPECT_DOUBLE_EQ(r.thresholds[f - 1], 0.5) << "fold " << f;
    EXPECT_EQ(r.accuracies[f - 1], f == 4 ? 0.75 : 1.0) << "fold " << f;
  }
  EXPECT_DOUBLE_EQ(r.mean, 0.975);
  EXPECT_NEAR(r.std, std::sqrt(0.00625), 1e-12);
  EXPECT_NEAR(r.std_error, 0.025, 1e-12);
}

TEST(MetricsTenFold, ThresholdDependsOnHeldOutFold) {
  // Folds 0..9: genuine 1.0 and impostor 0.0 each; fold 9 also has impostors .6 x3 and a
  // genuine .6. Training WITH fold 9 (tests 0..8): the cells accept >=1.0 -> 21/22 right,
  // >=.6 -> 19/22, so the threshold is the midpoint of (.6, 1.0] = .8 and clean folds score 1.
  // Training WITHOUT fold 9: the cell (0, 1] -> threshold .5, so on fold 9 the three .6
  // impostors are accepted: 3/6 right. Mean .95, sample std sqrt(.225/9), std error .05.
  Folded d;
  for (int f = 0; f < 10; ++f) {
    d.Add(f, 1.0, true);
    d.Add(f, 0.0, false);
  }
  for (int i = 0; i < 3; ++i) d.Add(9, 0.6, false);
  d.Add(9, 0.6, true);
  const ev::FoldAccuracy r = ev::TenFoldAccuracy(d.scores, d.genuine, d.folds);
  ASSERT_EQ(r.accuracies.size(), 10u);
  for (int f = 0; f < 9; ++f) {
    EXPECT_DOUBLE_EQ(r.thresholds[f], 0.8) << "fold " << f;
    EXPECT_EQ(r.accuracies[f], 1.0) << "fold " << f;
  }
  EXPECT_DOUBLE_EQ(r.thresholds[9], 0.5);
  EXPECT_EQ(r.accuracies[9], 0.5);
  EXPECT_DOUBLE_EQ(r.mean, 0.95);
  EXPECT_NEAR(r.std, std::sqrt(0.025), 1e-12);
  EXPECT_NEAR(r.std_error, 0.05, 1e-12);
}

TEST(MetricsTenFold, EdgeCellsAndValidation) {
  // Two folds of impostors only: rejecting everything is optimal, the threshold sits just
  // above the training maximum.
  const ev::FoldAccuracy r = ev::TenFoldAccuracy({0.2, 0.4}, {false, false}, {1, 2});
  EXPECT_EQ(r.thresholds[0], std::nextafter(0.4, kInf));  // trained on fold 2
  EXPECT_EQ(r.thresholds[1], std::nextafter(0.2, kInf));  // trained on fold 1
  EXPECT_EQ(r.accuracies[0], 1.0);
  EXPECT_EQ(r.accuracies[1], 0.0);  // .4 >= nextafter(.2): accepted, wrongly
  EXPECT_EQ(r.mean, 0.5);
  // Genuine only: accept everything, threshold = the training minimum.
  const ev::FoldAccuracy g = ev::TenFoldAccuracy({0.2, 0.4}, {true, true}, {1, 2});
  EXPECT_EQ(g.thresholds[0], 0.4);
  EXPECT_EQ(g.thresholds[1], 0.2);
  EXPECT_EQ(g.accuracies[0], 0.0);
  EXPECT_EQ(g.accuracies[1], 1.0);

  const auto K = ErrorCode::kInvalidArgument;
  ExpectError([] { ev::TenFoldAccuracy({0.1, 0.2}, {true, false}, {1, 1}); }, K, "2 distinct folds");
  ExpectError([] { ev::TenFoldAccuracy({0.1, 0.2}, {true, false}, {1}); }, K, "1 fold ids");
  ExpectError([] { ev::TenFoldAccuracy({0.1}, {true, false}, {1, 2}); }, K, "genuine flags");
}

// ------------------------------------------------------------------------------------------
// SVG

// A small XML well-formedness check: balanced, properly nested tags, quoted attributes, only
// the predefined or numeric entities, and a single root element.
::testing::AssertionResult WellFormedXml(const std::string& s) {
  std::vector<std::string> stack;
  int roots = 0;
  const auto check_text = [](const std::string& text) -> std::string {
    for (std::size_t p = text.find('&'); p != std::string::npos; p = text.find('&', p + 1)) {
      const std::size_t semi = text.find(';', p);
      if (semi == std::string::npos) return "unterminated entity";
      const std::string ent = text.substr(p + 1, semi - p - 1);
      static const std::set<std::string> named = {"amp", "lt", "gt", "quot", "apos"};
      const bool numeric = ent.size() > 1 && ent[0] == '#' &&
                           std::all_of(ent.begin() + 1, ent.end(), ::isdigit);
      if (!named.count(ent) && !numeric) return "bad entity &" + ent + ";";
    }
    return "";
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t lt = s.find('<', i);
    const std::string text = s.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (const std::string err = check_text(text); !err.empty()) {
      return ::testing::AssertionFailure() << err << " in text near offset " << i;
    }
    if (text.find('>') != std::string::npos) {
      return ::testing::AssertionFailure() << "stray '>' near offset " << i;
    }
    if (stack.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos) {
      return ::testing::AssertionFailure() << "text outside the root element";
    }
    if (lt == std::string::npos) break;
    // Scan the tag to its '>', honouring quoted attribute values.
    std::size_t j = lt + 1;
    char quote = 0;
    for (; j < s.size(); ++j) {
      if (quote) {
        if (s[j] == quote) quote = 0;
        else if (s[j] == '<') return ::testing::AssertionFailure() << "'<' in attribute";
      } else if (s[j] == '"' || s[j] == '\'') {
        quote = s[j];
      } else if (s[j] == '>') {
        break;
      }
    }
    if (j >= s.size()) return ::testing::AssertionFailure() << "unterminated tag at " << lt;
    const std::string tag = s.substr(lt + 1, j - lt - 1);
    if (const std::string err = check_text(tag); !err.empty()) {
      return ::testing::AssertionFailure() << err << " in tag <" << tag << ">";
    }
    if (tag.empty()) return ::testing::AssertionFailure() << "empty tag at " << lt;
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) {
        return ::testing::AssertionFailure()
               << "</" << name << "> closes " << (stack.empty() ? "nothing" : stack.back());
      }
      stack.pop_back();
    } else if (tag[0] != '?' && tag[0] != '!') {
      const std::string name = tag.substr(0, tag.find_first_of(" \t\r\n/"));
      if (stack.empty()) ++roots;
      if (tag.back() != '/') stack.push_back(name);
    }
    i = j + 1;
  }
  if (!stack.empty()) return ::testing::AssertionFailure() << "<" << stack.back() << "> not closed";
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  return ::testing::AssertionSuccess();
}

TEST(MetricsSvg, WellFormedWithCurveMarkersAndEscapedTitle) {
  const Scored s = HandExample();
  const std::string svg =
      ev::RocSvg(ev::ComputeRoc(s.scores, s.genuine), "ROC <hand> & \"example\"");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u) << svg.substr(0, 80);
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("ROC &lt;hand&gt; &amp; &quot;example&quot;"), std::string::npos);
  EXPECT_EQ(svg.find("<hand>"), std::string::npos);
  EXPECT_NE(svg.find("<circle"), std::string::npos);          // EER marker
  EXPECT_NE(svg.find("EER 20.00%"), std::string::npos);
  EXPECT_NE(svg.find("TAR@FAR=0.1%: 40.00% (threshold 0.9)"), std::string::npos);       // TAR@1e-3 legend entry
  EXPECT_NE(svg.find("False accept rate"), std::string::npos);
  EXPECT_NE(svg.find("True accept rate"), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_TRUE(WellFormedXml(svg));
  EXPECT_FALSE(WellFormedXml("<svg><g></svg>"));  // the checker itself catches nesting errors
  EXPECT_FALSE(WellFormedXml("<svg>a & b</svg>"));
}

TEST(MetricsSvg, LargeCurveIsThinned) {
  std::mt19937 rng(7);
  std::normal_distribution<double> gen(1.5, 1.0), imp(0.0, 1.0);
  Scored s;
  for (int i = 0; i < 100000; ++i) {
    const bool g = i % 10 == 0;
    s.scores.push_back(g ? gen(rng) : imp(rng));
    s.genuine.push_back(g);
  }
  const ev::RocCurve roc = ev::ComputeRoc(s.scores, s.genuine);
  ASSERT_GT(roc.points.size(), 99000u);
  const std::string svg = ev::RocSvg(roc, "synthetic");
  EXPECT_LT(svg.size(), 200000u);
  EXPECT_TRUE(WellFormedXml(svg));
  // Kept for a human look: open it in a browser.
  std::ofstream(::testing::TempDir() + "/idmatch_metrics_test_roc.svg") << svg;
}

}  // namespace
