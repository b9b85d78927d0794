// Zero retention, enforced on a live `idmatch serve`:
//  (a) after sessions are decided, aborted and expired, no byte of a random marker sent in the
//      images (raw bytes in the request bodies, and pixels in the decoded image) and no embedding
//      is left anywhere in the process's readable memory (/proc/PID/maps + /proc/PID/mem);
//      a positive control finds the embedding while its session is open, so the scan and the
//      bit-exact embedding are known to work;
//  (b, c) under strace, the only files the server opens for writing are its audit database
//      (and SQLite's -wal/-shm/-journal), through decided, aborted and expired sessions.
// The images are built in memory from LFW files; nothing biometric is written to disk.
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <regex>

#include "core/image.h"
#include "core/secure_memory.h"
#include "document/cardgen.h"
#include "document/document.h"
#include "document/layout.h"
#include "face/analyzer.h"
#include "server_harness.h"

namespace idm {
namespace {

using nlohmann::json;

const std::string kRef = "Aaron_Peirsol/Aaron_Peirsol_0001.jpg", kProbe = "Aaron_Peirsol/Aaron_Peirsol_0003.jpg";

uint32_t Crc32(const std::string& s, size_t at, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = at; i < at + n; ++i) {
    c ^= static_cast<uint8_t>(s[i]);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}
std::string Be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
  return s;
}

struct Marked {
  std::string document_png, frame_jpeg;
  std::string raw_marker;    // in both request bodies, verbatim
  std::string pixel_marker;  // the decoded document's bottom-left pixels (grey, so RGB == BGR)
};

Marked MakeMarkedImages() {
  Marked m;
  std::random_device rd;
  for (int i = 0; i < 48; ++i) m.raw_marker += static_cast<char>(rd() & 0xff);
  const std::string ref = test::ReadString(test::Lfw(kRef));
  cv::Mat bgr = cv::imdecode(cv::Mat(1, static_cast<int>(ref.size()), CV_8U, const_cast<char*>(ref.data())), cv::IMREAD_COLOR);
  for (int x = 0; x < 64; ++x) {
    const auto v = static_cast<uint8_t>(16 + rd() % 224);
    bgr.at<cv::Vec3b>(bgr.rows - 1, x) = cv::Vec3b(v, v, v);
    m.pixel_marker += std::string(3, static_cast<char>(v));
  }
  std::vector<uint8_t> png;
  cv::imencode(".png", bgr, png);
  std::string p(png.begin(), png.end());
  // A private ancillary chunk "mrKr" after IHDR carries the raw marker; decoders skip it.
  std::string chunk = Be32(static_cast<uint32_t>(m.raw_marker.size())) + "mrKr" + m.raw_marker;
  chunk += Be32(Crc32(chunk, 4, chunk.size() - 4));
  m.document_png = p.substr(0, 33) + chunk + p.substr(33);
  // The frame: a JPEG with a COM segment holding the raw marker right after SOI.
  const std::string probe = test::ReadString(test::Lfw(kProbe));
  const uint16_t len = static_cast<uint16_t>(m.raw_marker.size() + 2);
  m.frame_jpeg = probe.substr(0, 2) + "\xFF\xFE" + std::string(1, static_cast<char>(len >> 8)) + std::string(1, static_cast<char>(len & 0xff)) +
                 m.raw_marker + probe.substr(2);
  return m;
}

// Every readable mapping of `pid`: how many times each needle occurs.
std::vector<size_t> ScanProcess(pid_t pid, const std::vector<std::string>& needles) {
  std::vector<size_t> hits(needles.size(), 0);
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << "cannot open /proc/" << pid << "/mem";
  if (fd < 0) return hits;
  size_t longest = 0;
  for (const auto& n : needles) longest = std::max(longest, n.size());
  std::vector<char> buf((8u << 20) + longest);
  std::string line;
  size_t scanned = 0;
  while (std::getline(maps, line)) {
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &start, &end, perms) != 3 || perms[0] != 'r') continue;
    if (line.find("[vvar]") != std::string::npos || line.find("[vsyscall]") != std::string::npos) continue;
    size_t carry = 0;
    for (unsigned long at = start; at < end;) {
      const size_t want = std::min<unsigned long>(8u << 20, end - at);
      const ssize_t n = ::pread(fd, buf.data() + carry, want, static_cast<off_t>(at));
      if (n <= 0) break;
      const size_t have = carry + static_cast<size_t>(n);
      for (size_t k = 0; k < needles.size(); ++k) {
        const std::string& nd = needles[k];
        const char* p = buf.data();
        const char* e = buf.data() + have;
        while ((p = static_cast<const char*>(memmem(p, static_cast<size_t>(e - p), nd.data(), nd.size()))) != nullptr) {
          // Only count matches that end in the new bytes (the carried-over tail was searched already).
          if (static_cast<size_t>(p - buf.data()) + nd.size() > carry) ++hits[k];
          ++p;
        }
      }
      scanned += static_cast<size_t>(n);
      carry = std::min(longest - 1, have);
      std::memmove(buf.data(), buf.data() + have - carry, carry);
      at += static_cast<unsigned long>(n);
    }
  }
  ::close(fd);
  EXPECT_GT(scanned, 10u << 20) << "scanned too little memory to mean anything";
  return hits;
}

