// The plugin contract's parsing (plugin/contract.h): what a plugin prints and is given.
#include "plugin/contract.h"

#include <gtest/gtest.h>

namespace bd::plugin {
namespace {

TEST(PluginContract, CapabilitiesOfTheContractAreRead) {
  auto c = ParseCapabilities(R"({"contractVersion": "basic-docker.plugin/v1",
                                 "type": {"capsule-source": ["fetch-http", "fetch-https"], "executor": ["oci"]}})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->Has("capsule-source", "fetch-https"));
  EXPECT_TRUE(c->Has("executor", "oci"));
  EXPECT_FALSE(c->Has("executor", "fetch-http"));
  EXPECT_FALSE(c->Has("nope", "oci"));
  auto again = ParseCapabilities(CapabilitiesJson(*c));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->types, c->types);
}

TEST(PluginContract, BadCapabilitiesAreRefusedSayingWhy) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"", "is not JSON"},
      {"{\"type\": ", "is not JSON"},
      {"[1]", "not a JSON object"},
      {R"({"type": {"a": ["b"]}})", "no contractVersion"},
      {R"({"contractVersion": "basic-docker.plugin/v2", "type": {"a": ["b"]}})", "speaks contract basic-docker.plugin/v2"},
      {R"({"contractVersion": "basic-docker.plugin/v1"})", "no \"type\" object"},
      {R"({"contractVersion": "basic-docker.plugin/v1", "type": {}})", "no \"type\" object"},
      {R"({"contractVersion": "basic-docker.plugin/v1", "type": {"a": []}})", "lists no capabilities"},
      {R"({"contractVersion": "basic-docker.plugin/v1", "type": {"A b": ["x"]}})", "is not a name"},
      {R"({"contractVersion": "basic-docker.plugin/v1", "type": {"a": [1]}})", "not a string"},
      {R"({"contractVersion": "basic-docker.plugin/v1", "type": {"a": ["../x"]}})", "is not a name"},
      {"{\"contractVersion\": \"basic-docker.plugin/v1\", \"type\": {\"a\": [\"\xff\"]}}", "is not JSON"},
  };
  for (const Case& c : cases) {
    auto r = ParseCapabilities(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.text;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << c.text << ": " << r.status().message();
  }
}

TEST(PluginContract, ServerConfigsAreCheckedAndRoundTrip) {
  auto unix_config = ParseServerConfig(R"({"id": "x", "type": "unix", "location": "/run/x.sock", "idleTimeout": "1m30s"})");
  ASSERT_TRUE(unix_config.ok()) << unix_config.status().ToString();
  EXPECT_EQ(unix_config->idle_timeout_ms, 90'000);
  EXPECT_EQ(AddressOf(*unix_config), "unix:///run/x.sock");
  auto back = ParseServerConfig(ServerConfigJson(*unix_config));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->location, "/run/x.sock");
  EXPECT_EQ(back->idle_timeout_ms, 90'000);
  auto tcp = ParseServerConfig(R"({"id": "x", "type": "tcp", "location": "127.0.0.1:8080", "idleTimeout": 5})");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->idle_timeout_ms, 5000);
  EXPECT_EQ(AddressOf(*tcp), "http://127.0.0.1:8080");
  for (const char* bad : {"{", R"({"type": "unix", "location": "/x"})", R"({"id": "x", "type": "udp", "location": "/x"})",
                          R"({"id": "x", "type": "unix", "location": "relative.sock"})",
                          R"({"id": "x", "type": "tcp", "location": "0.0.0.0:80"})",
                          R"({"id": "x", "type": "tcp", "location": "127.0.0.1:0"})",
                          R"({"id": "x", "type": "tcp", "location": "127.0.0.1:70000"})",
                          R"({"id": "x", "type": "unix", "location": "/x", "idleTimeout": "soon"})",
                          R"({"id": "x", "type": "unix", "location": "/x", "idleTimeout": 0})",
                          R"({"id": "x", "type": "unix", "location": "/x", "idleTimeout": true})"}) {
    auto r = ParseServerConfig(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
  std::string long_path = "/" + std::string(120, 'a');
  EXPECT_FALSE(ParseServerConfig(R"({"id": "x", "type": "unix", "location": ")" + long_path + "\"}").ok());
}

TEST(PluginContract, Durations) {
  EXPECT_EQ(*ParseDuration("250ms"), 250);
  EXPECT_EQ(*ParseDuration("30s"), 30'000);
  EXPECT_EQ(*ParseDuration("1h2m3s4ms"), 3'723'004);
  for (const char* bad : {"", "s", "10", "1d", "-1s", "1.5s", "10 s", "99999999999999s"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(PluginContract, ErrorsTravelWithTheirCode) {
  Status st = Status::FailedPrecondition("container x is not running");
  std::string body = ErrorJson(st);
  EXPECT_EQ(body, R"({"code":"FailedPrecondition","message":"container x is not running"})");
  EXPECT_EQ(StatusFromErrorJson(409, body), st);
  Status unknown = StatusFromErrorJson(418, R"({"code": "Teapot", "message": "short and stout"})");
  EXPECT_EQ(unknown.code(), Code::kInternal);
  EXPECT_NE(unknown.message().find("unknown error code Teapot"), std::string::npos);
  Status junk = StatusFromErrorJson(500, "<html>oops</html>");
  EXPECT_EQ(junk.code(), Code::kInternal);
  EXPECT_NE(junk.message().find("HTTP 500 without an error body of the contract"), std::string::npos);
  // A message that is not UTF-8 still makes JSON.
  EXPECT_NE(ErrorJson(Status::Internal("bad \xff byte")).find("bad"), std::string::npos);
}

}  // namespace
}  // namespace bd::plugin
