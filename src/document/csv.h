// A small RFC 4180 CSV reader (quoted fields, "" escapes, newlines inside quotes) for the label
// and layout tables the document module and its tests read. Rows are keyed by the header.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace idm::document {

using CsvRow = std::map<std::string, std::string>;
std::vector<std::vector<std::string>> ParseCsv(const std::string& text);
// Throws Error(kNotFound) when the file cannot be read.
std::vector<CsvRow> ReadCsvFile(const std::string& path);

}  // namespace idm::document