class Retention : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::Exists(test::Lfw(kRef)) || !test::Exists(test::Lfw(kProbe))) GTEST_SKIP() << "LFW images missing";
    key_ = test::AddOperator(dir_.path(), "shop");
  }
  httplib::Headers Auth() { return {{"Authorization", "Bearer " + key_}}; }
  json Open(httplib::Client& c) {
    auto r = c.Post("/v1/sessions", Auth(), "", "application/json");
    EXPECT_TRUE(r && r->status == 201);
    return r ? json::parse(r->body) : json();
  }
  int Document(httplib::Client& c, const std::string& id, const std::string& bytes) {
    auto r = c.Post(("/v1/sessions/" + id + "/document?kind=portrait").c_str(), Auth(), bytes, "image/png");
    return r ? r->status : -1;
  }
  int Frames(httplib::Client& c, const std::string& id, const std::string& jpeg, int64_t ts) {
    httplib::MultipartFormDataItems items = {{"frames", jpeg, "f.jpg", "image/jpeg"}, {"timestamps", "[" + std::to_string(ts) + "]", "", ""}};
    auto r = c.Post(("/v1/sessions/" + id + "/frames").c_str(), Auth(), items);
    return r ? r->status : -1;
  }
  // One decided, one aborted, one expired session (ttl 3 s) and one one-shot verification.
  void RunSessions(httplib::Client& c, const Marked& m, const std::function<void()>& while_open = {}) {
    const json s = Open(c);
    ASSERT_EQ(Document(c, s["session_id"], m.document_png), 200);
    ASSERT_EQ(Frames(c, s["session_id"], m.frame_jpeg, 10), 200);
    if (while_open) while_open();
    auto d = c.Post(("/v1/sessions/" + s["session_id"].get<std::string>() + "/decision").c_str(), Auth(),
                    json{{"nonce", s["nonce"]}}.dump(), "application/json");
    ASSERT_TRUE(d);
    ASSERT_EQ(d->status, 200) << d->body;

    const json aborted = Open(c);
    ASSERT_EQ(Document(c, aborted["session_id"], m.document_png), 200);
    auto del = c.Delete(("/v1/sessions/" + aborted["session_id"].get<std::string>()).c_str(), Auth());
    ASSERT_TRUE(del && del->status == 200);

    const json expired = Open(c);
    ASSERT_EQ(Document(c, expired["session_id"], m.document_png), 200);
    ASSERT_EQ(Frames(c, expired["session_id"], m.frame_jpeg, 10), 200);
    std::this_thread::sleep_for(std::chrono::seconds(4));
    EXPECT_EQ(Frames(c, expired["session_id"], m.frame_jpeg, 20), 404);

    httplib::MultipartFormDataItems items = {{"portrait", m.document_png, "d.png", "image/png"}, {"frames", m.frame_jpeg, "f.jpg", "image/jpeg"}};
    auto one = c.Post("/v1/verify", Auth(), items);
    ASSERT_TRUE(one && one->status == 200) << (one ? one->body : "");
  }

  test::ScopedTempDir dir_;
  std::string key_;
};

