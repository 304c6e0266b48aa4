#include <algorithm>
#include <sys/resource.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "os/fs.h"
#include "runtime/oci_config.h"
#include "runtime/oci_export.h"
#include "runtime/security.h"

namespace bd::runtime {
namespace {

using nlohmann::json;

// A config shaped like the one podman writes (trimmed), rooted in a real directory.
class OciConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = os::TempDir::Create("/tmp", "oci-config");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(*dir));
    ASSERT_TRUE(os::MkdirAll(dir_->path() + "/rootfs").ok());
    config_ = json::parse(DefaultOciConfig());
  }
  Result<OciBundle> Parse(bool systemd = false) {
    return ParseOciConfig(config_.dump(), dir_->path(), "ctr1", systemd);
  }
  std::unique_ptr<os::TempDir> dir_;
  json config_;
};

TEST_F(OciConfigTest, DefaultConfigParsesWithRelativeRoot) {
  auto b = Parse();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const Spec& s = b->spec;
  EXPECT_EQ(s.rootfs, dir_->path() + "/rootfs");
  EXPECT_TRUE(s.readonly_rootfs);
  EXPECT_EQ(s.process.args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(s.process.terminal);
  ASSERT_TRUE(s.process.numeric_user);
  EXPECT_EQ(s.process.numeric_user->uid, 0u);
  EXPECT_EQ(s.process.capabilities,
            (std::vector<std::string>{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}));
  ASSERT_EQ(s.process.rlimits.size(), 1u);
  EXPECT_EQ(s.process.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(s.process.rlimits[0].hard, 1024u);
  EXPECT_EQ(s.namespaces, DefaultNamespaces());
  EXPECT_EQ(s.cgroup_name, "basic-runtime/ctr1");
  ASSERT_TRUE(s.limits.allowed_devices);  // the deny-all rule restricts to the standard set
  EXPECT_EQ(*s.limits.allowed_devices, DefaultAllowedDevices());
  EXPECT_FALSE(s.masked_paths.empty());
  EXPECT_EQ(s.mounts.back().type, "cgroup");
}

TEST_F(OciConfigTest, PodmanFieldsAreRead) {
  config_["process"]["user"] = {{"uid", 1000}, {"gid", 100}, {"umask", 18}, {"additionalGids", {5, 7}}};
  config_["process"]["oomScoreAdj"] = 100;
  config_["mounts"].push_back({{"destination", "/etc/hosts"}, {"type", "bind"},
                               {"source", "hosts"}, {"options", {"bind", "rprivate"}}});
  config_["linux"]["sysctl"] = {{"net.ipv4.ping_group_range", "0 0"}};
  config_["linux"]["cgroupsPath"] = "/libpod_parent/libpod-abc";
  config_.erase("hostname");  // no uts namespace below
  config_["linux"]["resources"] = {{"pids", {{"limit", 2048}}},
                                   {"memory", {{"limit", 64 << 20}}},
                                   {"devices", {{{"allow", false}, {"access", "rwm"}},
                                                {{"allow", true}, {"type", "c"}, {"major", 10},
                                                 {"minor", 229}, {"access", "rwm"}}}}};
  config_["linux"]["namespaces"] = {{{"type", "pid"}}, {{"type", "mount"}}, {{"type", "network"}, {"path", "/proc/1/ns/net"}}};
  config_["linux"]["devices"] = {{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229},
                                  {"fileMode", 0666}}};
  config_["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                 {"architectures", {"SCMP_ARCH_X86_64"}},
                                 {"syscalls", {{{"names", {"keyctl"}}, {"action", "SCMP_ACT_ERRNO"},
                                                {"errnoRet", 1}}}}};
  config_["annotations"] = {{"io.container.manager", "libpod"}};
  auto b = Parse();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const Spec& s = b->spec;
  EXPECT_EQ(s.process.numeric_user->uid, 1000u);
  EXPECT_EQ(s.process.numeric_user->gid, 100u);
  EXPECT_EQ(s.process.numeric_user->additional_gids, (std::vector<uint32_t>{5, 7}));
  EXPECT_EQ(s.process.umask, 18u);
  EXPECT_EQ(s.process.oom_score_adj, 100);
  EXPECT_EQ(s.mounts.back().source, dir_->path() + "/hosts");  // relative to the bundle
  ASSERT_EQ(s.sysctl.size(), 1u);
  EXPECT_EQ(s.sysctl[0].second, "0 0");
  EXPECT_EQ(s.cgroup_name, "libpod_parent/libpod-abc");
  // The resources are applied as runc applies them: here planned for a v2 host.
  CgroupPlan plan = PlanCgroup(CgroupLayout::kV2, "/cg", s.cgroup_name, s.limits);
  ASSERT_TRUE(plan.error.ok()) << plan.error.ToString();
  auto wrote = [&](const std::string& file, const std::string& value) {
    return std::any_of(plan.writes.begin(), plan.writes.end(), [&](const CgroupWrite& w) {
      return w.file == "/cg/" + s.cgroup_name + "/" + file && w.value == value;
    });
  };
  EXPECT_TRUE(wrote("pids.max", "2048"));
  EXPECT_TRUE(wrote("memory.max", std::to_string(64 << 20)));
  EXPECT_TRUE(plan.must_be_empty);
  ASSERT_TRUE(s.limits.allowed_devices);
  EXPECT_EQ(s.limits.allowed_devices->back(), "c 10:229 rwm");
  EXPECT_EQ(s.namespaces, (std::vector<std::string>{"pid", "mount"}));
  ASSERT_EQ(s.join_namespaces.size(), 1u);
  EXPECT_EQ(s.join_namespaces[0].path, "/proc/1/ns/net");
  ASSERT_EQ(s.devices.size(), 1u);
  EXPECT_EQ(s.devices[0].minor, 229);
  EXPECT_FALSE(s.seccomp_program.empty());
  EXPECT_EQ(b->annotations.at("io.container.manager"), "libpod");

  // Everything the runtime keeps survives its state file.
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->process.numeric_user->additional_gids, s.process.numeric_user->additional_gids);
  EXPECT_EQ(back->process.umask, s.process.umask);
  EXPECT_EQ(back->process.oom_score_adj, 100);
  EXPECT_EQ(back->process.rlimits.size(), s.process.rlimits.size());
  EXPECT_EQ(back->limits.allowed_devices, s.limits.allowed_devices);
  EXPECT_EQ(back->join_namespaces.size(), 1u);
  EXPECT_EQ(back->devices.size(), 1u);
  EXPECT_EQ(back->sysctl, s.sysctl);
  EXPECT_EQ(back->seccomp_program, s.seccomp_program);
}

