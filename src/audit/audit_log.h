// The audit database (DATA_DIR/audit.db): one append-only row per decision, hash-chained, and
// the operator table (API keys stored only as hashes).
//
// Rows carry no personal data: time, operator name, session id, decision, scores, liveness
// verdict, document type and issuing country, model hashes, the SHA-256 of the receipt, and the
// chain. SQLite runs in WAL mode with synchronous=FULL, so Append returns only once the row is
// durable. Triggers refuse UPDATE and DELETE on the decision table; the chain
// (row_hash = SHA-256(canonical row || prev_hash)) makes any edit done around them detectable.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace idm::audit {

struct DecisionRecord {
  std::string time;  // RFC 3339 UTC, set by Append when empty
  std::string operator_name, session_id, decision;
  double match_score = 0;
  std::string liveness_verdict = "not_checked";
  std::optional<double> liveness_score;
  std::string document_type = "unknown", document_country = "unknown";
  std::string model_hashes;    // JSON object text: model name -> sha256
  std::string receipt_sha256;  // hex SHA-256 of the compact JWS handed to the client
};

struct ChainReport {
  bool ok = true;
  int64_t rows = 0;
  int64_t first_broken = 0;  // seq of the first row that does not verify (0 when ok)
  std::string reason;
};

struct Operator {
  int64_t id = 0;
  std::string name;
  int rate_per_minute = 0;
};

class AuditDb {
 public:
  // Opens (creating when missing) the database at `path`.
  explicit AuditDb(const std::string& path);
  ~AuditDb();
  AuditDb(const AuditDb&) = delete;
  AuditDb& operator=(const AuditDb&) = delete;

  // Appends one decision row; returns its seq once it is durable. Throws Error on failure.
  int64_t Append(DecisionRecord r);
  ChainReport VerifyChain();
  int64_t RowCount();
  // The row holding a receipt hash, if any (seq), for "every receipt has its row" checks.
  std::optional<int64_t> FindReceipt(const std::string& receipt_sha256);

  // Creates an operator and returns its API key (shown once; only a hash is stored).
  std::string AddOperator(const std::string& name, int rate_per_minute);
  std::optional<Operator> Authenticate(const std::string& api_key);
  std::vector<Operator> ListOperators();

  static std::string RowHash(int64_t seq, const DecisionRecord& r, const std::string& prev_hash);

 private:
  void Exec(const char* sql);
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::string path_;
};

std::string Sha256Hex(const std::string& bytes);
std::string NowRfc3339();

}  // namespace idm::audit
