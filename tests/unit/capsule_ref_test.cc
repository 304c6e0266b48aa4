#include <gtest/gtest.h>

#include "engine/capsules/ref.h"

namespace bd::engine {
namespace {

bool Match(const char* constraint, const char* version) {
  auto c = Constraint::Parse(constraint);
  EXPECT_TRUE(c.ok()) << constraint << ": " << c.status().ToString();
  auto v = ParseVersion(version);
  EXPECT_TRUE(v.ok()) << version;
  return c.ok() && v.ok() && c->Matches(*v);
}

TEST(CapsuleRefTest, NamesAndVersions) {
  for (const char* ok : {"libssl", "ca-certs", "a", "app.config_2"}) {
    EXPECT_TRUE(ValidateCapsuleName(ok).ok()) << ok;
  }
  for (const char* bad : {"", "LibSSL", "-x", ".x", "a/b", "a b", "../x", "a:b"}) {
    EXPECT_FALSE(ValidateCapsuleName(bad).ok()) << bad;
  }
  EXPECT_FALSE(ValidateCapsuleName(std::string(129, 'a')).ok());
  for (const char* ok : {"1.1.1", "0.0.0", "10.20.30", "1.0.0-rc.1", "1.0.0+build.5", "1.0.0-alpha-b+x",
                         "1", "1.0", "2.1", "1.0-rc.1", "3+b"}) {
    EXPECT_TRUE(ParseVersion(ok).ok()) << ok;
  }
  // The seed's own spelling: fewer parts, the missing ones 0, kept as written.
  EXPECT_EQ(*ParseVersion("1.0"), *ParseVersion("1.0.0"));
  EXPECT_EQ(ParseVersion("1.0")->text, "1.0");
  EXPECT_LT(*ParseVersion("2.1"), *ParseVersion("2.1.1"));
  EXPECT_LT(*ParseVersion("1.0-rc.1"), *ParseVersion("1.0"));
  EXPECT_TRUE(Constraint::Parse("^1.0")->Matches(*ParseVersion("1.2")));
  EXPECT_FALSE(Constraint::Parse("^1.0")->Matches(*ParseVersion("2")));
  EXPECT_TRUE(Constraint::Parse("=1.0.0")->Matches(*ParseVersion("1.0")));
  EXPECT_TRUE(ParseCapsuleRef("config:1.0").ok());
  // A short version with a pre-release matches "=" itself (found by the fuzzer: "0-rc1").
  EXPECT_TRUE(Constraint::Parse("=0-rc1")->Matches(*ParseVersion("0-rc1")));
  EXPECT_FALSE(Constraint::Parse("=0-rc1")->Matches(*ParseVersion("0.0.1")));
  EXPECT_FALSE(Constraint::Parse("1.x-rc.1").ok());
  for (const char* bad : {"", ".1", "1.", "1..2", "1.2.3.4", "01.2.3", "1.2.x", "v1.2.3", "1.2.3-", "1.2.3-a..b",
                          "1.2.3+", "1.2.3-01", "../1.2.3"}) {
    EXPECT_FALSE(ParseVersion(bad).ok()) << "[" << bad << "]";
  }
  auto ref = ParseCapsuleRef("libssl:1.1.1");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->name, "libssl");
  EXPECT_EQ(ref->version, "1.1.1");
  EXPECT_FALSE(ParseCapsuleRef("libssl").ok());
  EXPECT_FALSE(ParseCapsuleRef("libssl:latest").ok());
  EXPECT_FALSE(ParseCapsuleRef("Lib:1.0.0").ok());
}

TEST(CapsuleRefTest, SemverPrecedence) {
  const char* ordered[] = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                           "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
                           "1.2.0", "1.10.0", "2.0.0"};
  for (size_t i = 0; i + 1 < std::size(ordered); ++i) {
    EXPECT_LT(*ParseVersion(ordered[i]), *ParseVersion(ordered[i + 1])) << ordered[i];
  }
  EXPECT_EQ(ParseVersion("1.0.0+a")->Compare(*ParseVersion("1.0.0+b")), 0);
}

TEST(CapsuleRefTest, ConstraintForms) {
  EXPECT_TRUE(Match("=1.2.3", "1.2.3"));
  EXPECT_FALSE(Match("=1.2.3", "1.2.4"));
  EXPECT_TRUE(Match("1.2.3", "1.2.3"));
  EXPECT_TRUE(Match("=1.2", "1.2.9"));
  EXPECT_FALSE(Match("=1.2", "1.3.0"));
  // Caret: the leftmost non-zero part stays.
  EXPECT_TRUE(Match("^1.2", "1.2.0"));
  EXPECT_TRUE(Match("^1.2", "1.9.9"));
  EXPECT_FALSE(Match("^1.2", "2.0.0"));
  EXPECT_FALSE(Match("^1.2", "1.1.9"));
  EXPECT_TRUE(Match("^0.2.3", "0.2.9"));
  EXPECT_FALSE(Match("^0.2.3", "0.3.0"));
  EXPECT_FALSE(Match("^0.0.3", "0.0.4"));
  // Tilde: patch updates only.
  EXPECT_TRUE(Match("~1.2.3", "1.2.9"));
  EXPECT_FALSE(Match("~1.2.3", "1.3.0"));
  EXPECT_FALSE(Match("~1.2.3", "1.2.2"));
  EXPECT_TRUE(Match("~1", "1.9.0"));
  // Ranges, alternatives, wildcards.
  EXPECT_TRUE(Match(">=1.0 <2.0", "1.5.0"));
  EXPECT_FALSE(Match(">=1.0 <2.0", "2.0.0"));
  EXPECT_FALSE(Match(">=1.0 <2.0", "0.9.9"));
  EXPECT_TRUE(Match(">= 1.0", "1.0.0"));
  EXPECT_TRUE(Match(">1.2", "1.3.0"));
  EXPECT_FALSE(Match(">1.2", "1.2.5"));
  EXPECT_TRUE(Match("<=1.2", "1.2.7"));
  EXPECT_TRUE(Match("^1 || ^3", "3.1.0"));
  EXPECT_FALSE(Match("^1 || ^3", "2.0.0"));
  EXPECT_TRUE(Match("*", "7.0.0"));
  // Pre-releases only where the constraint names one of the same version.
  EXPECT_FALSE(Match("^1.0", "1.1.0-rc.1"));
  EXPECT_TRUE(Match(">=1.1.0-rc.0 <2", "1.1.0-rc.1"));
  for (const char* bad : {"", "^", ">=", "^x.y", "~>1.0", "1.2.3.4", "||", ">=1 ||"}) {
    EXPECT_FALSE(Constraint::Parse(bad).ok()) << "[" << bad << "]";
  }
  auto dep = ParseDependency("libssl@^1.1", false);
  ASSERT_TRUE(dep.ok());
  EXPECT_EQ(dep->name, "libssl");
  EXPECT_EQ(dep->constraint, "^1.1");
  EXPECT_FALSE(ParseDependency("libssl", false).ok());
  EXPECT_FALSE(ParseDependency("LIB@1", false).ok());
  EXPECT_FALSE(ParseDependency("lib@~>1", false).ok());
}

}  // namespace
}  // namespace bd::engine
