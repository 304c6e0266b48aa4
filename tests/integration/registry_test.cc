// Registries, for real: Debian's docker-registry (distribution 2.8) started on a 127.0.0.1
// port, plain and with htpasswd Basic auth; images put there by skopeo (Docker schema2 and OCI,
// gzip and zstd, a multi-platform index) and by our own push. Loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "base/digest.h"
#include "base/strings.h"
#include "integration/cli_helper.h"
#include "net/http_client.h"

namespace bd::testing {
namespace {

using nlohmann::json;

int FreePort() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

bool Installed(const char* path) { return ::access(path, X_OK) == 0; }

std::string Trimmed(const std::string& s) { return std::string(TrimSpace(s)); }

// Waits (up to 10 s) for `url` to answer one of `codes`.
bool WaitForHttp(const std::string& url, std::vector<long> codes = {200}) {
  net::HttpClient http;
  for (int i = 0; i < 200; ++i) {
    net::HttpRequest req;
    req.url = url;
    req.timeout_ms = 1000;
    auto r = http.Do(req);
    if (r.ok() && std::find(codes.begin(), codes.end(), r->status) != codes.end()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Kills and reaps a helper process the test started, however the test ends.
struct Reaper {
  pid_t pid;
  ~Reaper() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

// One docker-registry process on 127.0.0.1:<free port>, its storage under `dir`.
class Registry {
 public:
  // `auth`: the YAML of the config's auth section (htpasswd or token), "" for none.
  Registry(const std::string& dir, const std::string& auth = "") : dir_(dir) {
    port_ = FreePort();
    std::string conf = "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n"
                       "  filesystem:\n    rootdirectory: " + dir + "/data\n  delete:\n    enabled: true\n"
                       "http:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n";
    if (!auth.empty()) conf += "auth:\n" + auth;
    EXPECT_TRUE(os::WriteFileAtomic(dir + "/config.yml", conf).ok());
    pid_ = StartInBackground({"/usr/bin/docker-registry", "serve", dir + "/config.yml"});
    if (!WaitForHttp("http://" + host() + "/v2/", {200, 401})) ADD_FAILURE() << "docker-registry did not answer on " << host();
  }
  ~Registry() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  // The file the registry serves blob `digest` from.
  std::string BlobData(const std::string& digest) const {
    std::string hex(DigestHex(digest));
    return dir_ + "/data/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
  }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class RegistryTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    for (const char* tool : {"/usr/bin/docker-registry", "/usr/bin/skopeo", "/usr/bin/zstd"}) {
      if (!Installed(tool)) GTEST_SKIP() << tool << " is not installed (scripts/install-deps.sh --test installs it)";
    }
    if (std::string why = MissingPrivilege(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_EQ(::mkdir((dir_->path() + "/reg").c_str(), 0700), 0);
    BlockDockerHub(dir_->path() + "/other");
  }

  // A second, empty data root (another machine pulling).
  std::vector<std::string> Other(std::vector<std::string> args) {
    std::vector<std::string> argv = {std::string(BD_BIN_DIR) + "/basic-docker", "--root", dir_->path() + "/other"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  CmdResult Skopeo(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/skopeo", "--insecure-policy"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCmd(argv, "", 120);
  }

  // sha256 of the manifest the registry has for `ref`, as skopeo reads it.
  std::string SkopeoDigest(const std::string& ref) {
    CmdResult r = Skopeo({"inspect", "--tls-verify=false", "--raw", "docker://" + ref});
    EXPECT_EQ(r.code, 0) << r.err;
    return Sha256Digest(r.out);
  }

  // The busybox OCI layout with its layer compressed by zstd, tagged "zstd".
  std::string ZstdLayout() {
    std::string layout = dir_->path() + "/zstd-layout";
    EXPECT_EQ(::mkdir(layout.c_str(), 0700), 0);
    EXPECT_EQ(RunCmd({"/bin/tar", "-xf", dir_->path() + "/busybox-oci.tar", "-C", layout}).code, 0);
    json index = json::parse(*os::ReadFile(layout + "/index.json"));
    auto path = [&](const std::string& d) { return layout + "/blobs/sha256/" + std::string(DigestHex(d)); };
    json m = json::parse(*os::ReadFile(path(index["manifests"][0]["digest"])));
    std::string layer = m["layers"][0]["digest"];
    CmdResult z = RunCmd({"/usr/bin/zstd", "-q", "-f", path(layer), "-o", layout + "/layer.zst"});
    EXPECT_EQ(z.code, 0) << z.err;
    std::string zst = *os::ReadFile(layout + "/layer.zst");
    std::string zd = Sha256Digest(zst);
    EXPECT_TRUE(os::WriteFileAtomic(path(zd), zst).ok());
    m["layers"][0] = {{"mediaType", "application/vnd.oci.image.layer.v1.tar+zstd"}, {"digest", zd}, {"size", zst.size()}};
    std::string mt = m.dump();
    std::string md = Sha256Digest(mt);
    EXPECT_TRUE(os::WriteFileAtomic(path(md), mt).ok());
    json top = {{"schemaVersion", 2},
                {"manifests", {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", md},
                                {"size", mt.size()}, {"annotations", {{"org.opencontainers.image.ref.name", "zstd"}}}}}}};
    EXPECT_TRUE(os::WriteFileAtomic(layout + "/index.json", top.dump()).ok());
    return layout;
  }

  // The built-in busybox, saved as an OCI archive (skopeo's source for the registry).
  std::string SavedBusybox() {
    EXPECT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
    std::string path = dir_->path() + "/busybox-oci.tar";
    CmdResult r = Cli({"save", "--format", "oci", "-o", path, "busybox"});
    EXPECT_EQ(r.code, 0) << r.err;
    return path;
  }
};

TEST_F(RegistryTest, PushThenPullGivesTheRegistrysDigestsAndTheImageRuns) {
  Registry reg(dir_->path() + "/reg");
  std::string name = reg.host() + "/team/bb:v1";
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"tag", "busybox", name}).code, 0);
  CmdResult push = Cli({"push", name});
  ASSERT_EQ(push.code, 0) << push.err;
  EXPECT_NE(push.out.find("The push refers to repository [" + reg.host() + "/team/bb]"), std::string::npos) << push.out;
  std::string digest = SkopeoDigest(name);
  EXPECT_NE(push.out.find("v1: digest: " + digest), std::string::npos) << push.out;

  // A second push sends nothing again.
  CmdResult again = Cli({"push", name});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("Layer already exists"), std::string::npos) << again.out;

  CmdResult pull = RunCmd(Other({"pull", name}));
  ASSERT_EQ(pull.code, 0) << pull.err;
  EXPECT_NE(pull.out.find("Digest: " + digest), std::string::npos) << pull.out;
  EXPECT_NE(pull.out.find("Status: Downloaded newer image for " + name), std::string::npos) << pull.out;
  CmdResult run = RunCmd(Other({"run", "--rm", name, "echo", "pulled"}));
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "pulled\n");
  // The same image id as where it was pushed from, and the digest pins it.
  std::string id_here = Trimmed(Cli({"images", "-q", "--no-trunc", name}).out);
  std::string id_there = Trimmed(RunCmd(Other({"images", "-q", "--no-trunc", name})).out);
  EXPECT_EQ(id_here, id_there);
  CmdResult by_digest = RunCmd(Other({"run", "--rm", reg.host() + "/team/bb@" + digest, "true"}));
  EXPECT_EQ(by_digest.code, 0) << by_digest.err;
  CmdResult digests = RunCmd(Other({"images", "--digests"}));
  EXPECT_NE(digests.out.find(digest), std::string::npos) << digests.out;

  // Up to date: nothing downloaded; -q prints the name only.
  CmdResult quiet = RunCmd(Other({"pull", "-q", name}));
  EXPECT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_EQ(quiet.out, reg.host() + "/team/bb:v1\n");
  CmdResult up = RunCmd(Other({"pull", name}));
  EXPECT_NE(up.out.find("Image is up to date"), std::string::npos) << up.out;
}

TEST_F(RegistryTest, PullsWhatSkopeoPutsThereInEveryFormatAndCompression) {
  Registry reg(dir_->path() + "/reg");
  std::string src = "oci-archive:" + SavedBusybox();
  struct Case {
    const char* repo;
    std::vector<std::string> flags;
  };
  std::vector<Case> cases = {
      {"sk/oci-gzip", {"--format", "oci", "--dest-compress", "--dest-compress-format", "gzip"}},
      {"sk/oci-zstd", {}},  // from a layout whose layer is zstd already: skopeo keeps it
      {"sk/v2s2-gzip", {"--format", "v2s2", "--dest-compress", "--dest-compress-format", "gzip"}},
      {"sk/oci-plain", {"--format", "oci"}},
  };
  for (const Case& c : cases) {
    std::string name = reg.host() + "/" + c.repo + ":1";
    std::vector<std::string> args = {"copy", "--dest-tls-verify=false"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    args.push_back(std::string(c.repo) == "sk/oci-zstd" ? "oci:" + ZstdLayout() + ":zstd" : src);
    args.push_back("docker://" + name);
    CmdResult copy = Skopeo(args);
    ASSERT_EQ(copy.code, 0) << c.repo << ": " << copy.err;
    if (std::string(c.repo) == "sk/oci-zstd") {
      std::string raw = Skopeo({"inspect", "--tls-verify=false", "--raw", "docker://" + name}).out;
      ASSERT_NE(raw.find("tar+zstd"), std::string::npos) << raw;
    }
    CmdResult pull = RunCmd(Other({"pull", name}));
    ASSERT_EQ(pull.code, 0) << c.repo << ": " << pull.err;
    EXPECT_NE(pull.out.find("Digest: " + SkopeoDigest(name)), std::string::npos) << pull.out;
    CmdResult run = RunCmd(Other({"run", "--rm", name, "echo", c.repo}));
    EXPECT_EQ(run.out, std::string(c.repo) + "\n") << run.err;
    // And back out: our push of what we pulled gives the registry the same manifest.
    std::string copy_name = reg.host() + "/back/" + std::string(c.repo).substr(3) + ":1";
    ASSERT_EQ(RunCmd(Other({"tag", name, copy_name})).code, 0);
    CmdResult push = RunCmd(Other({"push", copy_name}));
    ASSERT_EQ(push.code, 0) << push.err;
    EXPECT_EQ(SkopeoDigest(copy_name), SkopeoDigest(name)) << c.repo;
    EXPECT_NE(push.out.find("Mounted from"), std::string::npos) << "layers mounted from the repository they came from: " << push.out;
  }
  // `save` of a pulled image is read by skopeo, in both formats.
  std::string saved = dir_->path() + "/pulled.tar";
  for (const char* format : {"docker", "oci"}) {
    CmdResult save = RunCmd(Other({"save", "--format", format, "-o", saved, reg.host() + "/sk/oci-zstd:1"}));
    ASSERT_EQ(save.code, 0) << save.err;
    std::string transport = std::string(format) == "oci" ? "oci-archive:" + saved : "docker-archive:" + saved;
    CmdResult inspect = Skopeo({"inspect", transport});
    EXPECT_EQ(inspect.code, 0) << format << ": " << inspect.err;
  }
}

TEST_F(RegistryTest, AMultiPlatformIndexGivesThisMachinesImageOrTheOneAskedFor) {
  Registry reg(dir_->path() + "/reg");
  // An OCI layout with an index of two platforms: the busybox image as amd64, and the same
  // layers under an arm64 config.
  std::string layout = dir_->path() + "/layout";
  ASSERT_EQ(::mkdir(layout.c_str(), 0700), 0);
  ASSERT_EQ(RunCmd({"/bin/tar", "-xf", SavedBusybox(), "-C", layout}).code, 0);
  json index = json::parse(*os::ReadFile(layout + "/index.json"));
  std::string amd_digest = index["manifests"][0]["digest"];
  auto blob = [&](const std::string& d) { return *os::ReadFile(layout + "/blobs/sha256/" + std::string(DigestHex(d))); };
  auto put = [&](const std::string& data) {
    std::string d = Sha256Digest(data);
    EXPECT_TRUE(os::WriteFileAtomic(layout + "/blobs/sha256/" + std::string(DigestHex(d)), data).ok());
    return d;
  };
  json amd = json::parse(blob(amd_digest));
  json cfg = json::parse(blob(amd["config"]["digest"]));
  cfg["architecture"] = "arm64";
  cfg["variant"] = "v8";
  std::string arm_cfg = cfg.dump();
  json arm = amd;
  arm["config"]["digest"] = put(arm_cfg);
  arm["config"]["size"] = arm_cfg.size();
  std::string arm_manifest = arm.dump();
  std::string amd_manifest = blob(amd_digest);
  json list = {{"schemaVersion", 2},
               {"mediaType", "application/vnd.oci.image.index.v1+json"},
               {"manifests",
                {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", amd_digest},
                  {"size", amd_manifest.size()}, {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
                 {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", put(arm_manifest)},
                  {"size", arm_manifest.size()},
                  {"platform", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}}}}}};
  std::string list_text = list.dump();
  json top = {{"schemaVersion", 2},
              {"manifests", {{{"mediaType", "application/vnd.oci.image.index.v1+json"}, {"digest", put(list_text)},
                              {"size", list_text.size()}, {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}}}}};
  ASSERT_TRUE(os::WriteFileAtomic(layout + "/index.json", top.dump()).ok());
  std::string name = reg.host() + "/sk/multi:1";
  CmdResult copy = Skopeo({"copy", "--all", "--dest-tls-verify=false", "oci:" + layout + ":multi", "docker://" + name});
  ASSERT_EQ(copy.code, 0) << copy.err;
  std::string index_digest = SkopeoDigest(name);

  CmdResult pull = RunCmd(Other({"pull", name}));
  ASSERT_EQ(pull.code, 0) << pull.err;
  EXPECT_NE(pull.out.find("Digest: " + index_digest), std::string::npos) << "the index's digest, as Docker prints it: " << pull.out;
  EXPECT_EQ(RunCmd(Other({"run", "--rm", name, "echo", "native"})).out, "native\n");

  CmdResult arm_pull = RunCmd(Other({"pull", "--platform", "linux/arm64", name}));
  ASSERT_EQ(arm_pull.code, 0) << arm_pull.err;
  CmdResult inspect = RunCmd(Other({"inspect", name}));
  EXPECT_NE(inspect.out.find("\"Architecture\": \"arm64\""), std::string::npos) << inspect.out.substr(0, 2000);

  CmdResult none = RunCmd(Other({"pull", "--platform", "linux/s390x", name}));
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.err.find("no matching manifest for linux/s390x"), std::string::npos) << none.err;
  EXPECT_NE(none.err.find("linux/amd64, linux/arm64/v8"), std::string::npos) << none.err;
  EXPECT_EQ(RunCmd(Other({"pull", "--platform", "s390x", name})).code, 1);
}

TEST_F(RegistryTest, BasicAuthLoginLogoutAndWrongPasswords) {
  if (!Installed("/usr/bin/htpasswd")) GTEST_SKIP() << "htpasswd (apache2-utils) is not installed";
  std::string htpasswd = dir_->path() + "/htpasswd";
  CmdResult h = RunCmd({"/usr/bin/htpasswd", "-Bbc", htpasswd, "alice", "wonder-land"});
  ASSERT_EQ(h.code, 0) << h.err;
  Registry reg(dir_->path() + "/reg", "  htpasswd:\n    realm: test-realm\n    path: " + htpasswd + "\n");
  std::string name = reg.host() + "/private/bb:1";
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"tag", "busybox", name}).code, 0);

