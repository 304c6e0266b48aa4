#include <gtest/gtest.h>

#include "os/fs.h"
#include "runtime/cgroups.h"

namespace bd::runtime {
namespace {

class CgroupPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-cg-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
    root_ = dir_->path();
  }
  void FakeV1(std::initializer_list<const char*> controllers) {
    for (const char* c : controllers) {
      ASSERT_TRUE(os::MkdirAll(root_ + "/" + c).ok());
      ASSERT_TRUE(os::WriteFile(root_ + "/" + c + "/cgroup.procs", "").ok());
    }
  }
  std::unique_ptr<os::TempDir> dir_;
  std::string root_;
};

TEST_F(CgroupPlanTest, DetectsTheLayout) {
  EXPECT_EQ(DetectCgroupLayout(root_), CgroupLayout::kNone);
  FakeV1({"memory"});
  EXPECT_EQ(DetectCgroupLayout(root_), CgroupLayout::kV1);
  ASSERT_TRUE(os::WriteFile(root_ + "/cgroup.controllers", "cpu memory pids").ok());
  EXPECT_EQ(DetectCgroupLayout(root_), CgroupLayout::kV2);
}

TEST_F(CgroupPlanTest, V1PlanCoversMountedControllersOnly) {
  FakeV1({"memory", "cpu", "pids", "freezer"});  // no cpuacct on this fake host
  CgroupLimits limits{64 << 20, 50000, 100000, 20};
  CgroupPlan plan = PlanCgroup(CgroupLayout::kV1, root_, "basic-docker/abc", limits);
  EXPECT_EQ(plan.dirs.size(), 4u);
  EXPECT_EQ(plan.procs_files.size(), 4u);
  EXPECT_EQ(plan.dirs[0], root_ + "/memory/basic-docker/abc");
  // The applier writes exactly the planned values.
  // cgroupfs provides the control files; the fake gets them made up front.
  for (const auto& w : plan.writes) {
    ASSERT_TRUE(os::MkdirAll(os::Dirname(w.file)).ok());
    ASSERT_TRUE(os::WriteFile(w.file, "").ok());
  }
  ASSERT_TRUE(ApplyCgroupPlan(plan).ok());
  EXPECT_EQ(*os::ReadFile(root_ + "/memory/basic-docker/abc/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(*os::ReadFile(root_ + "/cpu/basic-docker/abc/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(*os::ReadFile(root_ + "/cpu/basic-docker/abc/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(*os::ReadFile(root_ + "/pids/basic-docker/abc/pids.max"), "20");
  for (const auto& f : plan.procs_files) ASSERT_TRUE(os::WriteFile(f, "").ok());
  ASSERT_TRUE(JoinCgroup(plan, 4242).ok());
  EXPECT_EQ(*os::ReadFile(root_ + "/pids/basic-docker/abc/cgroup.procs"), "4242");
}

// runc's exec --cgroup: a PATH for every hierarchy, CONTROLLER:PATH for the hierarchies holding
// the controllers (joint ones too), named hierarchies by their name; nothing escapes upwards.
TEST_F(CgroupPlanTest, SubCgroupDirsFollowExecCgroupFlags) {
  FakeV1({"memory", "cpu,cpuacct", "pids", "systemd"});
  CgroupLimits every;
  every.all_hierarchies = true;  // an OCI config's: every mounted hierarchy, sorted
  CgroupPlan plan = PlanCgroup(CgroupLayout::kV1, root_, "c", every);
  ASSERT_EQ(plan.dirs.size(), 4u);
  auto dirs = SubCgroupDirs(plan, {"cpuacct:a", "/all", "name=systemd:s"});
  ASSERT_TRUE(dirs.ok()) << dirs.status().ToString();
  std::vector<std::string> want;
  for (const std::string& d : plan.dirs) {
    std::string sub = d.find("cpu,cpuacct") != std::string::npos ? "a" : d.find("systemd") != std::string::npos ? "s" : "all";
    want.push_back(d + "/" + sub);
  }
  EXPECT_EQ(*dirs, want);
  // Sorted: cpu,cpuacct memory pids systemd.
  EXPECT_EQ(*SubCgroupDirs(plan, {"pids:p"}), (std::vector<std::string>{plan.dirs[0], plan.dirs[1], plan.dirs[2] + "/p", plan.dirs[3]}))
      << plan.dirs[2];
  EXPECT_FALSE(SubCgroupDirs(plan, {"blkio:x"}).ok());  // no such hierarchy here
  EXPECT_FALSE(SubCgroupDirs(plan, {"../x"}).ok());
  EXPECT_FALSE(SubCgroupDirs(plan, {"memory:"}).ok());
  EXPECT_FALSE(SubCgroupDirs(plan, {":x"}).ok());
  CgroupPlan v2 = plan;
  v2.layout = CgroupLayout::kV2;
  EXPECT_FALSE(SubCgroupDirs(v2, {"memory:x"}).ok());
}

TEST_F(CgroupPlanTest, V2PlanEnablesControllersAndSetsLimits) {
  CgroupLimits limits{128 << 20, 150000, 100000, 0};
  CgroupPlan plan = PlanCgroup(CgroupLayout::kV2, root_, "basic-docker/abc", limits);
  ASSERT_EQ(plan.dirs.size(), 1u);
  std::vector<std::string> files;
  for (const auto& w : plan.writes) files.push_back(w.file.substr(root_.size()));
  EXPECT_EQ(files, (std::vector<std::string>{"/cgroup.subtree_control",
                                             "/basic-docker/cgroup.subtree_control",
                                             "/basic-docker/abc/memory.max",
                                             "/basic-docker/abc/memory.swap.max",
                                             "/basic-docker/abc/cpu.max"}));
  EXPECT_EQ(plan.writes[4].value, "150000 100000");
  CgroupPlan none = PlanCgroup(CgroupLayout::kV2, root_, "basic-docker/abc", {});
  EXPECT_EQ(none.writes.size(), 2u);  // no limits: only enabling controllers
  EXPECT_TRUE(none.device_filter.empty());
  // Device rules become the BPF filter's: deny-all first, then the allowed devices.
  CgroupLimits devices;
  devices.allowed_devices = std::vector<std::string>{"c 1:3 rwm"};
  CgroupPlan filtered = PlanCgroup(CgroupLayout::kV2, root_, "basic-docker/abc", devices);
  EXPECT_EQ(filtered.device_filter, (std::vector<std::pair<bool, std::string>>{{false, "a"}, {true, "c 1:3 rwm"}}));
  devices.allowed_devices.reset();
  devices.device_rules = {{false, "c 1:5 w"}, {true, "a"}};
  EXPECT_EQ(PlanCgroup(CgroupLayout::kV2, root_, "x", devices).device_filter, devices.device_rules);
}

TEST_F(CgroupPlanTest, StatsAndRemoval) {
  FakeV1({"memory", "cpuacct", "pids"});
  CgroupPlan plan = PlanCgroup(CgroupLayout::kV1, root_, "basic-docker/x", {});
  ASSERT_TRUE(plan.writes.empty());
  ASSERT_TRUE(ApplyCgroupPlan(plan).ok());
  std::string mem = root_ + "/memory/basic-docker/x";
  ASSERT_TRUE(os::WriteFile(mem + "/memory.usage_in_bytes", "4096\n").ok());
  ASSERT_TRUE(os::WriteFile(mem + "/memory.limit_in_bytes", "9223372036854771712\n").ok());
  ASSERT_TRUE(os::WriteFile(mem + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").ok());
  ASSERT_TRUE(os::WriteFile(root_ + "/cpuacct/basic-docker/x/cpuacct.usage", "123\n").ok());
  ASSERT_TRUE(os::WriteFile(root_ + "/pids/basic-docker/x/pids.current", "3\n").ok());
  auto s = ReadCgroupStats(plan);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->memory_usage, 4096);
  EXPECT_EQ(s->memory_limit, 0);  // v1's "unlimited"
  EXPECT_EQ(s->oom_kills, 2);
  EXPECT_EQ(s->cpu_usage_ns, 123);
  EXPECT_EQ(s->pids, 3);
}

TEST_F(CgroupPlanTest, MissingParentsAreCreatedAndNestedCgroupsRemoved) {
  FakeV1({"memory", "pids"});
  CgroupPlan plan = PlanCgroup(CgroupLayout::kV1, root_, "outer/middle/ctr", {});
  ASSERT_TRUE(ApplyCgroupPlan(plan).ok());
  EXPECT_TRUE(os::IsDir(root_ + "/memory/outer/middle/ctr"));
  EXPECT_TRUE(os::IsDir(root_ + "/pids/outer/middle/ctr"));
  // Cgroups the container made inside its own: removed with it, deepest first.
  ASSERT_TRUE(os::MkdirAll(root_ + "/memory/outer/middle/ctr/sub/deeper").ok());
  ASSERT_TRUE(RemoveCgroup(plan).ok());
  EXPECT_FALSE(os::Exists(root_ + "/memory/outer/middle/ctr"));
  EXPECT_TRUE(os::IsDir(root_ + "/memory/outer/middle"));  // the parents stay, as runc's
  CgroupPlan v2 = PlanCgroup(CgroupLayout::kV2, root_, "a/b/c", {});
  std::vector<std::string> made;
  for (const auto& d : v2.create) made.push_back(d.substr(root_.size()));
  EXPECT_EQ(made, (std::vector<std::string>{"/a", "/a/b", "/a/b/c"}));
  EXPECT_EQ(v2.writes.size(), 3u);  // the root and both ancestors enable controllers
}

}  // namespace
}  // namespace bd::runtime
