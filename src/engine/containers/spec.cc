// From what the user asked for and the image to the runtime spec: pure code, no syscalls
// beyond reading a seccomp profile file.
#include <unistd.h>

#include <cstdlib>

#include "base/strings.h"
#include "engine/containers/store.h"
#include "engine/volumes/store.h"
#include "os/process.h"
#include "os/fs.h"
#include "runtime/security.h"
#include "runtime/user.h"

namespace bd::engine {

namespace {

// The capability set a container runs with.
Result<std::vector<std::string>> ContainerCapabilities(const ContainerConfig& c) {
  if (c.privileged) return runtime::AllCapabilities();
  return runtime::AdjustCapabilities(runtime::DefaultCapabilities(), c.cap_add, c.cap_drop);
}

Status ApplySecurityOptions(const CreateOptions& opts, ContainerConfig* c) {
  c->cap_add = opts.cap_add;
  c->cap_drop = opts.cap_drop;
  c->privileged = opts.privileged;
  c->read_only = opts.read_only;
  c->security_opt = opts.security_opt;
  for (const std::string& opt : opts.security_opt) {
    // Docker takes both "key=value" and the older "key:value".
    size_t sep = opt.find_first_of("=:");
    std::string key = opt.substr(0, sep);
    std::string value = sep == std::string::npos ? "" : opt.substr(sep + 1);
    if (key == "seccomp") {
      if (value == "unconfined") {
        c->seccomp = "unconfined";
      } else if (!value.empty()) {
        auto profile = os::ReadFile(value);
        if (!profile.ok()) return profile.status().WithContext("seccomp profile");
        c->seccomp = std::move(profile).value();
      } else {
        return Status::InvalidArgument("security option \"" + opt + "\": give unconfined or a file");
      }
    } else if (key == "no-new-privileges") {
      if (value.empty() || value == "true") c->no_new_privileges = true;
      else if (value == "false") c->no_new_privileges = false;
      else return Status::InvalidArgument("security option \"" + opt + "\": want true or false");
    } else {
      return Status::InvalidArgument("unknown security option \"" + opt + "\"");
    }
  }
  return ContainerCapabilities(*c).status();
}


// An absolute path with no "." or ".." component.
Status ValidateContainerPath(std::string_view p, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(what) + " \"" + std::string(p) + "\": " + std::string(why));
  };
  if (p.empty() || p.front() != '/') return bad("must be an absolute path");
  if (p == "/") return bad("cannot be the root");
  for (const std::string& comp : Split(p.substr(1), '/')) {
    if (comp == "." || comp == "..") return bad("must not contain . or ..");
  }
  return {};
}

}  // namespace

void SetEnv(std::vector<std::string>* env, const std::string& kv) {
  std::string key = kv.substr(0, kv.find('='));
  for (std::string& e : *env) {
    if (e.compare(0, key.size() + 1, key + "=") == 0) {
      e = kv;
      return;
    }
  }
  env->push_back(kv);
}

std::vector<std::string> ContainerEnvironment(const ContainerConfig& config, const std::string& hostname, bool tty) {
  std::vector<std::string> env = {"PATH=" + std::string(runtime::kDefaultPath), "HOSTNAME=" + hostname};
  if (tty) env.push_back("TERM=xterm");
  for (const std::string& e : config.env) SetEnv(&env, e);
  return env;
}

Result<VolumeSpec> ParseVolumeSpec(std::string_view text) {
  std::vector<std::string> parts = Split(text, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty()) {
    return Status::InvalidArgument("invalid volume \"" + std::string(text) +
                                   "\": want SOURCE:DEST[:OPTIONS]");
  }
  VolumeSpec v;
  v.source = parts[0];
  v.destination = parts[1];
  v.named = v.source.front() != '/';
  if (v.named) BD_RETURN_IF_ERROR(ValidateVolumeName(v.source));
  BD_RETURN_IF_ERROR(ValidateContainerPath(v.destination, "volume destination"));
  BD_RETURN_IF_ERROR(runtime::ValidateProcMount({v.destination, "bind", v.source, {}}));
  if (parts.size() == 3) {
    for (const std::string& opt : Split(parts[2], ',')) {
      if (opt == "ro") v.read_only = true;
      else if (opt == "rw") v.read_only = false;
      else if (opt == "z" || opt == "Z") continue;  // SELinux relabelling: nothing to do here
      else if (opt == "private" || opt == "rprivate" || opt == "shared" || opt == "rshared" ||
               opt == "slave" || opt == "rslave") v.propagation = opt;
      else return Status::InvalidArgument("invalid volume option \"" + opt + "\" in \"" +
                                          std::string(text) + "\"");
    }
  }
  return v;
}