  CmdResult anonymous = Cli({"push", name});
  EXPECT_EQ(anonymous.code, 1);
  EXPECT_NE(anonymous.err.find("requires a login"), std::string::npos) << anonymous.err;
  EXPECT_NE(anonymous.err.find(reg.host()), std::string::npos) << anonymous.err;

  CmdResult wrong = Cli({"login", "-u", "alice", "--password-stdin", reg.host()}, "not-it\n");
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.err.find("incorrect username or password"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find("not-it"), std::string::npos) << "the password is never printed";
  EXPECT_FALSE(os::Exists(root_ + "/config.json")) << "a refused login stores nothing";

  CmdResult login = Cli({"login", "-u", "alice", "--password-stdin", reg.host()}, "wonder-land\n");
  ASSERT_EQ(login.code, 0) << login.err;
  EXPECT_EQ(login.out, "Login Succeeded\n");
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string creds = *os::ReadFile(root_ + "/config.json");
  EXPECT_EQ(creds.find("wonder-land"), std::string::npos);
  EXPECT_NE(creds.find(Base64Encode("alice:wonder-land")), std::string::npos);

  CmdResult push = Cli({"push", name});
  ASSERT_EQ(push.code, 0) << push.err;
  ASSERT_EQ(Cli({"rmi", name}).code, 0);
  CmdResult pull = Cli({"pull", name});
  ASSERT_EQ(pull.code, 0) << pull.err;
  // Nothing secret in the event log or the operation log.
  CmdResult events = Cli({"events", "--since", "10m", "--until", "0s", "--format", "json"});
  EXPECT_EQ(events.out.find("wonder-land"), std::string::npos);
  EXPECT_EQ(events.out.find(Base64Encode("alice:wonder-land")), std::string::npos);

