#include "engine/engine.h"
#include "engine/runtimes/runtimes.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "base/crash_point.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "engine/daemon_config.h"
#include "engine/containers/detach.h"
#include "engine/elements/elements.h"
#include "engine/gc.h"
#include "engine/plugins/builtins.h"
#include "engine/containers/logfile.h"
#include "engine/images/reference.h"
#include "engine/schema.h"
#include "engine/volumes/store.h"
#include <nlohmann/json.hpp>
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "os/signals.h"
#include "os/terminal.h"
#include "runtime/launch.h"
#include "runtime/live_mount.h"
#include "shim/protocol.h"

namespace bd::engine {

std::string Engine::DefaultRoot() {
  if (const char* r = std::getenv("BASIC_DOCKER_ROOT"); r && *r) return r;
  return "/var/lib/basic-docker";
}

Engine::Engine(Paths paths, std::unique_ptr<store::Db> db, store::BlobStore blobs)
    : paths_(std::move(paths)),
      db_(std::move(db)),
      blobs_(std::move(blobs)),
      images_(paths_, db_.get(), &blobs_),
      containers_(db_.get()),
      volumes_(paths_, db_.get()),
      capsules_(paths_, db_.get(), &blobs_),
      events_(db_.get()),
      exec_records_(db_.get()),
      ops_(OperationLog::Of(paths_.root)) {
  registry_.Register(MakeRootfsComponent(&paths_));
  registry_.Register(MakeTaskComponent(this));
  registry_.Register(MakeCapsuleComponent(this));
  registry_.SetVersionCheck([this](const portlayer::Handle& h) -> Status {
    auto now = containers_.VersionOf(h.container_id());
    if (!now.ok()) return now.status().code() == Code::kNotFound ? Status() : now.status();  // Observe says absent
    if (now->version == h.version()) return {};
    return Status::Conflict("container " + now->name + " changed since it was read (version " +
                            std::to_string(h.version()) + ", now " + std::to_string(now->version) + ": " +
                            std::string(StateName(now->state)) + "): read it again and retry");
  });
}

Result<std::unique_ptr<Engine>> Engine::Open(const std::string& root) {
  Options opts;
  opts.root = root;
  return Open(std::move(opts));
}

Result<store::BlobStore> PrepareDataRoot(const Paths& paths) {
  const std::string& root = paths.root;
  // Closed to every other host user (set again on an existing root): container upper
  // directories and image layers hold setuid files and device nodes that must stay out of
  // their reach.
  BD_RETURN_IF_ERROR(os::MkdirAll(root, 0700));
  if (::chmod(root.c_str(), 0700) < 0) return os::ErrnoStatus("chmod the data root `" + root + "`");
  for (const std::string& d :
       {paths.Layers(), paths.Containers(), paths.Tmp(), paths.Volumes(), paths.Trash()}) {
    BD_RETURN_IF_ERROR(os::MkdirAll(d, 0700));
  }
  BD_ASSIGN_OR_RETURN(store::BlobStore blobs, store::BlobStore::Open(root));
  SweepScratch(paths, blobs);
  return blobs;
}

Result<std::unique_ptr<Engine>> Engine::Open(Options opts) {
  if (opts.root.empty() || opts.root.front() != '/') {
    return Status::InvalidArgument("the data root must be an absolute path, not \"" + opts.root + "\"");
  }
  Paths paths{opts.root};
  BD_ASSIGN_OR_RETURN(store::BlobStore blobs, opts.prepare_root ? PrepareDataRoot(paths) : store::BlobStore::Open(paths.root));
  BD_ASSIGN_OR_RETURN(std::unique_ptr<store::Db> db, store::Db::Open(paths.Db(), Migrations()));
  std::unique_ptr<Engine> eng(new Engine(std::move(paths), std::move(db), std::move(blobs)));
  for (auto& c : opts.components) eng->registry_.Register(std::move(c));
  return eng;
}

portlayer::CommitResult Engine::CommitOrError(portlayer::Handle& h, Status* st) {
  portlayer::CommitResult r = portlayer::Commit(h, registry_);
  for (const portlayer::ElementResult& e : r.Elements()) {
    log::Debug("commit {} {}: {} ({})", h.container_id().substr(0, 12), e.element, portlayer::OutcomeName(e.outcome),
               e.detail);
    if (current_op_) {
      current_op_->Log("element " + e.element + " of " + h.container_id().substr(0, 12) + ": " +
                       std::string(portlayer::OutcomeName(e.outcome)) +
                       (e.status.ok() ? "" : " [" + std::string(CodeName(e.status.code())) + "]") +
                       (e.detail.empty() ? "" : " (" + e.detail + ")"));
    }
  }
  *st = r.FirstError();
  return r;
}

Result<int> Engine::Reconcile() {
  BD_ASSIGN_OR_RETURN(int changed, containers_.ReconcileAll());
  if (changed > 0) log::Debug("reconciled {} container record(s) whose shim was gone", changed);
  // exec --once runs whose monitor died: interrupted, their commands gone with it.
  BD_ASSIGN_OR_RETURN(std::vector<ExecRecord> running, exec_records_.ListRunning());
  for (ExecRecord& r : running) {
    auto c = containers_.Get(r.container_id);
    if (!c.ok()) continue;
    BD_ASSIGN_OR_RETURN(bool interrupted, exec_records_.InterruptIfOrphaned(&r, EventAttributes(*c)));
    if (interrupted) {
      log::Debug("exec --once {} of {} was interrupted", r.key, c->name);
      ++changed;
    }
  }
  return changed;
}

Result<ContainerConfig> Engine::MergedConfig(const CreateOptions& opts, Image* image) {
  BD_ASSIGN_OR_RETURN(*image, images_.ResolveOrBuiltin(opts.image));
  CreateOptions merged = opts;
  BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths_));
  merged.log_defaults = daemon.log;
  BD_ASSIGN_OR_RETURN(RuntimeInfo rt, ResolveRuntime(daemon, os::SelfExeDir(), opts.runtime));
  merged.runtime = rt.builtin() ? "" : rt.name;
  return MergeConfig(merged, *image);
}

