// The registry client's pure parts: references as Docker reads them, challenges, credentials
// files and registries.conf.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/strings.h"
#include "engine/images/reference.h"
#include "engine/images/store.h"
#include "os/fs.h"
#include "registry/auth.h"
#include "registry/hosts.h"

namespace bd {
namespace {

using engine::ParseImageRef;

TEST(RegistryReferenceTest, DockerHubNamesAreShortAndResolveToTheHub) {
  for (const char* name : {"busybox", "library/busybox", "docker.io/busybox", "docker.io/library/busybox",
                           "index.docker.io/library/busybox"}) {
    auto r = ParseImageRef(name);
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(r->Canonical(), "busybox:latest") << name;
    EXPECT_EQ(r->Domain(), "docker.io") << name;
    EXPECT_EQ(r->RemotePath(), "library/busybox") << name;
  }
  auto team = ParseImageRef("docker.io/team/app:1");
  ASSERT_TRUE(team.ok());
  EXPECT_EQ(team->Canonical(), "team/app:1");
  EXPECT_EQ(team->RemotePath(), "team/app");
}

TEST(RegistryReferenceTest, HostsPortsAndDigests) {
  std::string digest = "sha256:" + std::string(64, 'a');
  auto r = ParseImageRef("127.0.0.1:5000/ns/name:v1@" + digest);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Domain(), "127.0.0.1:5000");
  EXPECT_EQ(r->RemotePath(), "ns/name");
  EXPECT_EQ(r->tag, "v1");
  EXPECT_EQ(r->digest, digest);
  EXPECT_EQ(r->Canonical(), "127.0.0.1:5000/ns/name@" + digest);
  EXPECT_EQ(ParseImageRef("localhost/app")->Domain(), "localhost");
  EXPECT_EQ(ParseImageRef("registry.example.com/app")->RemotePath(), "app");
  EXPECT_FALSE(ParseImageRef("Busybox").ok());
  EXPECT_FALSE(ParseImageRef("busybox@sha256:123").ok());
  EXPECT_FALSE(ParseImageRef("host:port/app").ok());
}

TEST(RegistryPlatformTest, ParsesAndRefuses) {
  auto p = engine::ParsePlatform("linux/arm64/v8");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->architecture, "arm64");
  EXPECT_EQ(p->variant, "v8");
  EXPECT_EQ(engine::ParsePlatform("linux/x86_64")->architecture, "amd64");
  for (const char* bad : {"", "linux", "linux/", "/amd64", "linux/amd64/v1/x", "Linux/AMD64", "linux/amd 64"}) {
    EXPECT_FALSE(engine::ParsePlatform(bad).ok()) << bad;
  }
}

TEST(RegistryAuthTest, ParsesChallenges) {
  auto c = registry::ParseChallenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.example/token");
  EXPECT_EQ(c->params["service"], "registry.example");
  EXPECT_EQ(c->params["scope"], "repository:a/b:pull,push");
  auto b = registry::ParseChallenge(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->scheme, "basic");
  EXPECT_EQ(b->params["realm"], "Registry Realm");
  EXPECT_FALSE(registry::ParseChallenge("").has_value());
  EXPECT_FALSE(registry::ParseChallenge(R"(Bearer realm="unterminated)").has_value());
  auto escaped = registry::ParseChallenge(R"(Bearer realm="a\"b")");
  ASSERT_TRUE(escaped.has_value());
  EXPECT_EQ(escaped->params["realm"], "a\"b");
}

TEST(RegistryAuthTest, Base64RoundTrips) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "user:pa:ss", std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_FALSE(Base64Decode("ab$c").has_value());
}

class CredentialFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bd-creds-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { (void)os::RemoveAll(dir_); }
  std::string dir_;
};