  CmdResult logout = Cli({"logout", reg.host()});
  EXPECT_EQ(logout.code, 0);
  EXPECT_EQ(logout.out, "Removing login credentials for " + reg.host() + "\n");
  EXPECT_EQ(Cli({"pull", name}).code, 1);
  EXPECT_EQ(Cli({"logout", reg.host()}).out, "Not logged in to " + reg.host() + "\n");
}

// Token auth as Docker Hub does it: the registry answers 401 with a Bearer challenge, a token
// server the test runs signs JWTs the registry checks against its certificate.
TEST_F(RegistryTest, BearerTokensAreFetchedForTheScopeCachedAndRefusedWhenTheyGrantNothing) {
  for (const char* tool : {"/usr/bin/openssl", "/usr/bin/python3"}) {
    if (!Installed(tool)) GTEST_SKIP() << tool << " is not installed (scripts/install-deps.sh --test installs it)";
  }
  std::string d = dir_->path();
  CmdResult keygen = RunCmd({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/key.pem",
                             "-out", d + "/cert.pem", "-subj", "/CN=test-token-issuer", "-days", "1"});
  ASSERT_EQ(keygen.code, 0) << keygen.err;
  int token_port = FreePort();
  std::string log = d + "/token.log";
  pid_t tokens = StartInBackground({"/usr/bin/python3", std::string(BD_SOURCE_DIR) + "/tests/registry/token_server.py",
                                    std::to_string(token_port), d + "/key.pem", d + "/cert.pem", "bob", "builder", "300", log});
  Reaper reap{tokens};
  ASSERT_TRUE(WaitForHttp("http://127.0.0.1:" + std::to_string(token_port) + "/token"));
  Registry reg(d + "/reg", "  token:\n    realm: http://127.0.0.1:" + std::to_string(token_port) +
                               "/token\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: " +
                               d + "/cert.pem\n");
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  std::string pub = reg.host() + "/public/bb:1", priv = reg.host() + "/private/bb:1";
  ASSERT_EQ(Cli({"tag", "busybox", pub}).code, 0);
  ASSERT_EQ(Cli({"tag", "busybox", priv}).code, 0);

  CmdResult anonymous = Cli({"push", pub});
  EXPECT_EQ(anonymous.code, 1);
  EXPECT_NE(anonymous.err.find("authentication required"), std::string::npos) << anonymous.err;
  CmdResult wrong = Cli({"login", "-u", "bob", "--password-stdin", reg.host()}, "guess\n");
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.err.find("incorrect username or password"), std::string::npos) << wrong.err;
  CmdResult login = Cli({"login", "-u", "bob", "--password-stdin", reg.host()}, "builder\n");
  ASSERT_EQ(login.code, 0) << login.err;
  for (const std::string& name : {pub, priv}) {
    CmdResult push = Cli({"push", name});
    ASSERT_EQ(push.code, 0) << push.err;
  }
  EXPECT_NE(os::ReadFile(log)->find("repository:public/bb:pull,push"), std::string::npos) << "the scope asked for";

  // Anonymous: the public repository pulls, the private one is refused. One token per pull,
  // shared by its parallel downloads.
  size_t before = Split(*os::ReadFile(log), '\n').size();
  CmdResult pull = RunCmd(Other({"pull", pub}));
  ASSERT_EQ(pull.code, 0) << pull.err;
  EXPECT_EQ(Split(*os::ReadFile(log), '\n').size(), before + 1) << *os::ReadFile(log);
  EXPECT_EQ(RunCmd(Other({"run", "--rm", pub, "echo", "tok"})).out, "tok\n");
  CmdResult denied = RunCmd(Other({"pull", priv}));
  EXPECT_EQ(denied.code, 1);
  EXPECT_NE(denied.err.find("unauthorized"), std::string::npos) << denied.err;
  EXPECT_NE(denied.err.find(reg.host()), std::string::npos) << denied.err;
  EXPECT_EQ(denied.err.find("builder"), std::string::npos);
}

