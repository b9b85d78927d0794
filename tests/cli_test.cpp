// The idmatch CLI as a subprocess: exit codes (0 match/success, 1 no match, 2 error), the --json
// bodies, error reporting for bad inputs and broken models, and a small LFW regression guard.
//
// Face photos are only ever passed by path (the LFW files in the shared data). The bad inputs
// written to the temp dir are synthetic: a gradient image (no face), a truncated JPEG of that
// gradient, a tiny PNG whose header claims 30000x30000, a text file, and model JSON.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "server_harness.h"
#include "test_util.h"

namespace idm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using CliResult = test::ProcResult;

// build/idmatch with `args`: the child gets this environment minus IDMATCH_* variables, plus `env`.
CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  return test::RunIdmatch(args, env);
}

std::string Lfw(const std::string& rel) { return test::SharedDir() + "/data/faces/lfw_view2/" + rel; }

// Two photos of one person and a pair of two people (the latter from pairs.csv, same_identity 0).
const std::string kSameA = "images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg";
const std::string kSameB = "images/Aaron_Peirsol/Aaron_Peirsol_0003.jpg";
const std::string kOtherA = "images/Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001.jpg";
const std::string kOtherB = "images/Dean_Barker/Dean_Barker_0001.jpg";

#define REQUIRE_LFW(...)                                                                \
  do {                                                                                  \
    for (const std::string& f : {__VA_ARGS__}) {                                        \
      if (!test::Exists(Lfw(f))) GTEST_SKIP() << "LFW image missing: " << Lfw(f);       \
    }                                                                                   \
  } while (0)

json ParseJson(const CliResult& r) {
  try {
    return json::parse(r.out);
  } catch (const json::exception& e) {
    ADD_FAILURE() << "stdout is not JSON (" << e.what() << "):\n" << r.out << "\nstderr:\n" << r.err;
    return json::object();
  }
}

// Exit code 2 and {"error": {"code": <code>, "message": ...}}; returns the message.
std::string ExpectJsonError(const CliResult& r, const std::string& code) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  const json j = ParseJson(r);
  if (!j.contains("error") || !j["error"].is_object()) {
    ADD_FAILURE() << "no error object in: " << r.out;
    return "";
  }
  EXPECT_EQ(j["error"].value("code", ""), code) << r.out;
  const std::string message = j["error"].value("message", "");
  EXPECT_FALSE(message.empty()) << r.out;
  return message;
}

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---- synthetic, non-biometric images --------------------------------------------------------

cv::Mat Gradient(int w, int h) {
  cv::Mat bgr(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(255 * x / w), static_cast<uint8_t>(255 * y / h), 128);
    }
  }
  return bgr;
}

std::string Encode(const std::string& ext, const cv::Mat& bgr) {
  std::vector<uint8_t> buf;
  EXPECT_TRUE(cv::imencode(ext, bgr, buf));
  return std::string(buf.begin(), buf.end());
}

uint32_t Crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void PutBe32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (24 - 8 * i));
}

// A tiny valid PNG whose IHDR (with a correct CRC) claims width x height.
std::string HugePng(uint32_t width, uint32_t height) {
  std::string png = Encode(".png", Gradient(8, 8));
  PutBe32(png, 16, width);
  PutBe32(png, 20, height);
  PutBe32(png, 29, Crc32(reinterpret_cast<const uint8_t*>(png.data()) + 12, 17));  // type + 13 data bytes
  return png;
}

// ---- help and usage -------------------------------------------------------------------------

TEST(Cli, Help) {
  for (const char* flag : {"--help", "-h"}) {
    const CliResult r = RunCli({flag});
    EXPECT_EQ(r.exit_code, 0) << flag;
    EXPECT_TRUE(Contains(r.out, "usage: idmatch")) << r.out;
    EXPECT_TRUE(Contains(r.out, "verify")) << r.out;
    EXPECT_TRUE(Contains(r.out, "eval")) << r.out;
  }
}

