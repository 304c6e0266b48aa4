#include <gtest/gtest.h>

#include "engine/containers/detach.h"

namespace bd::engine {
namespace {

TEST(DetachTest, ScannerPassesInputAndSpotsTheSequence) {
  DetachScanner s;
  bool detach = false;
  EXPECT_EQ(s.Feed("ls\r", &detach), "ls\r");
  EXPECT_FALSE(detach);
  // A lone Ctrl-P is held back until the next key shows whether the sequence goes on.
  EXPECT_EQ(s.Feed("a\x10", &detach), "a");
  EXPECT_FALSE(detach);
  EXPECT_EQ(s.Feed("x", &detach), "\x10x");  // broken: both go on
  EXPECT_EQ(s.Feed("\x10\x10", &detach), "\x10");  // the second Ctrl-P may start the sequence
  EXPECT_EQ(s.Feed("\x11trailing", &detach), "");
  EXPECT_TRUE(detach);
  EXPECT_EQ(s.Feed("b", &detach), "b");  // scanning starts afresh
  EXPECT_FALSE(detach);
  EXPECT_EQ(s.Feed("echo\x10\x11", &detach), "echo");
  EXPECT_TRUE(detach);
}

TEST(DetachTest, ParsesDockerSpelling) {
  EXPECT_EQ(*ParseDetachKeys("ctrl-p,ctrl-q"), "\x10\x11");
  EXPECT_EQ(*ParseDetachKeys("CTRL-A,d"), std::string("\x01" "d"));
  EXPECT_EQ(*ParseDetachKeys("ctrl-@"), std::string(1, '\0'));
  EXPECT_EQ(*ParseDetachKeys("ctrl-[,ctrl-_"), "\x1b\x1f");
  for (const char* bad : {"", "ctrl-", "ctrl-1", "ab", "ctrl-pq", "p,,q"}) {
    EXPECT_FALSE(ParseDetachKeys(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace bd::engine
