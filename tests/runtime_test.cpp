// The NN runtime: how the TF.js loader reports broken models, what Graph::Simplify rewrites in the
// real Human models, hand-computed results of a tiny graph (pinning the HWIO/HWIM/[in,out] weight
// layouts and NHWC activations), and the model version hashes.
// Temp files written here are model JSON copies, weight shards and a text file: nothing biometric.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "nn/executor.h"
#include "nn/graph.h"
#include "nn/model.h"
#include "nn/tfjs_graph_model.h"
#include "nn/tfjs_weights.h"
#include "test_util.h"

namespace idm::nn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string HumanModel(const std::string& name) { return test::ModelDir() + "/human-models/models/" + name + ".json"; }

#define REQUIRE_MODEL(name)                                                                            \
  do {                                                                                                 \
    if (!test::Exists(HumanModel(name))) GTEST_SKIP() << "models not installed: " << HumanModel(name); \
  } while (0)

// Runs `fn`, expecting an idm::Error; returns it (or a kInternal placeholder after a failure).
Error ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected an idm::Error, got another exception: " << e.what();
    return Error(ErrorCode::kInternal, "");
  }
  ADD_FAILURE() << "expected an idm::Error, nothing was thrown";
  return Error(ErrorCode::kInternal, "");
}

// liveness.json (optionally edited) in a temp dir next to a symlink to the real liveness.bin.
std::string WriteLiveness(const test::ScopedTempDir& dir, const std::function<void(json&)>& edit,
                          bool link_shard = true) {
  json model = test::ReadJson(HumanModel("liveness"));
  edit(model);
  if (link_shard) fs::create_symlink(test::ModelDir() + "/human-models/models/liveness.bin", dir.File("liveness.bin"));
  return dir.Write("liveness.json", model.dump());
}

json& NodeNamed(json& model, const std::string& name) {
  for (auto& n : model.at("modelTopology").at("node")) {
    if (n.at("name") == name) return n;
  }
  throw std::runtime_error("no node " + name);
}

const char kLivenessPool[] = "StatefulPartitionedCall/sequential_1/max_pooling2d_1/MaxPool";

// ---------------------------------------------------------------------------------------------
// Loader error handling.

TEST(TfjsLoader, UnmodifiedCopyLoads) {
  // The baseline for the edits below: the copy-plus-symlink setup itself is fine.
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string path = WriteLiveness(dir, [](json&) {});
  auto g = LoadTfjsGraphModel(path);
  ASSERT_EQ(g->inputs().size(), 1u);
  EXPECT_EQ(g->values()[g->inputs()[0]].shape, (Shape{1, 32, 32, 3}));
  ASSERT_EQ(g->outputs().size(), 1u);
  EXPECT_EQ(g->values()[g->outputs()[0]].shape, (Shape{1, 2}));
}

TEST(TfjsLoader, UnknownOpNamesNodeAndOp) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string path = WriteLiveness(dir, [](json& m) { NodeNamed(m, kLivenessPool)["op"] = "FancyOp"; });
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kUnsupportedOp) << e.what();
  EXPECT_NE(std::string(e.what()).find(kLivenessPool), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("FancyOp"), std::string::npos) << e.what();
}

TEST(TfjsLoader, UnknownFusedActivationIsUnsupportedOp) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string conv = "StatefulPartitionedCall/sequential_1/activation_1/Relu";
  const std::string path = WriteLiveness(dir, [&](json& m) {
    // fused_ops ["BiasAdd", "Relu"] -> ["BiasAdd", "Elu"] (the attribute is base64 in model.json)
    NodeNamed(m, conv)["attr"]["fused_ops"]["list"]["s"] = json::array({"Qmlhc0FkZA==", "RWx1"});
  });
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kUnsupportedOp) << e.what();
  EXPECT_NE(std::string(e.what()).find(conv), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("Elu"), std::string::npos) << e.what();
}

TEST(TfjsLoader, NotJson) {
  test::ScopedTempDir dir;
  const std::string path = dir.Write("model.json", "this is { not JSON");
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
}

TEST(TfjsLoader, MissingFileIsNotFound) {
  test::ScopedTempDir dir;
  const std::string path = dir.File("absent.json");
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
}

TEST(TfjsLoader, JsonWithoutTopology) {
  test::ScopedTempDir dir;
  for (const std::string body : {R"({"weightsManifest": []})", R"([1, 2, 3])", R"({"modelTopology": {"node": []}})"}) {
    const std::string path = dir.Write("model.json", body);
    const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
    EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << body << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find("modelTopology"), std::string::npos) << body << ": " << e.what();
  }
}

TEST(TfjsLoader, NodeWithoutOpIsModelFormat) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string path = WriteLiveness(dir, [](json& m) { NodeNamed(m, kLivenessPool).erase("op"); });
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  EXPECT_NE(std::string(e.what()).find("'op'"), std::string::npos) << e.what();
}

TEST(TfjsLoader, ShardShorterThanTensors) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string path = WriteLiveness(
      dir, [](json&) {}, /*link_shard=*/false);
  const auto bin = test::ReadBytes(test::ModelDir() + "/human-models/models/liveness.bin");
  ASSERT_GT(bin.size(), 100u);
  dir.Write("liveness.bin", std::string_view(reinterpret_cast<const char*>(bin.data()), bin.size() - 64));
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  // Names the tensor that does not fit.
  EXPECT_NE(std::string(e.what()).find("runs past the end"), std::string::npos) << e.what();
  const json manifest = test::ReadJson(path).at("weightsManifest");
  const std::string last = manifest.back().at("weights").back().at("name");
  EXPECT_NE(std::string(e.what()).find(last), std::string::npos) << e.what();
}

