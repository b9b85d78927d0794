// The audit database: append-only (triggers), a hash chain that finds the first edited or missing
// row, WAL + synchronous=FULL, operators stored as key hashes only, and the CLI around it.
#include <sqlite3.h>

#include <set>

#include <gtest/gtest.h>

#include "audit/audit_log.h"
#include "server_harness.h"

namespace idm {
namespace {

audit::DecisionRecord Row(int i) {
  audit::DecisionRecord r;
  r.operator_name = "shop";
  r.session_id = "s" + std::to_string(i);
  r.decision = i % 2 ? "match" : "no_match";
  r.match_score = 0.1 * i;
  r.model_hashes = R"({"m":"00"})";
  r.receipt_sha256 = audit::Sha256Hex("receipt" + std::to_string(i));
  return r;
}

// Runs SQL on the file directly, as someone with file access would.
int RawExec(const std::string& path, const std::string& sql, std::string* err = nullptr) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  char* e = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &e);
  if (err != nullptr && e != nullptr) *err = e;
  sqlite3_free(e);
  sqlite3_close(db);
  return rc;
}

TEST(AuditLog, ChainVerifiesAndRefusesEdits) {
  test::ScopedTempDir dir;
  const std::string path = dir.File("audit.db");
  {
    audit::AuditDb db(path);
    for (int i = 1; i <= 5; ++i) EXPECT_EQ(db.Append(Row(i)), i);
    const auto rep = db.VerifyChain();
    EXPECT_TRUE(rep.ok) << rep.reason;
    EXPECT_EQ(rep.rows, 5);
    EXPECT_EQ(db.FindReceipt(audit::Sha256Hex("receipt3")), 3);
    EXPECT_FALSE(db.FindReceipt("nope").has_value());
  }
  std::string err;
  EXPECT_NE(RawExec(path, "UPDATE decisions SET decision='match' WHERE seq=2", &err), SQLITE_OK);
  EXPECT_NE(err.find("append-only"), std::string::npos) << err;
  EXPECT_NE(RawExec(path, "DELETE FROM decisions WHERE seq=5", &err), SQLITE_OK);
  {
    // WAL is a property of the file.
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  EXPECT_EQ(test::RunIdmatch({"audit", "verify", "--data-dir", dir.path()}).exit_code, 0);

  // Around the triggers: an edited score is found at its row.
  ASSERT_EQ(RawExec(path, "DROP TRIGGER decisions_no_update; UPDATE decisions SET match_score='0.99' WHERE seq=3"), SQLITE_OK);
  {
    audit::AuditDb db(path);  // re-creates the trigger (CREATE IF NOT EXISTS)
    const auto rep = db.VerifyChain();
    EXPECT_FALSE(rep.ok);
    EXPECT_EQ(rep.first_broken, 3) << rep.reason;
  }
  const test::ProcResult r = test::RunIdmatch({"audit", "verify", "--data-dir", dir.path(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(j.value("first_broken_row", 0), 3) << r.out;
}

TEST(AuditLog, MissingRowIsFound) {
  test::ScopedTempDir dir;
  const std::string path = dir.File("audit.db");
  {
    audit::AuditDb db(path);
    for (int i = 1; i <= 4; ++i) db.Append(Row(i));
  }
  ASSERT_EQ(RawExec(path, "DROP TRIGGER decisions_no_delete; DELETE FROM decisions WHERE seq=2"), SQLITE_OK);
  audit::AuditDb db(path);
  const auto rep = db.VerifyChain();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_broken, 3) << rep.reason;
  EXPECT_NE(rep.reason.find("row 2 is missing"), std::string::npos) << rep.reason;
}

TEST(AuditLog, OperatorKeysAreStoredAsHashesOnly) {
  test::ScopedTempDir dir;
  const std::string key = test::AddOperator(dir.path(), "kiosk-7", 30);
  ASSERT_EQ(key.rfind("idm_", 0), 0u) << key;
  const std::string secret = key.substr(21);
  audit::AuditDb db(dir.File("audit.db"));
  const auto op = db.Authenticate(key);
  ASSERT_TRUE(op.has_value());
  EXPECT_EQ(op->name, "kiosk-7");
  EXPECT_EQ(op->rate_per_minute, 30);
  std::string wrong = key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(db.Authenticate(wrong).has_value());
  EXPECT_FALSE(db.Authenticate("").has_value());
  EXPECT_FALSE(db.Authenticate("Bearer nonsense").has_value());
  // The secret is nowhere in the data dir.
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    const std::string bytes = test::ReadString(e.path());
    EXPECT_EQ(bytes.find(secret), std::string::npos) << e.path();
  }
  // A second operator with the same name is refused.
  const test::ProcResult dup = test::RunIdmatch({"operator", "add", "kiosk-7", "--data-dir", dir.path()});
  EXPECT_EQ(dup.exit_code, 2);
  // Only the key and the database are in the data dir.
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.insert(e.path().filename());
  for (const auto& n : names) EXPECT_TRUE(n == "receipt-key.json" || n.rfind("audit.db", 0) == 0) << n;
}

}  // namespace
}  // namespace idm
