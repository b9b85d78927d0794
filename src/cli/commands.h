#pragma once

namespace idm::cli {
// Each returns the process exit code. They throw idm::Error on failure (main reports it).
int VerifyCommand(int argc, char** argv);
int EvalCommand(int argc, char** argv);
int ModelsCommand(int argc, char** argv);
}  // namespace idm::cli