TEST(TfjsLoader, ShardLongerThanTensors) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string path = WriteLiveness(
      dir, [](json&) {}, /*link_shard=*/false);
  auto bin = test::ReadBytes(test::ModelDir() + "/human-models/models/liveness.bin");
  bin.resize(bin.size() + 8, 0);
  dir.Write("liveness.bin", std::string_view(reinterpret_cast<const char*>(bin.data()), bin.size()));
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  EXPECT_NE(std::string(e.what()).find("8 bytes"), std::string::npos) << e.what();
}

TEST(TfjsLoader, MissingShardIsNotFound) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string path = WriteLiveness(
      dir, [](json&) {}, /*link_shard=*/false);
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  EXPECT_NE(std::string(e.what()).find("liveness.bin"), std::string::npos) << e.what();
}

TEST(TfjsLoader, ShardPathEscapingTheFolder) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string path = WriteLiveness(dir, [](json& m) { m["weightsManifest"][0]["paths"][0] = "../liveness.bin"; });
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  EXPECT_NE(std::string(e.what()).find("escapes"), std::string::npos) << e.what();
}

TEST(TfjsLoader, UnsupportedWeightDtype) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  std::string name;
  const std::string path = WriteLiveness(dir, [&](json& m) {
    json& w = m["weightsManifest"][0]["weights"][0];
    name = w.at("name");
    w["dtype"] = "complex64";
  });
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("complex64"), std::string::npos) << e.what();
}

TEST(TfjsLoader, NodeReadingMissingInput) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  const std::string path =
      WriteLiveness(dir, [](json& m) { NodeNamed(m, kLivenessPool)["input"][0] = "no_such_tensor"; });
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  EXPECT_NE(std::string(e.what()).find("no_such_tensor"), std::string::npos) << e.what();
}

TEST(TfjsLoader, CycleIsModelFormat) {
  REQUIRE_MODEL("liveness");
  test::ScopedTempDir dir;
  // The pool reads the output of a node that (through the network) reads the pool.
  const std::string later = "StatefulPartitionedCall/sequential_1/activation_3/Relu";
  const std::string path = WriteLiveness(dir, [&](json& m) { NodeNamed(m, kLivenessPool)["input"][0] = later; });
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(path); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
}

