#include "document/report_json.h"

namespace idm::document {

nlohmann::json MrzReadingJson(const MrzReading& m, const std::optional<cv::Rect>& box_in_photo) {
  const auto& r = m.mrz;
  nlohmann::json checks = nlohmann::json::object();
  for (const auto& c : r.checks)
    checks[c.name] = c.state == CheckState::kPass        ? "pass"
                     : c.state == CheckState::kFail      ? "fail"
                     : c.state == CheckState::kAmbiguous ? "ambiguous"
                                                         : "unreadable";
  nlohmann::json fields = nullptr;
  if (r.format != MrzFormat::kUnknown) {
    const auto& f = r.fields;
    fields = {{"document_code", f.document_code},
              {"issuing_state", f.issuing_state},
              {"document_number", MaskIdentifier(f.document_number)},
              {"surname", MaskName(f.surname)},
              {"given_names", MaskName(f.given_names)},
              {"nationality", f.nationality},
              {"birth_date", f.birth_date},
              {"sex", f.sex},
              {"expiry_date", f.expiry_date}};
  }
  const cv::Rect b = box_in_photo.value_or(m.box);
  return {{"format", MrzFormatName(r.format)},
          {"lines", MaskMrzLines(r)},
          {"masked", true},
          {"valid", r.valid},
          {"expired", r.expired},
          {"checks", checks},
          {"repairs", r.repairs},
          {"fields", fields},
          {"box", {b.x, b.y, b.width, b.height}}};
}

nlohmann::json DocumentReportJson(const DocumentReport& r) {
  nlohmann::json problems = nlohmann::json::array(), hints = nlohmann::json::array();
  for (const auto& p : r.problems) {
    problems.push_back(p);
    hints.push_back(ProblemHint(p));
  }
  nlohmann::json corners = nullptr;
  if (r.detection.found) {
    corners = nlohmann::json::array();
    for (const auto& c : r.detection.corners) corners.push_back({c.x, c.y});
  }
  nlohmann::json portrait = nullptr;
  if (r.portrait_box_in_photo) {
    const auto& b = *r.portrait_box_in_photo;
    portrait = {{"box", {b.x, b.y, b.width, b.height}}, {"other_side", r.portrait_on_other_side}};
  }
  const bool found = r.detection.found || (r.whole_image && r.mrz.has_value());
  return {{"type", r.classification.type},
          {"confidence", r.classification.confidence},
          {"problems", problems},
          {"hints", hints},
          {"card", {{"found", found}, {"corners", corners}, {"whole_image", r.whole_image}}},
          {"mrz", r.mrz ? MrzReadingJson(*r.mrz, r.mrz_box_in_photo) : nlohmann::json(nullptr)},
          {"qr_read", r.qr_read},
          {"portrait", portrait}};
}

}  // namespace idm::document
