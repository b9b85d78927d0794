// `idmatch serve` as a subprocess on 127.0.0.1: the session flow end to end (receipts checked by
// the CLI and by npm jose), auth, rate limits, bad requests, and every response checked against
// docs/openapi.yaml. Face photos are LFW files read into memory; nothing is written to disk.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include <opencv2/imgcodecs.hpp>

#include "server_harness.h"
#include "verify/receipt.h"

namespace idm {
namespace {

using nlohmann::json;

const std::string kRefA = "Aaron_Peirsol/Aaron_Peirsol_0001.jpg", kProbeA = "Aaron_Peirsol/Aaron_Peirsol_0003.jpg",
                  kProbeA2 = "Aaron_Peirsol/Aaron_Peirsol_0004.jpg";

// ---- the OpenAPI document -------------------------------------------------------------------

json Spec() {
  std::ifstream f(std::string(IDMATCH_SOURCE_DIR) + "/docs/openapi.yaml");
  std::string text, line;
  while (std::getline(f, line)) if (line.rfind("#", 0) != 0) text += line + "\n";
  return json::parse(text);
}

const json& Resolve(const json& spec, const json& node) {
  if (!node.contains("$ref")) return node;
  std::string ref = node["$ref"].get<std::string>().substr(2);  // "#/a/b/c"
  const json* cur = &spec;
  for (size_t at; !ref.empty(); ref = at == std::string::npos ? "" : ref.substr(at + 1)) {
    at = ref.find('/');
    cur = &(*cur)[ref.substr(0, at)];
  }
  return Resolve(spec, *cur);
}

// Checks required fields and basic types, recursively.
void CheckSchema(const json& spec, const json& schema_in, const json& value, const std::string& where) {
  const json& schema = Resolve(spec, schema_in);
  const std::string type = schema.value("type", "");
  if (value.is_null() && schema.value("nullable", false)) return;
  if (type == "object") {
    ASSERT_TRUE(value.is_object()) << where << ": not an object: " << value.dump();
    for (const auto& req : schema.value("required", json::array())) EXPECT_TRUE(value.contains(req)) << where << ": missing " << req;
    if (schema.contains("properties")) {
      for (const auto& [k, sub] : schema["properties"].items()) if (value.contains(k)) CheckSchema(spec, sub, value[k], where + "." + k);
    }
  } else if (type == "array") {
    ASSERT_TRUE(value.is_array()) << where;
    for (const auto& v : value) CheckSchema(spec, schema["items"], v, where + "[]");
  } else if (type == "string") {
    EXPECT_TRUE(value.is_string()) << where << ": " << value.dump();
    if (schema.contains("enum") && value.is_string()) {
      bool found = false;
      for (const auto& e : schema["enum"]) found = found || e == value;
      EXPECT_TRUE(found) << where << ": " << value.dump() << " not in enum";
    }
  } else if (type == "integer") {
    EXPECT_TRUE(value.is_number_integer()) << where;
  } else if (type == "number") {
    EXPECT_TRUE(value.is_number()) << where;
  }
}

// Every call goes through here: the (template, method, status) must be documented and the body
// must match the documented schema.
struct Recorder {
  json spec = Spec();
  std::set<std::pair<std::string, std::string>> seen;  // (path template, method)
  std::set<std::string> statuses_seen;                 // "METHOD path status"

