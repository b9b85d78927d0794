// Small helpers shared by the tests: where the shared data and models are, golden tensors.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace idm::test {

inline std::string SharedDir() { return IDMATCH_SHARED_DIR; }
inline std::string GoldenDir() { return SharedDir() + "/golden"; }
inline std::string ModelDir() { return IDMATCH_MODEL_DIR_TEST; }
inline bool Exists(const std::string& p) { return std::filesystem::exists(p); }

inline std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  std::vector<float> v(static_cast<size_t>(f.tellg()) / sizeof(float));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

// The golden README's synthetic input: x[i] = ((i * 7919) mod 255) / 255.
inline std::vector<float> SyntheticInput(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<double>((i * 7919) % 255) / 255.0);
  return x;
}

template <typename A, typename B>
double RelL2(const A& got, const B& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

inline const nlohmann::json& GoldenManifest() {
  static const nlohmann::json m = [] {
    std::ifstream f(GoldenDir() + "/manifest.json");
    return nlohmann::json::parse(f);
  }();
  return m;
}

}  // namespace idm::test
