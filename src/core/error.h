// One error type for the whole engine: a stable machine code plus a human message.
// The CLI maps it to exit code 2 and {"error": {"code", "message"}}; the server to a 4xx/5xx.
#pragma once

#include <stdexcept>
#include <string>

namespace idm {

enum class ErrorCode {
  kInvalidArgument,   // caller passed something malformed
  kNotFound,          // a file or resource is missing
  kImageDecode,       // bytes are not a decodable image (truncated, corrupt, not an image)
  kImageTooLarge,     // over the byte or pixel limit
  kNoFace,            // no face found where one was required
  kModelFormat,       // model.json / weights manifest malformed
  kUnsupportedOp,     // the graph uses an op the runtime does not implement
  kRuntime,           // XNNPACK or another backend failed
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }
  const char* code_name() const { return ErrorCodeName(code_); }

 private:
  ErrorCode code_;
};

}  // namespace idm
