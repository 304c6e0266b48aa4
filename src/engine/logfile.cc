#include "engine/logfile.h"

#include "base/time.h"
#include "os/fs.h"

namespace bd::engine {
namespace {

void AppendRecord(std::string* out, const std::string& ts, Stream s, bool partial,
                  std::string_view text) {
  out->append(ts);
  out->append(s == Stream::kStdout ? " stdout " : " stderr ");
  out->append(partial ? "P " : "F ");
  out->append(text);
  out->push_back('\n');
}

}  // namespace

Status LogWriter::Write(Stream stream, std::string_view data, int64_t now) {
  std::string& pending = pending_[static_cast<int>(stream)];
  std::string ts = FormatRfc3339Nano(now);
  std::string out;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      pending.append(data);
      break;
    }
    pending.append(data.substr(0, nl));
    AppendRecord(&out, ts, stream, false, pending);
    pending.clear();
    data.remove_prefix(nl + 1);
  }
  while (pending.size() >= kMaxLine) {
    AppendRecord(&out, ts, stream, true, std::string_view(pending).substr(0, kMaxLine));
    pending.erase(0, kMaxLine);
  }
  return out.empty() ? Status() : os::WriteAll(fd_, out);
}

Status LogWriter::Flush(Stream stream, int64_t now) {
  std::string& pending = pending_[static_cast<int>(stream)];
  if (pending.empty()) return {};
  std::string out;
  AppendRecord(&out, FormatRfc3339Nano(now), stream, true, pending);
  pending.clear();
  return os::WriteAll(fd_, out);
}

bool ParseLogLine(std::string_view line, LogRecord* out) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return false;
  out->time = ParseRfc3339Nano(line.substr(0, sp1));
  if (out->time < 0) return false;
  std::string_view rest = line.substr(sp1 + 1);
  if (rest.substr(0, 7) == "stdout ") {
    out->stream = Stream::kStdout;
  } else if (rest.substr(0, 7) == "stderr ") {
    out->stream = Stream::kStderr;
  } else {
    return false;
  }
  rest.remove_prefix(7);
  if (rest.size() < 2 || (rest[0] != 'F' && rest[0] != 'P') || rest[1] != ' ') return false;
  out->partial = rest[0] == 'P';
  out->text = std::string(rest.substr(2));
  return true;
}

}  // namespace bd::engine
