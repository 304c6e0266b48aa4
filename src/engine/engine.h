// The engine: images, containers and their lifecycle over one data root. The CLI and (later)
// the API server are thin layers over it. Every container change goes through a port-layer
// Handle and Commit with the components registered here ("rootfs", "task").
// An Engine holds one database connection: use it from one thread at a time; separate
// processes each open their own.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "engine/capsules/store.h"
#include "engine/containers/store.h"
#include "engine/diagnostics.h"
#include "engine/events.h"
#include "engine/exec_once.h"
#include "engine/gc.h"
#include "engine/images/store.h"
#include "engine/paths.h"
#include "engine/plugins/manager.h"
#include "engine/session.h"
#include "engine/volumes/store.h"
#include "portlayer/portlayer.h"
#include "runtime/cgroups.h"
#include "store/blob_store.h"
#include "store/db.h"

namespace bd::engine {

struct LogsOptions {
  bool follow = false;
  bool timestamps = false;
  int64_t tail = -1;  // -1: all
};

// Makes the data root's directories (mode 0700, re-applied to an existing root), sweeps
// scratch left by a killed process and returns its blob store. Engine::Open runs it; stores
// used on their own (tests) too.
Result<store::BlobStore> PrepareDataRoot(const Paths& paths);

class Engine {
 public:
  // The data root: BASIC_DOCKER_ROOT or /var/lib/basic-docker.
  static std::string DefaultRoot();
  static Result<std::unique_ptr<Engine>> Open(const std::string& root);
  // What an Engine is made of, for callers that need other parts than the defaults: tests hand
  // it fake port-layer components (registered over the built-in ones of the same name, so a
  // test can drive Create or Start without mounting anything).
  struct Options {
    std::string root;
    std::vector<std::unique_ptr<portlayer::Component>> components;
    // False for a helper of an engine already open on this root (the exec monitor): the root
    // is used as it is, its scratch not swept.
    bool prepare_root = true;
  };
  static Result<std::unique_ptr<Engine>> Open(Options opts);

  const Paths& paths() const { return paths_; }
  ImageStore& images() { return images_; }
  ContainerStore& containers() { return containers_; }
  VolumeStore& volumes() { return volumes_; }
  CapsuleStore& capsules() { return capsules_; }
  EventLog& events() { return events_; }
  // exec --once records (engine/containers/exec_records.h).
  ExecRecordStore& exec_records() { return exec_records_; }
  // The plugin manager, made on first use with the settings of PluginManager::LoadSettings
  // (a malformed daemon.json setting is the error).
  Result<PluginManager*> plugins();
  // Operations in progress, statistics and errors of every component (engine/diagnostics.h).
  Diagnostics diagnostics() { return Diagnostics(ops_); }
  const portlayer::Registry& registry() const { return registry_; }

  // Brings the records in step with the kernel: active containers whose shim died are recorded
  // exited, their leftover processes and cgroups removed. Lookups never do this on their own;
  // the CLI runs it when it opens the engine, a server on a timer. Returns how many
  // containers changed.
  Result<int> Reconcile();

  // The containers `f` selects (kContainerFilterKeys: id (prefix), name (a regular
  // expression), label, status, ancestor (an image's name or id), before and since (a
  // container), exited (an exit code), volume (a source or destination)), newest first.
  // Without `all`, only active ones, unless a status or exited term asks for others, and no
  // infrastructure containers (label system.hidden=true).
  Result<std::vector<Container>> ListContainers(const ListFilter& f, bool all);

  // Creates a container (state "created") with its rootfs prepared.
  Result<Container> Create(const CreateOptions& opts);
  // run --persistent: the container named opts.name when its configuration hash (ConfigHash:
  // the merged configuration and the image's id) is the one `opts` asks for, as it is (its id,
  // its state, its exec records); otherwise FailedPrecondition naming what differs, or with
  // `replace`, the old one removed (its records with it) and a new instance created. None
  // there: created. Capsules attached since creation are not part of the configuration.
  struct Persistent {
    Container container;
    enum Outcome { kCreated, kReused, kReplaced } outcome = kCreated;
  };
  Result<Persistent> CreatePersistent(const CreateOptions& opts, bool replace);
  // Starts a container through its handle. With `io`, output is also copied there and the
  // session reports the exit. A running container is a NOOP: no session is returned. When the
  // command could not run, the status says so in its CommandFailure.
  Result<std::unique_ptr<TaskSession>> Start(const std::string& ref, const AttachIo* io);
  // Stops a running container: SIGTERM, then SIGKILL after `timeout` seconds (the container's
  // --stop-timeout, 10 by default, when unset). Returns false when it was not running (NOOP).
  Result<bool> Stop(const std::string& ref, std::optional<int> timeout);
  // Removes a container; a running one only with `force` (it is killed first).
  Status Remove(const std::string& ref, bool force);
  // Blocks until the container is not running; returns its exit code.
  Result<int> Wait(const std::string& ref);
  // Sends `sig` to the container's main process (only while it runs).
  Status Signal(const Container& c, int sig);

  // Freezes / thaws every process of a running container (cgroup freezer).
  Status Pause(const std::string& ref);
  Status Unpause(const std::string& ref);
  // Resource usage of a running container, from its cgroups.
  Result<runtime::CgroupStats> Stats(const Container& c);

