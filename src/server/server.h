// The verification service: HTTP/1.1 (HTTPS when given a certificate) on cpp-httplib.
// See docs/service.md for the design and docs/openapi.yaml for the API.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace idm::server {

struct ServiceOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (see Service::port)
  std::string data_dir = "./idmatch-data";
  std::string tls_cert, tls_key;      // both set: HTTPS
  bool allow_plain_http = false;      // plain HTTP on a non-loopback address
  int analysis_workers = 2;           // concurrent face analyses (one analyser each)
  int analysis_queue = 4;             // requests that may wait for an analyser; beyond: 503
  int connection_threads = 16;        // HTTP connections served at once
  int connection_queue = 64;          // accepted connections waiting for a thread; beyond: 503
  size_t max_body_bytes = 16u << 20;  // any request body
  size_t max_image_bytes = 10u << 20; // one image
  int max_frames_per_batch = 40, max_frames_per_session = 128;  // ~10 frames/s for the challenge
  std::chrono::seconds session_ttl{120};
  size_t max_sessions = 1000;
  int read_timeout_s = 10, write_timeout_s = 10, keep_alive_timeout_s = 5;
  int drain_timeout_s = 20;
  std::string calibration_path;       // empty: the default
  std::string layout_dir;             // document layouts; empty: the default
  // Liveness: a match also needs the challenge done live over the frames. Off only for
  // integrations that check liveness elsewhere (the receipt then says "not_checked").
  bool liveness_required = true;
  std::string fixed_challenge;        // tests and demos: the same actions for every session
  // Demo: requests from a loopback peer without an Authorization header act as the operator
  // "demo" (created if missing), so the page at / works on its own. Loopback listeners only.
  bool demo = false;
};

class Service {
 public:
  explicit Service(const ServiceOptions& options);  // loads models, keys, the audit database
  ~Service();
  // Binds; returns the port (resolves port 0). Throws Error when it cannot bind.
  int Bind();
  // Serves until Stop() (blocking).
  void Serve();
  // Graceful: stop admitting new work (readyz 503), wait for in-flight requests up to
  // drain_timeout_s, stop the listener, wipe every session.
  void Drain();
  void Stop();
  std::string url() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Overwrites `bytes` of the calling thread's stack below the current frame: the frames of the
// HTTP parser and the image decoders that ran there may hold request bytes.
void WipeStackBelow();

}  // namespace idm::server
