#include "nn/model.h"

#include <sodium.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "core/secure_memory.h"
#include "nn/tfjs_weights.h"

namespace idm::nn {

std::string ModelRoot() {
  const char* env = std::getenv("IDMATCH_MODEL_DIR");
  return env != nullptr && *env != '\0' ? env : IDMATCH_MODEL_DIR;
}

namespace {

std::string Hex(const unsigned char* p, size_t n) {
  std::string s(2 * n + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), p, n);
  s.pop_back();
  return s;
}

// SHA-256 over the concatenation of the files' own hashes, in order.
std::string HashOfHashes(const std::vector<std::string>& files) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  for (const auto& f : files) {
    const std::string h = Sha256File(f);
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(h.data()), h.size());
  }
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  return Hex(out, sizeof out);
}

}  // namespace

std::string Sha256File(const std::string& path) {
  InstallSecureAllocators();  // also runs sodium_init
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::kNotFound, "cannot open '" + path + "'");
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  char buf[1 << 16];
  while (f) {
    f.read(buf, sizeof buf);
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(buf), static_cast<size_t>(f.gcount()));
  }
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  return Hex(out, sizeof out);
}

std::unique_ptr<Model> Model::FromTfjs(const std::string& name, const std::string& model_json,
                                       const TfjsLoadOptions& options, int threads) {
  std::vector<std::string> files;
  auto graph = LoadTfjsGraphModel(model_json, options, &files);
  return FromGraph(name, std::move(graph), files, threads);
}

std::unique_ptr<Model> Model::FromGraph(const std::string& name, std::shared_ptr<const Graph> graph,
                                        const std::vector<std::string>& files, int threads) {
  auto m = std::unique_ptr<Model>(new Model());
  m->name_ = name;
  m->sha256_ = HashOfHashes(files);
  m->executor_ = std::make_unique<Executor>(std::move(graph), threads);
  return m;
}

}  // namespace idm::nn
