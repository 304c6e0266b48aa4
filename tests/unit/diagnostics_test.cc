// Diagnostics over a temporary data root: an operation from Begin to Finish, its log,
// percentiles, queries by kind, element and time, abandoned and interrupted operations, torn
// lines, and rotation of the file.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "engine/diagnostics.h"
#include "os/fs.h"

namespace bd::engine {
namespace {

class DiagnosticsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-diag-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
    log_ = OperationLog::Of(dir_->path());
  }
  // An operation that took `nanos`, ended with `code` ("" for success), as its process writes it.
  void Record(const char* component, const char* op, const std::string& target, int64_t nanos,
              const std::string& code = "") {
    std::string id = std::to_string(1'000'000'000'000 + next_id_++);
    int64_t end = NowNanos();
    log_->Append(nlohmann::json({{"t", "begin"}, {"id", id}, {"component", component}, {"op", op},
                                 {"target", target}, {"pid", ::getpid()}, {"pid_start", 0}, {"time", end - nanos}})
                     .dump());
    nlohmann::json e = {{"t", "end"}, {"id", id}, {"time", end}, {"outcome", code.empty() ? "ok" : "error"}};
    if (!code.empty()) e["code"] = code;
    log_->Append(e.dump());
  }
  std::unique_ptr<os::TempDir> dir_;
  OperationLog* log_ = nullptr;
  int next_id_ = 0;
};

TEST_F(DiagnosticsStoreTest, AnOperationIsInProgressUntilItFinishes) {
  Diagnostics diag(log_);
  {
    Operation o = Operation::Begin(log_, "image", "import", "app:1");
    ASSERT_EQ(o.id().size(), 12u);
    o.Log("unpacked layer");
    auto running = diag.InProgress({});
    ASSERT_TRUE(running.ok());
    ASSERT_EQ(running->size(), 1u);
    EXPECT_EQ((*running)[0].target, "app:1");
    EXPECT_EQ((*running)[0].pid, ::getpid());
    EXPECT_EQ((*running)[0].log, "");  // a quick operation's steps go with its end
    ::usleep(kLogHoldNanos / 1000 + 10'000);
    o.Log("registered");  // a longer one's at once, every step so far
    running = diag.InProgress({});
    EXPECT_NE((*running)[0].log.find(" unpacked layer\n"), std::string::npos) << (*running)[0].log;
    EXPECT_NE((*running)[0].log.find(" registered\n"), std::string::npos) << (*running)[0].log;
    o.SetTarget("sha256:abc");
    EXPECT_EQ(diag.InProgress({})->front().target, "sha256:abc");
    Status st = o.Finish(Status::InvalidArgument("bad layer"));
    EXPECT_EQ(st.code(), Code::kInvalidArgument);  // passed through
  }
  EXPECT_TRUE(diag.InProgress({})->empty());
  auto errors = diag.Errors({});
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].error_code, "invalid_argument");
  EXPECT_EQ((*errors)[0].error_message, "bad layer");
  EXPECT_GE((*errors)[0].finished_at, (*errors)[0].started_at);
  {
    Operation quick = Operation::Begin(log_, "image", "rm", "app:1");
    std::string id = quick.id();
    quick.Log("untagged");
    (void)quick.Finish(Status());
    EXPECT_NE(diag.Get(id)->log.find(" untagged\n"), std::string::npos);
    EXPECT_EQ(diag.Get(id.substr(0, 6))->id, id);  // a unique prefix will do
    EXPECT_EQ(diag.Get("zz").status().code(), Code::kNotFound);
    EXPECT_EQ(diag.Get("").status().code(), Code::kInvalidArgument);
  }
  // Dropped unfinished: recorded as failed, never left "in progress".
  { Operation o = Operation::Begin(log_, "volume", "create", "v"); }
  EXPECT_TRUE(diag.InProgress({})->empty());
  EXPECT_EQ(diag.Errors({})->front().error_message, "abandoned");
  // Other host users cannot read what the operations were.
  struct stat st;
  ASSERT_EQ(::stat(log_->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DiagnosticsStoreTest, StatisticsArePerOperationWithPercentiles) {
  for (int i = 1; i <= 100; ++i) Record("container", "start", "c", i * 1'000'000);
  Record("container", "exec", "c", 5'000'000, "not_found");
  Record("image", "rm", "x", 1'000'000);
  Diagnostics diag(log_);
  auto stats = diag.Stats({});
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 3u);
  const OperationStats* start = nullptr;
  for (const OperationStats& s : *stats) {
    if (s.op == "start") start = &s;
  }
  ASSERT_NE(start, nullptr);
  EXPECT_EQ(start->count, 100);
  EXPECT_EQ(start->errors, 0);
  EXPECT_EQ(start->p50_nanos, 50'000'000);  // nearest rank over 1..100 ms
  EXPECT_EQ(start->p99_nanos, 99'000'000);
  EXPECT_EQ(start->max_nanos, 100'000'000);
  EXPECT_EQ(stats->front().component, "container");  // components in display order
  DiagnosticsQuery only_images;
  only_images.component = "image";
  EXPECT_EQ(diag.Stats(only_images)->size(), 1u);
  DiagnosticsQuery kind;
  kind.error_kind = "not found";  // as CodeName spells it, or not_found
  EXPECT_EQ(diag.Errors(kind)->size(), 1u);
  kind.error_kind = "internal";
  EXPECT_TRUE(diag.Errors(kind)->empty());
  DiagnosticsQuery target;
  target.target = "x";
  EXPECT_EQ(diag.Stats(target)->size(), 1u);
  // One reading for all three sections gives what the three calls give.
  auto summary = diag.Summary(kind, 10);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->stats.size(), diag.Stats(kind)->size());  // statistics ignore the kind
  EXPECT_EQ(summary->stats.size(), 3u);
  EXPECT_TRUE(summary->errors.empty());  // no internal errors
  EXPECT_TRUE(summary->in_progress.empty());
  kind.error_kind = "not_found";
  EXPECT_EQ(diag.Summary(kind, 10)->errors.size(), 1u);
  EXPECT_TRUE(diag.Summary(kind, 0)->errors.empty());  // the limit
  DiagnosticsQuery future;
  future.since = NowNanos() + 3'600'000'000'000;
  EXPECT_TRUE(diag.Errors(future)->empty());
  EXPECT_TRUE(diag.Stats(future)->empty());
}