Result<Engine::Persistent> Engine::CreatePersistent(const CreateOptions& opts, bool replace) {
  if (opts.name.empty()) {
    return Status::InvalidArgument("--persistent needs --name: a persistent container is found again by its name");
  }
  if (opts.auto_remove) return Status::InvalidArgument("--persistent and --rm cannot be used together");
  BD_RETURN_IF_ERROR(ValidateContainerName(opts.name));
  CreateOptions want_opts = opts;
  want_opts.persistent = true;
  std::string name = opts.name[0] == '/' ? opts.name.substr(1) : opts.name;
  // Another run of the same name may create it between the lookup and the insert: then the
  // insert fails with AlreadyExists and the next round finds (and compares) that container.
  for (int attempt = 0; attempt < 4; ++attempt) {
    Result<Container> existing = containers_.Find(name);
    if (existing.ok() && existing->name != name) existing = Status::NotFound("No such container: " + name);
    if (!existing.ok() && existing.status().code() != Code::kNotFound) return existing.status();
    Persistent::Outcome outcome = Persistent::kCreated;
    if (existing.ok()) {
      Image image;
      BD_ASSIGN_OR_RETURN(ContainerConfig want, MergedConfig(want_opts, &image));
      std::vector<std::string> diff = ConfigDifferences(existing->config, existing->image_id, want, image.id);
      if (diff.empty()) return Persistent{*std::move(existing), Persistent::kReused};
      if (!replace) {
        return Status::FailedPrecondition(
            "container " + name + " exists with a different configuration (" + Join(diff, ", ") +
            (existing->config.persistent ? "" : "; it was not created --persistent") +
            "): use --replace to make a new instance of it, or remove it");
      }
      BD_RETURN_IF_ERROR(Remove(existing->id, /*force=*/true));
      outcome = Persistent::kReplaced;
    }
    Result<Container> made = Create(want_opts);
    if (made.ok()) return Persistent{*std::move(made), outcome};
    if (made.status().code() != Code::kAlreadyExists) return made.status();
  }
  return Status::Conflict("container " + name + " keeps being created and removed by other commands; try again");
}

