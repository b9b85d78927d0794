// Every Human graph model, translated to XNNPACK, reproduces TF.js's outputs on the golden inputs.
#include <gtest/gtest.h>

#include "core/error.h"
#include "nn/executor.h"
#include "nn/tfjs_graph_model.h"
#include "test_util.h"

namespace idm {
namespace {

using nlohmann::json;

struct HumanCase {
  std::string model;
  double tolerance;  // 1e-4 for float32 weights, 1e-3 where the weights are float16
};

class HumanGolden : public ::testing::TestWithParam<HumanCase> {};

TEST_P(HumanGolden, MatchesTfjs) {
  const HumanCase& c = GetParam();
  if (!test::Exists(test::GoldenDir() + "/manifest.json")) GTEST_SKIP() << "no golden data at " << test::GoldenDir();
  const std::string path = test::ModelDir() + "/human-models/models/" + c.model + ".json";
  if (!test::Exists(path)) GTEST_SKIP() << "models not installed (npm ci in models/): " << path;
  const json& m = test::GoldenManifest().at("models").at("human/" + c.model);
  std::vector<std::string> names = m.at("output_names").get<std::vector<std::string>>();

  for (const auto& [case_name, cs] : m.at("cases").items()) {
    const json& in = cs.at("input");
    const auto shape = in.at("shape").get<std::vector<int64_t>>();
    nn::TfjsLoadOptions opt;
    opt.batch = static_cast<int>(shape[0]);
    opt.outputs = names;
    auto graph = nn::LoadTfjsGraphModel(path, opt);
    nn::Executor exec(graph, 1);
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> x = in.contains("file") && in.at("file").is_string() ? test::ReadFloats(test::GoldenDir() + "/" + in.at("file").get<std::string>())
                                               : test::SyntheticInput(n);
    ASSERT_EQ(static_cast<int64_t>(x.size()), n) << case_name;
    auto outs = exec.Run({x.data()});
    const json& golden = cs.at("outputs");
    ASSERT_EQ(outs.size(), golden.size());
    for (size_t k = 0; k < golden.size(); ++k) {
      const auto want = test::ReadFloats(test::GoldenDir() + "/" + golden[k].at("file").get<std::string>());
      ASSERT_EQ(outs[k].size(), want.size()) << c.model << "/" << case_name << " output " << names[k];
      const double err = test::RelL2(outs[k], want);
      std::printf("  %-14s %-9s %-24s rel L2 %.2e\n", c.model.c_str(), case_name.c_str(), names[k].c_str(), err);
      EXPECT_LT(err, c.tolerance) << c.model << "/" << case_name << " output " << names[k];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, HumanGolden,
                         ::testing::Values(HumanCase{"blazeface", 1e-4}, HumanCase{"facemesh", 1e-3},
                                           HumanCase{"iris", 1e-4}, HumanCase{"faceres", 1e-3},
                                           HumanCase{"mobilefacenet", 1e-4}, HumanCase{"mobileface", 1e-4},
                                           HumanCase{"antispoof", 1e-3}, HumanCase{"liveness", 1e-4}),
                         [](const auto& info) { return info.param.model; });

}  // namespace
}  // namespace idm