TEST(Cli, NoArgumentsIsUsageError) {
  const CliResult r = RunCli({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(Contains(r.err, "usage: idmatch")) << r.err;
}

TEST(Cli, UnknownCommand) {
  const std::string msg = ExpectJsonError(RunCli({"frobnicate", "--json"}), "invalid_argument");
  EXPECT_TRUE(Contains(msg, "frobnicate")) << msg;
  const CliResult plain = RunCli({"frobnicate"});
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_TRUE(Contains(plain.err, "invalid_argument")) << plain.err;
}

// ---- verify ---------------------------------------------------------------------------------

TEST(CliVerify, SamePersonMatches) {
  REQUIRE_LFW(kSameA, kSameB);
  const CliResult r = RunCli({"verify", "--reference", Lfw(kSameA), "--probe", Lfw(kSameB), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const json j = ParseJson(r);
  EXPECT_EQ(j.value("decision", ""), "match") << r.out;
  ASSERT_TRUE(j.contains("score") && j["score"].is_number()) << r.out;
  ASSERT_TRUE(j.contains("threshold") && j["threshold"].is_number()) << r.out;
  ASSERT_TRUE(j.contains("fmr_target") && j["fmr_target"].is_number()) << r.out;
  EXPECT_GE(j["score"].get<double>(), j["threshold"].get<double>());
  EXPECT_LE(j["score"].get<double>(), 1.0 + 1e-6);
  EXPECT_GT(j["fmr_target"].get<double>(), 0.0);
  EXPECT_LT(j["fmr_target"].get<double>(), 1.0);
  EXPECT_EQ(j.value("embedder", ""), "resnet128");
  const std::string sha = j.value("model_sha256", "");
  EXPECT_EQ(sha.size(), 64u) << sha;
  EXPECT_TRUE(std::all_of(sha.begin(), sha.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) << sha;
  EXPECT_EQ(j["reference"].value("faces_found", 0), 1);
  EXPECT_EQ(j["probe"].value("faces_found", 0), 1);

  // Plain output: same exit code, a readable decision line.
  const CliResult plain = RunCli({"verify", "--reference", Lfw(kSameA), "--probe", Lfw(kSameB)});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_TRUE(Contains(plain.out, "decision   match")) << plain.out;
}

TEST(CliVerify, DifferentPeopleDoNotMatch) {
  // With the shipped calibration (models/calibration.json): a false match here at the stated FMR
  // target means the threshold is not a calibrated one.
  REQUIRE_LFW(kOtherA, kOtherB);
  const CliResult r = RunCli({"verify", "--reference", Lfw(kOtherA), "--probe", Lfw(kOtherB), "--json"});
  const json j = ParseJson(r);
  EXPECT_EQ(r.exit_code, 1) << "score " << j.value("score", 0.0) << " threshold " << j.value("threshold", 0.0)
                            << " -- is models/calibration.json still the placeholder? (idmatch eval --calibrate)";
  EXPECT_EQ(j.value("decision", ""), "no_match");
}

// `verify --document`: the card's printed portrait is the reference. The Utopia passport (an
// invented person), scanned, against a photo of the same page: its largest face is the printed
// portrait, which is enough to check the path. It reads the MRZ to type the page (white, like
// the resident registration card, which has no MRZ and its portrait elsewhere).
TEST(CliVerify, DocumentPortraitIsTheReference) {
  const std::string docs = test::SharedDir() + "/data/documents/utopia/";
  if (!test::Exists(docs + "passport-td3.png")) GTEST_SKIP() << "shared documents missing";
  const CliResult r =
      RunCli({"verify", "--document", docs + "passport-td3.png", "--probe", docs + "passport-td3.jpg", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const json j = ParseJson(r);
  EXPECT_EQ(j.value("decision", ""), "match") << r.out;
  EXPECT_EQ(j["document"].value("type", ""), "passport_td3") << r.out;
  EXPECT_EQ(j["reference"].value("faces_found", 0), 1) << r.out;
  EXPECT_EQ(r.out.find("ERIKSSON"), std::string::npos);  // the MRZ's name is never printed
}

TEST(CliVerify, DecisionFollowsCalibrationFile) {
  REQUIRE_LFW(kOtherA, kOtherB);
  test::ScopedTempDir dir;
  const std::string cal = dir.Write(
      "calibration.json", R"({"embedders": {"resnet128": {"fmr_target": 0.001, "threshold": 0.9, "source": "test"}}})");
  const CliResult r = RunCli({"verify", "--reference", Lfw(kOtherA), "--probe", Lfw(kOtherB), "--json", "--calibration", cal});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const json j = ParseJson(r);
  EXPECT_EQ(j.value("decision", ""), "no_match") << r.out;
  EXPECT_DOUBLE_EQ(j.value("threshold", 0.0), 0.9);
  EXPECT_LT(j.value("score", 1.0), 0.9);
  EXPECT_GT(j.value("score", 1.0), -1.0);

  // The same file through $IDMATCH_CALIBRATION, plain output.
  const CliResult env = RunCli({"verify", "--reference", Lfw(kOtherA), "--probe", Lfw(kOtherB)}, {"IDMATCH_CALIBRATION=" + cal});
  EXPECT_EQ(env.exit_code, 1) << env.out << env.err;
  EXPECT_TRUE(Contains(env.out, "decision   no_match")) << env.out;

  // A calibration without an entry for the embedder is an error, not a silent default.
  const std::string other = dir.Write("other.json", R"({"embedders": {"faceres": {"fmr_target": 0.001, "threshold": 0.5}}})");
  const std::string msg = ExpectJsonError(
      RunCli({"verify", "--reference", Lfw(kOtherA), "--probe", Lfw(kOtherB), "--json", "--calibration", other}),
      "invalid_argument");
  EXPECT_TRUE(Contains(msg, "resnet128")) << msg;
}

// ---- verify: bad input ----------------------------------------------------------------------

class CliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::Exists(Lfw(kSameA))) GTEST_SKIP() << "LFW image missing";
  }
  // verify with `probe` as the probe and a good reference.
  CliResult VerifyProbe(const std::string& probe, bool as_json = true) {
    std::vector<std::string> args = {"verify", "--reference", Lfw(kSameA), "--probe", probe};
    if (as_json) args.push_back("--json");
    return RunCli(args);
  }
  test::ScopedTempDir dir_;
};

TEST_F(CliBadInput, MissingFile) {
  const std::string path = dir_.File("does_not_exist.jpg");
  const std::string msg = ExpectJsonError(VerifyProbe(path), "not_found");
  EXPECT_TRUE(Contains(msg, path)) << msg;
  // Without --json: the same code on stderr, nothing on stdout.
  const CliResult plain = VerifyProbe(path, false);
  EXPECT_EQ(plain.exit_code, 2);
  EXPECT_TRUE(plain.out.empty()) << plain.out;
  EXPECT_TRUE(Contains(plain.err, "idmatch: error (not_found)")) << plain.err;
  EXPECT_TRUE(Contains(plain.err, path)) << plain.err;
}

TEST_F(CliBadInput, TruncatedJpeg) {
  const std::string jpeg = Encode(".jpg", Gradient(160, 120));
  ASSERT_GT(jpeg.size(), 200u);
  const std::string msg = ExpectJsonError(VerifyProbe(dir_.Write("half.jpg", jpeg.substr(0, jpeg.size() / 2))), "image_decode");
  EXPECT_TRUE(Contains(msg, "truncated")) << msg;
}

TEST_F(CliBadInput, HugePngHeader) {
  const std::string msg = ExpectJsonError(VerifyProbe(dir_.Write("huge.png", HugePng(30000, 30000))), "image_too_large");
  EXPECT_TRUE(Contains(msg, "30000x30000")) << msg;
}

TEST_F(CliBadInput, TextFile) {
  const std::string msg = ExpectJsonError(VerifyProbe(dir_.Write("notes.jpg", "this is a text file, not a photo\n")), "image_decode");
  EXPECT_TRUE(Contains(msg, "not a JPEG, PNG or WebP")) << msg;
}

TEST_F(CliBadInput, EmptyFile) {
  ExpectJsonError(VerifyProbe(dir_.Write("empty.png", "")), "image_decode");
}

TEST_F(CliBadInput, DecodeErrorsSayWhichImage) {
  // Two images go in; an error about one of them must say which (by role or by path).
  const std::string path = dir_.Write("notes.jpg", "this is a text file, not a photo\n");
  const std::string msg = ExpectJsonError(VerifyProbe(path), "image_decode");
  EXPECT_TRUE(Contains(msg, "probe") || Contains(msg, path)) << msg;
}

TEST_F(CliBadInput, NoFace) {
  const std::string png = dir_.Write("gradient.png", Encode(".png", Gradient(320, 240)));
  const CliResult r = RunCli({"verify", "--reference", png, "--probe", Lfw(kSameA), "--json"});
  const std::string msg = ExpectJsonError(r, "no_face");
  EXPECT_TRUE(Contains(msg, "reference")) << msg;
}

TEST_F(CliBadInput, UnknownOption) {
  const std::string msg = ExpectJsonError(
      RunCli({"verify", "--reference", Lfw(kSameA), "--probe", Lfw(kSameA), "--bogus=1", "--json"}), "invalid_argument");
  EXPECT_TRUE(Contains(msg, "--bogus")) << msg;
}

TEST_F(CliBadInput, MissingRequiredOption) {
  const std::string msg = ExpectJsonError(RunCli({"verify", "--reference", Lfw(kSameA), "--json"}), "invalid_argument");
  EXPECT_TRUE(Contains(msg, "--probe")) << msg;
}

TEST_F(CliBadInput, BadNumber) {
  const std::string msg = ExpectJsonError(
      RunCli({"verify", "--reference", Lfw(kSameA), "--probe", Lfw(kSameA), "--threads", "many", "--json"}),
      "invalid_argument");
  EXPECT_TRUE(Contains(msg, "--threads")) << msg;
}

// ---- verify: broken models ------------------------------------------------------------------

// A model root mirroring the real one (symlinks), except human-models/models/blazeface.json,
// which is rewritten with one node's op renamed.
TEST(CliModels, UnknownOpInDetector) {
  const std::string real = test::ModelDir();
  if (!test::Exists(real + "/human-models/models/blazeface.json")) GTEST_SKIP() << "models not installed";
  if (!test::Exists(Lfw(kSameA))) GTEST_SKIP() << "LFW image missing";
  test::ScopedTempDir root;
  fs::create_symlink(real + "/face-api", root.File("face-api"));
  const std::string models = root.File("human-models/models");
  fs::create_directories(models);
  for (const auto& e : fs::directory_iterator(real + "/human-models/models")) {
    if (e.path().filename() != "blazeface.json") fs::create_symlink(e.path(), models + "/" + e.path().filename().string());
  }
  const std::string node = "StatefulPartitionedCall/functional_1/depthwise_conv2d/depthwise";
  json model = test::ReadJson(real + "/human-models/models/blazeface.json");
  bool renamed = false;
  for (auto& n : model["modelTopology"]["node"]) {
    if (n["name"] == node) {
      n["op"] = "FancyOp";
      renamed = true;
    }
  }
  ASSERT_TRUE(renamed);
  std::ofstream(models + "/blazeface.json") << model.dump();

  const std::vector<std::string> env = {"IDMATCH_MODEL_DIR=" + root.path()};
  const CliResult r = RunCli({"verify", "--reference", Lfw(kSameA), "--probe", Lfw(kSameA), "--json"}, env);
  const std::string msg = ExpectJsonError(r, "unsupported_op");
  EXPECT_TRUE(Contains(msg, node)) << msg;
  EXPECT_TRUE(Contains(msg, "FancyOp")) << msg;

  // Sanity: the untouched mirror works, so the failure above is the renamed op alone.
  fs::remove(models + "/blazeface.json");
  fs::create_symlink(real + "/human-models/models/blazeface.json", models + "/blazeface.json");
  const CliResult ok = RunCli({"verify", "--reference", Lfw(kSameA), "--probe", Lfw(kSameA), "--json"}, env);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

TEST(CliModels, MissingModelDir) {
  if (!test::Exists(Lfw(kSameA))) GTEST_SKIP() << "LFW image missing";
  test::ScopedTempDir root;  // empty
  const CliResult r = RunCli({"verify", "--reference", Lfw(kSameA), "--probe", Lfw(kSameA), "--json"},
                             {"IDMATCH_MODEL_DIR=" + root.path()});
  const std::string msg = ExpectJsonError(r, "not_found");
  EXPECT_TRUE(Contains(msg, root.path())) << msg;
}

// ---- eval -----------------------------------------------------------------------------------

TEST(CliEval, SmallLfwRegressionGuard) {
  const std::string pairs = Lfw("pairs.csv");
  if (!test::Exists(pairs)) GTEST_SKIP() << "no " << pairs;
  const CliResult r = RunCli({"eval", "--pairs", pairs, "--limit", "40", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json j = ParseJson(r);
  EXPECT_EQ(j.value("pairs", 0), 40);
  EXPECT_GT(j.value("images", 0), 40);
  EXPECT_EQ(j.value("failure_to_detect_pairs", -1), 0) << r.out;
  ASSERT_TRUE(j.contains("embedders") && j["embedders"].size() == 1u) << r.out;
  const json& e = j["embedders"][0];
  EXPECT_EQ(e.value("embedder", ""), "resnet128");
  EXPECT_GT(e.value("auc", 0.0), 0.9) << r.out;
  // pairs.csv has folds 1..10 (300 same + 300 different each); 40 evenly spaced pairs keep both.
  ASSERT_TRUE(e.contains("accuracy_mean")) << r.out;
  EXPECT_GE(e["accuracy_mean"].get<double>(), 0.9) << r.out;
  EXPECT_LE(e["accuracy_mean"].get<double>(), 1.0);
}

TEST(CliEval, MissingPairsFile) {
  test::ScopedTempDir dir;
  const std::string path = dir.File("pairs.csv");
  const std::string msg = ExpectJsonError(RunCli({"eval", "--pairs", path, "--json"}), "not_found");
  EXPECT_TRUE(Contains(msg, path)) << msg;
}

TEST(CliEval, MalformedPairsFile) {
  test::ScopedTempDir dir;
  const std::string path = dir.Write("pairs.csv", "fold,file_a,file_b,same_identity\n1,a.jpg\n");
  const std::string msg = ExpectJsonError(RunCli({"eval", "--pairs", path, "--json"}), "invalid_argument");
  EXPECT_TRUE(Contains(msg, "pairs.csv:2")) << msg;
}

}  // namespace
}  // namespace idm
