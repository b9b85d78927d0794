// `idmatch eval`: the LFW View-2 protocol (or every pair a labels file implies) for one or more
// embedders, sharing detection and landmarks between them.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/image.h"
#include "eval/metrics.h"
#include "eval/pairs.h"
#include "face/analyzer.h"
#include "verify/verifier.h"

namespace idm::cli {

namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) if (!part.empty()) out.push_back(part);
  return out;
}

struct ImageResult {
  bool detected = false;
  int faces = 0;
  std::vector<face::Embedding> embeddings;  // one per embedder
};

}  // namespace

int EvalCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json", "calibrate"});
  args.AllowOnly({"pairs", "labels", "embedder", "workers", "limit", "roc", "calibrate", "fmr", "json", "calibration", "scores"});
  std::vector<eval::Pair> pairs;
  std::string list;
  if (args.Has("pairs")) {
    list = args.Get("pairs");
    pairs = eval::ReadPairsCsv(list);
  } else {
    list = args.Require("labels");
    pairs = eval::ImpliedPairs(eval::ReadLabelsCsv(list));
  }
  const std::string root = std::filesystem::path(list).parent_path().string();
  if (const int limit = args.GetInt("limit", 0); limit > 0 && limit < static_cast<int>(pairs.size())) {
    // Keep the protocol's balance: take pairs evenly across the list.
    std::vector<eval::Pair> sub;
    for (int i = 0; i < limit; ++i) sub.push_back(pairs[static_cast<size_t>(i) * pairs.size() / limit]);
    pairs.swap(sub);
  }
  const std::vector<std::string> names = Split(args.Get("embedder", "resnet128"));
  const int workers = std::max(1, args.GetInt("workers", static_cast<int>(std::thread::hardware_concurrency())));

  std::vector<std::string> images;
  for (const auto& p : pairs) images.push_back(p.a), images.push_back(p.b);
  std::sort(images.begin(), images.end());
  images.erase(std::unique(images.begin(), images.end()), images.end());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < images.size(); ++i) index[images[i]] = i;

  // Embed every image once, `workers` analysers in parallel, each single-threaded.
  std::vector<ImageResult> results(images.size());
  std::atomic<size_t> next{0};
  std::mutex print_mu;
  std::string model_sha;
  auto worker = [&] {
    face::AnalyzerOptions opt;
    opt.embedder = names.front();
    opt.pick = face::FacePick::kCentral;  // LFW images are centred on the face being labelled
    face::FaceAnalyzer analyzer(opt);
    std::vector<std::unique_ptr<face::Embedder>> extra;
    for (size_t e = 1; e < names.size(); ++e) extra.push_back(face::MakeEmbedder(names[e]));
    {
      std::lock_guard<std::mutex> lock(print_mu);
      model_sha = analyzer.embedder().model().sha256();
    }
    for (size_t i; (i = next++) < images.size();) {
      ImageResult& r = results[i];
      try {
        const cv::Mat rgb = LoadImageFile(root + "/" + images[i]);
        face::FaceAnalysis a = analyzer.Analyze(rgb);
        r.faces = a.faces_found;
        r.embeddings.push_back(std::move(a.embedding));
        const face::FloatImage frame = face::ToFloat(rgb);
        for (const auto& emb : extra) r.embeddings.push_back(emb->Embed(rgb, frame, a.mesh));
        r.detected = true;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNoFace) throw;
      }
      if (!args.Has("json") && (i + 1) % 500 == 0) {
        std::lock_guard<std::mutex> lock(print_mu);
        std::fprintf(stderr, "  %zu / %zu images\n", i + 1, images.size());
      }
    }
  };
  std::vector<std::thread> threads;
  std::exception_ptr failure;
  std::mutex failure_mu;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      try {
        worker();
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mu);
        failure = std::current_exception();
        next = images.size();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);

  size_t ftd_images = 0, ftd_pairs = 0;
  for (const auto& r : results) ftd_images += !r.detected;
  std::vector<bool> genuine;
  std::vector<int> folds;
  for (const auto& p : pairs) {
    genuine.push_back(p.same);
    folds.push_back(p.fold);
    ftd_pairs += !results[index[p.a]].detected || !results[index[p.b]].detected;
  }
  const bool have_folds = std::all_of(folds.begin(), folds.end(), [](int f) { return f >= 0; });

  nlohmann::json report = {{"pairs", pairs.size()}, {"images", images.size()}, {"failure_to_detect_images", ftd_images},
                           {"failure_to_detect_pairs", ftd_pairs}, {"embedders", nlohmann::json::array()}};
  const size_t variants = names.size() + (names.size() > 1 ? 1 : 0);  // + the mean-score fusion
  for (size_t e = 0; e < variants; ++e) {
    const std::string name = e < names.size() ? names[e] : "fusion(mean)";
    std::vector<double> scores;
    for (const auto& p : pairs) {
      const ImageResult &a = results[index[p.a]], &b = results[index[p.b]];
      if (!a.detected || !b.detected) {
        scores.push_back(-1.0);  // a failure to detect counts as a non-match
        continue;
      }
      double s = 0;
      if (e < names.size()) {
        s = face::CosineSimilarity(a.embeddings[e], b.embeddings[e]);
      } else {
        for (size_t k = 0; k < names.size(); ++k) s += face::CosineSimilarity(a.embeddings[k], b.embeddings[k]);
        s /= static_cast<double>(names.size());
      }
      scores.push_back(s);
    }
    if (e == 0 && args.Has("scores")) {  // per-pair scores for error analysis (file names and numbers only)
      std::ofstream out(args.Get("scores"));
      out << "fold,file_a,file_b,same_identity,score,faces_a,faces_b\n";
      for (size_t i = 0; i < pairs.size(); ++i) {
        out << pairs[i].fold << ',' << pairs[i].a << ',' << pairs[i].b << ',' << pairs[i].same << ',' << scores[i] << ','
            << results[index[pairs[i].a]].faces << ',' << results[index[pairs[i].b]].faces << '\n';
      }
    }
    const eval::RocCurve roc = eval::ComputeRoc(scores, genuine);
    std::vector<double> impostors;
    for (size_t i = 0; i < scores.size(); ++i) if (!genuine[i]) impostors.push_back(scores[i]);
    const double fmr = std::stod(args.Get("fmr", "0.001"));
    const eval::FmrThreshold thr = eval::ThresholdForFmr(impostors, fmr);
    nlohmann::json row = {{"embedder", name},
                          {"auc", eval::RocAuc(roc)},
                          {"eer", eval::EqualErrorRate(roc).eer},
                          {"tar_at_far_1e-2", eval::TarAtFar(roc, 1e-2).tar},
                          {"tar_at_far_1e-3", eval::TarAtFar(roc, 1e-3).tar},
                          {"threshold_at_fmr", thr.threshold},
                          {"fmr_target", fmr}};
    if (have_folds) {
      const eval::FoldAccuracy acc = eval::TenFoldAccuracy(scores, genuine, folds);
      row["accuracy_mean"] = acc.mean;
      row["accuracy_std"] = acc.std;
    }
    report["embedders"].push_back(row);
    if (e == 0 && args.Has("roc")) {
      std::ofstream(args.Get("roc")) << eval::RocSvg(roc, "idmatch " + name + " on " + std::filesystem::path(list).filename().string());
    }
    if (e == 0 && args.Has("calibrate")) {
      // 3000 impostor pairs say little about a 1e-3 false-match rate (3 errors). When the set has
      // a labels.csv, fit on every cross-identity pair of the images instead (LFW: ~29.6 million).
      verify::Calibration c;
      c.embedder = name;
      c.fmr_target = fmr;
      c.model_sha256 = model_sha;
      c.threshold = thr.threshold;
      c.source = std::filesystem::path(list).parent_path().filename().string() + ", " + std::to_string(impostors.size()) +
                 " impostor pairs of the protocol";
      const std::string labels_path = root + "/labels.csv";
      if (std::filesystem::exists(labels_path)) {
        std::map<std::string, std::string> identity;
        for (const auto& l : eval::ReadLabelsCsv(labels_path)) identity[l.file] = l.identity;
        std::vector<size_t> usable;
        for (size_t i = 0; i < images.size(); ++i) {
          if (results[i].detected && identity.count(images[i])) usable.push_back(i);
        }
        std::vector<float> all;
        for (size_t x = 0; x < usable.size(); ++x) {
          for (size_t y = x + 1; y < usable.size(); ++y) {
            if (identity[images[usable[x]]] == identity[images[usable[y]]]) continue;
            all.push_back(face::CosineSimilarity(results[usable[x]].embeddings[0], results[usable[y]].embeddings[0]));
          }
        }
        // Smallest threshold t with #(score >= t) <= fmr * N: sort the top k+1 scores.
        const size_t n = all.size(), k = static_cast<size_t>(fmr * static_cast<double>(n));
        if (n > 0 && k + 1 < n) {
          std::partial_sort(all.begin(), all.begin() + static_cast<long>(k + 1), all.end(), std::greater<float>());
          size_t j = k;  // all[j] must be strictly below the threshold
          while (j > 0 && all[j - 1] == all[j]) --j;
          c.threshold = j > 0 ? all[j - 1] : std::nextafter(all[0], 2.f);
          c.source = std::filesystem::path(list).parent_path().filename().string() + ", " + std::to_string(n) +
                     " cross-identity pairs of " + std::to_string(usable.size()) + " images; " + std::to_string(j) +
                     " at or above the threshold";
          report["calibration"] = {{"impostor_pairs", n}, {"false_matches", j}, {"threshold", c.threshold}};
        }
      }
      verify::SaveCalibration(args.Get("calibration", verify::DefaultCalibrationPath()), c);
    }
  }
  if (args.Has("json")) {
    std::printf("%s\n", report.dump(2).c_str());
    return 0;
  }
  std::printf("%zu pairs, %zu images, failure to detect: %zu images (%zu pairs, %.2f%%)\n", pairs.size(), images.size(),
              ftd_images, ftd_pairs, 100.0 * ftd_pairs / std::max<size_t>(1, pairs.size()));
  std::printf("%-16s %16s %8s %7s %12s %12s %14s\n", "embedder", "10-fold acc", "AUC", "EER", "TAR@FAR1e-2",
              "TAR@FAR1e-3", "thr@FMR");
  for (const auto& row : report["embedders"]) {
    char acc[32] = "n/a";
    if (row.contains("accuracy_mean")) {
      std::snprintf(acc, sizeof acc, "%.2f%% +- %.2f", 100 * row["accuracy_mean"].get<double>(), 100 * row["accuracy_std"].get<double>());
    }
    std::printf("%-16s %16s %8.5f %6.2f%% %12.4f %12.4f %14.4f\n", row["embedder"].get<std::string>().c_str(), acc,
                row["auc"].get<double>(), 100 * row["eer"].get<double>(), row["tar_at_far_1e-2"].get<double>(),
                row["tar_at_far_1e-3"].get<double>(), row["threshold_at_fmr"].get<double>());
  }
  return 0;
}

}  // namespace idm::cli
