// Resource Capsules on real containers: the store, live attach and detach, dependencies,
// secrets, rm and gc, and what a container gets back when it starts again.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <functional>

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/strings.h"
#include "integration/cli_helper.h"
#include "runtime/live_mount.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class CapsuleTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    if (!runtime::LiveMountSupported()) GTEST_SKIP() << "kernel lacks open_tree/mount_setattr (5.12+)";
    content_ = dir_->path() + "/content";
    ASSERT_TRUE(os::MkdirAll(content_ + "/etc/ssl").ok());
    std::string blob;
    for (int i = 0; i < 5000; ++i) blob += std::to_string(i * 7919) + "\n";
    ASSERT_TRUE(os::WriteFile(content_ + "/etc/ssl/cert.pem", blob).ok());
    ASSERT_TRUE(os::WriteFile(content_ + "/README", "capsule content\n").ok());
    ASSERT_EQ(::symlink("etc/ssl/cert.pem", (content_ + "/cert").c_str()), 0);
  }
  // A capsule from a one-file directory holding `text`.
  CmdResult Create(const std::string& name, const std::string& version, const std::string& text,
                   std::vector<std::string> extra = {}) {
    std::string dir = dir_->path() + "/src-" + name + "-" + version;
    EXPECT_TRUE(os::MkdirAll(dir).ok());
    EXPECT_TRUE(os::WriteFile(dir + "/data", text).ok());
    std::vector<std::string> args = {"capsule", "create", "--name", name, "--version", version, "--path", dir};
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(args);
  }
  std::string RunBox(const std::string& name, std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {"run", "-d", "--name", name};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"busybox", "sleep", "600"});
    CmdResult r = Cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return std::string(TrimSpace(r.out));
  }
  json State(const std::string& ctr) { return json::parse(Cli({"inspect", ctr}).out)[0]["State"]; }
  // Mount points under /capsules inside the container.
  std::string CapsuleMounts(const std::string& ctr) {
    return Cli({"exec", ctr, "sh", "-c", "grep -o ' /capsules/[^ ]*' /proc/self/mountinfo | sort"}).out;
  }
  int HostCapsuleMounts() {
    int n = 0;
    for (const std::string& m : HostMountPoints()) n += m.find("capsule") != std::string::npos;
    return n;
  }
  std::string content_;
};

