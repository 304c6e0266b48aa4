// Plugins as separate binaries: the conformance suite against every shipped plugin and the
// Python example, and the manager's lifecycle (lazy start, shared instance, idle exit and
// restart, crash, hang, bad capabilities) driven through the CLI.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class PluginTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (IsSkipped()) return;
    ASSERT_TRUE(os::MkdirAll(root_ + "/plugins", 0700).ok());
    Settings("2s");
  }
  void TearDown() override {
    for (const std::string& name : installed_) Cli({"plugin", "stop", name});
    EngineTest::TearDown();
  }
  void Settings(const std::string& idle, const std::string& start = "10s", const std::string& call = "30s") {
    ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json", json{{"plugin-idle-timeout", idle},
                                                           {"plugin-start-timeout", start},
                                                           {"plugin-call-timeout", call}}.dump()).ok());
  }
  // The test plugin, installed as `name` (its behaviour follows from the name).
  std::string Install(const std::string& name) {
    std::string path = root_ + "/plugins/basic-docker-plugin-" + name;
    auto bin = os::ReadFile(std::string(BD_BIN_DIR) + "/bd-test-plugin");
    EXPECT_TRUE(bin.ok());
    EXPECT_TRUE(os::WriteFile(path, *bin, 0755).ok());
    installed_.push_back(name);
    return path;
  }
  int PidOf(const std::string& name) {
    CmdResult r = Cli({"plugin", "call", name, "test/pid"});
    EXPECT_EQ(r.code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("pid", 0) : 0;
  }
  json Inspect(const std::string& name) {
    CmdResult r = Cli({"plugin", "inspect", name});
    json j = json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0] : json(nullptr);
  }
  std::vector<std::string> installed_;
};

bool Alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