Result<Container> Engine::Create(const CreateOptions& opts) {
  return Tracked(ops_, "container", "create", opts.name.empty() ? opts.image : opts.name, [&]() -> Result<Container> {
    if (!opts.name.empty()) BD_RETURN_IF_ERROR(ValidateContainerName(opts.name));
    Image image;
    BD_ASSIGN_OR_RETURN(ContainerConfig config, MergedConfig(opts, &image));
    Container c;
    c.id = RandomHexId();
    c.name = opts.name.empty() ? GenerateContainerName() : opts.name;
    if (!c.name.empty() && c.name.front() == '/') c.name.erase(0, 1);
    c.image_id = image.id;
    c.image_ref = opts.image;
    c.config = config;
    c.state = State::kCreated;
    c.created_at = NowNanos();
    if (config.init && !os::Exists(InitPath())) {
      return Status::Unavailable("--init needs " + InitPath() +
                                 " (install basic-docker-init beside basic-docker, or set BASIC_DOCKER_INIT)");
    }
    std::vector<std::string> named_volumes;
    for (const std::string& text : config.binds) {
      BD_ASSIGN_OR_RETURN(VolumeSpec v, ParseVolumeSpec(text));
      if (v.named) {
        BD_RETURN_IF_ERROR(volumes_.Create(v.source, {}).status());
        named_volumes.push_back(v.source);
      } else if (!os::Exists(v.source)) {
        BD_RETURN_IF_ERROR(os::MkdirAll(v.source, 0755).WithContext("create bind source"));  // as Docker does
      }
    }
    BD_ASSIGN_OR_RETURN(runtime::Spec spec, BuildSpec(c.id, config, images_.LayerDirs(image), paths_));
    c.spec_json = runtime::SpecToJson(spec);
    Status st = containers_.Insert(c);
    for (int attempt = 0; !st.ok() && opts.name.empty() && attempt < 8 &&
                          st.code() == Code::kAlreadyExists;
         ++attempt) {
      c.name = GenerateContainerName() + std::to_string(attempt);
      st = containers_.Insert(c);
    }
    BD_RETURN_IF_ERROR(st);
    for (const std::string& v : named_volumes) {
      if (Status vs = volumes_.Attach(c.id, v); !vs.ok()) {
        (void)containers_.Delete(c.id);
        return vs;
      }
    }
    if (!opts.capsules.empty()) {
      if (Status cs = RecordCapsules(c, opts.capsules); !cs.ok()) {
        (void)containers_.Delete(c.id);
        return cs;
      }
    }
    portlayer::Handle h(c.id);
    h.Join({"rootfs", "rootfs", RootfsConfigOf(c)});
    BD_RETURN_IF_ERROR(h.Bind("rootfs"));
    CommitOrError(h, &st);
    if (!st.ok()) {
      (void)os::RemoveOutOfSight(paths_.Container(c.id), paths_.Trash());
      (void)containers_.Delete(c.id);
      return st.WithContext("prepare container");
    }
    return c;
  }, &current_op_);
}