std::string InitPath() {
  if (const char* p = std::getenv("BASIC_DOCKER_INIT"); p && *p) return p;
  return os::SelfExeDir() + "/basic-docker-init";
}

Result<ContainerConfig> MergeConfig(const CreateOptions& opts, const Image& image) {
  ContainerConfig c;
  c.image_ref = opts.image;
  c.entrypoint = image.config.entrypoint;
  if (opts.entrypoint) {
    c.entrypoint.clear();
    if (!opts.entrypoint->empty()) c.entrypoint.push_back(*opts.entrypoint);
  }
  // Like Docker: a new entrypoint drops the image's Cmd unless a command is given.
  c.cmd = !opts.cmd.empty() ? opts.cmd
          : opts.entrypoint ? std::vector<std::string>{}
                            : image.config.cmd;
  if (c.entrypoint.empty() && c.cmd.empty()) {
    return Status::InvalidArgument("no command specified: the image has no Cmd or Entrypoint");
  }
  c.env = image.config.env;
  for (const std::string& e : opts.env) {
    if (e.empty() || e.front() == '=') {
      return Status::InvalidArgument("invalid environment variable \"" + e + "\"");
    }
    if (e.find('=') != std::string::npos) {
      SetEnv(&c.env, e);
    } else if (const char* v = std::getenv(e.c_str())) {
      SetEnv(&c.env, e + "=" + v);
    }
  }
  c.working_dir = opts.working_dir.empty() ? image.config.working_dir : opts.working_dir;
  if (!c.working_dir.empty() && c.working_dir.front() != '/') {
    return Status::InvalidArgument("the working directory \"" + c.working_dir +
                                   "\" is not an absolute path");
  }
  c.user = opts.user.empty() ? image.config.user : opts.user;
  c.hostname = opts.hostname;
  c.labels = image.config.labels;
  for (const auto& [k, v] : opts.labels) c.labels[k] = v;
  c.auto_remove = opts.auto_remove;
  BD_RETURN_IF_ERROR(ParseRestartPolicy(opts.restart, &c));
  if (c.auto_remove && c.restart != "no") {
    return Status::InvalidArgument("conflicting options: --restart and --rm");
  }
  if (opts.stop_timeout) {
    if (*opts.stop_timeout < 0) return Status::InvalidArgument("--stop-timeout must be >= 0");
    c.stop_timeout = *opts.stop_timeout;
  }
  if (!opts.memory.empty()) {
    BD_ASSIGN_OR_RETURN(c.memory, ParseMemorySize(opts.memory));
    if (c.memory < 6 * 1024 * 1024) {
      return Status::InvalidArgument("minimum memory limit allowed is 6MB");
    }
  }
  if (!opts.cpus.empty()) {
    BD_ASSIGN_OR_RETURN(c.nano_cpus, ParseCpus(opts.cpus));
  }
  if (opts.pids_limit < 0 && opts.pids_limit != -1) {
    return Status::InvalidArgument("--pids-limit must be positive or -1 (unlimited)");
  }
  c.pids_limit = opts.pids_limit > 0 ? opts.pids_limit : 0;
  for (const std::string& v : opts.volumes) BD_RETURN_IF_ERROR(ParseVolumeSpec(v).status());
  c.binds = opts.volumes;
  for (const std::string& t : opts.tmpfs) {
    BD_RETURN_IF_ERROR(ValidateContainerPath(t.substr(0, t.find(':')), "tmpfs destination"));
  }
  c.tmpfs = opts.tmpfs;
  if (opts.network == "host") {
    c.network = "host";
  } else if (!opts.network.empty() && opts.network != "none") {
    return Status::NotSupported("network \"" + opts.network +
                                   "\" is not supported: use none or host");
  }
  c.log = opts.log_defaults;
  for (const std::string& o : opts.log_opts) BD_RETURN_IF_ERROR(ParseLogOpt(o, &c.log));
  c.init = opts.init;
  c.open_stdin = opts.open_stdin;
  c.tty = opts.tty;
  c.persistent = opts.persistent;
  c.runtime = opts.runtime;
  BD_RETURN_IF_ERROR(ApplySecurityOptions(opts, &c));
  BD_RETURN_IF_ERROR(ValidateConfigText(c));
  return c;
}

