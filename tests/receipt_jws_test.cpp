// Receipts: compact JWS with EdDSA/Ed25519 (RFC 8037). Checked against the RFC's own test vector,
// against an independent implementation (npm jose, run with node), and through the CLI.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <set>

#include "server_harness.h"
#include "core/error.h"
#include "verify/receipt.h"

namespace idm {
namespace {

using nlohmann::json;

verify::ReceiptFacts SampleFacts() {
  verify::ReceiptFacts f;
  f.session_id = "sess-1";
  f.decision = "match";
  f.nonce = "n-1";
  f.operator_name = "shop";
  f.match_score = 0.876543;
  f.threshold = 0.5;
  f.fmr_target = 1e-3;
  f.liveness_score = 0.912;
  f.liveness_verdict = "live";
  f.document_quality_flags = {"blurry"};
  f.model_hashes = {{"resnet128", std::string(64, 'a')}};
  f.issued_at = 1700000000;
  return f;
}

TEST(ReceiptJws, Rfc8037TestVector) {
  // RFC 8037 appendix A.1/A.4: public key and the JWS of "Example of Ed25519 signing".
  const json jwks = {{"keys", json::array({{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}})}};
  const std::string token =
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  // The signature verifies; the payload is text, not a receipt, so it is still not "valid".
  EXPECT_EQ(verify::JwkThumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  const verify::JwsCheck c = verify::VerifyJws(token, jwks);
  EXPECT_FALSE(c.valid);
  EXPECT_EQ(c.reason, "signature OK, but the payload is not a JSON object");
  // One flipped signature bit: the signature check itself fails.
  std::string bad = token;
  bad[bad.size() - 10] = bad[bad.size() - 10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verify::VerifyJws(bad, jwks).reason, "signature does not verify");
  EXPECT_EQ(verify::Base64UrlDecode("RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"), "Example of Ed25519 signing");
}

TEST(ReceiptJws, SignVerifyAndTamper) {
  const auto key = verify::SigningKey::Generate();
  const json claims = verify::MakeReceiptClaims(SampleFacts());
  const std::string token = key.Sign(claims);
  const json jwks = {{"keys", json::array({key.PublicJwk()})}};
  const verify::JwsCheck ok = verify::VerifyJws(token, jwks);
  ASSERT_TRUE(ok.valid) << ok.reason;
  EXPECT_EQ(ok.claims, claims);
  EXPECT_EQ(ok.header["alg"], "EdDSA");
  EXPECT_EQ(ok.header["kid"], key.kid());

  // Flip the decision in the payload: the signature no longer verifies.
  json forged = claims;
  forged["decision"] = "no_match";
  const size_t a = token.find('.'), b = token.rfind('.');
  const std::string tampered = token.substr(0, a + 1) + verify::Base64UrlEncode(forged.dump()) + token.substr(b);
  EXPECT_FALSE(verify::VerifyJws(tampered, jwks).valid);
  // Another key does not verify it.
  const auto other = verify::SigningKey::Generate();
  json other_jwks = {{"keys", json::array({other.PublicJwk()})}};
  other_jwks["keys"][0]["kid"] = key.kid();
  EXPECT_FALSE(verify::VerifyJws(token, other_jwks).valid);
  // alg none / garbage.
  EXPECT_FALSE(verify::VerifyJws(verify::Base64UrlEncode(R"({"alg":"none"})") + "." + token.substr(a + 1), jwks).valid);
  EXPECT_FALSE(verify::VerifyJws("not.a.jws", jwks).valid);
  EXPECT_FALSE(verify::VerifyJws("", jwks).valid);
}

TEST(ReceiptJws, ClaimsHoldNoPersonalData) {
  const json claims = verify::MakeReceiptClaims(SampleFacts());
  const std::set<std::string> allowed = {"iss", "iat", "sid", "nonce", "operator", "decision", "match_score", "threshold",
                                         "fmr_target", "liveness", "document", "quality_flags", "frames", "models"};
  for (const auto& [k, v] : claims.items()) EXPECT_TRUE(allowed.count(k)) << "unexpected claim " << k;
  EXPECT_EQ(claims["document"].size(), 2u);  // type and issuing country only: no name, no number
  EXPECT_TRUE(claims["document"].contains("type"));
  EXPECT_TRUE(claims["document"].contains("issuing_country"));
  EXPECT_DOUBLE_EQ(claims["match_score"].get<double>(), 0.88);  // 2 decimals
  EXPECT_DOUBLE_EQ(claims["liveness"]["score"].get<double>(), 0.91);
  EXPECT_EQ(claims.dump().find("0.876"), std::string::npos);
}

TEST(ReceiptJws, KeyFileIsPrivateAndStable) {
  test::ScopedTempDir dir;
  std::string kid;
  {
    const auto k = verify::SigningKey::LoadOrCreate(dir.path());
    kid = k.kid();
  }
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("receipt-key.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(verify::SigningKey::LoadOrCreate(dir.path()).kid(), kid);
  test::ScopedTempDir empty;
  EXPECT_THROW(verify::SigningKey::LoadOrCreate(empty.path(), false), Error);
}

TEST(ReceiptJws, JoseVerifiesOurReceipts) {
  ASSERT_TRUE(test::JoseInstalled()) << "npm jose missing: run (cd tests/js && npm ci --ignore-scripts)";
  const auto key = verify::SigningKey::Generate();
  const json claims = verify::MakeReceiptClaims(SampleFacts());
  const std::string token = key.Sign(claims);
  const json jwks = {{"keys", json::array({key.PublicJwk()})}};
  const json v = test::JoseVerify(jwks, token);
  ASSERT_TRUE(v.value("valid", false)) << v.dump();
  EXPECT_EQ(v["claims"], claims);
  EXPECT_EQ(v["header"]["alg"], "EdDSA");
  // And jose rejects a forged one.
  json forged = claims;
  forged["decision"] = "no_match";
  const std::string bad = token.substr(0, token.find('.') + 1) + verify::Base64UrlEncode(forged.dump()) + token.substr(token.rfind('.'));
  EXPECT_FALSE(test::JoseVerify(jwks, bad).value("valid", true));
}

TEST(ReceiptJws, CliVerify) {
  test::ScopedTempDir dir;
  const auto key = verify::SigningKey::LoadOrCreate(dir.path());
  const std::string token = key.Sign(verify::MakeReceiptClaims(SampleFacts()));
  const test::ProcResult ok = test::RunIdmatch({"receipt", "verify", token, "--data-dir", dir.path(), "--json"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  const json j = json::parse(ok.out, nullptr, false);
  EXPECT_TRUE(j.value("valid", false)) << ok.out;
  EXPECT_EQ(j["claims"]["sid"], "sess-1");
  // With a JWKS file instead of the data dir; a tampered token fails with exit code 1.
  const std::string jwks_path = dir.Write("jwks.json", json{{"keys", json::array({key.PublicJwk()})}}.dump());
  std::string bad = token;
  bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
  const test::ProcResult no = test::RunIdmatch({"receipt", "verify", bad, "--jwks", jwks_path});
  EXPECT_EQ(no.exit_code, 1) << no.out << no.err;
  EXPECT_NE(no.out.find("INVALID"), std::string::npos) << no.out;
  EXPECT_EQ(test::RunIdmatch({"receipt", "verify", token, "--jwks", jwks_path}).exit_code, 0);
}

}  // namespace
}  // namespace idm
