// Finding and reading the MRZ in a document image with Tesseract (Debian's eng model, restricted
// to the MRZ alphabet A-Z 0-9 <).
//
// Two passes: a page-layout pass over the whole (upscaled) image finds the text lines that look
// like MRZ (fillers '<<', length >= 20); the block they form is cropped, scaled to a fixed
// character height, binarised and read again line by line. The lines are cleaned (spaces,
// '<' misread as K in trailing fillers, lengths fixed to the format) and parsed with ParseMrz,
// whose check-digit-guided repair fixes the remaining digit/letter confusions.
// Nothing read here is logged or written anywhere.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "document/mrz.h"

namespace idm::document {

struct MrzReading {
  bool found = false;          // MRZ-like lines were located
  cv::Rect box;                // where, in the input image's pixels
  std::vector<std::string> raw_lines;  // the OCR's text after cleaning, before ParseMrz repairs
  MrzResult mrz;               // parsed (format kUnknown when the lines do not fit a layout)
};

struct MrzOcrOptions {
  std::string tessdata;        // empty = Tesseract's default (TESSDATA_PREFIX or the Debian path)
  MrzParseOptions parse;
};

// Thread-safe (one Tesseract instance per call). Throws Error(kNotFound) if the eng model is missing.
MrzReading ReadMrz(const cv::Mat& rgb, const MrzOcrOptions& options = {});

// True when `side` (another side of the document: an ID card's front, whose MRZ is on the back)
// prints `document_number`, the number read from the MRZ: what ties two sides of a scan to one
// document. Compared without fillers and leading zeros (a front may print 29067 for an MRZ's
// 029067), O/0 and I/1 alike, anywhere in a line of print (spaces dropped); a number of under 5
// characters proves nothing and is never found. The OCR'd text is wiped before returning.
bool PrintsDocumentNumber(const cv::Mat& side, const std::string& document_number, const MrzOcrOptions& options = {});

// Cleans raw OCR lines into lines of the format's length (exposed for tests).
std::vector<std::string> CleanMrzLines(const std::vector<std::string>& lines);

}  // namespace idm::document
