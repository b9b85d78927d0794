// Where each ICAO specimen scan (../shared/data/documents/specimens/) prints its portrait: the
// centre of the face as a fraction of the image's width and height, read off by eye on
// 2026-11-28 (the boxes of a largest-face search over each scan, each checked to be the printed
// face; labels.csv has no portrait boxes). A found portrait is right when its box holds this point.
#pragma once

#include <string>

#include <opencv2/core.hpp>

namespace idm::test {

struct SpecimenPortrait {
  const char* file;  // as in labels.csv
  double fx, fy;     // the face's centre; negative: the document has no portrait
};

inline constexpr SpecimenPortrait kSpecimenPortraits[] = {
    {"images/id_cards/Latvia.png", 0.22, 0.28},
    {"images/id_cards/Liechtenstein.png", 0.20, 0.31},
    {"images/id_cards/Lithuania.png", 0.82, 0.35},
    {"images/id_cards/Malta_BAD.png", 0.21, 0.27},
    {"images/id_cards/Monaco.png", 0.81, 0.34},
    {"images/id_cards/Peru.png", 0.14, 0.17},
    {"images/id_cards/Serbia.png", 0.10, 0.58},
    {"images/id_cards/Spain.png", 0.19, 0.26},
    {"images/id_cards/Sweden.png", 0.83, 0.25},
    {"images/other/TD2_ICAO_Example.png", 0.18, 0.47},
    {"images/other/USA_Border_Crosser.png", 0.23, 0.32},
    {"images/passports/Canada.png", 0.19, 0.44},
    {"images/passports/China.png", 0.16, 0.42},
    {"images/passports/Czech_Republic.png", 0.19, 0.46},
    {"images/passports/ICAO_Example.png", 0.18, 0.50},
    {"images/passports/ICAO_Example2.png", 0.16, 0.46},
    {"images/passports/Iceland.png", 0.17, 0.46},
    {"images/passports/Interpol.png", 0.17, 0.53},
    {"images/passports/Japan.png", 0.17, 0.55},
    {"images/passports/Qatar.png", 0.20, 0.42},
    {"images/passports/Ukraine.png", 0.17, 0.52},
    {"images/resident_cards/France.png", 0.18, 0.35},
    {"images/resident_cards/Germany.png", 0.17, 0.34},
    {"images/resident_cards/Netherland.png", 0.23, 0.33},
    {"images/resident_cards/Portugal.png", 0.20, 0.35},
    {"images/resident_cards/UK.png", 0.09, 0.70},
    {"images/resident_cards/USA.png", 0.16, 0.44},
    {"images/resident_cards/USA_Permanent.png", 0.18, 0.45},
    {"images/visas/France.png", 0.15, 0.54},
    {"images/visas/Germany.png", -1, -1},  // a 1997 visa: no portrait (the largest-face search takes its emblem)
    {"images/visas/MRVA_ICAO_Example.png", 0.18, 0.49},
    {"images/visas/MRVB_ICAO_Example.png", 0.17, 0.45},
    {"images/visas/USA.png", 0.16, 0.47},
    {"images/visas/USA2.png", 0.15, 0.50},
    {"images/visas/United_Kingdom.png", 0.14, 0.47},
};

// The entry for `file`, or null when the table does not list it.
inline const SpecimenPortrait* FindSpecimenPortrait(const std::string& file) {
  for (const auto& s : kSpecimenPortraits)
    if (file == s.file) return &s;
  return nullptr;
}

// A found box is the printed portrait when it holds the face's centre.
inline bool IsThePortrait(const SpecimenPortrait& s, const cv::Rect& box, cv::Size image) {
  return s.fx >= 0 &&
         box.contains(cv::Point(static_cast<int>(s.fx * image.width), static_cast<int>(s.fy * image.height)));
}

// `scan` laid on a white page, as a flatbed scan of a document is: 2 x `margin` of its width more
// across (a quarter of that on the near side, the rest on the far one; `right` puts the scan on the
// page's right) and `margin` of its height more, half above and half below. `at`: where it lies.
inline cv::Mat OnWhitePage(const cv::Mat& scan, double margin, bool right, cv::Rect& at) {
  at = cv::Rect(cvRound((right ? 1.5 : 0.5) * margin * scan.cols), cvRound(0.5 * margin * scan.rows), scan.cols,
                scan.rows);
  cv::Mat page(scan.rows + 2 * at.y, scan.cols + cvRound(2 * margin * scan.cols), CV_8UC3, cv::Scalar::all(255));
  scan.copyTo(page(at));
  return page;
}

}  // namespace idm::test
