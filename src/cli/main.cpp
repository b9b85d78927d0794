// idmatch command line. Exit codes: 0 match / success, 1 no match, 2 error.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "core/secure_memory.h"

namespace {

const char* kUsage =
    "usage: idmatch <command> [options]\n"
    "  verify --reference A.jpg --probe B.jpg [--json] [--embedder resnet128|resnet128-lm68|faceres|...]\n"
    "  verify --document card.jpg --probe selfie.jpg [--json]   the card's printed portrait as reference\n"
    "  document card.jpg [--json]   type, capture problems, MRZ (masked), portrait box\n"
    "  liveness --video clip.mp4 | --frames DIR --challenge blink,turn-left [--json]\n"
    "  liveness --image face.jpg [--json]   single-frame passive presentation-attack check\n"
    "  eval   --pairs pairs.csv | --labels labels.csv [--roc roc.svg] [--calibrate] [--limit N] [--json]\n"
    "  models                       list the models and their SHA-256\n"
    "  serve  [--listen 127.0.0.1:8080] [--data-dir ./idmatch-data] [--tls-cert C --tls-key K]\n"
    "         [--workers N] [--queue N] [--threads N] [--session-ttl S] [--read-timeout S]\n"
    "         [--liveness required|off] [--challenge ACTIONS] [--demo]\n"
    "  operator add NAME [--rate PER_MINUTE] [--data-dir DIR]   prints a new API key (last line)\n"
    "  receipt verify TOKEN|--file F|- [--jwks JWKS.json | --data-dir DIR] [--json]\n"
    "  audit verify [--data-dir DIR] [--json]\n";

bool WantsJson(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) return true;
  }
  return false;
}

// Tesseract (the MRZ reader's first pass) spreads tiny inner loops over OpenMP threads: on a card
// that is slower than one thread (1.33 vs 0.93 s per card with its MRZ read), and with several
// analysis workers the spinning threads take the cores the others need. libgomp reads
// OMP_THREAD_LIMIT when it is loaded, before main (hence a re-execution); a value the operator
// set is kept. True when the variable was set here.
bool AskForOneOpenMpThread() {
  if (std::getenv("OMP_THREAD_LIMIT") != nullptr) return false;
  ::setenv("OMP_THREAD_LIMIT", "1", 1);
  return true;
}

// One re-execution for every setting that is read at process start.
void Reexec(char** argv) {
  ::execv("/proc/self/exe", argv);
  std::fprintf(
      stderr,
      "idmatch: warning: could not re-execute with OMP_THREAD_LIMIT=1 (and, for serve, the wiping malloc): %s\n",
      std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  idm::DisableCoreDumps();  // this process holds face images: never dump them to disk
  bool reexec = AskForOneOpenMpThread();
  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) reexec |= idm::cli::AskForWipingMalloc();
  if (reexec) Reexec(argv);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    idm::InstallSecureAllocators();
    if (cmd == "verify") return idm::cli::VerifyCommand(argc, argv);
    if (cmd == "eval") return idm::cli::EvalCommand(argc, argv);
    if (cmd == "models") return idm::cli::ModelsCommand(argc, argv);
    if (cmd == "document") return idm::cli::DocumentCommand(argc, argv);
    if (cmd == "liveness") return idm::cli::LivenessCommand(argc, argv);
    if (cmd == "serve") return idm::cli::ServeCommand(argc, argv);
    if (cmd == "operator") return idm::cli::OperatorCommand(argc, argv);
    if (cmd == "receipt") return idm::cli::ReceiptCommand(argc, argv);
    if (cmd == "audit") return idm::cli::AuditCommand(argc, argv);
    throw idm::Error(idm::ErrorCode::kInvalidArgument, "unknown command '" + cmd + "'\n" + kUsage);
  } catch (const idm::Error& e) {
    if (WantsJson(argc, argv)) {
      nlohmann::json j = {{"error", {{"code", e.code_name()}, {"message", e.what()}}}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::fprintf(stderr, "idmatch: error (%s): %s\n", e.code_name(), e.what());
    }
    return 2;
  } catch (const std::exception& e) {
    if (WantsJson(argc, argv)) {
      nlohmann::json j = {{"error", {{"code", "internal"}, {"message", e.what()}}}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::fprintf(stderr, "idmatch: internal error: %s\n", e.what());
    }
    return 2;
  }
}
