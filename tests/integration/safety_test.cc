// Safety and integrity: the runtime never mounts in its caller's mount namespace, the data
// root is closed to other host users, and interrupted or racing commands lose nothing.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

}  // namespace
}  // namespace bd::testing
