// The container log: one line per record in the CRI format
//   2026-11-22T10:00:00.123456789Z stdout F text
// where F means the text was followed by a newline and P means it was not (a long or final
// partial line). Streams stay apart and the exact bytes can be rebuilt. LogWriter is used by
// one shim thread; the readers are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::engine {

enum class Stream { kStdout, kStderr };

struct LogRecord {
  int64_t time = 0;
  Stream stream = Stream::kStdout;
  bool partial = false;
  std::string text;
};

class LogWriter {
 public:
  explicit LogWriter(int fd) : fd_(fd) {}
  // Appends `data` read from `stream` at `now`; complete lines are written at once.
  Status Write(Stream stream, std::string_view data, int64_t now);
  // Writes any partial line still buffered for `stream` (at EOF).
  Status Flush(Stream stream, int64_t now);

  static constexpr size_t kMaxLine = 16 * 1024;

 private:
  int fd_;
  std::string pending_[2];
};

// Parses one line (without its '\n'). False for a malformed line.
bool ParseLogLine(std::string_view line, LogRecord* out);

}  // namespace bd::engine
