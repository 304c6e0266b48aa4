// system diagnostics: operations in progress seen from another CLI, statistics per operation,
// errors by kind, time and element, each operation's log, and an operation whose CLI was
// killed recorded as interrupted.
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class DiagnosticsTest : public EngineTest {
 protected:
  std::vector<json> Lines(std::vector<std::string> args) {
    args.insert(args.begin(), {"system", "diagnostics"});
    args.insert(args.end(), {"--format", "json"});
    CmdResult r = Cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return JsonLines(r.out);
  }
  std::vector<std::string> CliArgs(std::vector<std::string> args) {
    args.insert(args.begin(), {std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_});
    return args;
  }
};

TEST_F(DiagnosticsTest, CountsOperationsAndTheirErrorsPerComponent) {
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"run", "-d", "--name", "web", "busybox", "sleep", "600"}).code, 0);
  ASSERT_EQ(Cli({"exec", "web", "true"}).code, 0);
  EXPECT_EQ(Cli({"exec", "web", "/no/such"}).code, 127);
  EXPECT_EQ(Cli({"rmi", "missing"}).code, 1);
  ASSERT_EQ(Cli({"volume", "create", "data"}).code, 0);
  std::map<std::string, json> stats;
  for (const json& j : Lines({"--component", "container"})) {
    if (j.contains("Count")) stats[j["Operation"]] = j;
  }
  ASSERT_TRUE(stats.count("exec")) << json(stats).dump();
  EXPECT_EQ(stats["exec"]["Count"], 2);
  EXPECT_EQ(stats["exec"]["Errors"], 1);
  EXPECT_GT(stats["exec"]["P50Nanos"].get<int64_t>(), 0);
  EXPECT_GE(stats["exec"]["P99Nanos"].get<int64_t>(), stats["exec"]["P50Nanos"].get<int64_t>());
  EXPECT_EQ(stats["start"]["Count"], 2);
  EXPECT_EQ(stats["create"]["Count"], 2);
  EXPECT_EQ(stats.count("import"), 0u);  // another component's
  // Errors by kind, element and time; newest first.
  auto errors = Lines({"--errors", "--kind", "not_found"});
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0]["Component"], "image");
  EXPECT_EQ(errors[0]["Target"], "missing");
  EXPECT_EQ(errors[0]["Error"]["Message"], "No such image: missing:latest");
  EXPECT_EQ(errors[1]["Operation"], "exec");
  EXPECT_EQ(Lines({"--errors", "--target", "web"}).size(), 1u);
  EXPECT_EQ(Lines({"--errors", "--until", "1"}).size(), 0u);  // nothing started before 1970-01-01T00:00:01
  // One operation in full: the start's log names each element's outcome.
  std::string web_id = json::parse(Cli({"inspect", "web"}).out)[0]["Id"];  // run starts it by id
  CmdResult all = Cli({"system", "diagnostics"});
  EXPECT_NE(all.out.find("STATISTICS"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("RECENT ERRORS"), std::string::npos) << all.out;
  auto history = Lines({"--history", "--component", "container", "--target", web_id});
  ASSERT_EQ(history.size(), 1u) << history.size();  // created by name, started by id
  EXPECT_EQ(history[0]["Operation"], "start");
  EXPECT_EQ(Lines({"--history", "--component", "container"}).size(), 6u);  // 2 each of create, start, exec
  EXPECT_EQ(Lines({"--history", "--component", "container"}).front()["Operation"], "exec");
  std::string start_id = history[0]["ID"];
  CmdResult op = Cli({"system", "diagnostics", "--op", start_id});
  EXPECT_NE(op.out.find("Outcome: ok"), std::string::npos) << op.out;
  EXPECT_NE(op.out.find("element task of "), std::string::npos) << op.out;
  EXPECT_NE(op.out.find(": SUCCESS"), std::string::npos) << op.out;
}

TEST_F(DiagnosticsTest, AnOperationInProgressIsSeenFromAnotherCliAndAKilledOneIsInterrupted) {
  if (std::string why = MissingPrivilege(); !why.empty()) GTEST_SKIP() << why;
  ASSERT_EQ(Cli({"run", "-d", "--name", "web", "busybox", "sleep", "600"}).code, 0);
  pid_t cli = StartInBackground(CliArgs({"exec", "web", "sleep", "30"}));
  std::vector<json> running;
  for (int i = 0; i < 100 && running.empty(); ++i) {
    running = Lines({"--in-progress"});
    if (running.empty()) ::usleep(50'000);
  }
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0]["Operation"], "exec");
  EXPECT_EQ(running[0]["Target"], "web");
  EXPECT_EQ(running[0]["Pid"], cli);
  EXPECT_EQ(running[0]["Outcome"], "in progress");
  ASSERT_EQ(::kill(cli, SIGKILL), 0);  // our own child
  ASSERT_EQ(::waitpid(cli, nullptr, 0), cli);
  EXPECT_TRUE(Lines({"--in-progress"}).empty());
  auto interrupted = Lines({"--errors", "--kind", "interrupted"});
  ASSERT_EQ(interrupted.size(), 1u);
  EXPECT_EQ(interrupted[0]["Outcome"], "interrupted");
  EXPECT_EQ(interrupted[0]["Operation"], "exec");
}

TEST_F(DiagnosticsTest, BadQueriesAreRefused) {
  EXPECT_EQ(Cli({"system", "diagnostics", "--component", "network"}).code, 1);
  EXPECT_EQ(Cli({"system", "diagnostics", "--kind", "bogus"}).code, 1);
  EXPECT_EQ(Cli({"system", "diagnostics", "--since", "yesterday"}).code, 1);
  EXPECT_EQ(Cli({"system", "diagnostics", "--format", "yaml"}).code, 1);
  CmdResult r = Cli({"system", "diagnostics", "--op", "12345"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no such operation: 12345"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace bd::testing