  void Check(const std::string& tmpl, const std::string& method, const httplib::Result& res) {
    ASSERT_TRUE(res) << method << " " << tmpl << ": no response (" << httplib::to_string(res.error()) << ")";
    seen.insert({tmpl, method});
    statuses_seen.insert(method + " " + tmpl + " " + std::to_string(res->status));
    ASSERT_TRUE(spec["paths"].contains(tmpl)) << tmpl << " is not documented";
    const json& op = spec["paths"][tmpl];
    ASSERT_TRUE(op.contains(method)) << method << " " << tmpl << " is not documented";
    const json& responses = op[method]["responses"];
    const std::string code = std::to_string(res->status);
    ASSERT_TRUE(responses.contains(code)) << method << " " << tmpl << " returned undocumented " << code << ": " << res->body;
    const json& resp = Resolve(spec, responses[code]);
    if (!resp.contains("content")) return;
    if (resp["content"].contains("application/json")) {
      EXPECT_NE(res->get_header_value("Content-Type").find("application/json"), std::string::npos) << tmpl;
      const json body = json::parse(res->body, nullptr, false);
      ASSERT_FALSE(body.is_discarded()) << method << " " << tmpl << ": body is not JSON: " << res->body;
      CheckSchema(spec, resp["content"]["application/json"]["schema"], body, method + " " + tmpl + " " + code);
    }
  }
};

Recorder& Rec() {
  static Recorder r;
  return r;
}

class ServerApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!test::Exists(test::Lfw(kRefA))) return;
    dir_ = new test::ScopedTempDir();
    key_ = test::AddOperator(dir_->path(), "shop");
    other_key_ = test::AddOperator(dir_->path(), "other");
    slow_key_ = test::AddOperator(dir_->path(), "slow", 3);
    // Liveness off: these tests check the API with still photos (tests/server_liveness_test.cpp runs it on).
    server_ = new test::ServerProcess(dir_->path(), {"--workers", "1", "--queue", "1", "--liveness", "off"});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    server_ = nullptr, dir_ = nullptr;
  }
  void SetUp() override {
    if (!test::Exists(test::Lfw(kRefA))) GTEST_SKIP() << "LFW images missing";
    ASSERT_TRUE(server_ != nullptr && server_->ok());
    cli_ = server_->Client();
  }
  httplib::Headers Auth(const std::string& key = key_) { return {{"Authorization", "Bearer " + key}}; }

  json Body(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

  json OpenSession(const std::string& key = key_) {
    auto r = cli_->Post("/v1/sessions", Auth(key), "", "application/json");
    Rec().Check("/v1/sessions", "post", r);
    EXPECT_EQ(r->status, 201) << r->body;
    return Body(r);
  }
  httplib::Result PostDocument(const std::string& id, const std::string& bytes, const std::string& key = key_) {
    auto r = cli_->Post(("/v1/sessions/" + id + "/document?kind=portrait").c_str(), Auth(key), bytes, "image/jpeg");
    Rec().Check("/v1/sessions/{id}/document", "post", r);
    return r;
  }
  httplib::Result PostFrames(const std::string& id, const std::vector<std::string>& frames, const std::vector<int64_t>& ts) {
    httplib::MultipartFormDataItems items;
    for (size_t i = 0; i < frames.size(); ++i) items.push_back({"frames", frames[i], "f" + std::to_string(i) + ".jpg", "image/jpeg"});
    items.push_back({"timestamps", json(ts).dump(), "", "application/json"});
    auto r = cli_->Post(("/v1/sessions/" + id + "/frames").c_str(), Auth(), items);
    Rec().Check("/v1/sessions/{id}/frames", "post", r);
    return r;
  }
  httplib::Result Decide(const std::string& id, const std::string& body) {
    auto r = cli_->Post(("/v1/sessions/" + id + "/decision").c_str(), Auth(), body, "application/json");
    Rec().Check("/v1/sessions/{id}/decision", "post", r);
    return r;
  }

  static test::ScopedTempDir* dir_;
  static test::ServerProcess* server_;
  static std::string key_, other_key_, slow_key_;
  std::unique_ptr<httplib::Client> cli_;
};
test::ScopedTempDir* ServerApi::dir_ = nullptr;
test::ServerProcess* ServerApi::server_ = nullptr;
std::string ServerApi::key_, ServerApi::other_key_, ServerApi::slow_key_;

TEST_F(ServerApi, HealthReadyMetricsKeys) {
  auto h = cli_->Get("/healthz");
  Rec().Check("/healthz", "get", h);
  EXPECT_EQ(h->status, 200);
  auto r = cli_->Get("/readyz");
  Rec().Check("/readyz", "get", r);
  EXPECT_EQ(r->status, 200);
  auto k = cli_->Get("/v1/keys");
  Rec().Check("/v1/keys", "get", k);
  ASSERT_EQ(k->status, 200);
  const json jwks = Body(k);
  EXPECT_EQ(jwks["keys"][0]["kid"], verify::JwkThumbprint(jwks["keys"][0]["x"]));
  auto m = cli_->Get("/metrics");
  Rec().Check("/metrics", "get", m);
  ASSERT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("idmatch_sessions_active"), std::string::npos) << m->body;
}