bool WaitGone(int pid, int ms) {
  for (int i = 0; i < ms / 20 && Alive(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return !Alive(pid);
}

TEST_F(PluginTest, ConformanceSuitePassesForTheTestPluginAndThePythonExample) {
  for (const std::string& path : {std::string(BD_BIN_DIR) + "/bd-test-plugin", std::string(BD_BIN_DIR) + "/basic-docker-plugin-http",
                                  std::string(BD_BIN_DIR) + "/basic-docker-plugin-oci",
                                  std::string(BD_SOURCE_DIR) + "/examples/plugins/python/basic-docker-plugin-http-source"}) {
    CmdResult r = Cli({"plugin", "check", path}, "", 120);
    EXPECT_EQ(r.code, 0) << path << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  }
  // The suite fails what breaks the contract.
  std::string bad = Install("badversion");
  CmdResult r = Cli({"plugin", "check", bad}, "", 120);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("FAIL  capabilities"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("basic-docker.plugin/v0"), std::string::npos) << r.out;
}

TEST_F(PluginTest, StartsOnFirstCallSharesTheInstanceAndPassesErrorsOn) {
  std::string path = Install("tp");
  CmdResult ls = Cli({"plugin", "ls", "--format", "json"});
  ASSERT_EQ(ls.code, 0) << ls.err;
  std::map<std::string, json> rows;
  for (const json& j : JsonLines(ls.out)) rows[j["Name"]] = j;
  ASSERT_EQ(rows.size(), 5u) << ls.out;  // ours, the two shipped beside basic-docker, the built-ins
  EXPECT_EQ(rows["http"]["Path"], std::string(BD_BIN_DIR) + "/basic-docker-plugin-http");
  EXPECT_EQ(rows["oci"]["Capabilities"]["executor"][0], "create");
  EXPECT_EQ(rows["builtin-executor"]["State"], "builtin");
  EXPECT_EQ(rows["builtin-file"]["State"], "builtin");
  EXPECT_EQ(rows["builtin-file"]["Capabilities"]["capsule-source"][0], "fetch-file");
  EXPECT_EQ(rows["tp"]["State"], "stopped");  // found, not started
  EXPECT_EQ(rows["tp"]["Capabilities"]["test"][0], "echo");
  int pid = PidOf("tp");
  ASSERT_GT(pid, 0);
  EXPECT_EQ(PidOf("tp"), pid);  // the same instance for the next caller
  EXPECT_EQ(Inspect("tp")["State"], "running");
  EXPECT_EQ(Inspect("tp")["Pid"], pid);
  // Its socket directory is the engine's only.
  struct stat st {};
  std::string address = Inspect("tp")["Address"];
  std::string sock = address.substr(std::string("unix://").size());
  ASSERT_EQ(::stat(sock.substr(0, sock.rfind('/')).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Its error, as it said it.
  CmdResult fail = Cli({"plugin", "call", "tp", "test/fail"});
  EXPECT_EQ(fail.code, 1);
  EXPECT_NE(fail.err.find("plugin tp: this request is wrong on purpose"), std::string::npos) << fail.err;
  // What it was given: the contract's environment only.
  CmdResult env = Cli({"plugin", "call", "tp", "test/env"});
  ASSERT_EQ(env.code, 0) << env.err;
  json vars = json::parse(env.out);
  std::vector<std::string> names;
  for (const json& v : vars) names.push_back(v.get<std::string>().substr(0, v.get<std::string>().find('=')));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"BASIC_DOCKER_PLUGIN_NAME", "BASIC_DOCKER_ROOT", "LANG", "PATH"}));
  // Body and capability checks.
  CmdResult echo = Cli({"plugin", "call", "tp", "test/echo", R"({"a":[1,2]})"});
  EXPECT_EQ(echo.out, "{\"a\":[1,2]}\n");
  CmdResult missing = Cli({"plugin", "call", "tp", "test/nope"});
  EXPECT_NE(missing.err.find("has no test/nope (it has test/echo"), std::string::npos) << missing.err;
  CmdResult unknown = Cli({"plugin", "call", "nosuch", "test/echo"});
  EXPECT_NE(unknown.err.find("no plugin nosuch (looked in " + root_ + "/plugins"), std::string::npos) << unknown.err;
  CmdResult notjson = Cli({"plugin", "call", "tp", "test/echo", "{"});
  EXPECT_NE(notjson.err.find("not JSON"), std::string::npos);
  // Stop, and the next call starts it again.
  EXPECT_EQ(Cli({"plugin", "stop", "tp"}).code, 0);
  EXPECT_TRUE(WaitGone(pid, 3000));
  EXPECT_EQ(Inspect("tp")["State"], "stopped");
  int again = PidOf("tp");
  EXPECT_GT(again, 0);
  EXPECT_NE(again, pid);
  (void)path;
}

TEST_F(PluginTest, CapabilitiesAreAskedOncePerBinary) {
  std::string path = Install("tp");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Cli({"plugin", "ls"}).code, 0);
  EXPECT_EQ(*os::ReadFile(path + ".asked"), "asked\n");
  // A new binary (rewritten: new inode, mtime) is asked again.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_TRUE(os::WriteFile(path, *os::ReadFile(std::string(BD_BIN_DIR) + "/bd-test-plugin"), 0755).ok());
  ASSERT_EQ(Cli({"plugin", "ls"}).code, 0);
  EXPECT_EQ(*os::ReadFile(path + ".asked"), "asked\nasked\n");
}

TEST_F(PluginTest, IdleExitThenTheNextCallStartsItAgain) {
  Settings("300ms");
  Install("tp");
  int first = PidOf("tp");
  ASSERT_GT(first, 0);
  EXPECT_TRUE(WaitGone(first, 5000)) << "the plugin did not exit after its idle timeout";
  int second = PidOf("tp");
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
}

TEST_F(PluginTest, EightConcurrentFirstCallsStartOneInstance) {
  Install("tp");
  std::vector<std::thread> threads;
  std::vector<CmdResult> results(8);
  for (int i = 0; i < 8; ++i) threads.emplace_back([&, i] { results[i] = Cli({"plugin", "call", "tp", "test/pid"}); });
  for (auto& t : threads) t.join();
  std::set<std::string> pids;
  for (const CmdResult& r : results) {
    EXPECT_EQ(r.code, 0) << r.err;
    pids.insert(r.out);
  }
  EXPECT_EQ(pids.size(), 1u);
  // One start in its log.
  CmdResult logs = Cli({"plugin", "logs", "tp"});
  size_t starts = 0;
  for (size_t at = logs.out.find(" starting "); at != std::string::npos; at = logs.out.find(" starting ", at + 1)) ++starts;
  EXPECT_EQ(starts, 1u) << logs.out;
}

