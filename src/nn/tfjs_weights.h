// TF.js weight manifests: the `weightsManifest` of a graph model's model.json and face-api's
// `*-weights_manifest.json` share one format -- groups of binary shards holding named tensors
// back to back, optionally quantised (float16, or uint8/uint16 with a per-tensor scale and min).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nn/graph.h"

namespace idm::nn {

struct WeightTensor {
  Shape shape;
  bool is_integer = false;    // int32 in the manifest (shapes, axes, paddings)
  std::vector<float> values;  // dequantised; integers are exact below 2^24
};

class WeightStore {
 public:
  // Reads the bytes of one shard, given its path (dir + "/" + the manifest's name).
  using ShardReader = std::function<std::string(const std::string& path)>;
  // Reads every shard named by `manifest` (a JSON array of groups) from `dir` and dequantises.
  // `read` defaults to the file system; tests and fuzzers pass shards from memory.
  static WeightStore Load(const nlohmann::json& manifest, const std::string& dir, const ShardReader& read = {});
  // Convenience for face-api: a `*-weights_manifest.json` file next to its shards.
  static WeightStore LoadManifestFile(const std::string& path);

  bool Has(const std::string& name) const { return tensors_.count(name) > 0; }
  const WeightTensor& Get(const std::string& name) const;  // throws kModelFormat naming the tensor
  const std::map<std::string, WeightTensor>& all() const { return tensors_; }
  // The files read, for hashing into a model version.
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::map<std::string, WeightTensor> tensors_;
  std::vector<std::string> files_;
};

// Reads a whole file (throws kNotFound).
std::string ReadFileBytes(const std::string& path);

}  // namespace idm::nn
