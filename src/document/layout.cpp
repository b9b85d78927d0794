#include "document/layout.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace idm::document {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

ZoneBox Box(const json& j) {
  if (!j.is_array() || j.size() != 4) throw Error(ErrorCode::kInvalidArgument, "a box is [x, y, w, h] in card fractions");
  ZoneBox b{j[0].get<double>(), j[1].get<double>(), j[2].get<double>(), j[3].get<double>()};
  if (b.x < 0 || b.y < 0 || b.w <= 0 || b.h <= 0 || b.x + b.w > 1.0001 || b.y + b.h > 1.0001)
    throw Error(ErrorCode::kInvalidArgument, "a box lies outside the card");
  return b;
}

// One colour channel: an integer 0..255 (a float or a huge number would be undefined behaviour
// when narrowed, so it is refused rather than converted).
uint8_t Channel(const json& v) {
  const bool ok = v.is_number_unsigned() ? v.get<uint64_t>() <= 255
                  : v.is_number_integer() ? v.get<int64_t>() >= 0 && v.get<int64_t>() <= 255
                                          : false;
  if (!ok) throw Error(ErrorCode::kInvalidArgument, "a colour channel is an integer 0..255");
  return static_cast<uint8_t>(v.get<int>());
}

cv::Vec3b Rgb(const json& j) {
  if (!j.is_array() || j.size() != 3) throw Error(ErrorCode::kInvalidArgument, "a colour is [r, g, b]");
  return {Channel(j[0]), Channel(j[1]), Channel(j[2])};
}

MrzFormat FormatFromName(const std::string& s) {
  for (MrzFormat f : {MrzFormat::kTD1, MrzFormat::kTD2, MrzFormat::kTD3, MrzFormat::kMRVA, MrzFormat::kMRVB})
    if (s == MrzFormatName(f)) return f;
  throw Error(ErrorCode::kInvalidArgument, "unknown MRZ format '" + s + "'");
}

}  // namespace

cv::Rect ZoneBox::ToRect(cv::Size card) const {
  return cv::Rect(cvRound(x * card.width), cvRound(y * card.height), cvRound(w * card.width), cvRound(h * card.height)) &
         cv::Rect(0, 0, card.width, card.height);
}

cv::Size DocumentLayout::CanonicalSize() const { return {1000, static_cast<int>(std::lround(1000.0 / aspect()))}; }

namespace {

DocumentLayout LayoutFromJson(const json& j) {
  DocumentLayout l;
  l.id = j.at("id").get<std::string>();
  l.name = j.at("name").get<std::string>();
  l.format = j.at("format").get<std::string>();
  l.width_mm = j.at("size_mm").at(0).get<double>();
  l.height_mm = j.at("size_mm").at(1).get<double>();
  // Real cards and passport pages are a few centimetres; the bounds keep CanonicalSize() sane.
  if (!(l.width_mm >= 10 && l.width_mm <= 1000 && l.height_mm >= 10 && l.height_mm <= 1000))
    throw Error(ErrorCode::kInvalidArgument, "size_mm must be [width, height] between 10 and 1000 mm");
  l.background = Rgb(j.at("background_rgb"));
  l.header = Box(j.at("header").at("box"));
  l.header_rgb = Rgb(j.at("header").at("rgb"));
  l.portrait = Box(j.at("portrait").at("box"));
  l.portrait_colour = j.at("portrait").value("colour", true);
  l.portrait_side = j.at("portrait").value("side", "");
  l.issuing_country = j.value("issuing_country", "");
  if (!l.issuing_country.empty() &&
      (l.issuing_country.size() > 3 ||
       !std::all_of(l.issuing_country.begin(), l.issuing_country.end(), [](char c) { return c >= 'A' && c <= 'Z'; })))
    throw Error(ErrorCode::kInvalidArgument, "issuing_country must be an ICAO code of 1-3 capital letters");
  if (j.contains("ghost_portrait") && !j["ghost_portrait"].is_null()) l.ghost_portrait = Box(j["ghost_portrait"].at("box"));
  if (j.contains("qr") && !j["qr"].is_null()) l.qr = Box(j["qr"].at("box"));
  if (j.contains("mrz") && !j["mrz"].is_null()) {
    l.mrz_format = FormatFromName(j["mrz"].at("format").get<std::string>());
    l.mrz = Box(j["mrz"].at("box"));
  }
  for (const auto& k : j.value("keywords", json::array())) l.keywords.push_back(k.get<std::string>());
  for (const auto& z : j.value("text_zones", json::array())) {
    TextZone t;
    t.name = z.at("name").get<std::string>();
    t.kind = z.at("kind").get<std::string>();
    t.box = Box(z.at("box"));
    t.text = z.value("text", "");
    t.latin = z.value("latin", t.text);
    if (z.contains("colour")) t.colour = Rgb(z["colour"]);
    l.text_zones.push_back(t);
  }
  return l;
}

}  // namespace

DocumentLayout ParseLayout(const std::string& text) {
  // Malformed JSON, a missing key or a value of the wrong type: Error, like every other refusal.
  try {
    return LayoutFromJson(json::parse(text));
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("malformed layout: ") + e.what());
  }
}

std::string DefaultLayoutDir() {
  if (const char* env = std::getenv("IDMATCH_LAYOUT_DIR"); env && *env) return env;
#ifdef IDMATCH_LAYOUT_DIR
  if (fs::is_directory(IDMATCH_LAYOUT_DIR)) return IDMATCH_LAYOUT_DIR;
#endif
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const fs::path& p : {exe.parent_path() / "layouts", exe.parent_path().parent_path() / "layouts"})
      if (fs::is_directory(p)) return p.string();
  }
  return "layouts";
}

std::vector<DocumentLayout> LoadLayouts(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error(ErrorCode::kNotFound, "layout folder not found: " + dir);
  std::vector<DocumentLayout> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream f(e.path());
    std::stringstream ss;
    ss << f.rdbuf();
    try {
      out.push_back(ParseLayout(ss.str()));
    } catch (const std::exception& ex) {
      throw Error(ErrorCode::kInvalidArgument, "layout " + e.path().string() + ": " + ex.what());
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  if (out.empty()) throw Error(ErrorCode::kNotFound, "no layouts (*.json) in " + dir);
  return out;
}

const DocumentLayout* FindLayout(const std::vector<DocumentLayout>& layouts, const std::string& id) {
  for (const auto& l : layouts)
    if (l.id == id) return &l;
  return nullptr;
}

}  // namespace idm::document