Result<std::unique_ptr<TaskSession>> Engine::Start(const std::string& ref, const AttachIo* io) {
  return Tracked(ops_, "container", "start", ref, [&]() -> Result<std::unique_ptr<TaskSession>> {
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    // The capsules recorded for it come back with it (a NOOP when nothing changed).
    if (!c.Active()) BD_RETURN_IF_ERROR(SyncCapsuleMounts(&c));
    auto task = std::make_shared<TaskConfig>();
    task->io = io;
    task->runtime = c.config.runtime;
    portlayer::Handle h(c.id, c.version);
    h.Join({"rootfs", "rootfs", RootfsConfigOf(c)});
    h.Join({"task", "task", task});
    BD_RETURN_IF_ERROR(h.Bind());
    Status st;
    portlayer::CommitResult r = CommitOrError(h, &st);
    if (!st.ok()) return st;
    // Already running: a NOOP, reported as no session.
    if (r.Results().at("task") == portlayer::Outcome::kNoop) return std::unique_ptr<TaskSession>();
    // Secret capsules go in from memory once the container runs.
    if (auto now = containers_.Get(c.id); now.ok()) {
      if (Status cs = ReconcileCapsules(*now, /*secrets_only=*/true); !cs.ok()) log::Warn("capsules of {}: {}", c.name, cs.ToString());
    }
    return std::move(*task->session);
  }, &current_op_);
}

Result<UniqueFd> Engine::ContainerPidfd(const Container& c) {
  if (!c.Running() || c.pid <= 0) {
    return Status::FailedPrecondition("container " + c.name + " is not running");
  }
  // Pin the process first, then check its parent: the check holds for the pinned process.
  BD_ASSIGN_OR_RETURN(UniqueFd pidfd, os::PidfdOpen(c.pid));
  os::ProcessStat stat = os::ReadProcessStat(c.pid);
  // An OCI runtime's container is its keeper's child (basic-docker-plugin-oci), not the shim's:
  // its start time tells a recycled pid apart instead.
  bool ours = c.config.runtime.empty() ? stat.ppid == c.shim_pid : stat.start_time == c.pid_start;
  if (!ours || stat.state == 'Z' || stat.state == 'X') {
    return Status::FailedPrecondition("container " + c.name + " is not running");
  }
  return pidfd;
}

Status Engine::Signal(const Container& c, int sig) {
  BD_ASSIGN_OR_RETURN(UniqueFd pidfd, ContainerPidfd(c));
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) < 0) {
    return os::ErrnoStatus("signal container " + c.name);
  }
  (void)events_.Emit("container", "kill", c.id, EventAttributes(c, {{"signal", std::to_string(sig)}}));
  return {};
}

Status Engine::Pause(const std::string& ref) {
  return Tracked(ops_, "container", "pause", ref, [&]() -> Status {
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    if (c.Paused()) return Status::FailedPrecondition("container " + c.name + " is already paused");
    if (!c.Running()) return Status::FailedPrecondition("container " + c.name + " is not running");
    BD_ASSIGN_OR_RETURN(runtime::CgroupPlan plan, CgroupPlanOf(c));
    BD_RETURN_IF_ERROR(runtime::FreezeCgroup(plan, true));
    return containers_.MarkPaused(c.id, true);
  }, &current_op_);
}

Status Engine::Unpause(const std::string& ref) {
  return Tracked(ops_, "container", "unpause", ref, [&]() -> Status {
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    if (!c.Paused()) return Status::FailedPrecondition("container " + c.name + " is not paused");
    BD_ASSIGN_OR_RETURN(runtime::CgroupPlan plan, CgroupPlanOf(c));
    BD_RETURN_IF_ERROR(runtime::FreezeCgroup(plan, false));
    return containers_.MarkPaused(c.id, false);
  }, &current_op_);
}

Result<runtime::CgroupStats> Engine::Stats(const Container& c) {
  if (!c.Running()) return Status::FailedPrecondition("container " + c.name + " is not running");
  BD_ASSIGN_OR_RETURN(runtime::CgroupPlan plan, CgroupPlanOf(c));
  return runtime::ReadCgroupStats(plan);
}

Status Engine::WaitShim(const Container& c, int timeout_ms) {
  auto pidfd = os::PidfdOpen(c.shim_pid);
  if (!pidfd.ok()) return {};  // already gone
  if (!os::ProcessMatches(c.shim_pid, c.shim_start)) return {};  // pid was recycled
  BD_ASSIGN_OR_RETURN(bool exited, os::WaitPidfd(pidfd->get(), timeout_ms));
  if (!exited) return Status::Unavailable("the container's shim did not exit in time");
  return {};
}

