// Liveness challenges: parsing, and the generator's guarantees (2-3 distinct actions, never an
// expression, never both turns, a 128-bit nonce, an expiry).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/error.h"
#include "liveness/challenge.h"

namespace idm::liveness {
namespace {

TEST(LivenessChallenge, ParsesNamesWithDashesOrUnderscores) {
  const auto a = ParseActions("blink,turn-left,turn_right,look-up,come-closer");
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0], Action::kBlink);
  EXPECT_EQ(a[1], Action::kTurnLeft);
  EXPECT_EQ(a[2], Action::kTurnRight);
  EXPECT_EQ(a[3], Action::kLookUp);
  EXPECT_EQ(a[4], Action::kComeCloser);
  EXPECT_EQ(ActionsToString(a), "blink,turn_left,turn_right,look_up,come_closer");
}

TEST(LivenessChallenge, RejectsUnknownAndEmpty) {
  EXPECT_THROW(ParseActions("smile"), Error);
  EXPECT_THROW(ParseActions(""), Error);
  EXPECT_THROW(ParseActions(",,"), Error);
  try {
    ParseAction("frown");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(LivenessChallenge, SeededGeneratorIsReproducibleAndWellFormed) {
  auto g1 = ChallengeGenerator::Seeded(42), g2 = ChallengeGenerator::Seeded(42);
  std::map<Action, int> seen;
  std::map<size_t, int> lengths;
  for (int i = 0; i < 2000; ++i) {
    const Challenge a = g1.Issue(1000 * i, 15000), b = g2.Issue(1000 * i, 15000);
    ASSERT_EQ(a.nonce, b.nonce);
    ASSERT_EQ(a.actions, b.actions);
    ASSERT_EQ(a.nonce.size(), 32u);
    EXPECT_EQ(a.nonce.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(a.issued_ms, 1000 * i);
    EXPECT_EQ(a.expires_ms, 1000 * i + 15000);
    ASSERT_GE(a.actions.size(), 2u);
    ASSERT_LE(a.actions.size(), 3u);
    ++lengths[a.actions.size()];
    const std::set<Action> distinct(a.actions.begin(), a.actions.end());
    EXPECT_EQ(distinct.size(), a.actions.size());
    EXPECT_FALSE(distinct.count(Action::kTurnLeft) && distinct.count(Action::kTurnRight));
    for (Action x : a.actions) ++seen[x];
  }
  // Every action is drawn, roughly evenly; both lengths occur.
  EXPECT_EQ(seen.size(), 5u);
  for (const auto& [a, n] : seen) EXPECT_GT(n, 600) << ActionName(a);
  EXPECT_GT(lengths[2], 800);
  EXPECT_GT(lengths[3], 800);
}

TEST(LivenessChallenge, SecureGeneratorGivesFreshNonces) {
  auto g = ChallengeGenerator::Secure();
  std::set<std::string> nonces;
  for (int i = 0; i < 200; ++i) nonces.insert(g.Issue(0).nonce);
  EXPECT_EQ(nonces.size(), 200u);
}

}  // namespace
}  // namespace idm::liveness
