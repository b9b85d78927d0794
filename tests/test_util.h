// Small helpers shared by the tests: where the shared data and models are, golden tensors.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
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

inline nlohmann::json ReadJson(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(f);
}

inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A fresh directory under gtest's TempDir(), removed with everything in it when it goes out of
// scope. Only for non-biometric files (model JSON copies, text files, crafted headers): face
// images and other biometric inputs never leave memory in the tests.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string tmpl = ::testing::TempDir();
    if (tmpl.empty() || tmpl.back() != '/') tmpl += '/';
    tmpl += "idmatch_test_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed under " + tmpl);
    path_ = tmpl;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes `bytes` to File(name) and returns that path.
  std::string Write(const std::string& name, std::string_view bytes) const {
    const std::string p = File(name);
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + p);
    return p;
  }

 private:
  std::string path_;
};

}  // namespace idm::test