Status Engine::Remove(const std::string& ref, bool force) {
  return Tracked(ops_, "container", "rm", ref, [&]() -> Status {
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    if (c.Active() && !force) {
      return Status::FailedPrecondition("cannot remove container " + c.name +
                                        ": it is running; stop it first or use --force");
    }
    portlayer::Handle h(c.id, c.version);
    auto task = std::make_shared<TaskConfig>();
    task->stop_timeout = 0;  // rm -f kills at once, as Docker does
    h.Join({"rootfs", "rootfs", RootfsConfigOf(c)});
    h.Join({"task", "task", task});
    BD_RETURN_IF_ERROR(h.Leave());
    Status st;
    CommitOrError(h, &st);
    BD_RETURN_IF_ERROR(st);
    if (!c.config.runtime.empty()) ForgetInRuntime(c);
    CrashPoint("rm.before-record");
    return containers_.Delete(c.id);
  }, &current_op_);
}

void Engine::ForgetInRuntime(const Container& c) {
  // The shim deletes the container from its runtime when it exits; one that died before
  // leaves the runtime's state (and maybe a process waiting to start) behind.
  auto daemon = LoadDaemonConfig(paths_);
  auto rt = daemon.ok() ? ResolveRuntime(*daemon, os::SelfExeDir(), c.config.runtime) : Result<RuntimeInfo>(daemon.status());
  if (!rt.ok() || !os::Exists(RuntimeStateRoot(paths_, rt->name) + "/" + c.id)) return;
  Status st = [&]() -> Status {
    BD_ASSIGN_OR_RETURN(PluginManager * plugins, this->plugins());
    BD_ASSIGN_OR_RETURN(std::string name, plugins->Find("executor", "delete"));
    return plugins->Call(name, "executor", "delete", ExecutorRequest(paths_, *rt, c.id, R"({"force":true})")).status();
  }();
  if (!st.ok() && st.code() != Code::kNotFound) log::Warn("delete {} from runtime {}: {}", c.name, rt->name, st.ToString());
}

Result<bool> Engine::Stop(const std::string& ref, std::optional<int> timeout) {
  return Tracked(ops_, "container", "stop", ref, [&]() -> Result<bool> {
    BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
    portlayer::Handle h(c.id, c.version);
    auto task = std::make_shared<TaskConfig>();
    task->stop_timeout = timeout.value_or(c.config.stop_timeout);
    h.Join({"task", "task", task});
    BD_RETURN_IF_ERROR(h.Unbind("task"));
    Status st;
    portlayer::CommitResult r = CommitOrError(h, &st);
    BD_RETURN_IF_ERROR(st);
    bool stopped = r.Results().at("task") == portlayer::Outcome::kSuccess;
    if (stopped) (void)events_.Emit("container", "stop", c.id, EventAttributes(c));
    return stopped;
  }, &current_op_);
}

Result<int> Engine::Wait(const std::string& ref) {
  BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
  if (c.Active()) {
    BD_RETURN_IF_ERROR(WaitShim(c, -1));
    auto after = containers_.Get(c.id);
    // A shim killed before it recorded the exit: the record is brought in step now.
    if (after.ok()) BD_RETURN_IF_ERROR(containers_.Reconcile(&after.value()).status());
    if (!after.ok()) {
      if (after.status().code() == Code::kNotFound) {
        return Status::NotFound("container " + c.id.substr(0, 12) +
                                " was removed when it exited (--rm)");
      }
      return after.status();
    }
    c = std::move(after).value();
  }
  return c.exit_code;
}

