// Safety and integrity: the runtime never mounts in its caller's mount namespace, the data
// root is closed to other host users, and interrupted or racing commands lose nothing.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/strings.h"
#include "engine/images/store.h"
#include "integration/cli_helper.h"
#include "os/fs.h"
#include "runtime/launch.h"
#include "runtime/live_mount.h"
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
    auto child = runtime::Launch(spec, {});
    if (child.ok()) return 1;
    (void)os::WriteFile(message_file, child.status().message());
    return child.status().message().find("refusing to mount") != std::string::npos ? 0 : 2;
  });
  auto message = os::ReadFile(message_file);
  EXPECT_EQ(code, 0) << (message.ok() ? *message : "");
  EXPECT_EQ(HostMountPoints(), before);
}

// A gated exec (what exec --once prepares while its claim commits) runs nothing until it is
// released: dropped, it ends unrun; released, it runs; a command that is not there fails at
// once, before any release.
TEST(RuntimeSafety, GatedExecRunsOnlyOnceReleased) {
  if (std::string why = MissingPrivilege(); !why.empty()) GTEST_SKIP() << why;
  auto dir = os::TempDir::Create("/tmp", "bd-gate-");
  ASSERT_TRUE(dir.ok());
  std::string rootfs = dir->path() + "/rootfs";
  ASSERT_TRUE(os::MkdirAll(rootfs + "/bin").ok());
  ASSERT_TRUE(os::WriteFile(rootfs + "/bin/busybox", *os::ReadFile(engine::BusyboxPath()), 0755).ok());
  std::string message_file = dir->path() + "/message";
  int code = InThrowawayNamespace([&] {
    auto say = [&](int rc, const std::string& m) {
      (void)os::WriteFile(message_file, m);
      return rc;
    };
    runtime::Spec spec;
    spec.id = "gate";
    spec.rootfs = rootfs;
    spec.namespaces = {"mount", "pid", "uts", "ipc"};
    spec.mounts = runtime::DefaultMounts();
    spec.process.args = {"/bin/busybox", "sleep", "60"};
    auto box = runtime::Launch(spec, {});
    if (!box.ok()) return say(1, box.status().ToString());
    int rc = [&] {
      runtime::Process touch = spec.process;
      touch.args = {"/bin/busybox", "touch", "/dropped"};
      auto dropped = runtime::ExecIn(box->pidfd(), spec, touch, {}, false, /*gated=*/true);
      if (!dropped.ok()) return say(2, dropped.status().ToString());
      ::usleep(100000);  // time enough to run, were it not held
      dropped->gate.Reset();
      auto st = dropped->helper.Wait();
      if (!st.ok() || runtime::ExitCodeFromWaitStatus(*st) != runtime::kExitEngineFailed) return say(3, "dropped exec did not end unrun");
      if (os::Exists(rootfs + "/dropped")) return say(4, "a dropped gated exec ran");
      touch.args = {"/bin/busybox", "touch", "/released"};
      auto released = runtime::ExecIn(box->pidfd(), spec, touch, {}, false, /*gated=*/true);
      if (!released.ok()) return say(5, released.status().ToString());
      if (os::Exists(rootfs + "/released")) return say(6, "a gated exec ran before its release");
      if (Status r = runtime::ReleaseExec(*released); !r.ok()) return say(7, r.ToString());
      st = released->helper.Wait();
      if (!st.ok() || runtime::ExitCodeFromWaitStatus(*st) != 0) return say(8, "released exec failed");
      if (!os::Exists(rootfs + "/released")) return say(9, "a released exec did not run");
      if (runtime::ReleaseExec(*released).ok()) return say(10, "a second release was accepted");
      touch.args = {"/no/such/command"};
      auto missing = runtime::ExecIn(box->pidfd(), spec, touch, {}, false, /*gated=*/true);
      if (missing.ok() || missing.status().command_failure() != CommandFailure::kNotFound) return say(11, "a missing command was prepared");
      return 0;
    }();
    (void)box->Signal(SIGKILL);
    (void)box->Wait();
    return rc;
  });
  auto message = os::ReadFile(message_file);
  EXPECT_EQ(code, 0) << (message.ok() ? *message : "");
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

// Commands killed (SIGKILL, through $BASIC_DOCKER_CRASH_AT) at chosen points of multi-step
// operations: nothing half-done is ever reused, and a retry or the next command finishes.
class CrashTest : public EngineTest {
 protected:
  CmdResult CliKilledAt(const std::string& point, std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "BASIC_DOCKER_CRASH_AT=" + point,
                               std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_});
    return RunCmd(args, "", 60);
  }
  std::vector<std::string> Entries(const std::string& sub) {
    auto names = os::ListDir(root_ + "/" + sub);
    return names.ok() ? *names : std::vector<std::string>();
  }
  void ImportProbe() {
    CmdResult r = Cli({"import", WriteFile("rootfs.tar", ProbeLayerTar()), "probe"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
};

TEST_F(CrashTest, RmiKilledMidDeleteNeverLeavesAHalfLayerForTheNextImport) {
  ImportProbe();
  ASSERT_EQ(Entries("layers").size(), 1u);
  // Killed once the layer is renamed out of sight, before its files are gone.
  CmdResult r = CliKilledAt("remove.after-rename", {"rmi", "probe"});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(Entries("layers").empty());
  EXPECT_EQ(Cli({"images", "-q"}).out, "");
  EXPECT_TRUE(Entries("trash").empty());  // swept by the next command
  // The same content again is unpacked whole, not taken from a half-deleted directory.
  ImportProbe();
  r = Cli({"run", "--rm", "probe", "sh", "-c", "ls /bin/bd-probe /bin/busybox"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CrashTest, RmiKilledAfterItsCommitLeavesNoUntaggedImage) {
  ImportProbe();
  CmdResult r = CliKilledAt("rmi.after-commit", {"rmi", "probe"});
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(Cli({"images", "-q"}).out, "");  // gone whole: no <none> left behind
  ASSERT_EQ(Entries("layers").size(), 1u);    // its files await collection
  r = Cli({"capsule", "gc"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Entries("layers").empty());
  EXPECT_TRUE(Entries("blobs/sha256").empty());
}

TEST_F(CrashTest, RmForceKilledMidDeleteIsFinishedByARetry) {
  ImportProbe();
  CmdResult run = Cli({"run", "-d", "--name", "victim", "probe", "sh", "-c", "sleep 600"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::string id(TrimSpace(run.out));
  for (const char* point : {"remove.after-rename", "rm.before-record"}) {
    SCOPED_TRACE(point);
    CmdResult r = CliKilledAt(point, {"rm", "-f", "victim"});
    EXPECT_NE(r.code, 0);
    if (std::string_view(point) == "rm.before-record") break;
    // The record is still there; the directory is gone whole or not at all.
    EXPECT_EQ(Cli({"ps", "-a", "-q"}).out.empty(), false);
    EXPECT_TRUE(Entries("containers").empty());
  }
  CmdResult r = Cli({"rm", "-f", "victim"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
  EXPECT_TRUE(Entries("containers").empty());
  EXPECT_TRUE(Entries("trash").empty());
  EXPECT_FALSE(os::Exists("/run/basic-docker/" + id + ".sock"));
}

TEST_F(CrashTest, ACreateKilledHalfwayIsRemovedWhole) {
  ImportProbe();
  CmdResult r = CliKilledAt("create.rootfs-partial", {"run", "-d", "--name", "half", "probe", "sh"});
  EXPECT_NE(r.code, 0);
  ASSERT_EQ(Entries("containers").size(), 1u);  // a directory without `upper`
  r = Cli({"rm", "-f", "half"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Entries("containers").empty());
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
}

TEST_F(CrashTest, KilledImportLeavesNothingThatOutlivesTheNextCommand) {
  CmdResult r = CliKilledAt("import.before-rename", {"import", WriteFile("rootfs.tar", ProbeLayerTar()), "probe"});
  EXPECT_NE(r.code, 0);
  EXPECT_FALSE(Entries("tmp").empty() && Entries("ingest").empty());  // its scratch, left behind
  EXPECT_EQ(Cli({"images", "-q"}).code, 0);
  EXPECT_TRUE(Entries("tmp").empty());
  EXPECT_TRUE(Entries("ingest").empty());
  EXPECT_TRUE(Entries("layers").empty());
  EXPECT_EQ(Cli({"images", "-q"}).out, "");
}

TEST_F(CrashTest, CapsuleAttachKilledAfterItsRecordIsNeverCollectedUnderTheContainer) {
  if (!runtime::LiveMountSupported()) GTEST_SKIP() << "kernel lacks open_tree/mount_setattr (5.12+)";
  std::string content = dir_->path() + "/content";
  ASSERT_TRUE(os::MkdirAll(content).ok());
  ASSERT_TRUE(os::WriteFile(content + "/data", "precious\n").ok());
  ASSERT_EQ(Cli({"capsule", "create", "--name", "cfg", "--version", "1.0.0", "--path", content}).code, 0);
  ImportProbe();
  ASSERT_EQ(Cli({"run", "-d", "--name", "user", "probe", "sh", "-c", "sleep 600"}).code, 0);
  CmdResult r = CliKilledAt("capsule-attach.after-record", {"capsule", "attach", "user", "cfg:1.0.0"});
  EXPECT_NE(r.code, 0);
  // The recorded intent protects the capsule: rm is refused and gc keeps its tree.
  r = Cli({"capsule", "rm", "cfg:1.0.0"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("attached"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"capsule", "gc"}).code, 0);
  // Reconciliation carried the intent out: the capsule is there, whole.
  r = Cli({"exec", "user", "cat", "/capsules/cfg/1.0.0/data"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "precious\n");
}

TEST_F(CrashTest, GcWaitsForAnImportInProgress) {
  std::string fifo = dir_->path() + "/in.tar";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string tar = ProbeLayerTar();
  std::string import_out = dir_->path() + "/import.out";
  std::string gc_out = dir_->path() + "/gc.out";
  std::string bd = std::string(BD_BIN_DIR) + "/basic-docker --root " + root_;
  // The import holds the store lock while it reads; gc must wait for it, not take its files.
  pid_t import = ::fork();
  if (import == 0) {
    ::execl("/bin/sh", "sh", "-c", (bd + " import " + fifo + " probe >" + import_out + " 2>&1").c_str(), nullptr);
    ::_exit(127);
  }
  int w = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // gc must not hold it open
  ASSERT_GE(w, 0);
  ASSERT_EQ(::write(w, tar.data(), tar.size() / 2), static_cast<ssize_t>(tar.size() / 2));
  ::usleep(200000);
  ASSERT_FALSE(Entries("ingest").empty() && Entries("tmp").empty());
  pid_t gc = ::fork();
  if (gc == 0) {
    ::execl("/bin/sh", "sh", "-c", (bd + " capsule gc >" + gc_out + " 2>&1").c_str(), nullptr);
    ::_exit(127);
  }
  ::usleep(300000);
  int status = 0;
  EXPECT_EQ(::waitpid(gc, &status, WNOHANG), 0) << "gc ran while an import was writing";
  size_t rest = tar.size() - tar.size() / 2;
  ASSERT_EQ(::write(w, tar.data() + tar.size() / 2, rest), static_cast<ssize_t>(rest));
  ::close(w);
  ASSERT_EQ(::waitpid(import, &status, 0), import);
  EXPECT_EQ(WEXITSTATUS(status), 0) << *os::ReadFile(import_out);
  ASSERT_EQ(::waitpid(gc, &status, 0), gc);
  EXPECT_EQ(WEXITSTATUS(status), 0) << *os::ReadFile(gc_out);
  CmdResult r = Cli({"run", "--rm", "probe", "sh", "-c", "ls /bin/bd-probe"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(CrashTest, ConcurrentCreatesOfOneCapsuleEndInOneRecordAndNoops) {
  std::string content = dir_->path() + "/content";
  ASSERT_TRUE(os::MkdirAll(content).ok());
  ASSERT_TRUE(os::WriteFile(content + "/data", std::string(1 << 20, 'x')).ok());
  std::vector<pid_t> pids;
  for (int i = 0; i < 8; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string out = dir_->path() + "/create." + std::to_string(i);
      int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::string bin = std::string(BD_BIN_DIR) + "/basic-docker";
      ::execl(bin.c_str(), bin.c_str(), "--root", root_.c_str(), "capsule", "create", "--name", "same",
              "--version", "1.0.0", "--path", content.c_str(), nullptr);
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    ::waitpid(pids[i], &status, 0);
    std::string out = *os::ReadFile(dir_->path() + "/create." + std::to_string(i));
    EXPECT_EQ(WEXITSTATUS(status), 0) << out;
    EXPECT_EQ(out.find("UNIQUE"), std::string::npos) << out;
  }
  CmdResult ls = Cli({"capsule", "ls", "-q"});
  EXPECT_EQ(std::count(ls.out.begin(), ls.out.end(), '\n'), 1) << ls.out;
}

class BadInputTest : public EngineTest {};

TEST_F(BadInputTest, NonUtf8BytesGetAClearErrorAndChangeNothing) {
  const std::string bad = "caf\xe9";  // Latin-1, not UTF-8
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", "-e", "K=" + bad, "busybox", "true"},
        {"run", "-l", "k=" + bad, "busybox", "true"},
        {"run", "busybox", "echo", bad},
        {"run", "-h", bad, "busybox", "true"},
        {"create", "-w", "/" + bad, "busybox", "true"}}) {
    CmdResult r = Cli(args);
    EXPECT_EQ(r.code, 125) << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(args[1] == "-h" ? "invalid hostname" : "not valid UTF-8"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
  std::string content = WriteFile("content", "x");
  CmdResult r = Cli({"capsule", "create", "--name", "c1", "--version", "1.0.0", "--path", content, "-l", "k=" + bad});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("not valid UTF-8"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"capsule", "ls", "-q"}).out, "");
  // A running container refuses it for exec too.
  ASSERT_EQ(Cli({"run", "-d", "--name", "box", "busybox", "sleep", "600"}).code, 0);
  r = Cli({"exec", "box", "echo", bad});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("not valid UTF-8"), std::string::npos) << r.err;
}

TEST_F(BadInputTest, HostnamesProcMountsAndPseudoFilesAreRefused) {
  CmdResult r = Cli({"run", "--rm", "-h", std::string(65, 'h'), "busybox", "true"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("at most 64"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"run", "--rm", "-h", std::string(64, 'h'), "busybox", "true"}).code, 0);
  std::string dir = dir_->path() + "/vol";
  ASSERT_TRUE(os::MkdirAll(dir).ok());
  for (const char* dest : {"/proc", "/proc/sys", "/proc/1"}) {
    r = Cli({"run", "--rm", "-v", dir + ":" + dest, "busybox", "true"});
    EXPECT_EQ(r.code, 125) << dest;
    EXPECT_NE(r.err.find("/proc"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Cli({"ps", "-a", "-q"}).out, "");
  r = Cli({"capsule", "create", "--name", "status", "--version", "1.0.0", "--path", "/proc/self/status"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("pseudo filesystem"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"capsule", "ls", "-q"}).out, "");
}

class LogBombTest : public EngineTest {};

TEST_F(LogBombTest, LogsAreRotatedAtMaxSizeAndMaxFile) {
  CmdResult r = Cli({"run", "--name", "chatty", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
                     "busybox", "sh", "-c", "i=0; while [ $i -lt 500 ]; do echo line $i; i=$((i+1)); done"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string log = root_ + "/containers/" + Cli({"ps", "-a", "-q", "--no-trunc"}).out.substr(0, 64) + "/ctr.log";
  ASSERT_TRUE(os::Exists(log));
  EXPECT_TRUE(os::Exists(log + ".1"));
  EXPECT_FALSE(os::Exists(log + ".2"));
  EXPECT_LE(os::DiskUsage(log), 1024);
  EXPECT_LE(os::DiskUsage(log + ".1"), 1024);
  EXPECT_EQ(Cli({"logs", "--tail", "2", "chatty"}).out, "line 498\nline 499\n");
  std::string all = Cli({"logs", "chatty"}).out;
  EXPECT_EQ(all.substr(all.size() - 9), "line 499\n");
  EXPECT_LT(all.size(), 2048u);
  // An engine-wide default from daemon.json, and a bad one refused with its file named.
  ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json", R"({"log-opts": {"max-size": "2k", "max-file": "3"}})").ok());
  ASSERT_EQ(Cli({"create", "--name", "defaults", "busybox", "true"}).code, 0);
  std::string inspect = Cli({"inspect", "defaults"}).out;
  EXPECT_NE(inspect.find("\"max-size\": \"2048\""), std::string::npos) << inspect;
  EXPECT_NE(inspect.find("\"max-file\": \"3\""), std::string::npos);
  ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json", R"({"log-opts": {"max-size": "huge"}})").ok());
  r = Cli({"create", "busybox", "true"});
  EXPECT_EQ(r.code, 125);
  EXPECT_NE(r.err.find("daemon.json"), std::string::npos) << r.err;
  r = Cli({"create", "--log-opt", "max-file=0", "busybox", "true"});
  EXPECT_EQ(r.code, 125);
}

// `logs --tail` reads from the end and `logs` streams: a log of hundreds of MB costs neither
// time nor memory in proportion to its size.
TEST_F(LogBombTest, AHugeLogIsReadInBoundedMemory) {
  ASSERT_EQ(Cli({"run", "--name", "big", "--log-opt", "max-size=-1", "busybox", "echo", "hi"}).code, 0);
  std::string id = Cli({"ps", "-a", "-q", "--no-trunc"}).out.substr(0, 64);
  std::string log = root_ + "/containers/" + id + "/ctr.log";
  {
    auto fd = os::Open(log, O_WRONLY | O_APPEND);
    ASSERT_TRUE(fd.ok());
    std::string block;
    for (int i = 0; i < 4096; ++i) block += "2026-12-01T10:00:00.000000000Z stdout F " + std::string(200, 'x') + "\n";
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(os::WriteAll(fd->get(), block).ok());  // ~290 MB
    ASSERT_TRUE(os::WriteAll(fd->get(), "2026-12-01T10:00:01.000000000Z stdout F the end\n").ok());
  }
  auto started = std::chrono::steady_clock::now();
  CmdResult r = Cli({"logs", "--tail", "1", "big"});
  double tail_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.out, "the end\n");
  EXPECT_LT(tail_s, 1.0);
  r = RunCmd({"/bin/sh", "-c", std::string(BD_BIN_DIR) + "/basic-docker --root " + root_ + " logs big | tail -n 1"}, "", 120);
  EXPECT_EQ(r.out, "the end\n");
  rusage ru{};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &ru), 0);
  EXPECT_LT(ru.ru_maxrss, 64 * 1024) << "KiB: the largest child held the log in memory";
  ::unlink(log.c_str());
}

// A small archive that decompresses to far more than the disk can spare: refused once the
// reserve would be crossed, with nothing kept.
TEST_F(LogBombTest, ADecompressionBombStopsAtTheStorageReserve) {
  std::string bomb = dir_->path() + "/bomb.tar.gz";
  CmdResult made = RunCmd({"/bin/sh", "-c", "cd " + dir_->path() +
                           " && truncate -s 512M zeros && tar -c zeros | gzip -1 > " + bomb + " && rm zeros"},
                          "", 120);
  ASSERT_EQ(made.code, 0) << made.err;
  ASSERT_LT(os::DiskUsage(bomb), 8 << 20);
  struct statvfs fs;
  ASSERT_EQ(::statvfs(dir_->path().c_str(), &fs), 0);
  int64_t avail = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  // A reserve that leaves this import 100 MiB of room.
  ASSERT_TRUE(os::MkdirAll(root_, 0700).ok());
  int64_t reserve_mib = (avail >> 20) - 100;
  ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json",
                            "{\"storage-reserve\": \"" + std::to_string(reserve_mib) + "m\"}").ok());
  CmdResult r = Cli({"import", bomb, "bomb"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("reserve"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"images", "-q"}).out, "");
  for (const char* sub : {"tmp", "ingest", "layers", "blobs/sha256"}) {
    auto names = os::ListDir(root_ + "/" + sub);
    EXPECT_TRUE(!names.ok() || names->empty()) << sub;
  }
  // With room to spare the same archive imports.
  ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json", "{\"storage-reserve\": \"0\"}").ok());
  EXPECT_EQ(Cli({"import", bomb, "bomb"}).code, 0);
  EXPECT_EQ(Cli({"rmi", "bomb"}).code, 0);
}

}  // namespace
}  // namespace bd::testing
