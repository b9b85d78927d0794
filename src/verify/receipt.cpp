#include "verify/receipt.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>

#include "core/error.h"
#include "core/secure_memory.h"

namespace idm::verify {

using nlohmann::json;

std::string Base64UrlEncode(std::string_view bytes) {
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string Base64UrlDecode(std::string_view text) {
  // libsodium 1.0.18 decodes some bytes outside the alphabet (e.g. 0xC4) as if they were in it
  // (found by receipt_fuzz, 2026-12-07): a token with such a byte in its signature verified, so
  // tokens were malleable. Only the base64url alphabet is accepted.
  for (const char ch : text) {
    const bool in_alphabet =
        (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
    if (!in_alphabet) throw Error(ErrorCode::kInvalidArgument, "not base64url");
  }
  std::string out(text.size() * 3 / 4 + 3, '\0');
  size_t n = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr, &n,
                        &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    throw Error(ErrorCode::kInvalidArgument, "not base64url");
  }
  out.resize(n);
  return out;
}

std::string JwkThumbprint(const std::string& x) {
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const std::string canonical = R"({"crv":"Ed25519","kty":"OKP","x":")" + x + R"("})";
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size());
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(h), sizeof h));
}

SigningKey::SigningKey(SigningKey&& o) noexcept
    : seed_(o.seed_), secret_(o.secret_), public_(o.public_), kid_(std::move(o.kid_)) {
  o.seed_ = o.secret_ = nullptr;
}
SigningKey& SigningKey::operator=(SigningKey&& o) noexcept {
  if (this != &o) {
    if (seed_ != nullptr) sodium_free(seed_);
    if (secret_ != nullptr) sodium_free(secret_);
    seed_ = o.seed_, secret_ = o.secret_, public_ = o.public_, kid_ = std::move(o.kid_);
    o.seed_ = o.secret_ = nullptr;
  }
  return *this;
}
SigningKey::~SigningKey() {
  if (seed_ != nullptr) sodium_free(seed_);
  if (secret_ != nullptr) sodium_free(secret_);
}

void SigningKey::Derive() {
  if (secret_ == nullptr) secret_ = static_cast<unsigned char*>(sodium_malloc(crypto_sign_SECRETKEYBYTES));
  if (secret_ == nullptr) throw std::bad_alloc();
  crypto_sign_seed_keypair(public_.data(), secret_, seed_);
  kid_ = JwkThumbprint(Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(public_.data()), public_.size())));
}

SigningKey SigningKey::Generate() {
  EnsureSodium();
  SigningKey k;
  k.seed_ = static_cast<unsigned char*>(sodium_malloc(crypto_sign_SEEDBYTES));
  if (k.seed_ == nullptr) throw std::bad_alloc();
  randombytes_buf(k.seed_, crypto_sign_SEEDBYTES);
  k.Derive();
  return k;
}

SigningKey SigningKey::LoadOrCreate(const std::string& data_dir, bool create) {
  EnsureSodium();
  const std::string path = data_dir + "/receipt-key.json";
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    SigningKey k;
    try {
      const json j = json::parse(text);
      if (j.at("kty") != "OKP" || j.at("crv") != "Ed25519") throw Error(ErrorCode::kInvalidArgument, "not an Ed25519 key");
      std::string d = Base64UrlDecode(j.at("d").get<std::string>());
      if (d.size() != crypto_sign_SEEDBYTES) throw Error(ErrorCode::kInvalidArgument, "the private key is not 32 bytes");
      k.seed_ = static_cast<unsigned char*>(sodium_malloc(crypto_sign_SEEDBYTES));
      if (k.seed_ == nullptr) throw std::bad_alloc();
      std::memcpy(k.seed_, d.data(), d.size());
      sodium_memzero(d.data(), d.size());
    } catch (const json::exception& e) {
      sodium_memzero(text.data(), text.size());
      throw Error(ErrorCode::kInvalidArgument, "signing key '" + path + "' is malformed: " + e.what());
    }
    sodium_memzero(text.data(), text.size());
    k.Derive();
    return k;
  }
  if (!create) throw Error(ErrorCode::kNotFound, "no signing key at '" + path + "'");
  SigningKey k = Generate();
  const std::string d = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(k.seed_), crypto_sign_SEEDBYTES));
  json jwk = k.PublicJwk();
  jwk["d"] = d;
  std::string text = jwk.dump(2) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(ErrorCode::kNotFound, "cannot create signing key '" + path + "': " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  sodium_memzero(text.data(), text.size());
  if (!ok) throw Error(ErrorCode::kInternal, "cannot write signing key '" + path + "'");
  return k;
}