TEST_F(CapsuleTest, CreateIsImmutableAndStoresEqualContentOnce) {
  CmdResult r = Cli({"capsule", "create", "--name", "libssl", "--version", "1.1.1", "--path", content_,
                     "-l", "team=sec"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("libssl:1.1.1 sha256:", 0), 0u) << r.out;
  r = Cli({"capsule", "create", "--name", "libssl", "--version", "1.1.1", "--path", content_, "-l", "team=sec"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("NOOP"), std::string::npos) << r.out;
  // Other content under the same NAME:VERSION is refused and changes nothing.
  ASSERT_TRUE(os::WriteFile(content_ + "/README", "changed\n").ok());
  r = Cli({"capsule", "create", "--name", "libssl", "--version", "1.1.1", "--path", content_, "-l", "team=sec"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("different content"), std::string::npos) << r.err;
  ASSERT_TRUE(os::WriteFile(content_ + "/README", "capsule content\n").ok());
  // The same content under another name: only its config and manifest are new blobs.
  auto blobs = [&] {
    int n = 0;
    for (const auto& e : Split(RunCmd({"/bin/ls", root_ + "/blobs/sha256"}).out, '\n')) n += !e.empty();
    return n;
  };
  int before = blobs();
  ASSERT_EQ(Cli({"capsule", "create", "--name", "certs", "--version", "2.0.0", "--path", content_}).code, 0);
  EXPECT_EQ(blobs(), before + 2);
  json a = json::parse(Cli({"capsule", "inspect", "libssl:1.1.1", "certs:2.0.0"}).out);
  EXPECT_EQ(a[0]["LayerDigest"], a[1]["LayerDigest"]);
  EXPECT_EQ(a[0]["Labels"]["team"], "sec");
  EXPECT_EQ(a[0]["FileCount"], 5);  // README, cert, etc/, etc/ssl/, etc/ssl/cert.pem
  EXPECT_EQ(a[0]["Files"], json({"README", "cert", "etc/", "etc/ssl/", "etc/ssl/cert.pem"}));
  CmdResult ls = Cli({"capsule", "ls", "--filter", "label=team=sec", "-q"});
  EXPECT_EQ(ls.out, "libssl:1.1.1\n");
  // The `capsule` entry point: the same binary under that name.
  std::string alias = dir_->path() + "/capsule";
  ASSERT_EQ(::symlink((std::string(BD_BIN_DIR) + "/basic-docker").c_str(), alias.c_str()), 0);
  EXPECT_EQ(RunCmd({alias, "--root", root_, "ls", "-q", "--filter", "name=certs"}).out, "certs:2.0.0\n");
  EXPECT_EQ(Cli({"capsule", "ls", "-q", "--filter", "name=certs:2.0.0", "--filter", "name=libssl"}).out,
            "certs:2.0.0\nlibssl:1.1.1\n");
  EXPECT_EQ(Cli({"capsule", "ls", "-q", "--filter", "dangling=true", "--filter", "secret=false"}).out,
            "certs:2.0.0\nlibssl:1.1.1\n");  // attached to nothing
  EXPECT_EQ(Cli({"capsule", "ls", "-q", "--filter", "dangling=false"}).out, "");
  EXPECT_EQ(Cli({"capsule", "ls", "--filter", "secret=perhaps"}).code, 1);
  EXPECT_EQ(Cli({"capsule", "ls", "--filter", "status=running"}).code, 1);
  EXPECT_EQ(Cli({"capsule", "verify"}).code, 0);
}

TEST_F(CapsuleTest, BadInputGetsAClearErrorAndChangesNothing) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  std::vector<Case> cases = {
      {{"capsule", "create", "--name", "Bad/Name", "--version", "1.0.0", "--path", content_}, "invalid capsule name"},
      {{"capsule", "create", "--name", "ok", "--version", "1.0.x", "--path", content_}, "invalid version"},
      {{"capsule", "create", "--name", "ok", "--version", "1.0.0", "--path", "/no/such/dir"}, "No such file"},
      {{"capsule", "create", "--name", "ok", "--version", "1.0.0", "--path", "/dev/null"}, "not a file or a directory"},
      {{"capsule", "create", "--name", "ok", "--version", "1.0.0", "--path", content_, "--requires", "x"}, "NAME@CONSTRAINT"},
      {{"capsule", "create", "--name", "ok", "--version", "1.0.0", "--path", content_, "--requires", "x@~>1"}, "constraint"},
      {{"capsule", "inspect", "nope:1.0.0"}, "no such capsule"},
      {{"capsule", "attach", "nobody", "nope:1.0.0"}, "no such capsule"},
      {{"capsule", "rm", "nope"}, "NAME:VERSION"},
  };
  for (const Case& c : cases) {
    CmdResult r = Cli(c.args);
    EXPECT_NE(r.code, 0) << Join(c.args, " ");
    EXPECT_NE(r.err.find(c.message), std::string::npos) << Join(c.args, " ") << ": " << r.err;
  }
  EXPECT_EQ(Cli({"capsule", "ls", "-q"}).out, "");
  // A stopped container and an unknown one.
  ASSERT_EQ(Create("lib", "1.0.0", "x").code, 0);
  ASSERT_EQ(Cli({"create", "--name", "stopped", "busybox", "true"}).code, 0);
  CmdResult r = Cli({"capsule", "attach", "stopped", "lib:1.0.0"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("not running"), std::string::npos) << r.err;
  EXPECT_NE(Cli({"capsule", "attach", "nobody", "lib:1.0.0"}).code, 0);
  EXPECT_EQ(json::parse(Cli({"capsule", "inspect", "lib:1.0.0"}).out)[0]["AttachedTo"].size(), 0u);
}

TEST_F(CapsuleTest, AttachIsLiveReadOnlyAndLeavesTheHostAlone) {
  ASSERT_EQ(Cli({"capsule", "create", "--name", "libssl", "--version", "1.1.1", "--path", content_}).code, 0);
  std::string id = RunBox("app");
  json before = State("app");
  int host_mounts = HostCapsuleMounts();

  CmdResult r = Cli({"capsule", "attach", "app", "libssl:1.1.1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("capsule:libssl:1.1.1"), std::string::npos);
  EXPECT_NE(r.out.find("SUCCESS"), std::string::npos) << r.out;
  // Byte-identical inside, read-only, and the container never restarted.
  std::string host_sum = Sha256Digest(*os::ReadFile(content_ + "/etc/ssl/cert.pem")).substr(7);
  r = Cli({"exec", "app", "sh", "-c", "sha256sum /capsules/libssl/1.1.1/etc/ssl/cert.pem; "
                                        "cat /capsules/libssl/1.1.1/cert | sha256sum; "
                                        "echo x > /capsules/libssl/1.1.1/README 2>&1; "
                                        "touch /capsules/libssl/1.1.1/new 2>&1; true"});
  EXPECT_NE(r.out.find(host_sum + "  /capsules/libssl/1.1.1/etc/ssl/cert.pem"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(host_sum + "  -"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
  json after = State("app");
  EXPECT_EQ(after["Pid"], before["Pid"]);
  EXPECT_EQ(after["StartedAt"], before["StartedAt"]);
  EXPECT_EQ(HostCapsuleMounts(), host_mounts);  // the host's mount table never changed

  r = Cli({"capsule", "attach", "app", "libssl:1.1.1"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("NOOP"), std::string::npos) << r.out;
  EXPECT_EQ(json::parse(Cli({"capsule", "inspect", "libssl:1.1.1"}).out)[0]["AttachedTo"][0], id);

  r = Cli({"capsule", "detach", "app", "libssl:1.1.1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("SUCCESS"), std::string::npos);
  EXPECT_NE(Cli({"exec", "app", "ls", "/capsules/libssl/1.1.1"}).code, 0);  // gone
  EXPECT_EQ(CapsuleMounts("app"), "");
  EXPECT_NE(Cli({"capsule", "detach", "app", "libssl:1.1.1"}).out.find("NOOP"), std::string::npos);
  EXPECT_EQ(State("app")["Pid"], before["Pid"]);
}

// The seed's spelling of versions ("config" 1.0 at /capsules/config/1.0/): accepted, kept as
// spelled, matched by constraints as 1.0.0; "1.0.0" beside "1.0" is refused as ambiguous.
TEST_F(CapsuleTest, ShortVersionsAreKeptAsSpelledAndNeverAmbiguous) {
  ASSERT_EQ(Create("config", "1.0", "one\n").code, 0);
  CmdResult dup = Create("config", "1.0.0", "other\n");
  EXPECT_NE(dup.code, 0);
  EXPECT_NE(dup.err.find("ambiguous"), std::string::npos) << dup.err;
  ASSERT_EQ(Create("app", "2.1", "app\n", {"--requires", "config@^1.0"}).code, 0);
  RunBox("box");
  CmdResult r = Cli({"capsule", "attach", "box", "app:2.1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Cli({"exec", "box", "cat", "/capsules/config/1.0/data", "/capsules/app/2.1/data"}).out, "one\napp\n");
  EXPECT_NE(Cli({"capsule", "ls"}).out.find("1.0"), std::string::npos);
}

// File names are bytes: UTF-8 ones and ones that are no UTF-8 at all go in and come out as
// they are (they failed with "Can't translate pathname" before).
TEST_F(CapsuleTest, FileNamesWithAnyBytesAreStoredAsTheyAre) {
  std::string dir = dir_->path() + "/names";
  ASSERT_TRUE(os::MkdirAll(dir + "/d\xc3\xa9j\xc3\xa0").ok());
  ASSERT_TRUE(os::WriteFile(dir + "/caf\xc3\xa9", "x").ok());
  ASSERT_TRUE(os::WriteFile(dir + "/raw\xff\xfe", "y").ok());
  ASSERT_TRUE(os::WriteFile(dir + "/d\xc3\xa9j\xc3\xa0/f", "z").ok());
  ASSERT_EQ(::symlink("caf\xc3\xa9", (dir + "/link\xff").c_str()), 0);
  CmdResult r = Cli({"capsule", "create", "--name", "names", "--version", "1.0.0", "--path", dir});
  ASSERT_EQ(r.code, 0) << r.err;
  RunBox("box");
  ASSERT_EQ(Cli({"capsule", "attach", "box", "names:1.0.0"}).code, 0);
  r = Cli({"exec", "box", "sh", "-c",
           "cd /capsules/names/1.0.0 && cat \"$(printf 'caf\\303\\251')\" \"$(printf 'raw\\377\\376')\" "
           "\"$(printf 'd\\303\\251j\\303\\240/f')\" \"$(printf 'link\\377')\""});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "xyzx");
}

TEST_F(CapsuleTest, DependenciesResolveAndAttachInOneCommit) {
  for (const char* v : {"1.0.0", "1.2.0", "2.0.0"}) ASSERT_EQ(Create("base", v, v).code, 0);
  ASSERT_EQ(Create("app", "1.0.0", "app", {"--requires", "base@^1.0", "--optional", "extra@*"}).code, 0);
  ASSERT_EQ(Create("tool", "1.0.0", "t", {"--requires", "base@>=2.0 <3.0"}).code, 0);
  CmdResult deps = Cli({"capsule", "deps", "app:1.0.0"});
  EXPECT_NE(deps.out.find("base@^1.0 -> base:1.2.0"), std::string::npos) << deps.out;
  RunBox("box");
  CmdResult r = Cli({"capsule", "attach", "box", "app:1.0.0"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(CapsuleMounts("box"), " /capsules/app/1.0.0\n /capsules/base/1.2.0\n");
  EXPECT_EQ(Cli({"exec", "box", "cat", "/capsules/base/1.2.0/data"}).out, "1.2.0");
  // Conflicting and missing requirements, and cycles, are refused before anything changes.
  ASSERT_EQ(Create("missing", "1.0.0", "m", {"--requires", "base@^3"}).code, 0);
  r = Cli({"capsule", "attach", "box", "missing:1.0.0"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("missing:1.0.0 -> base@^3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stored: 1.0.0, 1.2.0, 2.0.0"), std::string::npos) << r.err;
  ASSERT_EQ(Create("cyc-a", "1.0.0", "a", {"--requires", "cyc-b@1"}).code, 0);
  ASSERT_EQ(Create("cyc-b", "1.0.0", "b", {"--requires", "cyc-a@1"}).code, 0);
  r = Cli({"capsule", "attach", "box", "cyc-a:1.0.0"});
  EXPECT_NE(r.err.find("dependency cycle: cyc-a:1.0.0 -> cyc-b:1.0.0 -> cyc-a:1.0.0"), std::string::npos) << r.err;
  EXPECT_EQ(CapsuleMounts("box"), " /capsules/app/1.0.0\n /capsules/base/1.2.0\n");

  // An element that fails inside the Commit reverts the ones before it: `tool` cannot get a
  // mount point (a file is in the way), so base:2.0.0, attached first, is taken off again.
  ASSERT_EQ(Cli({"exec", "box", "touch", "/capsules/tool"}).code, 0);
  r = Cli({"capsule", "attach", "box", "tool:1.0.0"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("capsule:base:2.0.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("capsule:tool:1.0.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ERROR"), std::string::npos) << r.out;
  EXPECT_EQ(CapsuleMounts("box"), " /capsules/app/1.0.0\n /capsules/base/1.2.0\n");
  json tool = json::parse(Cli({"capsule", "inspect", "base:2.0.0"}).out)[0];
  EXPECT_EQ(tool["AttachedTo"].size(), 0u);
}

TEST_F(CapsuleTest, SecretsAreRootOnlyOnTheHostAndInMemoryInside) {
  std::string token = WriteFile("token", "s3cr3t\n");
  ASSERT_EQ(Cli({"capsule", "create", "--name", "creds", "--version", "1.0.0", "--path", token, "--secret"}).code, 0);
  RunBox("svc");
  ASSERT_EQ(Cli({"capsule", "attach", "svc", "creds:1.0.0"}).code, 0);
  CmdResult r = Cli({"exec", "svc", "sh", "-c", "cat /capsules/creds/1.0.0/token; "
                                                 "grep ' /capsules/creds/1.0.0 ' /proc/self/mountinfo"});
  EXPECT_NE(r.out.find("s3cr3t\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" - tmpfs "), std::string::npos) << r.out;  // from memory, not the host tree
  json c = json::parse(Cli({"capsule", "inspect", "creds:1.0.0"}).out)[0];
  std::string hex(DigestHex(c["ContentDigest"].get<std::string>()));
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/capsules/secrets").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((root_ + "/capsules/secrets/" + hex + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  ASSERT_EQ(::stat((root_ + "/blobs/sha256/" + std::string(DigestHex(c["LayerDigest"].get<std::string>()))).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(CapsuleTest, RmGcEventsAndRestart) {
  ASSERT_EQ(Create("cfg", "1.0.0", "v1").code, 0);
  RunBox("web", {"--capsule", "cfg:1.0.0"});
  EXPECT_EQ(CapsuleMounts("web"), " /capsules/cfg/1.0.0\n");
  // Stop and start: the capsule comes back.
  ASSERT_EQ(Cli({"stop", "-t", "0", "web"}).code, 0);
  ASSERT_EQ(Cli({"start", "web"}).code, 0);
  EXPECT_EQ(CapsuleMounts("web"), " /capsules/cfg/1.0.0\n");
  EXPECT_EQ(Cli({"exec", "web", "cat", "/capsules/cfg/1.0.0/data"}).out, "v1");

  CmdResult r = Cli({"capsule", "rm", "cfg:1.0.0"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("is attached to 1 container(s) (web)"), std::string::npos) << r.err;
  r = Cli({"capsule", "rm", "--force", "cfg:1.0.0"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(CapsuleMounts("web"), "");
  // gc frees the capsule's blobs and tree, and nothing an image needs.
  r = Cli({"capsule", "gc", "--dry-run"});
  EXPECT_NE(r.out.find("Would delete tree"), std::string::npos) << r.out;
  r = Cli({"capsule", "gc"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5) << r.out;  // 3 blobs, 1 tree, total
  EXPECT_EQ(Cli({"capsule", "gc"}).out, "Total reclaimed space: 0B\n");
  EXPECT_EQ(Cli({"run", "--rm", "busybox", "echo", "still-runs"}).out, "still-runs\n");

  r = Cli({"events", "--since", "10m", "--until", "0s", "--filter", "type=capsule", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> actions;
  for (const std::string& line : Split(r.out, '\n')) {
    if (!line.empty()) actions.push_back(json::parse(line)["Action"]);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"create", "attach", "detach", "rm", "gc", "gc"})) << r.out;
}

TEST_F(CapsuleTest, AttachesUnderAReadOnlyRoot) {
  ASSERT_EQ(Create("cfg", "1.0.0", "on a read-only root").code, 0);
  RunBox("ro", {"--read-only"});
  CmdResult r = Cli({"capsule", "attach", "ro", "cfg:1.0.0"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(Cli({"exec", "ro", "cat", "/capsules/cfg/1.0.0/data"}).out, "on a read-only root");
  EXPECT_NE(Cli({"exec", "ro", "touch", "/x"}).code, 0);  // the root stays read-only
  EXPECT_EQ(Cli({"capsule", "detach", "ro", "cfg:1.0.0"}).code, 0);
  EXPECT_EQ(CapsuleMounts("ro"), "");
}

TEST_F(CapsuleTest, RecordsAndMountTablesAreReconciled) {
  ASSERT_EQ(Create("cfg", "1.0.0", "kept").code, 0);
  RunBox("rc");
  ASSERT_EQ(Cli({"capsule", "attach", "rc", "cfg:1.0.0"}).code, 0);
  // The mount disappears behind the engine's back: the next capsule command puts it back.
  int pid = State("rc")["Pid"];
  ASSERT_EQ(RunCmd({"/usr/bin/nsenter", "-t", std::to_string(pid), "-m", "umount", "/capsules/cfg/1.0.0"}).code, 0);
  EXPECT_EQ(CapsuleMounts("rc"), "");
  ASSERT_EQ(Cli({"capsule", "ls"}).code, 0);
  EXPECT_EQ(CapsuleMounts("rc"), " /capsules/cfg/1.0.0\n");
  EXPECT_EQ(Cli({"exec", "rc", "cat", "/capsules/cfg/1.0.0/data"}).out, "kept");
}

TEST_F(CapsuleTest, ARestartPolicyRestartKeepsLiveAttachedCapsules) {
  ASSERT_EQ(Create("cfg", "1.0.0", "again").code, 0);
  ASSERT_EQ(Cli({"run", "-d", "--name", "flappy", "--restart", "always", "busybox", "sh", "-c",
                 "sleep 2; exit 1"}).code, 0);
  ASSERT_EQ(Cli({"capsule", "attach", "flappy", "cfg:1.0.0"}).code, 0);
  // Wait for the shim to restart it, then look inside the new run.
  bool restarted = false;
  for (int i = 0; i < 100 && !restarted; ++i) {
    json c = json::parse(Cli({"inspect", "flappy"}).out)[0];
    restarted = c["RestartCount"].get<int>() >= 1 && c["State"]["Running"].get<bool>();
    if (!restarted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(restarted);
  EXPECT_EQ(Cli({"exec", "flappy", "cat", "/capsules/cfg/1.0.0/data"}).out, "again");
}

TEST_F(CapsuleTest, ExportImportRoundTripAndHostileArchives) {
  ASSERT_EQ(Cli({"capsule", "create", "--name", "libssl", "--version", "1.1.1", "--path", content_,
                 "--requires", "base@^1"}).code, 0);
  std::string archive = dir_->path() + "/libssl.tar";
  ASSERT_EQ(Cli({"capsule", "export", "libssl:1.1.1", "-o", archive}).code, 0);
  json original = json::parse(Cli({"capsule", "inspect", "libssl:1.1.1"}).out)[0];

  // Into a fresh store: same digest, same files, verified.
  std::string first_root = root_;
  root_ = dir_->path() + "/other-root";
  CmdResult r = Cli({"capsule", "import", archive});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "libssl:1.1.1 " + original["Digest"].get<std::string>() + "\n");
  EXPECT_NE(Cli({"capsule", "import", archive}).out.find("NOOP"), std::string::npos);
  json copy = json::parse(Cli({"capsule", "inspect", "libssl:1.1.1"}).out)[0];
  EXPECT_EQ(copy["Files"], original["Files"]);
  EXPECT_EQ(copy["Dependencies"], original["Dependencies"]);
  EXPECT_EQ(Cli({"capsule", "verify"}).code, 0);

  // Hostile archives: refused, naming the problem, with nothing stored or written outside.
  root_ = dir_->path() + "/third-root";
  std::string manifest_digest = original["Digest"];
  auto hostile = [&](const std::string& name, const std::function<void(store::TarBuilder&)>& fill) {
    std::string path = dir_->path() + "/" + name + ".tar";
    EXPECT_TRUE(os::WriteFile(path, BuildTar(fill)).ok());
    return path;
  };
  std::string traversal = hostile("traversal", [](store::TarBuilder& t) {
    ASSERT_TRUE(t.AddFile("../escaped", "x", {}).ok());
  });
  r = Cli({"capsule", "import", traversal});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find(".."), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(dir_->path() + "/escaped"));
  std::string bad_digest = hostile("digest", [](store::TarBuilder& t) {
    ASSERT_TRUE(t.AddFile("index.json", R"({"manifests":[{"digest":"sha256:../../../etc/passwd"}]})", {}).ok());
  });
  r = Cli({"capsule", "import", bad_digest});
  EXPECT_NE(r.err.find("bad digest"), std::string::npos) << r.err;
  std::string symlinked = hostile("symlink", [&](store::TarBuilder& t) {
    ASSERT_TRUE(t.AddFile("index.json", "{\"manifests\":[{\"digest\":\"" + manifest_digest + "\"}]}", {}).ok());
    ASSERT_TRUE(t.AddSymlink("blobs", "/", {}).ok());
  });
  r = Cli({"capsule", "import", symlinked});
  EXPECT_NE(r.err.find("not a plain directory"), std::string::npos) << r.err;
  // A layer that does not hold what the config says.
  std::string tampered = hostile("tampered", [&](store::TarBuilder& t) {
    ASSERT_TRUE(t.AddFile("index.json", "{\"manifests\":[{\"digest\":\"" + manifest_digest + "\"}]}", {}).ok());
    for (const char* key : {"Digest", "ConfigDigest"}) {
      std::string d = original[key];
      ASSERT_TRUE(t.AddFileFromDisk("blobs/sha256/" + std::string(DigestHex(d)),
                                    first_root + "/blobs/sha256/" + std::string(DigestHex(d)), {}).ok());
    }
    std::string layer = original["LayerDigest"];
    ASSERT_TRUE(t.AddFile("blobs/sha256/" + std::string(DigestHex(layer)), "not zstd at all", {}).ok());
  });
  r = Cli({"capsule", "import", tampered});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("decompress"), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"capsule", "ls", "-q"}).out, "");
}

// The fallback for kernels without the new mount API, forced: /capsules is a slave of a shared
// host directory and attaches mount there.
class CapsulePropagationTest : public CapsuleTest {
 protected:
  void SetUp() override {
    ::setenv("BASIC_DOCKER_CAPSULE_MOUNT", "propagation", 1);
    CapsuleTest::SetUp();
  }
  void TearDown() override {
    CapsuleTest::TearDown();
    ::unsetenv("BASIC_DOCKER_CAPSULE_MOUNT");
  }
};

TEST_F(CapsulePropagationTest, AttachDetachRestartAndRemove) {
  ASSERT_EQ(Create("base", "1.0.0", "base").code, 0);
  ASSERT_EQ(Create("app", "1.0.0", "app", {"--requires", "base@1"}).code, 0);
  std::string token = WriteFile("token", "s3cr3t\n");
  ASSERT_EQ(Cli({"capsule", "create", "--name", "creds", "--version", "1.0.0", "--path", token, "--secret"}).code, 0);
  std::string id = RunBox("fb", {"--capsule", "base:1.0.0"});
  EXPECT_EQ(CapsuleMounts("fb"), " /capsules/base/1.0.0\n");
  json before = State("fb");
  CmdResult r = Cli({"capsule", "attach", "fb", "app:1.0.0"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("capsule:base:1.0.0"), std::string::npos);
  EXPECT_NE(r.out.find("NOOP"), std::string::npos) << r.out;  // base was there already
  ASSERT_EQ(Cli({"capsule", "attach", "fb", "creds:1.0.0"}).code, 0);
  r = Cli({"exec", "fb", "sh", "-c", "cat /capsules/app/1.0.0/data /capsules/creds/1.0.0/token; "
                                       "touch /capsules/app/1.0.0/x 2>&1; true"});
  EXPECT_NE(r.out.find("apps3cr3t\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
  EXPECT_EQ(State("fb")["Pid"], before["Pid"]);
  ASSERT_EQ(Cli({"capsule", "detach", "fb", "app:1.0.0"}).code, 0);
  EXPECT_EQ(CapsuleMounts("fb"), " /capsules/base/1.0.0\n /capsules/creds/1.0.0\n");
  ASSERT_EQ(Cli({"stop", "-t", "0", "fb"}).code, 0);
  ASSERT_EQ(Cli({"start", "fb"}).code, 0);
  EXPECT_EQ(CapsuleMounts("fb"), " /capsules/base/1.0.0\n /capsules/creds/1.0.0\n");
  ASSERT_EQ(Cli({"rm", "-f", "fb"}).code, 0);
  for (const std::string& m : HostMountPoints()) EXPECT_EQ(m.find(id), std::string::npos) << m;
}

}  // namespace
}  // namespace bd::testing
