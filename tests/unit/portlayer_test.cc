#include <gtest/gtest.h>

#include <map>

#include "portlayer/portlayer.h"

namespace bd::portlayer {
namespace {

// A component over an in-memory "system": element id -> level. Fails on request.
class FakeComponent : public Component {
 public:
  std::string_view Name() const override { return "fake"; }
  Result<Level> Observe(const Handle&, const Element& e) override {
    auto it = system.find(e.id);
    return it == system.end() ? Level::kAbsent : it->second;
  }
  Status Apply(Handle&, const Element& e, Level, Level to) override {
    ++applies;
    if (fail_on == e.id && to != Level::kAbsent && to != Level::kJoined) {
      return Status::Unavailable("device " + e.id + " is busy");
    }
    if (to == Level::kAbsent) system.erase(e.id);
    else system[e.id] = to;
    log.push_back(e.id + "->" + std::string(LevelName(to)));
    return {};
  }
  std::map<std::string, Level> system;
  std::string fail_on;
  int applies = 0;
  std::vector<std::string> log;
};

class PortLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = std::make_unique<FakeComponent>();
    fake_ = c.get();
    registry_.Register(std::move(c));
  }
  Registry registry_;
  FakeComponent* fake_;
};

TEST_F(PortLayerTest, NothingChangesUntilCommit) {
  Handle h("c1");
  h.Join({"a", "fake", nullptr});
  ASSERT_TRUE(h.Bind("a").ok());
  EXPECT_TRUE(fake_->system.empty());
  CommitResult r = Commit(h, registry_);
  EXPECT_FALSE(r.IsError());
  EXPECT_EQ(r.Results().at("a"), Outcome::kSuccess);
  EXPECT_EQ(fake_->system.at("a"), Level::kBound);
}

TEST_F(PortLayerTest, RepeatingIsANoop) {
  for (int i = 0; i < 2; ++i) {
    Handle h("c1");
    h.Join({"a", "fake", nullptr});
    ASSERT_TRUE(h.Bind().ok());
    CommitResult r = Commit(h, registry_);
    EXPECT_FALSE(r.IsError());
    EXPECT_EQ(r.Results().at("a"), i == 0 ? Outcome::kSuccess : Outcome::kNoop);
  }
  EXPECT_EQ(fake_->applies, 1);
}

TEST_F(PortLayerTest, AFailureRollsBackAndReportsEveryElement) {
  fake_->system["kept"] = Level::kBound;
  fake_->fail_on = "b";
  Handle h("c1");
  h.Join({"kept", "fake", nullptr});
  h.Join({"a", "fake", nullptr});
  h.Join({"b", "fake", nullptr});
  h.Join({"c", "fake", nullptr});
  ASSERT_TRUE(h.Bind().ok());
  CommitResult r = Commit(h, registry_);
  EXPECT_TRUE(r.IsError());
  EXPECT_EQ(r.Results().at("kept"), Outcome::kNoop);
  EXPECT_EQ(r.Results().at("a"), Outcome::kError);
  EXPECT_NE(r.Detail().at("a").find("rolled back because `b` failed"), std::string::npos);
  EXPECT_EQ(r.Results().at("b"), Outcome::kError);
  EXPECT_EQ(r.Detail().at("b"), "device b is busy");
  EXPECT_EQ(r.Results().at("c"), Outcome::kError);
  EXPECT_NE(r.Detail().at("c").find("not applied"), std::string::npos);
  EXPECT_EQ(r.FirstError().code(), Code::kUnavailable);
  // The same as a list of {element, outcome, Status}, in the order Commit handled them.
  std::vector<ElementResult> elements = r.Elements();
  ASSERT_EQ(elements.size(), 4u);
  std::map<std::string, ElementResult> by_id;
  for (const ElementResult& e : elements) by_id[e.element] = e;
  EXPECT_TRUE(by_id.at("kept").status.ok());
  EXPECT_EQ(by_id.at("kept").outcome, Outcome::kNoop);
  EXPECT_EQ(by_id.at("b").status, r.FirstError());  // its own failure
  EXPECT_EQ(by_id.at("a").status.code(), Code::kUnavailable);  // rolled back: the first failure's kind
  EXPECT_NE(by_id.at("a").status.message().find("rolled back"), std::string::npos);
  EXPECT_EQ(by_id.at("c").status.code(), Code::kUnavailable);
  EXPECT_EQ(elements.back().element, "kept");  // NOOPs last
  // The system is exactly as before.
  EXPECT_EQ(fake_->system.size(), 1u);
  EXPECT_EQ(fake_->system.at("kept"), Level::kBound);
}

