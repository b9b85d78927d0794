// Two controls of docs/threat-model.md, checked on the running `idmatch serve`:
//   * no core dump: a crash of the serving process (which holds face images and document text
//     while sessions are open) must not write its memory to disk;
//   * no swap: the frames a session holds sit in locked memory (mlock), which is never swapped out;
//   * slow clients: a client that stops sending in the middle of its headers or body is cut off
//     by the read timeout, and the connection thread it held serves others again;
//   * a burst of connections: all wait in the kernel's accept queue (httplib's own backlog of 5
//     made the kernel drop handshakes, and reset about one overload run in twenty);
//   * early answers: a request refused before its body is read (401, 503) still gets its answer.
//     Closing a socket with unread data makes the kernel send a reset, which can destroy the
//     answer before the client reads it (it did: 1 in ~16 overload 503s in CI).
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server_harness.h"
#include "test_util.h"

namespace idm {
namespace {

namespace fs = std::filesystem;

bool AnyCoreFile(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("core", 0) == 0) return true;
  }
  return false;
}

// "Max core file size  SOFT  HARD  bytes" from /proc/PID/limits.
std::pair<std::string, std::string> CoreLimitOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("Max core file size", 0) != 0) continue;
    std::istringstream rest(line.substr(std::string("Max core file size").size()));
    std::string soft, hard;
    rest >> soft >> hard;
    return {soft, hard};
  }
  return {"?", "?"};
}

// Runs `sh -c "kill -QUIT $$"` in `dir` with an unlimited core size: does this machine dump cores
// at all? (core_pattern may discard them; then the server's check below proves less.)
bool ShellDumpsCoreIn(const std::string& dir) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(127);
    ::execl("/bin/sh", "sh", "-c", "kill -QUIT $$", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFSIGNALED(status) && WCOREDUMP(status);
}

TEST(ServerHardening, ServeLeavesNoCoreDumpWhenItCrashes) {
  // The server must inherit a core limit that allows dumping, so that only its own setting
  // (DisableCoreDumps: RLIMIT_CORE 0, not dumpable) can prevent the dump.
  rlimit lim{RLIM_INFINITY, RLIM_INFINITY};
  if (::setrlimit(RLIMIT_CORE, &lim) != 0) {
    ::getrlimit(RLIMIT_CORE, &lim);
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_CORE, &lim);
  }
  ::getrlimit(RLIMIT_CORE, &lim);
  if (lim.rlim_cur == 0) GTEST_SKIP() << "the hard core-size limit is 0 here: no process can dump";

  test::ScopedTempDir dir;
  const std::string cwd = dir.File("cwd");
  fs::create_directories(cwd);
  const bool machine_dumps = ShellDumpsCoreIn(cwd);
  for (const auto& e : fs::directory_iterator(cwd)) fs::remove(e.path());
  if (!machine_dumps)
    std::printf("  note: a plain shell dumps no core here either (core_pattern); the limits check still holds\n");

  // The server's working directory is where core_pattern "core" would put its dump.
  const fs::path back = fs::current_path();
  fs::current_path(cwd);
  test::ServerProcess server(dir.File("data"), {"--liveness", "off", "--workers", "1"});
  fs::current_path(back);
  ASSERT_TRUE(server.ok()) << server.Stderr();

  const auto [soft, hard] = CoreLimitOf(server.pid());
  EXPECT_EQ(soft, "0");
  EXPECT_EQ(hard, "0");

  const int status = server.KillAndWaitStatus(SIGQUIT);  // default action: terminate with a core
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGQUIT);
  EXPECT_FALSE(WCOREDUMP(status)) << "the kernel wrote a core dump of the serving process";
  EXPECT_FALSE(AnyCoreFile(cwd));
}

// Kilobytes of the process's memory locked in RAM (the sum of "Locked:" over its mappings).
long LockedKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string key;
  long kb = 0;
  while (f >> key) {
    if (key == "Locked:") {
      f >> kb;
      return kb;
    }
  }
  return -1;
}

// ASan and TSan replace mlock with a no-op (their shadow memory cannot be locked), so the server
// built with them locks nothing: there this test has nothing to observe.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerMakesMlockANoOp = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizerMakesMlockANoOp = true;
#else
constexpr bool kSanitizerMakesMlockANoOp = false;
#endif
#else
constexpr bool kSanitizerMakesMlockANoOp = false;
#endif

// Tesseract's OpenMP threads slow the MRZ read down and take the other workers' cores; idmatch
// re-executes itself with OMP_THREAD_LIMIT=1 (the harness does not pass the variable on), and
// serve, in the same re-execution, with the malloc tunables that wipe freed blocks.
TEST(ServerHardening, ServerRunsTesseractOnOneOpenMpThread) {
  test::ScopedTempDir dir;
  test::ServerProcess server(dir.path(), {"--workers", "1", "--liveness", "off"});
  ASSERT_TRUE(server.ok());
  std::ifstream in("/proc/" + std::to_string(server.pid()) + "/environ", std::ios::binary);
  std::string var, found, tunables;
  while (std::getline(in, var, '\0')) {
    if (var.rfind("OMP_THREAD_LIMIT=", 0) == 0) found = var;
    if (var.rfind("GLIBC_TUNABLES=", 0) == 0) tunables = var;
  }
  EXPECT_EQ(found, "OMP_THREAD_LIMIT=1");
  EXPECT_NE(tunables.find("glibc.malloc.perturb=165"), std::string::npos) << tunables;
}

