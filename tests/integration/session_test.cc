// The engine as a library with no terminal: exec, attach and start driven on plain pipes (as
// the API server will), outcomes as values (exit code, signal, detach), a terminal's master
// handed to the caller and resized by it, and misuse refused.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "engine/engine.h"
#include "integration/cli_helper.h"
#include "os/process.h"

namespace bd::testing {
namespace {

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    r.Reset(fds[0]);
    w.Reset(fds[1]);
  }
};

// Everything `fd` gives until EOF (or EIO, a terminal's end), at most `timeout_ms`.
std::string ReadToEnd(int fd, int timeout_ms = 10'000, std::string_view until = "") {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!until.empty() && out.find(until) != std::string::npos) break;
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class SessionTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    if (std::string why = MissingPrivilege(); !why.empty()) GTEST_SKIP() << why;
    ::signal(SIGPIPE, SIG_IGN);
  }
  std::unique_ptr<engine::Engine> Open() {
    auto eng = engine::Engine::Open(root_);
    EXPECT_TRUE(eng.ok()) << eng.status().ToString();
    return eng.ok() ? std::move(*eng) : nullptr;
  }
};

TEST_F(SessionTest, ExecOnPipesGivesItsOutputAndOutcome) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "web", "busybox", "sleep", "600"}).code, 0);
  auto eng = Open();
  ASSERT_NE(eng, nullptr);
  Pipe in, out, err;
  engine::Engine::ExecOptions opts;
  opts.cmd = {"sh", "-c", "read x; echo \"out $x\"; echo err >&2; exit 3"};
  auto s = eng->StartExec("web", opts, {in.r.get(), out.w.get(), err.w.get()});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  in.r.Reset();
  out.w.Reset();
  err.w.Reset();
  EXPECT_EQ((*s)->terminal(), -1);
  EXPECT_GT((*s)->pid(), 0);
  EXPECT_EQ((*s)->Resize(24, 80).code(), Code::kFailedPrecondition);  // no terminal to resize
  ASSERT_EQ(::write(in.w.get(), "hi\n", 3), 3);
  in.w.Reset();
  EXPECT_EQ(ReadToEnd(out.r.get()), "out hi\n");
  EXPECT_EQ(ReadToEnd(err.r.get()), "err\n");
  auto outcome = (*s)->Wait();
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->exit_code, 3);
  EXPECT_EQ(outcome->signal, 0);
  EXPECT_FALSE(outcome->detached);
  EXPECT_EQ((*s)->Wait().status().code(), Code::kFailedPrecondition);  // once
  EXPECT_EQ((*s)->Signal(SIGTERM).code(), Code::kFailedPrecondition);  // it has ended
  // exec_die carries the session's execID and the code.
  auto ev = Cli({"events", "--since", "1m", "--until", "0s", "--filter", "event=exec_die", "--format", "json"});
  ASSERT_EQ(ev.code, 0) << ev.err;
  auto j = nlohmann::json::parse(Split(ev.out, '\n').front());
  EXPECT_EQ(j["Actor"]["Attributes"]["execID"], (*s)->id());
  EXPECT_EQ(j["Actor"]["Attributes"]["exitCode"], "3");
  // Output discarded (-1) and a signal through the session: the outcome names it.
  opts.cmd = {"sleep", "600"};
  auto sleeper = eng->StartExec("web", opts, {});
  ASSERT_TRUE(sleeper.ok()) << sleeper.status().ToString();
  ASSERT_TRUE((*sleeper)->Signal(SIGKILL).ok());
  outcome = (*sleeper)->Wait();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->exit_code, 137);
  EXPECT_EQ(outcome->signal, SIGKILL);
  // Detached: at once, its output nowhere.
  opts.detach = true;
  auto bg = eng->StartExec("web", opts, {});
  ASSERT_TRUE(bg.ok());
  outcome = (*bg)->Wait();
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->detached);
}

