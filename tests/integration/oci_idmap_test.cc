// basic-runtime's idmapped mounts (mounts[].uidMappings / gidMappings, "idmap" / "ridmap"), with
// and without a container user namespace, as the runtime spec and runc define them.
#include <sys/stat.h>
#include <unistd.h>

#include "integration/oci_runtime_fixture.h"

namespace bd::testing {
namespace {

json Map(uint32_t container, uint32_t host, uint32_t size) {
  return json::array({{{"containerID", container}, {"hostID", host}, {"size", size}}});
}

class OciIdmapTest : public OciRuntimeTest {
 protected:
  void SetUp() override {
    OciRuntimeTest::SetUp();
    if (IsSkipped()) return;
    src_ = dir_->path() + "/src";
    ASSERT_TRUE(os::MkdirAll(src_).ok());
    for (auto [name, uid, gid] : {std::tuple{"root.txt", 0, 0}, std::tuple{"a.txt", 100, 211}, std::tuple{"b.txt", 101, 222}}) {
      ASSERT_TRUE(os::WriteFile(src_ + "/" + name, "x").ok());
      ASSERT_EQ(::chown((src_ + "/" + name).c_str(), uid, gid), 0);
    }
    ASSERT_EQ(::chmod(src_.c_str(), 0777), 0);
    ASSERT_EQ(::chmod(dir_->path().c_str(), 0755), 0);  // a mapped root must reach the bundle
  }
  void UserNamespace() {
    ASSERT_EQ(RunCmd({"/bin/chown", "-R", "100000:100000", bundle_ + "/rootfs"}).code, 0);
    config_["linux"]["namespaces"].push_back({{"type", "user"}});
    config_["linux"]["uidMappings"] = Map(0, 100000, 65536);
    config_["linux"]["gidMappings"] = Map(0, 100000, 65536);
  }
  void AddMount(const std::string& dest, std::vector<std::string> options, json uids, json gids) {
    json m = {{"source", src_}, {"destination", dest}, {"type", "bind"}, {"options", std::move(options)}};
    if (!uids.is_null()) m["uidMappings"] = std::move(uids);
    if (!gids.is_null()) m["gidMappings"] = std::move(gids);
    config_["mounts"].push_back(std::move(m));
  }
  // "=uid=gid=" of each path, one per line.
  CmdResult Stat(const std::string& paths) {
    SetArgs({"sh", "-c", "for f in " + paths + "; do busybox stat -c =%n:%u=%g= $f; done"});
    return Rt({"run", "--bundle", bundle_, "c1"});
  }
  std::string src_;
};

TEST_F(OciIdmapTest, WithoutAUserNamespaceIdsAppearMappedAndAPlainBindDoesNot) {
  AddMount("/m1", {"bind"}, Map(0, 100000, 65536), Map(0, 100000, 65536));
  AddMount("/plain", {"bind"}, nullptr, nullptr);
  AddMount("/m2", {"bind"}, Map(100, 1100, 3), Map(200, 1900, 50));
  CmdResult r = Stat("/m1/root.txt /plain/root.txt /m2/a.txt /m2/b.txt");
  if (r.err.find("cannot be idmapped") != std::string::npos) GTEST_SKIP() << "this filesystem has no idmapped mounts: " << r.err;
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "=/m1/root.txt:100000=100000=\n=/plain/root.txt:0=0=\n=/m2/a.txt:1100=1911=\n=/m2/b.txt:1101=1922=\n");
  // Root of the container has no id on the mount: a new file cannot be owned.
  SetArgs({"sh", "-c", "touch /m1/new"});
  r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("Value too large"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(src_ + "/new"));
}

TEST_F(OciIdmapTest, WithAUserNamespaceTheMountShowsTheSourceOwnersAsTheContainersIds) {
  UserNamespace();
  AddMount("/m1", {"bind"}, Map(0, 100000, 65536), Map(0, 100000, 65536));
  AddMount("/plain", {"bind"}, nullptr, nullptr);
  AddMount("/own", {"bind", "idmap", "shared"}, nullptr, nullptr);  // the container's own maps
  CmdResult r = Stat("/m1/root.txt /plain/root.txt /own/a.txt");
  if (r.err.find("cannot be idmapped") != std::string::npos) GTEST_SKIP() << "this filesystem has no idmapped mounts: " << r.err;
  ASSERT_EQ(r.code, 0) << r.err;
  std::string overflow = os::ReadFile("/proc/sys/kernel/overflowuid").value_or("65534\n");
  overflow.pop_back();
  EXPECT_EQ(r.out, "=/m1/root.txt:0=0=\n=/plain/root.txt:" + overflow + "=" + overflow + "=\n=/own/a.txt:100=211=\n");
  // A file made through the mount by the container's root is root's on the host.
  SetArgs({"sh", "-c", "touch /m1/made && busybox stat -c =%u=%g= /m1/made; grep ' /own ' /proc/self/mountinfo"});
  r = Rt({"run", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "=0=0=");
  EXPECT_NE(r.out.find("shared:"), std::string::npos) << r.out;  // propagation applied after the attach
  struct stat st;
  ASSERT_EQ(::stat((src_ + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(OciIdmapTest, RidmapMapsEveryMountOfTheTreeAndIdmapOnlyTheTop) {
  // A mount below the source: only "ridmap" maps it too.
  std::string sub = src_ + "/sub";
  ASSERT_TRUE(os::MkdirAll(sub).ok());
  std::string inner = dir_->path() + "/inner";
  ASSERT_TRUE(os::MkdirAll(inner).ok());
  ASSERT_TRUE(os::WriteFile(inner + "/f", "x").ok());
  // The sub-mount is made in a throwaway mount namespace and the runtime runs inside it.
  json uids = Map(0, 5000, 10), gids = Map(0, 5000, 10);
  AddMount("/r", {"rbind", "ridmap"}, uids, gids);
  AddMount("/t", {"rbind", "idmap"}, uids, gids);
  SetArgs({"sh", "-c", "busybox stat -c %u /r/sub/f /t/sub/f /t/root.txt"});
  CmdResult r = RunCmd({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                        "mount --bind " + inner + " " + sub + " && exec " + kRuntime + " --root " + state_ +
                            " run --bundle " + bundle_ + " c1"},
                       "", 30);
  if (r.err.find("cannot be idmapped") != std::string::npos) GTEST_SKIP() << "this filesystem has no idmapped mounts: " << r.err;
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "5000\n0\n5000\n");
}

}  // namespace
}  // namespace bd::testing