TEST(ServerHardening, SessionFramesAreHeldInLockedMemoryUntilTheSessionEnds) {
  if (kSanitizerMakesMlockANoOp) GTEST_SKIP() << "sanitizer build: mlock is a no-op";
  const std::string face = test::Lfw("Aaron_Peirsol/Aaron_Peirsol_0003.jpg");
  if (!test::Exists(face)) GTEST_SKIP() << "LFW images missing";
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "shop");
  // Liveness on: the session keeps every frame for the sequence check (off, it keeps only the
  // best frame's embedding).
  test::ServerProcess server(dir.path(), {"--workers", "1"});
  ASSERT_TRUE(server.ok()) << server.Stderr();
  auto cli = server.Client();
  const httplib::Headers auth = {{"Authorization", "Bearer " + key}};
  auto open = cli->Post("/v1/sessions", auth, "", "application/json");
  ASSERT_TRUE(open && open->status == 201);
  const std::string id = nlohmann::json::parse(open->body)["session_id"];
  const long before = LockedKb(server.pid());
  ASSERT_GE(before, 0) << "no /proc/PID/smaps_rollup";

  // 40 frames (~0.5 MB of JPEG) stay in the session until the decision or the end of the session.
  const std::string jpeg = test::ReadString(face);
  httplib::MultipartFormDataItems items;
  std::vector<int64_t> ts;
  for (int i = 0; i < 40; ++i) {
    items.push_back({"frames", jpeg, "f" + std::to_string(i) + ".jpg", "image/jpeg"});
    ts.push_back(1000 + 40 * i);
  }
  items.push_back({"timestamps", nlohmann::json(ts).dump(), "", "application/json"});
  auto frames = cli->Post(("/v1/sessions/" + id + "/frames").c_str(), auth, items);
  ASSERT_TRUE(frames && frames->status == 200) << (frames ? frames->body : "no response");
  const long held = LockedKb(server.pid());
  const long frames_kb = static_cast<long>(40 * jpeg.size() / 1024);
  EXPECT_GE(held - before, frames_kb) << "locked " << before << " kB -> " << held << " kB for " << frames_kb
                                      << " kB of frames";

  // Ending the session wipes and releases them.
  auto del = cli->Delete(("/v1/sessions/" + id).c_str(), auth);
  ASSERT_TRUE(del);
  EXPECT_LT(del->status, 300) << del->body;
  EXPECT_LT(LockedKb(server.pid()), held - frames_kb / 2);
  EXPECT_EQ(server.Stop(), 0) << server.Stderr();
}

// Waits (up to `deadline_s`) for the server to close the connection; true if it did. Whatever
// it sends first (an error response, or nothing) is read and ignored.
bool ServerClosesWithin(int fd, int deadline_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_s);
  char buf[512];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;  // EOF or reset
  }
}

TEST(ServerHardening, StalledClientsAreCutOffByTheReadTimeout) {
  test::ScopedTempDir dir;
  // Two connection threads, both taken by clients that stop sending: one in its headers, one in
  // its body. A third client queues behind them and must be served once the timeout frees them.
  test::ServerProcess server(dir.path(),
                             {"--liveness", "off", "--workers", "1", "--threads", "2", "--read-timeout", "2"});
  ASSERT_TRUE(server.ok()) << server.Stderr();
  const int in_headers = test::ConnectLoopback(server.port()), in_body = test::ConnectLoopback(server.port());
  ASSERT_GE(in_headers, 0);
  ASSERT_GE(in_body, 0);
  const std::string partial_headers = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  const std::string partial_body =
      "POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
      "1000\r\n\r\n{\"a\":";
  ASSERT_EQ(::send(in_headers, partial_headers.data(), partial_headers.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial_headers.size()));
  ASSERT_EQ(::send(in_body, partial_body.data(), partial_body.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial_body.size()));

  auto client = server.Client();
  client->set_read_timeout(30, 0);
  const auto res = client->Get("/healthz");
  ASSERT_TRUE(res) << "the third client was not served";
  EXPECT_EQ(res->status, 200);

  // The deadline is generous (the timeout is 2 s): this checks that they are cut off, not how fast.
  EXPECT_TRUE(ServerClosesWithin(in_headers, 20)) << "a client stalled in its headers kept its connection";
  EXPECT_TRUE(ServerClosesWithin(in_body, 20)) << "a client stalled in its body kept its connection";
  ::close(in_headers);
  ::close(in_body);
  EXPECT_EQ(server.Stop(), 0) << server.Stderr();
}