TEST_F(OciConfigTest, AMountNamespaceIsRequired) {
  config_["linux"]["namespaces"] = {{{"type", "pid"}}, {{"type", "uts"}}};
  auto b = Parse();
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("without a private MNT namespace"), std::string::npos);
  config_["linux"]["namespaces"] = {{{"type", "mount"}, {"path", "/proc/1/ns/mnt"}}, {{"type", "uts"}}};
  EXPECT_TRUE(Parse().ok());  // joined by path: the runtime checks it at launch
}

TEST_F(OciConfigTest, SysctlsNeedTheirNamespace) {
  config_["linux"]["namespaces"] = {{{"type", "mount"}, {"type", "pid"}}};
  config_["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  auto b = Parse();
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("needs a network namespace"), std::string::npos) << b.status().message();
  config_["linux"]["sysctl"] = {{"kernel.shmmax", "1"}};
  EXPECT_NE(Parse().status().message().find("needs a ipc namespace"), std::string::npos);
  config_["linux"]["sysctl"] = {{"vm.swappiness", "1"}};
  EXPECT_NE(Parse().status().message().find("not namespaced"), std::string::npos);
  config_["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "ipc"}}, {{"type", "network"}}};
  config_["linux"]["sysctl"] = {{"kernel.shmmax", "1"}, {"net.ipv4.ip_forward", "1"}};
  EXPECT_NE(Parse().status().message().find("without a private UTS namespace"), std::string::npos);
  config_.erase("hostname");  // a hostname needs a uts namespace, as with runc
  EXPECT_TRUE(Parse().ok()) << Parse().status().ToString();
}

TEST_F(OciConfigTest, UnknownCapabilitiesAreSkippedNotFatal) {
  config_["process"]["capabilities"] = {{"bounding", {"CAP_CHOWN", "CAP_FROM_THE_FUTURE"}},
                                        {"effective", {"CAP_CHOWN"}}};
  auto b = Parse();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->spec.process.capabilities, std::vector<std::string>{"CAP_CHOWN"});
}

