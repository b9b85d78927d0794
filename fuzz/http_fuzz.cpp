// The HTTP service end to end: HTTP/1.1 request parsing (cpp-httplib), routing, authentication,
// every JSON body and every multipart body of the API (src/server/server.h).
//
// LLVMFuzzerInitialize starts one idm::server::Service on 127.0.0.1 (port 0) with a data dir in
// /dev/shm and an operator created through the audit database, as `idmatch operator add` does.
// Each input is a raw byte stream written to a fresh loopback connection; the responses are read
// back until every complete request has its answer (or the server closes, or a deadline). Placeholders in the input are substituted first:
//   @KEY@    the operator's API key
//   @SID@    the id of a session created for this input (deleted afterwards)
//   @NONCE@  that session's nonce
//   @RAND@   a string unique to this input (client nonces of /v1/verify)
// Findings (abort): a 5xx other than 503, or a server that stops answering /healthz. Error
// responses that are not JSON, and complete requests dropped without an answer, are reported.
// With IDMATCH_FUZZ_SEED_DIR set, one raw request per endpoint is written there as seeds
// (HTTP_FUZZ_FACE: a face image for two more seeds that reach a decision; off by default, as
// every mutation that keeps the images whole then costs seconds of face analysis under ASan).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "audit/audit_log.h"
#include "server/server.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

int g_port = 0;
std::string g_key;
std::string g_dir;  // the service's data dir in /dev/shm, removed at exit
uint64_t g_counter = 0;
uint64_t g_non_json_errors = 0;
// The harness's own messages: a duplicate of the original stderr, which still works when
// -close_fd_mask=2 (fuzz/http_fuzz.options) silences the service's request log on fd 2.
FILE* g_err = stderr;

struct Response {
  int status = 0;
  std::string headers, body;
  bool whole = true;  // the whole body is here
};

// How many complete requests `s` holds back to back (headers, then a Content-Length or chunked
// body), and whether anything incomplete follows them -- roughly as an HTTP/1.1 server frames them.
struct Framing {
  size_t complete = 0;
  bool trailing_partial = false;
};
Framing FrameRequests(const std::string& s) {
  Framing f;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t head_end = s.find("\r\n\r\n", pos);
    if (head_end == std::string::npos) return f.trailing_partial = true, f;
    const std::string head = s.substr(pos, head_end - pos);
    size_t body_end = head_end + 4;
    bool chunked = false;
    unsigned long long length = 0;
    for (size_t at = 0; (at = head.find("\r\n", at)) != std::string::npos;) {
      at += 2;
      if (strncasecmp(head.c_str() + at, "Content-Length:", 15) == 0) length = std::strtoull(head.c_str() + at + 15, nullptr, 10);
      if (strncasecmp(head.c_str() + at, "Transfer-Encoding:", 18) == 0 && head.find("chunked", at) != std::string::npos) chunked = true;
    }
    if (chunked) {
      const size_t end = s.find("\r\n0\r\n\r\n", head_end + 2);
      if (end == std::string::npos) return f.trailing_partial = true, f;
      body_end = end + 7;
    } else {
      if (length > s.size() - body_end) return f.trailing_partial = true, f;
      body_end += length;
    }
    ++f.complete;
    pos = body_end;
  }
  return f;
}

// Sends `bytes` on a new connection and reads until `want` responses have arrived, the server
// closes, or the deadline passes (*closed tells whether the server closed). A request the server
// would wait on for more bytes is followed by a half-close, so that it fails at once: cpp-httplib
// never writes to a half-closed connection, so a complete request must not be half-closed.
std::string Exchange(const std::string& bytes, std::chrono::milliseconds deadline, bool* closed, size_t* responses = nullptr);

std::vector<Response> ParseResponses(const std::string& s);

std::string Exchange(const std::string& bytes, std::chrono::milliseconds deadline, bool* closed, size_t* responses) {
  *closed = false;
  const Framing framing = FrameRequests(bytes);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(g_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return {};
  }
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  // The service writes a response's head and body separately: with Nagle on its side and delayed
  // ACKs on ours, every exchange would stall 40 ms. Quick ACKs (re-armed after each read) avoid it.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  // The server may answer (413, 400) and close before it has read everything: a failed send is fine.
  for (size_t off = 0; off < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  const bool half_close = framing.trailing_partial || framing.complete == 0;
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string out;
  size_t got = 0;
  const auto end = Clock::now() + deadline;
  char buf[16384];
  for (;;) {
    if (!half_close && got >= framing.complete) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *closed = true;  // EOF or reset: the server is done with this connection
      break;
    }
    out.append(buf, static_cast<size_t>(n));
    ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    const auto rs = ParseResponses(out);
    got = static_cast<size_t>(std::count_if(rs.begin(), rs.end(), [](const Response& r) { return r.whole; }));
  }
  if (!*closed && !half_close && got >= framing.complete) *closed = true;  // answered everything
  ::close(fd);
  if (responses != nullptr) *responses = framing.complete;
  return out;
}

