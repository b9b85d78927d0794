#include "verify/session.h"

#include "liveness/challenge.h"

#include <sodium.h>

#include <cmath>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "verify/receipt.h"

namespace idm::verify {

std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return Base64UrlEncode(raw);
}

double FrameRank(const FaceSummary& s) {
  return -1000.0 * static_cast<double>(s.flags.size()) - (s.faces_found > 1 ? 500.0 : 0.0) + s.eye_distance_px;
}

FaceSummary KeepEmbedding(face::FaceAnalysis a, server::SecureBuffer& out) {
  FaceSummary s;
  s.faces_found = a.faces_found;
  s.eye_distance_px = a.quality.eye_distance_px;
  s.flags = a.quality.flags;
  out.Assign(a.embedding.data(), a.embedding.size() * sizeof(float));
  return s;  // `a` (embedding: SecureVector, mesh) is wiped/freed here
}

FaceSummary AnalyzeInto(const face::FaceAnalyzer& analyzer, const cv::Mat& rgb, server::SecureBuffer& out) {
  return KeepEmbedding(analyzer.Analyze(rgb), out);
}

float CosineOf(const server::SecureBuffer& a, const server::SecureBuffer& b) {
  if (a.size() != b.size() || a.empty()) throw Error(ErrorCode::kInternal, "embedding sizes differ");
  const size_t n = a.size() / sizeof(float);
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; ++i) {
    float x, y;
    std::memcpy(&x, a.data() + i * sizeof(float), sizeof x);
    std::memcpy(&y, b.data() + i * sizeof(float), sizeof y);
    dot += static_cast<double>(x) * y;
    na += static_cast<double>(x) * x;
    nb += static_cast<double>(y) * y;
  }
  return static_cast<float>(dot / std::max(1e-12, std::sqrt(na * nb)));
}

SessionStore::SessionStore(std::chrono::seconds ttl, size_t max_sessions, std::string fixed_challenge)
    : ttl_(ttl), max_sessions_(max_sessions), fixed_challenge_(std::move(fixed_challenge)) {
  if (!fixed_challenge_.empty()) fixed_challenge_ = liveness::ActionsToString(liveness::ParseActions(fixed_challenge_));
}
SessionStore::~SessionStore() { Clear(); }

std::shared_ptr<Session> SessionStore::Create(const std::string& operator_name) {
  auto s = std::make_shared<Session>();
  s->id = RandomToken(16);
  s->nonce = RandomToken(16);
  // 2-3 actions from {blink, turn_left, turn_right, look_up, come_closer}; never an expression.
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  s->challenge = !fixed_challenge_.empty()
                     ? fixed_challenge_
                     : liveness::ActionsToString(liveness::ChallengeGenerator::Secure().Issue(now_ms, ttl_.count() * 1000).actions);
  s->operator_name = operator_name;
  s->created = Clock::now();
  s->expires = s->created + ttl_;
  const auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  s->created_unix = unix_now;
  s->expires_unix = unix_now + ttl_.count();
  std::lock_guard<std::mutex> lock(mu_);
  if (sessions_.size() >= max_sessions_) return nullptr;
  sessions_[s->id] = s;
  return s;
}

std::shared_ptr<Session> SessionStore::Find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return nullptr;
  if (Clock::now() >= it->second->expires) {
    sessions_.erase(it);
    return nullptr;
  }
  return it->second;
}

bool SessionStore::Remove(const std::string& id) {
  std::shared_ptr<Session> victim;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return false;
    victim = std::move(it->second);
    sessions_.erase(it);
  }
  return true;  // `victim` is destroyed (wiped) here unless a request still holds it
}

size_t SessionStore::Sweep() {
  std::vector<std::shared_ptr<Session>> victims;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (now >= it->second->expires) {
        victims.push_back(std::move(it->second));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = spent_.begin(); it != spent_.end();) it = now >= it->second ? spent_.erase(it) : std::next(it);
  }
  return victims.size();
}

void SessionStore::Clear() {
  std::map<std::string, std::shared_ptr<Session>> all;
  std::lock_guard<std::mutex> lock(mu_);
  all.swap(sessions_);
}

size_t SessionStore::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

bool SessionStore::NonceSpent(const std::string& nonce) {
  std::lock_guard<std::mutex> lock(mu_);
  return spent_.count(nonce) > 0;
}

void SessionStore::SpendNonce(const std::string& nonce) {
  std::lock_guard<std::mutex> lock(mu_);
  spent_[nonce] = Clock::now() + std::max(ttl_, std::chrono::seconds(600));
}

}  // namespace idm::verify
