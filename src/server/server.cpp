#include "server/server.h"
#include "server/static_files.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "audit/audit_log.h"
#include "core/error.h"
#include "core/image.h"
#include "document/document.h"
#include "face/analyzer.h"
#include "liveness/sequence.h"
#include "server/secure_buffer.h"
#include "verify/document_facts.h"
#include "verify/receipt.h"
#include "verify/session.h"
#include "verify/verifier.h"

namespace idm::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

__attribute__((noinline)) void WipeStackBelow() {
  // 512 KiB below this frame: deeper than any parser or decoder frame that ran on this thread.
  unsigned char area[512 * 1024];
  sodium_memzero(area, sizeof area);
  __asm__ __volatile__("" : : "r"(area) : "memory");
}

namespace {

thread_local bool t_overflow = false;  // this connection was accepted past the queue: answer 503
thread_local bool t_body_left_unread = false;  // answered with part of the body unread: close after

// httplib's ThreadPool queues accepted connections without bound. This one serves `threads`
// connections at once, lets `max_queue` wait, and hands the rest to one overflow thread whose
// pre-routing handler answers 503 + Retry-After at once. Every task ends by wiping the stack.
class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(size_t threads, size_t max_queue) : max_queue_(max_queue) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(false); });
    threads_.emplace_back([this] { Work(true); });
  }
  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (jobs_.size() < max_queue_) {
        jobs_.push_back(std::move(fn));
      } else {
        overflow_.push_back(std::move(fn));
      }
    }
    cv_.notify_all();
  }
  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void Work(bool overflow) {
    t_overflow = overflow;
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        auto& q = overflow ? overflow_ : jobs_;
        cv_.wait(lock, [&] { return shutdown_ || !q.empty(); });
        if (q.empty()) return;
        fn = std::move(q.front());
        q.pop_front();
      }
      fn();
      fn = nullptr;
      WipeStackBelow();
    }
  }
  size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_, overflow_;
  std::vector<std::thread> threads_;
  bool shutdown_ = false;
};

// What one analysis worker owns: a face analyser and, when liveness is checked, a liveness
// verifier (not thread-safe: one per worker). Model weights are shared between workers. The
// verifier runs on the analyser's detector, mesh and ResNet runtimes rather than its own copies
// (~100 MB of packed weights and buffers per worker): a worker runs one request at a time, so
// the two never wait for each other.
struct Worker {
  face::FaceAnalyzer analyzer;
  std::unique_ptr<liveness::LivenessVerifier> liveness;
  Worker(const face::AnalyzerOptions& opt, bool with_liveness)
      : analyzer(opt),
        liveness(with_liveness
                     ? std::make_unique<liveness::LivenessVerifier>(liveness::LivenessVerifier::Options{}, &analyzer)
                     : nullptr) {}
};

// One worker per concurrent analysis; Acquire waits for a free one unless `queue` requests
// already wait.
class AnalyzerPool {
 public:
  AnalyzerPool(const face::AnalyzerOptions& opt, bool with_liveness, int workers, int queue) : queue_(queue) {
    for (int i = 0; i < workers; ++i) all_.push_back(std::make_unique<Worker>(opt, with_liveness)), free_.push_back(all_.back().get());
  }
  class Lease {
   public:
    Lease(AnalyzerPool* p, Worker* a) : pool_(p), a_(a) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), a_(o.a_) { o.pool_ = nullptr; }
    ~Lease() {
      if (pool_ != nullptr) pool_->Release(a_);
    }
    Worker& operator*() const { return *a_; }

   private:
    AnalyzerPool* pool_;
    Worker* a_;
  };
  std::optional<Lease> TryAcquire() {
    std::unique_lock<std::mutex> lock(mu_);
    if (free_.empty() && waiting_ >= queue_) return std::nullopt;
    ++waiting_;
    cv_.wait(lock, [&] { return !free_.empty(); });
    --waiting_;
    Worker* a = free_.back();
    free_.pop_back();
    return Lease(this, a);
  }
  bool Idle() {
    std::lock_guard<std::mutex> lock(mu_);
    return free_.size() == all_.size() && waiting_ == 0;
  }
  const Worker& any() const { return *all_.front(); }

 private:
  void Release(Worker* a) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back(a);
    }
    cv_.notify_one();
  }
  std::vector<std::unique_ptr<Worker>> all_;
  std::vector<Worker*> free_;
  int waiting_ = 0, queue_;
  std::mutex mu_;
  std::condition_variable cv_;
};

class RateLimiter {
 public:
  // true if allowed; otherwise *retry_after is the seconds until a token is back.
  bool Allow(const std::string& who, int per_minute, int* retry_after) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& b = buckets_[who];
    const auto now = Clock::now();
    const double rate = per_minute / 60.0;
    if (b.last == Clock::time_point{}) b.tokens = per_minute, b.last = now;
    b.tokens = std::min<double>(per_minute, b.tokens + rate * std::chrono::duration<double>(now - b.last).count());
    b.last = now;
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return true;
    }
    *retry_after = std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate)));
    return false;
  }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last{};
  };
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// Prometheus text: counts and latencies only.
class Metrics {
 public:
  void Count(const std::string& name, const std::string& labels) {
    std::lock_guard<std::mutex> lock(mu_);
    counters_[name + "{" + labels + "}"] += 1;
  }
  void Observe(const std::string& name, double seconds) {
    static const double kBuckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    std::lock_guard<std::mutex> lock(mu_);
    auto& h = hist_[name];
    h.buckets.resize(std::size(kBuckets));
    for (size_t i = 0; i < std::size(kBuckets); ++i) h.buckets[i].first = kBuckets[i], h.buckets[i].second += seconds <= kBuckets[i];
    h.count += 1;
    h.sum += seconds;
  }
  std::string Render(size_t sessions_active, bool ready) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    out += "# TYPE idmatch_sessions_active gauge\nidmatch_sessions_active " + std::to_string(sessions_active) + "\n";
    out += "# TYPE idmatch_ready gauge\nidmatch_ready " + std::string(ready ? "1" : "0") + "\n";
    std::string last;
    for (const auto& [key, v] : counters_) {
      const std::string name = key.substr(0, key.find('{'));
      if (name != last) out += "# TYPE " + name + " counter\n", last = name;
      out += (key.find("{}") != std::string::npos ? name : key) + " " + std::to_string(v) + "\n";
    }
    for (const auto& [name, h] : hist_) {
      out += "# TYPE " + name + " histogram\n";
      for (const auto& [le, n] : h.buckets) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", le);
        out += name + "_bucket{le=\"" + buf + "\"} " + std::to_string(n) + "\n";
      }
      out += name + "_bucket{le=\"+Inf\"} " + std::to_string(h.count) + "\n";
      out += name + "_sum " + std::to_string(h.sum) + "\n" + name + "_count " + std::to_string(h.count) + "\n";
    }
    return out;
  }

 private:
  struct Hist {
    std::vector<std::pair<double, uint64_t>> buckets;
    uint64_t count = 0;
    double sum = 0;
  };
  std::mutex mu_;
  std::map<std::string, uint64_t> counters_;
  std::map<std::string, Hist> hist_;
};

