// Runs a Graph: lowers it to XNNPACK subgraphs (one per maximal run of ops XNNPACK has) with CPU
// steps in between for the rest, the way TFLite's XNNPACK delegate partitions a model.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/secure_memory.h"
#include "nn/graph.h"

typedef struct pthreadpool* pthreadpool_t;

namespace idm::nn {

// A process-wide thread pool for inference (nullptr means: run on the calling thread only).
pthreadpool_t SharedThreadPool(int threads);

class Executor {
 public:
  // `graph` must outlive the executor (XNNPACK keeps pointers to its constant data).
  // threads <= 1 runs on the calling thread.
  Executor(std::shared_ptr<const Graph> graph, int threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Feeds the graph inputs (in Graph::inputs() order, NumElements(shape) floats each) and returns
  // the outputs in Graph::outputs() order. Thread-safe (one run at a time per executor).
  std::vector<SecureVector<float>> Run(const std::vector<const float*>& inputs);

  const Graph& graph() const { return *graph_; }
  // How the graph was partitioned, e.g. "xnn(241) cpu(Concat) xnn(3)".
  std::string PartitionSummary() const;

 private:
  struct Stage;
  void Build();
  void RunCpuNode(const Node& node);
  float* Buffer(int value);
  const float* ConstOrBuffer(int value);

  std::shared_ptr<const Graph> graph_;
  pthreadpool_t pool_ = nullptr;
  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<SecureVector<float>> buffers_;   // per value id; empty if internal to a subgraph
  std::vector<std::vector<float>> packed_;     // re-laid-out weights that XNNPACK points into
  std::mutex mu_;
};

}  // namespace idm::nn
