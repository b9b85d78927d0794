#include "liveness/challenge.h"

#include <algorithm>
#include <sodium.h>

#include "core/error.h"
#include "core/secure_memory.h"

namespace idm::liveness {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kBlink: return "blink";
    case Action::kTurnLeft: return "turn_left";
    case Action::kTurnRight: return "turn_right";
    case Action::kLookUp: return "look_up";
    case Action::kComeCloser: return "come_closer";
  }
  return "?";
}

Action ParseAction(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '-', '_');
  for (Action a : kAllActions) {
    if (n == ActionName(a)) return a;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown action '" + name + "' (blink, turn-left, turn-right, look-up, come-closer)");
}

std::vector<Action> ParseActions(const std::string& list) {
  std::vector<Action> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    if (!item.empty()) out.push_back(ParseAction(item));
    start = comma + 1;
  }
  if (out.empty()) throw Error(ErrorCode::kInvalidArgument, "the challenge needs at least one action");
  return out;
}

std::string ActionsToString(const std::vector<Action>& actions) {
  std::string s;
  for (Action a : actions) s += (s.empty() ? "" : ",") + std::string(ActionName(a));
  return s;
}

ChallengeGenerator ChallengeGenerator::Secure() {
  EnsureSodium();
  return ChallengeGenerator(true, 0);
}

ChallengeGenerator ChallengeGenerator::Seeded(uint64_t seed) { return ChallengeGenerator(false, seed); }

uint32_t ChallengeGenerator::Next() {
  if (secure_) return randombytes_random();
  // splitmix64
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<uint32_t>((z ^ (z >> 31)) >> 32);
}

uint32_t ChallengeGenerator::Uniform(uint32_t n) {
  if (secure_) return randombytes_uniform(n);
  // Rejection sampling: no modulo bias.
  const uint32_t limit = UINT32_MAX - UINT32_MAX % n;
  uint32_t r;
  do r = Next();
  while (r >= limit);
  return r % n;
}

Challenge ChallengeGenerator::Issue(int64_t now_ms, int64_t ttl_ms) {
  Challenge c;
  static const char* kHex = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    const uint32_t b = Uniform(256);
    c.nonce += kHex[b >> 4];
    c.nonce += kHex[b & 15];
  }
  c.issued_ms = now_ms;
  c.expires_ms = now_ms + ttl_ms;
  const int n = 2 + static_cast<int>(Uniform(2));
  std::vector<Action> pool(std::begin(kAllActions), std::end(kAllActions));
  while (static_cast<int>(c.actions.size()) < n) {
    const Action a = pool[Uniform(static_cast<uint32_t>(pool.size()))];
    c.actions.push_back(a);
    std::erase_if(pool, [&](Action p) {
      return p == a || ((a == Action::kTurnLeft || a == Action::kTurnRight) &&
                        (p == Action::kTurnLeft || p == Action::kTurnRight));
    });
  }
  return c;
}

}  // namespace idm::liveness
