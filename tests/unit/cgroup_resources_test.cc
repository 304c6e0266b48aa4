#include <gtest/gtest.h>

#include "runtime/cgroup_resources.h"

namespace bd::runtime {
namespace {

// A v1 host with every controller at /cg/<controller>/ctr, hugetlb on the unified hierarchy.
ControllerDir V1(std::string_view c) {
  if (c == "hugetlb") return {"/cg/unified/ctr", true};
  return {"/cg/" + std::string(c) + "/ctr", false};
}
ControllerDir V2(std::string_view) { return {"/cg/ctr", true}; }

std::vector<std::string> Lines(const std::vector<CgroupWrite>& writes) {
  std::vector<std::string> out;
  for (const CgroupWrite& w : writes) out.push_back(w.file + "=" + w.value);
  return out;
}

TEST(ResourceWritesTest, EveryV1ResourceInTheKernelsOrder) {
  auto w = ResourceWrites(R"({
    "memory": {"limit": 1048576, "reservation": 524288, "swap": 4194304, "swappiness": 10,
               "disableOOMKiller": true},
    "cpu": {"shares": 512, "quota": 20000, "period": 50000, "realtimePeriod": 1000000,
            "realtimeRuntime": 950000, "cpus": "0", "mems": "0", "idle": 1},
    "pids": {"limit": 0},
    "blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]}
  })", V1);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Lines(*w), (std::vector<std::string>{
                           "/cg/memory/ctr/memory.limit_in_bytes=1048576",
                           "/cg/memory/ctr/memory.memsw.limit_in_bytes=4194304",
                           "/cg/memory/ctr/memory.soft_limit_in_bytes=524288",
                           "/cg/memory/ctr/memory.swappiness=10",
                           "/cg/memory/ctr/memory.oom_control=1",
                           "/cg/cpu/ctr/cpu.shares=512",
                           "/cg/cpu/ctr/cpu.cfs_period_us=50000",
                           "/cg/cpu/ctr/cpu.cfs_quota_us=20000",
                           "/cg/cpu/ctr/cpu.rt_period_us=1000000",
                           "/cg/cpu/ctr/cpu.rt_runtime_us=950000",
                           "/cg/cpu/ctr/cpu.idle=1",
                           "/cg/cpuset/ctr/cpuset.cpus=0",
                           "/cg/cpuset/ctr/cpuset.mems=0",
                           "/cg/pids/ctr/pids.max=max",
                           "/cg/blkio/ctr/blkio.weight=300",
                           "/cg/blkio/ctr/blkio.weight_device=8:0 500",
                           "/cg/blkio/ctr/blkio.throttle.read_bps_device=8:0 1000",
                           "/cg/unified/ctr/hugetlb.2MB.max=2097152",
                           "/cg/net_cls/ctr/net_cls.classid=1048577",
                           "/cg/net_prio/ctr/net_prio.ifpriomap=eth0 5",
                       }));
}

TEST(ResourceWritesTest, V2Names) {
  auto w = ResourceWrites(R"({"memory": {"limit": 1000, "swap": 3000}, "cpu": {"shares": 1024, "quota": 50000},
                              "blockIO": {"weight": 1000}, "unified": {"memory.high": "900"}})", V2);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Lines(*w), (std::vector<std::string>{
                           "/cg/ctr/memory.max=1000", "/cg/ctr/memory.swap.max=2000",
                           "/cg/ctr/cpu.weight=39", "/cg/ctr/cpu.max=50000 100000",
                           "/cg/ctr/io.weight=default 10000", "/cg/ctr/memory.high=900"}));
}

TEST(ResourceWritesTest, BadValuesAndMissingControllersAreRefused) {
  auto none = [](std::string_view c) { return c == "memory" ? ControllerDir{"/cg/memory/ctr", false} : ControllerDir{}; };
  struct Case {
    const char* json;
    const char* message;
    ControllerDirs dirs;
  } cases[] = {
      {R"({"memory": {"swappiness": 101}})", "swappiness", V1},
      {R"({"cpu": {"period": 5}})", "cpu period", V1},
      {R"({"blockIO": {"weight": 5}})", "blkio weight", V1},
      {R"({"memory": {"limit": 2000, "swap": 1000}})", "must not be below", V1},
      {R"({"hugepageLimits": [{"pageSize": "2 megs", "limit": 1}]})", "hugepage size", V1},
      {R"({"unified": {"memory.high": "1"}})", "needs cgroup v2", V1},
      {R"({"unified": {"../x": "1"}})", "invalid file name", V2},
      {R"({"pids": {"limit": 5}})", "pids cgroup controller", none},
      {R"({"memory": {"limit": "lots"}})", "linux.resources", V1},
      {R"([1])", "not a JSON object", V1},
  };
  for (const Case& c : cases) {
    auto w = ResourceWrites(c.json, c.dirs);
    ASSERT_FALSE(w.ok()) << c.json;
    EXPECT_EQ(w.status().code(), Code::kInvalidArgument) << c.json;
    EXPECT_NE(w.status().message().find(c.message), std::string::npos) << c.json << ": " << w.status().message();
  }
}

}  // namespace
}  // namespace bd::runtime