TEST(TfjsLoader, UnknownOutputName) {
  REQUIRE_MODEL("liveness");
  TfjsLoadOptions opt;
  opt.outputs = {"no_such_output"};
  const Error e = ErrorOf([&] { LoadTfjsGraphModel(HumanModel("liveness"), opt); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << e.what();
  EXPECT_NE(std::string(e.what()).find("no_such_output"), std::string::npos) << e.what();
}

// ---------------------------------------------------------------------------------------------
// Graph::Simplify on the real models (LoadTfjsGraphModel runs it).

int LiveCount(const Graph& g, Op op) {
  return static_cast<int>(
      std::count_if(g.nodes().begin(), g.nodes().end(), [&](const Node& n) { return !n.removed && n.op == op; }));
}

TEST(Simplify, MobileFaceNetPReluFolded) {
  REQUIRE_MODEL("mobilefacenet");
  auto g = LoadTfjsGraphModel(HumanModel("mobilefacenet"));
  // 33 PReLUs spelled relu(x) + c*(x - |x|) (or with x instead of relu(x)).
  EXPECT_GE(LiveCount(*g, Op::kPRelu), 33);
  EXPECT_EQ(LiveCount(*g, Op::kAbs), 0);
  EXPECT_EQ(LiveCount(*g, Op::kSub), 0);
}

TEST(Simplify, MobileFacePReluFolded) {
  REQUIRE_MODEL("mobileface");
  auto g = LoadTfjsGraphModel(HumanModel("mobileface"));
  // 13 PReLUs spelled max(x, 0) + c*min(x, 0).
  EXPECT_GE(LiveCount(*g, Op::kPRelu), 13);
  EXPECT_EQ(LiveCount(*g, Op::kMinimum), 0);
  EXPECT_EQ(LiveCount(*g, Op::kMaximum), 0);
}

TEST(Simplify, FaceResRelu6FoldedIntoProducers) {
  REQUIRE_MODEL("faceres");
  auto g = LoadTfjsGraphModel(HumanModel("faceres"));
  EXPECT_EQ(LiveCount(*g, Op::kMinimum), 0);
  EXPECT_EQ(LiveCount(*g, Op::kMaximum), 0);
  // Every ReLU6 ended up as a [0, 6] range fused into the op producing its input: no standalone
  // clamp is left behind one that could have taken it.
  int fused6 = 0;
  for (const Node& n : g->nodes()) {
    if (n.removed) continue;
    if (n.op != Op::kClamp && n.attrs.out_min == 0.f && n.attrs.out_max == 6.f) ++fused6;
    if (n.op == Op::kClamp) {
      const int p = g->values()[n.inputs[0]].producer;
      EXPECT_TRUE(p < 0 || g->nodes()[p].removed)
          << "clamp '" << n.name << "' was not fused into '" << g->nodes()[p].name << "'";
    }
  }
  EXPECT_EQ(fused6, 27);
}

TEST(Simplify, IrisConcatRunsOnCpu) {
  REQUIRE_MODEL("iris");
  auto g = LoadTfjsGraphModel(HumanModel("iris"));
  EXPECT_EQ(LiveCount(*g, Op::kConcat), 1);
  Executor exec(g, 1);
  const std::string summary = exec.PartitionSummary();
  EXPECT_NE(summary.find("cpu(Concat)"), std::string::npos) << summary;
  EXPECT_EQ(summary.rfind("xnn(", 0), 0u) << summary;
}

// ---------------------------------------------------------------------------------------------
// Hand-built graphs with hand-computed results.

std::vector<float> RunOne(const std::shared_ptr<Graph>& g, const std::vector<std::vector<float>>& inputs,
                          size_t output = 0) {
  Executor exec(g, 1);
  std::vector<const float*> ptrs;
  for (const auto& x : inputs) ptrs.push_back(x.data());
  auto outs = exec.Run(ptrs);
  return std::vector<float>(outs.at(output).begin(), outs.at(output).end());
}

// x: 1x3x3x1 = 1..9 row-major; filter HWIO 2x2x1x2: channel 0 = [[1,2],[3,4]], channel 1 = [[10,0],[0,0]].
int ConvGraph(Graph& g, float out_min, float out_max) {
  const int x = g.AddInput("x", {1, 3, 3, 1});
  // HWIO flat index ((h*2 + w)*1 + i)*2 + o.
  const int f = g.AddConstant("f", {2, 2, 1, 2}, {1, 10, 2, 0, 3, 0, 4, 0});
  const int b = g.AddConstant("b", {2}, {0.5f, -1.f});
  return g.Conv2D("conv", x, f, b, 1, PadMode::kValid, out_min, out_max);
}

const std::vector<float> kNine = {1, 2, 3, 4, 5, 6, 7, 8, 9};

TEST(HandGraph, Conv2DValidHwioNhwcBiasClamp) {
  auto g = std::make_shared<Graph>();
  const int y = ConvGraph(*g, 0.f, 60.f);
  EXPECT_EQ(g->values()[y].shape, (Shape{1, 2, 2, 2}));
  g->AddOutput(y, "y");
  // ch0: 1*1+2*2+4*3+5*4 = 37, 47, 63, 73, + 0.5, clamped to 60; ch1: 10*top-left - 1 = 9, 19, 39, 49.
  const std::vector<float> want = {37.5f, 9, 47.5f, 19, 60, 39, 60, 49};
  EXPECT_EQ(RunOne(g, {kNine}), want);
}

TEST(HandGraph, SeparateClampIsFusedBySimplify) {
  auto g = std::make_shared<Graph>();
  const int conv = ConvGraph(*g, -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity());
  const int lo = g->AddConstant("zero", {}, {0.f});
  const int hi = g->AddConstant("sixty", {}, {60.f});
  const int mx = g->AddNode(Op::kMaximum, "max", {conv, lo});
  const int y = g->AddNode(Op::kMinimum, "min", {mx, hi});
  g->AddOutput(y, "y");
  g->Simplify();
  EXPECT_EQ(LiveCount(*g, Op::kMaximum) + LiveCount(*g, Op::kMinimum) + LiveCount(*g, Op::kClamp), 0);
  ASSERT_EQ(LiveCount(*g, Op::kConv2D), 1);
  const std::vector<float> want = {37.5f, 9, 47.5f, 19, 60, 39, 60, 49};
  EXPECT_EQ(RunOne(g, {kNine}), want);
}

TEST(HandGraph, PReluSpelledOutIsFoldedAndExact) {
  // relu(x) + c*(x - |x|) with c = 0.25 per channel  ==  prelu(x, 0.5)
  for (int form = 0; form < 2; ++form) {
    auto g = std::make_shared<Graph>();
    const int x = g->AddInput("x", {1, 1, 2, 2});
    const int c = g->AddConstant("c", {2}, {0.25f, 0.125f});
    int y;
    if (form == 0) {
      NodeAttrs relu;
      relu.out_min = 0.f;
      const int r = g->AddNode(Op::kClamp, "relu", {x}, relu);
      const int a = g->AddNode(Op::kAbs, "abs", {x});
      const int s = g->AddNode(Op::kSub, "sub", {x, a});
      const int m = g->AddNode(Op::kMul, "mul", {c, s});
      y = g->AddNode(Op::kAdd, "add", {r, m});
    } else {
      const int zero = g->AddConstant("zero", {}, {0.f});
      const int mx = g->AddNode(Op::kMaximum, "max", {x, zero});
      const int mn = g->AddNode(Op::kMinimum, "min", {x, zero});
      const int m = g->AddNode(Op::kMul, "mul", {mn, c});
      y = g->AddNode(Op::kAdd, "add", {mx, m});
    }
    g->AddOutput(y, "y");
    g->Simplify();
    EXPECT_EQ(LiveCount(*g, Op::kPRelu), 1) << "form " << form;
    EXPECT_EQ(LiveCount(*g, Op::kMul), 0) << "form " << form;
    // Form 1 doubles c (x - |x| = 2 min(x, 0)); form 2 uses it as is.
    const float s0 = form == 0 ? 0.5f : 0.25f, s1 = form == 0 ? 0.25f : 0.125f;
    const std::vector<float> want = {-4 * s0, 3, 5, -8 * s1};
    EXPECT_EQ(RunOne(g, {{-4, 3, 5, -8}}), want) << "form " << form;
  }
}

TEST(HandGraph, RewritesKeepValuesOthersStillRead) {
  // relu(x) + c*(x - |x|), but relu(x) is also read by another node: the PReLU may be folded,
  // the relu must survive for its other reader. Likewise a clamp whose input has two readers
  // must not be fused into that input's producer.
  auto g = std::make_shared<Graph>();
  const int x = g->AddInput("x", {1, 1, 2, 1});
  const int c = g->AddConstant("c", {1}, {0.25f});
  NodeAttrs relu;
  relu.out_min = 0.f;
  const int r = g->AddNode(Op::kClamp, "relu", {x}, relu);
  const int a = g->AddNode(Op::kAbs, "abs", {x});
  const int s = g->AddNode(Op::kSub, "sub", {x, a});
  const int m = g->AddNode(Op::kMul, "mul", {s, c});
  const int prelu = g->AddNode(Op::kAdd, "add", {r, m});
  const int three = g->AddConstant("three", {}, {3.f});
  const int r3 = g->AddNode(Op::kMul, "relu_x3", {r, three});  // second reader of relu(x)
  const int sum = g->AddNode(Op::kAdd, "sum", {prelu, r3});
  NodeAttrs cap;
  cap.out_max = 10.f;
  const int capped = g->AddNode(Op::kClamp, "cap", {sum}, cap);
  const int twice = g->AddNode(Op::kMul, "sum_x2", {sum, g->AddConstant("two", {}, {2.f})});  // second reader of sum
  g->AddOutput(capped, "capped");
  g->AddOutput(twice, "twice");
  g->Simplify();
  EXPECT_EQ(LiveCount(*g, Op::kPRelu), 1);
  EXPECT_EQ(LiveCount(*g, Op::kAbs), 0);
  // x = [-4, 5]: prelu = [-2, 5], 3 relu = [0, 15], sum = [-2, 20], capped = [-2, 10], twice = [-4, 40].
  Executor exec(g, 1);
  const std::vector<float> in = {-4, 5};
  const auto outs = exec.Run({in.data()});
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(std::vector<float>(outs[0].begin(), outs[0].end()), (std::vector<float>{-2, 10}))
      << exec.PartitionSummary();
  EXPECT_EQ(std::vector<float>(outs[1].begin(), outs[1].end()), (std::vector<float>{-4, 40}))
      << exec.PartitionSummary();
}

TEST(HandGraph, DepthwiseHwimChannelOrder) {
  auto g = std::make_shared<Graph>();
  const int x = g->AddInput("x", {1, 1, 2, 2});
  // HWIM 1x1x2x2: input channel 0 -> (2, 3), input channel 1 -> (5, 7); output channel i*M + m.
  const int f = g->AddConstant("f", {1, 1, 2, 2}, {2, 3, 5, 7});
  const int b = g->AddConstant("b", {4}, {0, 0, 0, 1000});
  const int y = g->DepthwiseConv2D("dw", x, f, b, 1, PadMode::kSame);
  EXPECT_EQ(g->values()[y].shape, (Shape{1, 1, 2, 4}));
  g->AddOutput(y, "y");
  const std::vector<float> want = {2, 3, 50, 1070, 4, 6, 100, 1140};
  EXPECT_EQ(RunOne(g, {{1, 10, 2, 20}}), want);
}

TEST(HandGraph, FullyConnectedInOutWeights) {
  auto g = std::make_shared<Graph>();
  const int x = g->AddInput("x", {1, 2});
  const int w = g->AddConstant("w", {2, 3}, {1, 2, 3, 4, 5, 6});  // [in, out]
  const int b = g->AddConstant("b", {3}, {1, 1, 1});
  const int y = g->AddNode(Op::kFullyConnected, "fc", {x, w, b});
  g->AddOutput(y, "y");
  EXPECT_EQ(RunOne(g, {{1, 2}}), (std::vector<float>{10, 13, 16}));
}

TEST(HandGraph, ConcatOnChannelsBetweenXnnStages) {
  auto g = std::make_shared<Graph>();
  const int a_in = g->AddInput("a", {1, 2, 2, 1});
  const int b_in = g->AddInput("b", {1, 2, 2, 2});
  const int one = g->AddConstant("one", {}, {1.f});
  const int two = g->AddConstant("two", {}, {2.f});
  const int a = g->AddNode(Op::kAdd, "a+1", {a_in, one});
  NodeAttrs cat;
  cat.axis = -1;
  const int c = g->AddNode(Op::kConcat, "concat", {a, b_in}, cat);
  EXPECT_EQ(g->values()[c].shape, (Shape{1, 2, 2, 3}));
  const int y = g->AddNode(Op::kMul, "x2", {c, two});
  g->AddOutput(y, "y");
  g->AddOutput(c, "concat");
  Executor exec(g, 1);
  EXPECT_EQ(exec.PartitionSummary(), "xnn(1) cpu(Concat) xnn(1)");
  const std::vector<float> av = {1, 2, 3, 4}, bv = {10, 11, 20, 21, 30, 31, 40, 41};
  auto outs = exec.Run({av.data(), bv.data()});
  ASSERT_EQ(outs.size(), 2u);
  const std::vector<float> want_cat = {2, 10, 11, 3, 20, 21, 4, 30, 31, 5, 40, 41};
  EXPECT_EQ(std::vector<float>(outs[1].begin(), outs[1].end()), want_cat);
  std::vector<float> want = want_cat;
  for (float& v : want) v *= 2;
  EXPECT_EQ(std::vector<float>(outs[0].begin(), outs[0].end()), want);
  // A second run with other inputs gives the new result (no stale buffers).
  const std::vector<float> av2 = {0, 0, 0, 0};
  outs = exec.Run({av2.data(), bv.data()});
  EXPECT_EQ(outs[1][0], 1.f);
  EXPECT_EQ(outs[0][3], 2.f);
}

TEST(HandGraph, ConcatOnHeightAxis) {
  auto g = std::make_shared<Graph>();
  const int a = g->AddInput("a", {1, 1, 2, 1});
  const int b = g->AddInput("b", {1, 2, 2, 1});
  NodeAttrs cat;
  cat.axis = 1;
  const int y = g->AddNode(Op::kConcat, "concat", {a, b}, cat);
  g->AddOutput(y, "y");
  EXPECT_EQ(RunOne(g, {{1, 2}, {3, 4, 5, 6}}), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(HandGraph, PadNhwcWithValue) {
  auto g = std::make_shared<Graph>();
  const int x = g->AddInput("x", {1, 2, 2, 1});
  NodeAttrs p;
  p.pre_pad = {0, 1, 0, 0};   // one row on top
  p.post_pad = {0, 0, 2, 0};  // two columns on the right
  p.pad_value = -1.f;
  const int y = g->AddNode(Op::kPad, "pad", {x}, p);
  EXPECT_EQ(g->values()[y].shape, (Shape{1, 3, 4, 1}));
  g->AddOutput(y, "y");
  const std::vector<float> want = {-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1};
  EXPECT_EQ(RunOne(g, {{1, 2, 3, 4}}), want);
}

TEST(HandGraph, PadChannels) {
  auto g = std::make_shared<Graph>();
  const int x = g->AddInput("x", {1, 1, 2, 1});
  NodeAttrs p;
  p.pre_pad = {0, 0, 0, 1};
  p.post_pad = {0, 0, 0, 1};
  const int y = g->AddNode(Op::kPad, "pad", {x}, p);
  g->AddOutput(y, "y");
  EXPECT_EQ(RunOne(g, {{7, 8}}), (std::vector<float>{0, 7, 0, 0, 8, 0}));
}

TEST(HandGraph, SamePoolingIgnoresPadding) {
  // TF's SAME pooling: 3x3 input, 2x2 window, stride 2 -> pad one row/column at the bottom/right.
  // The average divides by the pixels inside the image; the max never sees the padding.
  for (Op op : {Op::kAvgPool2D, Op::kMaxPool2D}) {
    auto g = std::make_shared<Graph>();
    const int x = g->AddInput("x", {1, 3, 3, 1});
    const int y = g->Pool2D(op, "pool", x, 2, 2, PadMode::kSame);
    EXPECT_EQ(g->values()[y].shape, (Shape{1, 2, 2, 1}));
    g->AddOutput(y, "y");
    std::vector<float> neg = kNine;
    for (float& v : neg) v = -v;
    const std::vector<float> got = RunOne(g, {neg});
    const std::vector<float> want =
        op == Op::kAvgPool2D ? std::vector<float>{-3, -4.5f, -7.5f, -9} : std::vector<float>{-1, -3, -7, -9};
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << OpName(op) << " [" << i << "]";
  }
}

TEST(HandGraph, CpuReduceSumAndRsqrt) {
  auto g = std::make_shared<Graph>();
  const int x = g->AddInput("x", {1, 2, 2});
  const int sq = g->AddNode(Op::kSquare, "square", {x});
  NodeAttrs a;
  a.axes = {2};
  a.keep_dims = true;
  const int s = g->AddNode(Op::kReduceSum, "sum", {sq}, a);
  EXPECT_EQ(g->values()[s].shape, (Shape{1, 2, 1}));
  const int r = g->AddNode(Op::kRsqrt, "rsqrt", {s});
  const int y = g->AddNode(Op::kMul, "normalise", {x, r});
  g->AddOutput(y, "y");
  const std::vector<float> got = RunOne(g, {{3, 4, 0, 2}});
  const std::vector<float> want = {0.6f, 0.8f, 0.f, 1.f};
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(HandGraph, ShapeErrorsNameTheNode) {
  Graph g;
  const int x = g.AddInput("x", {1, 4, 4, 3});
  const int f = g.AddConstant("f", {3, 3, 2, 8}, std::vector<float>(3 * 3 * 2 * 8));
  Error e = ErrorOf([&] { g.Conv2D("my_conv", x, f, -1, 1, PadMode::kSame); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat);
  EXPECT_NE(std::string(e.what()).find("my_conv"), std::string::npos) << e.what();

  e = ErrorOf([&] { g.AddConstant("c", {2, 2}, {1, 2, 3}); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat);
  EXPECT_NE(std::string(e.what()).find("'c'"), std::string::npos) << e.what();

  const int y = g.AddInput("y", {1, 4, 4, 2});
  e = ErrorOf([&] { g.AddNode(Op::kAdd, "bad_add", {x, y}); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat);
  EXPECT_NE(std::string(e.what()).find("bad_add"), std::string::npos) << e.what();

  NodeAttrs r;
  r.new_shape = {1, 47};
  e = ErrorOf([&] { g.AddNode(Op::kReshape, "bad_reshape", {x}, r); });
  EXPECT_EQ(e.code(), ErrorCode::kModelFormat);
  EXPECT_NE(std::string(e.what()).find("bad_reshape"), std::string::npos) << e.what();
}

TEST(HandGraph, RunWithWrongInputCount) {
  auto g = std::make_shared<Graph>();
  const int y = ConvGraph(*g, 0.f, 60.f);
  g->AddOutput(y, "y");
  Executor exec(g, 1);
  const Error e = ErrorOf([&] { exec.Run({}); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
}

// ---------------------------------------------------------------------------------------------
// Model identity.

// ---------------------------------------------------------------------------------------------
// Resize, transposed convolution and AddN (MediaPipe's selfie segmentation): each against a naive
// reference written from TF's definitions, on small tensors with awkward sizes.

std::vector<float> Ramp(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) - 0.5f;
  }
  return v;
}

// tf.image.resize_bilinear on NHWC (N = 1): source coordinate per TF's three modes, edges clamped.
std::vector<float> ResizeRef(const std::vector<float>& x, int h, int w, int c, int oh, int ow, bool align, bool half) {
  auto coord = [&](int o, int in, int out, int* lo, int* hi, float* t) {
    const float scale = align && out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1)
                                         : static_cast<float>(in) / static_cast<float>(out);
    const float src = half ? (static_cast<float>(o) + 0.5f) * scale - 0.5f : static_cast<float>(o) * scale;
    const float f = std::floor(src);
    *lo = std::max(static_cast<int>(f), 0);
    *hi = std::min(static_cast<int>(std::ceil(src)), in - 1);
    *t = src - f;
  };
  std::vector<float> y(static_cast<size_t>(oh) * ow * c);
  for (int oy = 0; oy < oh; ++oy) {
    int y0, y1, x0, x1;
    float ty, tx;
    coord(oy, h, oh, &y0, &y1, &ty);
    for (int ox = 0; ox < ow; ++ox) {
      coord(ox, w, ow, &x0, &x1, &tx);
      for (int k = 0; k < c; ++k) {
        auto at = [&](int yy, int xx) { return x[(static_cast<size_t>(yy) * w + xx) * c + k]; };
        const float top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * tx;
        const float bot = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * tx;
        y[(static_cast<size_t>(oy) * ow + ox) * c + k] = top + (bot - top) * ty;
      }
    }
  }
  return y;
}

// The gradient of a convolution with respect to its input: every input pixel scatters its
// channels times the filter taps [kh,kw,out,in] onto the output, shifted by the padding.
std::vector<float> DeconvRef(const std::vector<float>& x, int h, int w, int ci, const std::vector<float>& f, int kh,
                             int kw, int co, int stride, int pad_top, int pad_left, int oh, int ow) {
  std::vector<float> y(static_cast<size_t>(oh) * ow * co, 0.f);
  for (int iy = 0; iy < h; ++iy)
    for (int ix = 0; ix < w; ++ix)
      for (int ky = 0; ky < kh; ++ky)
        for (int kx = 0; kx < kw; ++kx) {
          const int oy = iy * stride + ky - pad_top, ox = ix * stride + kx - pad_left;
          if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
          for (int o = 0; o < co; ++o)
            for (int i = 0; i < ci; ++i) {
              y[(static_cast<size_t>(oy) * ow + ox) * co + o] +=
                  x[(static_cast<size_t>(iy) * w + ix) * ci + i] *
                  f[((static_cast<size_t>(ky) * kw + kx) * co + o) * ci + i];
            }
        }
  return y;
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << what << " at " << i;
}

TEST(HandGraph, ResizeBilinearThreeTfModes) {
  struct Case {
    int h, w, oh, ow;
  };
  for (const Case cs : {Case{3, 4, 7, 9}, Case{5, 6, 2, 3}, Case{4, 4, 8, 8}, Case{1, 3, 2, 5}}) {
    for (int mode = 0; mode < 3; ++mode) {
      const bool align = mode == 1, half = mode == 2;
      const int c = 3;
      auto g = std::make_shared<Graph>();
      const int x = g->AddInput("x", {1, cs.h, cs.w, c});
      NodeAttrs a;
      a.resize_h = cs.oh;
      a.resize_w = cs.ow;
      a.align_corners = align;
      a.half_pixel_centers = half;
      const int y = g->AddNode(Op::kResizeBilinear, "resize", {x}, a);
      EXPECT_EQ(g->values()[y].shape, (Shape{1, cs.oh, cs.ow, c}));
      g->AddOutput(y, "y");
      const auto in = Ramp(static_cast<size_t>(cs.h) * cs.w * c, 7);
      ExpectNear(RunOne(g, {in}), ResizeRef(in, cs.h, cs.w, c, cs.oh, cs.ow, align, half),
                 std::to_string(cs.h) + "x" + std::to_string(cs.w) + "->" + std::to_string(cs.oh) + "x" +
                     std::to_string(cs.ow) + " mode " + std::to_string(mode));
    }
  }
}

TEST(HandGraph, Deconv2DFilterLayoutPaddingAndAdjustment) {
  struct Case {
    int h, w, ci, co, k, stride, pad_top, pad_bottom, pad_left, pad_right, adjust;
  };
  // Selfie's own shape (k 2, stride 2, no padding), padded 3x3 taps, and an adjusted output.
  for (const Case cs : {Case{3, 4, 5, 1, 2, 2, 0, 0, 0, 0, 0}, Case{3, 3, 2, 3, 3, 2, 1, 1, 1, 1, 0},
                        Case{2, 3, 2, 2, 3, 2, 0, 1, 0, 1, 1}, Case{4, 2, 1, 2, 1, 2, 0, 0, 0, 0, 1}}) {
    auto g = std::make_shared<Graph>();
    const int x = g->AddInput("x", {1, cs.h, cs.w, cs.ci});
    const auto fv = Ramp(static_cast<size_t>(cs.k) * cs.k * cs.co * cs.ci, 11);
    const int f = g->AddConstant("f", {cs.k, cs.k, cs.co, cs.ci}, fv);
    const auto bv = Ramp(static_cast<size_t>(cs.co), 13);
    const int b = g->AddConstant("b", {cs.co}, bv);
    NodeAttrs a;
    a.stride_h = a.stride_w = cs.stride;
    a.pad = {cs.pad_top, cs.pad_right, cs.pad_bottom, cs.pad_left};
    a.adjust_h = a.adjust_w = cs.adjust;
    const int y = g->AddNode(Op::kDeconv2D, "deconv", {x, f, b}, a);
    const int oh = (cs.h - 1) * cs.stride + cs.k - cs.pad_top - cs.pad_bottom + cs.adjust;
    const int ow = (cs.w - 1) * cs.stride + cs.k - cs.pad_left - cs.pad_right + cs.adjust;
    ASSERT_EQ(g->values()[y].shape, (Shape{1, oh, ow, cs.co}));
    g->AddOutput(y, "y");
    const auto in = Ramp(static_cast<size_t>(cs.h) * cs.w * cs.ci, 17);
    auto want = DeconvRef(in, cs.h, cs.w, cs.ci, fv, cs.k, cs.k, cs.co, cs.stride, cs.pad_top, cs.pad_left, oh, ow);
    for (size_t i = 0; i < want.size(); ++i) want[i] += bv[i % cs.co];
    ExpectNear(
        RunOne(g, {in}), want,
        "case k" + std::to_string(cs.k) + " pad " + std::to_string(cs.pad_top) + " adj " + std::to_string(cs.adjust));
  }
}

// A TF.js graph model in memory: float32 / int32 constants packed into one shard.
struct TinyModel {
  json nodes = json::array(), weights = json::array();
  std::string shard;
  void Const(const std::string& name, const Shape& shape, const std::vector<float>& v, bool int32 = false) {
    nodes.push_back({{"name", name}, {"op", "Const"}});
    weights.push_back({{"name", name}, {"shape", shape}, {"dtype", int32 ? "int32" : "float32"}});
    for (float f : v) {
      if (int32) {
        const auto i = static_cast<int32_t>(f);
        shard.append(reinterpret_cast<const char*>(&i), 4);
      } else {
        shard.append(reinterpret_cast<const char*>(&f), 4);
      }
    }
  }
  std::shared_ptr<Graph> Load(const std::string& output) const {
    const json model = {{"modelTopology", {{"node", nodes}}},
                        {"weightsManifest", json::array({{{"paths", {"w.bin"}}, {"weights", weights}}})}};
    TfjsLoadOptions opt;
    opt.outputs = {output};
    return LoadTfjsGraphModelFromMemory(model.dump(), {{"w.bin", shard}}, opt);
  }
};

json Placeholder(const std::string& name, const Shape& shape) {
  json dims = json::array();
  for (int64_t d : shape) dims.push_back({{"size", std::to_string(d)}});
  return {{"name", name}, {"op", "Placeholder"}, {"attr", {{"shape", {{"shape", {{"dim", dims}}}}}}}};
}

TEST(TfjsLoader, Conv2DBackpropInputSameFromOutputSize) {
  // TF pads a transposed convolution like the forward convolution from the asked output size;
  // rows that padding cannot produce come back as an adjustment (k 1, stride 2: 3 -> 6, not 5).
  struct Case {
    int h, w, k, out_h, out_w;
    const char* padding;
  };
  for (const Case cs : {Case{3, 3, 2, 6, 6, "SAME"}, Case{3, 3, 3, 5, 6, "SAME"}, Case{3, 2, 1, 6, 4, "SAME"},
                        Case{3, 3, 3, 7, 8, "VALID"}}) {
    const char* padding = cs.padding;
    const int ci = 2, co = 3;
    TinyModel m;
    m.nodes.push_back(Placeholder("x", {1, cs.h, cs.w, ci}));
    m.Const("sizes", {4}, {1, static_cast<float>(cs.out_h), static_cast<float>(cs.out_w), co}, true);
    const auto fv = Ramp(static_cast<size_t>(cs.k) * cs.k * co * ci, 3);
    m.Const("filter", {cs.k, cs.k, co, ci}, fv);
    std::string pad_b64(64, '\0');
    sodium_bin2base64(pad_b64.data(), pad_b64.size(), reinterpret_cast<const unsigned char*>(padding),
                      std::strlen(padding), sodium_base64_VARIANT_ORIGINAL);
    pad_b64.resize(std::strlen(pad_b64.c_str()));
    m.nodes.push_back(
        {{"name", "deconv"},
         {"op", "Conv2DBackpropInput"},
         {"input", {"sizes", "filter", "x"}},
         {"attr", {{"padding", {{"s", pad_b64}}}, {"strides", {{"list", {{"i", {"1", "2", "2", "1"}}}}}}}}});
    const auto g = m.Load("deconv");
    ASSERT_EQ(g->values()[g->outputs()[0]].shape, (Shape{1, cs.out_h, cs.out_w, co}));
    int pt = 0, pb = 0, pl = 0, pr = 0;
    const PadMode mode = std::string(padding) == "SAME" ? PadMode::kSame : PadMode::kValid;
    Graph::TfPadding(mode, cs.out_h, cs.k, 2, 1, &pt, &pb);
    Graph::TfPadding(mode, cs.out_w, cs.k, 2, 1, &pl, &pr);
    const auto in = Ramp(static_cast<size_t>(cs.h) * cs.w * ci, 5);
    ExpectNear(RunOne(g, {in}), DeconvRef(in, cs.h, cs.w, ci, fv, cs.k, cs.k, co, 2, pt, pl, cs.out_h, cs.out_w),
               std::string(padding) + " k" + std::to_string(cs.k) + " -> " + std::to_string(cs.out_h) + "x" +
                   std::to_string(cs.out_w));
  }
}

TEST(TfjsLoader, Conv2DBackpropInputRefusesSizesItCannotProduce) {
  // A 3x3 input cannot become 9x9 through a stride-2 transposed convolution, and a size that is
  // no integer dimension at all (here 1e30) is refused before it is converted.
  for (const float side : {9.f, 1e30f}) {
    TinyModel m;
    m.nodes.push_back(Placeholder("x", {1, 3, 3, 1}));
    m.Const("sizes", {4}, {1, side, 6, 1});
    m.Const("filter", {2, 2, 1, 1}, {1, 1, 1, 1});
    m.nodes.push_back(
        {{"name", "deconv"},
         {"op", "Conv2DBackpropInput"},
         {"input", {"sizes", "filter", "x"}},
         {"attr", {{"padding", {{"s", "U0FNRQ=="}}}, {"strides", {{"list", {{"i", {"1", "2", "2", "1"}}}}}}}}});
    const Error e = ErrorOf([&] { m.Load("deconv"); });
    EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << side;
    EXPECT_NE(std::string(e.what()).find("deconv"), std::string::npos) << e.what();
  }
}

TEST(TfjsLoader, ResizeBilinearAttributesAndAddN) {
  for (int mode = 0; mode < 3; ++mode) {
    TinyModel m;
    m.nodes.push_back(Placeholder("x", {1, 3, 5, 2}));
    m.Const("size", {2}, {8, 4}, true);
    m.Const("bias", {1, 8, 4, 2}, Ramp(64, 9));
    m.nodes.push_back({{"name", "resize"},
                       {"op", "ResizeBilinear"},
                       {"input", {"x", "size"}},
                       {"attr", {{"align_corners", {{"b", mode == 1}}}, {"half_pixel_centers", {{"b", mode == 2}}}}}});
    // AddN of three: resize + bias + resize.
    m.nodes.push_back(
        {{"name", "sum"}, {"op", "AddN"}, {"input", {"resize", "bias", "resize"}}, {"attr", {{"N", {{"i", "3"}}}}}});
    const auto g = m.Load("sum");
    ASSERT_EQ(g->values()[g->outputs()[0]].shape, (Shape{1, 8, 4, 2}));
    const auto in = Ramp(30, 21);
    auto want = ResizeRef(in, 3, 5, 2, 8, 4, mode == 1, mode == 2);
    const auto bias = Ramp(64, 9);
    for (size_t i = 0; i < want.size(); ++i) want[i] = 2 * want[i] + bias[i];
    ExpectNear(RunOne(g, {in}), want, "mode " + std::to_string(mode));
  }
}

// Found by tfjs_model_fuzz under clang: a node with too few inputs read its input's name before
// the bounds check ran (argument order), and threw std::out_of_range instead of naming the node.
TEST(TfjsLoader, NodeMissingAnInputIsModelFormatForEveryOp) {
  for (const char* op : {"Conv2D", "DepthwiseConv2dNative", "AddV2", "Mul", "MatMul", "Conv2DBackpropInput", "Prelu"}) {
    TinyModel m;
    m.nodes.push_back(Placeholder("x", {1, 4, 4, 2}));
    m.nodes.push_back({{"name", "n"}, {"op", op}, {"input", json::array()}});
    try {
      m.Load("n");
      ADD_FAILURE() << op << ": loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelFormat) << op << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << op << ": " << typeid(e).name() << ": " << e.what();
    }
  }
}

TEST(TfjsLoader, SelfieSegmentationLoadsAndRuns) {
  REQUIRE_MODEL("selfie");
  const auto model = Model::FromTfjs("selfie", HumanModel("selfie"), {}, 1);
  const std::vector<float> x = test::SyntheticInput(256 * 256 * 3);
  const auto y = model->Run({x.data()});
  ASSERT_EQ(y.size(), 1u);
  ASSERT_EQ(y[0].size(), 256u * 256u);
  // A sigmoid mask: finite, in [0, 1].
  EXPECT_TRUE(std::all_of(y[0].begin(), y[0].end(), [](float v) { return std::isfinite(v) && v >= 0.f && v <= 1.f; }));
}

TEST(ModelHash, Sha256FileKnownVectors) {
  test::ScopedTempDir dir;
  EXPECT_EQ(Sha256File(dir.Write("abc.txt", "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256File(dir.Write("empty.txt", "")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // Longer than the 64 KiB read buffer: one million 'a' (FIPS 180-2 test vector).
  EXPECT_EQ(Sha256File(dir.Write("million.txt", std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const Error e = ErrorOf([&] { Sha256File(dir.File("absent")); });
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
}

TEST(ModelHash, StableAcrossLoadsAndNamesTheFiles) {
  REQUIRE_MODEL("liveness");
  const auto a = Model::FromTfjs("liveness", HumanModel("liveness"), {}, 1);
  const auto b = Model::FromTfjs("liveness", HumanModel("liveness"), {}, 1);
  ASSERT_EQ(a->sha256().size(), 64u);
  EXPECT_TRUE(std::all_of(a->sha256().begin(), a->sha256().end(), [](char ch) {
    return std::isxdigit(static_cast<unsigned char>(ch)) && !std::isupper(static_cast<unsigned char>(ch));
  })) << a->sha256();
  EXPECT_EQ(a->sha256(), b->sha256());
  EXPECT_EQ(a->name(), "liveness");

  // Documented as the SHA-256 over the model's files: the hash of the two files' hex hashes.
  const std::string hashes =
      Sha256File(HumanModel("liveness")) + Sha256File(test::ModelDir() + "/human-models/models/liveness.bin");
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(hashes.data()), hashes.size());
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  EXPECT_EQ(a->sha256(), hex);

  // The same weights under a re-serialised model.json are another version.
  test::ScopedTempDir dir;
  const std::string copy = WriteLiveness(dir, [](json&) {});
  const auto c = Model::FromTfjs("liveness", copy, {}, 1);
  EXPECT_NE(c->sha256(), a->sha256());
  // Identical outputs nevertheless.
  const std::vector<float> x = test::SyntheticInput(32 * 32 * 3);
  const auto ya = a->Run({x.data()}), yc = c->Run({x.data()});
  ASSERT_EQ(ya.size(), 1u);
  EXPECT_EQ(std::vector<float>(ya[0].begin(), ya[0].end()), std::vector<float>(yc[0].begin(), yc[0].end()));
}

TEST(ModelHash, ModelRootHonoursEnvironment) {
  const char* old = std::getenv("IDMATCH_MODEL_DIR");
  const std::string saved = old ? old : "";
  ::setenv("IDMATCH_MODEL_DIR", "/some/where", 1);
  EXPECT_EQ(ModelRoot(), "/some/where");
  ::setenv("IDMATCH_MODEL_DIR", "", 1);
  EXPECT_EQ(ModelRoot(), IDMATCH_MODEL_DIR);
  if (old)
    ::setenv("IDMATCH_MODEL_DIR", saved.c_str(), 1);
  else
    ::unsetenv("IDMATCH_MODEL_DIR");
}

}  // namespace
}  // namespace idm::nn
