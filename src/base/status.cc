#include "base/status.h"

namespace bd {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kFailedPrecondition: return "failed precondition";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kUnavailable: return "unavailable";
    case Code::kInternal: return "internal error";
    case Code::kConflict: return "changed by another writer";
    case Code::kNotSupported: return "not supported";
    case Code::kDeadlineExceeded: return "deadline exceeded";
  }
  return "unknown";
}

int HttpStatusOf(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:  // e.g. removing a running container: Docker's 409
    case Code::kConflict: return 409;
    case Code::kInvalidArgument: return 400;
    case Code::kPermissionDenied: return 403;
    case Code::kUnavailable: return 503;
    case Code::kNotSupported: return 501;
    case Code::kDeadlineExceeded: return 504;
    case Code::kInternal: return 500;
  }
  return 500;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg;
  msg.reserve(context.size() + 2 + message_.size());
  msg.append(context).append(": ").append(message_);
  Status out(code_, std::move(msg));
  out.command_failure_ = command_failure_;
  return out;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return message_.empty() ? std::string(CodeName(code_)) : message_;
}

}  // namespace bd
