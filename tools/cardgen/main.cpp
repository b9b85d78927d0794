// cardgen: renders specimen cards for every layout (or one) around portraits from face photos,
// optionally as simulated phone captures, and writes them with a labels.csv
// (file,layout,corners,mrz_line1..3 -- invented data only).
//
//   cardgen --faces a.jpg,b.jpg,... | --face-list list.txt  --out DIR [--layout ID|all]
//           [--count N] [--seed S] [--capture] [--layouts DIR] [--font PATH]
//   cardgen --ocrb-glyphs src/document/ocrb_glyphs.inc [--ocrb-font PATH]
//           (re)generates the OCR-B templates the MRZ reader compiles in (ocrb_glyphs.cpp)
//
// The images hold real faces when the inputs do: write them only to a private folder and delete
// them after use (the tests never write cards to disk; they keep them in memory).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/image.h"
#include "core/secure_memory.h"
#include "document/cardgen.h"
#include "document/layout.h"
#include "freetype_text.h"

int WriteOcrbGlyphs(const std::string& font, const std::string& out_path);  // ocrb_glyphs.cpp

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, sep))
    if (!x.empty()) out.push_back(x);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  idm::DisableCoreDumps();
  std::string faces_arg, face_list, out_dir, layout_id = "all", layouts_dir = idm::document::DefaultLayoutDir();
  std::string font = idm::document::kNanumFont;
  // MRZs in OCR-B (Debian fonts-ocr-b) when it is installed, else a monospaced sans.
  std::string mono = std::filesystem::exists(idm::document::kOcrbFont)
                         ? idm::document::kOcrbFont
                         : "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";
  int count = 1;
  uint64_t seed = 1;
  bool capture = false;
  std::string ocrb_out, ocrb_font = idm::document::kOcrbFont;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw idm::Error(idm::ErrorCode::kInvalidArgument, a + " needs a value");
      return argv[++i];
    };
    if (a == "--faces") faces_arg = next();
    else if (a == "--face-list") face_list = next();
    else if (a == "--out") out_dir = next();
    else if (a == "--layout") layout_id = next();
    else if (a == "--layouts") layouts_dir = next();
    else if (a == "--count") count = std::stoi(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--font") font = next();
    else if (a == "--capture") capture = true;
    else if (a == "--ocrb-glyphs") ocrb_out = next();
    else if (a == "--ocrb-font") ocrb_font = next();
    else {
      std::fprintf(stderr, "usage: cardgen --faces a.jpg,b.jpg | --face-list FILE --out DIR [--layout ID|all] [--count N] [--seed S] [--capture]\n");
      return 2;
    }
  }
  if (!ocrb_out.empty()) return WriteOcrbGlyphs(ocrb_font, ocrb_out);
  try {
    idm::InstallSecureAllocators();
    std::vector<std::string> faces = Split(faces_arg, ',');
    if (!face_list.empty()) {
      std::ifstream f(face_list);
      for (std::string line; std::getline(f, line);)
        if (!line.empty()) faces.push_back(line);
    }
    if (faces.empty() || out_dir.empty()) throw idm::Error(idm::ErrorCode::kInvalidArgument, "need --faces/--face-list and --out");
    if (!idm::document::InstallFreeTypeText(font, mono))
      std::fprintf(stderr, "cardgen: no OpenCV FreeType or font %s missing: Hangul falls back to Latin text\n",
                   font.c_str());
    const auto layouts = idm::document::LoadLayouts(layouts_dir);
    std::filesystem::create_directories(out_dir);
    std::ofstream labels(out_dir + "/labels.csv");
    labels << "file,layout,face,corners,mrz_line1,mrz_line2,mrz_line3\n";
    int n = 0;
    for (int k = 0; k < count; ++k) {
      for (const auto& l : layouts) {
        if (layout_id != "all" && l.id != layout_id) continue;
        const std::string& face_path = faces[static_cast<size_t>(n) % faces.size()];
        const cv::Mat face = idm::LoadImageFile(face_path);
        const uint64_t s = seed * 1000003ULL + static_cast<uint64_t>(n);
        auto card = idm::document::RenderCard(l, face, s);
        cv::Mat img = card.rgb;
        std::string corners;
        if (capture) {
          auto cap = idm::document::SimulateCapture(card.rgb, s);
          img = cap.rgb;
          for (const auto& p : cap.corners) corners += (corners.empty() ? "" : " ") + std::to_string(p.x) + " " + std::to_string(p.y);
        }
        char name[64];
        std::snprintf(name, sizeof name, "card_%05d_%s.jpg", n, l.id.c_str());
        cv::Mat bgr;
        cv::cvtColor(img, bgr, cv::COLOR_RGB2BGR);
        cv::imwrite(out_dir + "/" + name, bgr);
        labels << name << "," << l.id << "," << face_path << "," << corners;
        for (size_t i = 0; i < 3; ++i) labels << "," << (i < card.mrz_lines.size() ? card.mrz_lines[i] : "");
        labels << "\n";
        ++n;
      }
    }
    std::printf("cardgen: %d card(s) in %s\n", n, out_dir.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cardgen: %s\n", e.what());
    return 2;
  }
}
