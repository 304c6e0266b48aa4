// `docker inspect`-shaped JSON for containers and images.
#include "engine/runtimes/runtimes.h"
#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/time.h"
#include "engine/engine.h"
#include "runtime/spec.h"

namespace bd::engine {

using nlohmann::json;

std::string Engine::InspectContainer(const Container& c) const {
  std::string dir = paths_.Container(c.id);
  std::vector<std::string> args = c.Args();
  json lower = json::array();
  if (auto spec = runtime::SpecFromJson(c.spec_json); spec.ok() && spec->overlay) {
    for (const auto& l : spec->overlay->lower_dirs) lower.push_back(l);
  }
  std::string lower_joined;
  for (const auto& l : lower) lower_joined += (lower_joined.empty() ? "" : ":") + l.get<std::string>();
  json j = {
      {"Id", c.id},
      {"Created", FormatRfc3339Nano(c.created_at)},
      {"Path", args.empty() ? "" : args[0]},
      {"Args", args.size() > 1 ? json(std::vector<std::string>(args.begin() + 1, args.end()))
                               : json::array()},
      {"State",
       {{"Status", StateName(c.state)},
        {"Running", c.Running()},
        {"Paused", c.Paused()},
        {"Restarting", c.state == State::kRestarting},
        {"OOMKilled", c.oom_killed},
        {"Dead", false},
        {"Pid", c.pid},
        {"ExitCode", c.exit_code},
        {"Error", c.error},
        {"StartedAt", c.started_at ? FormatRfc3339Nano(c.started_at) : "0001-01-01T00:00:00Z"},
        {"FinishedAt",
         c.finished_at ? FormatRfc3339Nano(c.finished_at) : "0001-01-01T00:00:00Z"}}},
      {"Image", c.image_id},
      {"ConfigHash", ConfigHash(c.config, c.image_id)},
      {"ResolvConfPath", dir + "/resolv.conf"},
      {"HostnamePath", dir + "/hostname"},
      {"HostsPath", dir + "/hosts"},
      {"LogPath", dir + "/ctr.log"},
      {"Name", "/" + c.name},
      {"RestartCount", c.restart_count},
      {"Driver", "overlay"},
      {"Platform", "linux"},
      {"HostConfig",
       {{"AutoRemove", c.config.auto_remove},
        {"NetworkMode", c.config.network},
        {"Binds", c.config.binds},
        {"Tmpfs", c.config.tmpfs},
        {"Init", c.config.init},
        {"CapAdd", c.config.cap_add},
        {"CapDrop", c.config.cap_drop},
        {"Privileged", c.config.privileged},
        {"ReadonlyRootfs", c.config.read_only},
        {"SecurityOpt", c.config.security_opt},
        {"RestartPolicy",
         {{"Name", c.config.restart}, {"MaximumRetryCount", c.config.restart_max}}},
        {"Memory", c.config.memory},
        {"NanoCpus", c.config.nano_cpus},
        {"PidsLimit", c.config.pids_limit},
        {"Runtime", c.config.runtime.empty() ? std::string(kBuiltinRuntime) : c.config.runtime},
        {"LogConfig",
         {{"Type", "json-file"},
          {"Config",
           {{"max-size", c.config.log.max_size > 0 ? std::to_string(c.config.log.max_size) : "-1"},
            {"max-file", std::to_string(c.config.log.max_file)}}}}}}},
      {"GraphDriver",
       {{"Name", "overlay"},
        {"Data",
         {{"LowerDir", lower_joined},
          {"UpperDir", dir + "/upper"},
          {"WorkDir", dir + "/work"},
          {"MergedDir", dir + "/merged"}}}}},
      {"Config",
       {{"Hostname", c.config.hostname.empty() ? c.id.substr(0, 12) : c.config.hostname},
        {"User", c.config.user},
        {"Env", c.config.env},
        {"Cmd", c.config.cmd},
        {"Image", c.config.image_ref},
        {"WorkingDir", c.config.working_dir},
        {"Entrypoint", c.config.entrypoint.empty() ? json(nullptr) : json(c.config.entrypoint)},
        {"Labels", c.config.labels},
        {"StopTimeout", c.config.stop_timeout},
        {"OpenStdin", c.config.open_stdin},
        {"Tty", c.config.tty},
        {"Persistent", c.config.persistent}}},
  };
  return j.dump(4);
}

std::string Engine::InspectImage(const Image& img) const {
  json layers = json::array();
  for (const auto& d : img.diff_ids) layers.push_back(d);
  json j = {
      {"Id", img.id},
      {"RepoTags", img.tags},
      {"RepoDigests", img.repo_digests},
      {"Created", img.created},
      {"Architecture", img.architecture},
      {"Os", img.os},
      {"Size", img.size},
      {"Config",
       {{"Env", img.config.env},
        {"Cmd", img.config.cmd.empty() ? json(nullptr) : json(img.config.cmd)},
        {"Entrypoint", img.config.entrypoint.empty() ? json(nullptr) : json(img.config.entrypoint)},
        {"WorkingDir", img.config.working_dir},
        {"User", img.config.user},
        {"Labels", img.config.labels}}},
      {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
      {"Metadata", {{"ManifestDigest", img.manifest_digest}}},
  };
  return j.dump(4);
}

}  // namespace bd::engine
