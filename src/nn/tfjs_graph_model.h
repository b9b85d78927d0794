// TF.js graph models (model.json with a TensorFlow GraphDef topology + weight shards), translated
// node by node into a Graph with static shapes for a given batch size.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/graph.h"

namespace idm::nn {

struct TfjsLoadOptions {
  int batch = 1;                      // replaces -1 in the input shape
  std::vector<std::string> outputs;   // node names ("Identity_3:0" or "Identity_3") or signature keys; empty: the signature's
};

// Throws idm::Error: kNotFound (file), kModelFormat (malformed JSON/weights, naming what),
// kUnsupportedOp (naming the node and the op).
// `files`, if given, receives every file read (model.json and its shards), for hashing.
std::shared_ptr<Graph> LoadTfjsGraphModel(const std::string& model_json_path, const TfjsLoadOptions& options = {},
                                          std::vector<std::string>* files = nullptr);

// The same from memory: the model.json text and its shards by the names its manifest uses
// (for fuzzing and tests; a missing shard is kNotFound).
std::shared_ptr<Graph> LoadTfjsGraphModelFromMemory(const std::string& model_json_text,
                                                    const std::map<std::string, std::string>& shards,
                                                    const TfjsLoadOptions& options = {});

// The files a graph model consists of: model.json and the shards its manifest names.
std::vector<std::string> TfjsModelFiles(const std::string& model_json_path);

}  // namespace idm::nn
