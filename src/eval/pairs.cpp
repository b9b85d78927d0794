#include "eval/pairs.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unordered_map>

#include "core/error.h"

namespace idm::eval {
namespace {

[[noreturn]] void Fail(std::string_view source, std::size_t line, const std::string& message) {
  throw Error(ErrorCode::kInvalidArgument,
              std::string(source) + ":" + std::to_string(line) + ": " + message);
}

std::string_view Trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Splits one CSV record into trimmed fields (RFC 4180 quoting, within the line).
std::vector<std::string> SplitRecord(std::string_view line, std::string_view source,
                                     std::size_t line_no) {
  std::vector<std::string> fields;
  std::size_t i = 0;
  while (true) {
    // Leading whitespace before a possible opening quote.
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
          } else {
            ++i;
            closed = true;
            break;
          }
        } else {
          field.push_back(line[i++]);
        }
      }
      if (!closed) Fail(source, line_no, "unterminated quoted field");
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] != ',') {
        Fail(source, line_no, "unexpected character after quoted field");
      }
    } else {
      const std::size_t end = std::min(line.find(',', i), line.size());
      const std::string_view raw = line.substr(i, end - i);
      if (raw.find('"') != std::string_view::npos) {
        Fail(source, line_no, "stray quote in unquoted field");
      }
      field = std::string(Trim(raw));
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) break;
    ++i;  // skip the comma; a trailing comma yields one more (empty) field
    if (i == line.size()) {
      fields.emplace_back();
      break;
    }
  }
  return fields;
}

// Reads records, skipping blank lines, and resolves the named columns from the header.
class CsvReader {
 public:
  CsvReader(std::istream& in, std::string_view source, const std::vector<std::string>& columns)
      : in_(in), source_(source) {
    std::string line;
    while (true) {
      if (!std::getline(in_, line)) {
        Fail(source_, line_no_ + 1, "empty file, expected header '" + Join(columns) + "'");
      }
      ++line_no_;
      Clean(line);
      if (!Trim(line).empty()) break;
    }
    header_ = SplitRecord(line, source_, line_no_);
    for (const std::string& column : columns) {
      std::optional<std::size_t> found;
      for (std::size_t k = 0; k < header_.size(); ++k) {
        if (Lower(header_[k]) != column) continue;
        if (found) Fail(source_, line_no_, "duplicate column '" + column + "' in header");
        found = k;
      }
      if (!found) {
        Fail(source_, line_no_,
             "header lacks column '" + column + "' (expected '" + Join(columns) + "')");
      }
      index_.push_back(*found);
    }
  }

  // Next record's requested columns, in the order given to the constructor; false at the end.
  bool Next(std::vector<std::string>& out) {
    std::string line;
    while (std::getline(in_, line)) {
      ++line_no_;
      Clean(line);
      if (Trim(line).empty()) continue;
      std::vector<std::string> fields = SplitRecord(line, source_, line_no_);
      if (fields.size() != header_.size()) {
        Fail(source_, line_no_,
             "expected " + std::to_string(header_.size()) + " fields, got " +
                 std::to_string(fields.size()));
      }
      out.clear();
      for (std::size_t k : index_) out.push_back(std::move(fields[k]));
      return true;
    }
    if (in_.bad()) throw Error(ErrorCode::kNotFound, std::string(source_) + ": read error");
    return false;
  }

  std::size_t line() const { return line_no_; }
  std::string_view source() const { return source_; }

 private:
  void Clean(std::string& line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  }
  static std::string Join(const std::vector<std::string>& columns) {
    std::string out;
    for (const std::string& c : columns) {
      if (!out.empty()) out += ',';
      out += c;
    }
    return out;
  }

  std::istream& in_;
  std::string source_;
  std::size_t line_no_ = 0;
  std::vector<std::string> header_;
  std::vector<std::size_t> index_;
};

std::ifstream OpenCsv(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw Error(ErrorCode::kNotFound, "file not found: " + path);
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCode::kInvalidArgument, "not a regular file: " + path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kNotFound, "cannot open: " + path);
  return in;
}

