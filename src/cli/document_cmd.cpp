// idmatch document card.jpg [--json]: where the card is, what it is, its MRZ and its portrait.
// Identifiers and names are masked in everything printed (MaskMrzLines / MaskIdentifier /
// MaskName); nothing read from the document is logged or written anywhere.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/image.h"
#include "document/document.h"
#include "document/report_json.h"
#include "face/analyzer.h"

namespace idm::cli {

int DocumentCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json", "no-portrait"});
  args.AllowOnly({"json", "no-portrait", "layouts", "threads"});
  if (args.positional().size() != 1)
    throw Error(ErrorCode::kInvalidArgument, "usage: idmatch document card.jpg [--json]");
  const std::string path = args.positional()[0];
  const cv::Mat img = LoadImageFile(path);
  const auto layouts = document::LoadLayouts(args.Get("layouts", document::DefaultLayoutDir()));
  std::unique_ptr<face::FaceAnalyzer> analyzer;
  if (!args.Has("no-portrait")) {
    face::AnalyzerOptions opt;
    opt.threads = args.GetInt("threads", 1);
    analyzer = std::make_unique<face::FaceAnalyzer>(opt);
  }
  const document::DocumentReport r = document::AnalyzeDocument(img, layouts, analyzer.get());
  const bool found = r.detection.found || (r.whole_image && r.mrz.has_value());
  if (args.Has("json")) {
    const nlohmann::json j = document::DocumentReportJson(r);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("type       %s (confidence %.2f)\n", r.classification.type.c_str(), r.classification.confidence);
    std::printf("card       %s\n", found ? (r.whole_image ? "the whole image (a scan)" : "found") : "not found");
    if (r.problems.empty()) std::printf("problems   none\n");
    for (const auto& p : r.problems) std::printf("problem    %s: %s\n", p.c_str(), document::ProblemHint(p));
    if (r.mrz) {
      const auto m = document::MrzReadingJson(*r.mrz);
      std::printf("mrz        %s, %s%s (identifiers masked)\n", m["format"].get<std::string>().c_str(),
                  r.mrz->mrz.valid ? "all checks pass" : "not valid (checks below)",
                  r.mrz->mrz.expired ? ", EXPIRED" : "");
      for (const auto& l : m["lines"]) std::printf("           %s\n", l.get<std::string>().c_str());
      for (const auto& [k, v] : m["checks"].items())
        std::printf("  check    %-16s %s\n", k.c_str(), v.get<std::string>().c_str());
    } else {
      std::printf("mrz        none found\n");
    }
    if (r.qr_read) std::printf("qr         decoded (content not kept)\n");
    if (!r.portrait_box_in_photo) {
      std::printf("portrait   not found\n");
    } else {
      const auto& b = *r.portrait_box_in_photo;
      std::printf("portrait   x=%d y=%d w=%d h=%d\n", b.x, b.y, b.width, b.height);
    }
  }
  return found ? 0 : 1;
}

}  // namespace idm::cli
