#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/strings.h"
#include "engine/containers/logfile.h"
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
  auto opened = LogWriter::Open(path, {});
  ASSERT_TRUE(opened.ok());
  LogWriter& w = *opened;
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

// Reads the last `tail` lines (-1: all) of the log at `path` the way `logs` does.
std::string ReadTail(const std::string& path, int64_t tail) {
  std::vector<std::string> files = LogFiles(path);
  auto start = TailStart(files, tail);
  EXPECT_TRUE(start.ok());
  std::string out;
  LogReader reader;
  for (size_t f = start->file; f < files.size(); ++f) {
    auto fd = os::Open(files[f], O_RDONLY);
    EXPECT_TRUE(fd.ok());
    if (f == start->file) ::lseek(fd->get(), start->offset, SEEK_SET);
    EXPECT_TRUE(reader.Drain(fd->get(), [&](const LogRecord& r) {
      out += r.text + (r.partial ? "" : "\n");
      return Status();
    }).ok());
  }
  return out;
}

TEST(LogFileTest, RotatesAtMaxSizeKeepingMaxFilesAndWholeRecords) {
  auto tmp = os::TempDir::Create("/tmp", "bd-log-");
  ASSERT_TRUE(tmp.ok());
  std::string path = tmp->path() + "/ctr.log";
  auto w = LogWriter::Open(path, {1000, 3});
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(w->Write(Stream::kStdout, "line " + std::to_string(i) + "\n", 1).ok());
  std::vector<std::string> files = LogFiles(path);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_FALSE(os::Exists(path + ".3"));
  for (const std::string& f : files) {
    std::string text = *os::ReadFile(f);
    EXPECT_LE(text.size(), 1000u);
    EXPECT_EQ(text.back(), '\n');  // records never split across files
  }
  // What is kept ends with the newest lines, in order.
  std::string all = ReadTail(path, -1);
  EXPECT_EQ(all.substr(all.size() - 18), "line 198\nline 199\n");
  EXPECT_EQ(ReadTail(path, 2), "line 198\nline 199\n");
  EXPECT_EQ(ReadTail(path, 0), "");
}

TEST(LogFileTest, TailReadsBackwardsAcrossFilesAndPartialLines) {
  auto tmp = os::TempDir::Create("/tmp", "bd-log-");
  ASSERT_TRUE(tmp.ok());
  std::string path = tmp->path() + "/ctr.log";
  {
    auto w = LogWriter::Open(path, {300, 4});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Write(Stream::kStdout, "first\n", 1).ok());
    // A line longer than kMaxLine spans several P records and one F record.
    std::string big(LogWriter::kMaxLine * 2 + 5, 'b');
    ASSERT_TRUE(w->Write(Stream::kStdout, big + "\nlast\nunfinished", 2).ok());
    EXPECT_EQ(ReadTail(path, 1), "last\n");  // the partial one is not written yet
    ASSERT_TRUE(w->Flush(Stream::kStdout, 3).ok());
    EXPECT_EQ(ReadTail(path, 1), "last\nunfinished");
    EXPECT_EQ(ReadTail(path, 2), big + "\nlast\nunfinished");
    EXPECT_EQ(ReadTail(path, 100), "first\n" + big + "\nlast\nunfinished");
  }
  EXPECT_EQ(ReadTail(tmp->path() + "/none.log", 5), "");
}

TEST(LogFileTest, LogOptsParseAsDockersDo) {
  LogLimits l;
  EXPECT_TRUE(ParseLogOpt("max-size=10m", &l).ok());
  EXPECT_EQ(l.max_size, 10 << 20);
  EXPECT_TRUE(ParseLogOpt("max-file=3", &l).ok());
  EXPECT_EQ(l.max_file, 3);
  EXPECT_TRUE(ParseLogOpt("max-size=-1", &l).ok());
  EXPECT_EQ(l.max_size, 0);
  EXPECT_FALSE(ParseLogOpt("max-size=lots", &l).ok());
  EXPECT_FALSE(ParseLogOpt("max-file=0", &l).ok());
  EXPECT_FALSE(ParseLogOpt("compress=true", &l).ok());
}

}  // namespace
}  // namespace bd::engine
