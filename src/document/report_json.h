// The JSON form of a DocumentReport, as `idmatch document --json` prints it. Identifiers and names
// are masked (MaskMrzLines / MaskIdentifier / MaskName); of a QR code only the fact that it
// decoded appears. Kept in the library so that the tests can check what the output never holds.
#pragma once

#include <nlohmann/json.hpp>

#include "document/document.h"

namespace idm::document {

// `box` is `box_in_photo` when given (the report's), else the reading's own (on the image it was read on).
nlohmann::json MrzReadingJson(const MrzReading& m, const std::optional<cv::Rect>& box_in_photo = std::nullopt);
nlohmann::json DocumentReportJson(const DocumentReport& r);

}  // namespace idm::document