TEST_F(Retention, NoMarkerOrEmbeddingLeftInServerMemory) {
  const Marked m = MakeMarkedImages();
  // The embedding the server will compute for the document (same code, same models, 1 thread).
  InstallSecureAllocators();
  const cv::Mat rgb = DecodeImage(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(m.document_png.data()), m.document_png.size()));
  std::string embedding, frame_embedding;
  {
    const face::FaceAnalyzer analyzer{face::AnalyzerOptions{}};
    const face::FaceAnalysis a = analyzer.Analyze(rgb);
    embedding.assign(reinterpret_cast<const char*>(a.embedding.data()), 16 * sizeof(float));
    const cv::Mat frame = DecodeImage(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(m.frame_jpeg.data()), m.frame_jpeg.size()));
    const face::FaceAnalysis b = analyzer.Analyze(frame);
    frame_embedding.assign(reinterpret_cast<const char*>(b.embedding.data()), 16 * sizeof(float));
  }
  test::ServerProcess server(dir_.path(), {"--session-ttl", "3", "--workers", "1"});
  ASSERT_TRUE(server.ok());
  auto c = server.Client();
  bool control_found = false;
  RunSessions(*c, m, [&] {
    // Positive control: while the session is open its reference embedding is in (locked) memory.
    const auto found = ScanProcess(server.pid(), {embedding, frame_embedding});
    control_found = found[0] > 0 && found[1] > 0;
  });
  EXPECT_TRUE(control_found) << "the scan did not find the open session's embeddings: the scanner or the "
                                "bit-exactness assumption is broken, so the checks below prove nothing";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto hits = ScanProcess(server.pid(), {m.raw_marker, m.pixel_marker, embedding, frame_embedding});
  EXPECT_EQ(hits[0], 0u) << "raw marker bytes from the request bodies are still in memory";
  EXPECT_EQ(hits[1], 0u) << "the decoded marker pixels are still in memory";
  EXPECT_EQ(hits[2], 0u) << "the document embedding is still in memory";
  EXPECT_EQ(hits[3], 0u) << "the frame embedding is still in memory";
  EXPECT_EQ(server.Stop(), 0) << server.Stderr();
}

