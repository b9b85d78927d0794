// Placeholder until the liveness module (issue 4) lands: the command exists and says so (exit code 2).
#include "cli/commands.h"
#include "core/error.h"

namespace idm::cli {

int LivenessCommand(int, char**) { throw Error(ErrorCode::kInvalidArgument, "this command is not implemented yet"); }

}  // namespace idm::cli
