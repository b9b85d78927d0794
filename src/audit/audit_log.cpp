#include "audit/audit_log.h"

#include <sodium.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/secure_memory.h"
#include "verify/receipt.h"

namespace idm::audit {

namespace {

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS decisions (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  operator TEXT NOT NULL,
  session_id TEXT NOT NULL,
  decision TEXT NOT NULL,
  match_score TEXT NOT NULL,
  liveness_verdict TEXT NOT NULL,
  liveness_score TEXT,
  document_type TEXT NOT NULL,
  document_country TEXT NOT NULL,
  model_hashes TEXT NOT NULL,
  receipt_sha256 TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  row_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_receipt ON decisions(receipt_sha256);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS operators (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL UNIQUE,
  key_hash TEXT NOT NULL,
  rate_per_minute INTEGER NOT NULL,
  created TEXT NOT NULL
);
)sql";

const std::string kGenesis(64, '0');

std::string Score(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", std::round(x * 100.0) / 100.0);
  return buf;
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
      throw Error(ErrorCode::kInternal, std::string("audit db: ") + sqlite3_errmsg(db));
    }
  }
  ~Stmt() { sqlite3_finalize(s); }
  void Bind(int i, const std::string& v) { sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s, i, v); }
  void BindNull(int i) { sqlite3_bind_null(s, i); }
  std::string Text(int i) {
    const auto* t = sqlite3_column_text(s, i);
    return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
  }
  bool IsNull(int i) { return sqlite3_column_type(s, i) == SQLITE_NULL; }
};

std::string Hex(const unsigned char* p, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.resize(n * 2);
  return out;
}

// API keys: "idm_" + key id (16 hex) + "_" + secret (43 base64url chars, 256 bits). The secret has
// full entropy, so one keyed BLAKE2b (crypto_generichash, keyed with the key id) is enough: a
// slow password hash buys nothing against guessing 256 random bits.
std::string KeyHash(const std::string& key_id, const std::string& secret) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     reinterpret_cast<const unsigned char*>(key_id.data()), key_id.size());
  return Hex(h, sizeof h);
}

}  // namespace

std::string Sha256Hex(const std::string& bytes) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return Hex(h, sizeof h);
}

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string AuditDb::RowHash(int64_t seq, const DecisionRecord& r, const std::string& prev_hash) {
  nlohmann::json canonical = nlohmann::json::array(
      {seq, r.time, r.operator_name, r.session_id, r.decision, Score(r.match_score), r.liveness_verdict,
       r.liveness_score ? nlohmann::json(Score(*r.liveness_score)) : nlohmann::json(nullptr), r.document_type,
       r.document_country, r.model_hashes, r.receipt_sha256, prev_hash});
  return Sha256Hex(canonical.dump());
}

AuditDb::AuditDb(const std::string& path) : path_(path) {
  EnsureSodium();
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(ErrorCode::kNotFound, "cannot open audit database '" + path + "': " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  Exec("PRAGMA journal_mode=WAL");
  Exec("PRAGMA synchronous=FULL");
  Exec("PRAGMA secure_delete=ON");
  Exec(kSchema);
}

AuditDb::~AuditDb() { sqlite3_close(db_); }

void AuditDb::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    throw Error(ErrorCode::kInternal, "audit database '" + path_ + "': " + msg);
  }
}

