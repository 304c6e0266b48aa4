// system df and info: what the engine holds on disk and runs, as Docker shows it.
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class SystemTest : public EngineTest {
 protected:
  std::map<std::string, json> Df() {
    CmdResult r = Cli({"system", "df", "--format", "json"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::map<std::string, json> out;
    for (const std::string& line : Split(r.out, '\n')) {
      if (line.empty()) continue;
      json j = json::parse(line);
      out[j["Type"]] = j;
    }
    return out;
  }
};

TEST_F(SystemTest, DiskUsageCountsWhatIsInUseAndWhatCouldGo) {
  ASSERT_EQ(Cli({"run", "--name", "kept", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /big"}).code, 0);
  ASSERT_EQ(Cli({"volume", "create", "spare"}).code, 0);
  auto df = Df();
  ASSERT_EQ(df.size(), 5u);
  EXPECT_EQ(df["Exec Records"]["TotalCount"], 0);
  EXPECT_EQ(df["Images"]["TotalCount"], 1);
  EXPECT_EQ(df["Images"]["Active"], 1);  // a container of it exists
  EXPECT_GT(df["Images"]["SizeBytes"].get<int64_t>(), 0);
  EXPECT_EQ(df["Images"]["ReclaimableBytes"], 0);
  EXPECT_EQ(df["Containers"]["TotalCount"], 1);
  EXPECT_EQ(df["Containers"]["Active"], 0);  // exited
  EXPECT_GE(df["Containers"]["SizeBytes"].get<int64_t>(), 300000);  // its writable layer
  EXPECT_EQ(df["Containers"]["ReclaimableBytes"], df["Containers"]["SizeBytes"]);
  EXPECT_EQ(df["Local Volumes"]["TotalCount"], 1);
  EXPECT_EQ(df["Local Volumes"]["Active"], 0);
  EXPECT_EQ(df["Capsules"]["TotalCount"], 0);
  ASSERT_EQ(Cli({"rm", "kept"}).code, 0);
  df = Df();
  EXPECT_EQ(df["Images"]["Active"], 0);
  EXPECT_EQ(df["Images"]["ReclaimableBytes"], df["Images"]["SizeBytes"]);
  CmdResult table = Cli({"system", "df"});
  EXPECT_EQ(table.out.substr(0, table.out.find('\n')), "TYPE            TOTAL   ACTIVE   SIZE     RECLAIMABLE") << table.out;
  EXPECT_NE(table.out.find("(100%)"), std::string::npos) << table.out;
  EXPECT_EQ(Cli({"system", "df", "--format", "yaml"}).code, 1);
}

TEST_F(SystemTest, InfoCountsContainersByState) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "up", "busybox", "sleep", "600"}).code, 0);
  ASSERT_EQ(Cli({"create", "--name", "made", "busybox", "true"}).code, 0);
  CmdResult r = Cli({"info", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["Containers"], 2);
  EXPECT_EQ(j["ContainersRunning"], 1);
  EXPECT_EQ(j["ContainersStopped"], 1);
  EXPECT_EQ(j["Images"], 1);
  EXPECT_EQ(j["Driver"], "overlay2");
  EXPECT_EQ(j["OSType"], "linux");
  EXPECT_GT(j["NCPU"].get<int>(), 0);
  EXPECT_EQ(j["DockerRootDir"], root_);
  CmdResult text = Cli({"system", "info"});
  EXPECT_NE(text.out.find("Containers: 2\n Running: 1\n Paused: 0\n Stopped: 1\n"), std::string::npos) << text.out;
  ASSERT_EQ(Cli({"rm", "-f", "up", "made"}).code, 0);
}

}  // namespace
}  // namespace bd::testing
