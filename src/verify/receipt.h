// Signed decision receipts: compact JWS (RFC 7515) with EdDSA over Ed25519 (RFC 8037), keys as
// OKP JWKs. A receipt holds the decision and the numbers behind it -- never an image, an
// embedding, a name or a document number (MakeReceiptClaims is the one place claims are built).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace idm::verify {

std::string Base64UrlEncode(std::string_view bytes);
// Throws Error(kInvalidArgument) on anything that is not unpadded base64url.
std::string Base64UrlDecode(std::string_view text);

// One Ed25519 signing key. The 32-byte seed is kept in sodium_malloc'd memory.
class SigningKey {
 public:
  // Reads DIR/receipt-key.json, or (when `create`) creates it (mode 0600) with a fresh random
  // key; without `create` a missing file is Error(kNotFound).
  static SigningKey LoadOrCreate(const std::string& data_dir, bool create = true);
  static SigningKey Generate();
  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  const std::string& kid() const { return kid_; }
  // Public JWK: {"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"}
  nlohmann::json PublicJwk() const;
  // Compact JWS of `claims` (header {"alg":"EdDSA","kid":...,"typ":"JWT"}).
  std::string Sign(const nlohmann::json& claims) const;

 private:
  SigningKey() = default;
  void Derive();  // public key and kid from the seed
  unsigned char* seed_ = nullptr;  // 32 bytes, sodium_malloc
  unsigned char* secret_ = nullptr;  // 64 bytes (seed || pk), sodium_malloc
  std::array<unsigned char, 32> public_{};
  std::string kid_;
};

// RFC 7638 thumbprint of an Ed25519 public key, base64url: the key id.
std::string JwkThumbprint(const std::string& x_b64url);

struct JwsCheck {
  bool valid = false;
  std::string reason;        // why not, when !valid
  nlohmann::json header, claims;
};
// Verifies a compact JWS against a JWK set ({"keys": [...]}); only alg EdDSA / crv Ed25519.
JwsCheck VerifyJws(const std::string& token, const nlohmann::json& jwks);

// What a receipt says. Scores are rounded to 2 decimals.
struct ReceiptFacts {
  std::string session_id, decision, nonce, operator_name;
  double match_score = 0, threshold = 0, fmr_target = 0;
  std::string liveness_verdict = "not_checked";
  std::optional<double> liveness_score;
  std::string document_type = "unknown", document_country = "unknown";
  std::vector<std::string> document_quality_flags, probe_quality_flags;
  int frames_received = 0, frames_with_face = 0;
  nlohmann::json model_hashes = nlohmann::json::object();  // model name -> sha256
  int64_t issued_at = 0;                                   // seconds since the epoch
};
nlohmann::json MakeReceiptClaims(const ReceiptFacts& f);
double Round2(double x);

}  // namespace idm::verify