// The accept-queue length of the socket listening on 127.0.0.1:port (rx_queue in /proc/net/tcp).
int AcceptQueueLength(int port) {
  std::ifstream f("/proc/net/tcp");
  std::string line;
  char want[32];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state, queues;
    in >> slot >> local >> remote >> state >> queues;
    if (local == want && state == "0A")
      return static_cast<int>(std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16));
  }
  return -1;
}

TEST(ServerHardening, ABurstOfConnectionsWaitsInTheAcceptQueueAndIsServed) {
  test::ScopedTempDir dir;
  test::ServerProcess server(dir.path(), {"--liveness", "off", "--workers", "1"});
  ASSERT_TRUE(server.ok()) << server.Stderr();
  // Stopped, the server accepts nothing: the burst can only wait in the kernel's queue.
  ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
  constexpr int kBurst = 40;
  std::vector<int> fds;
  for (int i = 0; i < kBurst; ++i) fds.push_back(test::ConnectLoopback(server.port(), 1));
  int queued = -1;
  for (int wait = 0; wait < 50 && queued < kBurst; ++wait) {  // the last handshakes settle within ms
    queued = AcceptQueueLength(server.port());
    ::usleep(20000);
  }
  ::kill(server.pid(), SIGCONT);
  EXPECT_EQ(queued, kBurst) << "connections the kernel could not queue (a backlog of 5 queues 6)";
  EXPECT_EQ(std::count(fds.begin(), fds.end(), -1), 0) << "connections that were not even accepted by the kernel";
  int answered = 0;
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  for (const int fd : fds) {
    if (fd < 0 || ::send(fd, get.data(), get.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(get.size())) continue;
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
    answered += test::RawStatus(out) == 200;
  }
  for (const int fd : fds) ::close(fd);
  EXPECT_EQ(answered, kBurst);
  EXPECT_EQ(server.Stop(), 0) << server.Stderr();
}

TEST(ServerHardening, ARequestRefusedBeforeItsBodyIsReadStillGetsItsAnswer) {
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "early", 1000);
  test::ServerProcess server(dir.path(), {"--liveness", "off", "--workers", "1"});
  ASSERT_TRUE(server.ok()) << server.Stderr();
  // 8 MB: more than loopback's socket buffers hold, so an unread body is still in flight when
  // the server answers. No credentials: refused with 401 before any of it is read.
  const std::string junk(8u << 20, 'x');
  std::signal(SIGPIPE, SIG_IGN);  // a server that closes early must show up as a failed check, not kill the test
  for (int i = 0; i < 3; ++i) {
    auto client = server.Client();
    const auto multipart =
        client->Post("/v1/verify", httplib::MultipartFormDataItems{{"portrait", junk, "p.jpg", "image/jpeg"}});
    ASSERT_TRUE(multipart) << "multipart: no answer, transport error " << static_cast<int>(multipart.error());
    EXPECT_EQ(multipart->status, 401);
    const auto raw = client->Post("/v1/sessions/abc/document", junk, "image/jpeg");
    ASSERT_TRUE(raw) << "raw body: no answer, transport error " << static_cast<int>(raw.error());
    EXPECT_EQ(raw->status, 401);
    // Authenticated, but the session does not exist: 404, again before the body is read.
    const auto unknown =
        client->Post("/v1/sessions/abc/document", {{"Authorization", "Bearer " + key}}, junk, "image/jpeg");
    ASSERT_TRUE(unknown) << "unknown session: no answer, transport error " << static_cast<int>(unknown.error());
    EXPECT_EQ(unknown->status, 404);
  }
  EXPECT_EQ(server.Stop(), 0) << server.Stderr();
}

// What follows a body the server stopped reading must never be taken for requests: before, a
// sender slower than the drain deadline had the rest of its body parsed as the next requests,
// and the "GET /healthz" inside it answered.
TEST(ServerHardening, ABodyLeftUnreadIsNeverParsedAsRequests) {
  test::ScopedTempDir dir;
  test::ServerProcess server(dir.path(), {"--liveness", "off", "--workers", "1"});
  ASSERT_TRUE(server.ok()) << server.Stderr();
  std::string requests;
  while (requests.size() < (256u << 10)) requests += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const int fd = test::ConnectLoopback(server.port());
  ASSERT_GE(fd, 0);
  // No credentials: refused with 401 before the body is read; its first byte comes after the
  // 3 s the server spends draining an unread body, the rest (requests) right behind it.
  const std::string head =
      "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(1 + requests.size()) + "\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  const std::string body = "{" + requests;
  for (size_t sent = 0; sent < body.size();) {
    const ssize_t n = ::send(fd, body.data() + sent, body.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close once it has answered: that is allowed
    sent += static_cast<size_t>(n);
  }
  std::string answers;
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 15000) > 0) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answers.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(test::RawStatus(answers), 401) << answers.substr(0, 300);
  EXPECT_EQ(answers.find("HTTP/1.1 ", 1), std::string::npos) << "answered more than once: " << answers.substr(0, 600);
  EXPECT_NE(answers.find("Connection: close"), std::string::npos) << answers.substr(0, 300);
  EXPECT_EQ(server.Stop(), 0) << server.Stderr();
}

}  // namespace
}  // namespace idm
