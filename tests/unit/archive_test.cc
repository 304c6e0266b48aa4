#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "os/fs.h"
#include "base/digest.h"
#include "store/archive.h"

namespace bd::store {
namespace {

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-archive-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
    dest_ = dir_->path() + "/dest";
    outside_ = dir_->path() + "/outside";
    ASSERT_TRUE(os::MkdirAll(dest_).ok());
    ASSERT_TRUE(os::MkdirAll(outside_).ok());
  }

  // Builds a tar with `fill` and returns an fd positioned at its start.
  UniqueFd Tar(const std::function<void(TarBuilder&)>& fill) {
    std::string path = dir_->path() + "/in.tar";
    auto fd = os::Open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_TRUE(fd.ok());
    {
      TarBuilder t([&](std::string_view d) { return os::WriteAll(fd->get(), d); });
      fill(t);
      EXPECT_TRUE(t.Finish().ok());
    }
    ::lseek(fd->get(), 0, SEEK_SET);
    return std::move(fd).value();
  }

  Result<UnpackResult> Unpack(const std::function<void(TarBuilder&)>& fill,
                              UnpackOptions opts = {}) {
    UniqueFd fd = Tar(fill);
    opts.preserve_owner = geteuid() == 0;
    return UnpackTar(fd.get(), dest_, opts);
  }

  bool OutsideEmpty() { return os::ListDir(outside_)->empty(); }

  std::unique_ptr<os::TempDir> dir_;
  std::string dest_, outside_;
};

TEST(CleanEntryPathTest, NormalizesAndRejects) {
  EXPECT_EQ(*CleanEntryPath("./a//b/"), "a/b");
  EXPECT_EQ(*CleanEntryPath("."), "");
  EXPECT_EQ(*CleanEntryPath("a/./b"), "a/b");
  EXPECT_FALSE(CleanEntryPath("/etc/passwd").ok());
  EXPECT_FALSE(CleanEntryPath("../x").ok());
  EXPECT_FALSE(CleanEntryPath("a/../../x").ok());
  EXPECT_FALSE(CleanEntryPath("a/..").ok());
  EXPECT_TRUE(CleanEntryPath("a/..b").ok());
}

