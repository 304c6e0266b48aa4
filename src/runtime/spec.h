// The runtime spec: everything needed to start one container process, shaped after the OCI
// runtime spec (process, root, hostname, mounts, namespaces). The engine builds it (pure code),
// stores it as JSON with the container, and the shim hands it to Launch. Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "runtime/cgroups.h"

namespace bd::runtime {

// A resource limit (setrlimit) for the process: RLIMIT_* number, soft and hard values.
struct Rlimit {
  int resource = 0;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// An OCI bundle's numeric user: exact ids, no lookup (the image's /etc/passwd gives HOME only).
struct NumericUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

// process.scheduler of an OCI config: sched_setattr(2)'s fields.
struct Scheduler {
  int policy = 0;  // SCHED_OTHER, SCHED_FIFO, ...
  int nice = 0;
  int priority = 0;
  uint64_t flags = 0;  // SCHED_FLAG_*
  uint64_t runtime = 0, deadline = 0, period = 0;  // SCHED_DEADLINE, in ns
};

struct Process {
  std::vector<std::string> args;
  // An exec's cgroups when not the container's own (`exec --cgroup`): one directory per
  // hierarchy the container is in.
  std::vector<std::string> cgroup_dirs;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string cwd = "/";
  std::string user;  // "", "uid", "name", "uid:gid", "name:group": resolved inside the rootfs
  bool terminal = false;
  // Bounding set; also effective and permitted when the process runs as root and those are
  // not given (the engine's way: a non-root user then has none).
  std::vector<std::string> capabilities;
  // The other sets as an OCI config gives them (runc's way: kept across a switch to a
  // non-root user). Ambient ones must also be inheritable and permitted.
  std::optional<std::vector<std::string>> effective_caps;
  std::optional<std::vector<std::string>> permitted_caps;
  std::vector<std::string> inheritable_caps;
  std::vector<std::string> ambient_caps;
  bool no_new_privileges = true;
  std::optional<NumericUser> numeric_user;  // when set, `user` is not used
  std::optional<uint32_t> umask;            // default 022
  std::vector<Rlimit> rlimits;
  std::optional<int> oom_score_adj;
  std::optional<Scheduler> scheduler;
  std::optional<int> io_priority;  // ioprio_set(2)'s value: class << 13 | level
  // execCPUAffinity: the CPUs of the setup ("initial") and of the process itself ("final"),
  // as lists such as "0-3,6". Unset: every CPU the cgroup allows, not the runtime's own mask.
  std::string cpu_affinity_initial;
  std::string cpu_affinity_final;
  uint16_t console_height = 0, console_width = 0;  // consoleSize of a terminal; 0: not set
  // The engine's, never from a config: an exec (ExecIn) and its helper get SIGKILL when the
  // process that started them dies, so no command outlives its supervisor (exec --once).
  bool die_with_parent = false;
};

// One line of a user namespace's uid_map or gid_map: `size` ids from `container_id` inside
// are `host_id` onwards outside.
struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Mount {
  std::string destination;
  std::string type;  // "proc", "tmpfs", "bind", ...
  std::string source;
  std::vector<std::string> options;
  // An idmapped bind mount ("idmap" / "ridmap" among the options): ids on the source appear
  // mapped as a user namespace with these maps would map them (filled from the container's own
  // maps when the config gives none).
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
};

// A device node made in the container's /dev.
struct Device {
  std::string path;  // e.g. "/dev/fuse"
  char type = 'c';   // 'c', 'b' or 'p'
  int64_t major = 0;
  int64_t minor = 0;
  uint32_t mode = 0666;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// A namespace joined instead of created: `type` as in `namespaces`, `path` such as
// /proc/PID/ns/net or a bind-mounted namespace file.
struct NamespacePath {
  std::string type;
  std::string path;
};

// An OCI hook: a program run at one point of the container's lifecycle with the container's
// state (JSON) on its stdin. `args` is its argv (argv[0] included); 0 `timeout_s`: none.
struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  int timeout_s = 0;
};

// The hooks of the runtime spec, each list run in order. prestart and createRuntime run in the
// runtime's namespaces once the container's are made (before pivot_root); createContainer
// there too but inside the container's namespaces; startContainer in the container right
// before its process runs; poststart once it runs; poststop once it is deleted.
struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
  // What the hooks' state shows besides the id, pid and status.
  std::string bundle;
  std::map<std::string, std::string> annotations;
  bool AtCreate() const { return !prestart.empty() || !create_runtime.empty() || !create_container.empty(); }
  bool Any() const { return AtCreate() || !start_container.empty() || !poststart.empty() || !poststop.empty(); }
};

// A time namespace's clock offset (timens_offsets): "monotonic" or "boottime".
struct TimeOffset {
  std::string clock;
  int64_t secs = 0;
  uint32_t nanosecs = 0;
};

struct Overlay {
  std::vector<std::string> lower_dirs;  // topmost first, as overlayfs wants them
  std::string upper_dir;
  std::string work_dir;
};

struct Spec {
  std::string id;
  Process process;
  std::string hostname;
  std::string rootfs;              // the mount point of the container's root
  std::optional<Overlay> overlay;  // when set, mounted at `rootfs` inside the container only
  bool readonly_rootfs = false;
  std::vector<Mount> mounts;
  // "pid", "mount", "uts", "ipc", "network", "cgroup", "user", "time"
  std::vector<std::string> namespaces;
  std::vector<NamespacePath> join_namespaces;
  // With a new user namespace: its maps, written by the runtime before the process goes on.
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::vector<TimeOffset> time_offsets;  // with a new time namespace
  Hooks hooks;
  std::string domainname;           // with a uts namespace
  std::optional<unsigned long> personality;  // linux.personality: PER_LINUX or PER_LINUX32
  // linux.rootfsPropagation as mount(2) flags (MS_SHARED, MS_SLAVE, MS_PRIVATE,
  // MS_UNBINDABLE); 0: slave, the default.
  unsigned long rootfs_propagation = 0;
  std::vector<Device> devices;  // besides the standard null, zero, full, random, urandom, tty
  std::vector<std::pair<std::string, std::string>> sysctl;  // "net.ipv4.ip_forward" -> "1"
  std::vector<std::string> masked_paths;    // covered by /dev/null or an empty read-only tmpfs
  std::vector<std::string> readonly_paths;  // remounted read-only
  std::string seccomp_program;  // compiled BPF (CompileSeccompProfile); empty: unconfined
  unsigned seccomp_flags = 0;   // SECCOMP_FILTER_FLAG_* of linux.seccomp.flags
  // With SCMP_ACT_NOTIFY rules: the agent's socket (linux.seccomp.listenerPath), which gets the
  // notify descriptor of every process with the container's state and `listenerMetadata`.
  std::string seccomp_listener;
  std::string seccomp_listener_metadata;
  std::string cgroup_name;      // below each hierarchy, e.g. "basic-docker/<id>"; empty: none
  CgroupLimits limits;
  // When set, the process stops right before exec, after every setup step, until a reader
  // opens this FIFO (the OCI runtime's `create` / `start` split); see Launch.
  std::string start_fifo;
};

// A CPU list as cpuset and execCPUAffinity write it ("0-3,6"); nullopt when malformed.
std::optional<std::vector<int>> ParseCpuList(std::string_view list);

// Whether the container gets a namespace of `type`, new or joined by path.
bool HasNamespace(const Spec& spec, std::string_view type);
// Whether the container gets a new namespace of `type` (not one joined by path).
bool NewNamespace(const Spec& spec, std::string_view type);

// The container's cgroup plan on this host (layout detected under CgroupRoot()).
CgroupPlan PlanFor(const Spec& spec);

std::string SpecToJson(const Spec& spec);
Result<Spec> SpecFromJson(std::string_view json);

// The mounts every container gets, in order: /proc, /dev (+pts, shm, mqueue), /sys.
std::vector<Mount> DefaultMounts();
std::vector<std::string> DefaultNamespaces();

// A hostname the kernel takes: at most 64 bytes (HOST_NAME_MAX), printable, no '/'.
// Empty is allowed (the caller's default applies).
Status ValidateHostname(std::string_view hostname);
// runc's rule for /proc: only a proc filesystem at /proc itself, and below it only binds
// onto the few files that tools like lxcfs replace. Anything else could hide what /proc must
// show or expose the host's: refused.
Status ValidateProcMount(const Mount& m);

// Mount options split into mount(2) flags, propagation flags and the data string.
struct MountFlags {
  unsigned long flags = 0;
  unsigned long propagation = 0;
  unsigned long cleared = 0;  // flags an option turned off explicitly ("rw", "suid", "exec", ...)
  bool bind = false;
  bool recursive = false;
  bool tmpcopyup = false;    // a tmpfs starts with a copy of what it covers
  bool idmap = false;        // "idmap" / "ridmap": an idmapped bind mount
  bool idmap_recursive = false;  // "ridmap": every mount of the bound tree is idmapped
  uint64_t attr_set = 0;     // MOUNT_ATTR_* for the whole tree (the "r" options: "rro", ...)
  uint64_t attr_clear = 0;
  std::string data;
};
MountFlags ParseMountOptions(const std::vector<std::string>& options);

// The overlayfs data string for `o`. Fails when a path holds a character overlayfs cannot take.
Result<std::string> OverlayData(const Overlay& o);

}  // namespace bd::runtime
