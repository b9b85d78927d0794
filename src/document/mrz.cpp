#include "document/mrz.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>

namespace idm::document {
namespace {

struct Span {
  int line, start, len;
};

// One field protected by a check digit (or the composite), in line/column coordinates.
struct CheckedField {
  std::string name;
  std::vector<Span> data;
  int check_line, check_pos;
  bool numeric;               // dates: every data character must be a digit
  bool filler_check_ok = false;  // '<' in the check position is fine when the data is all fillers
  bool long_number = false;      // TD1/TD2 document number continued in the optional data
  const CheckedField* composite = nullptr;  // breaks ties between repairs of this field
};

// Where the fields are, per format.
struct Layout {
  MrzFormat format;
  int lines, length;
  // Index (line, start, len) of each field.
  Span code, state, names, number, number_check, nationality, birth, birth_check, sex, expiry, expiry_check, opt1, opt2;
  Span personal_check{-1, 0, 0};
  Span composite{-1, 0, 0};
  std::vector<Span> composite_data;
};

Layout GetLayout(MrzFormat f) {
  Layout l{};
  l.format = f;
  if (f == MrzFormat::kTD1) {
    l.lines = 3;
    l.length = 30;
    l.code = {0, 0, 2};
    l.state = {0, 2, 3};
    l.number = {0, 5, 9};
    l.number_check = {0, 14, 1};
    l.opt1 = {0, 15, 15};
    l.birth = {1, 0, 6};
    l.birth_check = {1, 6, 1};
    l.sex = {1, 7, 1};
    l.expiry = {1, 8, 6};
    l.expiry_check = {1, 14, 1};
    l.nationality = {1, 15, 3};
    l.opt2 = {1, 18, 11};
    l.composite = {1, 29, 1};
    l.composite_data = {{0, 5, 25}, {1, 0, 7}, {1, 8, 7}, {1, 18, 11}};
    l.names = {2, 0, 30};
    return l;
  }
  const bool td3_size = f == MrzFormat::kTD3 || f == MrzFormat::kMRVA;
  l.lines = 2;
  l.length = td3_size ? 44 : 36;
  l.code = {0, 0, 2};
  l.state = {0, 2, 3};
  l.names = {0, 5, l.length - 5};
  l.number = {1, 0, 9};
  l.number_check = {1, 9, 1};
  l.nationality = {1, 10, 3};
  l.birth = {1, 13, 6};
  l.birth_check = {1, 19, 1};
  l.sex = {1, 20, 1};
  l.expiry = {1, 21, 6};
  l.expiry_check = {1, 27, 1};
  if (f == MrzFormat::kTD3) {
    l.opt1 = {1, 28, 14};
    l.personal_check = {1, 42, 1};
    l.composite = {1, 43, 1};
    l.composite_data = {{1, 0, 10}, {1, 13, 7}, {1, 21, 22}};
  } else if (f == MrzFormat::kTD2) {
    l.opt1 = {1, 28, 7};
    l.composite = {1, 35, 1};
    l.composite_data = {{1, 0, 10}, {1, 13, 7}, {1, 21, 14}};
  } else {
    l.opt1 = {1, 28, l.length - 28};
  }
  l.opt2 = {-1, 0, 0};
  return l;
}

bool InAlphabet(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '<'; }

int CharValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  if (c == '<') return 0;
  return -1;
}

std::string Get(const std::vector<std::string>& lines, const Span& s) {
  if (s.line < 0) return {};
  return lines[s.line].substr(s.start, s.len);
}

std::string StripFillers(std::string s) {
  while (!s.empty() && s.back() == '<') s.pop_back();
  size_t b = 0;
  while (b < s.size() && s[b] == '<') ++b;
  s = s.substr(b);
  std::replace(s.begin(), s.end(), '<', ' ');
  return s;
}

// Letters OCR confuses with digits, and back.
char LetterToDigit(char c) {
  switch (c) {
    case 'O': case 'D': case 'Q': return '0';
    case 'I': case 'L': return '1';
    case 'Z': return '2';
    case 'S': return '5';
    case 'G': return '6';
    case 'B': return '8';
    default: return 0;
  }
}
char Swap(char c) {
  static const std::map<char, char> m = {{'O', '0'}, {'0', 'O'}, {'I', '1'}, {'1', 'I'}, {'B', '8'}, {'8', 'B'},
                                         {'S', '5'}, {'5', 'S'}, {'Z', '2'}, {'2', 'Z'}, {'G', '6'}, {'6', 'G'}};
  auto it = m.find(c);
  return it == m.end() ? 0 : it->second;
}

CheckState Evaluate(const std::vector<std::string>& lines, const CheckedField& f) {
  std::string data;
  for (const Span& s : f.data) data += Get(lines, s);
  const char cc = lines[f.check_line][f.check_pos];
  const int v = MrzCheckDigit(data);
  if (v < 0 || !InAlphabet(cc)) return CheckState::kUnreadable;
  if (f.filler_check_ok && cc == '<' && data.find_first_not_of('<') == std::string::npos) return CheckState::kPass;
  if (cc < '0' || cc > '9') return CheckState::kFail;
  if (v == cc - '0') return CheckState::kPass;
  // Long document numbers: ICAO computes the digit over the number without the '<' that stands in
  // the first check position; some issuers (Belgium) include it. Either is accepted.
  if (f.long_number && f.data.size() == 2) {
    const std::string with_filler = Get(lines, f.data[0]) + "<" + Get(lines, f.data[1]);
    if (MrzCheckDigit(with_filler) == cc - '0') return CheckState::kPass;
  }
  return CheckState::kFail;
}

// Tries every combination of plausible OCR substitutions in the field's characters and its check
// digit; applies the one with fewest changes if it is the only one at that count. Returns the
// number of characters changed.
struct Pos {
  int line, col;
  char alt;
};

std::vector<Pos> Candidates(const std::vector<std::string>& lines, const CheckedField& f) {
  std::vector<Pos> cand;
  auto consider = [&](int line, int col, bool numeric) {
    const char c = lines[line][col];
    const char alt = numeric ? LetterToDigit(c) : Swap(c);
    if (alt) cand.push_back({line, col, alt});
  };
  for (const Span& s : f.data)
    for (int i = 0; i < s.len; ++i) consider(s.line, s.start + i, f.numeric);
  consider(f.check_line, f.check_pos, true);
  return cand;
}

// The mask of the unique smallest set of substitutions that makes the field pass: -1 if none
// does, -2 if several tie.
// `digits_only`: consider only substitutions that turn a letter into a digit (the tie-break: a
// document number is mostly digits, and a letter read for a digit is the common confusion).
int BestRepair(const std::vector<std::string>& lines, const CheckedField& f, const std::vector<Pos>& cand,
               bool ties_need_composite, bool digits_only = false) {
  int best_changes = 1 << 30, best_mask = -1, best_count = 0;
  for (int mask = 1; mask < (1 << cand.size()); ++mask) {
    std::vector<std::string> trial = lines;
    bool skip = false;
    for (size_t i = 0; i < cand.size(); ++i)
      if (mask & (1 << i)) {
        skip |= digits_only && !(cand[i].alt >= '0' && cand[i].alt <= '9');
        trial[cand[i].line][cand[i].col] = cand[i].alt;
      }
    if (skip || Evaluate(trial, f) != CheckState::kPass) continue;
    // Numeric fields must end up all digits (a date with a letter left in it is not repaired).
    if (f.numeric) {
      bool digits = true;
      for (const Span& s : f.data)
        for (char c : Get(trial, s)) digits &= (c >= '0' && c <= '9');
      if (!digits) continue;
    }
    if (f.composite != nullptr && ties_need_composite && Evaluate(trial, *f.composite) != CheckState::kPass) continue;
    const int changes = __builtin_popcount(static_cast<unsigned>(mask));
    if (changes < best_changes) {
      best_changes = changes;
      best_mask = mask;
      best_count = 1;
    } else if (changes == best_changes) {
      ++best_count;
    }
  }
  return best_mask < 0 ? -1 : best_count != 1 ? -2 : best_mask;
}

int RepairField(std::vector<std::string>& lines, const CheckedField& f) {
  if (Evaluate(lines, f) == CheckState::kPass) return 0;
  std::vector<Pos> cand = Candidates(lines, f);
  if (cand.empty() || cand.size() > 12) return 0;
  int mask = BestRepair(lines, f, cand, false);
  // Several equally small repairs pass the field's own digit: let the composite decide.
  if (mask == -2 && f.composite != nullptr) mask = BestRepair(lines, f, cand, true);
  // Still tied: prefer the one repair made only of letter->digit substitutions, if unique.
  if (mask == -2) mask = BestRepair(lines, f, cand, f.composite != nullptr, true);
  if (mask < 0) return 0;
  int changes = 0;
  for (size_t i = 0; i < cand.size(); ++i)
    if (mask & (1 << i)) {
      lines[cand[i].line][cand[i].col] = cand[i].alt;
      ++changes;
    }
  return changes;
}

bool ValidDate(const std::string& yymmdd) {
  if (yymmdd.size() != 6) return false;
  for (char c : yymmdd)
    if (c < '0' || c > '9') return false;
  const int m = std::stoi(yymmdd.substr(2, 2)), d = std::stoi(yymmdd.substr(4, 2));
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m >= 1 && m <= 12 && d >= 1 && d <= kDays[m - 1];
}

std::string TodayUtc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

}  // namespace

