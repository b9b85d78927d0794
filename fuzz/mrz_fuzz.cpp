// MRZ parsing: any text, split into lines at '\n', is parsed as TD1/TD2/TD3/MRV-A/MRV-B with and
// without the check-digit-guided OCR repair. Never a crash; the result must be self-consistent:
// a valid MRZ has a known format and every check passing, masking keeps the shape of the lines,
// and lines whose check digits are filled in by FillMrzCheckDigits pass every check.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "document/mrz.h"

namespace {

using namespace idm::document;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool InAlphabet(const std::vector<std::string>& lines) {
  for (const auto& s : lines)
    for (char c : s)
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '<')) return false;
  return true;
}

void Consistent(const MrzResult& r, bool repair) {
  Check(r.format == DetectMrzFormat(r.lines));
  if (r.format == MrzFormat::kUnknown) {
    Check(!r.error.empty() && !r.valid && r.checks.empty());
  } else {
    Check(r.error.empty() && !r.checks.empty());
  }
  if (!repair) Check(r.repairs == 0);
  if (r.valid) {
    for (const auto& c : r.checks) Check(c.state == CheckState::kPass);
    Check(r.dates_valid && InAlphabet(r.lines));
  }
  if (r.expired) Check(r.dates_valid);
  const auto masked = MaskMrzLines(r);
  Check(masked.size() == r.lines.size());
  for (size_t i = 0; i < masked.size(); ++i) Check(masked[i].size() == r.lines[i].size());
  // Masking helpers on the fields (what callers show).
  (void)MaskIdentifier(r.fields.document_number);
  (void)MaskName(r.fields.surname + " " + r.fields.given_names);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // an MRZ is at most 3x44 characters; longer inputs only cost time
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  size_t start = 0;
  for (;;) {
    const size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  for (const auto& l : lines) (void)MrzCheckDigit(l);

  MrzParseOptions opt;
  opt.today = "20261126";  // deterministic expiry flag
  const MrzResult repaired = ParseMrz(lines, opt);
  Consistent(repaired, true);
  opt.repair = false;
  const MrzResult plain = ParseMrz(lines, opt);
  Consistent(plain, false);
  Check(plain.format == repaired.format);
  // A repair never makes a valid MRZ invalid (it may still turn digits in letter-only fields into
  // letters, which no check digit covers).
  if (plain.valid) Check(repaired.valid);

  // Filling in the check digits of well-formed lines makes every check pass.
  if (plain.format != MrzFormat::kUnknown && InAlphabet(plain.lines)) {
    std::vector<std::string> filled = plain.lines;
    FillMrzCheckDigits(plain.format, filled);
    const MrzResult again = ParseMrz(filled, opt);
    Check(again.format == plain.format);
    for (const auto& c : again.checks) Check(c.state == CheckState::kPass);
  }
  return 0;
}
