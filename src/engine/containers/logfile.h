// The container log: one line per record in the CRI format
//   2026-11-22T10:00:00.123456789Z stdout F text
// where F means the text was followed by a newline and P means it was not (a long or final
// partial line). Streams stay apart and the exact bytes can be rebuilt. The log is capped and
// rotated as Docker's json-file driver does: PATH, then PATH.1 (older) ... PATH.N-1. LogWriter
// is used by one shim thread; readers work in bounded memory whatever the log's size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace bd::engine {

enum class Stream { kStdout, kStderr };

struct LogRecord {
  int64_t time = 0;
  Stream stream = Stream::kStdout;
  bool partial = false;
  std::string text;
};

// --log-opt max-size / max-file. Docker's `local` driver defaults: 20 MB in 5 files.
struct LogLimits {
  int64_t max_size = 20 * 1000 * 1000;  // bytes per file; 0: unlimited (one file)
  int max_file = 5;                      // files kept, the current one included
};
// Parses --log-opt KEY=VALUE pairs (max-size=10m, max-file=3) over `limits`.
Status ParseLogOpt(std::string_view opt, LogLimits* limits);

class LogWriter {
 public:
  // Appends to `path` (created 0640), rotating it at `limits`.
  static Result<LogWriter> Open(const std::string& path, LogLimits limits);
  // Appends `data` read from `stream` at `now`; complete lines are written at once. A record
  // is never split across files.
  Status Write(Stream stream, std::string_view data, int64_t now);
  // Writes any partial line still buffered for `stream` (at EOF).
  Status Flush(Stream stream, int64_t now);
  void Close() { fd_.Reset(); }

  static constexpr size_t kMaxLine = 16 * 1024;

 private:
  LogWriter(std::string path, UniqueFd fd, LogLimits limits, int64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), limits_(limits), size_(size) {}
  Status Append(const std::string& out);
  Status Rotate();
  std::string path_;
  UniqueFd fd_;
  LogLimits limits_;
  int64_t size_;
  std::string pending_[2];
};

// The files of the log at `path` that exist, oldest first: PATH.N-1 ... PATH.1, PATH.
std::vector<std::string> LogFiles(const std::string& path);

// Where the last `lines` lines of `files` begin (a line: its P records and the F record
// closing it), found by reading backwards from the end.
struct LogPosition {
  size_t file = 0;
  int64_t offset = 0;
};
Result<LogPosition> TailStart(const std::vector<std::string>& files, int64_t lines);

// Reads records from a log file in fixed-size chunks, carrying a partial line between calls.
class LogReader {
 public:
  using Emit = std::function<Status(const LogRecord&)>;
  // Reads `fd` from its offset to its end, emitting every complete record.
  Status Drain(int fd, const Emit& emit);

 private:
  std::string carry_;
};

// Parses one line (without its '\n'). False for a malformed line.
bool ParseLogLine(std::string_view line, LogRecord* out);

}  // namespace bd::engine