const char* MrzFormatName(MrzFormat f) {
  switch (f) {
    case MrzFormat::kTD1: return "TD1";
    case MrzFormat::kTD2: return "TD2";
    case MrzFormat::kTD3: return "TD3";
    case MrzFormat::kMRVA: return "MRVA";
    case MrzFormat::kMRVB: return "MRVB";
    default: return "unknown";
  }
}

int MrzCheckDigit(std::string_view s) {
  static const int kWeights[] = {7, 3, 1};
  int sum = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const int v = CharValue(s[i]);
    if (v < 0) return -1;
    sum += v * kWeights[i % 3];
  }
  return sum % 10;
}

const std::vector<std::string_view>& IcaoStateCodes() {
  static const std::vector<std::string_view> codes = [] {
    // ISO 3166-1 alpha-3.
    constexpr std::string_view kIso =
        "ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES BFA BGD BGR BHR "
        "BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN CIV CMR COD COG COK COL "
        "COM CPV CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK "
        "FRA FRO FSM GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV "
        "HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM KIR KNA KOR KWT LAO "
        "LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG "
        "MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN "
        "PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE "
        "SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK TKL TKM TLS TON TTO "
        "TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT VEN VGB VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE "
        // ICAO 9303 Part 3 additions: Germany, British nationals of other kinds, the UN and its
        // agencies, other organisations, stateless and refugees, the EU, Kosovo, the specimen state.
        "D<< GBD GBN GBO GBP GBS UNA UNK UNO XBA XCC XCE XCO XDC XEC XES XIM XMP XOM XPO XXA XXB XXC XXX "
        "EUE RKS UTO";
    std::vector<std::string_view> v;
    for (size_t i = 0; i + 3 <= kIso.size(); i += 4) v.push_back(kIso.substr(i, 3));
    std::sort(v.begin(), v.end());
    return v;
  }();
  return codes;
}