TEST_F(OciConfigTest, RelativeMountDestinationsAreBelowTheRoot) {
  config_["mounts"].push_back({{"destination", "data/here"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  auto b = Parse();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->spec.mounts.back().destination, "/data/here");
}

TEST_F(OciConfigTest, SystemdCgroupPath) {
  config_["linux"]["cgroupsPath"] = "machine.slice:libpod:abc";
  auto b = Parse(/*systemd=*/true);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->spec.cgroup_name, "machine.slice/libpod-abc.scope");
}

TEST_F(OciConfigTest, UserAndTimeNamespacesAndHooks) {
  config_["linux"]["namespaces"].push_back({{"type", "user"}});
  config_["linux"]["namespaces"].push_back({{"type", "time"}});
  config_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  config_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 10}}};
  config_["linux"]["timeOffsets"] = {{"boottime", {{"secs", 3600}, {"nanosecs", 5}}}};
  config_["annotations"] = {{"k", "v"}};
  config_["hooks"] = {{"prestart", {{{"path", "/bin/true"}, {"args", {"true", "x"}}, {"env", {"A=1"}}, {"timeout", 5}}}},
                      {"poststop", {{{"path", "/bin/false"}}}}};
  auto b = Parse();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const Spec& s = b->spec;
  EXPECT_TRUE(HasNamespace(s, "user"));
  ASSERT_EQ(s.gid_mappings.size(), 1u);
  EXPECT_EQ(s.gid_mappings[0].host_id, 200000u);
  ASSERT_EQ(s.time_offsets.size(), 1u);
  EXPECT_EQ(s.time_offsets[0].nanosecs, 5u);
  ASSERT_EQ(s.hooks.prestart.size(), 1u);
  EXPECT_EQ(s.hooks.prestart[0].timeout_s, 5);
  EXPECT_EQ(s.hooks.bundle, dir_->path());
  EXPECT_EQ(s.hooks.annotations.at("k"), "v");
  // Kept in the runtime's state file: poststop runs at delete, exec joins the user namespace.
  auto back = SpecFromJson(SpecToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->uid_mappings.size(), 1u);
  EXPECT_EQ(back->uid_mappings[0].size, 65536u);
  EXPECT_EQ(back->time_offsets[0].secs, 3600);
  ASSERT_EQ(back->hooks.poststop.size(), 1u);
  EXPECT_EQ(back->hooks.poststop[0].path, "/bin/false");
  EXPECT_EQ(back->hooks.prestart[0].args, (std::vector<std::string>{"true", "x"}));
  EXPECT_EQ(back->hooks.bundle, s.hooks.bundle);
}

