// Document layout files (layouts/*.json, docs/documents.md): any text either becomes a layout
// whose boxes lie on the card and whose canonical card size is sane, or ParseLayout throws
// idm::Error -- never another exception, a crash or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "document/layout.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void BoxOnCard(const idm::document::ZoneBox& b, cv::Size card) {
  Check(b.x >= 0 && b.y >= 0 && b.w > 0 && b.h > 0 && b.x + b.w <= 1.0001 && b.y + b.h <= 1.0001);
  const cv::Rect r = b.ToRect(card);
  Check((r & cv::Rect(0, 0, card.width, card.height)) == r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const idm::document::DocumentLayout l = idm::document::ParseLayout(text);
    const cv::Size card = l.CanonicalSize();
    Check(card.width == 1000 && card.height >= 1 && card.height <= 100000);
    BoxOnCard(l.header, card);
    BoxOnCard(l.portrait, card);
    BoxOnCard(l.mrz.w > 0 ? l.mrz : idm::document::ZoneBox{0, 0, 1, 1}, card);
    if (l.ghost_portrait) BoxOnCard(*l.ghost_portrait, card);
    if (l.qr) BoxOnCard(*l.qr, card);
    for (const auto& z : l.text_zones) BoxOnCard(z.box, card);
    const std::vector<idm::document::DocumentLayout> all = {l};
    Check(idm::document::FindLayout(all, l.id) == &all[0]);
  } catch (const idm::Error&) {
  }
  return 0;
}
