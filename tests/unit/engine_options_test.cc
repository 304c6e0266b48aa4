// An Engine built from options with a fake port-layer component in place of the built-in
// rootfs: Create's logic (validation, records, the Commit, its rollback) tested without
// mounting anything.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/elements/elements.h"
#include "os/fs.h"

namespace bd::engine {
namespace {

// Records what it was asked to do; fails every Apply while `fail` is set.
struct FakeRootfs : portlayer::Component {
  struct Log {
    std::vector<std::string> applied;
    bool fail = false;
  };
  explicit FakeRootfs(Log* log) : log_(log) {}
  std::string_view Name() const override { return "rootfs"; }
  Result<portlayer::Level> Observe(const portlayer::Handle&, const portlayer::Element&) override {
    return portlayer::Level::kJoined;
  }
  Status Apply(portlayer::Handle& h, const portlayer::Element& e, portlayer::Level from, portlayer::Level to) override {
    if (log_->fail) return Status::Unavailable("overlay refused");
    log_->applied.push_back(h.container_id().substr(0, 12) + " " + e.id + " " + std::string(portlayer::LevelName(from)) +
                            "->" + std::string(portlayer::LevelName(to)) + (e.Config<RootfsConfig>() ? " typed" : ""));
    return {};
  }
  Log* log_;
};

class EngineOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-engine-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
    Engine::Options opts;
    opts.root = dir_->path() + "/root";
    opts.components.push_back(std::make_unique<FakeRootfs>(&log_));
    auto eng = Engine::Open(std::move(opts));
    ASSERT_TRUE(eng.ok()) << eng.status().ToString();
    eng_ = std::move(eng).value();
  }
  FakeRootfs::Log log_;
  std::unique_ptr<os::TempDir> dir_;
  std::unique_ptr<Engine> eng_;
};

TEST_F(EngineOptionsTest, CreateCommitsItsRootfsThroughTheGivenComponent) {
  if (!os::Exists(BusyboxPath())) GTEST_SKIP() << "no static busybox at " << BusyboxPath();
  CreateOptions opts;
  opts.image = "busybox";
  opts.name = "web";
  opts.cmd = {"true"};
  auto c = eng_->Create(opts);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(log_.applied.size(), 1u);
  EXPECT_EQ(log_.applied[0], c->id.substr(0, 12) + " rootfs joined->bound typed");
  auto found = eng_->containers().Find("web");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->state, State::kCreated);
  // The Commit failing: the error says why, the record and its directory are gone again.
  log_.fail = true;
  opts.name = "db";
  auto failed = eng_->Create(opts);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kUnavailable);
  EXPECT_NE(failed.status().message().find("overlay refused"), std::string::npos) << failed.status().ToString();
  EXPECT_EQ(eng_->containers().Find("db").status().code(), Code::kNotFound);
  EXPECT_EQ(eng_->containers().List()->size(), 1u);
  // Bad input is refused before anything is committed.
  log_.fail = false;
  log_.applied.clear();
  opts.name = "bad name";
  EXPECT_EQ(eng_->Create(opts).status().code(), Code::kInvalidArgument);
  opts.name = "web";
  EXPECT_FALSE(eng_->Create(opts).ok());  // taken
  opts.name = "other";
  opts.image = "no-such-image";
  EXPECT_EQ(eng_->Create(opts).status().code(), Code::kNotFound);
  EXPECT_TRUE(log_.applied.empty());
  // Its diagnostics: the failed create recorded with its element's outcome.
  auto errors = eng_->diagnostics().Errors({});
  ASSERT_TRUE(errors.ok());
  bool logged = false;
  for (const OperationRecord& r : *errors) logged |= r.target == "db" && r.log.find("element rootfs") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(EngineOptionsTest, ARelativeRootIsRefused) {
  Engine::Options opts;
  opts.root = "relative/root";
  EXPECT_EQ(Engine::Open(std::move(opts)).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace bd::engine
