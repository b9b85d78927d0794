#include "nn/model.h"

#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <mutex>

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

// SHA-256 over the concatenation of the files' own hashes, in order. Cached for the process's
// lifetime: model files do not change under a running engine.
std::string HashOfHashes(const std::vector<std::string>& files) {
  static std::mutex mu;
  static std::map<std::vector<std::string>, std::string> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(files); it != cache.end()) return it->second;
  }
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  for (const auto& f : files) {
    const std::string h = Sha256File(f);
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(h.data()), h.size());
  }
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  const std::string hex = Hex(out, sizeof out);
  std::lock_guard<std::mutex> lock(mu);
  cache[files] = hex;
  return hex;
}

}  // namespace

std::string Sha256File(const std::string& path) {
  InstallSecureAllocators();  // also runs EnsureSodium
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

std::shared_ptr<const Graph> SharedGraph(const std::string& key, const std::function<std::shared_ptr<const Graph>()>& build) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<const Graph>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto g = cache[key].lock()) return g;
  auto g = build();
  cache[key] = g;
  return g;
}

std::unique_ptr<Model> Model::FromTfjs(const std::string& name, const std::string& model_json,
                                       const TfjsLoadOptions& options, int threads) {
  std::string key = model_json + "|batch=" + std::to_string(options.batch);
  for (const auto& o : options.outputs) key += "|" + o;
  std::vector<std::string> files;
  auto graph = SharedGraph(key, [&] { return LoadTfjsGraphModel(model_json, options, &files); });
  if (files.empty()) files = TfjsModelFiles(model_json);
  return FromGraph(name, std::move(graph), files, threads);
}

std::unique_ptr<Model> Model::FromWeightManifest(const std::string& name, const std::string& manifest_path,
                                                 const std::function<std::shared_ptr<Graph>(const WeightStore&)>& build,
                                                 int threads, const std::string& variant) {
  std::vector<std::string> files;
  auto graph = SharedGraph(manifest_path + "|" + variant, [&] {
    const WeightStore w = WeightStore::LoadManifestFile(manifest_path);
    return build(w);
  });
  files.push_back(manifest_path);
  const auto slash = manifest_path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : manifest_path.substr(0, slash);
  try {
    for (const auto& group : nlohmann::json::parse(ReadFileBytes(manifest_path))) {
      for (const auto& p : group.at("paths")) files.push_back(dir + "/" + p.get<std::string>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kModelFormat, "'" + manifest_path + "': " + e.what());
  }
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
