// A photo of an identity document -> where the card is, what it is, its MRZ and its portrait.
//
//   FindCard      quadrilateral detection: contour and LSD seeds, then line hypotheses (each side
//                 may move to another straight edge parallel to it) scored on the whole
//                 outline, with capture problems a person can fix; AnalyzeDocument further
//                 picks among the best outlines the one that looks most like a known layout;
//   Classify      the layout whose colours (measured on the card flattened for shading), header
//                 band, aspect and MRZ/QR presence match the rectified card best, with a
//                 confidence; below the threshold it is "unknown" (AnalyzeDocument also counts
//                 a QR code that decodes in a layout's zone, keeping only that fact);
//   AnalyzeDocument  the whole path, including Tesseract on the MRZ and the face detector on the
//                 portrait zone (a scan that fills the frame is taken as the card itself).
// Nothing read from a document is logged; the report holds it in memory for the caller only.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "document/layout.h"
#include "document/mrz_ocr.h"
#include "face/analyzer.h"

namespace idm::document {

// Stable problem codes (shown to the user with a hint by the CLI).
inline constexpr const char* kCardNotFound = "card_not_found";
inline constexpr const char* kCardTooSmall = "card_too_small";
inline constexpr const char* kCardCutOff = "card_cut_off";
inline constexpr const char* kBlurred = "blurred";
inline constexpr const char* kGlareOnPortrait = "glare_on_portrait";
inline constexpr const char* kGlareOnMrz = "glare_on_mrz";
inline constexpr const char* kPortraitObstructed = "portrait_obstructed";  // e.g. a finger over it
inline constexpr const char* kPortraitNotFound = "portrait_not_found";
inline constexpr const char* kBlankImage = "blank_image";

const char* ProblemHint(const std::string& code);

struct CardDetection {
  bool found = false;
  std::array<cv::Point2f, 4> corners{};  // TL, TR, BR, BL in the photo
  double area_fraction = 0;              // card area / photo area
  bool touches_edge = false;
  double aspect = 0;             // estimated width/height of the card itself, the photo a whole camera frame
  double aspect_if_cropped = 0;  // the same if the photo was cropped around the card
  std::vector<std::string> problems;
};

CardDetection FindCard(const cv::Mat& rgb);
cv::Mat Rectify(const cv::Mat& rgb, const std::array<cv::Point2f, 4>& corners, cv::Size size);
// A box on the card rectified at `card_size` -> its bounding box in the photo whose card corners
// are `corners` (TL, TR, BR, BL), through the rectifying homography.
cv::Rect CardBoxInPhoto(const cv::Rect& box, const std::array<cv::Point2f, 4>& corners, cv::Size card_size);

struct Classification {
  std::string type = "unknown";                        // a layout id or "unknown"
  double confidence = 0;                               // 0..1
  std::vector<std::pair<std::string, double>> scores;  // every layout, best first
};

// confidence = best^0.25 x best / (best + second): how well the best layout matches times how
// clearly it beats the runner-up. `mrz_format`: the format of an MRZ already read on the card, if any (it decides
// between the MRZ layouts). `rectified` is at any size with the card's aspect.
Classification Classify(const cv::Mat& rectified, const std::vector<DocumentLayout>& layouts,
                        MrzFormat mrz_format = MrzFormat::kUnknown);

// The printed portrait on a rectified card: the largest face in the layout's portrait zone (with
// margin, upscaled for the detector), or anywhere on the card when `layout` is null. A ghost
// portrait is smaller, so the main one wins.
std::optional<cv::Rect> FindPortrait(const cv::Mat& card, const DocumentLayout* layout,
                                     const face::FaceAnalyzer& analyzer);
// The crop of the card handed to the face pipeline around a portrait's face box: the face with the
// margin (2.2 x the box) its landmarks and alignment need.
cv::Rect PortraitCrop(const cv::Rect& face_box, cv::Size card_size);
// The face pipeline run on such a crop (DocumentReport::portrait), at the face it is centred on:
// the portrait. Another face in its margin can be larger (on cards printed from LFW photos, a
// face in the photo's background: taking the largest cost 2 points of card-vs-selfie TAR on first
// captures, 300 pairs, 2026-11-28). Every user of a card's portrait analyses it here. Throws
// idm::Error (kNoFace) as FaceAnalyzer::Analyze does.
face::FaceAnalysis AnalyzePortrait(const face::FaceAnalyzer& analyzer, const cv::Mat& portrait_crop);

struct DocumentOptions {
  bool read_mrz = true;
  bool find_portrait = true;
  double unknown_below = 0.45;  // confidence under which the type is "unknown"
  MrzOcrOptions ocr;
};

struct DocumentReport {
  CardDetection detection;
  bool whole_image = false;  // no card edge found, the image was taken as a scan of the document
  Classification classification;
  std::string issuing_country;                    // the classified layout's issuer, when the type belongs to one state
  cv::Mat rectified;                              // the card, upright, at the layout's canonical size
  std::optional<MrzReading> mrz;                  // when an MRZ was located (its box on the image it was read on)
  std::optional<cv::Rect> mrz_box_in_photo;       // the MRZ's bounding box in the input image
  std::optional<cv::Rect> portrait_box;           // in the rectified card (or its other side, below)
  // The portrait was found on the other side of a scan of both sides of the card (the MRZ's side
  // shows none): `portrait_box` is then in that side's rectification, not in `rectified`.
  bool portrait_on_other_side = false;
  std::optional<cv::Rect> portrait_box_in_photo;  // bounding box in the input image
  cv::Mat portrait;                               // the portrait crop (with margin), for the face pipeline
  // The layout's QR code (Korean residence card 2023) was decoded. Only that fact is kept: the
  // decoded bytes are wiped inside the decoder's result before it is released, and never copied.
  bool qr_read = false;
  std::vector<std::string> problems;
};

// True when a QR code decodes inside `zone` of the rectified card (with a margin). Nothing of its
// content leaves the function: the decoder's byte buffers are zeroised before they are freed.
bool QrDecodes(const cv::Mat& rectified, const ZoneBox& zone);

// `analyzer` may be null (no portrait search). Throws only for programming errors; every capture
// failure is a problem in the report.
DocumentReport AnalyzeDocument(const cv::Mat& rgb, const std::vector<DocumentLayout>& layouts,
                               const face::FaceAnalyzer* analyzer, const DocumentOptions& options = {});

}  // namespace idm::document