// An HTTP error with a JSON body {code, message}.
struct HttpError {
  int status;
  std::string code, message;
  int retry_after = 0;
};

bool IsLoopbackHost(const std::string& host) { return host == "127.0.0.1" || host == "::1" || host == "localhost"; }
bool IsLoopback(const std::string& addr) { return addr.rfind("127.", 0) == 0 || addr == "::1" || addr == "::ffff:127.0.0.1"; }

HttpError FromEngineError(const Error& e, const std::string& what) {
  switch (e.code()) {
    case ErrorCode::kImageTooLarge: return {413, "image_too_large", what + ": " + e.what()};
    case ErrorCode::kImageDecode: return {422, "image_decode", what + ": " + e.what()};
    case ErrorCode::kNoFace: return {422, "no_face", what + ": no face found"};
    case ErrorCode::kInvalidArgument: return {400, "invalid_argument", what + ": " + e.what()};
    default: return {500, "internal", "internal error"};
  }
}

void SendError(httplib::Response& res, const HttpError& e) {
  res.status = e.status;
  if (e.retry_after > 0) res.set_header("Retry-After", std::to_string(e.retry_after));
  res.set_content(json{{"code", e.code}, {"message", e.message}}.dump(), "application/json");
}

void SendJson(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json");
}

struct Part {
  std::string name, content_type;
  SecureBuffer data;
};

constexpr int kMaxLivenessSide = 720;

const HttpError kBadTimestamps{400, "bad_timestamps", "'timestamps' must be a JSON array of integers (ms)"};

// The 'timestamps' part: a JSON array of integer capture times (ms), appended to `out`.
bool ParseTimestamps(const Part& p, std::vector<int64_t>& out) {
  const json j = json::parse(std::string(p.data.data(), p.data.data() + p.data.size()), nullptr, false);
  if (!j.is_array()) return false;
  for (const auto& t : j) {
    if (!t.is_number_integer()) return false;
    out.push_back(t.get<int64_t>());
  }
  return true;
}

// Declared first in an image handler: on every way out (errors included) the stack below the
// handler -- where the body reader, the decoders and the analysis ran -- is wiped.
struct StackWipeOnExit {
  ~StackWipeOnExit() { WipeStackBelow(); }
};

// The answer on the overflow thread: past the connection queue.
void RefuseOverflow(httplib::Response& res) {
  SendError(res, {503, "overloaded", "too many connections; retry shortly", 1});
  res.set_header("Connection", "close");
}

// True when the request announces a body: reading one that is not announced would wait for EOF.
bool HasBody(const httplib::Request& req) {
  if (req.get_header_value("Transfer-Encoding") == "chunked") return true;
  const std::string length = req.get_header_value("Content-Length");
  return !length.empty() && length != "0";
}

constexpr auto kDrainDeadline = std::chrono::seconds(3);

// A content-reader route that answers before reading the body (401, 503, 415) leaves the body
// unread; closing a socket with unread data makes the kernel send a reset, which can destroy the
// answer before the client reads it (an overload 503 was lost this way in CI, and an 8 MB body
// refused with 401 never got its answer). So the body nobody read is read and dropped, in place
// (never kept), for at most kDrainDeadline; Content-Length is already capped before routing. The
// overflow thread's requests with a body end here too: they are answered 503 after the drain.
httplib::Server::HandlerWithContentReader DrainingUnreadBody(httplib::Server::HandlerWithContentReader handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
    StackWipeOnExit wipe;  // the drain below reads the body through the stack after the handler's wipe
    bool read = false, complete = false;
    const httplib::ContentReader tracked(
        [&](httplib::ContentReceiver r) {
          read = true;
          return complete = reader(std::move(r));
        },
        [&](httplib::MultipartContentHeader h, httplib::ContentReceiver r) {
          read = true;
          return complete = reader(std::move(h), std::move(r));
        });
    if (t_overflow) {
      RefuseOverflow(res);
    } else {
      handler(req, res, tracked);
    }
    if (!HasBody(req)) return;
    if (!read) {
      const auto until = std::chrono::steady_clock::now() + kDrainDeadline;
      const auto drop = [&](const char*, size_t) { return std::chrono::steady_clock::now() < until; };
      const int answered = res.status;  // httplib sets 400 when a read stops: the answer stays
      complete = req.is_multipart_form_data() ? reader([](const httplib::MultipartFormData&) { return true; }, drop)
                                              : reader(drop);
      res.status = answered;
    }
    // A body not read to its end (a slow sender past the deadline, a malformed multipart part)
    // must not be parsed as the requests that follow it: the connection closes after the answer.
    if (!complete) {
      t_body_left_unread = true;
      res.set_header("Connection", "close");
    }
  };
}

// The socket a request came on, found by its address pair (httplib hands handlers no socket);
// -1 if none matches. A rare path: only a connection with a body left unread comes here.
int SocketOfRequest(const httplib::Request& req) {
  auto numeric = [](const sockaddr_storage& a, socklen_t len, std::string& host, int& port) {
    char h[NI_MAXHOST], p[NI_MAXSERV];
    if (::getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, h, sizeof h, p, sizeof p,
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0)
      return false;
    host = h;
    port = std::atoi(p);
    return true;
  };
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const int fd = std::atoi(entry.path().filename().c_str());
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0)
      continue;
    std::string local_host, peer_host;
    int local_port = -1, peer_port = -1;
    if (numeric(local, local_len, local_host, local_port) && numeric(peer, peer_len, peer_host, peer_port) &&
        peer_host == req.remote_addr && peer_port == req.remote_port && local_port == req.local_port)
      return fd;
  }
  return -1;
}

