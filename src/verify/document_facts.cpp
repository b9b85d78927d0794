#include "verify/document_facts.h"

#include <sodium.h>

namespace idm::verify {
namespace {

void Wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

// An ICAO 9303 state code with its fillers removed ("D" for Germany, "KOR").
std::string IcaoCode(std::string s) {
  while (!s.empty() && s.back() == '<') s.pop_back();
  if (s.empty() || s.size() > 3) return "";
  for (const char c : s) {
    if (c < 'A' || c > 'Z') return "";
  }
  return s;
}

}  // namespace

DocumentFacts SummariseDocument(const document::DocumentReport& r) {
  DocumentFacts f;
  f.type = r.classification.type;
  f.type_confidence = r.classification.confidence;
  f.flags = r.problems;
  f.qr_read = r.qr_read;
  if (r.mrz && r.mrz->found) {
    f.mrz_read = true;
    const document::MrzResult& m = r.mrz->mrz;
    f.mrz_valid = m.valid;
    // Only a fully checked MRZ names the issuer; a misread one names nothing.
    const std::string code = m.valid ? IcaoCode(m.fields.issuing_state) : "";
    if (!code.empty()) f.issuing_country = code;
    if (m.valid && m.expired) f.flags.push_back("document_expired");
    if (!m.valid) f.flags.push_back("mrz_unreadable");
  }
  // A type issued by one state (the Korean cards, which carry no MRZ) names it in its layout.
  if (f.issuing_country == "unknown" && !r.issuing_country.empty()) f.issuing_country = r.issuing_country;
  return f;
}

void WipeDocumentText(document::DocumentReport& r) {
  if (!r.mrz) return;
  for (auto& line : r.mrz->raw_lines) Wipe(line);
  document::MrzResult& m = r.mrz->mrz;
  for (auto& line : m.lines) Wipe(line);
  document::MrzFields& f = m.fields;
  for (std::string* s : {&f.document_code, &f.issuing_state, &f.document_number, &f.surname, &f.given_names,
                         &f.nationality, &f.birth_date, &f.sex, &f.expiry_date, &f.optional1, &f.optional2}) {
    Wipe(*s);
  }
  r.mrz.reset();
}

}  // namespace idm::verify