int64_t AuditDb::Append(DecisionRecord r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (r.time.empty()) r.time = NowRfc3339();
  Exec("BEGIN IMMEDIATE");
  try {
    int64_t seq = 1;
    std::string prev = kGenesis;
    {
      Stmt last(db_, "SELECT seq, row_hash FROM decisions ORDER BY seq DESC LIMIT 1");
      if (sqlite3_step(last.s) == SQLITE_ROW) {
        seq = sqlite3_column_int64(last.s, 0) + 1;
        prev = last.Text(1);
      }
    }
    Stmt ins(db_,
             "INSERT INTO decisions (seq, time, operator, session_id, decision, match_score, liveness_verdict, "
             "liveness_score, document_type, document_country, model_hashes, receipt_sha256, prev_hash, row_hash) "
             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    ins.Bind(1, seq);
    ins.Bind(2, r.time);
    ins.Bind(3, r.operator_name);
    ins.Bind(4, r.session_id);
    ins.Bind(5, r.decision);
    ins.Bind(6, Score(r.match_score));
    ins.Bind(7, r.liveness_verdict);
    if (r.liveness_score) ins.Bind(8, Score(*r.liveness_score)); else ins.BindNull(8);
    ins.Bind(9, r.document_type);
    ins.Bind(10, r.document_country);
    ins.Bind(11, r.model_hashes);
    ins.Bind(12, r.receipt_sha256);
    ins.Bind(13, prev);
    ins.Bind(14, RowHash(seq, r, prev));
    if (sqlite3_step(ins.s) != SQLITE_DONE) throw Error(ErrorCode::kInternal, std::string("audit append: ") + sqlite3_errmsg(db_));
    Exec("COMMIT");  // synchronous=FULL: durable when this returns
    return seq;
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

ChainReport AuditDb::VerifyChain() {
  std::lock_guard<std::mutex> lock(mu_);
  ChainReport rep;
  Stmt q(db_,
         "SELECT seq, time, operator, session_id, decision, match_score, liveness_verdict, liveness_score, "
         "document_type, document_country, model_hashes, receipt_sha256, prev_hash, row_hash FROM decisions ORDER BY seq");
  std::string prev = kGenesis;
  int64_t expect = 1;
  while (sqlite3_step(q.s) == SQLITE_ROW) {
    const int64_t seq = sqlite3_column_int64(q.s, 0);
    ++rep.rows;
    DecisionRecord r;
    r.time = q.Text(1);
    r.operator_name = q.Text(2);
    r.session_id = q.Text(3);
    r.decision = q.Text(4);
    const std::string score = q.Text(5);
    r.liveness_verdict = q.Text(6);
    const bool live_null = q.IsNull(7);
    const std::string live = q.Text(7);
    r.document_type = q.Text(8);
    r.document_country = q.Text(9);
    r.model_hashes = q.Text(10);
    r.receipt_sha256 = q.Text(11);
    const std::string stored_prev = q.Text(12), stored_hash = q.Text(13);
    auto fail = [&](const std::string& why) {
      rep.ok = false;
      rep.first_broken = seq;
      rep.reason = why;
      return rep;
    };
    if (seq != expect) return fail("row " + std::to_string(expect) + " is missing (next row is " + std::to_string(seq) + ")");
    if (stored_prev != prev) return fail("prev_hash does not match the previous row's hash");
    try {
      r.match_score = std::stod(score);
      if (!live_null) r.liveness_score = std::stod(live);
    } catch (const std::exception&) {
      return fail("a score is not a number");
    }
    // A score stored with more than 2 decimals (an edited row) changes the canonical text.
    if (Score(r.match_score) != score || (!live_null && Score(*r.liveness_score) != live)) return fail("a score was altered");
    if (RowHash(seq, r, prev) != stored_hash) return fail("row hash does not match its contents");
    prev = stored_hash;
    ++expect;
  }
  return rep;
}

int64_t AuditDb::RowCount() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT COUNT(*) FROM decisions");
  return sqlite3_step(q.s) == SQLITE_ROW ? sqlite3_column_int64(q.s, 0) : 0;
}

std::optional<int64_t> AuditDb::FindReceipt(const std::string& receipt_sha256) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT seq FROM decisions WHERE receipt_sha256 = ?");
  q.Bind(1, receipt_sha256);
  if (sqlite3_step(q.s) == SQLITE_ROW) return sqlite3_column_int64(q.s, 0);
  return std::nullopt;
}

std::string AuditDb::AddOperator(const std::string& name, int rate_per_minute) {
  if (name.empty() || name.size() > 64) throw Error(ErrorCode::kInvalidArgument, "operator name must be 1-64 characters");
  for (const char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      throw Error(ErrorCode::kInvalidArgument, "operator name may hold only letters, digits, '-', '_' and '.'");
    }
  }
  if (rate_per_minute <= 0) throw Error(ErrorCode::kInvalidArgument, "--rate must be a positive number of requests per minute");
  unsigned char id[8], secret[32];
  randombytes_buf(id, sizeof id);
  randombytes_buf(secret, sizeof secret);
  const std::string key_id = Hex(id, sizeof id);
  std::string secret_text = verify::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(secret), sizeof secret));
  sodium_memzero(secret, sizeof secret);
  std::lock_guard<std::mutex> lock(mu_);
  Stmt ins(db_, "INSERT INTO operators (name, key_id, key_hash, rate_per_minute, created) VALUES (?,?,?,?,?)");
  ins.Bind(1, name);
  ins.Bind(2, key_id);
  ins.Bind(3, KeyHash(key_id, secret_text));
  ins.Bind(4, static_cast<int64_t>(rate_per_minute));
  ins.Bind(5, NowRfc3339());
  if (sqlite3_step(ins.s) != SQLITE_DONE) {
    if (sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE) {
      throw Error(ErrorCode::kInvalidArgument, "an operator named '" + name + "' already exists");
    }
    throw Error(ErrorCode::kInternal, std::string("add operator: ") + sqlite3_errmsg(db_));
  }
  return "idm_" + key_id + "_" + secret_text;
}

std::optional<Operator> AuditDb::Authenticate(const std::string& api_key) {
  if (api_key.size() != 4 + 16 + 1 + 43 || api_key.compare(0, 4, "idm_") != 0 || api_key[20] != '_') return std::nullopt;
  const std::string key_id = api_key.substr(4, 16), secret = api_key.substr(21);
  const std::string want = KeyHash(key_id, secret);
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT id, name, key_hash, rate_per_minute FROM operators WHERE key_id = ?");
  q.Bind(1, key_id);
  if (sqlite3_step(q.s) != SQLITE_ROW) return std::nullopt;
  const std::string stored = q.Text(2);
  if (stored.size() != want.size() || sodium_memcmp(stored.data(), want.data(), want.size()) != 0) return std::nullopt;
  return Operator{sqlite3_column_int64(q.s, 0), q.Text(1), sqlite3_column_int(q.s, 3)};
}

std::vector<Operator> AuditDb::ListOperators() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Operator> out;
  Stmt q(db_, "SELECT id, name, rate_per_minute FROM operators ORDER BY id");
  while (sqlite3_step(q.s) == SQLITE_ROW) out.push_back({sqlite3_column_int64(q.s, 0), q.Text(1), sqlite3_column_int(q.s, 2)});
  return out;
}

}  // namespace idm::audit