// A body left unread, wholly (a 413 sent from Content-Length alone) or in part (see
// DrainingUnreadBody), would be parsed by httplib as the requests that follow it, whatever the
// answer's Connection header says: a 20 MB body made of "GET /healthz" requests had two of them
// answered after its 413, and a 10 GB one was read for as long as it came. Closing at once would
// reset the connection, which can destroy the answer before the client reads it. So, once the
// answer is written: a half-close, what still arrives read and dropped (never kept) for at most
// kDrainDeadline, then the reading side shut, so that httplib's next read ends the connection.
void CloseAfterUnreadBody(const httplib::Request& req) {
  if (!t_body_left_unread) return;
  t_body_left_unread = false;
  const int fd = SocketOfRequest(req);
  if (fd < 0) return;
  ::shutdown(fd, SHUT_WR);
  const auto until = std::chrono::steady_clock::now() + kDrainDeadline;
  unsigned char buf[16384];
  for (auto now = std::chrono::steady_clock::now(); now < until; now = std::chrono::steady_clock::now()) {
    pollfd p{fd, POLLIN, 0};
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count());
    if (::poll(&p, 1, std::max(left, 1)) <= 0) break;
    if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) break;  // EOF, or the client reset
  }
  sodium_memzero(buf, sizeof buf);
  ::shutdown(fd, SHUT_RD);
}