  // Attaches `io` to a running container through its shim; the session's Wait returns when
  // the container exits or the caller detaches. Input goes in only when the container has -i.
  Result<std::unique_ptr<AttachSession>> StartAttach(const std::string& ref, const AttachIo& io);
  // Sets the size of a running container's terminal (run -t) through its shim, whoever is
  // attached: what Docker's resize does. FailedPrecondition without a terminal.
  Status ResizeTerminal(const std::string& ref, unsigned short rows, unsigned short cols);

  struct ExecOptions {
    std::vector<std::string> cmd;
    std::vector<std::string> env;  // "K=V" over the container's environment
    std::string working_dir;       // empty: the container's
    std::string user;              // empty: the container's
    bool detach = false;           // the command runs on alone; its stdio is /dev/null
    bool tty = false;              // a pseudo-terminal made inside the container
  };
  // Starts a command inside a running container (all its namespaces, its security settings),
  // its stdio on `io` (with `tty`, on a terminal whose master the session holds). When the
  // command cannot be run, the status says so in its CommandFailure (126, 127).
  Result<std::unique_ptr<ExecSession>> StartExec(const std::string& ref, const ExecOptions& opts,
                                                 const SessionIo& io);
  // At most once per container instance and key (engine/exec_once.h): the first call runs the
  // command under an exec monitor and its output reaches `io` live; every other call's session
  // replays the record (after waiting for a run in progress). Refused for a stopped or paused
  // container only when the command would have to run. With a terminal (opts.tty), the
  // terminal's output is the record's stdout.
  Result<std::unique_ptr<ExecOnceSession>> StartExecOnce(const std::string& ref, const ExecOptions& opts,
                                                         const ExecOnceOptions& once, const SessionIo& io);
  // The exec monitor's body (basic-docker-shim --root ROOT --exec-once CONTAINER): its
  // process's exit code.
  static int RunExecMonitor(const std::string& root, const std::string& container_ref);

  // Writes the container's log to `out_fd` / `err_fd`.
  Status Logs(const std::string& ref, const LogsOptions& opts, int out_fd, int err_fd);

  // Attaches `capsule` and its dependency closure to a running container in one Commit: each
  // element SUCCESS, ERROR or NOOP; an ERROR reverts the others, leaving it as it was.
  Result<portlayer::CommitResult> AttachCapsule(const std::string& ref, const Capsule& capsule);
  // Detaches one capsule; from a stopped container it is only forgotten. `result` may be null.
  Status DetachCapsule(const std::string& ref, const Capsule& capsule,
                       portlayer::CommitResult* result);
  // Removes a capsule's record after reconciling every running container's mounts with the
  // records; refuses while it is attached unless `force` (then it is detached first).
  Status RemoveCapsule(const Capsule& capsule, bool force);
  // Reference-based collection of blobs, layers and trees (engine/gc.h), after the same
  // reconciliation, so nothing a container has mounted is ever collected.
  Result<GcReport> CollectGarbage(bool dry_run);
  // Records `--capsule` references (and their closures) for a created container.
  Status RecordCapsules(const Container& c, const std::vector<std::string>& refs);
  // Mounts recorded capsules a running container lacks (after a crash; secrets at start).
  Status ReconcileCapsules(const Container& c, bool secrets_only = false);
  // ReconcileCapsules for every running container with recorded capsules: what the capsule
  // commands do first, so the records and /proc/<pid>/mountinfo agree.
  Status ReconcileAllCapsules();

  // `docker inspect`-shaped JSON objects.
  std::string InspectContainer(const Container& c) const;
  std::string InspectImage(const Image& img) const;

  // Blocks until the shim of `c` has exited, at most `timeout_ms` (-1: forever).
  Status WaitShim(const Container& c, int timeout_ms);

 private:
  // Best effort: deletes a container of an OCI runtime from that runtime (rm).
  void ForgetInRuntime(const Container& c);
  Engine(Paths paths, std::unique_ptr<store::Db> db, store::BlobStore blobs);
  // The configuration `opts` gives over its image (resolved into `image`) and the engine defaults.
  Result<ContainerConfig> MergedConfig(const CreateOptions& opts, Image* image);
  // A pidfd for the container's main process, after checking it is still the shim's child,
  // so a recycled pid is never acted on.
  Result<UniqueFd> ContainerPidfd(const Container& c);
  portlayer::CommitResult CommitOrError(portlayer::Handle& h, Status* st);
  // An exec's process from the container's spec and `opts` (environment, working directory,
  // user, terminal), as StartExec and StartExecOnce run it.
  static Status ValidateExecOptions(const ExecOptions& opts);
  Result<runtime::Process> ExecProcessOf(const Container& c, const runtime::Spec& spec, const ExecOptions& opts);
  // Rewrites the container's spec so its next start bind-mounts its recorded (non-secret)
  // capsules read-only, with a tmpfs /capsules under a read-only root.
  // `c` is updated to the record as written.
  Status SyncCapsuleMounts(Container* c);

  Paths paths_;
  std::unique_ptr<store::Db> db_;
  store::BlobStore blobs_;
  ImageStore images_;
  ContainerStore containers_;
  VolumeStore volumes_;
  CapsuleStore capsules_;
  EventLog events_;
  ExecRecordStore exec_records_;
  portlayer::Registry registry_;
  OperationLog* ops_;  // the data root's diagnostics database (opened on first use)
  std::unique_ptr<PluginManager> plugins_;
  Operation* current_op_ = nullptr;  // the operation under way (Tracked), for CommitOrError's log
};

}  // namespace bd::engine