bool ParseBool(const std::string& s, bool& out) {
  const std::string v = Lower(s);
  if (v == "1" || v == "true") {
    out = true;
    return true;
  }
  if (v == "0" || v == "false") {
    out = false;
    return true;
  }
  return false;
}

bool ParseInt(const std::string& s, int& out) {
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  if (begin != end && *begin == '+') ++begin;
  const auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end && begin != end;
}

}  // namespace

std::vector<Pair> ParsePairsCsv(std::istream& in, std::string_view source_name) {
  CsvReader reader(in, source_name, {"fold", "file_a", "file_b", "same_identity"});
  std::vector<Pair> pairs;
  std::vector<std::string> f;
  while (reader.Next(f)) {
    Pair p;
    if (!ParseInt(f[0], p.fold)) {
      Fail(reader.source(), reader.line(), "fold must be an integer, got '" + f[0] + "'");
    }
    if (f[1].empty()) Fail(reader.source(), reader.line(), "file_a is empty");
    if (f[2].empty()) Fail(reader.source(), reader.line(), "file_b is empty");
    if (!ParseBool(f[3], p.same)) {
      Fail(reader.source(), reader.line(),
           "same_identity must be 1/0/true/false, got '" + f[3] + "'");
    }
    p.a = std::move(f[1]);
    p.b = std::move(f[2]);
    pairs.push_back(std::move(p));
  }
  return pairs;
}

std::vector<Pair> ReadPairsCsv(const std::string& path) {
  std::ifstream in = OpenCsv(path);
  return ParsePairsCsv(in, path);
}

std::vector<LabeledImage> ParseLabelsCsv(std::istream& in, std::string_view source_name) {
  CsvReader reader(in, source_name, {"file", "identity"});
  std::vector<LabeledImage> labels;
  std::unordered_map<std::string, std::size_t> first_line;  // file -> line it first appeared on
  std::vector<std::string> f;
  while (reader.Next(f)) {
    if (f[0].empty()) Fail(reader.source(), reader.line(), "file is empty");
    if (f[1].empty()) Fail(reader.source(), reader.line(), "identity is empty");
    const auto [it, inserted] = first_line.emplace(f[0], reader.line());
    if (!inserted) {
      Fail(reader.source(), reader.line(),
           "file '" + f[0] + "' already listed on line " + std::to_string(it->second));
    }
    labels.push_back({std::move(f[0]), std::move(f[1])});
  }
  return labels;
}

std::vector<LabeledImage> ReadLabelsCsv(const std::string& path) {
  std::ifstream in = OpenCsv(path);
  return ParseLabelsCsv(in, path);
}

PairCounts CountImpliedPairs(const std::vector<LabeledImage>& labels) {
  std::unordered_map<std::string_view, std::size_t> per_identity;
  for (const LabeledImage& l : labels) ++per_identity[l.identity];
  PairCounts counts;
  for (const auto& [identity, n] : per_identity) counts.genuine += n * (n - 1) / 2;
  const std::size_t n = labels.size();
  counts.impostor = (n < 2 ? 0 : n * (n - 1) / 2) - counts.genuine;
  return counts;
}

void ForEachImpliedPair(const std::vector<LabeledImage>& labels,
                        const std::function<void(std::size_t, std::size_t, bool)>& visit) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    for (std::size_t j = i + 1; j < labels.size(); ++j) {
      visit(i, j, labels[i].identity == labels[j].identity);
    }
  }
}

std::vector<Pair> ImpliedPairs(const std::vector<LabeledImage>& labels, std::size_t max_pairs) {
  const PairCounts counts = CountImpliedPairs(labels);
  const std::size_t total = counts.genuine + counts.impostor;
  if (total > max_pairs) {
    throw Error(ErrorCode::kInvalidArgument,
                std::to_string(labels.size()) + " labelled images imply " + std::to_string(total) +
                    " pairs, over the limit of " + std::to_string(max_pairs) +
                    "; use ForEachImpliedPair to stream them");
  }
  std::vector<Pair> pairs;
  pairs.reserve(total);
  ForEachImpliedPair(labels, [&](std::size_t i, std::size_t j, bool same) {
    pairs.push_back(Pair{-1, labels[i].file, labels[j].file, same});
  });
  return pairs;
}

}  // namespace idm::eval
