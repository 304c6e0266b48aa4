#include <gtest/gtest.h>

#include "base/digest.h"
#include "base/status.h"
#include "base/strings.h"
#include "base/time.h"
#include "os/error.h"

namespace bd {
namespace {

Result<int> Half(int v) {
  if (v % 2) return Status::InvalidArgument("odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  BD_ASSIGN_OR_RETURN(int h, Half(v));
  return Half(h);
}

TEST(StatusTest, OkCarriesNothingAndContextKeepsCode) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.ToString(), "OK");
  Status nf = Status::NotFound("no such thing");
  EXPECT_EQ(nf.WithContext("look up").message(), "look up: no such thing");
  EXPECT_EQ(nf.WithContext("x").code(), Code::kNotFound);
  EXPECT_TRUE(ok.WithContext("x").ok());
}

// A command that could not run stays marked through added context (the CLI's 126/127 come
// from it); OK stays unmarked.
TEST(StatusTest, CommandFailureSurvivesContext) {
  Status st = Status::NotFound("exec: \"/x\": no such file").WithCommandFailure(CommandFailure::kNotFound);
  EXPECT_EQ(st.WithContext("start").command_failure(), CommandFailure::kNotFound);
  EXPECT_EQ(Status::Internal("x").command_failure(), CommandFailure::kNone);
  EXPECT_EQ(Status().WithCommandFailure(CommandFailure::kCannotRun).command_failure(), CommandFailure::kNone);
  EXPECT_FALSE(st == Status::NotFound("exec: \"/x\": no such file"));
}

TEST(StatusTest, HttpStatusForEveryCode) {
  EXPECT_EQ(HttpStatusOf(Code::kOk), 200);
  EXPECT_EQ(HttpStatusOf(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatusOf(Code::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusOf(Code::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusOf(Code::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusOf(Code::kConflict), 409);
  EXPECT_EQ(HttpStatusOf(Code::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusOf(Code::kUnavailable), 503);
  EXPECT_EQ(HttpStatusOf(Code::kNotSupported), 501);
  EXPECT_EQ(HttpStatusOf(Code::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusOf(Code::kInternal), 500);
}

TEST(ResultTest, PropagatesErrorsThroughMacros) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST(ErrnoStatusTest, NamesTheOperationAndMapsTheCode) {
  Status st = os::ErrnoStatus(ENOENT, "open `/x`");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "open `/x`: No such file or directory");
  EXPECT_EQ(os::ErrnoStatus(EEXIST, "mkdir").code(), Code::kAlreadyExists);
  EXPECT_EQ(os::ErrnoStatus(EPERM, "mount").code(), Code::kPermissionDenied);
}

TEST(DigestTest, KnownVectorAndValidation) {
  EXPECT_EQ(Sha256Digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ValidateDigest(Sha256Digest("")).ok());
  EXPECT_FALSE(ValidateDigest("sha256:abc").ok());
  EXPECT_FALSE(ValidateDigest("md5:" + std::string(64, 'a')).ok());
  EXPECT_FALSE(ValidateDigest("sha256:" + std::string(64, 'A')).ok());
}

TEST(TimeTest, Rfc3339RoundTrip) {
  int64_t t = 1795000000123456789;
  std::string s = FormatRfc3339Nano(t);
  EXPECT_EQ(s.back(), 'Z');
  EXPECT_EQ(ParseRfc3339Nano(s), t);
  EXPECT_EQ(ParseRfc3339Nano("2026-11-22T10:00:00Z") % 1'000'000'000, 0);
  EXPECT_EQ(ParseRfc3339Nano("yesterday"), -1);
}

TEST(StringsTest, SplitJoinParse) {
  EXPECT_EQ(Split("a:b::c", ':'), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(Join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_FALSE(ParseInt("4x").has_value());
  EXPECT_FALSE(ParseInt("").has_value());
  EXPECT_EQ(RandomHexId().size(), 64u);
  EXPECT_NE(RandomHexId(), RandomHexId());
  EXPECT_EQ(HumanSize(1980000), "1.98MB");
  EXPECT_EQ(HumanSize(64 << 20, true), "64.00MiB");
  EXPECT_EQ(HumanSize(512, true), "512B");
  EXPECT_EQ(ShellQuote("a b"), "\"a b\"");
}

TEST(Strings, ValidateUtf8) {
  EXPECT_TRUE(ValidateUtf8("x", "").ok());
  EXPECT_TRUE(ValidateUtf8("x", "plain ascii").ok());
  EXPECT_TRUE(ValidateUtf8("x", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3").ok());
  for (std::string bad : {"caf\xe9", "\xc3", "\xc0\xaf" /* overlong */, "\xed\xa0\x80" /* surrogate */,
                          "\xf4\x90\x80\x80" /* > U+10FFFF */, "\xff"}) {
    Status st = ValidateUtf8("the value", bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.message().find(bad), std::string::npos);  // the bytes are not echoed
  }
  EXPECT_NE(ValidateUtf8("-e", "ab\xff").message().find("byte 2"), std::string::npos);
}

}  // namespace
}  // namespace bd

#include <sys/mount.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "os/fs.h"
#include "os/mount.h"
#include "os/process.h"

namespace bd::os {
namespace {

TEST(ChildProcessTest, KillsAndReapsOnScopeExit) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  auto pidfd = PidfdOpen(pid);
  ASSERT_TRUE(pidfd.ok());
  { ChildProcess child(pid, std::move(pidfd).value()); }
  // Reaped: the pid is no longer our child.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// Move assignment kills and reaps the child it held, then owns the other (which then outlives
// it); the moved-from object owns nothing.
TEST(ChildProcessTest, MoveAssignmentReapsTheOldChildAndTakesTheNew) {
  auto spawn = [] {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::pause();
      ::_exit(0);
    }
    auto pidfd = PidfdOpen(pid);
    return ChildProcess(pid, pidfd.ok() ? std::move(*pidfd) : UniqueFd());
  };
  ChildProcess a = spawn();
  ChildProcess b = spawn();
  pid_t old_pid = a.pid(), new_pid = b.pid();
  a = std::move(b);
  EXPECT_EQ(::waitpid(old_pid, nullptr, WNOHANG), -1);  // reaped
  EXPECT_EQ(errno, ECHILD);
  EXPECT_EQ(a.pid(), new_pid);
  EXPECT_GE(a.pidfd(), 0);
  EXPECT_EQ(b.pid(), 0);
  EXPECT_EQ(::waitpid(new_pid, nullptr, WNOHANG), 0);  // still running, still ours
  ASSERT_TRUE(a.Signal(SIGTERM).ok());
  auto st = a.Wait();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(WIFSIGNALED(*st));
}

TEST(ChildProcessTest, WaitReturnsTheStatus) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(7);
  ChildProcess child(pid, UniqueFd());
  auto st = child.Wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(WEXITSTATUS(*st), 7);
  EXPECT_EQ(child.pid(), 0);
}

TEST(ScopedMountTest, UnmountsOnScopeExit) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting needs root";
  auto dir = TempDir::Create("/tmp", "bd-mnt-");
  ASSERT_TRUE(dir.ok());
  {
    auto m = ScopedMount::Make("tmpfs", dir->path(), "tmpfs", 0, "size=64k");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_TRUE(WriteFile(dir->path() + "/f", "x").ok());
    EXPECT_TRUE(Exists(dir->path() + "/f"));
  }
  EXPECT_FALSE(Exists(dir->path() + "/f"));  // the tmpfs and its file are gone
  auto bad = ScopedMount::Make("none", dir->path() + "/missing", "tmpfs", 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("missing"), std::string::npos);
}

}  // namespace
}  // namespace bd::os