TEST_F(RegistryTest, MissingTagsReposAndRegistriesAndACorruptBlobGetTheirMessages) {
  Registry reg(dir_->path() + "/reg");
  std::string name = reg.host() + "/team/bb:v1";
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"tag", "busybox", name}).code, 0);
  ASSERT_EQ(Cli({"push", name}).code, 0);

  CmdResult tag = RunCmd(Other({"pull", reg.host() + "/team/bb:nope"}));
  EXPECT_EQ(tag.code, 1);
  EXPECT_NE(tag.err.find("manifest for team/bb:nope not found on " + reg.host()), std::string::npos) << tag.err;
  CmdResult repo = RunCmd(Other({"run", "--rm", reg.host() + "/no/such:1", "true"}));
  EXPECT_EQ(repo.code, 125);
  EXPECT_NE(repo.err.find("Unable to find image"), std::string::npos) << repo.err;
  EXPECT_NE(repo.err.find("not found"), std::string::npos) << repo.err;
  CmdResult never = RunCmd(Other({"run", "--rm", "--pull", "never", name, "true"}));
  EXPECT_EQ(never.code, 125);
  EXPECT_NE(never.err.find("No such image"), std::string::npos) << never.err;
  CmdResult bad_policy = RunCmd(Other({"run", "--rm", "--pull", "sometimes", name, "true"}));
  EXPECT_EQ(bad_policy.code, 125);
  EXPECT_NE(bad_policy.err.find("invalid pull option"), std::string::npos) << bad_policy.err;
  CmdResult closed = RunCmd(Other({"pull", "127.0.0.1:" + std::to_string(FreePort()) + "/x/y:1"}));
  EXPECT_EQ(closed.code, 1);
  EXPECT_NE(closed.err.find("cannot reach registry"), std::string::npos) << closed.err;
  CmdResult bad_ref = RunCmd(Other({"pull", "registry.example/Upper"}));
  EXPECT_EQ(bad_ref.code, 1);
  EXPECT_NE(bad_ref.err.find("invalid reference format"), std::string::npos) << bad_ref.err;

  // The registry's copy of the layer is damaged: refused, and nothing of it is kept.
  std::string manifest = RunCmd({"/usr/bin/skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + name}).out;
  std::string layer = json::parse(manifest)["layers"][0]["digest"];
  std::string data = reg.BlobData(layer);
  std::string content = *os::ReadFile(data);
  content[content.size() / 2] ^= 0x55;
  ASSERT_TRUE(os::WriteFileAtomic(data, content).ok());
  CmdResult corrupt = RunCmd(Other({"pull", name}));
  EXPECT_EQ(corrupt.code, 1);
  EXPECT_NE(corrupt.err.find("corrupt"), std::string::npos) << corrupt.err;
  auto layers = os::ListDir(dir_->path() + "/other/layers");
  EXPECT_TRUE(!layers.ok() || layers->empty()) << "no half or wrong layer is visible";
  EXPECT_FALSE(os::Exists(dir_->path() + "/other/blobs/sha256/" + std::string(DigestHex(layer))));
  EXPECT_EQ(Trimmed(RunCmd(Other({"images", "-q"})).out), "");
}

// Capsules as OCI artifacts: pushed with their dependencies, pulled into another store,
// attached there; an image reference is not a capsule and a capsule is not an image.
TEST_F(RegistryTest, CapsulesArePushedAndPulledWithTheirDependencies) {
  Registry reg(dir_->path() + "/reg");
  std::string base = dir_->path() + "/base", app = dir_->path() + "/app";
  ASSERT_EQ(::mkdir(base.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(app.c_str(), 0755), 0);
  ASSERT_TRUE(os::WriteFileAtomic(base + "/lib.txt", "base library\n").ok());
  ASSERT_TRUE(os::WriteFileAtomic(app + "/app.conf", "mode=fast\n").ok());
  CmdResult b = Cli({"capsule", "create", "--name", "base-lib", "--version", "1.2.0", "--path", base});
  ASSERT_EQ(b.code, 0) << b.err;
  CmdResult a = Cli({"capsule", "create", "--name", "app-config", "--version", "2.0.0", "--path", app,
                     "--requires", "base-lib@^1.0.0"});
  ASSERT_EQ(a.code, 0) << a.err;
  std::string repo = reg.host() + "/caps/app-config";
  CmdResult push = Cli({"capsule", "push", "app-config:2.0.0", repo});
  ASSERT_EQ(push.code, 0) << push.err;
  EXPECT_NE(push.out.find("2.0.0: digest: sha256:"), std::string::npos) << push.out;
  std::string raw = Skopeo({"inspect", "--tls-verify=false", "--raw", "docker://" + repo + ":2.0.0"}).out;
  json index = json::parse(raw);
  EXPECT_EQ(index["artifactType"], "application/vnd.basic-docker.capsule.v1");
  ASSERT_EQ(index["manifests"].size(), 2u) << raw;

  CmdResult pull = RunCmd(Other({"capsule", "pull", repo + ":2.0.0"}));
  ASSERT_EQ(pull.code, 0) << pull.err;
  EXPECT_NE(pull.out.find("app-config:2.0.0 sha256:"), std::string::npos) << pull.out;
  EXPECT_NE(pull.out.find("base-lib:1.2.0 sha256:"), std::string::npos) << pull.out;
  // The same identities as where they came from.
  std::string here = Cli({"capsule", "ls", "--format", "json"}).out;
  std::string there = RunCmd(Other({"capsule", "ls", "--format", "json"})).out;
  for (const json& j : JsonLines(here)) EXPECT_NE(there.find(j["Digest"].get<std::string>()), std::string::npos) << there;
  CmdResult again = RunCmd(Other({"capsule", "pull", repo + ":2.0.0"}));
  EXPECT_NE(again.out.find("NOOP"), std::string::npos) << again.out;

  // Attached in the other store, dependencies and all.
  CmdResult run = RunCmd(Other({"run", "--rm", "--capsule", "app-config:2.0.0", "busybox", "cat",
                                "/capsules/app-config/2.0.0/app.conf", "/capsules/base-lib/1.2.0/lib.txt"}));
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "mode=fast\nbase library\n");

  // Kinds are not mixed up.
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"tag", "busybox", reg.host() + "/img/bb:1"}).code, 0);
  ASSERT_EQ(Cli({"push", reg.host() + "/img/bb:1"}).code, 0);
  CmdResult not_capsule = RunCmd(Other({"capsule", "pull", reg.host() + "/img/bb:1"}));
  EXPECT_EQ(not_capsule.code, 1);
  EXPECT_NE(not_capsule.err.find("is not a capsule"), std::string::npos) << not_capsule.err;
  CmdResult not_image = RunCmd(Other({"pull", repo + ":2.0.0"}));
  EXPECT_EQ(not_image.code, 1);
  EXPECT_NE(not_image.err.find("capsule pull"), std::string::npos) << not_image.err;
  CmdResult missing = RunCmd(Other({"capsule", "pull", repo + ":9.9.9"}));
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
}

