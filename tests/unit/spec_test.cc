#include <sys/mount.h>

#include <algorithm>
#include <cstring>

#include <gtest/gtest.h>

#include "runtime/spec.h"
#include "runtime/user.h"

namespace bd::runtime {
namespace {

TEST(SpecTest, JsonRoundTrip) {
  Spec s;
  s.id = "abc";
  s.process.args = {"sh", "-c", "echo hi"};
  s.process.env = {"A=1"};
  s.process.cwd = "/srv";
  s.process.user = "nobody";
  s.hostname = "web";
  s.rootfs = "/r/merged";
  s.overlay = Overlay{{"/l2", "/l1"}, "/u", "/w"};
  s.mounts = DefaultMounts();
  s.namespaces = DefaultNamespaces();
  s.seccomp_program = std::string("\x00\x01\xfe\xff", 4);
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->process.args, s.process.args);
  EXPECT_EQ(back->process.cwd, "/srv");
  EXPECT_EQ(back->process.user, "nobody");
  EXPECT_EQ(back->hostname, "web");
  ASSERT_TRUE(back->overlay);
  EXPECT_EQ(back->overlay->lower_dirs, s.overlay->lower_dirs);
  EXPECT_EQ(back->mounts.size(), s.mounts.size());
  EXPECT_EQ(back->mounts[0].destination, "/proc");
  EXPECT_EQ(back->namespaces, s.namespaces);
  EXPECT_EQ(back->seccomp_program, s.seccomp_program);
}

TEST(SpecTest, MalformedSpecsAreRejected) {
  EXPECT_FALSE(SpecFromJson("not json").ok());
  EXPECT_FALSE(SpecFromJson("{}").ok());
  EXPECT_FALSE(SpecFromJson(R"({"process":{"args":[]},"root":{"path":"/"}})").ok());
  EXPECT_FALSE(SpecFromJson(R"({"process":{"args":"sh"},"root":{"path":"/"}})").ok());
}

TEST(SpecTest, DefaultMountsCoverProcDevSys) {
  std::vector<std::string> dests;
  for (const Mount& m : DefaultMounts()) dests.push_back(m.destination);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                             "/sys"}));
  MountFlags sys = ParseMountOptions(DefaultMounts().back().options);
  EXPECT_TRUE(sys.flags & MS_RDONLY);
}

TEST(MountOptionsTest, SplitsFlagsPropagationAndData) {
  MountFlags f = ParseMountOptions({"nosuid", "ro", "rw", "mode=755", "rbind", "rslave", "size=1k"});
  EXPECT_TRUE(f.flags & MS_NOSUID);
  EXPECT_FALSE(f.flags & MS_RDONLY);  // rw came last
  EXPECT_TRUE(f.bind);
  EXPECT_TRUE(f.recursive);
  EXPECT_EQ(f.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(f.data, "mode=755,size=1k");
}

TEST(MountOptionsTest, RecursiveAttributesClearedFlagsAndTmpcopyup) {
  MountFlags f = ParseMountOptions({"rro", "rnosuid", "rsuid", "rnoatime", "rw", "nosymfollow", "tmpcopyup"});
  EXPECT_EQ(f.attr_set, static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME));
  // rsuid undid rnosuid; an atime mode clears the whole atime field first.
  EXPECT_EQ(f.attr_clear, static_cast<uint64_t>(MOUNT_ATTR_NOSUID | MOUNT_ATTR__ATIME));
  EXPECT_TRUE(f.cleared & MS_RDONLY);
  EXPECT_TRUE(f.flags & MS_NOSYMFOLLOW);
  EXPECT_TRUE(f.tmpcopyup);
  EXPECT_EQ(f.data, "");  // none of these reach the filesystem as data
}

TEST(OverlayTest, DataStringAndBadPaths) {
  auto d = OverlayData({{"/a", "/b"}, "/u", "/w"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "lowerdir=/a:/b,upperdir=/u,workdir=/w");
  EXPECT_FALSE(OverlayData({{}, "/u", "/w"}).ok());
  EXPECT_FALSE(OverlayData({{"/a:b"}, "/u", "/w"}).ok());
  EXPECT_FALSE(OverlayData({{"/a"}, "/u,x", "/w"}).ok());
}

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "app:x:1000:\n"
    "audio:x:29:app,other\n"
    "video:x:44:app\n"
    "nogroup:x:65534:\n";

TEST(UserTest, ResolvesNamesIdsAndGroups) {
  auto root = ResolveUser("", kPasswd, kGroup);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->home, "/root");
  auto app = ResolveUser("app", kPasswd, kGroup);
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->uid, 1000u);
  EXPECT_EQ(app->gid, 1000u);
  EXPECT_EQ(app->additional_gids, (std::vector<gid_t>{29, 44}));
  EXPECT_EQ(app->home, "/home/app");
  auto numeric = ResolveUser("4242", kPasswd, kGroup);
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(numeric->uid, 4242u);
  EXPECT_EQ(numeric->gid, 0u);
  auto pair = ResolveUser("app:nogroup", kPasswd, kGroup);
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->gid, 65534u);
  EXPECT_EQ(ResolveUser("1000:7", kPasswd, kGroup)->gid, 7u);
}

TEST(UserTest, UnknownNamesAreClearErrors) {
  auto u = ResolveUser("ghost", kPasswd, kGroup);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("unable to find user ghost"), std::string::npos);
  EXPECT_FALSE(ResolveUser("app:ghosts", kPasswd, kGroup).ok());
  EXPECT_FALSE(ResolveUser("99999999999", kPasswd, kGroup).ok());
}