TEST_F(SessionTest, ExecWithATerminalHandsTheMasterToTheCaller) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "web", "busybox", "sleep", "600"}).code, 0);
  auto eng = Open();
  ASSERT_NE(eng, nullptr);
  engine::Engine::ExecOptions opts;
  opts.tty = true;
  opts.cmd = {"sh", "-c", "read x; stty size; echo \"TERM=$TERM\""};
  engine::SessionIo io;
  io.rows = 20;
  io.cols = 70;
  auto first = eng->StartExec("web", {{"stty", "size"}, {}, "", "", false, true}, io);  // its first size
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_NE(ReadToEnd((*first)->terminal()).find("20 70"), std::string::npos);
  ASSERT_TRUE((*first)->Wait().ok());
  auto s = eng->StartExec("web", opts, {});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  int master = (*s)->terminal();
  ASSERT_GE(master, 0);
  ASSERT_TRUE((*s)->Resize(33, 101).ok());
  ASSERT_EQ(::write(master, "go\n", 3), 3);
  std::string screen = ReadToEnd(master, 10'000, "TERM=xterm");
  EXPECT_NE(screen.find("33 101"), std::string::npos) << screen;
  EXPECT_NE(screen.find("TERM=xterm"), std::string::npos) << screen;
  auto outcome = (*s)->Wait();
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->exit_code, 0);
}

TEST_F(SessionTest, AttachAndStartOnPipes) {
  auto eng = Open();
  ASSERT_NE(eng, nullptr);
  // start -a -i of a created container: its stdio on the caller's pipes through the shim.
  ASSERT_EQ(Cli({"create", "-i", "--name", "job", "busybox", "sh", "-c", "read l; echo \"got $l\"; exit 4"}).code, 0);
  Pipe in, out, err;
  engine::AttachIo io{out.w.get(), err.w.get(), in.r.get(), ""};
  auto task = eng->Start("job", &io);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  ASSERT_NE(*task, nullptr);
  in.r.Reset();
  out.w.Reset();
  err.w.Reset();
  ASSERT_EQ(::write(in.w.get(), "x\n", 2), 2);
  EXPECT_EQ(ReadToEnd(out.r.get(), 10'000, "got x\n"), "got x\n");
  auto outcome = (*task)->Wait();
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->exit_code, 4);
  EXPECT_FALSE(outcome->oom_killed);
  // attach to a running one; its end by SIGKILL is the outcome's signal.
  ASSERT_EQ(Cli({"run", "-d", "-i", "--name", "talk", "busybox", "cat"}).code, 0);
  Pipe in2, out2;
  auto a = eng->StartAttach("talk", {out2.w.get(), -1, in2.r.get(), ""});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  in2.r.Reset();
  out2.w.Reset();
  EXPECT_FALSE((*a)->tty());
  EXPECT_TRUE((*a)->input());
  ASSERT_EQ(::write(in2.w.get(), "ping\n", 5), 5);
  EXPECT_EQ(ReadToEnd(out2.r.get(), 10'000, "ping\n"), "ping\n");
  ASSERT_EQ(Cli({"kill", "talk"}).code, 0);
  outcome = (*a)->Wait();
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->exit_code, 137);
  EXPECT_EQ(outcome->signal, SIGKILL);
  // Misuse: refused, nothing started.
  EXPECT_EQ(eng->StartAttach("talk", {}).status().code(), Code::kFailedPrecondition);  // stopped
  EXPECT_EQ(eng->StartAttach("nothing", {}).status().code(), Code::kNotFound);
  EXPECT_EQ(eng->StartAttach("job", {-1, -1, -1, "ctrl-"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(eng->StartExec("talk", {}, {}).status().code(), Code::kInvalidArgument);  // no command
}

TEST_F(SessionTest, AContainersTerminalIsResizedWhoeverIsAttached) {
  ASSERT_EQ(Cli({"run", "-dt", "--name", "term", "busybox", "sh", "-c", "while true; do stty size; sleep 0.1; done"}).code, 0);
  ASSERT_EQ(Cli({"run", "-d", "--name", "plain", "busybox", "sleep", "600"}).code, 0);
  auto eng = Open();
  ASSERT_NE(eng, nullptr);
  ASSERT_TRUE(eng->ResizeTerminal("term", 27, 93).ok());
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    seen = Cli({"logs", "term"}).out.find("27 93") != std::string::npos;
    if (!seen) ::usleep(100'000);
  }
  EXPECT_TRUE(seen) << Cli({"logs", "term"}).out;
  // The container runs on, attachable as before.
  EXPECT_EQ(eng->containers().Find("term")->state, engine::State::kRunning);
  EXPECT_EQ(eng->ResizeTerminal("plain", 27, 93).code(), Code::kFailedPrecondition);  // no terminal
  EXPECT_EQ(eng->ResizeTerminal("term", 0, 93).code(), Code::kInvalidArgument);
  EXPECT_EQ(eng->ResizeTerminal("nothing", 27, 93).code(), Code::kNotFound);
}

}  // namespace
}  // namespace bd::testing