TEST_F(OciConfigTest, BadConfigsAreRefusedWithTheReason) {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* message;
  };
  std::vector<Case> cases = {
      {"version", [](json& c) { c["ociVersion"] = "2.0.0"; }, "ociVersion"},
      {"no process", [](json& c) { c.erase("process"); }, "no process"},
      {"empty args", [](json& c) { c["process"]["args"] = json::array(); }, "process.args"},
      {"relative cwd", [](json& c) { c["process"]["cwd"] = "srv"; }, "absolute"},
      {"rlimit", [](json& c) { c["process"]["rlimits"][0]["type"] = "RLIMIT_BOGUS"; }, "RLIMIT_BOGUS"},
      {"user ns without maps", [](json& c) { c["linux"]["namespaces"].push_back({{"type", "user"}}); },
       "no uid mappings"},
      {"maps without user ns", [](json& c) {
         c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
       }, "creates no user namespace"},
      {"empty map", [](json& c) {
         c["linux"]["namespaces"].push_back({{"type", "user"}});
         c["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 0}}};
       }, "invalid mapping"},
      {"namespace twice", [](json& c) { c["linux"]["namespaces"].push_back({{"type", "pid"}}); }, "twice"},
      {"offsets without time ns", [](json& c) { c["linux"]["timeOffsets"] = {{"monotonic", {{"secs", 1}}}}; },
       "no time namespace"},
      {"unknown clock", [](json& c) {
         c["linux"]["namespaces"].push_back({{"type", "time"}});
         c["linux"]["timeOffsets"] = {{"realtime", {{"secs", 1}}}};
       }, "realtime"},
      {"unknown ns", [](json& c) { c["linux"]["namespaces"].push_back({{"type", "nope"}}); }, "nope"},
      {"relative hook", [](json& c) { c["hooks"] = {{"prestart", {{{"path", "true"}}}}}; }, "not absolute"},
      {"hook timeout", [](json& c) { c["hooks"] = {{"poststop", {{{"path", "/bin/true"}, {"timeout", 0}}}}}; },
       "timeout"},
      {"missing root", [](json& c) { c["root"]["path"] = "/nonexistent-root"; }, "nonexistent-root"},
      {"cgroup escape", [](json& c) { c["linux"]["cgroupsPath"] = "/a/../../b"; }, "cgroupsPath"},
      {"mount dest", [](json& c) { c["mounts"][0]["destination"] = ""; }, "empty destination"},
      {"seccomp action", [](json& c) { c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_BOGUS"}}; },
       "SCMP_ACT_BOGUS"},
      {"wrong type", [](json& c) { c["process"]["args"] = "sh"; }, "config.json"},
      {"device type", [](json& c) { c["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "z"}}}; },
       "device type"},
      {"seccomp notify", [](json& c) {
         c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                  {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
       }, "listenerPath"},
      {"idmap tmpfs", [](json& c) {
         c["mounts"].push_back({{"destination", "/m"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                                {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}},
                                {"gidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}}});
       }, "need a bind mount"},
      {"idmap one map", [](json& c) {
         c["mounts"].push_back({{"destination", "/m"}, {"type", "bind"}, {"source", "/tmp"}, {"options", {"bind"}},
                                {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}}}});
       }, "both uidMappings and gidMappings"},
      {"idmap empty map", [](json& c) {
         c["mounts"].push_back({{"destination", "/m"}, {"type", "bind"}, {"source", "/tmp"}, {"options", {"bind"}},
                                {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 0}}}}});
       }, "invalid mapping"},
      {"idmap without userns", [](json& c) {
         c["mounts"].push_back({{"destination", "/m"}, {"type", "bind"}, {"source", "/tmp"}, {"options", {"bind", "idmap"}}});
       }, "own user namespace"},
  };
  for (const Case& c : cases) {
    config_ = json::parse(DefaultOciConfig());
    c.edit(config_);
    auto b = Parse();
    ASSERT_FALSE(b.ok()) << c.what;
    EXPECT_EQ(b.status().code(), b.status().code() == Code::kNotFound ? Code::kNotFound
                                                                       : Code::kInvalidArgument)
        << c.what;
    EXPECT_NE(b.status().message().find(c.message), std::string::npos)
        << c.what << ": " << b.status().message();
  }
  EXPECT_FALSE(ParseOciConfig("{not json", dir_->path(), "x").ok());
}

TEST(OciProcessTest, ExecProcessJson) {
  auto p = ParseOciProcess(R"({"terminal":true,"user":{"uid":5,"gid":6},"args":["sh","-c","id"],
                               "env":["A=1"],"cwd":"/tmp",
                               "capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"]}})");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->has_capabilities);
  EXPECT_TRUE(p->process.terminal);
  EXPECT_EQ(p->process.numeric_user->uid, 5u);
  EXPECT_EQ(p->process.cwd, "/tmp");
  EXPECT_EQ(p->process.capabilities, std::vector<std::string>{"CAP_KILL"});
  auto bare = ParseOciProcess(R"({"args":["true"],"cwd":"/"})");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->has_capabilities);
  EXPECT_FALSE(ParseOciProcess(R"({"args":[]})").ok());
  EXPECT_FALSE(ParseOciProcess("[1,2]").ok());
}