Status ValidateConfigText(const ContainerConfig& c) {
  // Stored as JSON, which holds UTF-8 only: anything else is refused here, before any state.
  BD_RETURN_IF_ERROR(ValidateUtf8("the entrypoint", c.entrypoint));
  BD_RETURN_IF_ERROR(ValidateUtf8("a command argument", c.cmd));
  BD_RETURN_IF_ERROR(ValidateUtf8("an environment variable (-e)", c.env));
  BD_RETURN_IF_ERROR(ValidateUtf8("a volume (-v)", c.binds));
  BD_RETURN_IF_ERROR(ValidateUtf8("a tmpfs (--tmpfs)", c.tmpfs));
  BD_RETURN_IF_ERROR(ValidateUtf8("a security option", c.security_opt));
  BD_RETURN_IF_ERROR(ValidateUtf8("the working directory (-w)", c.working_dir));
  BD_RETURN_IF_ERROR(ValidateUtf8("the user (-u)", c.user));
  BD_RETURN_IF_ERROR(ValidateUtf8("the seccomp profile", c.seccomp));
  for (const auto& [k, v] : c.labels) {
    BD_RETURN_IF_ERROR(ValidateUtf8("a label key (-l)", k));
    BD_RETURN_IF_ERROR(ValidateUtf8("a label value (-l)", v));
  }
  return runtime::ValidateHostname(c.hostname);
}

Result<runtime::Spec> BuildSpec(const std::string& id, const ContainerConfig& config,
                                const std::vector<std::string>& layer_dirs, const Paths& paths) {
  std::string dir = paths.Container(id);
  runtime::Spec s;
  s.id = id;
  s.process.args = config.entrypoint;
  s.process.args.insert(s.process.args.end(), config.cmd.begin(), config.cmd.end());
  s.process.cwd = config.working_dir.empty() ? "/" : config.working_dir;
  s.process.user = config.user;
  s.process.terminal = config.tty;
  s.hostname = config.hostname.empty() ? id.substr(0, 12) : config.hostname;
  if (config.network == "host" && config.hostname.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    s.hostname = host;
  }
  s.process.env = ContainerEnvironment(config, s.hostname, config.tty);
  s.rootfs = dir + "/merged";
  runtime::Overlay o;
  o.lower_dirs.assign(layer_dirs.rbegin(), layer_dirs.rend());  // overlayfs: topmost first
  o.upper_dir = dir + "/upper";
  o.work_dir = dir + "/work";
  s.overlay = std::move(o);
  s.mounts = runtime::DefaultMounts();
  BD_ASSIGN_OR_RETURN(s.process.capabilities, ContainerCapabilities(config));
  s.process.no_new_privileges = config.no_new_privileges && !config.privileged;
  s.readonly_rootfs = config.read_only;
  if (config.privileged) {
    for (runtime::Mount& m : s.mounts) {
      if (m.destination == "/sys") std::erase(m.options, "ro");
    }
  } else {
    s.masked_paths = runtime::DefaultMaskedPaths();
    s.readonly_paths = runtime::DefaultReadonlyPaths();
    // CAP_MKNOD makes nodes; the devices cgroup decides which may be opened (v1 only).
    s.limits.allowed_devices = runtime::DefaultAllowedDevices();
    if (config.seccomp != "unconfined") {
      const std::string& profile =
          config.seccomp == "default" ? runtime::DefaultSeccompProfile() : config.seccomp;
      BD_ASSIGN_OR_RETURN(s.seccomp_program,
                          runtime::CompileSeccompProfile(profile, s.process.capabilities));
    }
  }
  for (const char* f : {"hostname", "hosts", "resolv.conf"}) {
    s.mounts.push_back({std::string("/etc/") + f, "bind", dir + "/" + f, {"rbind", "rprivate"}});
  }
  s.namespaces = runtime::DefaultNamespaces();
  if (config.network == "host") std::erase(s.namespaces, "network");
  for (const std::string& text : config.binds) {
    BD_ASSIGN_OR_RETURN(VolumeSpec v, ParseVolumeSpec(text));
    std::string source = v.named ? paths.VolumeData(v.source) : v.source;
    s.mounts.push_back({v.destination, "bind", source,
                        {"rbind", v.read_only ? "ro" : "rw", v.propagation}});
  }
  for (const std::string& text : config.tmpfs) {
    size_t colon = text.find(':');
    runtime::Mount m{text.substr(0, colon), "tmpfs", "tmpfs", {"nosuid", "nodev", "noexec"}};
    if (colon != std::string::npos) {
      for (const std::string& o : Split(text.substr(colon + 1), ',')) m.options.push_back(o);
    }
    s.mounts.push_back(std::move(m));
  }
  if (config.init) {
    s.mounts.push_back({std::string(kInitInContainer), "bind", InitPath(), {"bind", "ro"}});
    s.process.args.insert(s.process.args.begin(), {std::string(kInitInContainer), "--"});
  }
  s.cgroup_name = "basic-docker/" + id;
  s.limits.memory_bytes = config.memory;
  s.limits.cpu_quota_us = config.nano_cpus / 10000;  // of a 100 ms period
  s.limits.pids_max = config.pids_limit;
  return s;
}

}  // namespace bd::engine
