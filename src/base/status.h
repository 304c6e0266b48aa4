// Status and Result<T>: errors as values.
// A Status is a code from a small closed set plus a message; OK carries no message and costs
// nothing to return. Result<T> holds either a T or a non-OK Status. Both are plain values:
// copy and move them freely; they are not shared between threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace bd {

// The kinds of failure callers need to tell apart. The edges turn them into what their clients
// expect: the CLI into exit codes (ExitCodeOf in cli/cli.h: 1, or Docker's 125 / 126 / 127), an API
// server into HTTP statuses (HttpStatusOf).
enum class Code : unsigned char {
  kOk = 0,
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kFailedPrecondition,  // the request conflicts with the current state
  kPermissionDenied,
  kUnavailable,  // a dependency (kernel feature, process, plugin) is not there right now
  kInternal,
  kConflict,          // another writer changed the element since it was read
  kNotSupported,      // a feature this build or this host does not have
  kDeadlineExceeded,  // a step (hook, plugin, registry) did not finish in its time
};

std::string_view CodeName(Code code);
// The HTTP status a Docker-compatible API answers a failure of this kind with (200 for kOk).
int HttpStatusOf(Code code);

// When a container's command is why an operation failed: it was not found (Docker's exit code
// 127) or was found and could not be run (126). kNone: the engine itself failed.
enum class CommandFailure : unsigned char { kNone, kNotFound, kCannotRun };

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status FailedPrecondition(std::string msg) {
    return {Code::kFailedPrecondition, std::move(msg)};
  }
  static Status PermissionDenied(std::string msg) {
    return {Code::kPermissionDenied, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status NotSupported(std::string msg) { return {Code::kNotSupported, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {Code::kDeadlineExceeded, std::move(msg)}; }
  // A status of `code` (an error code; kOk gives OK) with `msg`.
  static Status FromCode(Code code, std::string msg) {
    return code == Code::kOk ? Status() : Status(code, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  CommandFailure command_failure() const { return command_failure_; }

  // This status, marked as the failure of a container's command (OK stays OK).
  Status WithCommandFailure(CommandFailure f) const {
    Status s = *this;
    if (!s.ok()) s.command_failure_ = f;
    return s;
  }

  // Returns this status with "context: " put before the message; OK stays OK.
  Status WithContext(std::string_view context) const;

  std::string ToString() const;

  bool operator==(const Status& other) const = default;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  CommandFailure command_failure_ = CommandFailure::kNone;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<1>, std::move(value)) {}  // NOLINT: implicit
  Result(Status status) : v_(std::in_place_index<0>, std::move(status)) {  // NOLINT: implicit
    assert(!std::get<0>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return v_.index() == 1; }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<0>(v_);
  }

  T& value() & { return std::get<1>(v_); }
  const T& value() const& { return std::get<1>(v_); }
  T&& value() && { return std::get<1>(std::move(v_)); }
  // The value, or `fallback` when this holds an error.
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }
  T value_or(T fallback) && { return ok() ? std::move(value()) : std::move(fallback); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace bd

#define BD_CONCAT_INNER_(a, b) a##b
#define BD_CONCAT_(a, b) BD_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define BD_RETURN_IF_ERROR(expr)                \
  do {                                          \
    ::bd::Status bd_status_ = (expr);           \
    if (!bd_status_.ok()) return bd_status_;    \
  } while (0)

// `lhs = value of expr`, or returns its status from the enclosing function.
#define BD_ASSIGN_OR_RETURN(lhs, expr) BD_ASSIGN_OR_RETURN_IMPL_(BD_CONCAT_(bd_res_, __LINE__), lhs, expr)
#define BD_ASSIGN_OR_RETURN_IMPL_(res, lhs, expr) \
  auto res = (expr);                              \
  if (!res.ok()) return res.status();             \
  lhs = std::move(res).value()
