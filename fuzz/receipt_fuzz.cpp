// Receipt (JWS) verification against a fixed Ed25519 key (src/verify/receipt.h).
// Input: a compact JWS, optionally followed by '\n' and JSON. The token is verified against the
// fixed key set and, when the JSON parses, against it as a key set; the JSON, when it is an
// object, is also signed as claims and must verify and round-trip. VerifyJws never throws, and
// accepts a token only if it is canonical base64url and its claims are a JSON object.
// With IDMATCH_FUZZ_SEED_DIR set, LLVMFuzzerInitialize writes seed receipts signed by the key.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "core/error.h"
#include "verify/receipt.h"

namespace {

using nlohmann::json;
using idm::verify::SigningKey;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

const SigningKey* g_key = nullptr;
json g_jwks;

std::string SeedReceipt(const SigningKey& key, int i) {
  idm::verify::ReceiptFacts f;
  f.session_id = "sess-" + std::to_string(i);
  f.decision = i % 2 ? "match" : "no_match";
  f.nonce = "nonce-" + std::to_string(i);
  f.operator_name = "fuzz";
  f.match_score = 0.5 + 0.1 * i;
  f.threshold = 0.42;
  f.fmr_target = 1e-3;
  if (i % 3 == 0) f.liveness_score = 0.9;
  f.document_quality_flags = {"glare"};
  f.frames_received = i;
  f.frames_with_face = i;
  f.model_hashes = {{"embedder", std::string(64, 'a')}};
  f.issued_at = 1'790'000'000 + i;
  return key.Sign(idm::verify::MakeReceiptClaims(f));
}

bool Canonical(const std::string& part) {
  try {
    return idm::verify::Base64UrlEncode(idm::verify::Base64UrlDecode(part)) == part;
  } catch (const idm::Error&) {
    return false;
  }
}

void CheckResult(const idm::verify::JwsCheck& c, const std::string& token) {
  if (!c.valid) {
    Check(!c.reason.empty());
    return;
  }
  Check(c.claims.is_object() && c.header.is_object());
  const size_t a = token.find('.'), b = token.find('.', a + 1);
  Check(Canonical(token.substr(0, a)) && Canonical(token.substr(a + 1, b - a - 1)) && Canonical(token.substr(b + 1)));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A fixed key (seed 0x01..0x20), so that a corpus stays meaningful across runs.
  char dir[] = "/dev/shm/receipt_fuzz.XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  std::string seed;
  for (int i = 1; i <= 32; ++i) seed += static_cast<char>(i);
  std::ofstream(std::string(dir) + "/receipt-key.json") << json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"d", idm::verify::Base64UrlEncode(seed)}}.dump();
  g_key = new SigningKey(SigningKey::LoadOrCreate(dir, false));
  std::filesystem::remove_all(dir);
  g_jwks = {{"keys", json::array({g_key->PublicJwk()})}};
  if (const char* out = std::getenv("IDMATCH_FUZZ_SEED_DIR"); out != nullptr && *out != '\0') {
    std::filesystem::create_directories(out);
    for (int i = 0; i < 4; ++i) {
      std::ofstream(std::string(out) + "/receipt-" + std::to_string(i)) << SeedReceipt(*g_key, i);
    }
    // A receipt followed by the key set that verifies it, and one followed by claims to sign.
    std::ofstream(std::string(out) + "/receipt-jwks") << SeedReceipt(*g_key, 7) << "\n" << g_jwks.dump();
    std::ofstream(std::string(out) + "/claims") << "x.y.z\n" << idm::verify::MakeReceiptClaims({}).dump();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t nl = all.find('\n');
  const std::string token = all.substr(0, nl);
  const auto fixed = idm::verify::VerifyJws(token, g_jwks);
  CheckResult(fixed, token);
  if (nl == std::string::npos) return 0;

  const json j = json::parse(all.substr(nl + 1), nullptr, false);
  if (j.is_discarded()) return 0;
  // The JSON as a key set (what `idmatch receipt verify --jwks` reads).
  CheckResult(idm::verify::VerifyJws(token, j), token);
  // The JSON as claims: signed by the fixed key, it verifies and reads back unchanged.
  if (j.is_object()) {
    const std::string signed_token = g_key->Sign(j);
    const auto c = idm::verify::VerifyJws(signed_token, g_jwks);
    Check(c.valid && c.claims == j);
    CheckResult(c, signed_token);
    // One character changed anywhere in the signing input or the signature: no longer valid.
    std::string tampered = signed_token;
    const size_t at = size % tampered.size();
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    if (tampered[at] != '.' && signed_token[at] != '.') Check(!idm::verify::VerifyJws(tampered, g_jwks).valid);
  }
  return 0;
}