TEST_F(PluginTest, ACrashMidCallIsAnErrorAndTheNextCallRestartsIt) {
  Install("tp");
  int pid = PidOf("tp");
  CmdResult crash = Cli({"plugin", "call", "tp", "test/crash"});
  EXPECT_EQ(crash.code, 1);
  EXPECT_NE(crash.err.find("plugin tp failed during POST /v1/test/crash"), std::string::npos) << crash.err;
  EXPECT_NE(crash.err.find("crash: aborting mid-call"), std::string::npos) << crash.err;  // its stderr tail
  EXPECT_TRUE(WaitGone(pid, 3000));
  json info = Inspect("tp");
  EXPECT_EQ(info["State"], "unhealthy");
  EXPECT_EQ(info["Failures"], 1);
  int again = PidOf("tp");
  EXPECT_GT(again, 0);
  EXPECT_NE(again, pid);
  EXPECT_EQ(Inspect("tp")["Failures"], 0);  // healthy again
  CmdResult logs = Cli({"plugin", "logs", "--tail", "1", "tp"});
  EXPECT_NE(logs.out.find(" starting "), std::string::npos) << logs.out;
}

TEST_F(PluginTest, APluginThatNeverListensFailsWithADeadlineAndIsKilled) {
  Settings("2s", "400ms");
  Install("hang");
  auto t0 = std::chrono::steady_clock::now();
  CmdResult r = Cli({"plugin", "call", "hang", "test/echo"});
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("plugin hang did not print its address within 400 ms (killed)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hang: never listening"), std::string::npos) << r.err;
  EXPECT_LT(took, 3000);
  EXPECT_EQ(Inspect("hang")["State"], "unhealthy");
  // Failing again soon after is refused without a start, naming the backoff.
  CmdResult again = Cli({"plugin", "call", "hang", "test/echo"});
  EXPECT_EQ(again.code, 1);
  CmdResult third = Cli({"plugin", "call", "hang", "test/echo"});
  EXPECT_NE(third.err.find("unhealthy after 2 failures; next start in"), std::string::npos) << third.err;
}

