// Safety and integrity: the runtime never mounts in its caller's mount namespace, the data
// root is closed to other host users, and interrupted or racing commands lose nothing.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/strings.h"
#include "engine/images.h"
#include "integration/cli_helper.h"
#include "os/fs.h"
#include "runtime/launch.h"
#include "runtime/spec.h"

namespace bd::testing {
namespace {

// Runs `body` in a child inside a throwaway pid and mount namespace (the mount tree private);
// returns the child's exit code. Whatever `body` mounts dies with that namespace.
int InThrowawayNamespace(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS | CLONE_NEWPID) < 0) ::_exit(90);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) ::_exit(91);
    pid_t inner = ::fork();  // pid 1 of the new pid namespace
    if (inner == 0) ::_exit(body());
    int status = 0;
    ::waitpid(inner, &status, 0);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 92);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The runtime library itself, handed a spec without a mount namespace (as a caller that skips
// the config checks would), refuses before its first mount.
TEST(RuntimeSafety, LaunchRefusesToMountInTheCallersNamespace) {
  if (std::string why = MissingPrivilege(); !why.empty()) GTEST_SKIP() << why;
  auto dir = os::TempDir::Create("/tmp", "bd-mntns-");
  ASSERT_TRUE(dir.ok());
  std::string rootfs = dir->path() + "/rootfs";
  ASSERT_TRUE(os::MkdirAll(rootfs + "/bin").ok());
  ASSERT_TRUE(os::WriteFile(rootfs + "/bin/busybox", *os::ReadFile(engine::BusyboxPath()), 0755).ok());
  std::string message_file = dir->path() + "/message";
  std::vector<std::string> before = HostMountPoints();
  int code = InThrowawayNamespace([&] {
    runtime::Spec spec;
    spec.id = "no-mount-ns";
    spec.rootfs = rootfs;
    spec.namespaces = {"uts", "ipc"};  // no "mount"
    spec.mounts = runtime::DefaultMounts();
    spec.process.args = {"/bin/busybox", "true"};
    runtime::LaunchError error;
    auto child = runtime::Launch(spec, {}, &error);
    if (child.ok()) return 1;
    (void)os::WriteFile(message_file, child.status().message());
    return child.status().message().find("refusing to mount") != std::string::npos ? 0 : 2;
  });
  auto message = os::ReadFile(message_file);
  EXPECT_EQ(code, 0) << (message.ok() ? *message : "");
  EXPECT_EQ(HostMountPoints(), before);
}

class DataRootTest : public EngineTest {};

// As `nobody`: runs `sh -c script` and returns its result.
CmdResult AsNobody(const std::string& script) {
  return RunCmd({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "/bin/sh", "-c", script}, "", 30);
}

TEST_F(DataRootTest, OtherHostUsersReachNothingUnderTheDataRoot) {
  // Our temp parent lets everyone through, so only the data root's own modes protect it.
  ASSERT_EQ(::chmod(dir_->path().c_str(), 0755), 0);
  ASSERT_EQ(Cli({"import", WriteFile("rootfs.tar", ProbeLayerTar()), "probe"}).code, 0);
  // Container root leaves a setuid-root copy of busybox and a world-writable device node in its
  // upper directory, as an attacker inside would.
  CmdResult run = Cli({"run", "-d", "--name", "evil", "probe", "sh", "-c",
                       "cat /bin/busybox > /tmp/p && chmod 4755 /tmp/p && sleep 600"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::string id = std::string(TrimSpace(run.out));
  std::string upper = root_ + "/containers/" + id + "/upper/tmp/p";
  struct stat st {};
  for (int i = 0; i < 250 && !(::stat(upper.c_str(), &st) == 0 && (st.st_mode & S_ISUID)); ++i) {
    ::usleep(20000);
  }
  ASSERT_TRUE(st.st_mode & S_ISUID);

  for (const std::string& path : {root_, root_ + "/containers", root_ + "/layers",
                                  root_ + "/blobs/sha256", root_ + "/containers/" + id}) {
    CmdResult ls = AsNobody("ls '" + path + "'");
    EXPECT_NE(ls.code, 0) << path << " is listable by nobody: " << ls.out;
  }
  CmdResult escalate = AsNobody("'" + upper + "' id -u");
  EXPECT_NE(escalate.code, 0) << escalate.out;
  EXPECT_EQ(escalate.out.find("\n0"), std::string::npos);
  struct stat root_st;
  ASSERT_EQ(::stat(root_.c_str(), &root_st), 0);
  EXPECT_EQ(root_st.st_mode & 077, 0u);

  // The shim's command line does not name the container.
  auto shim = RunCmd({"/bin/sh", "-c", "ps -eo args | grep '[b]asic-docker-shim' | grep -- '" + root_ + "'"});
  EXPECT_EQ(shim.out.find(id), std::string::npos) << shim.out;
  EXPECT_FALSE(shim.out.empty());
}

// A data root made by an older version (0711) is closed on the next open.
TEST_F(DataRootTest, AnExistingOpenDataRootIsClosedOnOpen) {
  ASSERT_TRUE(os::MkdirAll(root_, 0711).ok());
  ASSERT_EQ(::chmod(root_.c_str(), 0711), 0);
  ASSERT_EQ(Cli({"ps"}).code, 0);
  struct stat st;
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

}  // namespace
}  // namespace bd::testing
