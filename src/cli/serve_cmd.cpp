// Placeholder until the service (issue 5) lands: the command exists and says so (exit code 2).
#include "cli/commands.h"
#include "core/error.h"

namespace idm::cli {

int ServeCommand(int, char**) { throw Error(ErrorCode::kInvalidArgument, "this command is not implemented yet"); }
int OperatorCommand(int, char**) { throw Error(ErrorCode::kInvalidArgument, "this command is not implemented yet"); }
int ReceiptCommand(int, char**) { throw Error(ErrorCode::kInvalidArgument, "this command is not implemented yet"); }
int AuditCommand(int, char**) { throw Error(ErrorCode::kInvalidArgument, "this command is not implemented yet"); }

}  // namespace idm::cli