TEST_F(OciConfigTest, SeccompNotifyNeedsAListenerAndFlagsAreParsed) {
  json notify = {{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}};
  config_["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {notify}}};
  auto b = Parse();
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("needs a listenerPath"), std::string::npos) << b.status().ToString();
  config_["linux"]["seccomp"]["listenerPath"] = "/run/agent.sock";
  config_["linux"]["seccomp"]["listenerMetadata"] = "m=1";
  config_["linux"]["seccomp"]["flags"] = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
  b = Parse();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->spec.seccomp_listener, "/run/agent.sock");
  EXPECT_EQ(b->spec.seccomp_listener_metadata, "m=1");
  EXPECT_EQ(b->spec.seccomp_flags, 2u | 4u);
  // The runtime's own handover of the descriptor cannot be notified; nor the default action.
  config_["linux"]["seccomp"]["syscalls"] = {{{"names", {"sendmsg"}}, {"action", "SCMP_ACT_NOTIFY"}}};
  EXPECT_FALSE(Parse().ok());
  config_["linux"]["seccomp"]["syscalls"] = json::array();
  config_["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_NOTIFY";
  EXPECT_FALSE(Parse().ok());
  // Without notify rules the listener is ignored, as the spec says.
  config_["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_ALLOW";
  config_["linux"]["seccomp"]["syscalls"] = {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}}};
  b = Parse();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->spec.seccomp_listener, "");
  config_["linux"]["seccomp"]["flags"] = {"SECCOMP_FILTER_FLAG_SOMETIMES"};
  EXPECT_FALSE(Parse().ok());
}

}  // namespace
}  // namespace bd::runtime

