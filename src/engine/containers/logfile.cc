#include "engine/containers/logfile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/strings.h"
#include "base/time.h"
#include "engine/containers/store.h"
#include "os/error.h"
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

Status ParseLogOpt(std::string_view opt, LogLimits* limits) {
  size_t eq = opt.find('=');
  std::string key(opt.substr(0, eq));
  std::string value(eq == std::string_view::npos ? "" : opt.substr(eq + 1));
  if (key == "max-size") {
    if (value == "-1") {
      limits->max_size = 0;
      return {};
    }
    auto bytes = ParseMemorySize(value);
    if (!bytes.ok() || *bytes <= 0) {
      return Status::InvalidArgument("invalid log-opt max-size \"" + value + "\": want a size such as 10m");
    }
    limits->max_size = *bytes;
    return {};
  }
  if (key == "max-file") {
    auto n = ParseInt(value);
    if (!n || *n < 1 || *n > 100) {
      return Status::InvalidArgument("invalid log-opt max-file \"" + value + "\": want 1 to 100");
    }
    limits->max_file = static_cast<int>(*n);
    return {};
  }
  return Status::InvalidArgument("unknown log-opt \"" + key + "\" (max-size and max-file are known)");
}

Result<LogWriter> LogWriter::Open(const std::string& path, LogLimits limits) {
  BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(path, O_WRONLY | O_CREAT | O_APPEND, 0640));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return os::ErrnoStatus("stat `" + path + "`");
  return LogWriter(path, std::move(fd), limits, st.st_size);
}

Status LogWriter::Rotate() {
  if (limits_.max_file <= 1) {
    if (::ftruncate(fd_.get(), 0) < 0) return os::ErrnoStatus("truncate `" + path_ + "`");
    size_ = 0;
    return {};
  }
  // PATH.N-2 -> PATH.N-1, ..., PATH -> PATH.1: the oldest falls off the end.
  for (int i = limits_.max_file - 1; i >= 1; --i) {
    std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
    std::string to = path_ + "." + std::to_string(i);
    if (::rename(from.c_str(), to.c_str()) < 0 && errno != ENOENT) {
      return os::ErrnoStatus("rotate `" + from + "`");
    }
  }
  BD_ASSIGN_OR_RETURN(fd_, os::Open(path_, O_WRONLY | O_CREAT | O_APPEND, 0640));
  size_ = 0;
  return {};
}

Status LogWriter::Append(const std::string& out) {
  if (!fd_) return Status::FailedPrecondition("log closed");
  std::string_view rest(out);
  while (!rest.empty()) {
    // As many whole records as fit in this file (at least one, into an empty file).
    size_t take = rest.size();
    if (limits_.max_size > 0 && size_ + static_cast<int64_t>(rest.size()) > limits_.max_size) {
      size_t room = static_cast<size_t>(std::max<int64_t>(0, limits_.max_size - size_));
      size_t cut = room == 0 ? std::string_view::npos : rest.substr(0, room).rfind('\n');
      if (cut == std::string_view::npos) {
        if (size_ > 0) {
          BD_RETURN_IF_ERROR(Rotate());
          continue;
        }
        cut = rest.find('\n');  // one record larger than the limit: it gets a file of its own
      }
      take = cut + 1;
    }
    BD_RETURN_IF_ERROR(os::WriteAll(fd_.get(), rest.substr(0, take)));
    size_ += static_cast<int64_t>(take);
    rest.remove_prefix(take);
  }
  return {};
}

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
  return Append(out);
}

Status LogWriter::Flush(Stream stream, int64_t now) {
  std::string& pending = pending_[static_cast<int>(stream)];
  if (pending.empty()) return {};
  std::string out;
  AppendRecord(&out, FormatRfc3339Nano(now), stream, true, pending);
  pending.clear();
  return Append(out);
}

std::vector<std::string> LogFiles(const std::string& path) {
  std::vector<std::string> out;
  for (int i = 1; i <= 100 && os::Exists(path + "." + std::to_string(i)); ++i) {
    out.insert(out.begin(), path + "." + std::to_string(i));
  }
  if (os::Exists(path)) out.push_back(path);
  return out;
}

namespace {

constexpr size_t kChunk = 64 * 1024;

// True when the record line `line` (without '\n') closes a line: its flag is F.
bool ClosesLine(std::string_view line) {
  size_t sp = line.find(' ');
  return sp != std::string_view::npos && line.size() > sp + 8 && line[sp + 8] == 'F';
}

}  // namespace

Result<LogPosition> TailStart(const std::vector<std::string>& files, int64_t lines) {
  if (lines < 0) return LogPosition{};
  int64_t closed = 0;  // F records seen, counting from the end
  for (size_t f = files.size(); f-- > 0;) {
    auto fd = os::Open(files[f], O_RDONLY);
    if (!fd.ok()) {
      if (fd.status().code() == Code::kNotFound) continue;  // rotated away meanwhile
      return fd.status();
    }
    struct stat st;
    if (::fstat(fd->get(), &st) < 0) return os::ErrnoStatus("stat `" + files[f] + "`");
    // `buf` holds the bytes [buf_begin, buf_begin + size) not yet examined, read backwards
    // chunk by chunk: never more than a chunk and a record.
    std::string buf;
    int64_t buf_begin = st.st_size;
    auto newline_before = [&](int64_t pos) -> Result<int64_t> {  // -1: none
      while (true) {
        if (pos > buf_begin) {
          size_t p = std::string_view(buf).substr(0, static_cast<size_t>(pos - buf_begin)).rfind('\n');
          if (p != std::string_view::npos) return buf_begin + static_cast<int64_t>(p);
        }
        if (buf_begin == 0) return -1;
        int64_t from = std::max<int64_t>(0, buf_begin - static_cast<int64_t>(kChunk));
        std::string chunk(static_cast<size_t>(buf_begin - from), '\0');
        ssize_t n = os::RetryEintr([&] { return ::pread(fd->get(), chunk.data(), chunk.size(), from); });
        if (n != static_cast<ssize_t>(chunk.size())) return os::ErrnoStatus("read `" + files[f] + "`");
        buf.insert(0, chunk);
        buf_begin = from;
      }
    };
    for (int64_t end = st.st_size; end > 0;) {
      BD_ASSIGN_OR_RETURN(int64_t nl, newline_before(end - 1));  // the record's own '\n' is at end-1
      int64_t start = nl + 1;
      std::string_view record(buf.data() + (start - buf_begin), static_cast<size_t>(end - start));
      if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
      if (ClosesLine(record) && closed++ == lines) return LogPosition{f, end};
      buf.resize(static_cast<size_t>(start - buf_begin));
      end = start;
    }
  }
  return LogPosition{};
}

Status LogReader::Drain(int fd, const Emit& emit) {
  char buf[kChunk];
  while (true) {
    ssize_t n = os::RetryEintr([&] { return ::read(fd, buf, sizeof buf); });
    if (n < 0) return os::ErrnoStatus("read the log");
    if (n == 0) return {};
    carry_.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = carry_.find('\n', start)) != std::string::npos; start = nl + 1) {
      LogRecord r;
      if (ParseLogLine(std::string_view(carry_).substr(start, nl - start), &r)) {
        BD_RETURN_IF_ERROR(emit(r));
      }
    }
    carry_.erase(0, start);
  }
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