std::vector<std::pair<size_t, size_t>> StateCodeStarts(size_t line_count) {
  std::vector<std::pair<size_t, size_t>> at = {{0, 2}};
  if (line_count == 3) at.push_back({1, 15});
  if (line_count == 2) at.push_back({1, 10});
  return at;
}

std::vector<MrzCheckedSpan> CheckDigitSpans(MrzFormat format) {
  if (format == MrzFormat::kUnknown) return {};
  const Layout l = GetLayout(format);
  auto span = [](const char* name, const Span& s) {
    return MrzCheckedSpan{name, static_cast<size_t>(s.line), static_cast<size_t>(s.start), static_cast<size_t>(s.len)};
  };
  std::vector<MrzCheckedSpan> spans = {span("document_number", l.number), span("birth_date", l.birth),
                                       span("expiry_date", l.expiry)};
  if (l.personal_check.line >= 0) spans.push_back(span("personal_number", l.opt1));
  return spans;
}

bool IsIcaoStateCode(std::string_view code) {
  const auto& c = IcaoStateCodes();
  return std::binary_search(c.begin(), c.end(), code);
}

const MrzCheck* MrzResult::Check(std::string_view name) const {
  for (const auto& c : checks)
    if (c.name == name) return &c;
  return nullptr;
}

MrzFormat DetectMrzFormat(const std::vector<std::string>& lines) {
  if (lines.size() == 3 && lines[0].size() == 30 && lines[1].size() == 30 && lines[2].size() == 30) return MrzFormat::kTD1;
  if (lines.size() != 2 || lines[0].size() != lines[1].size()) return MrzFormat::kUnknown;
  const bool visa = !lines[0].empty() && lines[0][0] == 'V';
  if (lines[0].size() == 44) return visa ? MrzFormat::kMRVA : MrzFormat::kTD3;
  if (lines[0].size() == 36) return visa ? MrzFormat::kMRVB : MrzFormat::kTD2;
  return MrzFormat::kUnknown;
}