// `plugin install REF`: the index is read and only this machine's binary is downloaded.
TEST_F(RegistryTest, PluginInstallFromARegistryTakesThisMachinesBinary) {
  Registry reg(dir_->path() + "/reg");
  std::string layout = dir_->path() + "/plugin-layout";
  ASSERT_TRUE(os::MkdirAll(layout + "/blobs/sha256").ok());
  auto put = [&](const std::string& data) {
    std::string d = Sha256Digest(data);
    EXPECT_TRUE(os::WriteFileAtomic(layout + "/blobs/sha256/" + std::string(DigestHex(d)), data).ok());
    return d;
  };
  std::string bin = *os::ReadFile(std::string(BD_BIN_DIR) + "/bd-test-plugin");
  std::string other = "#!/bin/sh\necho not for this machine\n";
  std::string empty = put("{}");
  json entries = json::array();
  for (const auto& [arch, binary] : std::vector<std::pair<std::string, std::string>>{{"arm64", other}, {"amd64", bin}}) {
    json layer = {{"mediaType", "application/vnd.basic-docker.plugin.binary.v1"}, {"digest", put(binary)},
                  {"size", binary.size()}, {"annotations", {{"org.opencontainers.image.title", "basic-docker-plugin-fromreg"}}}};
    std::string m = json{{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                         {"artifactType", "application/vnd.basic-docker.plugin.v1"},
                         {"config", {{"mediaType", "application/vnd.oci.empty.v1+json"}, {"digest", empty}, {"size", 2}}},
                         {"layers", json::array({layer})}}.dump();
    entries.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", put(m)},
                       {"size", m.size()}, {"platform", {{"os", "linux"}, {"architecture", arch}}}});
  }
  std::string index = json{{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"},
                           {"manifests", entries}}.dump();
  json top = {{"schemaVersion", 2},
              {"manifests", {{{"mediaType", "application/vnd.oci.image.index.v1+json"}, {"digest", put(index)},
                              {"size", index.size()}, {"annotations", {{"org.opencontainers.image.ref.name", "1"}}}}}}};
  ASSERT_TRUE(os::WriteFileAtomic(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})").ok());
  ASSERT_TRUE(os::WriteFileAtomic(layout + "/index.json", top.dump()).ok());
  std::string ref = reg.host() + "/plugins/fromreg:1";
  CmdResult copy = Skopeo({"copy", "--all", "--dest-tls-verify=false", "oci:" + layout + ":1", "docker://" + ref});
  ASSERT_EQ(copy.code, 0) << copy.err;

  CmdResult in = Cli({"plugin", "install", ref});
  ASSERT_EQ(in.code, 0) << in.err;
  EXPECT_NE(in.out.find("fromreg (linux/amd64, " + Sha256Digest(bin)), std::string::npos) << in.out;
  EXPECT_TRUE(*os::ReadFile(root_ + "/plugins/basic-docker-plugin-fromreg") == bin);
  CmdResult again = Cli({"plugin", "install", ref});
  EXPECT_EQ(again.code, 0) << again.err;
  CmdResult missing = Cli({"plugin", "install", reg.host() + "/plugins/fromreg:2"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
  // An image is not a plugin: no single binary layer for this machine.
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"tag", "busybox", reg.host() + "/img/bb:1"}).code, 0);
  ASSERT_EQ(Cli({"push", reg.host() + "/img/bb:1"}).code, 0);
  CmdResult image = Cli({"plugin", "install", "--name", "img", reg.host() + "/img/bb:1"});
  EXPECT_NE(image.code, 0);
  EXPECT_EQ(image.err.find("plugin-pull-"), std::string::npos) << "errors name the reference: " << image.err;
}