TEST(UserTest, FindEnvTakesTheLastValue) {
  std::vector<std::string> env = {"PATH=/a", "X=1", "PATH=/b", "PATHX=no"};
  EXPECT_EQ(FindEnv(env, "PATH"), "/b");
  EXPECT_FALSE(FindEnv(env, "PAT").has_value());
  EXPECT_FALSE(FindEnv(env, "Y").has_value());
}

}  // namespace
}  // namespace bd::runtime

#include "runtime/security.h"

namespace bd::runtime {
namespace {

TEST(CapabilitiesTest, NormalizeAndAdjust) {
  EXPECT_EQ(*NormalizeCapability("net_admin"), "CAP_NET_ADMIN");
  EXPECT_EQ(*NormalizeCapability("CAP_KILL"), "CAP_KILL");
  EXPECT_FALSE(NormalizeCapability("flying").ok());
  auto caps = AdjustCapabilities(DefaultCapabilities(), {"SYS_ADMIN"}, {"chown", "NET_RAW"});
  ASSERT_TRUE(caps.ok());
  auto has = [&](const char* c) { return std::find(caps->begin(), caps->end(), c) != caps->end(); };
  EXPECT_TRUE(has("CAP_SYS_ADMIN"));
  EXPECT_FALSE(has("CAP_CHOWN"));
  EXPECT_FALSE(has("CAP_NET_RAW"));
  EXPECT_TRUE(has("CAP_KILL"));
  auto none = AdjustCapabilities(DefaultCapabilities(), {}, {"ALL"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(AdjustCapabilities({}, {"bogus"}, {}).ok());
  EXPECT_EQ(DefaultCapabilities().size(), 14u);
}

TEST(SeccompTest, DefaultProfileCompilesAndBadProfilesAreRejected) {
  auto program = CompileSeccompProfile(DefaultSeccompProfile(), DefaultCapabilities());
  ASSERT_TRUE(program.ok()) << program.status().ToString();
  EXPECT_EQ(program->size() % 8, 0u);  // sock_filter instructions
  auto lifted = CompileSeccompProfile(DefaultSeccompProfile(), AllCapabilities());
  ASSERT_TRUE(lifted.ok());
  EXPECT_LT(lifted->size(), program->size());  // capability-gated rules drop out
  EXPECT_FALSE(LoadSeccompProgram("abc").ok());
  EXPECT_FALSE(CompileSeccompProfile("[]", {}).ok());
  EXPECT_FALSE(CompileSeccompProfile(R"({"defaultAction":"SCMP_ACT_WHAT"})", {}).ok());
  EXPECT_FALSE(CompileSeccompProfile(
      R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]})",
      {}).ok());
  EXPECT_FALSE(CompileSeccompProfile(
      R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_SOMETIMES"}]}]})",
      {}).ok());
  // Unknown syscall names are skipped, as on kernels that lack them.
  EXPECT_TRUE(CompileSeccompProfile(
      R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","no_such_call"],"action":"SCMP_ACT_ALLOW"}]})",
      {}).ok());
}

// Architectures a profile names are filtered too: their calls no longer fall to the kill of an
// unknown architecture. The program checks the i386 audit value only once x86 is added.
TEST(SeccompTest, ArchitecturesAreAddedAndUnknownOnesRefused) {
  const std::string base = R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}])";
  auto has_i386 = [](const std::string& program) {
    const uint32_t kAuditArchI386 = 0x40000003;
    for (size_t i = 0; i + 8 <= program.size(); i += 8) {
      uint32_t k;
      std::memcpy(&k, program.data() + i + 4, sizeof k);
      if (k == kAuditArchI386) return true;
    }
    return false;
  };
  auto native = CompileSeccompProfile(base + "}", {});
  auto with_x86 = CompileSeccompProfile(base + R"(,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]})", {});
  ASSERT_TRUE(native.ok() && with_x86.ok()) << with_x86.status().ToString();
#if defined(__x86_64__)
  EXPECT_FALSE(has_i386(*native));
  EXPECT_TRUE(has_i386(*with_x86));
  auto mapped = CompileSeccompProfile(
      base + R"(,"archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]},{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}]})", {});
  ASSERT_TRUE(mapped.ok()) << mapped.status().ToString();
  EXPECT_TRUE(has_i386(*mapped));
#endif
  auto bad = CompileSeccompProfile(base + R"(,"architectures":["SCMP_ARCH_PDP11"]})", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("SCMP_ARCH_PDP11"), std::string::npos);
  EXPECT_TRUE(CompileSeccompProfile(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]})", {}).ok());
}

TEST(SpecValidation, ProcMountsFollowRuncsRule) {
  EXPECT_TRUE(ValidateProcMount({"/proc", "proc", "proc", {}}).ok());
  EXPECT_FALSE(ValidateProcMount({"/proc", "bind", "/tmp", {}}).ok());
  EXPECT_FALSE(ValidateProcMount({"/proc/", "tmpfs", "tmpfs", {}}).ok());
  EXPECT_FALSE(ValidateProcMount({"/proc/sys", "bind", "/tmp", {}}).ok());
  EXPECT_TRUE(ValidateProcMount({"/proc/meminfo", "bind", "/var/lib/lxcfs/proc/meminfo", {}}).ok());
  EXPECT_TRUE(ValidateProcMount({"/processes", "bind", "/tmp", {}}).ok());
}

TEST(SpecValidation, Hostnames) {
  EXPECT_TRUE(ValidateHostname("").ok());
  EXPECT_TRUE(ValidateHostname(std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidateHostname(std::string(65, 'a')).ok());
  EXPECT_FALSE(ValidateHostname("a b").ok());
  EXPECT_FALSE(ValidateHostname("a/b").ok());
}

}  // namespace
}  // namespace bd::runtime
