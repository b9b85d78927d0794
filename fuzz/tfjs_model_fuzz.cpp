// TF.js model loading: model.json text + one weight shard. The input is split at the first NUL:
// before it the JSON, after it the bytes of "model.bin". Either a graph comes out or idm::Error.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "nn/executor.h"
#include "nn/tfjs_graph_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string text = all.substr(0, nul);
  std::map<std::string, std::string> shards;
  shards["model.bin"] = nul == std::string::npos ? std::string() : all.substr(nul + 1);
  try {
    auto graph = idm::nn::LoadTfjsGraphModelFromMemory(text, shards);
    // Small graphs are also lowered to XNNPACK and run once, to exercise the executor.
    int64_t inputs = 0;
    for (int v : graph->inputs()) inputs += idm::nn::NumElements(graph->values()[v].shape);
    if (graph->nodes().size() <= 64 && inputs <= 4096) {
      idm::nn::Executor exec(graph, 1);
      std::vector<std::vector<float>> buffers;
      std::vector<const float*> ptrs;
      for (int v : graph->inputs()) {
        buffers.emplace_back(static_cast<size_t>(idm::nn::NumElements(graph->values()[v].shape)), 0.5f);
        ptrs.push_back(buffers.back().data());
      }
      exec.Run(ptrs);
    }
  } catch (const idm::Error&) {
  }
  return 0;
}
