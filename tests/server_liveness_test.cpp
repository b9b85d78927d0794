// The service with liveness required (its default): a real blinking person passes a blink
// challenge and is matched with the portrait on a (generated) card of theirs; the same clip fails any other challenge, and
// single stills never pass. The clip is decoded and re-encoded in memory only.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server_harness.h"
#include "verify/receipt.h"
#include "session_fixtures.h"
#include "test_util.h"

namespace idm {
namespace {

using nlohmann::json;
using test::Clip;
using test::EncodedClip;
using test::kClip;

class ServerLiveness : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::Exists(test::SharedDir() + kClip)) GTEST_SKIP() << "missing " << kClip;
  }
};

TEST_F(ServerLiveness, BlinkingPersonPassesABlinkChallengeAndMatchesTheirPortrait) {
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "shop");
  test::ServerProcess server(dir.path(), {"--challenge", "blink"});
  ASSERT_TRUE(server.ok());
  const json out = test::RunSession(server, key, Clip());
  ASSERT_FALSE(out.contains("failed_step")) << out.dump();
  EXPECT_EQ(out["challenge"], "blink");
  EXPECT_EQ(out["liveness"]["verdict"], "live") << out.dump();
  EXPECT_EQ(out["decision"], "match") << out.dump();
  EXPECT_LT(out["liveness"]["score"].get<double>(), 0.5) << out.dump();
  // The receipt names the version of every model that decided, the liveness ones included.
  const std::string receipt = out["receipt"];
  const size_t a = receipt.find('.'), b = receipt.find('.', a + 1);
  const json claims = json::parse(verify::Base64UrlDecode(receipt.substr(a + 1, b - a - 1)));
  for (const char* model : {"blazeface", "facemesh", "iris", "antispoof", "liveness"}) {
    EXPECT_TRUE(claims["models"].contains(model)) << model << " missing from " << claims["models"].dump();
  }
}

TEST_F(ServerLiveness, TheSameClipFailsATurnChallenge) {
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "shop");
  test::ServerProcess server(dir.path(), {"--challenge", "turn-left,blink"});
  ASSERT_TRUE(server.ok());
  const json out = test::RunSession(server, key, Clip());
  ASSERT_FALSE(out.contains("failed_step")) << out.dump();
  EXPECT_NE(out["liveness"]["verdict"], "live") << out.dump();
  // The face is the portrait's, but not done live: never a match.
  EXPECT_EQ(out["decision"], "liveness_failed") << out.dump();
  EXPECT_NE(out["liveness_reasons"].dump().find("turn_left_not_detected"), std::string::npos) << out.dump();
}

TEST_F(ServerLiveness, StillsNeverPassTheDefaultRandomChallenge) {
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "shop");
  test::ServerProcess server(dir.path());
  ASSERT_TRUE(server.ok());
  // The same still, twice: no action can be seen.
  EncodedClip stills;
  stills.jpegs = {Clip().jpegs[0], Clip().jpegs[0]};
  stills.t_ms = {Clip().t_ms[0], Clip().t_ms[0] + 500};
  const json out = test::RunSession(server, key, stills);
  ASSERT_FALSE(out.contains("failed_step")) << out.dump();
  EXPECT_NE(out["liveness"]["verdict"], "live") << out.dump();
  EXPECT_EQ(out["decision"], "liveness_failed") << out.dump();
}

}  // namespace
}  // namespace idm
