// The container records over a temporary database: the state machine's table, transitions
// checked in the UPDATE itself, reads without side effects and the explicit reconcile.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "engine/containers/store.h"
#include "engine/schema.h"
#include "os/fs.h"
#include "os/process.h"
#include "store/db.h"

namespace bd::engine {
namespace {

TEST(ContainerStateTest, TableAllowsDockersLifecycleOnly) {
  EXPECT_TRUE(TransitionAllowed(State::kCreated, State::kRunning));
  EXPECT_TRUE(TransitionAllowed(State::kCreated, State::kExited));  // a start that failed
  EXPECT_TRUE(TransitionAllowed(State::kRunning, State::kPaused));
  EXPECT_TRUE(TransitionAllowed(State::kPaused, State::kRunning));
  EXPECT_TRUE(TransitionAllowed(State::kRunning, State::kRestarting));
  EXPECT_TRUE(TransitionAllowed(State::kRestarting, State::kRunning));
  EXPECT_TRUE(TransitionAllowed(State::kExited, State::kRunning));
  EXPECT_FALSE(TransitionAllowed(State::kExited, State::kPaused));
  EXPECT_FALSE(TransitionAllowed(State::kCreated, State::kPaused));
  EXPECT_FALSE(TransitionAllowed(State::kRunning, State::kRunning));
  EXPECT_FALSE(TransitionAllowed(State::kExited, State::kCreated));
  EXPECT_EQ(StatesLeadingTo(State::kPaused), "'running'");
  EXPECT_EQ(StatesLeadingTo(State::kRunning), "'created', 'paused', 'restarting', 'exited'");
  EXPECT_EQ(ActiveStates(), "'running', 'paused', 'restarting'");
  for (State s : {State::kCreated, State::kRunning, State::kPaused, State::kRestarting, State::kExited}) {
    auto back = ParseState(StateName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(ParseState("dead").status().code(), Code::kInvalidArgument);
  Status st = CheckTransition("web", State::kExited, State::kPaused);
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_EQ(st.message(), "container web is exited: it cannot become paused");
}

class ContainerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-ctr-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
    auto db = store::Db::Open(dir_->path() + "/state.db", Migrations());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    store_ = std::make_unique<ContainerStore>(db_.get());
    ASSERT_TRUE(db_->Exec("INSERT INTO images(id, manifest_digest, config, size, created_at) VALUES ('img', 'm', '{}', 0, 0)").ok());
  }
  Container Make(const std::string& id, const std::string& name) {
    Container c;
    c.id = id;
    c.name = name;
    c.image_id = "img";
    c.image_ref = "busybox";
    c.spec_json = "{}";
    c.created_at = 1;
    EXPECT_TRUE(store_->Insert(c).ok());
    return c;
  }
  std::unique_ptr<os::TempDir> dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<ContainerStore> store_;
};

TEST_F(ContainerStoreTest, RefusedTransitionChangesNothingAndSaysWhy) {
  Make("aaaa", "web");
  Status st = store_->MarkPaused("aaaa", true);  // created: cannot be paused
  EXPECT_EQ(st.code(), Code::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("web is created"), std::string::npos) << st.message();
  EXPECT_EQ(store_->Get("aaaa")->state, State::kCreated);
  ASSERT_TRUE(store_->MarkExited("aaaa", 127, "exec: \"x\": not found", 5).ok());
  auto c = store_->Get("aaaa");
  EXPECT_EQ(c->state, State::kExited);
  EXPECT_EQ(c->exit_code, 127);
  EXPECT_EQ(store_->MarkPaused("aaaa", false).code(), Code::kFailedPrecondition);  // exited -> running: only by a start
  EXPECT_EQ(store_->MarkRestarting("aaaa", 1, 6).code(), Code::kFailedPrecondition);
  EXPECT_EQ(store_->Get("aaaa")->restart_count, 0);
  EXPECT_EQ(store_->MarkExited("nope", 0, "", 1).code(), Code::kNotFound);
}

TEST_F(ContainerStoreTest, ReadsHaveNoSideEffectsUntilReconcile) {
  Make("bbbb", "job");
  // Recorded running under a shim that is gone: a child of this test that has exited.
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ASSERT_GT(gone, 0);
  uint64_t start = os::ProcessStartTime(gone);
  ASSERT_TRUE(store_->MarkRunning("bbbb", gone, gone, start, 10).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(gone, &status, 0), gone);
  // Lookups report the record as it is, however often.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(store_->Get("bbbb")->state, State::kRunning);
    EXPECT_EQ(store_->Find("job")->state, State::kRunning);
    EXPECT_EQ(store_->List()->at(0).state, State::kRunning);
  }
  auto changed = store_->ReconcileAll();
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, 1);
  auto c = store_->Get("bbbb");
  EXPECT_EQ(c->state, State::kExited);
  EXPECT_EQ(c->exit_code, 255);
  EXPECT_NE(c->error.find("shim exited"), std::string::npos);
  EXPECT_EQ(*store_->ReconcileAll(), 0);  // in step now
}

}  // namespace
}  // namespace bd::engine

namespace bd::engine {
namespace {

TEST(NameListTest, NamesEveryUserUpToTen) {
  EXPECT_EQ(NameList({}), "");
  EXPECT_EQ(NameList({"web"}), "web");
  EXPECT_EQ(NameList({"db", "web"}), "db, web");
  std::vector<std::string> many;
  for (int i = 0; i < 12; ++i) many.push_back("c" + std::to_string(i));
  EXPECT_EQ(NameList(many), "c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 and 2 more");
}

}  // namespace
}  // namespace bd::engine
