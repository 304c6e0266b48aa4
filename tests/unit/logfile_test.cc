#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/strings.h"
#include "engine/logfile.h"
#include "os/fs.h"

namespace bd::engine {
namespace {

// Rebuilds each stream's bytes from the log text.
std::pair<std::string, std::string> Replay(const std::string& log) {
  std::string out, err;
  for (const std::string& line : Split(log, '\n')) {
    if (line.empty()) continue;
    LogRecord r;
    EXPECT_TRUE(ParseLogLine(line, &r)) << line;
    std::string& s = r.stream == Stream::kStdout ? out : err;
    s += r.text;
    if (!r.partial) s += "\n";
  }
  return {out, err};
}

TEST(LogFileTest, KeepsStreamsApartAndBytesExact) {
  auto tmp = os::TempDir::Create("/tmp", "bd-log-");
  ASSERT_TRUE(tmp.ok());
  std::string path = tmp->path() + "/ctr.log";
  auto fd = os::Open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  ASSERT_TRUE(fd.ok());
  LogWriter w(fd->get());
  int64_t t = 1795000000000000000;
  ASSERT_TRUE(w.Write(Stream::kStdout, "one\ntw", t).ok());
  ASSERT_TRUE(w.Write(Stream::kStderr, "oops\n", t + 1).ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, "o\nthree", t + 2).ok());
  std::string big(LogWriter::kMaxLine + 10, 'x');
  ASSERT_TRUE(w.Write(Stream::kStderr, big, t + 3).ok());
  ASSERT_TRUE(w.Flush(Stream::kStdout, t + 4).ok());
  ASSERT_TRUE(w.Flush(Stream::kStderr, t + 4).ok());
  auto [out, err] = Replay(*os::ReadFile(path));
  EXPECT_EQ(out, "one\ntwo\nthree");
  EXPECT_EQ(err, "oops\n" + big);
}

TEST(LogFileTest, ParsesTheCriFormatAndRejectsJunk) {
  LogRecord r;
  ASSERT_TRUE(ParseLogLine("2026-11-22T10:00:00.000000001Z stderr F hello world", &r));
  EXPECT_EQ(r.stream, Stream::kStderr);
  EXPECT_FALSE(r.partial);
  EXPECT_EQ(r.text, "hello world");
  EXPECT_EQ(r.time % 1000, 1);
  EXPECT_TRUE(ParseLogLine("2026-11-22T10:00:00Z stdout P ", &r));
  EXPECT_TRUE(r.partial);
  EXPECT_EQ(r.text, "");
  EXPECT_FALSE(ParseLogLine("garbage", &r));
  EXPECT_FALSE(ParseLogLine("2026-11-22T10:00:00Z stdin F x", &r));
  EXPECT_FALSE(ParseLogLine("2026-11-22T10:00:00Z stdout X x", &r));
}

}  // namespace
}  // namespace bd::engine
