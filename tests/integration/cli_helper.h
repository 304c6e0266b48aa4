// Helpers for tests that drive the real binaries on a throwaway data root.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "os/fs.h"
#include "store/archive.h"

namespace bd::testing {

struct CmdResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs argv[0] with the rest, feeding `input` on stdin; kills it after `timeout_s`.
CmdResult RunCmd(const std::vector<std::string>& argv, const std::string& input = "",
                 int timeout_s = 60);

// Builds a tar archive in memory.
std::string BuildTar(const std::function<void(store::TarBuilder&)>& fill);

// A root filesystem layer holding the host's static busybox as /bin/busybox and /bin/sh.
std::string BusyboxLayerTar();

// BusyboxLayerTar() plus the static test probe at /bin/bd-probe.
std::string ProbeLayerTar();

// The reason a real-container test cannot run here, or "" when it can.
std::string MissingPrivilege();

// Mount points of the calling process (field 5 of /proc/self/mountinfo).
std::vector<std::string> HostMountPoints();

// A fixture with a fresh data root, removed (containers first) afterwards.
class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  CmdResult Cli(std::vector<std::string> args, const std::string& input = "", int timeout_s = 60);
  std::string WriteFile(const std::string& name, const std::string& data);
  std::string root_;
  std::unique_ptr<os::TempDir> dir_;
};

}  // namespace bd::testing
