// Inputs the libFuzzer targets (fuzz/) found, replayed through the same entry points in the plain
// build: each one crashed, threw the wrong exception or hit undefined behaviour before its fix.
// The fuzz targets' own invariants are checked here too, so a regression fails the plain suite
// without a clang build.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "document/layout.h"
#include "document/mrz.h"
#include "server_harness.h"
#include "verify/receipt.h"

namespace {

using nlohmann::json;
using idm::document::ParseLayout;
using idm::verify::Base64UrlEncode;
using idm::verify::VerifyJws;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The shipped TD1 layout with one value replaced (JSON pointer).
std::string LayoutWith(const std::string& pointer, const json& value) {
  json j = json::parse(ReadFile(std::string(IDMATCH_SOURCE_DIR) + "/layouts/id_card_td1.json"));
  j[json::json_pointer(pointer)] = value;
  return j.dump();
}

std::string Token(const std::string& header, const std::string& payload = "{}") {
  return Base64UrlEncode(header) + "." + Base64UrlEncode(payload) + "." + Base64UrlEncode(std::string(64, 'x'));
}

json FixedKeySet() {
  static const idm::verify::SigningKey key = idm::verify::SigningKey::Generate();
  return {{"keys", json::array({key.PublicJwk()})}};
}

}  // namespace

// layout_fuzz, first input (the empty file): nlohmann's parse_error escaped ParseLayout, whose
// callers catch idm::Error; every malformed layout is now Error(kInvalidArgument).
TEST(FuzzRegression, LayoutMalformedJsonIsAnError) {
  EXPECT_THROW(ParseLayout(""), idm::Error);
  EXPECT_THROW(ParseLayout("{"), idm::Error);
  EXPECT_THROW(ParseLayout("[]"), idm::Error);
  EXPECT_THROW(ParseLayout("{}"), idm::Error);
  EXPECT_THROW(ParseLayout(LayoutWith("/portrait/colour", "yes")), idm::Error);  // value() type_error
  EXPECT_THROW(ParseLayout(LayoutWith("/header/box/0", "0")), idm::Error);       // get<double>() type_error
  EXPECT_THROW(ParseLayout(LayoutWith("/id", 7)), idm::Error);
  EXPECT_NO_THROW(ParseLayout(LayoutWith("/id", "still_fine")));
}

// layout_fuzz: a colour channel of 1e300 was narrowed with get<int>() (float-cast-overflow, UB);
// channels must be integers 0..255.
TEST(FuzzRegression, LayoutColourChannelsAreBytes) {
  EXPECT_THROW(ParseLayout(LayoutWith("/background_rgb/0", 1e300)), idm::Error);
  EXPECT_THROW(ParseLayout(LayoutWith("/background_rgb/1", 255.5)), idm::Error);
  EXPECT_THROW(ParseLayout(LayoutWith("/header/rgb/2", 256)), idm::Error);
  EXPECT_THROW(ParseLayout(LayoutWith("/header/rgb/2", -1)), idm::Error);
  EXPECT_THROW(ParseLayout(LayoutWith("/header/rgb/2", 18446744073709551615ull)), idm::Error);
  EXPECT_THROW(ParseLayout(LayoutWith("/text_zones/0/colour/0", 1e10)), idm::Error);
  const auto l = ParseLayout(LayoutWith("/background_rgb", json::array({0, 128, 255})));
  EXPECT_EQ(l.background, cv::Vec3b(0, 128, 255));
}

// layout_fuzz: a positive but absurd size (1e-300 x 1e300 mm) gave an aspect of 0 and a
// canonical card height of lround(inf); sizes are now 10..1000 mm.
TEST(FuzzRegression, LayoutSizeIsPhysical) {
  EXPECT_THROW(ParseLayout(LayoutWith("/size_mm", json::array({1e-300, 1e300}))), idm::Error);
  EXPECT_THROW(ParseLayout(LayoutWith("/size_mm", json::array({85.6, 0.001}))), idm::Error);
  EXPECT_THROW(ParseLayout(LayoutWith("/size_mm", json::array({85.6}))), idm::Error);
  const auto l = ParseLayout(LayoutWith("/size_mm", json::array({125.0, 88.0})));
  EXPECT_EQ(l.CanonicalSize(), cv::Size(1000, 704));
}

// receipt_fuzz: a header or key whose alg/kid/kty/crv/x is not a string made json::value() throw
// type_error out of VerifyJws (`idmatch receipt verify` on a hostile token or key set). Such a
// token is now simply not valid, with a reason.
TEST(FuzzRegression, ReceiptMembersOfTheWrongTypeAreRefusedNotThrown) {
  for (const std::string header : {R"({"alg":1})", R"({"alg":"EdDSA","kid":7})", R"({"alg":["EdDSA"]})", R"({"alg":null})"}) {
    idm::verify::JwsCheck c;
    EXPECT_NO_THROW(c = VerifyJws(Token(header), FixedKeySet())) << header;
    EXPECT_FALSE(c.valid);
    EXPECT_FALSE(c.reason.empty());
  }
  for (const std::string keys : {R"({"keys":[{"kty":5}]})", R"({"keys":[{"kty":"OKP","crv":{}}]})",
                                 R"({"keys":[{"kty":"OKP","crv":"Ed25519","kid":1}]})",
                                 R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":[]}]})", R"({"keys":[1,"a",null]})"}) {
    idm::verify::JwsCheck c;
    EXPECT_NO_THROW(c = VerifyJws(Token(R"({"alg":"EdDSA"})"), json::parse(keys))) << keys;
    EXPECT_FALSE(c.valid);
  }
}

