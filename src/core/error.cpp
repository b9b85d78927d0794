#include "core/error.h"

namespace idm {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kImageDecode: return "image_decode";
    case ErrorCode::kImageTooLarge: return "image_too_large";
    case ErrorCode::kNoFace: return "no_face";
    case ErrorCode::kModelFormat: return "model_format";
    case ErrorCode::kUnsupportedOp: return "unsupported_op";
    case ErrorCode::kRuntime: return "runtime";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace idm
