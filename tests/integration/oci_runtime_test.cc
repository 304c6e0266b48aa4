// basic-runtime, the OCI runtime command line: driven directly on a bundle, and by podman.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "engine/images/store.h"
#include "integration/cli_helper.h"
#include "integration/oci_runtime_fixture.h"
#include "os/process.h"

namespace bd::testing {
namespace {

// Counts the lines of a /proc/PID/cgroup text for the hierarchies holding container `id`'s
// cgroup (basic-runtime/ID), expecting each to show the path `want`.
int LinesInContainerCgroup(const std::string& text, const std::string& id, const std::string& want) {
  int seen = 0;
  for (const std::string& line : Split(text, '\n')) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string mount = controllers.empty() ? (os::IsDir("/sys/fs/cgroup/unified") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup")
                        : controllers.rfind("name=", 0) == 0 ? "/sys/fs/cgroup/" + controllers.substr(5)
                                                             : "/sys/fs/cgroup/" + controllers;
    if (!os::IsDir(mount + "/basic-runtime/" + id)) continue;
    EXPECT_EQ(line.substr(b + 1), want) << text;
    ++seen;
  }
  return seen;
}

TEST_F(OciRuntimeTest, RunReturnsTheExitCodeAndCleansUp) {
  SetArgs({"sh", "-c", "hostname; id -u; cat /proc/self/status | grep CapEff; exit 7"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_EQ(r.code, 7) << r.err;
  EXPECT_EQ(r.out, "basic-runtime\n0\nCapEff:\t0000000020000420\n");  // AUDIT_WRITE, KILL, NET_BIND
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
  EXPECT_NE(Rt({"state", "c1"}).err.find("does not exist"), std::string::npos);
}

// A config without a mount namespace would mount and pivot_root in the caller's namespace:
// refused as runc does. Run in a throwaway pid and mount namespace, so that a regression
// replaces the root of that sandbox only, never the machine's.
TEST_F(OciRuntimeTest, RefusesAConfigWithoutAMountNamespace) {
  json kept = json::array();
  for (const json& n : config_["linux"]["namespaces"]) {
    if (n["type"] != "mount") kept.push_back(n);
  }
  config_["linux"]["namespaces"] = kept;
  SetArgs({"true"});
  std::vector<std::string> before = HostMountPoints();
  CmdResult r = RunCmd({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--mount", "--propagation",
                        "private", kRuntime, "--root", state_, "run", "--bundle", bundle_, "c1"},
                       "", 30);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("without a private MNT namespace"), std::string::npos) << r.err;
  EXPECT_EQ(HostMountPoints(), before);
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
}

TEST_F(OciRuntimeTest, KillWithSignalZeroProbesAndForcedDeleteOfNothingSucceeds) {
  SetArgs({"sleep", "600"});
  ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
  EXPECT_EQ(Rt({"kill", "c1", "0"}).code, 0);  // nothing sent: the process is there
  EXPECT_EQ(State("c1")["status"], "running");
  ASSERT_EQ(Rt({"kill", "c1", "KILL"}).code, 0);
  for (int i = 0; i < 100 && State("c1")["status"] != "stopped"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(Rt({"kill", "c1", "0"}).code, 0);  // gone
  EXPECT_EQ(Rt({"delete", "c1"}).code, 0);
  CmdResult r = Rt({"delete", "--force", "never-was"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_NE(Rt({"delete", "never-was"}).code, 0);
}

// A non-root process.user: `create` leaves it waiting (created), `start` runs it.
TEST_F(OciRuntimeTest, CreateAndStartWithANonRootUser) {
  config_["process"]["user"] = {{"uid", 65534}, {"gid", 65534}};
  config_["root"]["readonly"] = false;
  ASSERT_EQ(::chmod((bundle_ + "/rootfs").c_str(), 0777), 0);
  SetArgs({"sh", "-c", "id -u > /tmp-mark && busybox mv /tmp-mark /mark; sleep 600"});
  CmdResult r = RtDetached({"create", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(State("c1")["status"], "created");
  r = Rt({"start", "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 100 && !os::Exists(bundle_ + "/rootfs/mark"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto mark = os::ReadFile(bundle_ + "/rootfs/mark");
  ASSERT_TRUE(mark.ok());
  EXPECT_EQ(*mark, "65534\n");
  EXPECT_EQ(State("c1")["status"], "running");
}

TEST_F(OciRuntimeTest, ANamespacePathOfTheWrongTypeIsRefused) {
  json ns = config_["linux"]["namespaces"];
  ns.push_back({{"type", "uts"}, {"path", "/proc/self/ns/ipc"}});  // an ipc namespace given as uts
  json kept = json::array();
  for (const json& n : ns) {
    if (n["type"] != "uts" || n.contains("path")) kept.push_back(n);
  }
  config_["linux"]["namespaces"] = kept;
  SetArgs({"true"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("is not a uts namespace"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
}

// A user namespace: the rootfs belongs to the mapped root, the process is root inside and an
// unprivileged id outside; the device nodes are the host's, bound; exec joins the namespace.
TEST_F(OciRuntimeTest, UserNamespaceMapsRootAndExecJoinsIt) {
  ASSERT_EQ(::chmod(dir_->path().c_str(), 0755), 0);  // the mapped root must reach the bundle
  ASSERT_EQ(RunCmd({"/bin/chown", "-R", "100000:100000", bundle_ + "/rootfs"}).code, 0);
  config_["linux"]["namespaces"].push_back({{"type", "user"}});
  config_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  config_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  SetArgs({"sh", "-c", "id -u; cat /proc/self/uid_map; echo x > /dev/null && echo devnull-ok; "
                       "busybox stat -c %u /bin/busybox; grep -c ' /sys/fs/cgroup/' /proc/self/mounts; sleep 600"});
  CmdResult r = RtDetached({"run", "--detach", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string out;
  for (int i = 0; i < 100 && Split(out, '\n').size() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    out = os::ReadFile(dir_->path() + "/detached.out").value_or("");
  }
  auto lines = Split(out, '\n');
  ASSERT_GE(lines.size(), 5u) << out << r.err;
  EXPECT_EQ(lines[0], "0");
  EXPECT_EQ(Fields(lines[1]), (std::vector<std::string>{"0", "100000", "65536"}));
  EXPECT_EQ(lines[2], "devnull-ok");
  EXPECT_EQ(lines[3], "0");  // the file owned by host uid 100000 is root's inside
  EXPECT_NE(lines[4], "0");  // the cgroup hierarchies are there (bound on v1)
  // Outside, the process is host uid 100000.
  json st = State("c1");
  auto status = os::ReadFile("/proc/" + std::to_string(st["pid"].get<int>()) + "/status");
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("\nUid:\t100000\t100000\t100000\t100000\n"), std::string::npos) << *status;
  // In the container's cgroups, which it inherited from the clone helper.
  EXPECT_GT(LinesInContainerCgroup(os::ReadFile("/proc/" + std::to_string(st["pid"].get<int>()) + "/cgroup").value_or(""), "c1",
                                   "/basic-runtime/c1"), 0);
  CmdResult e = Rt({"exec", "c1", "sh", "-c", "id -u; cat /proc/self/uid_map"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("100000"), std::string::npos) << e.out;
  EXPECT_EQ(e.out.substr(0, 2), "0\n");
}

// With a user namespace, namespaces the host owns are joined by path before it is made (as
// runc does), and /sys, which then cannot be mounted, is the host's bound read-only.
TEST_F(OciRuntimeTest, UserNamespaceJoinsAHostNetworkNamespaceByPath) {
  ASSERT_EQ(::chmod(dir_->path().c_str(), 0755), 0);
  ASSERT_EQ(RunCmd({"/bin/chown", "-R", "100000:100000", bundle_ + "/rootfs"}).code, 0);
  json ns = json::array();
  for (const json& n : config_["linux"]["namespaces"]) {
    if (n["type"] != "network") ns.push_back(n);
  }
  ns.push_back({{"type", "network"}, {"path", "/proc/" + std::to_string(::getpid()) + "/ns/net"}});
  ns.push_back({{"type", "user"}});
  config_["linux"]["namespaces"] = ns;
  config_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  config_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  SetArgs({"sh", "-c", "readlink /proc/self/ns/net; grep ' /sys ' /proc/self/mounts"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = Split(r.out, '\n');
  ASSERT_GE(lines.size(), 2u) << r.out;
  char own[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", own, sizeof own - 1), 0);
  EXPECT_EQ(lines[0], own);
  EXPECT_NE(lines[1].find(" ro,"), std::string::npos) << lines[1];
}

TEST_F(OciRuntimeTest, TimeNamespaceOffsetsTheBootClock) {
  config_["linux"]["namespaces"].push_back({{"type", "time"}});
  config_["linux"]["timeOffsets"] = {{"boottime", {{"secs", 864000}, {"nanosecs", 0}}}};
  SetArgs({"cat", "/proc/uptime"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  double host = std::stod(*os::ReadFile("/proc/uptime"));
  double inside = std::stod(r.out);
  EXPECT_GT(inside, host + 864000 - 60) << r.out;
  EXPECT_LT(inside, host + 864000 + 60) << r.out;
}

// Every hook runs at its point of the lifecycle with the state on stdin; create hooks run
// before `create` returns, startContainer inside the container at `start`, poststop at delete.
TEST_F(OciRuntimeTest, HooksRunAtTheirLifecyclePoints) {
  std::string log = dir_->path() + "/hooks.log";
  std::string script = dir_->path() + "/hook.sh";
  ASSERT_TRUE(os::WriteFile(script, "#!/bin/sh\nread -r state\necho \"$1 $state $(readlink /proc/self/ns/mnt)\" >> " + log + "\n", 0755).ok());
  config_["root"]["readonly"] = false;
  config_["annotations"] = {{"org.test", "yes"}};
  json hooks = json::object();
  for (const char* kind : {"prestart", "createRuntime", "createContainer", "poststart", "poststop"}) {
    hooks[kind] = {{{"path", script}, {"args", {"hook.sh", kind}}}};
  }
  // In the container, after pivot_root: the path resolves there.
  hooks["startContainer"] = {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > /started"}}}};
  config_["hooks"] = hooks;
  SetArgs({"sleep", "600"});
  CmdResult r = RtDetached({"create", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = [&] {
    auto all = Split(os::ReadFile(log).value_or(""), '\n');
    std::erase(all, "");
    return all;
  };
  ASSERT_EQ(lines().size(), 3u) << os::ReadFile(log).value_or("");
  EXPECT_FALSE(os::Exists(bundle_ + "/rootfs/started"));
  ASSERT_EQ(Rt({"start", "c1"}).code, 0);
  ASSERT_EQ(lines().size(), 4u);
  // The hook creates the file before cat has written the state into it: wait for a whole document.
  json started = json::value_t::discarded;
  for (int i = 0; i < 100 && started.is_discarded(); ++i) {
    started = json::parse(os::ReadFile(bundle_ + "/rootfs/started").value_or(""), nullptr, false);
    if (started.is_discarded()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(started.is_object()) << os::ReadFile(bundle_ + "/rootfs/started").value_or("(missing)");
  EXPECT_EQ(started["status"], "created");
  ASSERT_EQ(Rt({"delete", "--force", "c1"}).code, 0);
  auto all = lines();
  ASSERT_EQ(all.size(), 5u);
  const char* order[] = {"prestart", "createRuntime", "createContainer", "poststart", "poststop"};
  const char* status[] = {"creating", "creating", "creating", "running", "stopped"};
  char own_ns[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/mnt", own_ns, sizeof own_ns - 1), 0);
  for (size_t i = 0; i < 5; ++i) {
    auto fields = Fields(all[i]);
    ASSERT_EQ(fields.size(), 3u) << all[i];
    EXPECT_EQ(fields[0], order[i]);
    json state = json::parse(fields[1], nullptr, false);
    EXPECT_EQ(state["id"], "c1");
    EXPECT_EQ(state["status"], status[i]) << order[i];
    EXPECT_EQ(state["bundle"], bundle_);
    EXPECT_EQ(state["annotations"]["org.test"], "yes");
    EXPECT_GT(state["pid"].get<int>(), 0);
    // createContainer runs in the container's mount namespace, the others in the runtime's.
    EXPECT_EQ(fields[2] == own_ns, i != 2) << order[i] << " " << fields[2];
  }
}

TEST_F(OciRuntimeTest, AFailingOrHangingCreateHookFailsTheContainerAndLeavesNothing) {
  config_["hooks"] = {{"createRuntime", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo broken >&2; exit 3"}}}}}};
  SetArgs({"sleep", "600"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("error running createRuntime hook #0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exited with status 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("broken"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
  config_["hooks"] = {{"prestart", {{{"path", "/bin/sleep"}, {"args", {"sleep", "30"}}, {"timeout", 1}}}}};
  SetArgs({"true"});
  auto t0 = std::chrono::steady_clock::now();
  r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("timeout of 1s"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
  // A failing poststart hook is a warning: the container runs on.
  config_["hooks"] = {{"poststart", {{{"path", "/bin/false"}}}}};
  SetArgs({"sleep", "600"});
  r = RtDetached({"run", "--detach", "--bundle", bundle_, "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: error running poststart hook #0"), std::string::npos) << r.err;
  EXPECT_EQ(State("c1")["status"], "running");
}

// exec's own failures exit 255, apart from any status the command could return.
TEST_F(OciRuntimeTest, ExecFailuresExit255) {
  SetArgs({"sleep", "600"});
  ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
  CmdResult r = Rt({"exec", "c1", "/no/such/binary"});
  EXPECT_EQ(r.code, 255);
  EXPECT_NE(r.err.find("exec failed: exec: \"/no/such/binary\""), std::string::npos) << r.err;
  EXPECT_EQ(Rt({"exec", "c1", "sh", "-c", "exit 1"}).code, 1);
  EXPECT_EQ(Rt({"exec", "nope", "true"}).code, 255);
  ASSERT_EQ(Rt({"pause", "c1"}).code, 0);
  r = Rt({"exec", "c1", "true"});
  EXPECT_EQ(r.code, 255);
  EXPECT_NE(r.err.find("cannot exec in a paused container"), std::string::npos) << r.err;
  ASSERT_EQ(Rt({"resume", "c1"}).code, 0);
}

// Recursive flags reach submounts; tmpcopyup starts a tmpfs with what it covers; a bind keeps
// the flags of its source that no option clears. The sources are the container's own earlier
// mounts, reached through the rootfs path before pivot_root, so no host mount is involved.
TEST_F(OciRuntimeTest, RecursiveMountFlagsTmpcopyupAndKeptBindFlags) {
  ASSERT_TRUE(os::MkdirAll(bundle_ + "/rootfs/etc/conf").ok());
  ASSERT_TRUE(os::WriteFile(bundle_ + "/rootfs/etc/conf/a", "kept\n").ok());
  config_["root"]["readonly"] = false;
  auto add = [&](const std::string& dest, const std::string& type, const std::string& source, json options) {
    config_["mounts"].push_back({{"destination", dest}, {"type", type}, {"source", source}, {"options", options}});
  };
  add("/tree", "tmpfs", "tmpfs", json::array());
  add("/tree/sub", "tmpfs", "tmpfs", json::array());
  add("/rotree", "bind", bundle_ + "/rootfs/tree", {"rbind", "rro"});  // /rotree/sub read-only too
  add("/flags", "tmpfs", "tmpfs", {"nosuid", "nodev", "noexec"});
  add("/kept", "bind", bundle_ + "/rootfs/flags", {"bind", "ro"});  // stays nosuid,nodev,noexec
  add("/etc/conf", "tmpfs", "tmpfs", {"tmpcopyup"});
  SetArgs({"sh", "-c", "cat /etc/conf/a; echo new > /etc/conf/b && echo writable; "
                       "grep -E ' /rotree/sub | /kept ' /proc/self/mounts"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 14), "kept\nwritable\n") << r.out;
  int sub = 0, kept = 0;
  for (const std::string& line : Split(r.out, '\n')) {
    auto fields = Fields(line);
    if (fields.size() < 4) continue;
    if (fields[1] == "/rotree/sub") {
      ++sub;
      EXPECT_EQ(fields[3].substr(0, 3), "ro,") << line;
    }
    if (fields[1] == "/kept") {
      ++kept;
      EXPECT_EQ(fields[3].substr(0, 3), "ro,") << line;
      EXPECT_NE(fields[3].find("nosuid,nodev,noexec"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(sub, 1) << r.out;
  EXPECT_EQ(kept, 1) << r.out;
  EXPECT_FALSE(os::Exists(bundle_ + "/rootfs/etc/conf/b"));  // written to the tmpfs only
}

// On a v1 (here hybrid) host: every resource of the config is applied at create, every mounted
// hierarchy is joined (cpuset, blkio, named and unified ones too), and a cgroup that already
// has processes is refused.
TEST_F(OciRuntimeTest, V1ResourcesAtCreateAndEveryHierarchyJoined) {
  if (!os::Exists("/sys/fs/cgroup/memory/cgroup.procs") || !os::Exists("/sys/fs/cgroup/cpuset/cgroup.procs")) {
    GTEST_SKIP() << "needs cgroup v1 memory and cpuset hierarchies (this host has none)";
  }
  config_["linux"]["cgroupsPath"] = "/bd-test-" + std::to_string(::getpid()) + "/c1";
  json& r = config_["linux"]["resources"];
  r["memory"] = {{"limit", 64 << 20}, {"reservation", 32 << 20}, {"swap", 128 << 20}, {"swappiness", 10},
                 {"disableOOMKiller", true}};
  r["cpu"] = {{"shares", 512}, {"period", 50000}, {"cpus", "0"}, {"mems", "0"}};
  r["pids"] = {{"limit", 40}};
  SetArgs({"sleep", "600"});
  CmdResult c = RtDetached({"run", "--detach", "--bundle", bundle_, "c1"});
  ASSERT_EQ(c.code, 0) << c.err;
  std::string name = config_["linux"]["cgroupsPath"].get<std::string>();
  auto read = [&](const std::string& controller, const std::string& file) {
    std::string text = os::ReadFile("/sys/fs/cgroup/" + controller + name + "/" + file).value_or("?");
    return std::string(TrimSpace(text));
  };
  EXPECT_EQ(read("memory", "memory.limit_in_bytes"), std::to_string(64 << 20));
  EXPECT_EQ(read("memory", "memory.soft_limit_in_bytes"), std::to_string(32 << 20));
  if (os::Exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")) {
    EXPECT_EQ(read("memory", "memory.memsw.limit_in_bytes"), std::to_string(128 << 20));
  }
  EXPECT_EQ(read("memory", "memory.swappiness"), "10");
  EXPECT_NE(read("memory", "memory.oom_control").find("oom_kill_disable 1"), std::string::npos);
  EXPECT_EQ(read("cpu", "cpu.shares"), "512");
  EXPECT_EQ(read("cpu", "cpu.cfs_period_us"), "50000");  // a period without a quota
  EXPECT_EQ(read("cpu", "cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(read("cpuset", "cpuset.cpus"), "0");
  EXPECT_EQ(read("pids", "pids.max"), "40");
  int pid = State("c1")["pid"].get<int>();
  std::string cgroups = os::ReadFile("/proc/" + std::to_string(pid) + "/cgroup").value_or("");
  for (const char* h : {"blkio", "cpuset", "memory", "devices", "freezer"}) {
    if (!os::Exists(std::string("/sys/fs/cgroup/") + h + "/cgroup.procs")) continue;
    EXPECT_NE(cgroups.find(std::string(":") + h + ":" + name + "\n"), std::string::npos) << h << "\n" << cgroups;
  }
  if (os::Exists("/sys/fs/cgroup/unified/cgroup.procs")) {
    EXPECT_NE(cgroups.find("0::" + name + "\n"), std::string::npos) << cgroups;
  }
  // A second container in the same cgroup: refused, nothing left behind.
  CmdResult second = Rt({"run", "--bundle", bundle_, "c2"});
  EXPECT_NE(second.code, 0);
  EXPECT_NE(second.err.find("not empty"), std::string::npos) << second.err;
  EXPECT_FALSE(os::Exists(state_ + "/c2"));
  EXPECT_EQ(Rt({"delete", "--force", "c1"}).code, 0);
  EXPECT_FALSE(os::Exists("/sys/fs/cgroup/memory" + name));
  ::rmdir(("/sys/fs/cgroup/memory" + os::Dirname(name)).c_str());
  auto hierarchies = os::ListDir("/sys/fs/cgroup");
  for (const std::string& h : hierarchies.value_or(std::vector<std::string>{})) {
    ::rmdir(("/sys/fs/cgroup/" + h + os::Dirname(name)).c_str());
  }
}

// Device rules other than a deny-all baseline apply in order on v1 (the standard devices are
// allowed after them, as runc does).
TEST_F(OciRuntimeTest, DeviceRulesApplyInOrderOnV1) {
  if (!os::Exists("/sys/fs/cgroup/devices/devices.list")) GTEST_SKIP() << "needs the cgroup v1 devices controller";
  config_["linux"]["resources"]["devices"] = {
      {{"allow", false}, {"access", "rwm"}},
      {{"allow", true}, {"type", "c"}, {"major", 10}, {"minor", 200}, {"access", "rwm"}},
      {{"allow", false}, {"type", "c"}, {"major", 10}, {"minor", 200}, {"access", "w"}}};
  SetArgs({"sleep", "600"});
  ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
  std::string list = os::ReadFile("/sys/fs/cgroup/devices/basic-runtime/c1/devices.list").value_or("");
  EXPECT_NE(list.find("c 10:200 rm\n"), std::string::npos) << list;
  EXPECT_NE(list.find("c 1:3 rwm\n"), std::string::npos) << list;
  EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;
}

// A container created into an already frozen cgroup: `run -d` returns, the container is paused.
TEST_F(OciRuntimeTest, RunIntoAFrozenCgroupDoesNotHang) {
  if (!os::Exists("/sys/fs/cgroup/freezer/cgroup.procs")) GTEST_SKIP() << "needs the cgroup v1 freezer";
  std::string name = "/bd-frozen-" + std::to_string(::getpid());
  std::string freezer = "/sys/fs/cgroup/freezer" + name;
  ASSERT_EQ(::mkdir(freezer.c_str(), 0755), 0);
  ASSERT_TRUE(os::WriteFile(freezer + "/freezer.state", "FROZEN").ok());
  config_["linux"]["cgroupsPath"] = name;
  SetArgs({"sleep", "600"});
  CmdResult r = RtDetached({"run", "--detach", "--bundle", bundle_, "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(State("c1")["status"], "paused");
  EXPECT_EQ(Rt({"resume", "c1"}).code, 0);
  EXPECT_EQ(State("c1")["status"], "running");
  EXPECT_EQ(Rt({"delete", "--force", "c1"}).code, 0);
  ::rmdir(freezer.c_str());
}

// Values the kernel or the spec does not take fail the create with the reason.
TEST_F(OciRuntimeTest, BadResourcesAreRefusedAtCreate) {
  config_["linux"]["resources"]["memory"] = {{"swappiness", 200}};
  SetArgs({"true"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("swappiness"), std::string::npos) << r.err;
  config_["linux"]["resources"]["memory"] = json::object();
  config_["linux"]["resources"]["cpu"] = {{"period", 10}};
  SetArgs({"true"});
  r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("cpu period"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
}

// process.scheduler, ioPriority, execCPUAffinity, linux.personality, domainname and
// consoleSize reach the process.
TEST_F(OciRuntimeTest, SchedulerIoPriorityAffinityPersonalityDomainnameConsoleSize) {
  config_["process"]["scheduler"] = {{"policy", "SCHED_BATCH"}, {"nice", 5}};
  config_["process"]["ioPriority"] = {{"class", "IOPRIO_CLASS_IDLE"}, {"priority", 0}};
  config_["process"]["execCPUAffinity"] = {{"initial", "0"}, {"final", "0"}};
  config_["linux"]["personality"] = {{"domain", "LINUX32"}};
  config_["domainname"] = "example.test";
  // /proc/self/stat field 41 is the policy (3: SCHED_BATCH), 19 the nice value.
  SetArgs({"sh", "-c", "cut -d' ' -f19,41 /proc/self/stat; busybox ionice -p $$; busybox taskset -p $$; "
                       "uname -m; cat /proc/sys/kernel/domainname"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto lines = Split(r.out, '\n');
  ASSERT_GE(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], "5 3");
  EXPECT_NE(lines[1].find("idle"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("mask: 1"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3], "i686");
  EXPECT_EQ(lines[4], "example.test");
  // Without execCPUAffinity the process gets every CPU, not the caller's mask.
  config_["process"].erase("execCPUAffinity");
  SetArgs({"sh", "-c", "busybox taskset -p $$"});
  r = RunCmd({"/usr/bin/taskset", "-c", "0", kRuntime, "--root", state_, "run", "--bundle", bundle_, "c1"}, "", 30);
  ASSERT_EQ(r.code, 0) << r.err;
  if (::sysconf(_SC_NPROCESSORS_ONLN) > 1) {
    EXPECT_EQ(r.out.find("mask: 1\n"), std::string::npos) << r.out;
  }
  // A terminal of the given size.
  config_["process"]["terminal"] = true;
  config_["process"]["consoleSize"] = {{"height", 33}, {"width", 101}};
  SetArgs({"busybox", "stty", "size"});
  r = Rt({"run", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("33 101"), std::string::npos) << r.out;
  // Bad values are refused by name.
  config_["process"]["terminal"] = false;
  config_["process"]["scheduler"] = {{"policy", "SCHED_FIFO"}, {"priority", 0}};
  SetArgs({"true"});
  r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("between 1 and 99"), std::string::npos) << r.err;
}

TEST_F(OciRuntimeTest, RootfsPropagationPrivateAndSlave) {
  for (const char* kind : {"private", "slave", "unbindable"}) {
    config_["linux"]["rootfsPropagation"] = kind;
    SetArgs({"busybox", "awk", "$5 == \"/\"", "/proc/self/mountinfo"});
    CmdResult r = RunCmd({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--mount", "--propagation", "shared",
                          kRuntime, "--root", state_, "run", "--bundle", bundle_, "c1"}, "", 30);
    ASSERT_EQ(r.code, 0) << kind << ": " << r.err;
    std::string_view want = std::string_view(kind) == "slave" ? "master:" : "";
    if (!want.empty()) {
      EXPECT_NE(r.out.find(want), std::string::npos) << kind << ": " << r.out;
    }
    EXPECT_EQ(r.out.find("shared:"), std::string::npos) << kind << ": " << r.out;
  }
  config_["linux"]["rootfsPropagation"] = "sideways";
  SetArgs({"true"});
  EXPECT_NE(Rt({"run", "--bundle", bundle_, "c1"}).err.find("sideways"), std::string::npos);
}

// `events`: one stats event with --stats; with --interval, stats events until the container
// stops, and an "oom" event when the OOM killer strikes in it.
TEST_F(OciRuntimeTest, EventsStatsIntervalAndOom) {
  config_["linux"]["resources"]["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};
  // A while to be seen running, then a 64 MiB buffer the limit cannot hold.
  SetArgs({"sh", "-c", "sleep 1; busybox dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1"});
  ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
  CmdResult r = Rt({"events", "--stats", "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  json e = json::parse(r.out, nullptr, false);
  EXPECT_EQ(e["type"], "stats");
  EXPECT_EQ(e["id"], "c1");
  EXPECT_GT(e["data"]["memory"]["usage"]["usage"].get<int64_t>(), 0) << r.out;
  EXPECT_EQ(e["data"]["memory"]["usage"]["limit"].get<int64_t>(), 16 << 20) << r.out;
  EXPECT_GE(e["data"]["pids"]["current"].get<int64_t>(), 1) << r.out;
  EXPECT_GT(e["data"]["cpu"]["usage"]["total"].get<int64_t>(), 0) << r.out;
  auto t0 = std::chrono::steady_clock::now();
  r = Rt({"events", "--interval", "200ms", "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));  // ends with the container
  int stats = 0, ooms = 0;
  for (const std::string& line : Split(r.out, '\n')) {
    if (line.empty()) continue;
    json ev = json::parse(line, nullptr, false);
    ASSERT_TRUE(ev.is_object()) << line;
    stats += ev["type"] == "stats";
    ooms += ev["type"] == "oom";
  }
  EXPECT_GE(stats, 3) << r.out;
  EXPECT_EQ(ooms, 1) << r.out;
  EXPECT_NE(Rt({"events", "--interval", "soon", "c1"}).code, 0);
}

// Sharing the caller's pid namespace, the container's first process is not its processes'
// reaper: `kill` signals every process of its cgroup. In a throwaway pid namespace, so that
// "the caller's" is never the machine's.
TEST_F(OciRuntimeTest, KillWithoutAPidNamespaceReachesEveryProcess) {
  json ns = json::array();
  for (const json& n : config_["linux"]["namespaces"]) {
    if (n["type"] != "pid") ns.push_back(n);
  }
  config_["linux"]["namespaces"] = ns;
  config_["process"]["terminal"] = false;
  SetArgs({"sh", "-c", "sleep 600 & sleep 600 & wait"});
  std::string script = "set -e; R='" + kRuntime + " --root " + state_ + "'; "
      "$R run -d --bundle " + bundle_ + " c1 </dev/null >/dev/null 2>&1; sleep 0.3; "
      "$R ps c1 | tail -n +2 | wc -l; $R kill c1 KILL; sleep 0.5; "
      "echo left $($R ps c1 | tail -n +2 | wc -l); $R delete -f c1";
  CmdResult r = RunCmd({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script}, "", 30);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto lines = Split(r.out, '\n');
  ASSERT_GE(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0], "3") << r.out;  // sh and two sleeps
  EXPECT_EQ(lines[1], "left 0") << r.out;
}

// --pidfd-socket hands over a pidfd of the process; exec --cgroup joins a sub-cgroup;
// checkpoint where CRIU is missing or cannot work says why.
TEST_F(OciRuntimeTest, PidfdSocketExecCgroupAndCheckpointWithoutCriu) {
  std::string sock = dir_->path() + "/pidfd.sock";
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  SetArgs({"sleep", "600"});
  UniqueFd pidfd;
  std::thread accept([&] {
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (auto fd = os::RecvFd(conn.get()); fd.ok()) pidfd = std::move(*fd);
  });
  CmdResult r = RtDetached({"run", "--detach", "--pidfd-socket", sock, "--bundle", bundle_, "c1"});
  accept.join();
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(pidfd);
  std::string fdinfo = os::ReadFile("/proc/self/fdinfo/" + std::to_string(pidfd.get())).value_or("");
  EXPECT_NE(fdinfo.find("Pid:\t" + std::to_string(State("c1")["pid"].get<int>()) + "\n"), std::string::npos) << fdinfo;

  // The first process and an exec are in the container's cgroup of each hierarchy it uses (v1
  // ones joined through `tasks`, the cgroup2 one by being cloned into it); the exec sees them
  // through the container's cgroup namespace, rooted there.
  std::string init_pid = std::to_string(State("c1")["pid"].get<int>());
  EXPECT_GT(LinesInContainerCgroup(os::ReadFile("/proc/" + init_pid + "/cgroup").value_or(""), "c1", "/basic-runtime/c1"), 0);
  r = Rt({"exec", "c1", "cat", "/proc/self/cgroup"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(LinesInContainerCgroup(r.out, "c1", "/"), 0) << r.out;

  // exec --cgroup: the sub-cgroup must exist in every hierarchy the container is in.
  EXPECT_NE(Rt({"exec", "--cgroup", "sub", "c1", "true"}).err.find("does not exist"), std::string::npos);
  std::string name = "/basic-runtime/c1";
  std::vector<std::string> made;
  for (const std::string& h : os::ListDir("/sys/fs/cgroup").value_or(std::vector<std::string>{})) {
    std::string dir = "/sys/fs/cgroup/" + h + name;
    if (!os::IsDir(dir) || ::mkdir((dir + "/sub").c_str(), 0755) != 0) continue;
    made.push_back(dir + "/sub");
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {  // a v1 cpuset starts empty
      if (auto v = os::ReadFile(dir + "/" + f); v.ok()) {
        ASSERT_TRUE(os::WriteFile(dir + "/sub/" + f, *v).ok());
      }
    }
  }
  if (os::Exists("/sys/fs/cgroup/cgroup.controllers")) made.push_back("/sys/fs/cgroup" + name + "/sub");
  ASSERT_FALSE(made.empty());
  r = Rt({"exec", "--cgroup", "sub", "c1", "cat", "/proc/self/cgroup"});
  EXPECT_EQ(r.code, 0) << r.err;
  for (const std::string& line : Split(r.out, '\n')) {
    // Seen through the container's cgroup namespace: rooted at its own cgroup.
    if (!line.empty()) {
      EXPECT_EQ(line.substr(line.rfind(':')), ":/sub") << r.out;
    }
  }
  EXPECT_NE(Rt({"exec", "--cgroup", "../x", "c1", "true"}).code, 0);
  // CONTROLLER:PATH on v1: only the hierarchies of the controllers named move.
  if (os::IsDir("/sys/fs/cgroup/pids" + name)) {
    ASSERT_EQ(::mkdir(("/sys/fs/cgroup/pids" + name + "/only").c_str(), 0755), 0);
    made.push_back("/sys/fs/cgroup/pids" + name + "/only");
    r = Rt({"exec", "--cgroup", "pids:only", "--cgroup", "sub", "c1", "cat", "/proc/self/cgroup"});
    EXPECT_EQ(r.code, 0) << r.err;
    for (const std::string& line : Split(r.out, '\n')) {
      if (line.empty()) continue;
      bool pids = Split(line, ':')[1] == "pids";
      EXPECT_EQ(line.substr(line.rfind(':')), pids ? ":/only" : ":/sub") << r.out;
    }
    r = Rt({"exec", "--cgroup", "nosuchcontroller:sub", "c1", "true"});
    EXPECT_NE(r.err.find("nosuchcontroller"), std::string::npos) << r.err;
  }
  ASSERT_EQ(Rt({"delete", "--force", "c1"}).code, 0);
  for (const std::string& d : made) EXPECT_FALSE(os::Exists(d)) << d;  // delete took the nested cgroups

  // Without CRIU, or with a CRIU that cannot work on this kernel, checkpoint says which, in
  // CRIU's words, and the container runs on.
  bool have_criu = RunCmd({"/bin/sh", "-c", "command -v criu"}).code == 0;
  bool criu_works = have_criu && RunCmd({"/bin/sh", "-c", "criu check"}).code == 0;
  if (!criu_works) {
    SetArgs({"sleep", "600"});
    ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
    r = Rt({"checkpoint", "c1"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find(have_criu ? "cannot work with this kernel" : "needs CRIU"), std::string::npos) << r.err;
    EXPECT_EQ(State("c1").value("status", ""), "running");
  }
}

TEST_F(OciRuntimeTest, VersionFeaturesHelpListAndLog) {
  CmdResult r = Rt({"--version"});
  EXPECT_NE(r.out.find("\ncommit: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nspec: 1.0."), std::string::npos) << r.out;
  r = Rt({"features"});
  ASSERT_EQ(r.code, 0);
  json f = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(f.is_object()) << r.out;
  EXPECT_EQ(f["ociVersionMin"], "1.0.0");
  EXPECT_TRUE(f["linux"]["seccomp"]["enabled"].get<bool>());
  EXPECT_NE(f["linux"]["namespaces"].dump().find("mount"), std::string::npos);
  for (const char* cmd : {"create", "run", "start", "state", "kill", "delete", "exec", "ps", "events", "pause",
                          "resume", "list", "spec", "features"}) {
    r = Rt({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find(std::string("usage: basic-runtime ") + cmd), std::string::npos) << r.out;
    EXPECT_EQ(Rt({"help", cmd}).out, r.out);
  }
  SetArgs({"sleep", "600"});
  ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
  r = Rt({"list"});
  auto lines = Split(r.out, '\n');
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(0, 24), "ID          PID         ");
  EXPECT_EQ(lines[1].substr(0, 12), "c1          ");
  EXPECT_EQ(Rt({"list", "-q"}).out, "c1\n");
  r = Rt({"--debug", "state", "c1"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.err.find("level=debug"), std::string::npos) << r.err;
  EXPECT_EQ(Rt({"state", "c1"}).err, "");  // quiet without --debug
  std::string log = dir_->path() + "/debug.log";
  r = Rt({"--debug", "--log", log, "--log-format", "json", "state", "c1"});
  EXPECT_EQ(r.err, "");
  EXPECT_NE(os::ReadFile(log)->find("\"level\":\"debug\""), std::string::npos);
  r = Rt({"--log", "/nonexistent-dir/log", "state", "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/nonexistent-dir/log"), std::string::npos) << r.err;
}

// A missing process.cwd is made before the root turns read-only; exec --cwd to a missing
// directory fails and makes nothing.
TEST_F(OciRuntimeTest, MissingCwdIsMadeForInitOnly) {
  config_["root"]["readonly"] = true;
  config_["process"]["cwd"] = "/made/here";
  SetArgs({"sh", "-c", "pwd; sleep 600"});
  ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
  for (int i = 0; i < 100 && State("c1")["status"] != "running"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(os::IsDir(bundle_ + "/rootfs/made/here"));
  CmdResult r = Rt({"exec", "--cwd", "/not/there", "c1", "true"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/not/there"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(bundle_ + "/rootfs/not"));
  EXPECT_EQ(Rt({"exec", "--cwd", "/made", "c1", "true"}).code, 0);
}

TEST_F(OciRuntimeTest, TmpfsModesReadOnlyDevAndSymlinkedProc) {
  ASSERT_TRUE(os::MkdirAll(bundle_ + "/rootfs/covered").ok());
  ASSERT_EQ(::chmod((bundle_ + "/rootfs/covered").c_str(), 0711), 0);
  config_["mounts"].push_back({{"destination", "/covered"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                               {"options", {"nosuid", "nodev"}}});
  for (json& m : config_["mounts"]) {
    if (m["destination"] == "/dev") m["options"].push_back("ro");
  }
  SetArgs({"sh", "-c", "busybox stat -c %a /covered; echo x > /dev/null && echo null-ok; "
                       "touch /dev/new 2>/dev/null || echo dev-ro"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "711\nnull-ok\ndev-ro\n") << r.err;
  // A /proc that is a symlink in the image is refused.
  ASSERT_EQ(::rmdir((bundle_ + "/rootfs/proc").c_str()) == 0 || errno == ENOENT, true);
  ASSERT_EQ(::symlink("/tmp", (bundle_ + "/rootfs/proc").c_str()), 0);
  r = Rt({"run", "--bundle", bundle_, "c2"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/proc in the root filesystem is a symlink"), std::string::npos) << r.err;
}

// runc's environment: duplicates collapse to the last value, an empty HOME is filled.
TEST_F(OciRuntimeTest, EnvironmentAsRuncSetsItUp) {
  ASSERT_TRUE(os::WriteFile(bundle_ + "/rootfs/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n").ok());
  config_["process"]["env"] = {"A=1", "B=2", "A=3", "HOME="};
  SetArgs({"sh", "-c", "echo $A $B $HOME; busybox env | grep -c '^A='"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "3 2 /root\n1\n");
}

TEST_F(OciRuntimeTest, UpdateChangesTheResourcesOfARunningContainer) {
  SetArgs({"sleep", "600"});
  std::string pid_file = dir_->path() + "/pid";
  ASSERT_EQ(RtDetached({"run", "--detach", "--pid-file", pid_file, "--bundle", bundle_, "c1"}).code, 0);
  auto pid = ParseInt(TrimSpace(*os::ReadFile(pid_file)));
  ASSERT_TRUE(pid);
  // The container's cgroup in a hierarchy, as its /proc/PID/cgroup names it.
  auto cgroup_file = [&](const std::string& controller, const std::string& file) {
    auto lines = Split(*os::ReadFile("/proc/" + std::to_string(*pid) + "/cgroup"), '\n');
    for (const std::string& line : lines) {
      auto f = Split(line, ':');
      if (f.size() < 3) continue;
      if (f[1].empty() && os::Exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup" + f[2] + "/" + file;
      for (const std::string& c : Split(f[1], ',')) {
        if (c == controller) return "/sys/fs/cgroup/" + controller + f[2] + "/" + file;
      }
    }
    return std::string();
  };
  bool v2 = os::Exists("/sys/fs/cgroup/cgroup.controllers");
  CmdResult r = Rt({"update", "--memory", "64m", "--pids-limit", "50", "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(TrimSpace(*os::ReadFile(cgroup_file("memory", v2 ? "memory.max" : "memory.limit_in_bytes"))), "67108864");
  EXPECT_EQ(TrimSpace(*os::ReadFile(cgroup_file("pids", "pids.max"))), "50");
  std::string resources = WriteProcess(json{{"cpu", {{"quota", 50000}, {"period", 100000}}},
                                            {"pids", {{"limit", 60}}}});
  r = Rt({"update", "-r", resources, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(TrimSpace(*os::ReadFile(cgroup_file("pids", "pids.max"))), "60");
  if (!v2) {
    EXPECT_EQ(TrimSpace(*os::ReadFile(cgroup_file("cpu", "cpu.cfs_quota_us"))), "50000");
  }
  // Refused, and nothing changed.
  r = Rt({"update", "--kernel-memory", "10m", "--pids-limit", "70", "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("kernel-memory"), std::string::npos) << r.err;
  EXPECT_EQ(TrimSpace(*os::ReadFile(cgroup_file("pids", "pids.max"))), "60");
  EXPECT_NE(Rt({"update", "--memory", "lots", "c1"}).code, 0);
  EXPECT_NE(Rt({"update", "--cpu-period", "5", "c1"}).code, 0);
  EXPECT_NE(Rt({"update", "--pids-limit", "5", "nosuch"}).code, 0);
  EXPECT_NE(Rt({"update", "c1"}).code, 0);
}

// runc's capabilities: each set as given, kept for a non-root user, ambient raised.
TEST_F(OciRuntimeTest, CapabilitySetsHoldForANonRootUser) {
  config_["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  json bind = {"CAP_NET_BIND_SERVICE"};
  config_["process"]["capabilities"] = {{"bounding", {"CAP_NET_BIND_SERVICE", "CAP_KILL"}},
                                        {"effective", bind}, {"permitted", bind},
                                        {"inheritable", bind}, {"ambient", bind}};
  SetArgs({"sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"});
  CmdResult r = Rt({"run", "--bundle", bundle_, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  // The shell's own sets: after exec as a non-root user only the ambient set carries into
  // permitted and effective, so all of them show NET_BIND_SERVICE (bit 10).
  EXPECT_EQ(r.out,
            "CapInh:\t0000000000000400\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000400\n"
            "CapBnd:\t0000000000000420\nCapAmb:\t0000000000000400\n") << r.err;
}

TEST_F(OciRuntimeTest, CreateWaitsUntilStart) {
  config_["root"]["readonly"] = false;
  SetArgs({"sh", "-c", "echo started > /mark; sleep 600"});
  std::string pid_file = dir_->path() + "/pid";
  CmdResult r = RtDetached({"create", "--bundle", bundle_, "--pid-file", pid_file, "c1"});
  ASSERT_EQ(r.code, 0) << r.err;
  json s = State("c1");
  EXPECT_EQ(s["status"], "created");
  EXPECT_EQ(s["bundle"], bundle_);
  auto pid = ParseInt(*os::ReadFile(pid_file));
  ASSERT_TRUE(pid);
  EXPECT_EQ(s["pid"], *pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(os::Exists(bundle_ + "/rootfs/mark"));  // nothing ran yet

  ASSERT_EQ(Rt({"start", "c1"}).code, 0);
  EXPECT_EQ(State("c1")["status"], "running");
  for (int i = 0; i < 100 && !os::Exists(bundle_ + "/rootfs/mark"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(os::Exists(bundle_ + "/rootfs/mark"));
  CmdResult again = Rt({"start", "c1"});
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.err.find("running"), std::string::npos) << again.err;
  // The same id cannot be created twice.
  CmdResult twice = RtDetached({"create", "--bundle", bundle_, "c1"});
  EXPECT_NE(twice.code, 0);
  EXPECT_NE(twice.err.find("exists"), std::string::npos) << twice.err;
}

TEST_F(OciRuntimeTest, ExecKillDeleteAndPause) {
  SetArgs({"sleep", "600"});
  ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
  ASSERT_EQ(State("c1")["status"], "running");

  CmdResult e = Rt({"exec", "c1", "sh", "-c", "cat /proc/1/comm; exit 3"});
  EXPECT_EQ(e.code, 3) << e.err;
  EXPECT_EQ(e.out, "sleep\n");
  // --process takes an OCI process object, as podman and conmon pass it.
  std::string proc = WriteProcess({{"args", {"sh", "-c", "echo $A; id -u"}}, {"env", {"A=from-process"}},
                                   {"cwd", "/"}, {"user", {{"uid", 1000}, {"gid", 1000}}}});
  e = Rt({"exec", "--process", proc, "c1"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out, "from-process\n1000\n");
  std::string exec_pid = dir_->path() + "/exec.pid";
  e = RtDetached({"exec", "--detach", "--pid-file", exec_pid, "c1", "sleep", "600"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(os::Exists(exec_pid));

  CmdResult ps = Rt({"ps", "--format", "json", "c1"});
  ASSERT_EQ(ps.code, 0) << ps.err;
  EXPECT_EQ(json::parse(ps.out).size(), 2u);

  ASSERT_EQ(Rt({"pause", "c1"}).code, 0);
  EXPECT_EQ(State("c1")["status"], "paused");
  EXPECT_NE(Rt({"exec", "c1", "true"}).code, 0);
  ASSERT_EQ(Rt({"resume", "c1"}).code, 0);
  EXPECT_EQ(State("c1")["status"], "running");

  CmdResult del = Rt({"delete", "c1"});
  EXPECT_NE(del.code, 0);
  EXPECT_NE(del.err.find("not stopped"), std::string::npos) << del.err;
  ASSERT_EQ(Rt({"kill", "c1", "KILL"}).code, 0);
  for (int i = 0; i < 100 && State("c1")["status"] != "stopped"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(State("c1")["status"], "stopped");
  CmdResult kill_stopped = Rt({"kill", "c1"});
  EXPECT_NE(kill_stopped.code, 0);
  EXPECT_NE(kill_stopped.err.find("not running"), std::string::npos);
  ASSERT_EQ(Rt({"delete", "c1"}).code, 0);  // also kills the detached exec left in its cgroup
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
  auto leftover = ParseInt(*os::ReadFile(exec_pid));
  ASSERT_TRUE(leftover);
  EXPECT_FALSE(os::ProcessMatches(static_cast<pid_t>(*leftover), 0) &&
               os::ReadProcessStat(static_cast<pid_t>(*leftover)).state != 'Z');
}

TEST_F(OciRuntimeTest, RunRelaysItsOwnTerminalWithoutAConsoleSocket) {
  config_["process"]["terminal"] = true;
  SetArgs({"sh"});
  Terminal t({kRuntime, "--root", state_, "run", "--bundle", bundle_, "c1"});
  ASSERT_TRUE(t.WaitFor("# ")) << t.screen();
  t.Type("tty; echo m-$((2*21))\r");
  EXPECT_TRUE(t.WaitFor("m-42")) << t.screen();
  EXPECT_NE(t.screen().find("/dev/pts/0"), std::string::npos) << t.screen();
  t.Type("exit 5\r");
  EXPECT_EQ(t.Exit(), 5);
}

// As runc's own console: output lines end in "\n", not "\r\n".
TEST_F(OciRuntimeTest, OwnTerminalOutputHasNoCarriageReturns) {
  config_["process"]["terminal"] = true;
  SetArgs({"sh", "-c", "echo one; echo two; sleep 0.2"});
  Terminal t({kRuntime, "--root", state_, "run", "--bundle", bundle_, "c1"});
  ASSERT_TRUE(t.WaitFor("two\n")) << t.screen();
  EXPECT_NE(t.screen().find("one\ntwo\n"), std::string::npos) << t.screen();
  EXPECT_EQ(t.screen().find('\r'), std::string::npos);
  EXPECT_EQ(t.Exit(), 0);
}

TEST_F(OciRuntimeTest, ExecForwardsSignalsToTheExecutedProcess) {
  SetArgs({"sleep", "600"});
  ASSERT_EQ(RtDetached({"run", "--detach", "--bundle", bundle_, "c1"}).code, 0);
  pid_t cli = ::fork();
  if (cli == 0) {
    int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd <= 2; ++fd) ::dup2(null, fd);
    ::execl(kRuntime.c_str(), kRuntime.c_str(), "--root", state_.c_str(), "exec", "c1", "sh", "-c",
            "trap 'exit 43' TERM; while true; do sleep 0.1; done", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::usleep(500'000);  // the shell installs its trap
  ASSERT_EQ(::kill(cli, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(cli, &status, 0), cli);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 43);
}

TEST_F(OciRuntimeTest, BadInputChangesNothing) {
  // A config the runtime cannot honour: refused before anything is made.
  config_["linux"]["namespaces"].push_back({{"type", "user"}});
  SetArgs({"true"});
  CmdResult r = Rt({"create", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("user namespaces"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
  // A command that does not exist: create fails, with the reason, and leaves no state.
  config_ = json::parse(*os::ReadFile(bundle_ + "/config.json"));
  config_["linux"]["namespaces"].erase(config_["linux"]["namespaces"].size() - 1);
  SetArgs({"/no/such/binary"});
  r = RtDetached({"create", "--bundle", bundle_, "c1"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("/no/such/binary"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
  // Malformed ids, unknown flags and commands, missing containers.
  EXPECT_NE(Rt({"create", "--bundle", bundle_, "../x"}).err.find("invalid container id"), std::string::npos);
  EXPECT_NE(Rt({"create", "--bogus", "c1"}).err.find("not defined"), std::string::npos);
  EXPECT_NE(Rt({"frobnicate"}).code, 0);
  EXPECT_NE(Rt({"kill", "nope"}).err.find("does not exist"), std::string::npos);
  EXPECT_NE(Rt({"delete", "nope"}).err.find("does not exist"), std::string::npos);
  // --log-format json writes errors as JSON lines, as runc does.
  std::string log = dir_->path() + "/log.json";
  RunCmd({kRuntime, "--root", state_, "--log", log, "--log-format", "json", "start", "nope"});
  json line = json::parse(*os::ReadFile(log), nullptr, false);
  ASSERT_FALSE(line.is_discarded());
  EXPECT_EQ(line["level"], "error");
  EXPECT_NE(line["msg"].get<std::string>().find("does not exist"), std::string::npos);
  // spec refuses to overwrite.
  EXPECT_NE(Rt({"spec", "--bundle", bundle_}).code, 0);
}

// podman as the client: conmon calls basic-runtime create/start/exec/kill/delete.
class PodmanTest : public OciRuntimeTest {
 protected:
  void SetUp() override {
    OciRuntimeTest::SetUp();
    if (IsSkipped()) return;
    if (RunCmd({"/bin/sh", "-c", "command -v podman"}).code != 0) {
      GTEST_SKIP() << "podman is not installed (scripts/install-deps.sh installs it)";
    }
  }
  void TearDown() override {
    if (dir_) RunCmd(Podman({"rm", "-af", "-t", "0"}));
    OciRuntimeTest::TearDown();
  }
  std::vector<std::string> Podman(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/podman", "--root", dir_->path() + "/podman/root",
                                     "--runroot", dir_->path() + "/podman/run",
                                     "--cgroup-manager=cgroupfs", "--events-backend=file",
                                     "--runtime", kRuntime};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  // `podman run` with this bundle's rootfs, no network and limits any root may set.
  std::vector<std::string> PodmanRun(std::vector<std::string> flags, std::vector<std::string> cmd) {
    std::vector<std::string> argv = {"run", "--net=none", "--ulimit", "nofile=1024:1024",
                                     "--ulimit", "nproc=32768:32768"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"--rootfs", bundle_ + "/rootfs"});
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    return Podman(argv);
  }
};

TEST_F(PodmanTest, RunsContainersThroughBasicRuntime) {
  CmdResult r = RunCmd(PodmanRun({"--rm"}, {"sh", "-c",
                                            "echo hello; cat /proc/1/comm; "
                                            "cat /proc/sys/net/ipv4/ping_group_range; exit 5"}));
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_EQ(r.out, "hello\nsh\n0\t0\n");
}

TEST_F(PodmanTest, ExecStopAndRm) {
  CmdResult r = RunCmd(PodmanRun({"-d", "--name", "box"}, {"sleep", "600"}));
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id(TrimSpace(r.out));
  EXPECT_TRUE(os::Exists("/run/basic-runtime/" + id + "/state.json"));
  r = RunCmd(Podman({"exec", "box", "sh", "-c", "echo $((6*7)); cat /proc/1/comm; exit 3"}));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(r.out, "42\nsleep\n");
  r = RunCmd(Podman({"stop", "-t", "1", "box"}));
  EXPECT_EQ(r.code, 0) << r.err;
  r = RunCmd(Podman({"ps", "-a", "--format", "{{.Names}} {{.Status}}"}));
  EXPECT_NE(r.out.find("box Exited (137)"), std::string::npos) << r.out;  // sleep ignores TERM as pid 1
  r = RunCmd(Podman({"rm", "box"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(os::Exists("/run/basic-runtime/" + id));
}

TEST_F(PodmanTest, InteractiveTerminal) {
  Terminal t(PodmanRun({"--rm", "-it"}, {"sh"}));
  ASSERT_TRUE(t.WaitFor("# ", 15000)) << t.screen();
  t.Type("tty; echo marker-$((6*7))\r");
  ASSERT_TRUE(t.WaitFor("marker-42")) << t.screen();
  EXPECT_NE(t.screen().find("/dev/pts/0"), std::string::npos) << t.screen();
  t.Type("sleep 30\r");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  t.Type("\x03");  // Ctrl-C reaches the container's foreground job, not podman
  t.Type("echo after-$((1+1))\r");
  ASSERT_TRUE(t.WaitFor("after-2")) << t.screen();
  t.Type("\x04");  // Ctrl-D ends the shell
  EXPECT_EQ(t.Exit(), 0) << t.screen();
}

// kill -9 of `create` half-way (here while its createRuntime hook runs): the record it leaves
// reads "stopped", its id stays taken, and `delete` frees the cgroup and what it left.
TEST_F(OciRuntimeTest, ACreateKilledHalfWayIsStoppedAndDeleteCleansUp) {
  std::string hook_pid = dir_->path() + "/hook.pid";
  config_["hooks"] = {{"createRuntime", {{{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo $$ > " + hook_pid + "; exec sleep 60"}}}}}};
  config_["linux"]["cgroupsPath"] = "/bd-crash-test-c1";
  SetArgs({"sleep", "600"});
  pid_t pid = StartInBackground({kRuntime, "--root", state_, "create", "--bundle", bundle_, "c1"});
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 500 && !os::Exists(hook_pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(os::Exists(hook_pid));
  EXPECT_EQ(State("c1").value("status", ""), "creating");
  ASSERT_EQ(::kill(pid, SIGKILL), 0);  // our own child
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  auto hook = ParseInt(TrimSpace(os::ReadFile(hook_pid).value_or("")));
  if (hook && *hook > 0) ::kill(static_cast<pid_t>(*hook), SIGKILL);  // the hook we started, by pid
  json st = State("c1");
  EXPECT_EQ(st.value("status", ""), "stopped");
  EXPECT_NE(Rt({"list"}).out.find("c1"), std::string::npos);
  EXPECT_NE(RtDetached({"create", "--bundle", bundle_, "c1"}).code, 0);  // the id is still taken
  std::vector<std::string> cgroups;
  for (const std::string& h : os::ListDir("/sys/fs/cgroup").value_or(std::vector<std::string>{})) {
    if (os::IsDir("/sys/fs/cgroup/" + h + "/bd-crash-test-c1")) cgroups.push_back("/sys/fs/cgroup/" + h + "/bd-crash-test-c1");
  }
  if (os::IsDir("/sys/fs/cgroup/bd-crash-test-c1")) cgroups.push_back("/sys/fs/cgroup/bd-crash-test-c1");
  EXPECT_FALSE(cgroups.empty());  // what the killed create left
  CmdResult r = Rt({"delete", "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  for (const std::string& d : cgroups) EXPECT_FALSE(os::Exists(d)) << d;
  EXPECT_FALSE(os::Exists(state_ + "/c1"));
  config_.erase("hooks");
  SetArgs({"true"});
  r = Rt({"run", "--bundle", bundle_, "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace bd::testing
