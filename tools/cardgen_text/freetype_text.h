// Real fonts for the card generator (document::SetTextRenderer): a proportional font for the
// printed fields (Hangul included) and a monospaced one for the MRZ, drawn with OpenCV's FreeType
// module. Shared by tools/cardgen and the MRZ-on-captures eval, which needs MRZs in OCR-B.
#pragma once

#include <string>

namespace idm::document {

// Installs the renderer; false (and nothing installed) without OpenCV's FreeType module or when
// a font file is missing. document::SetTextRenderer({}) goes back to the Hershey fallback.
bool InstallFreeTypeText(const std::string& font, const std::string& mono);

// Puts the default (Hershey) text back when it goes out of scope.
struct RestoreDefaultText {
  RestoreDefaultText() = default;
  RestoreDefaultText(const RestoreDefaultText&) = delete;
  RestoreDefaultText& operator=(const RestoreDefaultText&) = delete;
  ~RestoreDefaultText();
};

// Debian's fonts-ocr-b and fonts-nanum (scripts/install-deps.sh).
inline constexpr const char* kOcrbFont = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";
inline constexpr const char* kNanumFont = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf";

}  // namespace idm::document
