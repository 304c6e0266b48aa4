// The shared list filter language: parsing (terms and the API's JSON forms), OR within a key,
// AND across keys, labels, booleans, globs, and refusals that name what is wrong.
#include <gtest/gtest.h>

#include "engine/events.h"
#include "engine/filter.h"

namespace bd::engine {
namespace {

const std::vector<std::string_view> kKeys = {"name", "label", "dangling"};

TEST(ListFilterTest, ValuesOfOneKeyOrAndKeysAnd) {
  auto f = ListFilter::Parse({"name=web", "name=db", "label=tier"}, kKeys, "test");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->Has("name"));
  EXPECT_FALSE(f->Has("dangling"));
  EXPECT_EQ(f->Values("name"), (std::vector<std::string>{"web", "db"}));
  auto is = [](std::string want) { return [want](const std::string& v) { return v == want; }; };
  EXPECT_TRUE(f->Any("name", is("db")));
  EXPECT_FALSE(f->Any("name", is("cache")));
  EXPECT_TRUE(f->Any("dangling", is("anything")));  // an absent key holds
  EXPECT_TRUE(f->MatchesLabels({{"tier", "web"}}));
  EXPECT_FALSE(f->MatchesLabels({{"team", "x"}}));
  EXPECT_TRUE(ListFilter().empty());
}

TEST(ListFilterTest, EveryLabelTermMustHold) {
  auto f = ListFilter::Parse({"label=tier=web", "label=team"}, kKeys, "test");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->MatchesLabels({{"tier", "web"}, {"team", "a"}}));
  EXPECT_FALSE(f->MatchesLabels({{"tier", "web"}}));
  EXPECT_FALSE(f->MatchesLabels({{"tier", "db"}, {"team", "a"}}));
  auto eq = ListFilter::Parse({"label=url=a=b"}, kKeys, "test");  // the first '=' splits
  EXPECT_TRUE(eq->MatchesLabels({{"url", "a=b"}}));
}

TEST(ListFilterTest, InfrastructureIsHiddenUnlessAskedFor) {
  const std::map<std::string, std::string> helper = {{"system.hidden", "true"}, {"tier", "dns"}};
  ListFilter none;
  EXPECT_FALSE(none.MatchesLabels(helper));
  EXPECT_TRUE(none.MatchesLabels({{"system.hidden", "false"}}));
  EXPECT_FALSE(ListFilter::Parse({"label=tier=dns"}, kKeys, "test")->MatchesLabels(helper));
  EXPECT_TRUE(ListFilter::Parse({"label=system.hidden"}, kKeys, "test")->MatchesLabels(helper));
  EXPECT_TRUE(ListFilter::Parse({"label=system.hidden=true"}, kKeys, "test")->MatchesLabels(helper));
  ListFilter all;
  all.SetShowHidden(true);
  EXPECT_TRUE(all.MatchesLabels(helper));
  // Events keep what infrastructure did.
  Event e;
  e.type = "container";
  e.attributes = helper;
  EXPECT_TRUE(ParseEventFilters({"type=container"})->Matches(e));
}

TEST(ListFilterTest, Booleans) {
  auto f = ListFilter::Parse({"dangling=true"}, kKeys, "test");
  ASSERT_TRUE(f->CheckBool("dangling").ok());
  EXPECT_TRUE(f->MatchesBool("dangling", true));
  EXPECT_FALSE(f->MatchesBool("dangling", false));
  EXPECT_TRUE(ListFilter::Parse({"dangling=0"}, kKeys, "test")->MatchesBool("dangling", false));
  EXPECT_EQ(ListFilter::Parse({"dangling=yes"}, kKeys, "test")->CheckBool("dangling").code(), Code::kInvalidArgument);
  EXPECT_EQ(ListFilter::Parse({"dangling=true", "dangling=false"}, kKeys, "test")->CheckBool("dangling").code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(ListFilter::Parse({"dangling=true", "dangling=1"}, kKeys, "test")->CheckBool("dangling").ok());
}

TEST(ListFilterTest, BadTermsAreRefusedNamingTheKeys) {
  auto unknown = ListFilter::Parse({"colour=red"}, kKeys, "ps");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(), "invalid filter \"colour=red\": ps takes name=, label=, dangling=");
  EXPECT_FALSE(ListFilter::Parse({"name"}, kKeys, "ps").ok());
  EXPECT_FALSE(ListFilter::Parse({"=web"}, kKeys, "ps").ok());
  auto bytes = ListFilter::Parse({"name=\xff\xfe"}, kKeys, "ps");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().message().find('\xff'), std::string::npos);  // never echoed
  EXPECT_FALSE(ListFilter::Parse({"\xffname=x"}, kKeys, "ps").ok());
  EXPECT_TRUE(ListFilter::Parse({"name="}, kKeys, "ps").ok());  // an empty value is a value
}

TEST(ListFilterTest, TheApisJsonForms) {
  auto list = ListFilter::FromJson(R"({"name":["web","db"],"label":["tier=web"]})", kKeys, "api");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->Values("name"), (std::vector<std::string>{"web", "db"}));
  auto legacy = ListFilter::FromJson(R"({"name":{"web":true,"db":false}})", kKeys, "api");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->Values("name"), (std::vector<std::string>{"web"}));
  EXPECT_TRUE(ListFilter::FromJson("", kKeys, "api")->empty());
  EXPECT_FALSE(ListFilter::FromJson("[1]", kKeys, "api").ok());
  EXPECT_FALSE(ListFilter::FromJson("{\"name\":", kKeys, "api").ok());
  EXPECT_FALSE(ListFilter::FromJson(R"({"name":[1]})", kKeys, "api").ok());
  EXPECT_FALSE(ListFilter::FromJson(R"({"name":"web"})", kKeys, "api").ok());
  EXPECT_FALSE(ListFilter::FromJson(R"({"name":{"web":"yes"}})", kKeys, "api").ok());
  EXPECT_FALSE(ListFilter::FromJson(R"({"colour":["red"]})", kKeys, "api").ok());
}

TEST(ListFilterTest, GlobsAsDockersReferenceFilter) {
  EXPECT_TRUE(GlobMatch("busy*", "busybox"));
  EXPECT_TRUE(GlobMatch("busybox:*", "busybox:latest"));
  EXPECT_TRUE(GlobMatch("*/app", "team/app"));
  EXPECT_FALSE(GlobMatch("*", "team/app"));  // '*' never crosses '/'
  EXPECT_FALSE(GlobMatch("app", "apps"));
  EXPECT_TRUE(GlobMatch("app?", "apps"));
}

}  // namespace
}  // namespace bd::engine
