// Per-stage latency of the face pipeline on real LFW images, plus the whole `idmatch verify` path
// (two encoded buffers -> decision) without model loading.
//
// Every benchmark runs exactly one call per repetition (Iterations(1)) and kReps repetitions, so the
// p50 / p90 aggregates are percentiles of single calls -- the same statistic the peer benchmark
// (bench/peer/verify_bench.mjs) reports. Times are wall clock (UseRealTime): verify runs its two
// images on two threads, so CPU time of the benchmark thread would under-report it. Each benchmark
// makes a few untimed warm-up calls first. Models are loaded once, lazily, outside timed regions.
//
// Repetitions: 30, or $IDMATCH_BENCH_REPS. Images: $IDMATCH_BENCH_A / $IDMATCH_BENCH_B (paths),
// default two LFW View-2 images under IDMATCH_SHARED_DIR.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "core/image.h"
#include "face/align.h"
#include "face/analyzer.h"
#include "face/detector.h"
#include "face/embedder.h"
#include "face/landmarks68.h"
#include "face/mesh.h"
#include "face/tf_image_ops.h"
#include "verify/verifier.h"

namespace {

using idm::face::FaceBox;
using idm::face::FaceMesh;
using idm::face::FloatImage;

constexpr int kWarmup = 3;

int Reps() {
  const char* e = std::getenv("IDMATCH_BENCH_REPS");
  const int n = e != nullptr ? std::atoi(e) : 0;
  return n > 0 ? n : 30;
}

std::string ImagePath(const char* env, const char* rel) {
  const char* e = std::getenv(env);
  if (e != nullptr && *e != '\0') return e;
  return std::string(IDMATCH_SHARED_DIR) + "/data/faces/lfw_view2/images/" + rel;
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Linear interpolation between closest ranks (numpy's default; the peer uses the same rule).
// CPU time of the whole process (all threads), ms.
double ProcessCpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

double Percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::vector<double> s(v);
  std::sort(s.begin(), s.end());
  const double idx = (static_cast<double>(s.size()) - 1) * p;
  const size_t lo = static_cast<size_t>(idx);
  const size_t hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (s[hi] - s[lo]) * (idx - static_cast<double>(lo));
}

// Everything loaded once: images (encoded and decoded), intermediate results of each stage so
// that a later stage can be timed alone, and the models.
struct Env {
  std::vector<uint8_t> bytes_a, bytes_b;
  cv::Mat rgb_a, rgb_b;
  FloatImage frame_a;
  FaceBox detection_a;
  FaceMesh mesh_a;
  idm::face::Landmarks68 lm68_a;

  std::unique_ptr<idm::face::FaceDetector> detector;
  std::unique_ptr<idm::face::MeshModel> mesh;
  std::unique_ptr<idm::face::Landmark68Model> lm68;
  std::unique_ptr<idm::face::Embedder> embedder;
  std::unique_ptr<idm::face::FaceAnalyzer> analyzer;
  std::unique_ptr<idm::verify::Verifier> verifier;

  Env() {
    const std::string a = ImagePath("IDMATCH_BENCH_A", "Aaron_Eckhart/Aaron_Eckhart_0001.jpg");
    const std::string b = ImagePath("IDMATCH_BENCH_B", "Abel_Pacheco/Abel_Pacheco_0001.jpg");
    bytes_a = ReadBytes(a);
    bytes_b = ReadBytes(b);
    rgb_a = idm::DecodeImage(bytes_a);
    rgb_b = idm::DecodeImage(bytes_b);
    frame_a = idm::face::ToFloat(rgb_a);

    // The same options `idmatch verify` uses by default (resnet128, 1 thread per analyzer).
    const idm::face::AnalyzerOptions opt;
    detector = std::make_unique<idm::face::FaceDetector>(opt.threads);
    mesh = std::make_unique<idm::face::MeshModel>(opt.threads);
    lm68 = std::make_unique<idm::face::Landmark68Model>(opt.threads);
    embedder = idm::face::MakeEmbedder(opt.embedder, opt.threads);
    analyzer = std::make_unique<idm::face::FaceAnalyzer>(opt);
    verifier = std::make_unique<idm::verify::Verifier>(
        opt, idm::verify::LoadCalibration(idm::verify::DefaultCalibrationPath(), opt.embedder));

    const std::vector<FaceBox> faces = detector->Detect(frame_a, opt.detector);
    if (faces.empty()) throw std::runtime_error("no face in " + a);
    detection_a = *std::max_element(faces.begin(), faces.end(),
                                    [](const FaceBox& x, const FaceBox& y) { return x.box.area() < y.box.area(); });
    mesh_a = mesh->Refine(frame_a, detection_a);
    lm68_a = lm68->Run(rgb_a, idm::face::TightBoxFromMesh(mesh_a));
  }
};

// Loads on first use (outside any timed loop). Returns nullptr and marks the benchmark skipped if
// loading failed.
Env* GetEnv(benchmark::State& state) {
  static std::unique_ptr<Env> env;
  static std::string error;
  if (!env && error.empty()) {
    try {
      env = std::make_unique<Env>();
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "setup failed";
    }
  }
  if (!env) state.SkipWithError(error.c_str());
  return env.get();
}

template <typename F>
void WarmUp(bool& done, F&& f) {
  if (done) return;
  for (int i = 0; i < kWarmup; ++i) f();
  done = true;
}

// ------------------------------------------------------------------------------------- stages

void BM_Decode(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  auto run = [&] { return idm::DecodeImage(env->bytes_a); };
  static bool warm = false;
  WarmUp(warm, run);
  for (auto _ : state) {
    cv::Mat m = run();
    benchmark::DoNotOptimize(m);
  }
  state.SetLabel(std::to_string(env->rgb_a.cols) + "x" + std::to_string(env->rgb_a.rows) + " jpeg, " +
                 std::to_string(env->bytes_a.size()) + " B");
}

void BM_ToFloat(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  for (auto _ : state) {
    FloatImage f = idm::face::ToFloat(env->rgb_a);
    benchmark::DoNotOptimize(f.data.data());
  }
}

void BM_Detect(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  const idm::face::DetectorOptions opt;
  auto run = [&] { return env->detector->Detect(env->frame_a, opt); };
  static bool warm = false;
  WarmUp(warm, run);
  size_t n = 0;
  for (auto _ : state) {
    auto faces = run();
    n = faces.size();
    benchmark::DoNotOptimize(faces.data());
  }
  state.SetLabel(std::to_string(n) + " face(s)");
}

// FaceMesh as FaceAnalyzer::Analyze uses it: two passes (detection crop, then re-centred crop).
void BM_Landmarks(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  auto run = [&] { return env->mesh->Refine(env->frame_a, env->detection_a); };
  static bool warm = false;
  WarmUp(warm, run);
  for (auto _ : state) {
    FaceMesh m = run();
    benchmark::DoNotOptimize(m.points.data());
  }
}

// The face-api 68-point net that the resnet128 embedder runs inside Embed (part of BM_Embed).
void BM_Landmark68(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  const cv::Rect2f box = idm::face::TightBoxFromMesh(env->mesh_a);
  auto run = [&] { return env->lm68->Run(env->rgb_a, box); };
  static bool warm = false;
  WarmUp(warm, run);
  for (auto _ : state) {
    auto lm = run();
    benchmark::DoNotOptimize(lm.data());
  }
}

void BM_Align(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  auto run = [&] { return idm::face::WarpChip(env->rgb_a, idm::face::DlibChipTransform(env->lm68_a, 150, 0.25), 150); };
  static bool warm = false;
  WarmUp(warm, run);
  for (auto _ : state) {
    cv::Mat chip = run();
    benchmark::DoNotOptimize(chip);
  }
}

// The embedder alone (resnet128: landmark68 net + align + ResNet-128 + L2 normalise).
void BM_Embed(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  auto run = [&] { return env->embedder->Embed(env->rgb_a, env->frame_a, env->mesh_a); };
  static bool warm = false;
  WarmUp(warm, run);
  for (auto _ : state) {
    auto e = run();
    benchmark::DoNotOptimize(e.data());
  }
  state.SetLabel(env->embedder->name());
}

// One image, whole: to-float, detect, mesh, quality, embed.
void BM_Analyze(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  auto run = [&] { return env->analyzer->Analyze(env->rgb_a); };
  static bool warm = false;
  WarmUp(warm, run);
  for (auto _ : state) {
    auto r = run();
    benchmark::DoNotOptimize(r.embedding.data());
  }
}

// What `idmatch verify` does after loading models: decode both encoded buffers, analyse both
// (in parallel, inside Verifier::Verify), compare, decide. process_cpu_ms: user+sys CPU of the whole
// process per call (getrusage, all threads; resolution depends on the kernel's accounting).
void BM_Verify(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  auto run = [&] {
    const cv::Mat ref = idm::DecodeImage(env->bytes_a);
    const cv::Mat probe = idm::DecodeImage(env->bytes_b);
    return env->verifier->Verify(ref, probe);
  };
  static bool warm = false;
  WarmUp(warm, run);
  idm::verify::VerifyResult r;
  double cpu_ms = 0;
  for (auto _ : state) {
    const double c0 = ProcessCpuMs();
    r = run();
    cpu_ms += ProcessCpuMs() - c0;
    // Not DoNotOptimize(r.score): benchmark 1.7.1's "+m,r" constraint lets GCC 12 zero a double
    // passed by non-const reference. The whole (non-trivially-copyable) struct takes the "+m" path.
    benchmark::DoNotOptimize(r);
  }
  // CPU of both analysis threads (the "CPU" column is the benchmark thread's only).
  state.counters["process_cpu_ms"] = benchmark::Counter(cpu_ms, benchmark::Counter::kAvgIterations);
  state.SetLabel(std::string(r.match ? "match" : "no_match") + " score=" + std::to_string(r.score));
}

// The landmark path of a tracking loop on one core: per frame, to-float + one FaceMesh pass on a
// fixed crop (no detector). The model runs with threads=1 and nothing else runs in parallel.
// items_per_second is the frame rate.
void BM_LandmarkPath1Thread(benchmark::State& state) {
  Env* env = GetEnv(state);
  if (env == nullptr) return;
  const cv::Rect2f crop = idm::face::MeshCropBox(env->detection_a.box);
  auto run = [&] {
    const FloatImage frame = idm::face::ToFloat(env->rgb_a);
    return env->mesh->Run(frame, crop);
  };
  static bool warm = false;
  WarmUp(warm, run);
  for (auto _ : state) {
    FaceMesh m = run();
    benchmark::DoNotOptimize(m.points.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void Common(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Iterations(1)
      ->Repetitions(Reps())
      ->ComputeStatistics("p50", [](const std::vector<double>& v) { return Percentile(v, 0.50); })
      ->ComputeStatistics("p90", [](const std::vector<double>& v) { return Percentile(v, 0.90); })
      ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
      ->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

}  // namespace

BENCHMARK(BM_Decode)->Apply(Common);
BENCHMARK(BM_ToFloat)->Apply(Common);
BENCHMARK(BM_Detect)->Apply(Common);
BENCHMARK(BM_Landmarks)->Apply(Common);
BENCHMARK(BM_Landmark68)->Apply(Common);
BENCHMARK(BM_Align)->Apply(Common);
BENCHMARK(BM_Embed)->Apply(Common);
BENCHMARK(BM_Analyze)->Apply(Common);
BENCHMARK(BM_Verify)->Apply(Common);
BENCHMARK(BM_LandmarkPath1Thread)->Apply(Common);