// Splits a byte stream into responses (status line, headers, Content-Length body).
std::vector<Response> ParseResponses(const std::string& s) {
  std::vector<Response> out;
  size_t pos = 0;
  while (pos < s.size() && s.compare(pos, 7, "HTTP/1.") == 0) {
    const size_t head_end = s.find("\r\n\r\n", pos);
    if (head_end == std::string::npos || head_end - pos < 12) break;
    Response r;
    r.status = std::atoi(s.c_str() + pos + 9);
    r.headers = s.substr(pos, head_end - pos);
    size_t len = 0;
    for (size_t at = 0; (at = r.headers.find("\r\n", at)) != std::string::npos;) {
      at += 2;
      if (strncasecmp(r.headers.c_str() + at, "Content-Length:", 15) == 0) len = std::strtoul(r.headers.c_str() + at + 15, nullptr, 10);
    }
    pos = head_end + 4;
    // A body not all here (or none coming: the answer to HEAD) still counts; parsing stops there.
    const bool whole = len <= s.size() - pos;
    r.body = s.substr(pos, len);
    pos += std::min(len, s.size() - pos);
    r.whole = whole;
    out.push_back(std::move(r));
    if (!whole) break;
  }
  return out;
}


std::string Request(const std::string& method, const std::string& path, const std::string& body = {},
                    const std::string& content_type = "application/json") {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer @KEY@\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST") r += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
}

bool Healthy() {
  bool closed = false;
  const std::string raw = Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", std::chrono::seconds(5), &closed);
  const auto rs = ParseResponses(raw);
  return !rs.empty() && rs[0].status == 200;
}

// A fresh session for inputs that name one: {id, nonce}, or empty when the server refuses (503).
std::pair<std::string, std::string> NewSession() {
  std::string req = Request("POST", "/v1/sessions");
  ReplaceAll(req, "@KEY@", g_key);
  bool closed = false;
  const auto rs = ParseResponses(Exchange(req, std::chrono::seconds(5), &closed));
  if (rs.empty() || rs[0].status != 201) return {};
  const json j = json::parse(rs[0].body, nullptr, false);
  if (!j.is_object() || !j.contains("session_id") || !j.contains("nonce")) return {};
  return {j["session_id"].get<std::string>(), j["nonce"].get<std::string>()};
}