json SigningKey::PublicJwk() const {
  return {{"kty", "OKP"},
          {"crv", "Ed25519"},
          {"x", Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(public_.data()), public_.size()))},
          {"kid", kid_},
          {"alg", "EdDSA"},
          {"use", "sig"}};
}

std::string SigningKey::Sign(const json& claims) const {
  const json header = {{"alg", "EdDSA"}, {"kid", kid_}, {"typ", "JWT"}};
  const std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()), input.size(), secret_);
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(sig), sizeof sig));
}

namespace {

// A string member of a JSON object; `absent` when it is missing, nullopt when it is there but not
// a string. (json::value() throws on a wrong type, and these objects come from the token and the
// key set, i.e. from whoever hands us a receipt.)
std::optional<std::string> StringMember(const json& o, const char* key, const std::string& absent = "") {
  const auto it = o.find(key);
  if (it == o.end()) return absent;
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

JwsCheck VerifyJws(const std::string& token, const json& jwks) {
  JwsCheck r;
  const size_t a = token.find('.'), b = a == std::string::npos ? a : token.find('.', a + 1);
  if (a == std::string::npos || b == std::string::npos || token.find('.', b + 1) != std::string::npos) {
    r.reason = "not a compact JWS (three base64url parts separated by '.')";
    return r;
  }
  std::string sig, payload;
  try {
    r.header = json::parse(Base64UrlDecode(std::string_view(token).substr(0, a)));
    payload = Base64UrlDecode(std::string_view(token).substr(a + 1, b - a - 1));
    sig = Base64UrlDecode(std::string_view(token).substr(b + 1));
  } catch (const std::exception& e) {
    r.reason = std::string("malformed JWS: ") + e.what();
    return r;
  }
  if (!r.header.is_object() || StringMember(r.header, "alg") != "EdDSA") {
    r.reason = "unsupported alg (only EdDSA)";
    return r;
  }
  if (r.header.contains("crit")) {
    r.reason = "unsupported critical header";
    return r;
  }
  if (sig.size() != crypto_sign_BYTES) {
    r.reason = "signature is not 64 bytes";
    return r;
  }
  const std::optional<std::string> header_kid = StringMember(r.header, "kid");
  if (!header_kid) {
    r.reason = "the header's kid is not a string";
    return r;
  }
  const std::string& kid = *header_kid;
  if (!jwks.is_object() || !jwks.contains("keys") || !jwks["keys"].is_array()) {
    r.reason = "key set has no keys";
    return r;
  }
  bool kid_seen = false;
  for (const auto& k : jwks["keys"]) {
    if (!k.is_object() || StringMember(k, "kty") != "OKP" || StringMember(k, "crv") != "Ed25519") continue;
    if (!kid.empty() && StringMember(k, "kid") != kid) continue;
    kid_seen = true;
    const std::optional<std::string> x_text = StringMember(k, "x");
    if (!x_text) continue;
    std::string x;
    try {
      x = Base64UrlDecode(*x_text);
    } catch (const Error&) {
      continue;
    }
    if (x.size() != crypto_sign_PUBLICKEYBYTES) continue;
    if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                    reinterpret_cast<const unsigned char*>(token.data()), b,
                                    reinterpret_cast<const unsigned char*>(x.data())) == 0) {
      // The signature holds; a receipt's payload must also be a JSON object.
      r.claims = json::parse(payload, nullptr, false);
      if (r.claims.is_discarded() || !r.claims.is_object()) {
        r.claims = nullptr;
        r.reason = "signature OK, but the payload is not a JSON object";
        return r;
      }
      r.valid = true;
      return r;
    }
  }
  r.reason = kid_seen ? "signature does not verify" : "no key with kid '" + kid + "'";
  return r;
}

double Round2(double x) { return std::round(x * 100.0) / 100.0; }

json MakeReceiptClaims(const ReceiptFacts& f) {
  json liveness = {{"verdict", f.liveness_verdict}, {"score", nullptr}};
  if (f.liveness_score) liveness["score"] = Round2(*f.liveness_score);
  return {{"iss", "idmatch"},
          {"iat", f.issued_at},
          {"sid", f.session_id},
          {"nonce", f.nonce},
          {"operator", f.operator_name},
          {"decision", f.decision},
          {"match_score", Round2(f.match_score)},
          {"threshold", f.threshold},
          {"fmr_target", f.fmr_target},
          {"liveness", liveness},
          {"document", {{"type", f.document_type}, {"issuing_country", f.document_country}}},
          {"quality_flags", {{"document", f.document_quality_flags}, {"probe", f.probe_quality_flags}}},
          {"frames", {{"received", f.frames_received}, {"with_face", f.frames_with_face}}},
          {"models", f.model_hashes}};
}

}  // namespace idm::verify
