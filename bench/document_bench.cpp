// Document analysis (AnalyzeDocument) on generated captures, one thread: 3 cards per layout, each
// photographed with every degradation (cardgen), portrait from an LFW photo, all in memory.
//  * BM_AnalyzeDocumentNoMrz: outline, classification, capture checks, portrait -- what a card
//    without an MRZ costs (the Korean cards);
//  * BM_AnalyzeDocumentWithMrz: the same plus the MRZ read (Tesseract, then the OCR-B templates).
// Run it as idmatch runs, with OMP_THREAD_LIMIT=1 (run_bench.sh sets it; see src/cli/main.cpp).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "core/image.h"
#include "document/cardgen.h"
#include "document/document.h"
#include "face/analyzer.h"

namespace {

using namespace idm;

struct Captures {
  std::vector<document::DocumentLayout> layouts;
  std::vector<cv::Mat> photos;
};

const Captures& Cards() {
  static const Captures c = [] {
    Captures out;
    out.layouts = document::LoadLayouts();
    const cv::Mat face = LoadImageFile(std::string(IDMATCH_SHARED_DIR) +
                                       "/data/faces/lfw_view2/images/Abel_Pacheco/Abel_Pacheco_0001.jpg");
    for (const auto& l : out.layouts)
      for (int s = 0; s < 3; ++s)
        out.photos.push_back(document::SimulateCapture(document::RenderCard(l, face, 10 + s).rgb, 20 + s).rgb);
    return out;
  }();
  return c;
}

void AnalyzeAll(benchmark::State& state, bool read_mrz) {
  const Captures& c = Cards();
  const face::FaceAnalyzer analyzer;
  document::DocumentOptions opt;
  opt.read_mrz = read_mrz;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(document::AnalyzeDocument(c.photos[i % c.photos.size()], c.layouts, &analyzer, opt));
    ++i;
  }
}

void BM_AnalyzeDocumentNoMrz(benchmark::State& state) { AnalyzeAll(state, false); }
void BM_AnalyzeDocumentWithMrz(benchmark::State& state) { AnalyzeAll(state, true); }
BENCHMARK(BM_AnalyzeDocumentNoMrz)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(21);
BENCHMARK(BM_AnalyzeDocumentWithMrz)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(21);

}  // namespace