std::string Multipart(const std::vector<std::pair<std::string, std::pair<std::string, std::string>>>& parts, const std::string& boundary) {
  std::string body;
  for (const auto& [name, part] : parts) {
    const auto& [content_type, data] = part;
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (content_type != "text/plain") body += "; filename=\"" + name + ".bin\"";
    body += "\r\nContent-Type: " + content_type + "\r\n\r\n" + data + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

void WriteSeeds(const std::string& dir) {
  std::filesystem::create_directories(dir);
  auto put = [&](const std::string& name, const std::string& bytes) { std::ofstream(dir + "/" + name, std::ios::binary) << bytes; };
  // Tiny images (no face: the decoders and the analyser's early exits), and a face when given one.
  std::vector<uchar> png, jpg;
  cv::Mat img(24, 32, CV_8UC3, cv::Scalar(40, 120, 200));
  cv::imencode(".png", img, png);
  cv::imencode(".jpg", img, jpg);
  const std::string tiny_png(png.begin(), png.end()), tiny_jpg(jpg.begin(), jpg.end());
  std::string face;
  if (const char* f = std::getenv("HTTP_FUZZ_FACE"); f != nullptr && *f != '\0') {
    std::ifstream in(f, std::ios::binary);
    face.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string b = "idmatchfuzzboundary";
  const std::string mp = "multipart/form-data; boundary=" + b;

  put("get-healthz", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  put("get-readyz-metrics-pipelined", "GET /readyz HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  put("get-keys", Request("GET", "/v1/keys"));
  put("get-page", "GET /index.html?lang=ko HTTP/1.1\r\nHost: a\r\nRange: bytes=0-99\r\nConnection: close\r\n\r\n");
  put("post-sessions-json", Request("POST", "/v1/sessions", R"({"locale":"ko","challenge":["blink",1,null,{"a":[1.5e3,true]}]})"));
  put("post-sessions-empty", "POST /v1/sessions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer @KEY@\r\n\r\n");
  put("post-sessions-chunked",
      "POST /v1/sessions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer @KEY@\r\nTransfer-Encoding: chunked\r\n"
      "Content-Type: application/json\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n");
  put("post-sessions-badkey", "POST /v1/sessions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer nope\r\nContent-Length: 2\r\n\r\n{}");
  put("post-document-png", Request("POST", "/v1/sessions/@SID@/document", tiny_png, "image/png"));
  put("post-document-jpeg", Request("POST", "/v1/sessions/@SID@/document", tiny_jpg, "image/jpeg"));
  put("post-frames", Request("POST", "/v1/sessions/@SID@/frames",
                             Multipart({{"frames", {"image/png", tiny_png}}, {"frames", {"image/jpeg", tiny_jpg}},
                                        {"timestamps", {"text/plain", "[100, 200]"}}}, b), mp));
  put("post-decision", Request("POST", "/v1/sessions/@SID@/decision", R"({"nonce":"@NONCE@"})"));
  put("post-decision-other", Request("POST", "/v1/sessions/@SID@/decision", R"({"nonce":"@RAND@","extra":[{},[],-0.0,1e308]})"));
  put("delete-session", Request("DELETE", "/v1/sessions/@SID@"));
  put("post-verify", Request("POST", "/v1/verify",
                             Multipart({{"document", {"image/png", tiny_png}}, {"frames", {"image/jpeg", tiny_jpg}},
                                        {"timestamps", {"text/plain", "[1]"}}, {"nonce", {"text/plain", "@RAND@"}}}, b), mp));
  if (!face.empty()) {
    // The whole flow reaches a decision, a signed receipt and an audit row.
    put("post-verify-face", Request("POST", "/v1/verify",
                                    Multipart({{"document", {"image/png", face}}, {"frame", {"image/png", face}},
                                               {"timestamps", {"text/plain", "[5]"}}, {"nonce", {"text/plain", "@RAND@"}}}, b), mp));
    put("post-document-face", Request("POST", "/v1/sessions/@SID@/document", face, "image/png"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const int fd = ::dup(2); fd >= 0) g_err = ::fdopen(fd, "w");
  std::setvbuf(g_err, nullptr, _IONBF, 0);
  char dir[] = "/dev/shm/http_fuzz.XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  g_dir = dir;
  {
    idm::audit::AuditDb db(std::string(dir) + "/audit.db");
    g_key = db.AddOperator("fuzz", 1'000'000'000);  // no rate limit in practice: the limiter is not what is fuzzed
  }
  idm::server::ServiceOptions opt;
  opt.host = "127.0.0.1";
  opt.port = 0;
  opt.data_dir = dir;
  opt.analysis_workers = 1;
  opt.connection_threads = 4;
  opt.read_timeout_s = 2;
  opt.write_timeout_s = 2;
  opt.keep_alive_timeout_s = 1;
  opt.drain_timeout_s = 1;
  opt.session_ttl = std::chrono::seconds(10);
  opt.max_sessions = 5000;
  // Leaked on purpose: the service runs for the life of the process.
  auto* service = new idm::server::Service(opt);
  g_port = service->Bind();
  std::thread([service] { service->Serve(); }).detach();
  for (int i = 0; i < 500 && !Healthy(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!Healthy()) {
    std::fprintf(g_err, "http_fuzz: the service does not answer on port %d\n", g_port);
    std::abort();
  }
  std::atexit([] {
    // The data dir (audit.db, receipt key) goes with the process.
    std::error_code ec;
    std::filesystem::remove_all(g_dir, ec);
    std::fprintf(g_err, "http_fuzz: %llu error responses without a JSON body\n", static_cast<unsigned long long>(g_non_json_errors));
  });
  if (const char* out = std::getenv("IDMATCH_FUZZ_SEED_DIR"); out != nullptr && *out != '\0') WriteSeeds(out);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string req(reinterpret_cast<const char*>(data), size);
  ReplaceAll(req, "@KEY@", g_key);
  ReplaceAll(req, "@RAND@", "r" + std::to_string(++g_counter) + "-" + std::to_string(::getpid()));
  std::string sid;
  if (req.find("@SID@") != std::string::npos || req.find("@NONCE@") != std::string::npos) {
    auto [id, nonce] = NewSession();
    sid = id;
    ReplaceAll(req, "@SID@", id.empty() ? "none" : id);
    ReplaceAll(req, "@NONCE@", nonce.empty() ? "none" : nonce);
  }

  bool closed = false;
  size_t complete = 0;
  const std::string raw = Exchange(req, std::chrono::seconds(3), &closed, &complete);
  const std::vector<Response> rs = ParseResponses(raw);
  for (const auto& r : rs) {
    if (r.status >= 500 && r.status != 503) {
      std::fprintf(g_err, "http_fuzz: server answered %d:\n%s\n%.512s\n", r.status, r.headers.c_str(), r.body.c_str());
      std::abort();
    }
    if (r.status >= 400 && r.whole && (r.headers.find("application/json") == std::string::npos || json::parse(r.body, nullptr, false).is_discarded())) {
      if (g_non_json_errors++ < 5) std::fprintf(g_err, "http_fuzz: non-JSON error response:\n%s\n", r.headers.c_str());
    }
  }
  if (!closed && !Healthy()) {
    std::fprintf(g_err, "http_fuzz: the service stopped answering (/healthz)\n");
    std::abort();
  }
  if (complete > 0 && rs.empty()) {
    static int reported = 0;
    if (reported++ < 5) {
      std::fprintf(g_err, "http_fuzz: %zu complete request(s) got no response (%s): %.80s\n", complete,
                   closed ? "closed" : "3 s deadline", req.substr(0, req.find('\n')).c_str());
    }
  }
  if (!sid.empty()) {
    bool c = false;
    std::string del = Request("DELETE", "/v1/sessions/" + sid);
    ReplaceAll(del, "@KEY@", g_key);
    Exchange(del, std::chrono::seconds(5), &c);
  }
  return 0;
}
