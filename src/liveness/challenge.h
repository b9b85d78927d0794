// Liveness challenge: a short random sequence of head/eye actions bound to a nonce and an expiry.
// Never an expression: some people cannot smile or frown on request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace idm::liveness {

// Directions are the subject's own: "turn left" is the person turning towards their left, which
// in an un-mirrored camera frame moves the nose towards the image's right-hand side.
enum class Action { kBlink, kTurnLeft, kTurnRight, kLookUp, kComeCloser };

inline constexpr Action kAllActions[] = {Action::kBlink, Action::kTurnLeft, Action::kTurnRight, Action::kLookUp,
                                         Action::kComeCloser};

const char* ActionName(Action a);  // "blink", "turn_left", "turn_right", "look_up", "come_closer"
// Accepts the names above with '-' or '_' ("turn-left"). Throws Error(kInvalidArgument).
Action ParseAction(const std::string& name);
// Comma separated list, e.g. "blink,turn-left". Throws Error(kInvalidArgument) when empty/unknown.
std::vector<Action> ParseActions(const std::string& list);
std::string ActionsToString(const std::vector<Action>& actions);  // "blink,turn_left"

struct Challenge {
  std::string nonce;          // 32 hex chars (128 random bits); the client echoes it with the frames
  int64_t issued_ms = 0;      // capture timestamps must lie in [issued_ms, expires_ms]
  int64_t expires_ms = 0;
  std::vector<Action> actions;  // 2 or 3 distinct actions, in the order they must be done
};

// Issues challenges. Secure() draws from libsodium's randombytes (production); Seeded() from a
// deterministic generator (tests, reproducible evaluations).
class ChallengeGenerator {
 public:
  static ChallengeGenerator Secure();
  static ChallengeGenerator Seeded(uint64_t seed);

  // 2 or 3 distinct actions; turn_left and turn_right are never both asked (one turn per challenge
  // keeps it short) and the window is `ttl_ms` long from `now_ms`.
  Challenge Issue(int64_t now_ms, int64_t ttl_ms = 20000);

 private:
  explicit ChallengeGenerator(bool secure, uint64_t seed) : secure_(secure), state_(seed) {}
  uint32_t Next();  // uniform 32 bits
  uint32_t Uniform(uint32_t n);  // uniform in [0, n)
  bool secure_;
  uint64_t state_;
};

}  // namespace idm::liveness