MrzResult ParseMrz(const std::vector<std::string>& raw, const MrzParseOptions& options) {
  MrzResult r;
  for (const auto& line : raw) {
    std::string s;
    for (char c : line)
      if (!std::isspace(static_cast<unsigned char>(c))) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!s.empty()) r.lines.push_back(s);
  }
  r.format = DetectMrzFormat(r.lines);
  if (r.format == MrzFormat::kUnknown) {
    std::string lens;
    for (const auto& s : r.lines) lens += (lens.empty() ? "" : "/") + std::to_string(s.size());
    r.error = "not an ICAO 9303 layout: " + std::to_string(r.lines.size()) + " line(s) of " + (lens.empty() ? "0" : lens) +
              " characters (expected 3x30, 2x36 or 2x44)";
    return r;
  }
  const Layout l = GetLayout(r.format);
  auto& lines = r.lines;

  // A TD1/TD2 document number longer than 9 characters: '<' in its check position and the rest,
  // plus its check digit, at the start of the optional data (ICAO 9303-5 4.2.2 note j).
  Span number_check = l.number_check;
  std::vector<Span> number_data = {l.number};
  const bool can_be_long = r.format == MrzFormat::kTD1 || r.format == MrzFormat::kTD2;
  if (can_be_long && lines[l.number_check.line][l.number_check.start] == '<') {
    const std::string opt = Get(lines, l.opt1);
    const size_t end = opt.find('<');
    const size_t run = end == std::string::npos ? opt.size() : end;
    if (run >= 1) {
      r.fields.long_document_number = true;
      if (run > 1) number_data.push_back({l.opt1.line, l.opt1.start, static_cast<int>(run - 1)});
      number_check = {l.opt1.line, l.opt1.start + static_cast<int>(run - 1), 1};
    }
  }

  std::vector<CheckedField> fields = {
      {"document_number", number_data, number_check.line, number_check.start, false},
      {"birth_date", {l.birth}, l.birth_check.line, l.birth_check.start, true},
      {"expiry_date", {l.expiry}, l.expiry_check.line, l.expiry_check.start, true},
  };
  fields[0].long_number = r.fields.long_document_number;
  if (l.personal_check.line >= 0) {
    CheckedField p{"personal_number", {l.opt1}, l.personal_check.line, l.personal_check.start, false};
    p.filler_check_ok = true;
    fields.push_back(p);
  }
  CheckedField composite{"composite", l.composite_data, l.composite.line, l.composite.start, false};
  if (l.composite.line >= 0)
    for (auto& f : fields) f.composite = &composite;
  if (options.repair) {
    for (const auto& f : fields) r.repairs += RepairField(lines, f);
    // Fields that can hold letters and fillers only (states, nationality, names): a digit there
    // is a misread letter whatever the check digits say (none covers these fields).
    for (const Span& s : {l.code, l.state, l.nationality, l.names}) {
      for (int i = 0; i < s.len; ++i) {
        char& c = lines[s.line][s.start + i];
        const char alt = c >= '0' && c <= '9' ? Swap(c) : 0;
        if (alt) {
          c = alt;
          ++r.repairs;
        }
      }
    }
  }
  if (l.composite.line >= 0) {
    if (options.repair && Evaluate(lines, composite) != CheckState::kPass) {
      // Only the composite digit itself may be repaired here: the fields it covers are settled.
      std::vector<std::string> trial = lines;
      const char alt = LetterToDigit(trial[composite.check_line][composite.check_pos]);
      if (alt) {
        trial[composite.check_line][composite.check_pos] = alt;
        if (Evaluate(trial, composite) == CheckState::kPass) {
          lines = trial;
          ++r.repairs;
        }
      }
    }
    composite.composite = nullptr;
    fields.push_back(composite);
  }
  for (const auto& f : fields) r.checks.push_back({f.name, Evaluate(lines, f)});

  // Fields.
  auto& F = r.fields;
  F.document_code = Get(lines, l.code);
  F.issuing_state = StripFillers(Get(lines, l.state));
  {
    std::string num;
    for (const Span& s : number_data) num += Get(lines, s);
    F.document_number = StripFillers(num);
    F.document_number.erase(std::remove(F.document_number.begin(), F.document_number.end(), ' '), F.document_number.end());
  }
  const std::string names = Get(lines, l.names);
  const size_t sep = names.find("<<");
  if (sep == std::string::npos) {
    F.surname = StripFillers(names);
  } else {
    F.surname = StripFillers(names.substr(0, sep));
    F.given_names = StripFillers(names.substr(sep + 2));
  }
  F.nationality = StripFillers(Get(lines, l.nationality));
  F.birth_date = Get(lines, l.birth);
  const char sex = lines[l.sex.line][l.sex.start];
  F.sex = sex == 'M' ? "M" : sex == 'F' ? "F" : sex == '<' || sex == 'X' ? "X" : "?";
  F.expiry_date = Get(lines, l.expiry);
  if (r.fields.long_document_number) {
    const std::string opt = Get(lines, l.opt1);
    const size_t end = opt.find('<');
    F.optional1 = StripFillers(end == std::string::npos ? "" : opt.substr(end));
  } else {
    F.optional1 = StripFillers(Get(lines, l.opt1));
  }
  F.optional2 = StripFillers(Get(lines, l.opt2));

  r.dates_valid = ValidDate(F.birth_date) && ValidDate(F.expiry_date);
  bool all_pass = true;
  for (const auto& c : r.checks) all_pass &= c.state == CheckState::kPass;
  bool alphabet = true;
  for (const auto& s : lines)
    for (char c : s) alphabet &= InAlphabet(c);
  r.valid = all_pass && alphabet && r.dates_valid && F.sex != "?";
  if (r.dates_valid) {
    const std::string today = options.today.empty() ? TodayUtc() : options.today;
    const int yy = std::stoi(F.expiry_date.substr(0, 2));
    // Expiry dates are at most ~10 years ahead; a two-digit year is 20YY unless that is absurd.
    const int this_year = std::stoi(today.substr(0, 4));
    int year = 2000 + yy;
    if (year > this_year + 50) year -= 100;
    const std::string expiry = std::to_string(year) + F.expiry_date.substr(2);
    r.expired = expiry < today;
  }
  return r;
}