TEST_F(PluginTest, AHungCallIsCutAtTheCallTimeout) {
  Settings("5s", "10s", "300ms");
  Install("tp");
  int pid = PidOf("tp");
  CmdResult r = Cli({"plugin", "call", "tp", "test/sleep", R"({"ms": 5000})"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("plugin tp did not answer POST /v1/test/sleep within 300 ms (killed)"), std::string::npos) << r.err;
  EXPECT_TRUE(WaitGone(pid, 3000));
  EXPECT_GT(PidOf("tp"), 0);
}

TEST_F(PluginTest, BadCapabilitiesAndEarlyExitsAreRefusedWithClearMessages) {
  Install("badjson");
  Install("badversion");
  Install("crashstart");
  CmdResult ls = Cli({"plugin", "ls", "--format", "json"});
  ASSERT_EQ(ls.code, 0) << ls.err;
  std::map<std::string, json> by_name;
  for (const json& j : JsonLines(ls.out)) by_name[j["Name"]] = j;
  EXPECT_EQ(by_name["badjson"]["State"], "invalid");
  EXPECT_NE(by_name["badjson"]["Refused"].get<std::string>().find("is not JSON"), std::string::npos);
  EXPECT_EQ(by_name["badversion"]["State"], "invalid");
  EXPECT_NE(by_name["badversion"]["Refused"].get<std::string>().find(
                "speaks contract basic-docker.plugin/v0, this engine speaks basic-docker.plugin/v1"),
            std::string::npos);
  CmdResult call = Cli({"plugin", "call", "badjson", "test/echo"});
  EXPECT_NE(call.err.find("plugin badjson cannot be used"), std::string::npos) << call.err;
  CmdResult early = Cli({"plugin", "call", "crashstart", "test/echo"});
  EXPECT_EQ(early.code, 1);
  EXPECT_NE(early.err.find("plugin crashstart exited with status 3 before it listened"), std::string::npos) << early.err;
  EXPECT_NE(early.err.find("crashstart: giving up before listening"), std::string::npos) << early.err;
  // A malformed setting is refused, naming it.
  ASSERT_TRUE(os::WriteFile(root_ + "/daemon.json", R"({"plugin-idle-timeout": "soon"})").ok());
  CmdResult bad = Cli({"plugin", "ls"});
  EXPECT_NE(bad.err.find("plugin-idle-timeout must be a duration"), std::string::npos) << bad.err;
}

// The Python example does its job: a file over HTTP (a server of the test's on loopback)
// against a pinned sha256; a mismatch leaves nothing; a missing file is NotFound.
TEST_F(PluginTest, ThePythonExampleFetchesOverHttpAgainstAPinnedDigest) {
  std::string plugin = root_ + "/plugins/basic-docker-plugin-http-source";
  ASSERT_TRUE(os::WriteFile(plugin, *os::ReadFile(std::string(BD_SOURCE_DIR) +
                                                  "/examples/plugins/python/basic-docker-plugin-http-source"), 0755).ok());
  installed_.push_back("http-source");
  std::string served = dir_->path() + "/served", out = dir_->path() + "/out";
  ASSERT_TRUE(os::MkdirAll(served).ok());
  ASSERT_TRUE(os::MkdirAll(out).ok());
  std::string content = "capsule content\n";
  ASSERT_TRUE(os::WriteFile(served + "/data.txt", content).ok());
  int port = 20000 + static_cast<int>(::getpid() % 20000);
  pid_t server = StartInBackground({"/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1",
                                    "--directory", served});
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto call = [&](const std::string& file, const std::string& sha) {
    return Cli({"plugin", "call", "http-source", "capsule-source/fetch-http",
                json{{"uri", base + "/" + file}, {"sha256", sha}, {"destination", out}}.dump()});
  };
  std::string sha = Sha256Digest(content).substr(7);
  CmdResult ok;
  for (int i = 0; i < 50; ++i) {  // until the server listens
    ok = call("data.txt", sha);
    if (ok.code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ok.code, 0) << ok.err;
  json answer = json::parse(ok.out, nullptr, false);
  EXPECT_EQ(answer["size"], static_cast<int>(content.size()));
  EXPECT_EQ(*os::ReadFile(out + "/data.txt"), content);
  ASSERT_EQ(::unlink((out + "/data.txt").c_str()), 0);
  std::string wrong(64, 'a');
  CmdResult mismatch = call("data.txt", wrong);
  EXPECT_EQ(mismatch.code, 1);
  EXPECT_NE(mismatch.err.find("has sha256 " + sha + ", not the pinned " + wrong), std::string::npos) << mismatch.err;
  EXPECT_EQ(*os::ListDir(out), std::vector<std::string>{});  // nothing left behind
  CmdResult missing = call("nothing.txt", sha);
  EXPECT_NE(missing.err.find("HTTP 404"), std::string::npos) << missing.err;
  CmdResult bad = Cli({"plugin", "call", "http-source", "capsule-source/fetch-http", R"({"uri": "ftp://x"})"});
  EXPECT_NE(bad.err.find("plugin http-source: uri must be a http:// URL"), std::string::npos) << bad.err;
  ::kill(server, SIGKILL);
  ::waitpid(server, nullptr, 0);
}

// capsule create --from URL --sha256: the shipped http plugin (found beside basic-docker)
// fetches it; the digest is checked; a mismatch makes nothing.
TEST_F(PluginTest, CapsuleCreateFromAUrlGoesThroughTheShippedHttpPlugin) {
  installed_.push_back("http");
  std::string served = dir_->path() + "/served";
  ASSERT_TRUE(os::MkdirAll(served).ok());
  std::string content = "key=value\n";
  ASSERT_TRUE(os::WriteFile(served + "/app.conf", content).ok());
  int port = 20000 + static_cast<int>((::getpid() + 7) % 20000);
  pid_t server = StartInBackground({"/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1",
                                    "--directory", served});
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/app.conf";
  std::string sha = Sha256Digest(content).substr(7);
  CmdResult made;
  for (int i = 0; i < 50; ++i) {
    made = Cli({"capsule", "create", "--name", "appconf", "--version", "1.0", "--from", url, "--sha256", sha});
    if (made.code == 0 || made.err.find("Couldn't connect") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(made.code, 0) << made.err;
  CmdResult inspect = Cli({"capsule", "inspect", "appconf:1.0"});
  EXPECT_NE(inspect.out.find(url), std::string::npos) << inspect.out;
  EXPECT_EQ(Inspect("http")["State"], "running");
  CmdResult wrong = Cli({"capsule", "create", "--name", "appconf", "--version", "2.0", "--from", url, "--sha256", std::string(64, 'b')});
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.err.find("plugin http: " + url + " has sha256 " + sha + ", not the pinned"), std::string::npos) << wrong.err;
  EXPECT_NE(Cli({"capsule", "inspect", "appconf:2.0"}).code, 0);
  CmdResult unpinned = Cli({"capsule", "create", "--name", "x", "--version", "1.0", "--from", url});
  EXPECT_NE(unpinned.err.find("--from needs --sha256"), std::string::npos) << unpinned.err;
  CmdResult scheme = Cli({"capsule", "create", "--name", "x", "--version", "1.0", "--from", "gopher://h/x", "--sha256", sha});
  EXPECT_NE(scheme.err.find("no plugin has capsule-source/fetch-gopher"), std::string::npos) << scheme.err;
  // file:// is served in-process by the built-in, through the same contract.
  std::string local = "file://" + served + "/app.conf";
  CmdResult builtin = Cli({"capsule", "create", "--name", "localconf", "--version", "1.0", "--from", local, "--sha256", sha});
  EXPECT_EQ(builtin.code, 0) << builtin.err;
  CmdResult local_inspect = Cli({"capsule", "inspect", "localconf:1.0"});
  EXPECT_EQ(local_inspect.code, 0) << local_inspect.err;
  EXPECT_NE(local_inspect.out.find(local), std::string::npos) << local_inspect.out;
  CmdResult bad_local = Cli({"capsule", "create", "--name", "localconf", "--version", "2.0", "--from", local, "--sha256", std::string(64, 'c')});
  EXPECT_NE(bad_local.err.find("plugin builtin-file: " + local + " has sha256 " + sha), std::string::npos) << bad_local.err;
  CmdResult missing_local = Cli({"capsule", "create", "--name", "x", "--version", "1.0", "--from", "file:///no/such/file", "--sha256", sha});
  EXPECT_NE(missing_local.err.find("/no/such/file does not exist"), std::string::npos) << missing_local.err;
  // Fields of the wrong type are a clear error, not a failure of the engine.
  CmdResult typed = Cli({"plugin", "call", "builtin-file", "capsule-source/fetch-file", R"({"uri": 5, "sha256": []})"});
  EXPECT_EQ(typed.code, 1);
  EXPECT_NE(typed.err.find("plugin builtin-file: uri must be a file:///absolute/path URL"), std::string::npos) << typed.err;
  CmdResult typed_http = Cli({"plugin", "call", "http", "capsule-source/fetch-http",
                              json{{"uri", url}, {"sha256", sha}, {"destination", served}, {"maxBytes", "big"}}.dump()});
  EXPECT_NE(typed_http.err.find("plugin http: maxBytes must be a non-negative integer"), std::string::npos) << typed_http.err;
  std::vector<std::string> tmp = *os::ListDir(root_ + "/tmp");
  EXPECT_TRUE(tmp.empty()) << Join(tmp, ",");  // scratch directories gone
  ::kill(server, SIGKILL);
  ::waitpid(server, nullptr, 0);
}

// An OCI image layout with one manifest per platform, each holding `binary` as its one layer.
struct PlatformBinary {
  std::string os, arch, binary;
};
std::string MakePluginLayout(const std::string& dir, const std::vector<PlatformBinary>& entries, const std::string& title) {
  EXPECT_TRUE(os::MkdirAll(dir + "/blobs/sha256").ok());
  auto blob = [&](const std::string& data) {
    std::string d = Sha256Digest(data);
    EXPECT_TRUE(os::WriteFile(dir + "/blobs/sha256/" + d.substr(7), data).ok());
    return d;
  };
  std::string empty = blob("{}");
  json manifests = json::array();
  for (const PlatformBinary& e : entries) {
    json layer = {{"mediaType", "application/vnd.basic-docker.plugin.binary.v1"},
                  {"digest", blob(e.binary)},
                  {"size", e.binary.size()},
                  {"annotations", {{"org.opencontainers.image.title", title}}}};
    std::string m = json{{"schemaVersion", 2},
                         {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                         {"artifactType", "application/vnd.basic-docker.plugin.v1"},
                         {"config", {{"mediaType", "application/vnd.oci.empty.v1+json"}, {"digest", empty}, {"size", 2}}},
                         {"layers", json::array({layer})}}.dump();
    manifests.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                         {"digest", blob(m)},
                         {"size", m.size()},
                         {"platform", {{"os", e.os}, {"architecture", e.arch}}}});
  }
  EXPECT_TRUE(os::WriteFile(dir + "/oci-layout", R"({"imageLayoutVersion": "1.0.0"})").ok());
  EXPECT_TRUE(os::WriteFile(dir + "/index.json", json{{"schemaVersion", 2}, {"manifests", manifests}}.dump()).ok());
  return dir;
}

TEST_F(PluginTest, InstallPicksThisMachinesBinaryVerifiesItAndRmRemovesIt) {
  std::string bin = *os::ReadFile(std::string(BD_BIN_DIR) + "/bd-test-plugin");
  std::string other = "#!/bin/sh\necho not for this machine\n";
  std::string layout = MakePluginLayout(dir_->path() + "/layout", {{"linux", "arm64", other}, {"linux", "amd64", bin},
                                                                   {"linux", "riscv64", other}},
                                        "basic-docker-plugin-fromoci");
  CmdResult in = Cli({"plugin", "install", layout});
  ASSERT_EQ(in.code, 0) << in.err;
  EXPECT_NE(in.out.find("installed plugin fromoci (linux/amd64, sha256:"), std::string::npos) << in.out;
  installed_.push_back("fromoci");
  std::string path = root_ + "/plugins/basic-docker-plugin-fromoci";
  EXPECT_EQ(*os::ReadFile(path), bin);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_GT(PidOf("fromoci"), 0);
  // Again: nothing to do. Another binary under the name: refused unless --replace.
  CmdResult again = Cli({"plugin", "install", layout});
  EXPECT_EQ(again.code, 0);
  EXPECT_NE(again.out.find("is installed already"), std::string::npos) << again.out;
  // From a tar of the layout, under another name.
  CmdResult tar = RunCmd({"/bin/tar", "-C", layout, "-cf", dir_->path() + "/layout.tar", "."});
  ASSERT_EQ(tar.code, 0) << tar.err;
  CmdResult named = Cli({"plugin", "install", "--name", "second", dir_->path() + "/layout.tar"});
  EXPECT_EQ(named.code, 0) << named.err;
  installed_.push_back("second");
  EXPECT_EQ(*os::ReadFile(root_ + "/plugins/basic-docker-plugin-second"), bin);

  // Only other platforms: refused, naming them.
  std::string foreign = MakePluginLayout(dir_->path() + "/foreign", {{"linux", "arm64", other}, {"windows", "amd64", other}}, "x");
  CmdResult none = Cli({"plugin", "install", "--name", "foreign", foreign});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("no plugin binary for linux/amd64"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("it has: linux/arm64, windows/amd64"), std::string::npos) << none.err;
  // A blob that does not match its digest: refused, nothing installed.
  std::string tampered = MakePluginLayout(dir_->path() + "/tampered", {{"linux", "amd64", bin}}, "basic-docker-plugin-tampered");
  std::vector<std::string> blobs = *os::ListDir(tampered + "/blobs/sha256");
  for (const std::string& f : blobs) {
    std::string p = tampered + "/blobs/sha256/" + f;
    std::string data = *os::ReadFile(p);
    if (data.size() > 1000) {
      ASSERT_TRUE(os::WriteFile(p, data + "x").ok());
    }
  }
  CmdResult bad = Cli({"plugin", "install", tampered});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("does not match its content"), std::string::npos) << bad.err;
  EXPECT_FALSE(os::Exists(root_ + "/plugins/basic-docker-plugin-tampered"));
  // A binary whose capabilities are refused is not installed.
  std::string refused = MakePluginLayout(dir_->path() + "/refused", {{"linux", "amd64", "#!/bin/sh\necho '{'\n"}},
                                         "basic-docker-plugin-refused");
  CmdResult r = Cli({"plugin", "install", refused});
  EXPECT_NE(r.err.find("plugin refused is refused"), std::string::npos) << r.err;
  EXPECT_FALSE(os::Exists(root_ + "/plugins/basic-docker-plugin-refused"));
  std::vector<std::string> left = *os::ListDir(root_ + "/plugins");
  for (const std::string& f : left) {  // (the test plugin's own .asked notes aside)
    if (f.size() < 6 || f.substr(f.size() - 6) != ".asked") {
      EXPECT_EQ(f.find(".install-"), std::string::npos) << f;
    }
  }
  CmdResult notlayout = Cli({"plugin", "install", dir_->path()});
  EXPECT_NE(notlayout.err.find("is not an OCI image layout"), std::string::npos) << notlayout.err;

  // rm: stopped, file, record and log gone.
  int pid = PidOf("fromoci");
  CmdResult rm = Cli({"plugin", "rm", "fromoci"});
  EXPECT_EQ(rm.code, 0) << rm.err;
  EXPECT_TRUE(WaitGone(pid, 3000));
  EXPECT_FALSE(os::Exists(path));
  EXPECT_FALSE(os::Exists(root_ + "/plugins/.logs/fromoci.log"));
  EXPECT_NE(Cli({"plugin", "inspect", "fromoci"}).err.find("no plugin fromoci"), std::string::npos);
}

}  // namespace
}  // namespace bd::testing