TEST_F(ArchiveTest, UnpacksFilesDirsLinksAndHashesTheStream) {
  std::string hashed;
  UniqueFd fd = Tar([](TarBuilder& t) {
    ASSERT_TRUE(t.AddDir("etc", {}).ok());
    ASSERT_TRUE(t.AddFile("etc/motd", "hi\n", {0640}).ok());
    ASSERT_TRUE(t.AddFile("deep/er/file", "x", {}).ok());  // parents not listed
    ASSERT_TRUE(t.AddSymlink("etc/abs", "/etc/motd", {}).ok());
    ASSERT_TRUE(t.AddHardlink("etc/motd2", "etc/motd", {}).ok());
  });
  std::string raw = *os::ReadAll(fd.get());
  ::lseek(fd.get(), 0, SEEK_SET);
  std::string teed;
  auto r = UnpackTar(fd.get(), dest_, {}, [&](std::string_view d) {
    teed.append(d);
    return Status();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->diff_id, Sha256Digest(raw));
  EXPECT_EQ(teed, raw);
  EXPECT_EQ(*os::ReadFile(dest_ + "/etc/motd"), "hi\n");
  EXPECT_EQ(*os::ReadFile(dest_ + "/deep/er/file"), "x");
  struct stat st;
  ASSERT_EQ(::stat((dest_ + "/etc/motd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_nlink, 2u);
  char target[64] = {};
  ASSERT_GT(::readlink((dest_ + "/etc/abs").c_str(), target, sizeof target), 0);
  EXPECT_STREQ(target, "/etc/motd");
}

TEST_F(ArchiveTest, RejectsDotDotEntries) {
  auto r = Unpack([](TarBuilder& t) { ASSERT_TRUE(t.AddFile("../outside/pwned", "x", {}).ok()); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(".."), std::string::npos) << r.status().message();
  EXPECT_TRUE(OutsideEmpty());
}

TEST_F(ArchiveTest, RejectsAbsoluteEntries) {
  std::string abs = outside_ + "/pwned";
  auto r = Unpack([&](TarBuilder& t) { ASSERT_TRUE(t.AddFile(abs, "x", {}).ok()); });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("absolute"), std::string::npos) << r.status().message();
  EXPECT_TRUE(OutsideEmpty());
}

TEST_F(ArchiveTest, NeverWritesThroughAnEscapingSymlink) {
  std::string target = outside_;
  auto r = Unpack([&](TarBuilder& t) {
    ASSERT_TRUE(t.AddSymlink("evil", target, {}).ok());
    ASSERT_TRUE(t.AddFile("evil/pwned", "x", {}).ok());
  });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("symlink"), std::string::npos) << r.status().message();
  EXPECT_TRUE(OutsideEmpty());
}

TEST_F(ArchiveTest, NeverFollowsARelativeSymlinkOut) {
  auto r = Unpack([&](TarBuilder& t) {
    ASSERT_TRUE(t.AddSymlink("up", "../outside", {}).ok());
    ASSERT_TRUE(t.AddFile("up/pwned", "x", {}).ok());
  });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(OutsideEmpty());
}

TEST_F(ArchiveTest, HardlinkTargetsMustStayInside) {
  ASSERT_TRUE(os::WriteFile(outside_ + "/secret", "s").ok());
  auto r = Unpack([&](TarBuilder& t) { ASSERT_TRUE(t.AddHardlink("h", "../outside/secret", {}).ok()); });
  ASSERT_FALSE(r.ok());
  auto r2 = Unpack([&](TarBuilder& t) {
    ASSERT_TRUE(t.AddSymlink("l", outside_, {}).ok());
    ASSERT_TRUE(t.AddHardlink("h", "l/secret", {}).ok());
  });
  ASSERT_FALSE(r2.ok());
  EXPECT_FALSE(os::Exists(dest_ + "/h"));
}

TEST_F(ArchiveTest, LaterEntriesReplaceEarlierOnes) {
  auto r = Unpack([](TarBuilder& t) {
    ASSERT_TRUE(t.AddFile("f", "one", {}).ok());
    ASSERT_TRUE(t.AddFile("f", "two", {}).ok());
    ASSERT_TRUE(t.AddFile("d/x", "x", {}).ok());
    ASSERT_TRUE(t.AddFile("d", "now a file", {}).ok());
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*os::ReadFile(dest_ + "/f"), "two");
  EXPECT_EQ(*os::ReadFile(dest_ + "/d"), "now a file");
}

TEST_F(ArchiveTest, GarbageIsAClearError) {
  std::string path = dir_->path() + "/junk";
  ASSERT_TRUE(os::WriteFile(path, std::string(4096, 'j')).ok());
  auto fd = os::Open(path, O_RDONLY);
  auto r = UnpackTar(fd->get(), dest_, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(ArchiveTest, ConvertsWhiteoutsForOverlayfs) {
  if (geteuid() != 0) GTEST_SKIP() << "whiteouts need root (mknod 0:0, trusted.* xattrs)";
  UnpackOptions opts;
  opts.overlay_whiteouts = true;
  auto r = Unpack(
      [](TarBuilder& t) {
        ASSERT_TRUE(t.AddDir("etc", {}).ok());
        ASSERT_TRUE(t.AddFile("etc/.wh.gone", "", {}).ok());
        ASSERT_TRUE(t.AddDir("opq", {}).ok());
        ASSERT_TRUE(t.AddFile("opq/.wh..wh..opq", "", {}).ok());
      },
      opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  struct stat st;
  ASSERT_EQ(::lstat((dest_ + "/etc/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(os::Exists(dest_ + "/etc/.wh.gone"));
  char v[4] = {};
  ASSERT_EQ(::getxattr((dest_ + "/opq").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(os::Exists(dest_ + "/opq/.wh..wh..opq"));
}

// A whiteout for a directory that the same archive made earlier (`bin/` then `.wh.bin`).
TEST_F(ArchiveTest, AWhiteoutReplacesADirectoryOfTheSameLayer) {
  if (geteuid() != 0) GTEST_SKIP() << "whiteouts need root (mknod 0:0, trusted.* xattrs)";
  UnpackOptions opts;
  opts.overlay_whiteouts = true;
  auto r = Unpack(
      [](TarBuilder& t) {
        ASSERT_TRUE(t.AddDir("bin", {}).ok());
        ASSERT_TRUE(t.AddFile("bin/sh", "x", {}).ok());
        ASSERT_TRUE(t.AddFile(".wh.bin", "", {}).ok());
        ASSERT_TRUE(t.AddFile("after", "still here", {}).ok());
      },
      opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  struct stat st;
  ASSERT_EQ(::lstat((dest_ + "/bin").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(*os::ReadFile(dest_ + "/after"), "still here");
}

}  // namespace
}  // namespace bd::store