TEST_F(ServerApi, SessionFlowGivesAVerifiableReceipt) {
  const json s = OpenSession();
  const std::string id = s["session_id"];
  EXPECT_EQ(s["expires_in"], 120);
  auto d = PostDocument(id, test::ReadString(test::Lfw(kRefA)));
  ASSERT_EQ(d->status, 200) << d->body;
  EXPECT_EQ(Body(d)["document"]["faces_found"], 1);
  auto f1 = PostFrames(id, {test::ReadString(test::Lfw(kProbeA))}, {1000});
  ASSERT_EQ(f1->status, 200) << f1->body;
  auto f2 = PostFrames(id, {test::ReadString(test::Lfw(kProbeA2))}, {1040});
  ASSERT_EQ(f2->status, 200) << f2->body;
  EXPECT_EQ(Body(f2)["frames_received"], 2);
  // Frames out of order (across batches) -> 422.
  auto bad = PostFrames(id, {test::ReadString(test::Lfw(kProbeA2))}, {1020});
  EXPECT_EQ(bad->status, 422) << bad->body;
  EXPECT_EQ(Body(bad)["code"], "frames_out_of_order");
  // Wrong nonce -> 400; the right one -> the receipt.
  EXPECT_EQ(Decide(id, R"({"nonce":"nope"})")->status, 400);
  auto dec = Decide(id, json{{"nonce", s["nonce"]}}.dump());
  ASSERT_EQ(dec->status, 200) << dec->body;
  const json out = Body(dec);
  EXPECT_EQ(out["decision"], "match") << dec->body;
  EXPECT_EQ(out["liveness"]["verdict"], "not_checked");
  const std::string receipt = out["receipt"];

  // Replayed decision (same nonce) -> 409; the session is gone -> 404 for other calls.
  auto replay = Decide(id, json{{"nonce", s["nonce"]}}.dump());
  EXPECT_EQ(replay->status, 409) << replay->body;
  EXPECT_EQ(Body(replay)["code"], "nonce_replayed");
  EXPECT_EQ(PostDocument(id, test::ReadString(test::Lfw(kRefA)))->status, 404);

  // The receipt: our CLI and npm jose agree; it holds the nonce and no personal data.
  const json jwks = Body(cli_->Get("/v1/keys"));
  const verify::JwsCheck c = verify::VerifyJws(receipt, jwks);
  ASSERT_TRUE(c.valid) << c.reason;
  EXPECT_EQ(c.claims["sid"], id);
  EXPECT_EQ(c.claims["nonce"], s["nonce"]);
  EXPECT_EQ(c.claims["decision"], "match");
  EXPECT_EQ(c.claims["operator"], "shop");
  EXPECT_EQ(c.claims["models"].size(), 3u);
  EXPECT_LT(receipt.size(), 2000u);  // no room for an image or an embedding
  EXPECT_EQ(c.claims.dump().find("Aaron"), std::string::npos);
  EXPECT_EQ(test::RunIdmatch({"receipt", "verify", receipt, "--data-dir", dir_->path()}).exit_code, 0);
  ASSERT_TRUE(test::JoseInstalled()) << "npm jose missing: run (cd tests/js && npm ci --ignore-scripts)";
  const json v = test::JoseVerify(jwks, receipt);
  EXPECT_TRUE(v.value("valid", false)) << v.dump();
  EXPECT_EQ(v["claims"], c.claims);

  // The audit row exists (by receipt hash) and the chain verifies.
  const test::ProcResult a = test::RunIdmatch({"audit", "verify", "--data-dir", dir_->path(), "--json"});
  EXPECT_EQ(a.exit_code, 0) << a.out;
}