Status Engine::Logs(const std::string& ref, const LogsOptions& opts, int out_fd, int err_fd) {
  BD_ASSIGN_OR_RETURN(Container c, containers_.Find(ref));
  std::string path = paths_.Container(c.id) + "/ctr.log";
  auto emit = [&](const LogRecord& r) -> Status {
    std::string out;
    if (opts.timestamps) out = FormatRfc3339Nano(r.time) + " ";
    out += r.text;
    if (!r.partial) out.push_back('\n');
    return os::WriteAll(r.stream == Stream::kStdout ? out_fd : err_fd, out);
  };
  UniqueFd notify;
  UniqueFd shim;
  if (opts.follow && c.Running()) {
    // Watched before the first read, so nothing written meanwhile is missed; the directory,
    // so that a rotation (a new ctr.log) is seen too.
    notify.Reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (notify) {
      ::inotify_add_watch(notify.get(), paths_.Container(c.id).c_str(),
                          IN_MODIFY | IN_CREATE | IN_MOVED_TO);
    }
    auto pidfd = os::PidfdOpen(c.shim_pid);
    if (pidfd.ok() && os::ProcessMatches(c.shim_pid, c.shim_start)) shim = std::move(pidfd).value();
  }
  // The rotated files first, from where the last --tail lines begin; memory stays bounded
  // by a chunk and a record whatever the log's size.
  std::vector<std::string> files = LogFiles(path);
  BD_ASSIGN_OR_RETURN(LogPosition start, TailStart(files, opts.tail));
  LogReader reader;
  UniqueFd current;
  for (size_t f = start.file; f < files.size(); ++f) {
    auto fd = os::Open(files[f], O_RDONLY);
    if (!fd.ok()) {
      if (fd.status().code() == Code::kNotFound) continue;  // rotated away meanwhile
      return fd.status();
    }
    if (f == start.file && ::lseek(fd->get(), start.offset, SEEK_SET) < 0) {
      return os::ErrnoStatus("seek `" + files[f] + "`");
    }
    BD_RETURN_IF_ERROR(reader.Drain(fd->get(), emit));
    if (f + 1 == files.size()) current = std::move(*fd);
  }
  while (shim) {
    pollfd fds[2] = {{shim.get(), POLLIN, 0}, {notify.get(), POLLIN, 0}};
    int n = os::RetryEintr([&] { return ::poll(fds, notify ? 2 : 1, notify ? -1 : 250); });
    if (n < 0) return os::ErrnoStatus("poll");
    if (notify && (fds[1].revents & POLLIN)) {
      char ev[4096];
      while (::read(notify.get(), ev, sizeof ev) > 0) {
      }
    }
    if (current) {
      // Truncated in place (max-file=1): start again from its beginning.
      struct stat st;
      off_t at = ::lseek(current.get(), 0, SEEK_CUR);
      if (::fstat(current.get(), &st) == 0 && at > st.st_size) ::lseek(current.get(), 0, SEEK_SET);
      BD_RETURN_IF_ERROR(reader.Drain(current.get(), emit));
    }
    // Rotated: what the old file still held is read above; go on with the new one.
    struct stat now_st, cur_st;
    if (::stat(path.c_str(), &now_st) == 0 &&
        (!current || (::fstat(current.get(), &cur_st) == 0 && cur_st.st_ino != now_st.st_ino))) {
      auto fresh = os::Open(path, O_RDONLY);
      if (fresh.ok()) {
        current = std::move(*fresh);
        BD_RETURN_IF_ERROR(reader.Drain(current.get(), emit));
      }
    }
    if (fds[0].revents & POLLIN) break;  // the shim is gone: everything is written
  }
  return {};
}

Result<PluginManager*> Engine::plugins() {
  if (!plugins_) {
    BD_ASSIGN_OR_RETURN(PluginSettings settings, PluginManager::LoadSettings(paths_, os::SelfExeDir()));
    plugins_ = std::make_unique<PluginManager>(paths_, db_.get(), std::move(settings));
    RegisterBuiltinPlugins(*plugins_);
  }
  return plugins_.get();
}

}  // namespace bd::engine
