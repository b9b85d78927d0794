// A loaded network ready to run, with the identity of the exact files it came from.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/executor.h"
#include "nn/tfjs_graph_model.h"

namespace idm::nn {

// Root of the pinned npm model packages: $IDMATCH_MODEL_DIR if set, else the build's default
// (<repo>/models/node_modules/@vladmandic).
std::string ModelRoot();

// Hex SHA-256 of a file's bytes (libsodium).
std::string Sha256File(const std::string& path);

// Graphs are immutable once built, so every Model of the same network shares one (and with it
// the weights): a second face analyser costs XNNPACK's packed weights, not another copy.
std::shared_ptr<const Graph> SharedGraph(const std::string& key, const std::function<std::shared_ptr<const Graph>()>& build);

class Model {
 public:
  // A TF.js graph model, e.g. path = ModelRoot() + "/human-models/models/blazeface.json".
  static std::unique_ptr<Model> FromTfjs(const std::string& name, const std::string& model_json,
                                         const TfjsLoadOptions& options, int threads);
  // A face-api weight-only net: `build` declares the layers over the manifest's weights.
  static std::unique_ptr<Model> FromWeightManifest(
      const std::string& name, const std::string& manifest_path,
      const std::function<std::shared_ptr<Graph>(const class WeightStore&)>& build, int threads,
      const std::string& variant = "");  // distinguishes graphs built differently from one manifest
  // A code-declared net; `files` are the files its weights came from (hashed for the version).
  static std::unique_ptr<Model> FromGraph(const std::string& name, std::shared_ptr<const Graph> graph,
                                          const std::vector<std::string>& files, int threads);

  std::vector<SecureVector<float>> Run(const std::vector<const float*>& inputs) { return executor_->Run(inputs); }
  const Graph& graph() const { return executor_->graph(); }
  const std::string& name() const { return name_; }
  // SHA-256 over the model's files (topology and weights), hex: names the exact model version.
  const std::string& sha256() const { return sha256_; }

 private:
  std::string name_, sha256_;
  std::unique_ptr<Executor> executor_;
};

}  // namespace idm::nn