TEST_F(ServerApi, OneShotVerify) {
  httplib::MultipartFormDataItems items = {{"portrait", test::ReadString(test::Lfw(kRefA)), "doc.jpg", "image/jpeg"},
                                           {"frames", test::ReadString(test::Lfw(kProbeA)), "f0.jpg", "image/jpeg"},
                                           {"frames", test::ReadString(test::Lfw(kProbeA2)), "f1.jpg", "image/jpeg"},
                                           {"nonce", "client-nonce-1", "", "text/plain"}};
  auto r = cli_->Post("/v1/verify", Auth(), items);
  Rec().Check("/v1/verify", "post", r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json out = Body(r);
  EXPECT_EQ(out["decision"], "match");
  const verify::JwsCheck c = verify::VerifyJws(out["receipt"], Body(cli_->Get("/v1/keys")));
  ASSERT_TRUE(c.valid);
  EXPECT_EQ(c.claims["nonce"], "client-nonce-1");
  EXPECT_EQ(c.claims["frames"]["received"], 2);
  // The same client nonce again -> 409.
  auto again = cli_->Post("/v1/verify", Auth(), items);
  Rec().Check("/v1/verify", "post", again);
  EXPECT_EQ(again->status, 409) << again->body;
  // No document -> 400; not multipart -> 415.
  auto nodoc = cli_->Post("/v1/verify", Auth(), httplib::MultipartFormDataItems{{"frames", "x", "f.jpg", "image/jpeg"}});
  Rec().Check("/v1/verify", "post", nodoc);
  EXPECT_EQ(nodoc->status, 400);
  auto plain = cli_->Post("/v1/verify", Auth(), "{}", "application/json");
  Rec().Check("/v1/verify", "post", plain);
  EXPECT_EQ(plain->status, 415);
}

TEST_F(ServerApi, AuthErrorsAreJson) {
  auto none = cli_->Post("/v1/sessions", "", "application/json");
  Rec().Check("/v1/sessions", "post", none);
  EXPECT_EQ(none->status, 401);
  auto wrong = cli_->Post("/v1/sessions", Auth("idm_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "", "application/json");
  Rec().Check("/v1/sessions", "post", wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(Body(wrong)["code"], "unauthorized");
  // Another operator's session -> 403.
  const json s = OpenSession();
  auto other = cli_->Delete(("/v1/sessions/" + s["session_id"].get<std::string>()).c_str(), Auth(other_key_));
  Rec().Check("/v1/sessions/{id}", "delete", other);
  EXPECT_EQ(other->status, 403);
  auto del = cli_->Delete(("/v1/sessions/" + s["session_id"].get<std::string>()).c_str(), Auth());
  Rec().Check("/v1/sessions/{id}", "delete", del);
  EXPECT_EQ(del->status, 200);
  auto gone = cli_->Delete(("/v1/sessions/" + s["session_id"].get<std::string>()).c_str(), Auth());
  Rec().Check("/v1/sessions/{id}", "delete", gone);
  EXPECT_EQ(gone->status, 404);
}

TEST_F(ServerApi, RateLimitPerKey) {
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    auto r = cli_->Post("/v1/sessions", Auth(slow_key_), "", "application/json");
    Rec().Check("/v1/sessions", "post", r);
    if (r->status == 429) {
      ++limited;
      EXPECT_FALSE(r->get_header_value("Retry-After").empty());
      EXPECT_EQ(Body(r)["code"], "rate_limited");
    }
  }
  EXPECT_EQ(limited, 3);  // 3 per minute
  // Other keys are not affected.
  OpenSession();
}

TEST_F(ServerApi, BadRequestsGetJson4xxAndTheServerKeepsServing) {
  const json s = OpenSession();
  const std::string id = s["session_id"];
  // Invalid JSON.
  auto bad_json = Decide(id, "{not json");
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_EQ(Body(bad_json)["code"], "invalid_json");
  auto bad_open = cli_->Post("/v1/sessions", Auth(), "[1,", "application/json");
  Rec().Check("/v1/sessions", "post", bad_open);
  EXPECT_EQ(bad_open->status, 400);
  // Decision before any upload.
  EXPECT_EQ(Decide(id, json{{"nonce", s["nonce"]}}.dump())->status, 409);
  // Not an image, a truncated JPEG, a PNG bomb (header claims 30000x30000).
  auto text = PostDocument(id, "this is not an image");
  EXPECT_EQ(text->status, 422);
  EXPECT_EQ(Body(text)["code"], "image_decode");
  const std::string jpeg = test::ReadString(test::Lfw(kRefA));
  EXPECT_EQ(PostDocument(id, jpeg.substr(0, jpeg.size() / 2))->status, 422);
  std::vector<uint8_t> png;
  cv::imencode(".png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), png);
  std::string bomb(png.begin(), png.end());
  auto put32 = [&](size_t at, uint32_t v) { for (int i = 0; i < 4; ++i) bomb[at + i] = static_cast<char>(v >> (24 - 8 * i)); };
  put32(16, 30000);
  put32(20, 30000);
  uint32_t crc = 0xffffffffu;
  for (size_t i = 12; i < 29; ++i) {
    crc ^= static_cast<uint8_t>(bomb[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  put32(29, ~crc);
  auto b = PostDocument(id, bomb);
  EXPECT_EQ(b->status, 413) << b->body;
  EXPECT_EQ(Body(b)["code"], "image_too_large");
  // No face.
  std::vector<uint8_t> grey;
  cv::imencode(".png", cv::Mat(240, 320, CV_8UC3, cv::Scalar(90, 120, 150)), grey);
  auto nf = PostDocument(id, std::string(grey.begin(), grey.end()));
  EXPECT_EQ(nf->status, 422);
  EXPECT_EQ(Body(nf)["code"], "no_face");
  // A 20 MB body is refused from its Content-Length (raw socket: no body is sent).
  const std::string big = test::RawHttp(server_->port(), "POST /v1/sessions/" + id + "/document HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                                             key_ + "\r\nContent-Type: image/jpeg\r\nContent-Length: 20971520\r\n\r\n");
  EXPECT_EQ(test::RawStatus(big), 413) << big;
  EXPECT_EQ(json::parse(test::RawBody(big), nullptr, false).value("code", ""), "payload_too_large") << big;
  // The same with the body sent, made of requests: the client reads the 413 and only the 413,
  // and the connection ends (before, httplib parsed the body as the requests that followed).
  const std::string inner = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string requests;
  while (requests.size() + inner.size() <= (20u << 20)) requests += inner;
  const std::string sent_big = test::RawHttp(
      server_->port(), "POST /v1/sessions/" + id + "/document HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key_ +
                           "\r\nContent-Type: image/jpeg\r\nContent-Length: " + std::to_string(requests.size()) +
                           "\r\n\r\n" + requests);
  EXPECT_EQ(test::RawStatus(sent_big), 413) << sent_big.substr(0, 200);
  EXPECT_EQ(sent_big.find("HTTP/1.1 ", 1), std::string::npos) << "a second answer: " << sent_big;
  // Truncated multipart (no closing boundary).
  const std::string mp = "--XyZ\r\nContent-Disposition: form-data; name=\"frames\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" +
                         jpeg.substr(0, 100);
  const std::string trunc = test::RawHttp(server_->port(), "POST /v1/sessions/" + id + "/frames HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " +
                                                               key_ + "\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: " +
                                                               std::to_string(mp.size()) + "\r\n\r\n" + mp);
  EXPECT_EQ(test::RawStatus(trunc), 400) << trunc;
  EXPECT_FALSE(json::parse(test::RawBody(trunc), nullptr, false).is_discarded()) << trunc;
  // Frames without timestamps.
  httplib::MultipartFormDataItems items = {{"frames", jpeg, "a.jpg", "image/jpeg"}};
  auto nots = cli_->Post(("/v1/sessions/" + id + "/frames").c_str(), Auth(), items);
  Rec().Check("/v1/sessions/{id}/frames", "post", nots);
  EXPECT_EQ(nots->status, 400);
  // Unknown endpoint: JSON 404.
  auto nf404 = cli_->Get("/nope");
  ASSERT_TRUE(nf404);
  EXPECT_EQ(nf404->status, 404);
  EXPECT_EQ(json::parse(nf404->body, nullptr, false).value("code", ""), "not_found") << nf404->body;
  // Still serving.
  EXPECT_EQ(cli_->Get("/healthz")->status, 200);
}

TEST_F(ServerApi, EveryDocumentedOperationAnswersAsDocumented) {
  // Self-contained (ctest runs every test in its own process): one call per documented operation,
  // each checked against the spec by Rec().Check, then coverage of the spec's paths and methods.
  for (const char* p : {"/healthz", "/readyz", "/metrics", "/v1/keys"}) Rec().Check(p, "get", cli_->Get(p));
  const json s = OpenSession();
  const std::string id = s["session_id"];
  ASSERT_EQ(PostDocument(id, test::ReadString(test::Lfw(kRefA)))->status, 200);
  ASSERT_EQ(PostFrames(id, {test::ReadString(test::Lfw(kProbeA))}, {5})->status, 200);
  ASSERT_EQ(Decide(id, json{{"nonce", s["nonce"]}}.dump())->status, 200);
  const json aborted = OpenSession();
  Rec().Check("/v1/sessions/{id}", "delete", cli_->Delete(("/v1/sessions/" + aborted["session_id"].get<std::string>()).c_str(), Auth()));
  httplib::MultipartFormDataItems items = {{"portrait", test::ReadString(test::Lfw(kRefA)), "d.jpg", "image/jpeg"},
                                           {"frames", test::ReadString(test::Lfw(kProbeA)), "f.jpg", "image/jpeg"}};
  Rec().Check("/v1/verify", "post", cli_->Post("/v1/verify", Auth(), items));
  for (const auto& [path, ops] : Rec().spec["paths"].items()) {
    for (const auto& [method, op] : ops.items()) {
      EXPECT_TRUE(Rec().seen.count({path, method})) << method << " " << path << " was never called";
    }
  }
}

TEST_F(ServerApi, ZzSigtermDrainsAndExitsCleanly) {
  // Last in the suite when the suite runs in one process; alone under ctest it is just as valid.
  EXPECT_EQ(server_->Stop(), 0) << server_->Stderr();
  const std::string log = server_->Stderr();
  EXPECT_NE(log.find("draining"), std::string::npos) << log;
  // Logs carry paths and statuses, never bodies or keys.
  EXPECT_EQ(log.find("idm_"), std::string::npos);
  EXPECT_EQ(log.find("JFIF"), std::string::npos);
}

// --demo: a loopback request without a key acts as the operator "demo"; with a wrong key it is
// still refused, and without --demo a missing key is refused.
TEST(ServerDemo, LoopbackWithoutKeyActsAsTheDemoOperator) {
  test::ScopedTempDir dir;
  {
    test::ServerProcess demo(dir.path(), {"--workers", "1", "--demo"});
    ASSERT_TRUE(demo.ok());
    auto c = demo.Client();
    auto s = c->Post("/v1/sessions", "", "application/json");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->status, 201) << s->body;
    auto wrong = c->Post("/v1/sessions", {{"Authorization", "Bearer idm_wrong"}}, "", "application/json");
    EXPECT_EQ(wrong->status, 401);
  }
  EXPECT_NE(test::RunIdmatch({"operator", "list", "--data-dir", dir.path()}).out.find("demo"), std::string::npos);
  test::ServerProcess plain(dir.path(), {"--workers", "1"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.Client()->Post("/v1/sessions", "", "application/json")->status, 401);
}

// Regression (CI run of stop 8): a SIGTERM that lands between "listening" and httplib's listen loop
// used to be lost (httplib's stop() does nothing before the loop runs) and the server hung.
TEST(ServerLifecycle, SigtermRightAfterStartExitsCleanly) {
  test::ScopedTempDir dir;
  for (int i = 0; i < 3; ++i) {
    test::ServerProcess server(dir.path(), {"--workers", "1"});
    ASSERT_TRUE(server.ok());
    EXPECT_EQ(server.Stop(15), 0) << "attempt " << i << ": " << server.Stderr();
  }
}

}  // namespace
}  // namespace idm