// What real registries do not serve on purpose: a schema 1 manifest, rate limits, a digest
// header that lies (tests/registry/fake_registry.py).
TEST_F(RegistryTest, SchemaOneRateLimitsAndLyingDigestsGetTheirMessages) {
  if (!Installed("/usr/bin/python3")) GTEST_SKIP() << "python3 is not installed (scripts/install-deps.sh --test installs it)";
  int port = FreePort();
  pid_t fake = StartInBackground({"/usr/bin/python3", std::string(BD_SOURCE_DIR) + "/tests/registry/fake_registry.py",
                                  std::to_string(port)});
  Reaper reap{fake};
  std::string host = "127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(WaitForHttp("http://" + host + "/v2/"));
  CmdResult old = RunCmd(Other({"pull", host + "/old:1"}));
  EXPECT_EQ(old.code, 1);
  EXPECT_NE(old.err.find("schema 1, which is not supported"), std::string::npos) << old.err;

  auto start = std::chrono::steady_clock::now();
  CmdResult limited = RunCmd(Other({"pull", host + "/limited:1"}));
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(limited.code, 1);
  EXPECT_NE(limited.err.find("not found"), std::string::npos) << "Retry-After honoured, then the real answer: " << limited.err;
  EXPECT_GE(waited, 1.9);

  start = std::chrono::steady_clock::now();
  CmdResult busy = RunCmd(Other({"pull", host + "/busy:1"}));
  waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(busy.code, 1);
  EXPECT_NE(busy.err.find("toomanyrequests"), std::string::npos) << busy.err;
  EXPECT_LT(waited, 10) << "a Retry-After beyond the bound is reported, not waited for";

  CmdResult liar = RunCmd(Other({"pull", host + "/liar:1"}));
  EXPECT_EQ(liar.code, 1);
  EXPECT_NE(liar.err.find("claims digest"), std::string::npos) << liar.err;
  EXPECT_EQ(Trimmed(RunCmd(Other({"images", "-q"})).out), "");
}

