// What a verification keeps from a read identity document: the document's type, its issuing
// country and what the person could fix about the photo. Never a name, a number or a date: the
// MRZ is read (its check digits decide the format and the country, and flag an expired document)
// and then wiped.
#pragma once

#include <string>
#include <vector>

#include "document/document.h"

namespace idm::verify {

struct DocumentFacts {
  std::string type = "unknown";  // a layout id, or "unknown"
  double type_confidence = 0;
  std::string issuing_country = "unknown";  // ICAO 3-letter code
  bool mrz_read = false, mrz_valid = false, expired = false;
  bool qr_read = false;  // the layout's QR code decoded (its content is never kept)
  // Capture problems (document::k* codes), then "mrz_unreadable" / "document_expired".
  std::vector<std::string> flags;
};

DocumentFacts SummariseDocument(const document::DocumentReport& report);

// Zeroises every string read from the document (MRZ lines and fields) in place.
void WipeDocumentText(document::DocumentReport& report);

}  // namespace idm::verify
