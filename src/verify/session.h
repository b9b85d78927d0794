// Verification sessions: the only place a person's data lives while a check is running.
//
// A session collects one reference face (the document portrait) and a stream of live frames,
// keeps only what the decision needs -- the reference embedding and the best frame's embedding,
// each in a SecureBuffer (sodium_malloc: mlocked, MADV_DONTDUMP, guard pages, wiped on free) --
// and is destroyed (wiped) on decision, abort, expiry and shutdown. Images are decoded, analysed
// and wiped inside AddDocument / AddFrames; they are never stored.
//
// The document is read (src/document) when it is uploaded: only its type, issuing country and
// capture flags are kept, with the portrait's embedding. Frames are kept as the JPEG bytes the
// client sent (secure memory) until the decision, when the liveness sequence (src/liveness) runs
// over them in capture order; they are wiped with the session.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "face/analyzer.h"
#include "server/secure_buffer.h"

namespace idm::verify {

using Clock = std::chrono::steady_clock;

struct FaceSummary {
  int faces_found = 0;
  float eye_distance_px = 0;
  std::vector<std::string> flags;
};

struct Session {
  std::string id, operator_name, nonce, challenge;
  Clock::time_point created, expires;
  int64_t created_unix = 0, expires_unix = 0;

  std::mutex mu;  // serialises uploads to one session
  bool has_document = false;
  FaceSummary document;
  std::string document_type = "unknown", document_country = "unknown";
  double document_type_confidence = 0;
  std::string document_source = "none";  // "document_portrait" (read off the card) or "portrait_image"
  std::vector<std::string> document_problems;  // capture problems and MRZ flags: codes, no content
  server::SecureBuffer document_embedding;

  int frames_received = 0, frames_with_face = 0;
  int64_t last_capture_ms = INT64_MIN;
  double best_rank = -1e300;
  FaceSummary best_frame;
  server::SecureBuffer best_embedding;

  // For the liveness sequence: every frame as received, and its capture time.
  std::vector<server::SecureBuffer> frame_jpegs;
  std::vector<int64_t> frame_ms;

  std::string liveness_verdict = "not_checked";
  std::optional<double> liveness_score;
  std::vector<std::string> liveness_reasons;
};

// Ranks a frame for "best frame": fewer quality flags first, then a larger face.
double FrameRank(const FaceSummary& s);

// Copies an analysis' embedding into `out` and summarises its face; the analysis (its mesh and its
// embedding) is wiped as it goes out of scope.
FaceSummary KeepEmbedding(face::FaceAnalysis analysis, server::SecureBuffer& out);
// KeepEmbedding of the face pipeline run on `rgb`.
FaceSummary AnalyzeInto(const face::FaceAnalyzer& analyzer, const cv::Mat& rgb, server::SecureBuffer& out);

float CosineOf(const server::SecureBuffer& a, const server::SecureBuffer& b);

class SessionStore {
 public:
  // `fixed_challenge`: every session gets these actions (tests and demos only); empty: a fresh
  // random challenge of 2-3 actions per session.
  SessionStore(std::chrono::seconds ttl, size_t max_sessions, std::string fixed_challenge = "");
  ~SessionStore();

  // nullptr when the store is full.
  std::shared_ptr<Session> Create(const std::string& operator_name);
  std::shared_ptr<Session> Find(const std::string& id);
  // Removes (and so wipes, once the last in-flight user lets go). Returns false if unknown.
  bool Remove(const std::string& id);
  // Removes expired sessions; returns how many.
  size_t Sweep();
  void Clear();
  size_t size();
  std::chrono::seconds ttl() const { return ttl_; }

  // A nonce that was spent by a decision (kept until its session would have expired).
  bool NonceSpent(const std::string& nonce);
  void SpendNonce(const std::string& nonce);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  std::map<std::string, Clock::time_point> spent_;
  std::chrono::seconds ttl_;
  size_t max_sessions_;
  std::string fixed_challenge_;
};

std::string RandomToken(size_t bytes);

}  // namespace idm::verify
