// Machine-readable zones (ICAO Doc 9303): TD1, TD2, TD3, MRV-A and MRV-B.
//
// ParseMrz() splits the lines into fields, computes every check digit (7-3-1, '<' = 0, A..Z =
// 10..35) and the composite check, and can repair the usual OCR confusions (O/0, I/1, B/8, S/5,
// Z/2, G/6, D/0, Q/0) -- but a repair is kept only where it makes the check digit of its field
// pass (and, where the format has one, the composite too). Nothing here logs: names and numbers
// are personal data, so callers show them only through MaskIdentifier / MaskName.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idm::document {

enum class MrzFormat { kUnknown, kTD1, kTD2, kTD3, kMRVA, kMRVB };
const char* MrzFormatName(MrzFormat f);  // "TD1", ..., "MRVA", "MRVB", "unknown"

// 7-3-1 check digit of `s` ('<' counts 0, digits their value, A..Z 10..35).
// Returns -1 if `s` holds any other character.
int MrzCheckDigit(std::string_view s);

// The three-character codes ICAO 9303 Part 3 allows for an issuing state or organisation and for
// a nationality: ISO 3166-1 alpha-3, Germany's "D<<", the British, UN and other organisations'
// codes (GBD ... XXX), RKS, and UTO, the fictitious state of ICAO's specimens. Written from the
// standard; the ISO list changes rarely, and a code missing here only loses the OCR correction
// that ReadMrz makes with it (ParseMrz does not reject unlisted codes).
bool IsIcaoStateCode(std::string_view code);
// Where an MRZ of `line_count` lines prints its state codes, as (line, first position): the issuing
// state (line 1, positions 3-5) and the nationality (TD1: line 2, 16-18; others: line 2, 11-13).
std::vector<std::pair<size_t, size_t>> StateCodeStarts(size_t line_count);
// A field with a check digit of its own: `length` characters from (`line`, `start`), its check
// digit right after them.
struct MrzCheckedSpan {
  const char* name;  // "document_number", "birth_date", "expiry_date", "personal_number"
  size_t line, start, length;
};
// Those fields of `format` (the document number's first nine characters; TD3's personal number).
std::vector<MrzCheckedSpan> CheckDigitSpans(MrzFormat format);
const std::vector<std::string_view>& IcaoStateCodes();

// kUnreadable: a character outside the alphabet. kAmbiguous: the digit passes, but the OCR cannot
// tell the reading from another one that passes too (ReadMrz; ParseMrz never says it).
enum class CheckState { kPass, kFail, kUnreadable, kAmbiguous };
struct MrzCheck {
  std::string name;  // "document_number", "birth_date", "expiry_date", "personal_number", "composite";
                     // OCR readings also "state_codes" (ReadMrz)
  CheckState state = CheckState::kFail;
};

struct MrzFields {
  std::string document_code;    // "P<", "I<", "ID", "V<", ...
  std::string issuing_state;
  std::string document_number;  // fillers removed; a TD1/TD2 long number includes its overflow
  bool long_document_number = false;
  std::string surname, given_names;  // '<' between words replaced by spaces
  std::string nationality;
  std::string birth_date;   // YYMMDD as printed
  std::string sex;          // "M", "F" or "X" (for '<')
  std::string expiry_date;  // YYMMDD as printed
  std::string optional1, optional2;  // fillers stripped (TD3: optional1 = personal number)
};

struct MrzParseOptions {
  bool repair = true;        // try OCR-confusion repairs guided by the check digits
  std::string today;         // "YYYYMMDD" for the expiry flag; empty = the system date (UTC)
};

struct MrzResult {
  MrzFormat format = MrzFormat::kUnknown;
  std::string error;                 // why the format is unknown (line count/lengths/alphabet)
  std::vector<std::string> lines;    // after repair
  MrzFields fields;
  std::vector<MrzCheck> checks;
  bool valid = false;                // format known, every check passes, dates are calendar dates
  bool dates_valid = false;
  bool expired = false;              // expiry date before today (only when dates_valid)
  int repairs = 0;                   // characters changed by the repair

  const MrzCheck* Check(std::string_view name) const;
};

// Lines as read (surrounding spaces are trimmed, lower case is upper-cased). Never throws:
// an unrecognised layout gives format kUnknown with `error` set.
MrzResult ParseMrz(const std::vector<std::string>& lines, const MrzParseOptions& options = {});

// Which format a set of line lengths is, by count, length and first letter.
MrzFormat DetectMrzFormat(const std::vector<std::string>& lines);

// For display: keeps the first character of an identifier and masks the rest
// ("L898902C3" -> "L********"); a Korean resident registration number "YYMMDD-GNNNNNN"
// (with or without the dash) becomes "YYMMDD-G******".
std::string MaskIdentifier(std::string_view id);
// "ERIKSSON" -> "E*******"; each word keeps its initial.
std::string MaskName(std::string_view name);
// The lines with the document number, names and optional data masked by '*' (positions kept).
std::vector<std::string> MaskMrzLines(const MrzResult& r);

// Fills in check digits (and the composite) of lines whose check positions are placeholders:
// used by the card generator to write valid MRZs. `lines` must already have the format's lengths.
void FillMrzCheckDigits(MrzFormat f, std::vector<std::string>& lines);

}  // namespace idm::document
