// Helpers for the service tests: run `idmatch` commands, start `idmatch serve` on 127.0.0.1 at a
// free port (optionally under strace) and stop it, raw HTTP, the JWS checker in tests/js.
// Face images are only ever read from the shared LFW files into memory; nothing biometric is
// written to disk by these helpers.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.h"

extern char** environ;

namespace idm::test {

struct ProcResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::vector<std::string> ChildEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    // What idmatch sets for itself is left for it to set (the tests check that it does).
    if (std::strncmp(*e, "IDMATCH_", 8) != 0 && std::strncmp(*e, "GLIBC_TUNABLES=", 15) != 0 &&
        std::strncmp(*e, "OMP_THREAD_LIMIT=", 17) != 0)
      env.emplace_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

inline std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs a program to completion; stdout through a pipe, stderr into a temp file.
inline ProcResult Run(std::vector<std::string> argv_s, const std::vector<std::string>& env = {}) {
  ProcResult r;
  ScopedTempDir tmp;
  const std::string err_path = tmp.File("stderr.txt");
  auto argv = CStrings(argv_s);
  auto env_s = ChildEnv(env);
  auto envp = CStrings(env_s);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    ADD_FAILURE() << "spawn " << argv_s[0] << ": " << std::strerror(rc);
    return r;
  }
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    r.out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const auto err = ReadBytes(err_path);
  r.err.assign(err.begin(), err.end());
  return r;
}

inline ProcResult RunIdmatch(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), IDMATCH_BINARY);
  return Run(args, env);
}

inline std::string LastLine(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// `idmatch operator add NAME` in `data_dir`; returns the API key (last line of its output).
inline std::string AddOperator(const std::string& data_dir, const std::string& name, int rate = 600) {
  const ProcResult r = RunIdmatch({"operator", "add", name, "--data-dir", data_dir, "--rate", std::to_string(rate)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return LastLine(r.out);
}

// `idmatch serve` on 127.0.0.1 at a free port, stopped (SIGTERM, then SIGKILL) when destroyed.
class ServerProcess {
 public:
  // `strace_out`: run under `strace -f -e trace=%file -o strace_out`.
  ServerProcess(const std::string& data_dir, std::vector<std::string> extra_args = {},
                const std::string& strace_out = "", const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv_s;
    if (!strace_out.empty()) argv_s = {"strace", "-f", "-qq", "-e", "trace=%file", "-o", strace_out};
    argv_s.insert(argv_s.end(), {IDMATCH_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir});
    argv_s.insert(argv_s.end(), extra_args.begin(), extra_args.end());
    auto argv = CStrings(argv_s);
    auto env_s = ChildEnv(env);
    auto envp = CStrings(env_s);
    err_path_ = tmp_.File("server.stderr");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int rc = posix_spawnp(&spawned_, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      ADD_FAILURE() << "spawn: " << std::strerror(rc);
      spawned_ = 0;
      return;
    }
    // The first stdout line is "idmatch: listening on http://127.0.0.1:PORT" (after models load).
    std::string out;
    char c;
    while (out.find('\n') == std::string::npos && ::read(fds[0], &c, 1) == 1) out += c;
    out_fd_ = fds[0];
    const std::string tag = "://127.0.0.1:";
    const size_t at = out.find("listening on http") == std::string::npos ? std::string::npos : out.find(tag);
    if (at == std::string::npos) {
      ADD_FAILURE() << "server did not start: " << out << "\n" << Stderr();
      return;
    }
    port_ = std::stoi(out.substr(at + tag.size()));
    server_pid_ = spawned_;
    if (!strace_out.empty()) {
      // strace's child is the server.
      std::ifstream children("/proc/" + std::to_string(spawned_) + "/task/" + std::to_string(spawned_) + "/children");
      children >> server_pid_;
    }
  }
  ~ServerProcess() { Stop(); }

  // SIGTERM and wait (up to `timeout_s`); returns the exit code (or 128+signal).
  int Stop(int timeout_s = 40) {
    if (spawned_ <= 0) return exit_code_;
    // A server that never said "listening" has no server_pid_ yet: kill(0, ...) would signal our
    // whole process group (ctest included).
    if (server_pid_ <= 0) server_pid_ = spawned_;
    ::kill(server_pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
      const pid_t w = ::waitpid(spawned_, &status, WNOHANG);
      if (w == spawned_) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(server_pid_, SIGKILL);
        ::kill(spawned_, SIGKILL);
        ::waitpid(spawned_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    spawned_ = 0;
    if (out_fd_ >= 0) ::close(out_fd_), out_fd_ = -1;
    return exit_code_;
  }

  // Sends `sig` and returns the raw wait status (for WCOREDUMP), or -1 if not running.
  int KillAndWaitStatus(int sig) {
    if (spawned_ <= 0 || server_pid_ <= 0) return -1;
    ::kill(server_pid_, sig);
    int status = 0;
    while (::waitpid(spawned_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    spawned_ = 0;
    if (out_fd_ >= 0) ::close(out_fd_), out_fd_ = -1;
    return status;
  }

  int port() const { return port_; }
  pid_t pid() const { return server_pid_; }
  bool ok() const { return port_ > 0; }
  std::string Stderr() const {
    const auto b = ReadBytes(err_path_);
    return std::string(b.begin(), b.end());
  }
  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(120, 0);
    c->set_write_timeout(60, 0);
    return c;
  }

 private:
  ScopedTempDir tmp_;
  std::string err_path_;
  pid_t spawned_ = 0, server_pid_ = 0;
  int port_ = -1, out_fd_ = -1, exit_code_ = -1;
};

// A TCP connection to 127.0.0.1:port (receive timeout `timeout_s`, 0 = none), or -1.
inline int ConnectLoopback(int port, int timeout_s = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (timeout_s > 0) {  // SO_SNDTIMEO also bounds connect(): a dropped handshake retries for minutes
    timeval tv{timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends raw bytes to 127.0.0.1:port, returns everything the server answered.
inline std::string RawHttp(int port, const std::string& bytes, int timeout_s = 30) {
  const int fd = ConnectLoopback(port, timeout_s);
  if (fd < 0) return "";
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  // No half-close: httplib does not answer a peer that has shut its sending side. The tests send
  // "Connection: close" or requests the server closes on, and reading ends at EOF or the timeout.
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

inline int RawStatus(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return -1;
  return std::stoi(response.substr(9, 3));
}
inline std::string RawBody(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

inline std::string Lfw(const std::string& rel) { return SharedDir() + "/data/faces/lfw_view2/images/" + rel; }
inline std::string ReadString(const std::string& path) {
  const auto b = ReadBytes(path);
  return std::string(b.begin(), b.end());
}

inline std::string JsDir() { return std::string(IDMATCH_SOURCE_DIR) + "/tests/js"; }

// Verifies `token` against `jwks` with npm jose (tests/js); returns its JSON verdict.
inline nlohmann::json JoseVerify(const nlohmann::json& jwks, const std::string& token) {
  const ProcResult r = Run({"node", JsDir() + "/verify_receipt.mjs", jwks.dump(), token});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return nlohmann::json::parse(r.out, nullptr, false);
}

inline bool JoseInstalled() { return Exists(JsDir() + "/node_modules/jose/package.json"); }

}  // namespace idm::test
