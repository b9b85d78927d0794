// Liveness benchmarks on real frames of ../shared/data/videos/blink_detector/test.mp4, one thread:
//  * BM_LivenessLandmarkPathTracked: per-frame path when tracking (mesh on the previous frame's crop,
//    BlazeFace every 15th frame to count faces) -- the steady state of a live capture;
//  * BM_LivenessLandmarkPathDetect: the cold path (BlazeFace + two mesh passes) on every frame;
//  * BM_LivenessSequence45: whole-sequence verdict for 45 frames (tracking, 4 embeddings, passive
//    check on 3 frames, action detection) -- what the verifier spends per challenge.
// Frames are 96x128 scaled up to 480x640 (a typical capture size; the nets' inputs are fixed-size).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "liveness/challenge.h"
#include "liveness/frame_analyzer.h"
#include "liveness/sequence.h"

namespace {

using namespace idm::liveness;

struct Frames {
  std::vector<cv::Mat> rgb;
  std::vector<int64_t> t;
};

const Frames& Clip() {
  static const Frames f = [] {
    Frames out;
    cv::VideoCapture cap(std::string(IDMATCH_SHARED_DIR) + "/data/videos/blink_detector/videos/test.mp4");
    cv::Mat bgr;
    while (cap.read(bgr)) {
      cv::Mat rgb, big;
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
      cv::resize(rgb, big, cv::Size(480, 640), 0, 0, cv::INTER_LINEAR);
      out.t.push_back(static_cast<int64_t>(out.rgb.size()) * 40);
      out.rgb.push_back(big);
    }
    if (out.rgb.empty()) std::abort();
    return out;
  }();
  return f;
}

void BM_LivenessLandmarkPathTracked(benchmark::State& state) {
  const Frames& c = Clip();
  FrameAnalyzer fa;
  size_t i = 0;
  fa.Analyze(c.rgb[0], 0);
  for (auto _ : state) {
    const auto& f = c.rgb[i % c.rgb.size()];
    benchmark::DoNotOptimize(fa.Analyze(f, static_cast<int64_t>(i) * 33));
    ++i;
  }
  state.counters["fps"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LivenessLandmarkPathTracked)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);

void BM_LivenessLandmarkPathDetect(benchmark::State& state) {
  const Frames& c = Clip();
  FrameAnalyzer fa;
  size_t i = 0;
  for (auto _ : state) {
    fa.Reset();  // no track: BlazeFace + mesh (two passes) on every frame
    benchmark::DoNotOptimize(fa.Analyze(c.rgb[i % c.rgb.size()], 0));
    ++i;
  }
  state.counters["fps"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LivenessLandmarkPathDetect)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);

void BM_LivenessSequence45(benchmark::State& state) {
  const Frames& c = Clip();
  std::vector<cv::Mat> frames(c.rgb.begin(), c.rgb.begin() + std::min<size_t>(45, c.rgb.size()));
  std::vector<int64_t> t(c.t.begin(), c.t.begin() + static_cast<long>(frames.size()));
  static LivenessVerifier v;  // models loaded once, outside the timed region
  Challenge ch;
  ch.actions = {Action::kBlink, Action::kTurnLeft};
  ch.expires_ms = 60000;
  v.Verify(ch, frames, t);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(v.Verify(ch, frames, t));
}
BENCHMARK(BM_LivenessSequence45)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1)->Repetitions(10)->ReportAggregatesOnly(true);

}  // namespace
