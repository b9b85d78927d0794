// Specimen card generator (used by tools/cardgen and by the tests, which keep every card in
// memory). Renders a card of any layout around a portrait cut from a face photo, with invented
// data, a SPECIMEN / 견본 mark, guilloche lines and a valid MRZ where the layout has one; then
// simulates a phone capture: print halftone, lamination glare, perspective, shadow, blur, noise,
// JPEG compression and a cluttered background.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "document/layout.h"

namespace idm::document {

// Draws UTF-8 text fitted into `box`. The default (OpenCV's Hershey fonts) draws only ASCII and
// uses `latin` for anything else; tools/cardgen installs a FreeType renderer that draws Hangul.
using TextRenderer = std::function<void(cv::Mat& rgb, const std::string& utf8, const std::string& latin,
                                        const cv::Rect& box, const cv::Scalar& colour, bool monospace)>;
void SetTextRenderer(TextRenderer r);  // empty = the default

struct GeneratedCard {
  cv::Mat rgb;  // the card at the layout's canonical size
  std::string layout_id;
  cv::Rect portrait_box;               // where the portrait was printed
  std::vector<std::string> mrz_lines;  // empty when the layout has no MRZ (invented data)
  std::string qr_text;                 // what the QR code encodes (invented), empty without one:
                                       // the tests check that a reading never reports it
};

// `face_rgb`: any photo with a face roughly centred (an LFW image); the portrait is cut from its
// centre. Same seed, same card.
GeneratedCard RenderCard(const DocumentLayout& layout, const cv::Mat& face_rgb, uint64_t seed);

struct CaptureOptions {
  bool halftone = true, glare = true, perspective = true, shadow = true, blur = true, noise = true, jpeg = true,
       clutter = true;
  double max_tilt_deg = 30;     // out-of-plane rotation
  double card_fraction = 0.55;  // card width / photo width (before perspective)
  cv::Size photo{1280, 960};
};

struct CapturedCard {
  cv::Mat rgb;
  std::array<cv::Point2f, 4> corners;  // card corners in the photo: TL, TR, BR, BL
  std::vector<std::string> applied;    // degradations applied
};

CapturedCard SimulateCapture(const cv::Mat& card_rgb, uint64_t seed, const CaptureOptions& options = {});

}  // namespace idm::document
