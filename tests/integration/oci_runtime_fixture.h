// The fixture of basic-runtime's command-line tests: a bundle whose rootfs holds the host's
// static busybox and the test probe, and helpers that run the runtime on it.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "engine/images/store.h"
#include "integration/cli_helper.h"
#include "os/fs.h"

namespace bd::testing {

using nlohmann::json;

inline const std::string kRuntime = std::string(BD_BIN_DIR) + "/basic-runtime";

// The whitespace-separated fields of a line.
inline std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  for (const std::string& f : Split(line, ' ')) {
    if (!f.empty()) out.push_back(f);
  }
  return out;
}

// A bundle whose rootfs holds the host's static busybox and the test probe.
class OciRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = MissingPrivilege(); !why.empty()) GTEST_SKIP() << why;
    auto dir = os::TempDir::Create("/tmp", "bd-oci-");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(*dir));
    bundle_ = dir_->path() + "/bundle";
    state_ = dir_->path() + "/state";
    std::string rootfs = bundle_ + "/rootfs";
    ASSERT_TRUE(os::MkdirAll(rootfs + "/bin").ok());
    ASSERT_TRUE(os::MkdirAll(rootfs + "/etc").ok());
    for (const auto& [from, to] : {std::pair{engine::BusyboxPath(), "/bin/busybox"},
                                   std::pair{std::string(BD_BIN_DIR) + "/bd-probe", "/bin/bd-probe"}}) {
      auto data = os::ReadFile(from);
      ASSERT_TRUE(data.ok());
      ASSERT_TRUE(os::WriteFile(rootfs + to, *data, 0755).ok());
    }
    for (const char* applet : {"sh", "sleep", "echo", "cat", "id", "ls", "ps", "hostname", "true", "grep"}) {
      ASSERT_EQ(::symlink("busybox", (rootfs + "/bin/" + applet).c_str()), 0);
    }
    ASSERT_EQ(Rt({"spec", "--bundle", bundle_}).code, 0);
    config_ = json::parse(*os::ReadFile(bundle_ + "/config.json"));
    config_["process"]["terminal"] = false;
  }
  void TearDown() override {
    if (!dir_) return;
    for (const char* id : {"c1", "c2", "c3"}) Rt({"delete", "--force", id});
  }
  void SetArgs(std::vector<std::string> args) {
    config_["process"]["args"] = std::move(args);
    ASSERT_TRUE(os::WriteFileAtomic(bundle_ + "/config.json", config_.dump()).ok());
  }
  CmdResult Rt(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {kRuntime, "--root", state_});
    return RunCmd(args, input, 30);
  }
  std::string WriteProcess(const json& process) {
    std::string path = dir_->path() + "/process.json";
    EXPECT_TRUE(os::WriteFileAtomic(path, process.dump()).ok());
    return path;
  }
  // For commands that leave the container running (create, run --detach, exec --detach): the
  // container keeps the standard streams it was given, so they go to files, read afterwards.
  CmdResult RtDetached(std::vector<std::string> args) {
    std::string out = dir_->path() + "/detached.out", err = dir_->path() + "/detached.err";
    std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" </dev/null >" + out + " 2>" + err,
                                     "sh", kRuntime, "--root", state_};
    argv.insert(argv.end(), args.begin(), args.end());
    CmdResult r = RunCmd(argv, "", 30);
    auto read = [](const std::string& path) {
      auto text = os::ReadFile(path);
      return text.ok() ? *text : std::string();
    };
    r.out = read(out);
    r.err = read(err);
    return r;
  }
  json State(const std::string& id) {
    CmdResult r = Rt({"state", id});
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  std::unique_ptr<os::TempDir> dir_;
  std::string bundle_, state_;
  json config_;
};

}  // namespace bd::testing
