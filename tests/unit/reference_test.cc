#include <gtest/gtest.h>

#include "engine/images/reference.h"

namespace bd::engine {
namespace {

TEST(ImageRefTest, ParsesTheCommonForms) {
  auto r = ParseImageRef("busybox");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Canonical(), "busybox:latest");
  EXPECT_EQ(ParseImageRef("busybox:1.36")->Canonical(), "busybox:1.36");
  EXPECT_EQ(ParseImageRef("docker.io/library/busybox:1")->Canonical(), "busybox:1");
  EXPECT_EQ(ParseImageRef("registry:5000/team/app:v1.2-rc")->repository, "registry:5000/team/app");
  EXPECT_EQ(ParseImageRef("my_app__x/a-b.c")->Canonical(), "my_app__x/a-b.c:latest");
  std::string digest = "sha256:" + std::string(64, 'a');
  auto d = ParseImageRef("app@" + digest);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->digest, digest);
  EXPECT_EQ(d->Canonical(), "app@" + digest);
}

TEST(ImageRefTest, RejectsMalformedReferences) {
  for (const char* bad : {"", "UPPER", "a//b", "-lead", "trail-", "a:", "a:-tag", "a b",
                          "a@sha256:xyz", "a..b", "a___b", "../x", "a:" /*empty tag*/}) {
    auto r = ParseImageRef(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    }
  }
  EXPECT_FALSE(ParseImageRef("a:" + std::string(129, 't')).ok());
}

TEST(ContainerNameTest, FollowsDockerRules) {
  EXPECT_TRUE(ValidateContainerName("web-1").ok());
  EXPECT_TRUE(ValidateContainerName("/web_1.x").ok());
  EXPECT_FALSE(ValidateContainerName("a").ok());
  EXPECT_FALSE(ValidateContainerName("-web").ok());
  EXPECT_FALSE(ValidateContainerName("bad name").ok());
  EXPECT_FALSE(ValidateContainerName("x/y").ok());
  EXPECT_FALSE(ValidateContainerName(std::string(129, 'a')).ok());
  EXPECT_TRUE(ValidateContainerName(GenerateContainerName()).ok());
}

}  // namespace
}  // namespace bd::engine
