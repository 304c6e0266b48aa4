// exec --once KEY on persistent containers: at most one run per container instance and key,
// replayed byte for byte, supervised apart from the calling CLI, remembered on disk.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class ExecOnceTest : public EngineTest {
 protected:
  void StartBox(const std::string& name = "box") {
    CmdResult r = Cli({"run", "-d", "--name", name, "busybox", "sleep", "600"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // The lines of a file inside the container ("" when it is not there).
  std::string Cat(const std::string& path, const std::string& name = "box") {
    return Cli({"exec", name, "sh", "-c", "cat " + path + " 2>/dev/null"}).out;
  }
  // The record of `key` as `exec-records inspect` shows it (null when there is none).
  json Record(const std::string& key, const std::string& name = "box") {
    CmdResult r = Cli({"exec-records", "inspect", name, key});
    if (r.code != 0) return nullptr;
    json j = json::parse(r.out, nullptr, false);
    return j.is_array() && !j.empty() ? j[0] : json(nullptr);
  }
  // Waits until `pred` holds for the record of `key`, for up to `ms`.
  bool WaitForRecord(const std::string& key, const std::function<bool(const json&)>& pred, int ms = 10000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      json r = Record(key);
      if (!r.is_null() && pred(r)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::vector<std::string> BaseArgs() {
    return {std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_};
  }
};

TEST_F(ExecOnceTest, RunsOnceAndReplaysOutputAndExitCodeByteForByte) {
  StartBox();
  std::vector<std::string> cmd = {"exec", "--once", "seed", "box", "sh", "-c",
                                  "echo run >> /tmp/count; printf 'bin\\000\\377\\n'; echo err >&2; exit 5"};
  CmdResult first = Cli(cmd);
  EXPECT_EQ(first.code, 5) << first.err;
  EXPECT_EQ(first.out, std::string("bin\0\xff\n", 6));
  EXPECT_EQ(first.err, "err\n");
  for (int i = 0; i < 2; ++i) {
    CmdResult again = Cli(cmd);
    EXPECT_EQ(again.code, 5);
    EXPECT_EQ(again.out, first.out);
    EXPECT_EQ(again.err, first.err);
  }
  EXPECT_EQ(Cat("/tmp/count"), "run\n");
  // The record holds what execve got: the argv as given, the container's environment.
  json rec = Record("seed");
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec["State"], "done");
  EXPECT_EQ(rec["ExitCode"], 5);
  EXPECT_EQ(rec["Argv"][0], "sh");
  EXPECT_EQ(rec["Stdout"]["Encoding"], "base64");
  EXPECT_EQ(rec["Stderr"]["Data"], "err\n");
  bool has_path = false;
  for (const json& e : rec["Env"]) has_path |= e.get<std::string>().rfind("PATH=", 0) == 0;
  EXPECT_TRUE(has_path);
  EXPECT_NE(rec["StartedAt"], "");
  EXPECT_NE(rec["FinishedAt"], "");

  // A command that cannot be found is a failure recorded once, not retried.
  CmdResult missing = Cli({"exec", "--once", "nope", "box", "no-such-command"});
  EXPECT_EQ(missing.code, 127);
  CmdResult missing_again = Cli({"exec", "--once", "nope", "box", "no-such-command"});
  EXPECT_EQ(missing_again.code, 127);
  EXPECT_EQ(missing_again.err, missing.err);

  // The key, not the command, is what counts: another command under the same key replays.
  EXPECT_EQ(Cli({"exec", "--once", "seed", "box", "true"}).code, 5);
  // Events: one start, replays.
  CmdResult ev = Cli({"events", "--since", "10m", "--until", "0s", "--format", "json", "--filter", "container=box"});
  int starts = 0, replays = 0;
  for (const json& e : JsonLines(ev.out)) {
    starts += e["Action"] == "exec_once_start";
    replays += e["Action"] == "exec_once_replay";
  }
  EXPECT_EQ(starts, 1);  // "nope" never started: its failure is recorded without a start
  EXPECT_GE(replays, 4);
}

TEST_F(ExecOnceTest, WithATerminalTheTerminalsOutputIsStdout) {
  StartBox();
  CmdResult first = Cli({"exec", "--once", "tty", "-t", "box", "sh", "-c", "echo on-tty; echo more >&2"});
  EXPECT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.out.find("on-tty"), std::string::npos);
  CmdResult again = Cli({"exec", "--once", "tty", "-t", "box", "sh", "-c", "echo on-tty"});
  EXPECT_EQ(again.out, first.out);
  json rec = Record("tty");
  EXPECT_EQ(rec["Tty"], true);
  EXPECT_EQ(rec["Stderr"]["Size"], 0);
}

TEST_F(ExecOnceTest, EightConcurrentCallsRunOnceAndAllSeeOneResult) {
  StartBox();
  std::vector<CmdResult> results(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([this, &results, i] {
      results[i] = Cli({"exec", "--once", "race", "box", "sh", "-c",
                        "echo run >> /tmp/race; sleep 0.5; echo pid-$$; exit 3"}, "", 60);
    });
  }
  for (auto& t : threads) t.join();
  for (const CmdResult& r : results) {
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_EQ(r.out, results[0].out);
    EXPECT_EQ(r.err, "");
  }
  EXPECT_EQ(results[0].out.rfind("pid-", 0), 0u) << results[0].out;
  EXPECT_EQ(Cat("/tmp/race"), "run\n");
}

TEST_F(ExecOnceTest, KilledCliLeavesTheRunToFinishAndBeRecorded) {
  StartBox();
  std::vector<std::string> args = BaseArgs();
  for (std::string a : {"exec", "--once", "long", "box", "sh", "-c",
                        "echo begun > /tmp/long; sleep 1.5; echo finished >> /tmp/long; echo out"}) {
    args.push_back(a);
  }
  pid_t cli = StartInBackground(args);
  ASSERT_GT(cli, 0);
  ASSERT_TRUE(WaitForRecord("long", [](const json& r) { return r["Pid"].get<int>() > 0; }));
  ASSERT_EQ(::kill(cli, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(cli, &status, 0), cli);
  ASSERT_TRUE(WaitForRecord("long", [](const json& r) { return r["State"] == "done"; }));
  CmdResult replay = Cli({"exec", "--once", "long", "box", "sh", "-c", "echo never"});
  EXPECT_EQ(replay.code, 0) << replay.err;
  EXPECT_EQ(replay.out, "out\n");
  EXPECT_EQ(Cat("/tmp/long"), "begun\nfinished\n");
}

TEST_F(ExecOnceTest, KilledSupervisorInterruptsAndNothingRunsAgainUntilReset) {
  StartBox();
  std::vector<std::string> args = BaseArgs();
  for (std::string a : {"exec", "--once", "mig", "box", "sh", "-c", "echo started >> /tmp/mig; sleep 30"}) {
    args.push_back(a);
  }
  pid_t cli = StartInBackground(args);
  ASSERT_GT(cli, 0);
  ASSERT_TRUE(WaitForRecord("mig", [](const json& r) { return r["Pid"].get<int>() > 0; }));
  pid_t monitor = Record("mig")["Supervisor"]["Pid"].get<int>();
  ASSERT_GT(monitor, 1);
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(cli, &status, 0), cli);  // the caller is told, and ends
  EXPECT_NE(WEXITSTATUS(status), 0);
  // The monitor's launch helper died with it; where this test is its namespace's init (run
  // under unshare), it is ours to reap, or it would keep the container's cgroup populated.
  for (int i = 0; i < 20; ++i) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  CmdResult after = Cli({"exec", "--once", "mig", "box", "sh", "-c", "echo started >> /tmp/mig"});
  EXPECT_NE(after.code, 0);
  EXPECT_NE(after.err.find("interrupted"), std::string::npos) << after.err;
  EXPECT_NE(after.err.find("--reset"), std::string::npos) << after.err;
  EXPECT_EQ(Record("mig")["State"], "interrupted");
  EXPECT_EQ(Cat("/tmp/mig"), "started\n");
  // The command died with its supervisor.
  EXPECT_EQ(Cli({"exec", "box", "sh", "-c", "ps -o args | grep -c '^sleep 30'"}).out, "0\n");
  CmdResult ev = Cli({"events", "--since", "10m", "--until", "0s", "--format", "json",
                      "--filter", "event=exec_once_interrupted"});
  EXPECT_EQ(JsonLines(ev.out).size(), 1u) << ev.out;

  CmdResult reset = Cli({"exec", "--once", "mig", "--reset", "box", "sh", "-c", "echo started >> /tmp/mig; echo again"});
  EXPECT_EQ(reset.code, 0) << reset.err;
  EXPECT_EQ(reset.out, "again\n");
  EXPECT_EQ(Cat("/tmp/mig"), "started\nstarted\n");
  EXPECT_EQ(Cli({"exec", "--once", "mig", "box", "true"}).out, "again\n");
}

TEST_F(ExecOnceTest, PersistentReuseKeepsRecordsAndReplaceDropsThem) {
  std::vector<std::string> run = {"run", "-d", "--persistent", "--name", "app", "-e", "TOKEN=s3cret",
                                  "busybox", "sleep", "600"};
  CmdResult first = Cli(run);
  ASSERT_EQ(first.code, 0) << first.err;
  std::string id(TrimSpace(first.out));
  std::vector<std::string> once = {"exec", "--once", "init", "app", "sh", "-c", "echo ran-$HOSTNAME"};
  CmdResult ran = Cli(once);
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, "ran-" + id.substr(0, 12) + "\n");

  // Running: reused as it is. Stopped: reused and started. Each CLI call opens the state anew.
  EXPECT_EQ(TrimSpace(Cli(run).out), id);
  ASSERT_EQ(Cli({"stop", "-t", "0", "app"}).code, 0);
  // A stopped container replays what it recorded; only a run needs it running.
  EXPECT_EQ(Cli(once).out, ran.out);
  CmdResult reused = Cli(run);
  EXPECT_EQ(reused.code, 0) << reused.err;
  EXPECT_EQ(TrimSpace(reused.out), id);
  json inspect = json::parse(Cli({"inspect", "app"}).out, nullptr, false);
  ASSERT_TRUE(inspect.is_array());
  EXPECT_EQ(inspect[0]["State"]["Running"], true);
  EXPECT_EQ(inspect[0]["Config"]["Persistent"], true);
  std::string hash = inspect[0]["ConfigHash"];
  EXPECT_EQ(hash.rfind("sha256:", 0), 0u);
  EXPECT_EQ(Cli(once).out, ran.out);

  // Another configuration: refused, naming what differs but not the secret's value.
  std::vector<std::string> changed = {"run", "-d", "--persistent", "--name", "app", "-e", "TOKEN=other",
                                      "-m", "64m", "busybox", "sleep", "600"};
  CmdResult refused = Cli(changed);
  EXPECT_EQ(refused.code, 125);
  EXPECT_NE(refused.err.find("Env (TOKEN)"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("Memory"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("other"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("s3cret"), std::string::npos) << refused.err;
  EXPECT_EQ(TrimSpace(Cli({"ps", "-q", "--no-trunc"}).out), id);  // nothing changed

  changed.insert(changed.begin() + 3, "--replace");
  CmdResult replaced = Cli(changed);
  ASSERT_EQ(replaced.code, 0) << replaced.err;
  std::string new_id(TrimSpace(replaced.out));
  EXPECT_NE(new_id, id);
  EXPECT_EQ(Cli({"exec-records", "ls", "-q"}).out, "");
  CmdResult anew = Cli(once);
  EXPECT_EQ(anew.out, "ran-" + new_id.substr(0, 12) + "\n");
}

TEST_F(ExecOnceTest, PersistentRunAttachedAndItsBadInput) {
  CmdResult a = Cli({"run", "--persistent", "--name", "job", "busybox", "sh", "-c", "echo hello; exit 4"});
  EXPECT_EQ(a.code, 4);
  EXPECT_EQ(a.out, "hello\n");
  std::string id = Cli({"ps", "-aq", "--no-trunc"}).out;
  CmdResult b = Cli({"run", "--persistent", "--name", "job", "busybox", "sh", "-c", "echo hello; exit 4"});
  EXPECT_EQ(b.code, 4);  // the same container started again, attached
  EXPECT_EQ(b.out, "hello\n");
  EXPECT_EQ(Cli({"ps", "-aq", "--no-trunc"}).out, id);
  EXPECT_EQ(json::parse(Cli({"inspect", "job"}).out)[0]["RestartCount"], 0);

  CmdResult noname = Cli({"run", "--persistent", "busybox", "true"});
  EXPECT_EQ(noname.code, 125);
  EXPECT_NE(noname.err.find("--name"), std::string::npos);
  EXPECT_EQ(Cli({"run", "--persistent", "--rm", "--name", "x", "busybox", "true"}).code, 125);
  EXPECT_EQ(Cli({"run", "--replace", "--name", "x", "busybox", "true"}).code, 125);
  ASSERT_EQ(Cli({"run", "-d", "--name", "plain", "busybox", "sleep", "60"}).code, 0);
  CmdResult plain = Cli({"run", "-d", "--persistent", "--name", "plain", "busybox", "sleep", "60"});
  EXPECT_EQ(plain.code, 125);
  EXPECT_NE(plain.err.find("not created --persistent"), std::string::npos) << plain.err;
  EXPECT_EQ(Cli({"ps", "-aq"}).out.size(), 2 * 13u);  // nothing made or removed
}

TEST_F(ExecOnceTest, BadInputGetsAClearErrorAndChangesNothing) {
  StartBox();
  CmdResult empty = Cli({"exec", "--once", "", "box", "true"});
  EXPECT_NE(empty.code, 0);
  EXPECT_NE(empty.err.find("key"), std::string::npos) << empty.err;
  CmdResult control = Cli({"exec", "--once", "a\nb", "box", "true"});
  EXPECT_NE(control.code, 0);
  CmdResult unknown = Cli({"exec", "--once", "k", "nosuch", "true"});
  EXPECT_NE(unknown.code, 0);
  EXPECT_NE(unknown.err.find("No such container: nosuch"), std::string::npos) << unknown.err;
  ASSERT_EQ(Cli({"stop", "-t", "0", "box"}).code, 0);
  CmdResult stopped = Cli({"exec", "--once", "k", "box", "touch", "/tmp/x"});
  EXPECT_NE(stopped.code, 0);
  EXPECT_NE(stopped.err.find("not running"), std::string::npos) << stopped.err;
  EXPECT_EQ(Cli({"exec-records", "ls", "-q"}).out, "");  // the refused calls left no record
  EXPECT_NE(Cli({"exec", "--once", "k", "--record-limit", "lots", "box", "true"}).code, 0);
  EXPECT_NE(Cli({"exec-records", "inspect", "box", "k"}).code, 0);
  EXPECT_NE(Cli({"exec-records", "rm", "box", "k"}).code, 0);
  EXPECT_EQ(Cli({"exec-records", "rm", "-f", "box", "k"}).code, 0);
  EXPECT_NE(Cli({"exec-records", "ls", "nosuch"}).code, 0);
}

TEST_F(ExecOnceTest, RecordsAreListedInspectedRemovedPrunedAndCounted) {
  StartBox();
  ASSERT_EQ(Cli({"exec", "--once", "a", "box", "echo", "one"}).code, 0);
  ASSERT_EQ(Cli({"exec", "--once", "b", "--record-limit", "4", "box", "echo", "0123456789"}).code, 0);
  CmdResult ls = Cli({"exec-records", "ls", "--format", "json"});
  std::vector<json> rows = JsonLines(ls.out);
  ASSERT_EQ(rows.size(), 2u) << ls.out;
  EXPECT_EQ(rows[0]["Key"], "a");
  EXPECT_EQ(rows[0]["Container"]["Name"], "box");
  EXPECT_FALSE(rows[0]["Stdout"].contains("Data"));
  EXPECT_EQ(rows[1]["Stdout"]["Truncated"], true);
  EXPECT_EQ(rows[1]["Stdout"]["Size"], 11);
  EXPECT_EQ(rows[1]["Stdout"]["Kept"], 4);
  // A truncated record replays what it kept.
  EXPECT_EQ(Cli({"exec", "--once", "b", "box", "true"}).out, "0123");
  CmdResult table = Cli({"exec-records", "ls", "box"});
  EXPECT_NE(table.out.find("KEY"), std::string::npos);
  EXPECT_NE(table.out.find("Exited (0)"), std::string::npos) << table.out;
  EXPECT_EQ(Cli({"exec-records", "ls", "-q"}).out, "a\nb\n");
  json both = json::parse(Cli({"exec-records", "inspect", "box", "a", "b"}).out, nullptr, false);
  ASSERT_TRUE(both.is_array());
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0]["Stdout"]["Data"], "one\n");

  CmdResult df = Cli({"system", "df"});
  EXPECT_NE(df.out.find("Exec Records    2"), std::string::npos) << df.out;

  EXPECT_EQ(Cli({"exec-records", "rm", "box", "a"}).out, "a\n");
  EXPECT_EQ(Cli({"exec", "--once", "a", "box", "echo", "two"}).out, "two\n");  // runs again
  CmdResult keep = Cli({"exec-records", "prune", "-f", "--until", "1h"});
  EXPECT_EQ(keep.code, 0) << keep.err;
  EXPECT_NE(keep.out.find("Deleted exec records: 0"), std::string::npos) << keep.out;
  CmdResult prune = Cli({"exec-records", "prune", "-f"});
  EXPECT_NE(prune.out.find("Deleted exec records: 2"), std::string::npos) << prune.out;
  EXPECT_EQ(Cli({"exec-records", "ls", "-q"}).out, "");
  // Removing the container removes its records.
  ASSERT_EQ(Cli({"exec", "--once", "c", "box", "true"}).code, 0);
  ASSERT_EQ(Cli({"rm", "-f", "box"}).code, 0);
  EXPECT_EQ(Cli({"exec-records", "ls", "-q"}).out, "");
}

}  // namespace
}  // namespace bd::testing