TEST_F(CredentialFileTest, SavesDockerShapeReadsBothFilesAndRemoves) {
  std::string own = dir_ + "/config.json";
  std::string docker = dir_ + "/docker.json";
  ASSERT_TRUE(os::WriteFileAtomic(docker, R"({"auths": {"https://index.docker.io/v1/": {"auth": ")" +
                                              Base64Encode("hubuser:hubpass") + R"("},
      "other:5000": {"auth": "not base64 $$"}}, "credsStore": "x"})").ok());
  ASSERT_TRUE(registry::CredentialStore::Save(own, "127.0.0.1:5000", {"alice", "s3cr:et", ""}).ok());
  struct stat st;
  ASSERT_EQ(::stat(own.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string text = *os::ReadFile(own);
  EXPECT_EQ(text.find("s3cr:et"), std::string::npos) << "stored base64, as Docker does";
  EXPECT_NE(text.find(Base64Encode("alice:s3cr:et")), std::string::npos);

  auto store = registry::CredentialStore::Load(own, docker);
  auto mine = store.For("127.0.0.1:5000");
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->username, "alice");
  EXPECT_EQ(mine->password, "s3cr:et");
  auto hub = store.For("docker.io");
  ASSERT_TRUE(hub.has_value());
  EXPECT_EQ(hub->username, "hubuser");
  EXPECT_FALSE(store.For("other:5000").has_value()) << "a malformed entry is skipped";
  EXPECT_FALSE(store.For("nowhere:1").has_value());

  EXPECT_TRUE(*registry::CredentialStore::Remove(own, "127.0.0.1:5000"));
  EXPECT_FALSE(*registry::CredentialStore::Remove(own, "127.0.0.1:5000"));
  EXPECT_FALSE(registry::CredentialStore::Load(own, docker).For("127.0.0.1:5000").has_value());
}

TEST_F(CredentialFileTest, ALoginNeverReplacesAFileItCannotRead) {
  std::string own = dir_ + "/config.json";
  ASSERT_TRUE(os::WriteFileAtomic(own, "{not json").ok());
  Status st = registry::CredentialStore::Save(own, "r:1", {"u", "p", ""});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(*os::ReadFile(own), "{not json");
}

TEST_F(CredentialFileTest, RegistriesConfEndpointsAndErrors) {
  std::string conf = dir_ + "/registries.conf";
  std::string daemon = dir_ + "/daemon.json";
  ASSERT_TRUE(os::WriteFileAtomic(daemon, R"({"insecure-registries": ["reg.lan:5000"], "max-concurrent-downloads": 5,
                                            "registry-mirrors": ["https://hub-mirror.lan/prefix/"]})").ok());
  ASSERT_TRUE(os::WriteFileAtomic(conf, R"({"registries": {"corp.example": {"mirrors": ["127.0.0.1:6000", "http://m2.lan"]}}})").ok());
  auto regs = registry::Registries::Load({dir_ + "/missing", daemon, conf});
  ASSERT_TRUE(regs.ok()) << regs.status().ToString();
  EXPECT_EQ(regs->max_concurrent_downloads(), 5);
  EXPECT_EQ(regs->max_concurrent_uploads(), 5);

  auto hub = regs->PullEndpoints("docker.io");
  ASSERT_EQ(hub.size(), 2u);
  EXPECT_TRUE(hub[0].mirror);
  EXPECT_EQ(hub[0].BaseUrl(false), "https://hub-mirror.lan/prefix");
  EXPECT_EQ(hub[1].host, "registry-1.docker.io");
  EXPECT_EQ(hub[1].BaseUrl(false), "https://registry-1.docker.io");

  auto corp = regs->PullEndpoints("corp.example");
  ASSERT_EQ(corp.size(), 3u);
  EXPECT_TRUE(corp[0].plain_http) << "a loopback mirror is plain HTTP";
  EXPECT_EQ(corp[1].BaseUrl(false), "http://m2.lan");
  EXPECT_FALSE(corp[2].mirror);
  EXPECT_FALSE(corp[2].insecure);

  EXPECT_TRUE(regs->PushEndpoint("reg.lan:5000").insecure);
  EXPECT_TRUE(regs->PushEndpoint("127.0.0.1:5000").plain_http);
  EXPECT_TRUE(regs->PushEndpoint("localhost:5000").plain_http);
  EXPECT_FALSE(regs->PushEndpoint("127.example.com").plain_http);

  for (const char* bad : {R"({"registries": []})", R"({"registries": {"x": {"insecure": "yes"}}})",
                          R"({"max-concurrent-downloads": 0})", R"({"registry-mirrors": [1]})", "[1]", "{"}) {
    ASSERT_TRUE(os::WriteFileAtomic(conf, bad).ok());
    auto r = registry::Registries::Load({conf});
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    if (!r.ok()) EXPECT_NE(r.status().message().find(conf), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace bd
