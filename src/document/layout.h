// Document types as data: one JSON file per type in the layouts folder (see docs/documents.md).
// A layout gives the physical size, where the portrait, MRZ, QR code and text are (fractions of
// the card's width and height), and the colours that identify it. Adding a document type is
// adding a file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "document/mrz.h"

namespace idm::document {

struct ZoneBox {
  double x = 0, y = 0, w = 0, h = 0;  // fractions of the card
  cv::Rect ToRect(cv::Size card) const;
};

struct TextZone {
  std::string name, kind;   // kind: fixed, name_ko, name_latin, surname_latin, given_latin, rrn, frn, date, ...
  ZoneBox box;
  std::string text, latin;  // for "fixed": the printed text and a Latin-only fallback
  std::optional<cv::Vec3b> colour;
};

struct DocumentLayout {
  std::string id, name, format;  // format: ID-1, ID-2, ID-3
  double width_mm = 85.6, height_mm = 53.98;
  cv::Vec3b background{255, 255, 255};
  ZoneBox header;
  cv::Vec3b header_rgb{0, 0, 0};
  ZoneBox portrait;
  bool portrait_colour = true;
  std::string portrait_side;
  // ICAO 3-letter code of the state that issues this type ("KOR"), empty for a format any state
  // uses (TD1, TD2, TD3): those are named by their MRZ.
  std::string issuing_country;
  std::optional<ZoneBox> ghost_portrait, qr;
  MrzFormat mrz_format = MrzFormat::kUnknown;  // kUnknown: the type has no MRZ
  ZoneBox mrz;
  std::vector<std::string> keywords;
  std::vector<TextZone> text_zones;

  double aspect() const { return width_mm / height_mm; }
  // The size cards of this type are rectified to: 1000 px wide.
  cv::Size CanonicalSize() const;
};

// Where the layouts are: $IDMATCH_LAYOUT_DIR, else the folder compiled in (IDMATCH_LAYOUT_DIR),
// else ../layouts and ./layouts next to the executable.
std::string DefaultLayoutDir();
// Reads every *.json in `dir`, sorted by id. Throws Error(kNotFound) for a missing folder and
// Error(kInvalidArgument) naming the file for a malformed one.
std::vector<DocumentLayout> LoadLayouts(const std::string& dir = DefaultLayoutDir());
// One layout from its JSON text (what LoadLayouts reads from each file). Anything malformed --
// JSON, a missing key, a wrong type, a box off the card, a colour outside 0..255, a size outside
// 10..1000 mm -- is Error(kInvalidArgument), never another exception.
DocumentLayout ParseLayout(const std::string& json_text);
const DocumentLayout* FindLayout(const std::vector<DocumentLayout>& layouts, const std::string& id);

}  // namespace idm::document
