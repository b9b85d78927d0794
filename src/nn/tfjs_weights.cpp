#include "nn/tfjs_weights.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace idm::nn {

std::string ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::kNotFound, "cannot open '" + path + "'");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

namespace {

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(mant), -24);  // subnormal (or zero)
  } else if (exp == 31) {
    f = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    f = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= sign;
  std::memcpy(&f, &bits, 4);
  return f;
}

[[noreturn]] void Bad(const std::string& what) { throw Error(ErrorCode::kModelFormat, "weights manifest: " + what); }

}  // namespace

WeightStore WeightStore::Load(const nlohmann::json& manifest, const std::string& dir, const ShardReader& read) {
  WeightStore store;
  if (!manifest.is_array()) Bad("expected an array of weight groups");
  for (const auto& group : manifest) {
    if (!group.is_object() || !group.contains("paths") || !group.contains("weights")) Bad("group without paths/weights");
    std::string blob;
    for (const auto& p : group.at("paths")) {
      const std::string file = dir + "/" + p.get<std::string>();
      if (p.get<std::string>().find("..") != std::string::npos) Bad("shard path escapes the model folder: " + file);
      blob += read ? read(file) : ReadFileBytes(file);
      if (blob.size() > (size_t{1} << 31)) Bad("shards larger than 2 GiB");
      store.files_.push_back(file);
    }
    size_t offset = 0;
    for (const auto& w : group.at("weights")) {
      WeightTensor t;
      const std::string name = w.at("name").get<std::string>();
      for (const auto& d : w.at("shape")) {
        const int64_t v = d.get<int64_t>();
        if (v < 0 || v > (1 << 28)) Bad("tensor '" + name + "' has a bad dimension");
        t.shape.push_back(v);
      }
      const std::string dtype = w.at("dtype").get<std::string>();
      if (dtype != "float32" && dtype != "int32") Bad("tensor '" + name + "' has unsupported dtype " + dtype);
      t.is_integer = dtype == "int32";
      const size_t n = static_cast<size_t>(NumElements(t.shape));
      t.values.resize(n);
      std::string qtype = "none";
      // Kept as the JSON doubles: TF.js dequantises in JS (double) arithmetic.
      double scale = 1.0, min = 0.0;
      if (w.contains("quantization")) {
        const auto& q = w.at("quantization");
        qtype = q.at("dtype").get<std::string>();
        if (q.contains("scale")) scale = q.at("scale").get<double>();
        if (q.contains("min")) min = q.at("min").get<double>();
      }
      const size_t elem = qtype == "none" ? 4 : (qtype == "uint8" ? 1 : 2);
      if (qtype != "none" && qtype != "uint8" && qtype != "uint16" && qtype != "float16") {
        Bad("tensor '" + name + "' has unsupported quantization " + qtype);
      }
      if (offset + n * elem > blob.size()) Bad("tensor '" + name + "' runs past the end of its shards");
      const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + offset);
      for (size_t i = 0; i < n; ++i) {
        float v = 0.f;
        if (qtype == "none") {
          if (t.is_integer) {
            int32_t iv;
            std::memcpy(&iv, p + 4 * i, 4);
            v = static_cast<float>(iv);
          } else {
            std::memcpy(&v, p + 4 * i, 4);
          }
        } else if (qtype == "float16") {
          uint16_t h;
          std::memcpy(&h, p + 2 * i, 2);
          v = HalfToFloat(h);
        } else {
          uint32_t q = elem == 1 ? p[i] : static_cast<uint32_t>(p[2 * i] | (p[2 * i + 1] << 8));
          // TF.js io decodeWeights: `q * scale + min` in double, stored into a Float32Array (one
          // rounding), or Math.round()ed into an Int32Array. Doing it in float32 instead gave
          // face-api's descriptor a 1e-5 relative error against tfjs, ten times its cpu-vs-wasm spread.
          const double dv = static_cast<double>(q) * scale + min;
          v = static_cast<float>(t.is_integer ? std::floor(dv + 0.5) : dv);  // Math.round: halves go up
        }
        t.values[i] = v;
      }
      offset += n * elem;
      store.tensors_[name] = std::move(t);
    }
    if (offset != blob.size()) Bad("shards hold " + std::to_string(blob.size() - offset) + " bytes no tensor claims");
  }
  return store;
}

WeightStore WeightStore::LoadManifestFile(const std::string& path) {
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(ReadFileBytes(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kModelFormat, "'" + path + "' is not valid JSON: " + e.what());
  }
  const auto slash = path.find_last_of('/');
  try {
    return Load(manifest, slash == std::string::npos ? "." : path.substr(0, slash));
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kModelFormat, "'" + path + "': " + e.what());
  }
}

const WeightTensor& WeightStore::Get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(ErrorCode::kModelFormat, "weight '" + name + "' is missing from the manifest");
  return it->second;
}

}  // namespace idm::nn
