// idmatch liveness end to end: the blink clip against blink / turn challenges, the passive
// single-image JSON, and argument errors. The clip and photos are read by the CLI from the shared
// data; nothing is written.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace idm {
namespace {

struct Out {
  int code = -1;
  std::string text;
};

Out RunLiveness(const std::string& args) {
  Out o;
  const std::string cmd = std::string(IDMATCH_BINARY) + " liveness " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.text.append(buf, n);
  const int st = ::pclose(p);
  o.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

const std::string kClip = "/data/videos/blink_detector/videos/test.mp4";

TEST(LivenessCli, BlinkClipPassesBlinkAndFailsTurnAsJson) {
  if (!test::Exists(test::SharedDir() + kClip)) GTEST_SKIP() << "no blink clip";
  const Out ok = RunLiveness("--video " + test::SharedDir() + kClip + " --challenge blink --json");
  ASSERT_EQ(ok.code, 0) << ok.text;
  const auto j = nlohmann::json::parse(ok.text);
  EXPECT_EQ(j.at("verdict"), "live");
  EXPECT_TRUE(j.at("reasons").is_array());
  EXPECT_TRUE(j.at("actions")[0].at("detected").get<bool>());

  const Out turn = RunLiveness("--video " + test::SharedDir() + kClip + " --challenge blink,turn-left --json");
  EXPECT_EQ(turn.code, 1);
  const auto t = nlohmann::json::parse(turn.text);
  EXPECT_NE(t.at("verdict"), "live");
  bool said = false;
  for (const auto& r : t.at("reasons")) said |= r.get<std::string>() == "turn_left_not_detected";
  EXPECT_TRUE(said) << turn.text;
}

TEST(LivenessCli, SingleImagePassiveJson) {
  const std::string img = test::SharedDir() + "/data/liveness/silent_face_antispoof/images/image_T1.jpg";
  if (!test::Exists(img)) GTEST_SKIP() << "no sample";
  const Out o = RunLiveness("--image " + img + " --json");
  ASSERT_TRUE(o.code == 0 || o.code == 1) << o.text;
  const auto j = nlohmann::json::parse(o.text);
  const double s = j.at("attack_score");
  EXPECT_GE(s, 0.0);
  EXPECT_LE(s, 1.0);
  EXPECT_TRUE(j.at("verdict") == "live" || j.at("verdict") == "attack");
  EXPECT_TRUE(j.at("reasons").is_array());
}

TEST(LivenessCli, BadArgumentsExitWithTwo) {
  EXPECT_EQ(RunLiveness("--video /nonexistent.mp4 --challenge blink").code, 2);
  EXPECT_EQ(RunLiveness("--video " + test::SharedDir() + kClip + " --challenge smile").code, 2);
  EXPECT_EQ(RunLiveness("--bogus 1").code, 2);
  EXPECT_EQ(RunLiveness("").code, 2);
}

}  // namespace
}  // namespace idm