// receipt_fuzz's round trip: any JSON object signed as claims verifies and reads back unchanged;
// one character changed does not verify.
TEST(FuzzRegression, ReceiptRoundTripAndTamper) {
  const auto key = idm::verify::SigningKey::Generate();
  const json keys = {{"keys", json::array({key.PublicJwk()})}};
  const json claims = json::parse(R"({"a":[1,-0.0,1e308,"\u00e9\u0000"],"b":{"c":null},"":18446744073709551615})");
  const std::string token = key.Sign(claims);
  const auto c = VerifyJws(token, keys);
  ASSERT_TRUE(c.valid) << c.reason;
  EXPECT_EQ(c.claims, claims);
  for (size_t at = 0; at < token.size(); at += 7) {
    if (token[at] == '.') continue;
    std::string t = token;
    t[at] = t[at] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(VerifyJws(t, keys).valid) << at;
  }
}

// receipt_fuzz, 2026-12-07: libsodium's base64 decoder took a byte outside the alphabet (0xC4) as
// a letter, so a valid receipt with one inserted into its signature still verified.
TEST(FuzzRegression, ReceiptWithAByteOutsideBase64UrlIsRefused) {
  const auto key = idm::verify::SigningKey::Generate();
  const json keys = {{"keys", json::array({key.PublicJwk()})}};
  const std::string token = key.Sign(json{{"decision", "match"}});
  ASSERT_TRUE(VerifyJws(token, keys).valid);
  for (const size_t at : {token.rfind('.') + 10, token.size() - 3, token.find('.') - 2}) {
    std::string t = token;
    t.insert(at, 1, '\xc4');
    EXPECT_FALSE(VerifyJws(t, keys).valid) << at;
  }
  EXPECT_THROW(idm::verify::Base64UrlDecode("QUJ\xc4"), idm::Error);
}

// mrz_fuzz's invariants on a few shapes it explores: never a crash; filling in the check digits
// of well-formed lines makes every check pass.
TEST(FuzzRegression, MrzInvariants) {
  using namespace idm::document;
  const std::vector<std::vector<std::string>> inputs = {
      {},
      {""},
      {"\n\n\n"},
      {std::string(30, '<'), std::string(30, '<'), std::string(30, '<')},
      {std::string(36, '<'), std::string(36, '<')},
      {"V" + std::string(43, '<'), std::string(44, '<')},
      {"I<UTO" + std::string(25, 'O'), std::string(30, 'O'), std::string(30, '0')},
      {std::string(44, '\xff'), std::string(44, '\x00')},
  };
  MrzParseOptions opt;
  opt.today = "20261126";
  for (const auto& lines : inputs) {
    const MrzResult r = ParseMrz(lines, opt);
    EXPECT_EQ(r.format, DetectMrzFormat(r.lines));
    EXPECT_EQ(MaskMrzLines(r).size(), r.lines.size());
    if (r.format == MrzFormat::kUnknown) continue;
    std::vector<std::string> filled = r.lines;
    bool alphabet = true;
    for (const auto& s : filled)
      for (char ch : s) alphabet &= (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '<';
    if (!alphabet) continue;
    FillMrzCheckDigits(r.format, filled);
    MrzParseOptions no_repair = opt;
    no_repair.repair = false;
    for (const auto& c : ParseMrz(filled, no_repair).checks) EXPECT_EQ(c.state, CheckState::kPass) << c.name;
  }
}

// http_fuzz: a multipart body sent to a route whose handler reads a plain body -- POST /v1/sessions,
// POST /v1/sessions/{id}/document -- made cpp-httplib call the multipart callback the handler never
// gave (std::bad_function_call), and the exception handler answered 500. Now 415.
TEST(FuzzRegression, MultipartBodyOnAPlainBodyRouteIsNot500) {
  idm::test::ScopedTempDir dir;
  const std::string key = idm::test::AddOperator(dir.path(), "fuzz");
  idm::test::ServerProcess server(dir.path(), {"--workers", "1"});
  ASSERT_GT(server.port(), 0);
  const std::string body = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nhi\r\n--b--\r\n";
  auto post = [&](const std::string& path, const std::string& type, const std::string& data) {
    return idm::test::RawHttp(server.port(), "POST " + path + " HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + key +
                                            "\r\nConnection: close\r\nContent-Type: " + type + "\r\nContent-Length: " +
                                            std::to_string(data.size()) + "\r\n\r\n" + data);
  };
  const std::string open = post("/v1/sessions", "multipart/form-data; boundary=b", body);
  EXPECT_GE(idm::test::RawStatus(open), 400) << open;
  EXPECT_LT(idm::test::RawStatus(open), 500) << open;
  const json session = json::parse(idm::test::RawBody(post("/v1/sessions", "application/json", "{}")), nullptr, false);
  ASSERT_TRUE(session.is_object() && session.contains("session_id")) << session;
  const std::string doc = post("/v1/sessions/" + session["session_id"].get<std::string>() + "/document", "multipart/form-data; boundary=b", body);
  EXPECT_GE(idm::test::RawStatus(doc), 400) << doc;
  EXPECT_LT(idm::test::RawStatus(doc), 500) << doc;
}