TEST_F(RegistryTest, APullKilledMidLayerResumesAndConcurrentPullsShareTheWork) {
  Registry reg(dir_->path() + "/reg");
  // A layer big enough to be caught halfway: 24 MiB that gzip cannot shrink.
  std::string noise(24 << 20, '\0');
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < noise.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(&noise[i], &x, 8);
  }
  std::string tar = BuildTar([&](store::TarBuilder& t) { ASSERT_TRUE(t.AddFile("noise.bin", noise, {}).ok()); });
  std::string tar_path = WriteFile("noise.tar", tar);
  ASSERT_EQ(Cli({"import", tar_path, "noise:1"}).code, 0);
  std::string name = reg.host() + "/big/noise:1";
  ASSERT_EQ(Cli({"tag", "noise:1", name}).code, 0);
  ASSERT_EQ(Cli({"push", name}).code, 0);

  // kill -9 with half the layer on disk: no layer, no image, the partial download kept.
  std::vector<std::string> argv = Other({"pull", name});
  std::string cmd = "BASIC_DOCKER_CRASH_AT=pull.mid-layer";
  for (const std::string& a : argv) cmd += " '" + a + "'";
  CmdResult crashed = RunCmd({"/bin/sh", "-c", cmd});
  EXPECT_EQ(crashed.code, 128 + 9) << crashed.err;
  std::string other = dir_->path() + "/other";
  auto layers = os::ListDir(other + "/layers");
  EXPECT_TRUE(!layers.ok() || layers->empty());
  auto partial = os::ListDir(other + "/partial");
  ASSERT_TRUE(partial.ok() && partial->size() == 1) << "the half-downloaded layer is kept to resume";
  struct stat st;
  ASSERT_EQ(::stat((other + "/partial/" + (*partial)[0]).c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);
  EXPECT_LT(st.st_size, static_cast<off_t>(tar.size()));
  EXPECT_EQ(Trimmed(RunCmd(Other({"images", "-q"})).out), "");

  // Two pulls at once, resuming it: one downloads, the other waits and finds it done.
  std::vector<CmdResult> results(2);
  std::thread a([&] { results[0] = RunCmd(Other({"pull", name})); });
  std::thread b([&] { results[1] = RunCmd(Other({"pull", name})); });
  a.join();
  b.join();
  for (const CmdResult& r : results) EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(os::ListDir(other + "/partial")->empty());
  auto dirs = os::ListDir(other + "/layers");
  ASSERT_TRUE(dirs.ok() && dirs->size() == 1);
  auto got = os::ReadFile(other + "/layers/" + (*dirs)[0] + "/noise.bin");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == noise) << "the resumed layer is the whole layer";
}

}  // namespace
}  // namespace bd::testing