std::string MaskIdentifier(std::string_view id) {
  std::string s(id);
  // Korean resident registration number: 13 digits, optionally with a dash after the 6th.
  std::string digits;
  for (char c : s)
    if (c != '-') digits += c;
  const bool rrn = digits.size() == 13 && std::all_of(digits.begin(), digits.end(), ::isdigit) &&
                   (s.size() == 13 || (s.size() == 14 && s[6] == '-'));
  if (rrn) return digits.substr(0, 6) + "-" + digits.substr(6, 1) + "******";
  for (size_t i = 1; i < s.size(); ++i)
    if (s[i] != '-' && s[i] != ' ') s[i] = '*';
  return s;
}

std::string MaskName(std::string_view name) {
  std::string s(name);
  bool start = true;
  for (char& c : s) {
    if (c == ' ' || c == '<' || c == '-') {
      start = true;
      continue;
    }
    if (!start) c = '*';
    start = false;
  }
  return s;
}

std::vector<std::string> MaskMrzLines(const MrzResult& r) {
  std::vector<std::string> out = r.lines;
  if (r.format == MrzFormat::kUnknown) {
    for (auto& s : out)
      for (char& c : s)
        if (c != '<') c = '*';
    return out;
  }
  const Layout l = GetLayout(r.format);
  auto mask = [&](const Span& s, bool keep_first) {
    if (s.line < 0) return;
    for (int i = keep_first ? 1 : 0; i < s.len; ++i) {
      char& c = out[s.line][s.start + i];
      if (c != '<') c = '*';
    }
  };
  mask(l.number, true);
  mask(l.opt1, false);
  mask(l.opt2, false);
  // Names: keep each word's initial.
  std::string& nl = out[l.names.line];
  bool start = true;
  for (int i = l.names.start; i < l.names.start + l.names.len; ++i) {
    if (nl[i] == '<') {
      start = true;
      continue;
    }
    if (!start) nl[i] = '*';
    start = false;
  }
  return out;
}

void FillMrzCheckDigits(MrzFormat f, std::vector<std::string>& lines) {
  const Layout l = GetLayout(f);
  auto put = [&](const std::vector<Span>& data, const Span& at) {
    std::string s;
    for (const Span& d : data) s += Get(lines, d);
    lines[at.line][at.start] = static_cast<char>('0' + std::max(0, MrzCheckDigit(s)));
  };
  put({l.number}, l.number_check);
  put({l.birth}, l.birth_check);
  put({l.expiry}, l.expiry_check);
  if (l.personal_check.line >= 0) put({l.opt1}, l.personal_check);
  if (l.composite.line >= 0) put(l.composite_data, l.composite);
}

}  // namespace idm::document
