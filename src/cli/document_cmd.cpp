// Placeholder until the document module (issue 3) lands: the command exists and says so (exit code 2).
#include "cli/commands.h"
#include "core/error.h"

namespace idm::cli {

int DocumentCommand(int, char**) { throw Error(ErrorCode::kInvalidArgument, "this command is not implemented yet"); }

}  // namespace idm::cli
