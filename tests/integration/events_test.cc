// `events`: every component's events in Docker's JSON shape, with Docker's filters.
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class EventsTest : public EngineTest {
 protected:
  // The events recorded so far that pass `filters`, as parsed JSON lines.
  std::vector<json> Events(std::vector<std::string> filters = {}) {
    std::vector<std::string> args = {"events", "--since", "10m", "--until", "0s", "--format", "json"};
    for (const std::string& f : filters) args.insert(args.end(), {"--filter", f});
    CmdResult r = Cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return JsonLines(r.out);
  }
  static std::vector<std::string> Actions(const std::vector<json>& events) {
    std::vector<std::string> out;
    for (const json& e : events) out.push_back(e["Action"]);
    return out;
  }
};

TEST_F(EventsTest, ContainerLifecycleInDockersShape) {
  ASSERT_EQ(Cli({"run", "--name", "job", "-l", "team=db", "busybox", "sh", "-c", "exit 3"}).code, 3);
  CmdResult r = Cli({"run", "-d", "--name", "svc", "busybox", "sleep", "600"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(Cli({"exec", "svc", "true"}).code, 0);
  ASSERT_EQ(Cli({"pause", "svc"}).code, 0);
  ASSERT_EQ(Cli({"unpause", "svc"}).code, 0);
  ASSERT_EQ(Cli({"stop", "-t", "0", "svc"}).code, 0);
  ASSERT_EQ(Cli({"rm", "job", "svc"}).code, 0);

  std::vector<json> job = Events({"container=job"});
  EXPECT_EQ(Actions(job), (std::vector<std::string>{"create", "start", "die", "destroy"}));
  ASSERT_EQ(job.size(), 4u);
  const json& die = job[2];
  EXPECT_EQ(die["Type"], "container");
  EXPECT_EQ(die["status"], "die");
  EXPECT_EQ(die["Actor"]["Attributes"]["exitCode"], "3");
  EXPECT_EQ(die["Actor"]["Attributes"]["name"], "job");
  EXPECT_EQ(die["Actor"]["Attributes"]["image"], "busybox");
  EXPECT_EQ(die["Actor"]["Attributes"]["team"], "db");  // labels are attributes, as in Docker
  EXPECT_EQ(die["from"], "busybox");
  EXPECT_EQ(die["id"], die["Actor"]["ID"]);
  EXPECT_EQ(die["scope"], "local");
  EXPECT_EQ(die["timeNano"].get<int64_t>() / 1'000'000'000, die["time"].get<int64_t>());

  std::vector<std::string> svc = Actions(Events({"container=svc"}));
  std::vector<std::string> want = {"create", "start", "exec_start: true", "exec_die", "pause", "unpause",
                                   "kill", "die", "stop", "destroy"};
  EXPECT_EQ(svc, want);
  // event= matches "exec_start: true" as an exec_start; values of one key OR, keys AND.
  EXPECT_EQ(Actions(Events({"event=exec_start", "event=pause"})), (std::vector<std::string>{"exec_start: true", "pause"}));
  EXPECT_EQ(Actions(Events({"event=die", "label=team=db"})), (std::vector<std::string>{"die"}));
  EXPECT_TRUE(Events({"event=die", "label=team=web"}).empty());
  EXPECT_EQ(Events({"type=container", "image=busybox", "event=destroy"}).size(), 2u);
}

TEST_F(EventsTest, ImagesVolumesAndBadFilters) {
  CmdResult r = Cli({"volume", "create", "data"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(Cli({"volume", "rm", "data"}).code, 0);
  EXPECT_EQ(Actions(Events({"type=volume"})), (std::vector<std::string>{"create", "destroy"}));
  EXPECT_EQ(Events({"volume=data"}).size(), 2u);
  // A named volume is mounted at its container's start and unmounted at its exit, as Docker's.
  ASSERT_EQ(Cli({"run", "--name", "user", "-v", "logs:/var/log:ro", "busybox", "true"}).code, 0);
  std::vector<json> logs = Events({"volume=logs"});
  EXPECT_EQ(Actions(logs), (std::vector<std::string>{"create", "mount", "unmount"}));
  ASSERT_EQ(logs.size(), 3u);
  std::string user_id = json::parse(Cli({"inspect", "user"}).out)[0]["Id"];
  EXPECT_EQ(logs[1]["Actor"]["Attributes"]["container"], user_id);
  EXPECT_EQ(logs[1]["Actor"]["Attributes"]["destination"], "/var/log");
  EXPECT_EQ(logs[1]["Actor"]["Attributes"]["read/write"], "false");
  EXPECT_EQ(logs[2]["Actor"]["Attributes"]["container"], user_id);
  ASSERT_EQ(Cli({"rm", "user"}).code, 0);
  // The built-in image made on first use, then removed.
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  ASSERT_EQ(Cli({"rmi", "busybox"}).code, 0);
  std::vector<json> images = Events({"type=image"});
  EXPECT_EQ(Actions(images), (std::vector<std::string>{"import", "tag", "untag", "delete"}));
  EXPECT_EQ(Events({"image=busybox:latest", "event=untag"}).size(), 1u);

  r = Cli({"events", "--since", "1m", "--until", "0s", "--filter", "colour=red"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("invalid filter \"colour=red\""), std::string::npos) << r.err;
  EXPECT_EQ(Cli({"events", "--filter", "type"}).code, 1);
}

}  // namespace
}  // namespace bd::testing
