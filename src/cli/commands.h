#pragma once

namespace idm::cli {
// Each returns the process exit code. They throw idm::Error on failure (main reports it).
int VerifyCommand(int argc, char** argv);
int EvalCommand(int argc, char** argv);
int ModelsCommand(int argc, char** argv);
int DocumentCommand(int argc, char** argv);   // cli/document_cmd.cpp
int LivenessCommand(int argc, char** argv);   // cli/liveness_cmd.cpp
int ServeCommand(int argc, char** argv);      // cli/serve_cmd.cpp
// Sets the malloc tunables serve needs (read at process start); true when main must re-execute.
bool AskForWipingMalloc();                    // cli/serve_cmd.cpp
int OperatorCommand(int argc, char** argv);   // cli/serve_cmd.cpp
int ReceiptCommand(int argc, char** argv);    // cli/serve_cmd.cpp
int AuditCommand(int argc, char** argv);      // cli/serve_cmd.cpp
}  // namespace idm::cli