namespace bd::runtime {
namespace {

// The engine's spec written out as a bundle's config.json reads back as the same container.
TEST(OciExportTest, AnEngineSpecRoundTripsThroughConfigJson) {
  Spec s;
  s.id = "c1";
  s.process.args = {"sh", "-c", "echo hi"};
  s.process.env = {"A=1", "HOME="};
  s.process.cwd = "/srv";
  s.process.terminal = true;
  s.process.capabilities = {"CAP_CHOWN", "CAP_KILL"};
  s.process.rlimits = {{RLIMIT_NOFILE, 1024, 2048}};
  s.hostname = "web";
  s.rootfs = "/";  // must exist for the reader
  s.readonly_rootfs = true;
  s.mounts = DefaultMounts();
  s.mounts.push_back({"/data", "bind", "/host/data", {"rbind", "ro", ""}});
  s.namespaces = DefaultNamespaces();
  s.masked_paths = {"/proc/kcore"};
  s.readonly_paths = {"/proc/sys"};
  s.cgroup_name = "basic-docker/c1";
  s.limits.memory_bytes = 64 << 20;
  s.limits.pids_max = 100;
  s.limits.allowed_devices = std::vector<std::string>{"c 1:3 rwm", "c 136:* rwm"};
  OciExport extra;
  extra.user = {1000, 100, {10}};
  extra.home = "/home/u";
  auto text = OciConfigOf(s, extra);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  json j = json::parse(*text);
  EXPECT_EQ(j["linux"]["cgroupsPath"], "/basic-docker/c1");
  EXPECT_EQ(j["process"]["user"]["uid"], 1000);
  EXPECT_EQ(j["process"]["capabilities"]["effective"], json::array());  // not root: none
  EXPECT_EQ(j["process"]["capabilities"]["bounding"], json({"CAP_CHOWN", "CAP_KILL"}));
  EXPECT_EQ(j["linux"]["resources"]["devices"][0], json({{"allow", false}, {"access", "rwm"}}));
  EXPECT_EQ(j["linux"]["resources"]["devices"][2], json({{"allow", true}, {"type", "c"}, {"major", 136}, {"access", "rwm"}}));
  auto back = ParseOciConfig(*text, "/bundle", "c1");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  const Spec& b = back->spec;
  EXPECT_EQ(b.process.args, s.process.args);
  EXPECT_EQ(b.process.cwd, "/srv");
  EXPECT_TRUE(b.process.terminal);
  ASSERT_TRUE(b.process.numeric_user);
  EXPECT_EQ(b.process.numeric_user->uid, 1000u);
  EXPECT_EQ(b.process.numeric_user->additional_gids, std::vector<uint32_t>{10});
  EXPECT_NE(std::find(b.process.env.begin(), b.process.env.end(), "HOME=/home/u"), b.process.env.end());
  EXPECT_EQ(b.rootfs, "/");
  EXPECT_TRUE(b.readonly_rootfs);
  EXPECT_EQ(b.hostname, "web");
  EXPECT_EQ(b.namespaces, s.namespaces);
  EXPECT_EQ(b.mounts.size(), s.mounts.size());
  EXPECT_EQ(b.mounts.back().destination, "/data");
  EXPECT_EQ(b.masked_paths, s.masked_paths);
  json res = json::parse(b.limits.oci_resources.empty() ? "{}" : b.limits.oci_resources);
  EXPECT_EQ(b.limits.memory_bytes > 0 ? b.limits.memory_bytes : res["memory"]["limit"].get<int64_t>(), 64 << 20) << res.dump();
  EXPECT_EQ(b.limits.pids_max > 0 ? b.limits.pids_max : res["pids"]["limit"].get<int64_t>(), 100);
  ASSERT_EQ(b.process.rlimits.size(), 1u);
  EXPECT_EQ(b.process.rlimits[0].hard, 2048u);
  // What a bundle cannot carry is refused by name.
  s.seccomp_listener = "/run/agent.sock";
  EXPECT_NE(OciConfigOf(s, extra).status().message().find("listenerPath"), std::string::npos);
}

TEST(OciExportTest, DockerProfilesBecomeOciSeccompForTheGivenCapabilities) {
  const std::string profile = R"({"defaultAction": "SCMP_ACT_ALLOW",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                 {"name": "reboot", "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_BOOT"]}}]})";
  auto none = SeccompProfileForOci(profile, {});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  json j = json::parse(*none);
  ASSERT_EQ(j["syscalls"].size(), 1u);  // mount denied; the reboot rule needs CAP_SYS_BOOT
  EXPECT_EQ(j["syscalls"][0]["names"], json({"mount"}));
  EXPECT_FALSE(j["syscalls"][0].contains("excludes"));
#if defined(__x86_64__)
  EXPECT_EQ(j["architectures"], json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
#endif
  json admin = json::parse(*SeccompProfileForOci(profile, {"CAP_SYS_ADMIN", "CAP_SYS_BOOT"}));
  ASSERT_EQ(admin["syscalls"].size(), 1u);
  EXPECT_EQ(admin["syscalls"][0]["names"], json({"reboot"}));
  EXPECT_FALSE(SeccompProfileForOci("[1]", {}).ok());
  // The engine's default profile converts and still compiles.
  auto def = SeccompProfileForOci(DefaultSeccompProfile(), {"CAP_CHOWN"});
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_TRUE(CompileSeccompProfile(*def, {"CAP_CHOWN"}).ok());
}

}  // namespace
}  // namespace bd::runtime
