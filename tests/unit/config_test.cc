#include <cstdlib>

#include <gtest/gtest.h>

#include "engine/containers/store.h"

namespace bd::engine {
namespace {

Image TestImage() {
  Image img;
  img.config.env = {"PATH=/bin", "LANG=C"};
  img.config.entrypoint = {"/entry"};
  img.config.cmd = {"serve", "--port", "80"};
  img.config.working_dir = "/app";
  img.config.user = "app";
  img.config.labels = {{"from", "image"}};
  return img;
}

TEST(MergeConfigTest, ImageDefaultsApply) {
  CreateOptions o;
  o.image = "app";
  auto c = MergeConfig(o, TestImage());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->entrypoint, (std::vector<std::string>{"/entry"}));
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"serve", "--port", "80"}));
  EXPECT_EQ(c->working_dir, "/app");
  EXPECT_EQ(c->user, "app");
  EXPECT_EQ(c->env, (std::vector<std::string>{"PATH=/bin", "LANG=C"}));
}

TEST(MergeConfigTest, OptionsOverrideLikeDocker) {
  ::setenv("BD_TEST_PASSED", "through", 1);
  ::unsetenv("BD_TEST_UNSET");
  CreateOptions o;
  o.image = "app";
  o.cmd = {"sh"};
  o.env = {"LANG=en", "NEW=1", "BD_TEST_PASSED", "BD_TEST_UNSET"};
  o.working_dir = "/w";
  o.user = "0:0";
  o.labels = {{"from", "cli"}};
  auto c = MergeConfig(o, TestImage());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->cmd, (std::vector<std::string>{"sh"}));
  EXPECT_EQ(c->env,
            (std::vector<std::string>{"PATH=/bin", "LANG=en", "NEW=1", "BD_TEST_PASSED=through"}));
  EXPECT_EQ(c->working_dir, "/w");
  EXPECT_EQ(c->user, "0:0");
  EXPECT_EQ(c->labels.at("from"), "cli");
  // --entrypoint replaces the entrypoint and drops the image's Cmd.
  CreateOptions e;
  e.image = "app";
  e.entrypoint = "/bin/true";
  auto ce = MergeConfig(e, TestImage());
  ASSERT_TRUE(ce.ok());
  EXPECT_EQ(ce->entrypoint, (std::vector<std::string>{"/bin/true"}));
  EXPECT_TRUE(ce->cmd.empty());
}

TEST(MergeConfigTest, RejectsBadInput) {
  Image bare;
  CreateOptions o;
  o.image = "bare";
  EXPECT_EQ(MergeConfig(o, bare).status().code(), Code::kInvalidArgument);
  o.cmd = {"x"};
  o.working_dir = "relative";
  EXPECT_FALSE(MergeConfig(o, bare).ok());
  o.working_dir.clear();
  o.env = {"=x"};
  EXPECT_FALSE(MergeConfig(o, bare).ok());
}

TEST(BuildSpecTest, OverlayMountsAndEtcFiles) {
  ContainerConfig c;
  c.entrypoint = {"/entry"};
  c.cmd = {"a"};
  Paths paths{"/var/lib/bd"};
  std::string id(64, 'a');
  auto built = BuildSpec(id, c, {"/l/base", "/l/top"}, paths);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  runtime::Spec& s = *built;
  EXPECT_FALSE(s.seccomp_program.empty());
  EXPECT_EQ(s.process.capabilities.size(), 14u);
  EXPECT_EQ(s.process.args, (std::vector<std::string>{"/entry", "a"}));
  EXPECT_EQ(s.process.cwd, "/");
  EXPECT_EQ(s.hostname, std::string(12, 'a'));
  ASSERT_TRUE(s.overlay);
  EXPECT_EQ(s.overlay->lower_dirs, (std::vector<std::string>{"/l/top", "/l/base"}));
  EXPECT_EQ(s.overlay->upper_dir, "/var/lib/bd/containers/" + id + "/upper");
  EXPECT_EQ(s.mounts.back().destination, "/etc/resolv.conf");
  EXPECT_EQ(s.namespaces.size(), 6u);
}

TEST(ContainerConfigTest, JsonRoundTrip) {
  ContainerConfig c;
  c.image_ref = "busybox";
  c.cmd = {"echo", "hi"};
  c.auto_remove = true;
  c.labels = {{"k", "v"}};
  auto back = ContainerConfigFromJson(ContainerConfigToJson(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cmd, c.cmd);
  EXPECT_TRUE(back->auto_remove);
  EXPECT_EQ(back->labels, c.labels);
  EXPECT_FALSE(ContainerConfigFromJson("[]").ok());
}

}  // namespace
}  // namespace bd::engine