TEST_F(DiagnosticsStoreTest, AnOperationOfAProcessThatDiedIsInterrupted) {
  pid_t child = ::fork();
  if (child == 0) {
    // A file descriptor of its own (never the parent's across fork): another spelling of the root.
    Operation o = Operation::Begin(OperationLog::Of(dir_->path() + "/."), "capsule", "attach", "cfg:1.0 on web");
    ::_exit(o.id().empty() ? 1 : 0);  // dies with the operation unfinished
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  Diagnostics diag(log_);
  EXPECT_TRUE(diag.InProgress({})->empty());  // its process is gone: not in progress
  auto errors = diag.Errors({});
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].outcome, "interrupted");
  EXPECT_EQ((*errors)[0].error_code, "interrupted");
  EXPECT_EQ((*errors)[0].target, "cfg:1.0 on web");
  DiagnosticsQuery kind;
  kind.error_kind = "interrupted";
  EXPECT_EQ(diag.Errors(kind)->size(), 1u);
  EXPECT_TRUE(diag.Stats({})->empty());  // no latency for what never finished
}

TEST_F(DiagnosticsStoreTest, TornAndForeignLinesAreSkipped) {
  Record("gc", "collect", "all", 1000);
  log_->Append(R"({"t":"end","id":"nobegin","time":1})");  // its begin rotated away
  log_->Append("not json \xff");
  log_->Append(R"({"t":"begin","id":7})");  // an id that is not a string
  log_->Append(R"({"t":"begin","id":"torn","compo)");  // power lost mid-line
  Diagnostics diag(log_);
  auto stats = diag.Stats({});
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ(stats->front().count, 1);
  EXPECT_TRUE(diag.InProgress({})->empty());
}

TEST_F(DiagnosticsStoreTest, TheFileIsRotatedSoOnlyTheNewestRecordsAreKept) {
  const std::string target(200, 't');
  int64_t written = 0;
  while (written < 3 * kRotateBytes) {
    (void)Operation::Begin(log_, "gc", "collect", target).Finish(Status());
    written += 2 * 300;
  }
  struct stat cur, old;
  ASSERT_EQ(::stat(log_->path().c_str(), &cur), 0);
  ASSERT_EQ(::stat((log_->path() + ".1").c_str(), &old), 0);
  EXPECT_LE(cur.st_size, kRotateBytes + 4096);
  EXPECT_LE(old.st_size, kRotateBytes + 4096);
  EXPECT_GE(old.st_size, kRotateBytes);
  // The newest are readable, across both files.
  auto stats = Diagnostics(log_).Stats({});
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_GT(stats->front().count, 1000);
}

}  // namespace
}  // namespace bd::engine
