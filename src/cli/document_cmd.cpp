// idmatch document card.jpg [--json]: where the card is, what it is, its MRZ and its portrait.
// Identifiers and names are masked in everything printed (MaskMrzLines / MaskIdentifier /
// MaskName); nothing read from the document is logged or written anywhere.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/image.h"
#include "document/document.h"
#include "face/analyzer.h"

namespace idm::cli {

namespace {

nlohmann::json MrzJson(const document::MrzReading& m) {
  using document::CheckState;
  const auto& r = m.mrz;
  nlohmann::json checks = nlohmann::json::object();
  for (const auto& c : r.checks)
    checks[c.name] = c.state == CheckState::kPass ? "pass" : c.state == CheckState::kFail ? "fail" : "unreadable";
  nlohmann::json fields = nullptr;
  if (r.format != document::MrzFormat::kUnknown) {
    const auto& f = r.fields;
    fields = {{"document_code", f.document_code},
              {"issuing_state", f.issuing_state},
              {"document_number", document::MaskIdentifier(f.document_number)},
              {"surname", document::MaskName(f.surname)},
              {"given_names", document::MaskName(f.given_names)},
              {"nationality", f.nationality},
              {"birth_date", f.birth_date},
              {"sex", f.sex},
              {"expiry_date", f.expiry_date}};
  }
  return {{"format", document::MrzFormatName(r.format)},
          {"lines", document::MaskMrzLines(r)},
          {"masked", true},
          {"valid", r.valid},
          {"expired", r.expired},
          {"checks", checks},
          {"repairs", r.repairs},
          {"fields", fields},
          {"box", {m.box.x, m.box.y, m.box.width, m.box.height}}};
}

}  // namespace

int DocumentCommand(int argc, char** argv) {
  const Args args(argc, argv, 2, {"json", "no-portrait"});
  args.AllowOnly({"json", "no-portrait", "layouts", "threads"});
  if (args.positional().size() != 1) throw Error(ErrorCode::kInvalidArgument, "usage: idmatch document card.jpg [--json]");
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
  nlohmann::json problems = nlohmann::json::array(), hints = nlohmann::json::array();
  for (const auto& p : r.problems) {
    problems.push_back(p);
    hints.push_back(document::ProblemHint(p));
  }
  nlohmann::json corners = nullptr;
  if (r.detection.found) {
    corners = nlohmann::json::array();
    for (const auto& c : r.detection.corners) corners.push_back({c.x, c.y});
  }
  nlohmann::json portrait = nullptr;
  if (r.portrait_box_in_photo) {
    const auto& b = *r.portrait_box_in_photo;
    portrait = {{"box", {b.x, b.y, b.width, b.height}}};
  }
  const bool found = r.detection.found || (r.whole_image && r.mrz.has_value());
  if (args.Has("json")) {
    nlohmann::json j = {{"type", r.classification.type},
                        {"confidence", r.classification.confidence},
                        {"problems", problems},
                        {"hints", hints},
                        {"card", {{"found", found}, {"corners", corners}, {"whole_image", r.whole_image}}},
                        {"mrz", r.mrz ? MrzJson(*r.mrz) : nlohmann::json(nullptr)},
                        {"portrait", portrait}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("type       %s (confidence %.2f)\n", r.classification.type.c_str(), r.classification.confidence);
    std::printf("card       %s\n", found ? (r.whole_image ? "the whole image (a scan)" : "found") : "not found");
    if (r.problems.empty()) std::printf("problems   none\n");
    for (const auto& p : r.problems) std::printf("problem    %s: %s\n", p.c_str(), document::ProblemHint(p));
    if (r.mrz) {
      const auto m = MrzJson(*r.mrz);
      std::printf("mrz        %s, %s%s (identifiers masked)\n", m["format"].get<std::string>().c_str(),
                  r.mrz->mrz.valid ? "all checks pass" : "checks failing", r.mrz->mrz.expired ? ", EXPIRED" : "");
      for (const auto& l : m["lines"]) std::printf("           %s\n", l.get<std::string>().c_str());
      for (const auto& [k, v] : m["checks"].items()) std::printf("  check    %-16s %s\n", k.c_str(), v.get<std::string>().c_str());
    } else {
      std::printf("mrz        none found\n");
    }
    if (portrait.is_null()) {
      std::printf("portrait   not found\n");
    } else {
      const auto& b = *r.portrait_box_in_photo;
      std::printf("portrait   x=%d y=%d w=%d h=%d\n", b.x, b.y, b.width, b.height);
    }
  }
  return found ? 0 : 1;
}

}  // namespace idm::cli