// A route without a content reader on the overflow thread: httplib has read its body already.
httplib::Server::Handler RefusedInOverflow(httplib::Server::Handler handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    if (!t_overflow) return handler(req, res);
    RefuseOverflow(res);
  };
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct Service::Impl {
  ServiceOptions opt;
  verify::SigningKey key;
  std::unique_ptr<audit::AuditDb> db;
  verify::Calibration calibration;
  std::unique_ptr<AnalyzerPool> pool;
  std::vector<document::DocumentLayout> layouts;
  std::optional<audit::Operator> demo_operator;  // --demo
  verify::SessionStore sessions;
  json model_hashes;
  RateLimiter limiter;
  Metrics metrics;
  std::unique_ptr<httplib::Server> http;
  std::atomic<bool> draining{false}, stopping{false};
  // 0: Serve() not entered, 1: inside Serve(), 2: Serve() returned. Lets Stop() catch a listener
  // that has been started but is not running yet (httplib's stop() is a no-op before listen).
  std::atomic<int> listener_state{0};
  std::thread sweeper;
  std::mutex sweep_mu;
  std::condition_variable sweep_cv;
  int port = 0;
  int listen_fd = -1;  // the listening socket, seen by the socket-options hook

  Impl(const ServiceOptions& o)
      : opt(o),
        key(verify::SigningKey::LoadOrCreate(o.data_dir)),
        sessions(o.session_ttl, o.max_sessions, o.fixed_challenge) {}

  // ---- request plumbing -------------------------------------------------------------------

  std::optional<audit::Operator> Authenticate(const httplib::Request& req, httplib::Response& res) {
    const std::string h = req.get_header_value("Authorization");
    std::optional<audit::Operator> op;
    if (!req.has_header("Authorization") && demo_operator && IsLoopback(req.remote_addr)) {
      op = demo_operator;
    } else if (h.rfind("Bearer ", 0) != 0) {
      SendError(res, {401, "unauthorized", "missing 'Authorization: Bearer <API key>'"});
      return std::nullopt;
    } else {
      op = db->Authenticate(h.substr(7));
    }
    if (!op) {
      SendError(res, {401, "unauthorized", "unknown API key"});
      return std::nullopt;
    }
    int retry = 1;
    if (!limiter.Allow(op->name, op->rate_per_minute, &retry)) {
      metrics.Count("idmatch_rate_limited_total", "");
      SendError(res, {429, "rate_limited", "rate limit of " + std::to_string(op->rate_per_minute) + " requests per minute exceeded", retry});
      return std::nullopt;
    }
    return op;
  }

  std::shared_ptr<verify::Session> SessionFor(const httplib::Request& req, const audit::Operator& op, httplib::Response& res) {
    auto s = sessions.Find(req.matches[1]);
    if (!s) {
      SendError(res, {404, "session_not_found", "no such session (it may have expired, been decided or aborted)"});
      return nullptr;
    }
    if (s->operator_name != op.name) {
      SendError(res, {403, "forbidden", "this session belongs to another operator"});
      return nullptr;
    }
    return s;
  }

  // The common start of a session step that analyses images: who calls, their session, a worker.
  struct SessionWork {
    std::shared_ptr<verify::Session> session;
    AnalyzerPool::Lease lease;
  };
  std::optional<SessionWork> BeginSessionWork(const httplib::Request& req, httplib::Response& res) {
    auto op = Authenticate(req, res);
    if (!op) return std::nullopt;
    auto sess = SessionFor(req, *op, res);
    if (!sess) return std::nullopt;
    auto lease = Admit(res);
    if (!lease) return std::nullopt;
    return SessionWork{std::move(sess), std::move(*lease)};
  }

  std::optional<AnalyzerPool::Lease> Admit(httplib::Response& res) {
    if (draining) {
      SendError(res, {503, "draining", "the server is shutting down", 1});
      return std::nullopt;
    }
    auto lease = pool->TryAcquire();
    if (!lease) {
      metrics.Count("idmatch_rejected_total", "reason=\"overload\"");
      SendError(res, {503, "overloaded", "all analysis workers are busy; retry shortly", 1});
    }
    return lease;
  }

  // Reads the whole body into secure memory; false (and a response) when it is too large.
  bool ReadBody(const httplib::Request& req, const httplib::ContentReader& reader, SecureBuffer& out, httplib::Response& res) {
    // httplib hands a multipart body only to a multipart reader (found by http_fuzz: it was a 500).
    if (req.is_multipart_form_data()) {
      SendError(res, {415, "unsupported_media_type", "send the image itself as the body, not multipart/form-data"});
      return false;
    }
    bool too_large = false;
    // Past the limit the rest is read and dropped, so that the 413 is not lost to a reset.
    const bool ok = reader([&](const char* d, size_t n) {
      too_large = too_large || out.size() + n > opt.max_image_bytes;
      if (!too_large) out.Append(d, n);
      return true;
    });
    return ReadOutcome(ok, too_large, "image over ", {400, "bad_request", "could not read the request body"}, res);
  }

  // A body read stopped by a size limit is a 413, one that broke off a 400 (`broken`).
  bool ReadOutcome(bool ok, bool too_large, const char* what_is_too_large, const HttpError& broken, httplib::Response& res) const {
    if (too_large) {
      SendError(res, {413, "payload_too_large", what_is_too_large + std::to_string(opt.max_image_bytes) + " bytes"});
      return false;
    }
    if (!ok) {
      SendError(res, broken);
      return false;
    }
    return true;
  }

  bool ReadMultipart(const httplib::Request& req, const httplib::ContentReader& reader, std::vector<Part>& parts,
                     httplib::Response& res) {
    if (!req.is_multipart_form_data()) {
      SendError(res, {415, "unsupported_media_type", "expected multipart/form-data"});
      return false;
    }
    size_t total = 0;
    bool too_large = false;
    const bool ok = reader(
        [&](const httplib::MultipartFormData& f) {
          parts.push_back(Part{f.name, f.content_type, {}});
          return true;
        },
        [&](const char* d, size_t n) {
          if (parts.empty()) return false;  // data before any part header: malformed
          total += n;
          too_large = too_large || parts.back().data.size() + n > opt.max_image_bytes || total > opt.max_body_bytes;
          if (!too_large) parts.back().data.Append(d, n);
          return true;  // past a limit: read and drop the rest, so that the 413 is not lost
        });
    return ReadOutcome(ok, too_large, "a part is over ", {400, "malformed_multipart", "the multipart body is malformed or truncated"}, res);
  }

  // ---- the pipeline steps ------------------------------------------------------------------

  // `portrait_only`: the image is already the holder's portrait (e.g. the photo read from a
  // passport's chip, or a scan of the portrait), not a photo of a card.
  std::optional<HttpError> AnalyzeDocument(Worker& w, verify::Session& s, const SecureBuffer& image, bool portrait_only) {
    try {
      const ImageLimits limits{opt.max_image_bytes, 40'000'000, 12000};
      cv::Mat rgb = DecodeImage(image.bytes(), limits);
      const auto t0 = Clock::now();
      s.document_source = portrait_only ? "portrait_image" : "document_portrait";
      if (portrait_only) {
        s.document = verify::AnalyzeInto(w.analyzer, rgb, s.document_embedding);
        metrics.Observe("idmatch_analysis_seconds", std::chrono::duration<double>(Clock::now() - t0).count());
        s.has_document = true;
        return std::nullopt;
      }
      // Find, rectify and classify the card, read its MRZ, find its printed portrait. Only the
      // facts below leave this block; the MRZ text is wiped here.
      document::DocumentReport report = document::AnalyzeDocument(rgb, layouts, &w.analyzer);
      const verify::DocumentFacts facts = verify::SummariseDocument(report);
      verify::WipeDocumentText(report);
      s.document_type = facts.type;
      s.document_type_confidence = facts.type_confidence;
      s.document_country = facts.issuing_country;
      s.document_problems = facts.flags;
      // The reference is the card's portrait and nothing else: never the largest face of the
      // photo, which could be the applicant holding the card.
      std::optional<verify::FaceSummary> portrait;
      if (!report.portrait.empty()) {
        try {
          portrait =
              verify::KeepEmbedding(document::AnalyzePortrait(w.analyzer, report.portrait), s.document_embedding);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kNoFace) throw;
        }
      }
      metrics.Observe("idmatch_analysis_seconds", std::chrono::duration<double>(Clock::now() - t0).count());
      if (!portrait) {
        std::string code = document::kPortraitNotFound;
        for (const auto& p : facts.flags) {
          if (*document::ProblemHint(p) != '\0') {
            code = p;
            break;
          }
        }
        return HttpError{422, code, std::string("document: ") + document::ProblemHint(code)};
      }
      s.document = *portrait;
      s.has_document = true;
      return std::nullopt;
    } catch (const Error& e) {
      return FromEngineError(e, "document");
    }
  }

  // Decodes every frame (a bad one is refused with the batch), keeps the JPEG bytes for the
  // liveness sequence and analyses the batch's last frame for the person's live advice. Without
  // liveness (--liveness off) every frame is analysed and the best one's embedding kept.
  std::optional<HttpError> AnalyzeFrames(Worker& w, verify::Session& s, std::vector<Part*>& frames,
                                         const std::vector<int64_t>& timestamps, verify::FaceSummary* last) {
    if (frames.empty()) return HttpError{400, "no_frames", "no 'frames' parts"};
    if (static_cast<int>(frames.size()) > opt.max_frames_per_batch) {
      return HttpError{413, "too_many_frames", "at most " + std::to_string(opt.max_frames_per_batch) + " frames per batch"};
    }
    if (s.frames_received + static_cast<int>(frames.size()) > opt.max_frames_per_session) {
      return HttpError{413, "too_many_frames", "at most " + std::to_string(opt.max_frames_per_session) + " frames per session"};
    }
    if (!timestamps.empty()) {
      if (timestamps.size() != frames.size()) return HttpError{400, "bad_timestamps", "one capture timestamp per frame"};
      int64_t last_ms = s.last_capture_ms;
      for (const int64_t t : timestamps) {
        if (t <= last_ms) return HttpError{422, "frames_out_of_order", "capture timestamps must increase, across batches too"};
        last_ms = t;
      }
    }
    const ImageLimits limits{opt.max_image_bytes, 40'000'000, 12000};
    std::vector<cv::Mat> decoded(frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
      try {
        decoded[i] = DecodeImage(frames[i]->data.bytes(), limits);
      } catch (const Error& e) {
        return FromEngineError(e, "frame " + std::to_string(i));
      }
    }
    for (size_t i = 0; i < frames.size(); ++i) {
      ++s.frames_received;
      if (!timestamps.empty()) s.last_capture_ms = timestamps[i];
      if (opt.liveness_required) {
        s.frame_jpegs.push_back(std::move(frames[i]->data));
        s.frame_ms.push_back(timestamps.empty() ? -1 : timestamps[i]);
      } else {
        frames[i]->data.Release();
      }
      if (opt.liveness_required && i + 1 < frames.size()) continue;
      try {
        SecureBuffer emb;
        const auto t0 = Clock::now();
        verify::FaceSummary fs;
        bool face = true;
        try {
          fs = verify::AnalyzeInto(w.analyzer, decoded[i], emb);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kNoFace) throw;
          face = false;
        }
        metrics.Observe("idmatch_analysis_seconds", std::chrono::duration<double>(Clock::now() - t0).count());
        if (last != nullptr) *last = fs;
        if (!face) continue;
        ++s.frames_with_face;
        const double rank = verify::FrameRank(fs);
        if (rank > s.best_rank) {
          s.best_rank = rank;
          s.best_frame = fs;
          s.best_embedding = std::move(emb);
        }
      } catch (const Error& e) {
        return FromEngineError(e, "frame " + std::to_string(i));
      }
    }
    return std::nullopt;
  }

  // The challenge over every frame of the session, in capture order; then the best frame it
  // chose (sharp, frontal, eyes open) becomes the probe that is compared with the document.
  void CheckLiveness(Worker& w, verify::Session& s) {
    const auto t0 = Clock::now();
    s.liveness_reasons.clear();
    const bool timed = !s.frame_ms.empty() && s.frame_ms.front() >= 0;
    if (s.frame_jpegs.size() < 2 || !timed) {
      s.liveness_verdict = liveness::VerdictName(liveness::Verdict::kInconclusive);
      s.liveness_reasons.push_back(s.frame_jpegs.size() < 2 ? "too_few_frames" : "no_timestamps");
      return;
    }
    const ImageLimits limits{opt.max_image_bytes, 40'000'000, 12000};
    std::vector<cv::Mat> rgb;
    rgb.reserve(s.frame_jpegs.size());
    for (auto& jpeg : s.frame_jpegs) {
      cv::Mat frame = DecodeImage(jpeg.bytes(), limits);
      jpeg.Release();
      // Every frame of the session is held at once for the sequence: bound the memory a client's
      // frame size can claim (the page sends 480 px; 720 px keeps the detail the passive cues use).
      const double scale = kMaxLivenessSide / static_cast<double>(std::max(frame.cols, frame.rows));
      if (scale < 1) cv::resize(frame, frame, cv::Size(), scale, scale, cv::INTER_AREA);
      rgb.push_back(std::move(frame));
    }
    // Capture times are the client's clock: the window is checked relative to the first frame
    // (the session's own expiry bounds it in server time).
    liveness::Challenge c;
    c.nonce = s.nonce;
    c.actions = liveness::ParseActions(s.challenge);
    c.issued_ms = s.frame_ms.front();
    c.expires_ms = c.issued_ms + static_cast<int64_t>(opt.session_ttl.count()) * 1000;
    const liveness::SequenceResult r = w.liveness->Verify(c, rgb, s.frame_ms);
    s.liveness_verdict = liveness::VerdictName(r.verdict);
    s.liveness_score = r.attack_score;
    s.liveness_reasons = r.reasons;
    if (!r.best_frames.empty()) {
      SecureBuffer emb;
      try {
        const verify::FaceSummary fs = verify::AnalyzeInto(w.analyzer, rgb[static_cast<size_t>(r.best_frames.front())], emb);
        s.best_frame = fs;
        s.best_embedding = std::move(emb);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNoFace) throw;
      }
    }
    metrics.Observe("idmatch_liveness_seconds", std::chrono::duration<double>(Clock::now() - t0).count());
    metrics.Count("idmatch_liveness_total", "verdict=\"" + s.liveness_verdict + "\"");
  }

  // Decides, signs, writes the audit row (durable) and only then returns the receipt.
  json Decide(Worker& w, verify::Session& s) {
    if (opt.liveness_required) CheckLiveness(w, s);
    const float score = verify::CosineOf(s.document_embedding, s.best_embedding);
    const bool face_match = score >= calibration.threshold;
    const bool live = !opt.liveness_required || s.liveness_verdict == "live";
    verify::ReceiptFacts f;
    f.session_id = s.id;
    f.nonce = s.nonce;
    f.operator_name = s.operator_name;
    f.match_score = score;
    f.threshold = calibration.threshold;
    f.fmr_target = calibration.fmr_target;
    // A match needs both: the same person as on the card, and a live one.
    f.decision = !face_match ? "no_match" : live ? "match" : "liveness_failed";
    f.liveness_verdict = s.liveness_verdict;
    f.liveness_score = s.liveness_score;
    f.document_type = s.document_type;
    f.document_country = s.document_country;
    f.document_quality_flags = s.document.flags;
    f.document_quality_flags.insert(f.document_quality_flags.end(), s.document_problems.begin(), s.document_problems.end());
    f.probe_quality_flags = s.best_frame.flags;
    f.frames_received = s.frames_received;
    f.frames_with_face = s.frames_with_face;
    f.model_hashes = model_hashes;
    f.issued_at = UnixNow();
    const json claims = verify::MakeReceiptClaims(f);
    const std::string receipt = key.Sign(claims);
    audit::DecisionRecord r;
    r.operator_name = s.operator_name;
    r.session_id = s.id;
    r.decision = f.decision;
    r.match_score = f.match_score;
    r.liveness_verdict = f.liveness_verdict;
    r.liveness_score = f.liveness_score;
    r.document_type = f.document_type;
    r.document_country = f.document_country;
    r.model_hashes = model_hashes.dump();
    r.receipt_sha256 = audit::Sha256Hex(receipt);
    db->Append(r);
    metrics.Count("idmatch_decisions_total", "decision=\"" + f.decision + "\"");
    return {{"session_id", s.id},
            {"decision", f.decision},
            {"match_score", claims["match_score"]},
            {"threshold", f.threshold},
            {"liveness", claims["liveness"]},
            {"liveness_reasons", s.liveness_reasons},
            {"receipt", receipt}};
  }

  static json DocumentJson(const verify::Session& s) {
    json problems = json::array();
    for (const auto& code : s.document_problems) problems.push_back({{"code", code}, {"hint", DocumentHint(code)}});
    std::vector<std::string> flags = s.document.flags;  // the portrait's face quality, then the capture's
    flags.insert(flags.end(), s.document_problems.begin(), s.document_problems.end());
    return {{"faces_found", s.document.faces_found},
            {"quality_flags", flags},
            {"type", s.document_type},
            {"type_confidence", std::round(s.document_type_confidence * 100) / 100},
            {"issuing_country", s.document_country},
            {"problems", problems},
            {"analysed_as", s.document_source}};
  }
  static std::string DocumentHint(const std::string& code) {
    if (code == "mrz_unreadable") return "the machine-readable lines could not be read: avoid glare and hold the card flat";
    if (code == "document_expired") return "this document has expired";
    return document::ProblemHint(code);
  }

  // ---- routes ------------------------------------------------------------------------------

  void Routes() {
    auto& s = *http;
    s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { SendJson(res, 200, {{"status", "ok"}}); });
    s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      if (draining) return SendError(res, {503, "draining", "the server is shutting down", 1});
      SendJson(res, 200, {{"status", "ready"}});
    });
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.Render(sessions.size(), !draining), "text/plain; version=0.0.4");
    });
    s.Get("/v1/keys", [this](const httplib::Request&, httplib::Response& res) {
      SendJson(res, 200, {{"keys", json::array({key.PublicJwk()})}});
    });

    // A content-reader route, so that a bodiless POST (curl -X POST, no Content-Length) is fine.
    s.Post(
        "/v1/sessions", DrainingUnreadBody([this](const httplib::Request& req, httplib::Response& res,
                                                  const httplib::ContentReader& reader) {
          auto op = Authenticate(req, res);
          if (!op) return;
          if (draining) return SendError(res, {503, "draining", "the server is shutting down", 1});
          std::string text;
          if (req.is_multipart_form_data())
            return SendError(res, {415, "unsupported_media_type", "the body must be a small JSON object (or empty)"});
          if (req.has_header("Content-Length") || req.get_header_value("Transfer-Encoding") == "chunked") {
            bool too_long = false;  // the rest is read and dropped, so that the 400 is not lost to a reset
            const bool read = reader([&](const char* d, size_t n) {
              too_long = too_long || text.size() + n > 64 * 1024;
              if (!too_long) text.append(d, n);
              return true;
            });
            if (!read || too_long)
              return SendError(res, {400, "invalid_json", "the body must be a small JSON object (or empty)"});
          }
          if (!text.empty()) {
            const json body = json::parse(text, nullptr, false);
            if (body.is_discarded() || !body.is_object())
              return SendError(res, {400, "invalid_json", "the body must be a JSON object (or empty)"});
          }
          auto sess = sessions.Create(op->name);
          if (!sess) return SendError(res, {503, "too_many_sessions", "too many open sessions", 5});
          metrics.Count("idmatch_sessions_created_total", "");
          SendJson(res, 201,
                   {{"session_id", sess->id},
                    {"challenge", sess->challenge},
                    {"nonce", sess->nonce},
                    {"expires_at", sess->expires_unix},
                    {"expires_in", opt.session_ttl.count()}});
        }));

    s.Post(R"(/v1/sessions/([A-Za-z0-9_-]+)/document)",
           DrainingUnreadBody(
               [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                 StackWipeOnExit wipe;
                 auto work = BeginSessionWork(req, res);
                 if (!work) return;
                 auto& sess = work->session;
                 auto& lease = work->lease;
                 {
                   SecureBuffer body;
                   if (!ReadBody(req, reader, body, res)) return;
                   std::lock_guard<std::mutex> lock(sess->mu);
                   const std::string kind = req.get_param_value("kind");
                   if (!kind.empty() && kind != "card" && kind != "portrait") {
                     return SendError(res, {400, "invalid_argument", "'kind' is 'card' (default) or 'portrait'"});
                   }
                   if (auto err = AnalyzeDocument(*lease, *sess, body, kind == "portrait")) return SendError(res, *err);
                 }
                 SendJson(res, 200, {{"session_id", sess->id}, {"document", DocumentJson(*sess)}});
               }));

    s.Post(R"(/v1/sessions/([A-Za-z0-9_-]+)/frames)",
           DrainingUnreadBody([this](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& reader) {
             StackWipeOnExit wipe;
             auto work = BeginSessionWork(req, res);
             if (!work) return;
             auto& sess = work->session;
             auto& lease = work->lease;
             {
               std::vector<Part> parts;
               if (!ReadMultipart(req, reader, parts, res)) return;
               std::vector<Part*> frames;
               std::vector<int64_t> ts;
               bool have_ts = false;
               for (auto& p : parts) {
                 if (p.name == "frames" || p.name == "frame") frames.push_back(&p);
                 if (p.name == "timestamps") {
                   have_ts = true;
                   if (!ParseTimestamps(p, ts)) return SendError(res, kBadTimestamps);
                 }
               }
               if (!have_ts)
                 return SendError(res, {400, "bad_timestamps",
                                        "a 'timestamps' part (JSON array of capture times in ms) is required"});
               std::lock_guard<std::mutex> lock(sess->mu);
               verify::FaceSummary last;
               if (auto err = AnalyzeFrames(*lease, *sess, frames, ts, &last)) return SendError(res, *err);
               // The latest frame's faces and quality flags: the page's live advice.
               SendJson(res, 200, {{"session_id", sess->id}, {"frames_received", sess->frames_received},
                                   {"frames_with_face", sess->frames_with_face}, {"faces_found", last.faces_found},
                                   {"quality_flags", last.flags}});
             }
           }));

    s.Post(R"(/v1/sessions/([A-Za-z0-9_-]+)/decision)",
           RefusedInOverflow([this](const httplib::Request& req, httplib::Response& res) {
             StackWipeOnExit wipe;
             auto op = Authenticate(req, res);
             if (!op) return;
             const json body = json::parse(req.body, nullptr, false);
             if (body.is_discarded() || !body.is_object() || !body.contains("nonce") || !body["nonce"].is_string()) {
               return SendError(res, {400, "invalid_json", "the body must be a JSON object {\"nonce\": \"...\"}"});
             }
             const std::string nonce = body["nonce"];
             if (sessions.NonceSpent(nonce))
               return SendError(res, {409, "nonce_replayed", "this nonce was already used for a decision"});
             auto sess = SessionFor(req, *op, res);
             if (!sess) return;
             std::lock_guard<std::mutex> lock(sess->mu);
             if (sessions.NonceSpent(nonce))
               return SendError(res, {409, "nonce_replayed", "this nonce was already used for a decision"});
             if (nonce != sess->nonce)
               return SendError(res, {400, "nonce_mismatch", "the nonce is not this session's"});
             if (!sess->has_document || sess->frames_with_face == 0) {
               return SendError(
                   res, {409, "incomplete_session", "a document and at least one frame with a face are needed first"});
             }
             auto lease = Admit(res);  // the liveness sequence runs now
             if (!lease) return;
             json out;
             try {
               out = Decide(**lease, *sess);
             } catch (const Error&) {
               return SendError(res, {500, "internal", "the decision could not be recorded"});
             }
             sessions.SpendNonce(nonce);
             sessions.Remove(sess->id);  // wiped once this handler lets go of `sess`
             SendJson(res, 200, out);
           }));

    s.Delete(R"(/v1/sessions/([A-Za-z0-9_-]+))",
             RefusedInOverflow([this](const httplib::Request& req, httplib::Response& res) {
               auto op = Authenticate(req, res);
               if (!op) return;
               auto sess = SessionFor(req, *op, res);
               if (!sess) return;
               sessions.Remove(sess->id);
               metrics.Count("idmatch_sessions_aborted_total", "");
               SendJson(res, 200, {{"session_id", sess->id}, {"status", "aborted"}});
             }));

    s.Post("/v1/verify", DrainingUnreadBody([this](const httplib::Request& req, httplib::Response& res,
                                                   const httplib::ContentReader& reader) {
             StackWipeOnExit wipe;
             auto op = Authenticate(req, res);
             if (!op) return;
             auto lease = Admit(res);
             if (!lease) return;
             json out;
             {
               std::vector<Part> parts;
               if (!ReadMultipart(req, reader, parts, res)) return;
               Part* document = nullptr;
               bool portrait_only = false;
               std::vector<Part*> frames;
               std::vector<int64_t> ts;
               std::string client_nonce;
               for (auto& p : parts) {
                 if (p.name == "document" || p.name == "portrait") document = &p, portrait_only = p.name == "portrait";
                 if (p.name == "frames" || p.name == "frame") frames.push_back(&p);
                 if (p.name == "nonce")
                   client_nonce.assign(p.data.data(), p.data.data() + std::min<size_t>(p.data.size(), 128));
                 if (p.name == "timestamps" && !ParseTimestamps(p, ts)) return SendError(res, kBadTimestamps);
               }
               if (document == nullptr)
                 return SendError(res, {400, "no_document", "a 'document' (or 'portrait') part is required"});
               if (!client_nonce.empty() && sessions.NonceSpent("client:" + op->name + ":" + client_nonce)) {
                 return SendError(res, {409, "nonce_replayed", "this nonce was already used for a decision"});
               }
               auto sess = sessions.Create(op->name);
               if (!sess) return SendError(res, {503, "too_many_sessions", "too many open sessions", 5});
               if (!client_nonce.empty()) sess->nonce = client_nonce;
               struct Cleanup {
                 verify::SessionStore& store;
                 std::string id;
                 ~Cleanup() { store.Remove(id); }
               } cleanup{sessions, sess->id};
               std::lock_guard<std::mutex> lock(sess->mu);
               if (auto err = AnalyzeDocument(**lease, *sess, document->data, portrait_only))
                 return SendError(res, *err);
               document->data.Release();
               if (auto err = AnalyzeFrames(**lease, *sess, frames, ts, nullptr)) return SendError(res, *err);
               if (sess->frames_with_face == 0) return SendError(res, {422, "no_face", "no frame has a face"});
               try {
                 out = Decide(**lease, *sess);
               } catch (const Error&) {
                 return SendError(res, {500, "internal", "the decision could not be recorded"});
               }
               if (!client_nonce.empty()) sessions.SpendNonce("client:" + op->name + ":" + client_nonce);
             }
             SendJson(res, 200, out);
           }));
  }
};

