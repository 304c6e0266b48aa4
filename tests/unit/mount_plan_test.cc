// The plan of a container's root mounts, decided from the spec alone: order, parsed options,
// the read-only /dev made read-only only after its nodes, propagation, refusals.
#include <sys/mount.h>

#include <gtest/gtest.h>

#include "runtime/mount_plan.h"

namespace bd::runtime {
namespace {

std::vector<std::string> Describe(const std::vector<MountStep>& plan) {
  std::vector<std::string> out;
  for (const MountStep& s : plan) out.push_back(DescribeStep(s));
  return out;
}

Spec DockerLike() {
  Spec spec;
  spec.rootfs = "/var/lib/bd/containers/c1/merged";
  spec.mounts = {{"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
                 {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
                 {"/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid", "noexec", "nodev"}},
                 {"/data", "bind", "/srv/data", {"rbind", "ro"}}};
  spec.masked_paths = {"/proc/kcore"};
  spec.readonly_paths = {"/proc/sys"};
  spec.process.cwd = "/work";
  return spec;
}

TEST(MountPlanTest, StepsInTheirOrderWithOptionsParsed) {
  auto plan = PlanRootfs(DockerLike());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(Describe(*plan), (std::vector<std::string>{
                                 "propagation of / 0x80000",  // MS_SLAVE: nothing flows back to the host
                                 "bind the rootfs /var/lib/bd/containers/c1/merged",
                                 "mount on /proc flags=0xe",
                                 "mount on /dev flags=0x1000002 data=mode=755,size=65536k",
                                 "cgroups on /sys/fs/cgroup flags=0xf",
                                 "bind on /data flags=0x1 recursive",
                                 "devices in /dev",
                                 "mask /proc/kcore",
                                 "read-only path /proc/sys",
                                 "working directory /work",
                             }));
  const MountStep& data = (*plan)[5];
  EXPECT_TRUE(data.bind);
  EXPECT_EQ(data.index, 3);  // idmapped trees are matched by the position in spec.mounts
  EXPECT_EQ((*plan)[4].kind, MountStep::Kind::kCgroup);
}

TEST(MountPlanTest, AReadOnlyDevIsMadeReadOnlyAfterItsNodes) {
  Spec spec = DockerLike();
  spec.mounts[1].options.push_back("ro");
  spec.devices = {{"/dev/fuse", 'c', 10, 229}};
  spec.sysctl = {{"net.ipv4.ip_forward", "1"}};
  auto plan = PlanRootfs(spec);
  ASSERT_TRUE(plan.ok());
  auto steps = Describe(*plan);
  EXPECT_EQ(steps[3], "mount on /dev flags=0x1000002 data=mode=755,size=65536k");  // writable first
  EXPECT_EQ(steps[6], "devices in /dev");
  EXPECT_EQ(steps[7], "the spec's devices");
  EXPECT_EQ(steps[8], "read-only /dev (after its devices)");
  EXPECT_EQ(steps[9], "sysctls");  // through /proc, before /proc/sys is made read-only
  EXPECT_EQ(steps[11], "read-only path /proc/sys");
}

TEST(MountPlanTest, PropagationOverlayAndWorkingDirectory) {
  Spec spec;
  spec.rootfs = "/r/merged";
  spec.rootfs_propagation = MS_UNBINDABLE;
  spec.overlay = Overlay{{"/l/2", "/l/1"}, "/r/upper", "/r/work"};
  spec.process.cwd = "/";
  auto plan = PlanRootfs(spec);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE((*plan)[0].private_parent);  // the rootfs' parent made private for pivot_root
  EXPECT_EQ((*plan)[1].overlay_data, "lowerdir=/l/2:/l/1,upperdir=/r/upper,workdir=/r/work");
  EXPECT_EQ(plan->back().kind, MountStep::Kind::kDevices);  // cwd "/" needs nothing made
  spec.rootfs_propagation = MS_SHARED;
  EXPECT_TRUE((*PlanRootfs(spec))[0].private_parent);
  spec.rootfs_propagation = MS_PRIVATE;
  EXPECT_FALSE((*PlanRootfs(spec))[0].private_parent);
}

TEST(MountPlanTest, WhatNoStepMayDoIsRefused) {
  Spec spec = DockerLike();
  spec.mounts.push_back({"/proc", "tmpfs", "tmpfs", {}});  // hides what /proc must show
  EXPECT_EQ(PlanRootfs(spec).status().code(), Code::kInvalidArgument);
  spec = DockerLike();
  spec.mounts.push_back({"/proc/self", "bind", "/", {"rbind"}});
  EXPECT_EQ(PlanRootfs(spec).status().code(), Code::kInvalidArgument);
  spec = DockerLike();
  spec.overlay = Overlay{{"/l/a:b"}, "/r/upper", "/r/work"};  // ':' separates overlay's lowers
  EXPECT_FALSE(PlanRootfs(spec).ok());
}

}  // namespace
}  // namespace bd::runtime
