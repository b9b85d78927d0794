// `idmatch serve`, `idmatch operator`, `idmatch receipt verify` and `idmatch audit verify`.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "audit/audit_log.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "server/server.h"
#include "verify/receipt.h"

namespace idm::cli {

namespace {

using nlohmann::json;

std::string DataDir(const Args& args) { return args.Get("data-dir", "./idmatch-data"); }

void EnsureDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::kNotFound, "cannot create data dir '" + dir + "': " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
}

std::string ReadAll(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream f(path);
  if (!f) throw Error(ErrorCode::kNotFound, "cannot read '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// CAP_IPC_LOCK (bit 14 of the effective set) lifts RLIMIT_MEMLOCK.
bool HasCapIpcLock() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 14) & 1;
  }
  return false;
}

}  // namespace

// glibc's allocator wipes every block it frees (perturb) and keeps no per-thread cache of freed
// blocks (tcache would skip the wipe). This reaches buffers no idmatch code owns: the HTTP
// library's strings, libpng/libjpeg/zlib state. Tunables are read at process start: main
// re-executes serve once with them set.
bool AskForWipingMalloc() {
  constexpr const char* kTunables = "glibc.malloc.perturb=165:glibc.malloc.tcache_count=0";
  const char* cur = std::getenv("GLIBC_TUNABLES");
  if (cur != nullptr && std::strstr(cur, "glibc.malloc.perturb=") != nullptr) return false;
  if (const char* off = std::getenv("IDMATCH_NO_MALLOC_WIPE"); off != nullptr && *off == '1') return false;
  std::string value = kTunables;
  if (cur != nullptr && *cur != '\0') value = std::string(cur) + ":" + value;
  ::setenv("GLIBC_TUNABLES", value.c_str(), 1);
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer its allocator replaces glibc's: ask it to fill freed blocks instead.
  std::string asan = std::getenv("ASAN_OPTIONS") != nullptr ? std::getenv("ASAN_OPTIONS") : "";
  asan += std::string(asan.empty() ? "" : ":") + "max_free_fill_size=1073741824:free_fill_byte=165";
  ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
#endif
  return true;
}

int ServeCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"allow-plain-http", "demo"});
  args.AllowOnly({"listen", "data-dir", "tls-cert", "tls-key", "allow-plain-http", "workers", "queue", "threads",
                  "session-ttl", "calibration", "max-body-mb", "drain-timeout", "read-timeout", "liveness", "challenge",
                  "layouts", "demo"});
  server::ServiceOptions opt;
  const std::string listen = args.Get("listen", "127.0.0.1:8080");
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) throw Error(ErrorCode::kInvalidArgument, "--listen takes HOST:PORT");
  opt.host = listen.substr(0, colon);
  if (opt.host.size() > 2 && opt.host.front() == '[' && opt.host.back() == ']')
    opt.host = opt.host.substr(1, opt.host.size() - 2);
  try {
    opt.port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    throw Error(ErrorCode::kInvalidArgument, "--listen takes HOST:PORT");
  }
  opt.data_dir = DataDir(args);
  opt.tls_cert = args.Get("tls-cert");
  opt.tls_key = args.Get("tls-key");
  opt.allow_plain_http = args.Has("allow-plain-http");
  opt.analysis_workers = args.GetInt("workers", opt.analysis_workers);
  opt.analysis_queue = args.GetInt("queue", opt.analysis_queue);
  opt.connection_threads = args.GetInt("threads", opt.connection_threads);
  opt.session_ttl = std::chrono::seconds(args.GetInt("session-ttl", 120));
  opt.calibration_path = args.Get("calibration");
  opt.max_body_bytes = static_cast<size_t>(args.GetInt("max-body-mb", 16)) << 20;
  opt.drain_timeout_s = args.GetInt("drain-timeout", opt.drain_timeout_s);
  opt.read_timeout_s = args.GetInt("read-timeout", opt.read_timeout_s);
  if (opt.read_timeout_s < 1) throw Error(ErrorCode::kInvalidArgument, "--read-timeout takes whole seconds >= 1");
  opt.layout_dir = args.Get("layouts");
  const std::string liveness = args.Get("liveness", "required");
  if (liveness != "required" && liveness != "off")
    throw Error(ErrorCode::kInvalidArgument, "--liveness takes 'required' or 'off'");
  opt.liveness_required = liveness == "required";
  opt.fixed_challenge = args.Get("challenge");
  opt.demo = args.Has("demo");
  if (!opt.liveness_required)
    std::fprintf(stderr, "idmatch: WARNING: --liveness off: a photo of the card holder can pass\n");
  if (!opt.fixed_challenge.empty()) {
    std::fprintf(stderr, "idmatch: WARNING: --challenge: every session gets the same actions (tests and demos only)\n");
  }

  // Signals are taken by one thread (sigwait); every other thread is created with them blocked.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // Session data is mlock'ed (sodium_malloc) so that it is never swapped out, but libsodium
  // carries on unlocked when the lock limit is reached: take all the limit the host allows, and
  // say so when that is little (a session with liveness holds up to 128 frames).
  if (rlimit ml{}; ::getrlimit(RLIMIT_MEMLOCK, &ml) == 0) {
    ml.rlim_cur = ml.rlim_max;
    ::setrlimit(RLIMIT_MEMLOCK, &ml);
    if (ml.rlim_max != RLIM_INFINITY && ml.rlim_max < (rlim_t{64} << 20) && !HasCapIpcLock()) {
      std::fprintf(stderr,
                   "idmatch: WARNING: only %llu KiB may be locked in memory (ulimit -l); session data beyond that can "
                   "be swapped\n",
                   static_cast<unsigned long long>(ml.rlim_max >> 10));
    }
  }

  // The service parallelises across requests (one analyser per worker, one worker per core), so
  // OpenCV's own thread pool would only oversubscribe the cores; it also runs image operations on
  // threads no idmatch code owns, which ThreadSanitizer cannot follow through Debian's build.
  cv::setNumThreads(1);

  EnsureDataDir(opt.data_dir);
  server::Service service(opt);
  service.Bind();
  std::printf("idmatch: listening on %s\n", service.url().c_str());
  std::printf("  try:    curl -s %s/healthz\n", service.url().c_str());
  std::printf("  a key:  idmatch operator add NAME --data-dir %s   (prints KEY on its last line)\n",
              opt.data_dir.c_str());
  std::printf("  then:   curl -s -X POST -H \"Authorization: Bearer $KEY\" %s/v1/sessions\n", service.url().c_str());
  std::printf(
      "  or:     curl -s -H \"Authorization: Bearer $KEY\" -F document=@id.jpg -F frames=@selfie.jpg %s/v1/verify\n",
      service.url().c_str());
  std::printf(
      "          (one selfie cannot show the liveness challenge: expect \"liveness_failed\"; the page runs it)\n");
  if (opt.demo)
    std::printf("  page:   open %s/ in a browser on this machine (demo mode: no key needed from loopback)\n",
                service.url().c_str());
  std::fflush(stdout);
  std::thread listener([&] { service.Serve(); });
  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stderr, "idmatch: %s received, draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  service.Drain();
  listener.join();
  std::fprintf(stderr, "idmatch: stopped\n");
  return 0;
}

int OperatorCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json"});
  args.AllowOnly({"data-dir", "rate", "json"});
  const auto& pos = args.positional();
  const std::string dir = DataDir(args);
  if (pos.size() == 2 && pos[0] == "add") {
    EnsureDataDir(dir);
    verify::SigningKey::LoadOrCreate(dir);  // so that a later `serve` writes nothing but the audit db
    audit::AuditDb db(dir + "/audit.db");
    const int rate = args.GetInt("rate", 600);
    const std::string key = db.AddOperator(pos[1], rate);
    std::printf("operator '%s' added (%d requests per minute); its API key, shown only this once:\n%s\n",
                pos[1].c_str(), rate, key.c_str());
    return 0;
  }
  if (pos.size() == 1 && pos[0] == "list") {
    audit::AuditDb db(dir + "/audit.db");
    for (const auto& op : db.ListOperators()) std::printf("%s\t%d/min\n", op.name.c_str(), op.rate_per_minute);
    return 0;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "usage: idmatch operator add NAME [--rate PER_MINUTE] [--data-dir DIR] | operator list");
}

int ReceiptCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json"});
  args.AllowOnly({"data-dir", "jwks", "json", "file"});
  const auto& pos = args.positional();
  if (pos.empty() || pos[0] != "verify" || pos.size() > 2 || (pos.size() == 1) == !args.Has("file")) {
    throw Error(ErrorCode::kInvalidArgument,
                "usage: idmatch receipt verify TOKEN|--file FILE|- [--jwks JWKS.json | --data-dir DIR] [--json]");
  }
  const std::string token = Trim(pos.size() == 2 ? (pos[1] == "-" ? ReadAll("-") : pos[1]) : ReadAll(args.Get("file")));
  json jwks;
  if (args.Has("jwks")) {
    jwks = json::parse(ReadAll(args.Get("jwks")), nullptr, false);
    if (jwks.is_discarded()) throw Error(ErrorCode::kInvalidArgument, "--jwks is not JSON");
  } else {
    const verify::SigningKey key = verify::SigningKey::LoadOrCreate(DataDir(args), false);
    jwks = {{"keys", json::array({key.PublicJwk()})}};
  }
  const verify::JwsCheck c = verify::VerifyJws(token, jwks);
  if (args.Has("json")) {
    json out = {{"valid", c.valid}};
    if (c.valid)
      out["claims"] = c.claims;
    else
      out["reason"] = c.reason;
    std::printf("%s\n", out.dump(2).c_str());
  } else if (c.valid) {
    std::printf("valid receipt (kid %s)\n%s\n", c.header.value("kid", "").c_str(), c.claims.dump(2).c_str());
  } else {
    std::printf("INVALID receipt: %s\n", c.reason.c_str());
  }
  return c.valid ? 0 : 1;
}

int AuditCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json"});
  args.AllowOnly({"data-dir", "json"});
  const auto& pos = args.positional();
  if (pos.size() != 1 || pos[0] != "verify")
    throw Error(ErrorCode::kInvalidArgument, "usage: idmatch audit verify [--data-dir DIR] [--json]");
  const std::string path = DataDir(args) + "/audit.db";
  if (!std::filesystem::exists(path)) throw Error(ErrorCode::kNotFound, "no audit database at '" + path + "'");
  audit::AuditDb db(path);
  const audit::ChainReport r = db.VerifyChain();
  if (args.Has("json")) {
    json out = {{"ok", r.ok}, {"rows", r.rows}};
    if (!r.ok) out["first_broken_row"] = r.first_broken, out["reason"] = r.reason;
    std::printf("%s\n", out.dump(2).c_str());
  } else if (r.ok) {
    std::printf("audit chain OK: %lld rows\n", static_cast<long long>(r.rows));
  } else {
    std::printf("audit chain BROKEN at row %lld: %s\n", static_cast<long long>(r.first_broken), r.reason.c_str());
  }
  return r.ok ? 0 : 1;
}

}  // namespace idm::cli
