// Diagnostics over a temporary database: an operation's row from Begin to Finish, its log,
// percentiles, queries by kind, element and time, abandoned and interrupted operations, and
// the bound on kept rows.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/time.h"
#include "engine/diagnostics.h"
#include "engine/schema.h"
#include "os/fs.h"
#include "store/db.h"

namespace bd::engine {
namespace {

class DiagnosticsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-diag-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
    auto db = store::Db::Open(dir_->path() + "/state.db", Migrations());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }
  // An operation that took `nanos` (its start moved back) and ended with `st`.
  void Record(const char* component, const char* op, const std::string& target, int64_t nanos, Status st = {}) {
    Operation o = Operation::Begin(db_.get(), component, op, target);
    ASSERT_GT(o.id(), 0);
    auto up = db_->Prepare("UPDATE operations SET started_at = started_at - ? WHERE id = ?");
    ASSERT_TRUE(up.ok());
    ASSERT_TRUE(up->BindAll(nanos, o.id()).Run().ok());
    (void)o.Finish(st);
  }
  std::unique_ptr<os::TempDir> dir_;
  std::unique_ptr<store::Db> db_;
};

TEST_F(DiagnosticsStoreTest, AnOperationIsInProgressUntilItFinishes) {
  Diagnostics diag(db_.get());
  {
    Operation o = Operation::Begin(db_.get(), "image", "import", "app:1");
    o.Log("unpacked layer");
    auto running = diag.InProgress({});
    ASSERT_TRUE(running.ok());
    ASSERT_EQ(running->size(), 1u);
    EXPECT_EQ((*running)[0].target, "app:1");
    EXPECT_EQ((*running)[0].pid, ::getpid());
    EXPECT_NE((*running)[0].log.find("unpacked layer\n"), std::string::npos);
    Status st = o.Finish(Status::InvalidArgument("bad layer"));
    EXPECT_EQ(st.code(), Code::kInvalidArgument);  // passed through
  }
  EXPECT_TRUE(diag.InProgress({})->empty());
  auto errors = diag.Errors({});
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].error_code, "invalid_argument");
  EXPECT_EQ((*errors)[0].error_message, "bad layer");
  // Dropped unfinished: recorded as failed, never left "in progress".
  { Operation o = Operation::Begin(db_.get(), "volume", "create", "v"); }
  EXPECT_TRUE(diag.InProgress({})->empty());
  EXPECT_EQ(diag.Errors({})->front().error_message, "abandoned");
}

TEST_F(DiagnosticsStoreTest, StatisticsArePerOperationWithPercentiles) {
  for (int i = 1; i <= 100; ++i) Record("container", "start", "c", i * 1'000'000);
  Record("container", "exec", "c", 5'000'000, Status::NotFound("no such file"));
  Record("image", "rm", "x", 1'000'000);
  Diagnostics diag(db_.get());
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
  // Nearest rank over 1..100 ms (each a little over, by the time Finish took).
  EXPECT_GE(start->p50_nanos, 50'000'000);
  EXPECT_LT(start->p50_nanos, 51'000'000);
  EXPECT_GE(start->p99_nanos, 99'000'000);
  EXPECT_LT(start->p99_nanos, 100'000'000);
  EXPECT_GE(start->max_nanos, 100'000'000);
  EXPECT_EQ(stats->front().component, "container");  // components in display order
  DiagnosticsQuery only_images;
  only_images.component = "image";
  EXPECT_EQ(diag.Stats(only_images)->size(), 1u);
  DiagnosticsQuery kind;
  kind.error_kind = "not found";  // as CodeName spells it, or not_found
  EXPECT_EQ(diag.Errors(kind)->size(), 1u);
  kind.error_kind = "internal";
  EXPECT_TRUE(diag.Errors(kind)->empty());
  DiagnosticsQuery future;
  future.since = NowNanos() + 3'600'000'000'000;
  EXPECT_TRUE(diag.Errors(future)->empty());
}

TEST_F(DiagnosticsStoreTest, AnOperationOfAProcessThatDiedIsInterrupted) {
  pid_t child = ::fork();
  if (child == 0) {
    auto db = store::Db::Open(dir_->path() + "/state.db", Migrations());
    if (!db.ok()) ::_exit(1);
    Operation o = Operation::Begin(db->get(), "capsule", "attach", "cfg:1.0 on web");
    ::_exit(o.id() > 0 ? 0 : 1);  // dies with the operation unfinished
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  Diagnostics diag(db_.get());
  EXPECT_TRUE(diag.InProgress({})->empty());  // a read leaves it as it is, but does not show it
  EXPECT_TRUE(diag.Errors({})->empty());
  EXPECT_EQ(*diag.MarkInterrupted(), 1);
  EXPECT_EQ(*diag.MarkInterrupted(), 0);
  auto errors = diag.Errors({});
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].outcome, "interrupted");
  EXPECT_EQ((*errors)[0].target, "cfg:1.0 on web");
}

TEST_F(DiagnosticsStoreTest, OnlyTheNewestFinishedOperationsAreKept) {
  ASSERT_TRUE(db_->WriteTxn([&] {
    for (int64_t i = 0; i < kKeptOperations + 200; ++i) (void)Operation::Begin(db_.get(), "gc", "collect", "all").Finish(Status());
    return Status();
  }).ok());
  auto count = db_->Prepare("SELECT COUNT(*) FROM operations");
  ASSERT_TRUE(count.ok());
  ASSERT_TRUE(*count->Step());
  EXPECT_LE(count->Int(0), kKeptOperations + 64);
  EXPECT_GE(count->Int(0), kKeptOperations);
}

}  // namespace
}  // namespace bd::engine
