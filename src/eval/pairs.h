// Verification protocols as data: the pair lists (pairs.csv) and identity labels (labels.csv)
// that the evaluation scores. Pure parsing, no model or image dependency.
//
// pairs.csv   header `fold,file_a,file_b,same_identity` (LFW View 2: 6000 pairs, folds 1..10)
// labels.csv  header `file,identity`                    (every image once, with its identity)
//
// CSV dialect accepted by both readers:
//   - the header row is required; columns are found by name (case-insensitive), so their order
//     may differ and extra columns are ignored;
//   - LF or CRLF line endings, an optional UTF-8 byte-order mark, blank lines skipped;
//   - fields are trimmed of surrounding spaces/tabs; RFC 4180 double-quoted fields ("" escapes
//     a quote) are accepted, but a quoted field may not span lines;
//   - file paths are kept exactly as written (LFW's are relative to the CSV's directory).
// Any malformed row throws idm::Error(kInvalidArgument) whose message starts with
// "<source>:<line>: " (1-based physical line, header = line 1). A missing file throws kNotFound.
#pragma once

#include <cstddef>
#include <functional>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace idm::eval {

struct Pair {
  int fold = -1;     // protocol fold; -1 for pairs implied from labels (no fold)
  std::string a, b;  // image paths as written in the CSV
  bool same = false; // true: genuine (same identity), false: impostor
};

struct LabeledImage {
  std::string file;
  std::string identity;  // compared exactly (case-sensitive) when implying pairs
};

// pairs.csv. same_identity accepts 1/0/true/false (case-insensitive); fold must be an integer.
// Empty file paths are rejected. Rows are returned in file order.
std::vector<Pair> ReadPairsCsv(const std::string& path);
std::vector<Pair> ParsePairsCsv(std::istream& in, std::string_view source_name);

// labels.csv. Empty file or identity fields, and a file listed twice, are rejected.
std::vector<LabeledImage> ReadLabelsCsv(const std::string& path);
std::vector<LabeledImage> ParseLabelsCsv(std::istream& in, std::string_view source_name);

// The exhaustive protocol implied by a label list: every unordered pair {i, j}, i < j in list
// order, genuine when the identities are equal. There are n(n-1)/2 of them -- 29.6 million for
// the 7701 LFW images -- so prefer ForEachImpliedPair (indices into `labels`, no allocation) for
// large lists; ImpliedPairs materialises Pair objects with fold = -1 and refuses (kInvalidArgument)
// to build more than `max_pairs` of them (~100 bytes or more each).
struct PairCounts {
  std::size_t genuine = 0;
  std::size_t impostor = 0;
};
PairCounts CountImpliedPairs(const std::vector<LabeledImage>& labels);
void ForEachImpliedPair(const std::vector<LabeledImage>& labels,
                        const std::function<void(std::size_t i, std::size_t j, bool same)>& visit);
std::vector<Pair> ImpliedPairs(const std::vector<LabeledImage>& labels,
                               std::size_t max_pairs = 10'000'000);

}  // namespace idm::eval