TEST_F(PortLayerTest, TeardownRunsInReverseBeforeSetup) {
  fake_->system["first"] = Level::kBound;
  fake_->system["second"] = Level::kBound;
  Handle h("c1");
  h.Join({"first", "fake", nullptr});
  h.Join({"second", "fake", nullptr});
  h.Join({"third", "fake", nullptr});
  ASSERT_TRUE(h.Bind("third").ok());
  ASSERT_TRUE(h.Leave("first").ok());
  ASSERT_TRUE(h.Unbind("second").ok());
  CommitResult r = Commit(h, registry_);
  ASSERT_FALSE(r.IsError());
  EXPECT_EQ(fake_->log, (std::vector<std::string>{"second->joined", "first->absent", "third->bound"}));
  EXPECT_EQ(r.Order().size(), 3u);
}

TEST_F(PortLayerTest, UnknownElementsAndComponentsAreErrors) {
  Handle h("c1");
  EXPECT_EQ(h.Bind("nope").code(), Code::kNotFound);
  h.Join({"x", "no-such-component", nullptr});
  ASSERT_TRUE(h.Bind().ok());
  CommitResult r = Commit(h, registry_);
  EXPECT_TRUE(r.IsError());
  EXPECT_EQ(r.Results().at("x"), Outcome::kError);
}

// A handle made at one version of its container, committed after the container changed:
// refused as a Conflict that names the change, and nothing is applied. Unversioned handles
// and current ones are not checked.
TEST_F(PortLayerTest, AStaleHandleIsAConflictAndChangesNothing) {
  int64_t current = 7;
  registry_.SetVersionCheck([&](const Handle& h) -> Status {
    if (h.version() == current) return {};
    return Status::Conflict("container " + h.container_id() + " changed since version " +
                            std::to_string(h.version()) + " (now " + std::to_string(current) + ")");
  });
  Handle stale("c1", 6);
  stale.Join({"a", "fake", nullptr});
  ASSERT_TRUE(stale.Bind().ok());
  CommitResult r = Commit(stale, registry_);
  EXPECT_EQ(r.FirstError().code(), Code::kConflict);
  EXPECT_NE(r.FirstError().message().find("changed since version 6 (now 7)"), std::string::npos);
  EXPECT_EQ(r.Results().at("a"), Outcome::kError);
  EXPECT_EQ(fake_->applies, 0);
  Handle fresh("c1", 7);
  fresh.Join({"a", "fake", nullptr});
  ASSERT_TRUE(fresh.Bind().ok());
  EXPECT_FALSE(Commit(fresh, registry_).IsError());
  Handle unversioned("c1");
  unversioned.Join({"a", "fake", nullptr});
  ASSERT_TRUE(unversioned.Bind().ok());
  EXPECT_EQ(Commit(unversioned, registry_).Results().at("a"), Outcome::kNoop);
}

struct SizeConfig : ElementConfig {
  int size = 0;
};

TEST(ElementTest, ConfigIsTheComponentsOwnStruct) {
  auto cfg = std::make_shared<SizeConfig>();
  cfg->size = 3;
  Element e{"a", "fake", cfg};
  ASSERT_NE(e.Config<SizeConfig>(), nullptr);
  EXPECT_EQ(e.Config<SizeConfig>()->size, 3);
  struct Other : ElementConfig {};
  EXPECT_EQ(e.Config<Other>(), nullptr);
  EXPECT_EQ(Element{}.Config<SizeConfig>(), nullptr);
}

}  // namespace
}  // namespace bd::portlayer
