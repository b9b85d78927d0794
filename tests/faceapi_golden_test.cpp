// face-api's weight-only nets, rebuilt in C++ (nn/faceapi_nets.*), against the golden tensors that
// tfjs's cpu backend produced (shared/golden, see its README). The inputs are the normalised
// tensors face-api hands to its first convolution: stored ones are read, the synthetic one is
// regenerated from the README formula, and the two detector inputs that are not stored (SSD and
// tiny detector, real2) are rebuilt from the stored frame. Regenerated inputs must match the
// manifest's sha256, so the comparison is always on the exact tensor tfjs saw.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/executor.h"
#include "nn/faceapi_nets.h"
#include "nn/tfjs_weights.h"

namespace idm::nn {
namespace {

namespace fs = std::filesystem;

const std::string kGolden = std::string(IDMATCH_SHARED_DIR) + "/golden";
const std::string kModels = std::string(IDMATCH_MODEL_DIR) + "/face-api/model";

const char kRecognition[] = "faceapi/faceRecognitionNet";
const char kLandmark[] = "faceapi/faceLandmark68Net";
const char kTiny[] = "faceapi/tinyFaceDetector";
const char kSsd[] = "faceapi/ssdMobilenetv1";

std::vector<float> ReadFloats(const std::string& path, size_t n) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<float> v(n);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (static_cast<size_t>(f.gcount()) != n * sizeof(float)) throw std::runtime_error("short file " + path);
  return v;
}

// README section 1: x[i] = float32(((i * 7919) mod 255) / 255), 64-bit products, double division.
std::vector<float> Synthetic(int64_t n) {
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(static_cast<double>((i * 7919) % 255) / 255.0);
  return x;
}

// The detectors' input for a square frame (README section 4; no padding needed): tfjs's legacy
// resizeBilinear (alignCorners=false, halfPixelCenters=false, computed in double, one float32
// rounding), then the normalisation as float32 tensor ops, one rounding each:
//   SSD:  x / 127.5 - 1        tiny:  (x - mean_rgb) / 255
std::vector<float> DetectorInput(const std::string& key, const std::string& frame_file, int frame_hw, int size) {
  std::ifstream f(frame_file, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + frame_file);
  std::vector<unsigned char> px(static_cast<size_t>(frame_hw) * frame_hw * 3);
  f.read(reinterpret_cast<char*>(px.data()), static_cast<std::streamsize>(px.size()));
  auto at = [&](int y, int x, int c) -> double { return px[(static_cast<size_t>(y) * frame_hw + x) * 3 + c]; };
  const double ratio = static_cast<double>(frame_hw) / size;
  const float kTinyMean[3] = {117.001f, 114.697f, 97.404f};
  std::vector<float> out(static_cast<size_t>(size) * size * 3);
  for (int r = 0; r < size; ++r) {
    const double sr = r * ratio;
    const int y0 = static_cast<int>(std::floor(sr)), y1 = std::min(frame_hw - 1, static_cast<int>(std::ceil(sr)));
    const double fy = sr - y0;
    for (int col = 0; col < size; ++col) {
      const double sc = col * ratio;
      const int x0 = static_cast<int>(std::floor(sc)), x1 = std::min(frame_hw - 1, static_cast<int>(std::ceil(sc)));
      const double fx = sc - x0;
      for (int c = 0; c < 3; ++c) {
        const double top = at(y0, x0, c) + (at(y0, x1, c) - at(y0, x0, c)) * fx;
        const double bottom = at(y1, x0, c) + (at(y1, x1, c) - at(y1, x0, c)) * fx;
        const float v = static_cast<float>(top + (bottom - top) * fy);
        out[(static_cast<size_t>(r) * size + col) * 3 + c] = key == kSsd ? v / 127.5f - 1.f : (v - kTinyMean[c]) / 255.f;
      }
    }
  }
  return out;
}

std::string Sha256Hex(const std::vector<float>& v) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(v.data()), v.size() * sizeof(float));
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
  return hex;
}

struct Errors {
  double rel_l2 = 0, max_abs = 0, cosine = 0;
};

Errors Compare(const std::vector<float>& y, const std::vector<float>& ref) {
  double diff2 = 0, ref2 = 0, y2 = 0, dot = 0;
  Errors e;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(y[i]) - ref[i];
    diff2 += d * d;
    ref2 += static_cast<double>(ref[i]) * ref[i];
    y2 += static_cast<double>(y[i]) * y[i];
    dot += static_cast<double>(y[i]) * ref[i];
    e.max_abs = std::max(e.max_abs, std::abs(d));
  }
  e.rel_l2 = std::sqrt(diff2 / ref2);
  e.cosine = dot / std::sqrt(y2 * ref2);
  return e;
}

// Runs a net on an input and returns its outputs in the manifest's output order.
using NetFn = std::function<std::vector<std::vector<float>>(const std::vector<float>&)>;

class FaceApiGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kGolden + "/manifest.json")) GTEST_SKIP() << "golden tensors not found at " << kGolden;
    if (!fs::exists(kModels)) GTEST_SKIP() << "face-api models not found at " << kModels << " (npm install in models/)";
    ASSERT_GE(sodium_init(), 0);
    std::ifstream f(kGolden + "/manifest.json");
    manifest_ = nlohmann::json::parse(f);
  }

  WeightStore LoadWeights(const std::string& name) {
    return WeightStore::LoadManifestFile(kModels + "/" + name + "-weights_manifest.json");
  }

  // Runs `net` on every case of `key` and compares its first `num_outputs` outputs.
  // `cosine` adds the embedding criterion on output 0.
  void RunCases(const std::string& key, const NetFn& net, size_t num_outputs, bool cosine) {
    const auto& model = manifest_.at("models").at(key);
    int ran = 0;
    for (const auto& [name, c] : model.at("cases").items()) {
      const auto& in = c.at("input");
      const Shape shape = in.at("shape").get<Shape>();
      std::vector<float> x;
      if (in.at("file").is_string()) {
        x = ReadFloats(kGolden + "/" + in.at("file").get<std::string>(), NumElements(shape));
      } else if (name == "synthetic") {
        x = Synthetic(NumElements(shape));
      } else if (key == kSsd || key == kTiny) {
        const auto& frame = manifest_.at("frames").at(name);
        ASSERT_EQ(frame.at("shape")[0], frame.at("shape")[1]) << "only square frames need no padding";
        x = DetectorInput(key, kGolden + "/" + frame.at("file").get<std::string>(), frame.at("shape")[0].get<int>(),
                          static_cast<int>(shape[1]));
      } else {
        ADD_FAILURE() << key << " " << name << ": input neither stored nor reproducible";
        continue;
      }
      if (!in.at("file").is_string()) {
        ASSERT_EQ(Sha256Hex(x), in.at("sha256").get<std::string>()) << key << " " << name << ": regenerated input differs";
      }
      auto y = net(x);
      // Timed on a second run: the first also pays for first-touch of the activation buffers.
      const auto t0 = std::chrono::steady_clock::now();
      y = net(x);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      for (size_t k = 0; k < num_outputs; ++k) {
        const auto& out = c.at("outputs").at(k);
        const std::vector<float> ref =
            ReadFloats(kGolden + "/" + out.at("file").get<std::string>(), NumElements(out.at("shape").get<Shape>()));
        ASSERT_EQ(y.at(k).size(), ref.size()) << key << " " << name << " output " << k;
        const Errors e = Compare(y[k], ref);
        std::printf("[ %-26s %-9s ] %-17s rel_l2 %.2e  max_abs %.2e  cosine %.9f", key.c_str(), name.c_str(),
                    out.at("name").get<std::string>().c_str(), e.rel_l2, e.max_abs, e.cosine);
        if (k == 0) std::printf("  (%.1f ms, 1 thread)", ms);
        std::printf("\n");
        // The weights are the same uint8-dequantised values tfjs uses, so only float32 rounding
        // differs; 1e-3 leaves ample room above tfjs's own cpu-vs-wasm spread (<= 3e-6).
        EXPECT_LT(e.rel_l2, 1e-3) << key << " " << name << " " << out.at("name");
        if (cosine && k == 0) {
          EXPECT_GT(e.cosine, 0.99999) << key << " " << name;
        }
      }
      ++ran;
    }
    EXPECT_EQ(ran, 3) << key;
  }

  // The common case: a graph whose outputs are the manifest's outputs.
  static NetFn GraphNet(std::shared_ptr<const Graph> graph) {
    auto exec = std::make_shared<Executor>(graph, 1);
    return [exec](const std::vector<float>& x) {
      std::vector<std::vector<float>> outs;
      for (const auto& o : exec->Run({x.data()})) outs.emplace_back(o.begin(), o.end());
      return outs;
    };
  }

  nlohmann::json manifest_;
};

TEST_F(FaceApiGolden, FaceRecognitionNet) {
  const WeightStore w = LoadWeights("face_recognition_model");
  RunCases(kRecognition, GraphNet(BuildFaceRecognitionNet(w)), 1, true);
}

TEST_F(FaceApiGolden, FaceLandmark68Net) {
  const WeightStore w = LoadWeights("face_landmark_68_model");
  // Output 1 (landmarks_relative) is face-api's un-padding post-process, not part of the net.
  RunCases(kLandmark, GraphNet(BuildFaceLandmark68Net(w)), 1, false);
}

TEST_F(FaceApiGolden, TinyFaceDetector) {
  const WeightStore w = LoadWeights("tiny_face_detector_model");
  RunCases(kTiny, GraphNet(BuildTinyFaceDetector(w)), 1, false);
}

TEST_F(FaceApiGolden, SsdMobilenetV1) {
  const auto w = std::make_shared<const WeightStore>(LoadWeights("ssd_mobilenetv1_model"));
  NetFn raw = GraphNet(BuildSsdMobilenetV1(*w));
  // Outputs: the two raw head tensors from the graph, then boxes and scores from the decoder.
  RunCases(kSsd,
           [raw, w](const std::vector<float>& x) {
             auto outs = raw(x);
             SsdDetections d = DecodeSsdMobilenetV1(*w, outs.at(0).data(), outs.at(1).data());
             outs.push_back(std::move(d.boxes));
             outs.push_back(std::move(d.scores));
             return outs;
           },
           4, false);
}

}  // namespace
}  // namespace idm::nn