// Negative control: the same scan with the allocator's wipe-on-free switched off. Leftovers of
// the request bodies are then expected (glibc hands freed blocks back unwiped), which shows the
// scan finds what the hardening removes. Informational where the heap happened to reuse them.
// The MRZ text the server reads off a card (it holds the name, number and dates) is zeroised as
// soon as the type and country are taken from it: after the session none of it is anywhere in
// the process. Control: this process reads the same card to the exact MRZ, so the server had it.
TEST_F(Retention, MrzTextReadOffTheCardIsNotLeftInServerMemory) {
  InstallSecureAllocators();
  const auto layouts = document::LoadLayouts();
  const document::DocumentLayout* td3 = document::FindLayout(layouts, "passport_td3");
  ASSERT_NE(td3, nullptr);
  const cv::Mat face = DecodeImage(test::ReadBytes(test::Lfw(kRef)));
  const document::GeneratedCard card = document::RenderCard(*td3, face, 17);
  ASSERT_EQ(card.mrz_lines.size(), 2u);
  cv::Mat photo(card.rgb.rows + 80, card.rgb.cols + 80, CV_8UC3, cv::Scalar(40, 40, 40));  // the page on a dark table
  card.rgb.copyTo(photo(cv::Rect(40, 40, card.rgb.cols, card.rgb.rows)));
  cv::Mat bgr;
  cv::cvtColor(photo, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  // The same bytes, read here by the same code: the lines the server will hold.
  std::vector<std::string> read;
  {
    const face::FaceAnalyzer analyzer{face::AnalyzerOptions{}};
    const document::DocumentReport control = document::AnalyzeDocument(DecodeImage(jpeg), layouts, &analyzer);
    if (control.mrz) read = control.mrz->mrz.lines;
  }
  ASSERT_EQ(read.size(), 2u) << "the control did not find the MRZ: the scan would prove nothing";

  test::ServerProcess server(dir_.path(), {"--workers", "1", "--liveness", "off"});
  ASSERT_TRUE(server.ok());
  auto c = server.Client();
  const json s = Open(*c);
  const std::string id = s["session_id"];
  auto d = c->Post(("/v1/sessions/" + id + "/document").c_str(), Auth(), std::string(jpeg.begin(), jpeg.end()), "image/jpeg");
  ASSERT_TRUE(d && d->status == 200) << (d ? d->body : "no answer");
  EXPECT_EQ(json::parse(d->body)["document"]["type"], "passport_td3") << d->body;
  EXPECT_EQ(Frames(*c, id, test::ReadString(test::Lfw(kProbe)), 10), 200);
  auto r = c->Post(("/v1/sessions/" + id + "/decision").c_str(), Auth(), json{{"nonce", s["nonce"]}}.dump(), "application/json");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  // The two lines as read, and the printed surname and document number on their own.
  const std::string& l1 = card.mrz_lines[0];
  const std::string name = l1.substr(5, l1.find("<<", 5) - 5), number = card.mrz_lines[1].substr(0, 9);
  ASSERT_GE(name.size(), 3u);
  // Control: a string the server keeps on its heap (a layout's name) is found by the same scan.
  const auto found = ScanProcess(server.pid(), {read[0], read[1], name + "<<", number, td3->name});
  EXPECT_GT(found[4], 0u) << "the scan does not see the server's heap strings";
  EXPECT_EQ(std::vector<size_t>(found.begin(), found.begin() + 4), std::vector<size_t>({0, 0, 0, 0}))
      << "MRZ line 1 and 2 as read, surname, document number";
}

TEST_F(Retention, NegativeControlWithoutWipingMalloc) {
  const Marked m = MakeMarkedImages();
  test::ServerProcess server(dir_.path(), {"--session-ttl", "3", "--workers", "1"}, "", {"IDMATCH_NO_MALLOC_WIPE=1"});
  ASSERT_TRUE(server.ok());
  auto c = server.Client();
  RunSessions(*c, m);
  const auto hits = ScanProcess(server.pid(), {m.raw_marker, m.pixel_marker});
  std::printf("without wipe-on-free: raw marker found %zu times, marker pixels %zu times\n", hits[0], hits[1]);
  EXPECT_GT(hits[0] + hits[1], 0u) << "nothing left even without the wipe: the scan may be blind";
}

TEST_F(Retention, OnlyTheAuditDatabaseIsOpenedForWriting) {
  if (::access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "strace not installed";
  const Marked m = MakeMarkedImages();
  test::ScopedTempDir trace_dir;
  const std::string trace = trace_dir.File("strace.txt");
  {
    test::ServerProcess server(dir_.path(), {"--session-ttl", "3", "--workers", "1"}, trace);
    ASSERT_TRUE(server.ok()) << server.Stderr();
    auto c = server.Client();
    RunSessions(*c, m);
    EXPECT_EQ(server.Stop(), 0) << server.Stderr();
  }
  const std::string text = test::ReadString(trace);
  ASSERT_NE(text.find("openat"), std::string::npos) << "strace recorded nothing";
  std::istringstream in(text);
  std::string line;
  int writes = 0;
  const std::regex path_re("\"([^\"]*)\"");
  while (std::getline(in, line)) {
    const bool open_call = line.find("open(") != std::string::npos || line.find("openat(") != std::string::npos ||
                           line.find("creat(") != std::string::npos || line.find("openat2(") != std::string::npos;
    if (!open_call) continue;
    const bool for_writing = line.find("O_WRONLY") != std::string::npos || line.find("O_RDWR") != std::string::npos ||
                             line.find("O_CREAT") != std::string::npos || line.find("creat(") != std::string::npos;
    if (!for_writing) continue;
    std::smatch mt;
    ASSERT_TRUE(std::regex_search(line, mt, path_re)) << line;
    const std::string path = mt[1];
    const std::string name = std::filesystem::path(path).filename();
    ++writes;
    EXPECT_TRUE(name == "audit.db" || name == "audit.db-wal" || name == "audit.db-shm" || name == "audit.db-journal")
        << "opened for writing: " << line;
  }
  EXPECT_GT(writes, 0) << "the audit database was never opened: did the trace cover the server?";
  // And nothing else appeared in the data dir.
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    const std::string n = e.path().filename();
    EXPECT_TRUE(n == "receipt-key.json" || n.rfind("audit.db", 0) == 0) << n;
  }
}

}  // namespace
}  // namespace idm