Service::Service(const ServiceOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  std::filesystem::permissions(options.data_dir, std::filesystem::perms::owner_all, ec);
  impl_ = std::make_unique<Impl>(options);
  auto& m = *impl_;
  m.db = std::make_unique<audit::AuditDb>(options.data_dir + "/audit.db");
  face::AnalyzerOptions aopt;
  m.calibration = verify::LoadCalibration(options.calibration_path.empty() ? verify::DefaultCalibrationPath() : options.calibration_path,
                                          aopt.embedder);
  m.pool = std::make_unique<AnalyzerPool>(aopt, options.liveness_required, std::max(1, options.analysis_workers),
                                          std::max(0, options.analysis_queue));
  if (options.demo) {
    if (!IsLoopbackHost(options.host)) throw Error(ErrorCode::kInvalidArgument, "--demo only on a loopback --listen address");
    for (const auto& op : m.db->ListOperators()) {
      if (op.name == "demo") m.demo_operator = op;
    }
    if (!m.demo_operator) {
      m.db->AddOperator("demo", 600);  // its key is never needed: loopback requests without one act as it
      for (const auto& op : m.db->ListOperators()) {
        if (op.name == "demo") m.demo_operator = op;
      }
    }
  }
  m.layouts = document::LoadLayouts(options.layout_dir.empty() ? document::DefaultLayoutDir() : options.layout_dir);
  const auto& an = m.pool->any().analyzer;
  for (const nn::Model* model : {&an.detector().model(), &an.mesh_model().model(), &an.embedder().model()}) {
    m.model_hashes[model->name()] = model->sha256();
  }
  if (const auto* lv = m.pool->any().liveness.get()) {
    for (const nn::Model* model : lv->models()) m.model_hashes[model->name()] = model->sha256();
  }

  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    if (options.tls_cert.empty() || options.tls_key.empty()) throw Error(ErrorCode::kInvalidArgument, "--tls-cert and --tls-key go together");
    m.http = std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!m.http->is_valid()) throw Error(ErrorCode::kInvalidArgument, "cannot load the TLS certificate or key");
  } else {
    const bool loopback = IsLoopbackHost(options.host);
    if (!loopback && !options.allow_plain_http) {
      throw Error(ErrorCode::kInvalidArgument, "plain HTTP is only served on loopback; give --tls-cert/--tls-key (or --allow-plain-http)");
    }
    m.http = std::make_unique<httplib::Server>();
  }
  auto& http = *m.http;
  const size_t threads = static_cast<size_t>(std::max(2, options.connection_threads));
  const size_t queue = static_cast<size_t>(std::max(0, options.connection_queue));
  http.new_task_queue = [threads, queue] { return new BoundedTaskQueue(threads, queue); };
  // Debian's compiled httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG). Sixteen
  // clients connecting at once overflowed it: the kernel dropped handshakes, and about one
  // overload run in twenty had a connection reset after the 1 s SYN-ACK retry instead of an
  // answer. The hook sees only the listening socket; Bind() listens on it again, deeper.
  http.set_socket_options([&m](socket_t sock) {
    httplib::default_socket_options(sock);
    m.listen_fd = sock;
  });
  http.set_payload_max_length(options.max_body_bytes);
  http.set_read_timeout(options.read_timeout_s, 0);
  http.set_write_timeout(options.write_timeout_s, 0);
  http.set_keep_alive_timeout(options.keep_alive_timeout_s);
  http.set_keep_alive_max_count(100);
  http.set_pre_routing_handler([&m](const httplib::Request& req, httplib::Response& res) {
    t_body_left_unread = false;  // a connection whose answer was not written left it set
    if (t_overflow) {
      m.metrics.Count("idmatch_rejected_total", "reason=\"connections\"");
      // With a body, the route answers once it has drained it (DrainingUnreadBody).
      if (HasBody(req)) return httplib::Server::HandlerResponse::Unhandled;
      RefuseOverflow(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    // Refuse an oversized body from its Content-Length, before a byte of it is read.
    const std::string length = req.get_header_value("Content-Length");
    if (!length.empty()) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(length.c_str(), &end, 10);
      if (end == length.c_str() || *end != '\0' || n > m.opt.max_body_bytes) {
        SendError(res, {413, "payload_too_large", "request body over " + std::to_string(m.opt.max_body_bytes) + " bytes"});
        res.set_header("Connection", "close");
        t_body_left_unread = HasBody(req);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty() && res.get_header_value("Content-Type") == "application/json") return;
    static const std::map<int, std::pair<const char*, const char*>> kKnown = {
        {400, {"bad_request", "malformed request"}},
        {404, {"not_found", "no such endpoint"}},
        {405, {"method_not_allowed", "method not allowed"}},
        {413, {"payload_too_large", "request body too large"}},
        {414, {"uri_too_long", "request line too long"}},
        {415, {"unsupported_media_type", "unsupported media type"}},
        {416, {"range_not_satisfiable", "range not satisfiable"}},
        {431, {"headers_too_large", "request headers too large"}},
        {500, {"internal", "internal error"}},
        {503, {"unavailable", "service unavailable"}}};
    auto it = kKnown.find(res.status);
    const auto& [code, msg] = it != kKnown.end() ? it->second : std::pair<const char*, const char*>{"error", "request failed"};
    res.set_content(json{{"code", code}, {"message", msg}}.dump(), "application/json");
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    // Never a stack trace or an exception text that might quote input.
    SendError(res, {500, "internal", "internal error"});
  });
  http.set_logger([&m](const httplib::Request& req, const httplib::Response& res) {
    // Method, path (ids only, no query), status: never headers or bodies.
    m.metrics.Count("idmatch_http_requests_total", "status=\"" + std::to_string(res.status) + "\"");
    std::fprintf(stderr, "%s %s %s %d\n", audit::NowRfc3339().c_str(), req.method.c_str(), req.path.c_str(), res.status);
    CloseAfterUnreadBody(req);  // httplib logs once the answer is written
  });
  m.Routes();
  MountStaticFiles(http, DefaultWebRoot());  // the capture page (web/) at /
  m.sweeper = std::thread([&m] {
    std::unique_lock<std::mutex> lock(m.sweep_mu);
    while (!m.stopping) {
      m.sweep_cv.wait_for(lock, std::chrono::milliseconds(250));
      lock.unlock();
      const size_t n = m.sessions.Sweep();
      for (size_t i = 0; i < n; ++i) m.metrics.Count("idmatch_sessions_expired_total", "");
      lock.lock();
    }
  });
}

Service::~Service() {
  Stop();
  if (impl_->sweeper.joinable()) {
    {
      std::lock_guard<std::mutex> lock(impl_->sweep_mu);
      impl_->stopping = true;
    }
    impl_->sweep_cv.notify_all();
    impl_->sweeper.join();
  }
  impl_->sessions.Clear();
}

int Service::Bind() {
  auto& m = *impl_;
  if (m.opt.port == 0) {
    m.port = m.http->bind_to_any_port(m.opt.host);
    if (m.port <= 0) throw Error(ErrorCode::kInvalidArgument, "cannot bind " + m.opt.host);
  } else {
    if (!m.http->bind_to_port(m.opt.host, m.opt.port)) {
      throw Error(ErrorCode::kInvalidArgument, "cannot bind " + m.opt.host + ":" + std::to_string(m.opt.port));
    }
    m.port = m.opt.port;
  }
  // SOMAXCONN: the kernel caps it at net.core.somaxconn; the accept loop empties it at once, and
  // the bounded task queue answers the excess with 503 rather than the kernel with a reset.
  if (m.listen_fd < 0 || ::listen(m.listen_fd, SOMAXCONN) != 0) {
    throw Error(ErrorCode::kInternal, "cannot deepen the listen backlog on " + m.opt.host);
  }
  return m.port;
}

void Service::Serve() {
  auto& m = *impl_;
  m.listener_state = 1;
  if (!m.draining) m.http->listen_after_bind();
  m.listener_state = 2;
}

std::string Service::url() const {
  const bool tls = !impl_->opt.tls_cert.empty();
  return std::string(tls ? "https" : "http") + "://" + impl_->opt.host + ":" + std::to_string(impl_->port);
}

void Service::Drain() {
  auto& m = *impl_;
  m.draining = true;
  const auto deadline = Clock::now() + std::chrono::seconds(m.opt.drain_timeout_s);
  // Heavy work (analyses) is what can be in flight for long; the listener's stop() then lets
  // every connection thread finish the request it is serving before it joins.
  while (Clock::now() < deadline && !m.pool->Idle()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Stop();
}

void Service::Stop() {
  auto& m = *impl_;
  // A SIGTERM can arrive between the listener thread's start and httplib's listen loop: Serve()
  // then either sees `draining` and returns, or is inside listen and is stopped here.
  m.draining = true;
  if (m.http) {
    while (m.listener_state == 1 && !m.http->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (m.http->is_running()) m.http->stop();
  }
  m.sessions.Clear();
}

}  // namespace idm::server
