#include "engine/plugins/manager.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>

#include "base/digest.h"
#include "base/strings.h"
#include "base/time.h"
#include "engine/daemon_config.h"
#include "engine/plugins/spawn.h"
#include "net/http_client.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "store/db.h"

namespace bd::engine {
namespace {

constexpr std::string_view kBinaryPrefix = "basic-docker-plugin-";
constexpr int64_t kBackoffMaxMs = 30'000;

int64_t NowMs() { return PluginNowMs(); }

std::string BinaryId(const struct stat& st) {
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
}

PluginInfo BuiltinInfo(const std::string& name, const plugin::Capabilities& caps) {
  PluginInfo info;
  info.name = name;
  info.builtin = true;
  info.capabilities = caps;
  info.state = "builtin";
  return info;
}

// A signal to `pid` only while it is the process started at `start`.
void SignalIfSame(pid_t pid, uint64_t start, int sig) {
  if (pid <= 0) return;
  auto fd = os::PidfdOpen(pid);
  if (fd.ok() && os::ProcessMatches(pid, start)) ::syscall(SYS_pidfd_send_signal, fd->get(), sig, nullptr, 0);
}

}  // namespace

bool ValidPluginName(std::string_view n) {
  if (n.empty() || n.size() > 64 || !(std::islower(static_cast<unsigned char>(n[0])) || std::isdigit(static_cast<unsigned char>(n[0])))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

PluginManager::PluginManager(Paths paths, store::Db* db, PluginSettings settings)
    : paths_(std::move(paths)), db_(db), settings_(std::move(settings)) {
  // Socket paths hold 107 bytes: a long data root gets its sockets under /run instead.
  socket_dir_ = paths_.root + "/plugins/.run";
  if (socket_dir_.size() + 1 + 64 + 5 > 107) {
    socket_dir_ = Paths::RunDir() + "/plugins-" + Sha256Digest(paths_.root).substr(7, 12);
  }
}

PluginManager::~PluginManager() = default;

Result<PluginSettings> PluginManager::LoadSettings(const Paths& paths, std::string bin_dir) {
  PluginSettings s;
  s.bin_dir = std::move(bin_dir);
  if (const char* extra = std::getenv("BASIC_DOCKER_PLUGIN_PATH"); extra != nullptr) {
    for (const std::string& d : Split(extra, ':')) {
      if (!d.empty()) s.extra_dirs.push_back(d);
    }
  }
  BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths));
  s.start_timeout_ms = daemon.plugin_start_timeout_ms;
  s.call_timeout_ms = daemon.plugin_call_timeout_ms;
  s.idle_timeout_ms = daemon.plugin_idle_timeout_ms;
  return s;
}

void PluginManager::RegisterBuiltin(std::string name, plugin::Capabilities caps, BuiltinHandler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  builtins_[std::move(name)] = Builtin{std::move(caps), std::move(handler)};
}

std::string PluginManager::LogPath(std::string_view name) const {
  return paths_.root + "/plugins/.logs/" + std::string(name) + ".log";
}

Result<std::vector<PluginManager::Found>> PluginManager::Discover() {
  std::vector<std::pair<std::string, bool>> dirs = {{paths_.root + "/plugins", false}};
  for (const std::string& d : settings_.extra_dirs) dirs.push_back({d, false});
  if (!settings_.bin_dir.empty()) dirs.push_back({settings_.bin_dir, true});
  std::vector<Found> out;
  std::set<std::string> seen;
  for (const auto& [dir, prefixed_only] : dirs) {
    auto entries = os::ListDir(dir);
    if (!entries.ok()) continue;  // a directory that is not there has no plugins
    std::sort(entries->begin(), entries->end());
    for (const std::string& file : *entries) {
      std::string name = file;
      if (name.rfind(kBinaryPrefix, 0) == 0) {
        name = name.substr(kBinaryPrefix.size());
      } else if (prefixed_only) {
        continue;
      }
      if (!ValidPluginName(name) || seen.count(name) || builtins_.count(name)) continue;
      std::string path = dir + "/" + file;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) continue;
      seen.insert(name);
      out.push_back({name, path, BinaryId(st)});
    }
  }
  return out;
}

Result<PluginInfo> PluginManager::Refresh(const Found& f) {
  PluginInfo info;
  info.name = f.name;
  info.path = f.path;
  auto state_of = [](const PluginInfo& i) -> std::string {
    return !i.refused.empty() ? "invalid" : i.pid > 0 ? "running" : i.failures > 0 ? "unhealthy" : "stopped";
  };
  auto read_row = [&]() -> Result<bool> {
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT path, binary_id, capabilities, refused, pid, pid_start, address,"
                                              " started_at, failures, retry_at, last_error FROM plugins WHERE name = ?"));
    st.Bind(1, f.name);
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || st.Text(0) != f.path || st.Text(1) != f.binary_id) return false;
    if (!st.Text(2).empty()) {
      auto caps = plugin::ParseCapabilities(st.Text(2));
      if (!caps.ok()) return false;  // asked again
      info.capabilities = *caps;
    }
    info.refused = st.Text(3);
    info.pid = static_cast<pid_t>(st.Int(4));
    uint64_t start = static_cast<uint64_t>(st.Int(5));
    info.address = st.Text(6);
    info.started_at = st.Int(7);
    info.failures = static_cast<int>(st.Int(8));
    info.retry_at = st.Int(9);
    info.last_error = st.Text(10);
    if (info.pid > 0 && !os::ProcessMatches(info.pid, start)) {
      info.pid = 0;
      info.address.clear();
    }
    return true;
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    Reap();
    BD_ASSIGN_OR_RETURN(bool cached, read_row());
    if (cached) {
      info.state = state_of(info);
      return info;
    }
  }
  // New or changed: ask it (outside the lock; two askers write the same answer).
  Result<plugin::Capabilities> caps = AskCapabilities(f.path, f.name);
  if (caps.ok()) {
    info.capabilities = *caps;
  } else {
    info.refused = caps.status().message();
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Another caller may have asked meanwhile (and started it): its row stands. A running
  // instance of an older binary is stopped: the next call starts the new one.
  BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT path, binary_id, pid, pid_start FROM plugins WHERE name = ?"));
    st.Bind(1, f.name);
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row && st.Text(0) == f.path && st.Text(1) == f.binary_id) return {};
    if (row) SignalIfSame(static_cast<pid_t>(st.Int(2)), static_cast<uint64_t>(st.Int(3)), SIGTERM);
    BD_ASSIGN_OR_RETURN(auto up, db_->Prepare(
        "INSERT INTO plugins(name, path, binary_id, capabilities, refused) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET path = excluded.path, binary_id = excluded.binary_id,"
        " capabilities = excluded.capabilities, refused = excluded.refused, pid = 0, pid_start = 0, address = '',"
        " failures = 0, retry_at = 0, last_error = ''"));
    up.BindAll(f.name, f.path, f.binary_id, caps.ok() ? plugin::CapabilitiesJson(*caps) : std::string(), info.refused);
    return up.Run();
  }));
  BD_ASSIGN_OR_RETURN(bool cached, read_row());
  if (!cached) return Status::Conflict("plugin " + f.name + " changed while it was asked for its capabilities; try again");
  info.state = state_of(info);
  return info;
}

Result<std::vector<PluginInfo>> PluginManager::List() {
  std::vector<PluginInfo> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, b] : builtins_) out.push_back(BuiltinInfo(name, b.caps));
  }
  BD_ASSIGN_OR_RETURN(std::vector<Found> found, Discover());
  for (const Found& f : found) {
    BD_ASSIGN_OR_RETURN(PluginInfo info, Refresh(f));
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const PluginInfo& a, const PluginInfo& b) { return a.name < b.name; });
  return out;
}

Result<PluginInfo> PluginManager::Load(std::string_view name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = builtins_.find(name); it != builtins_.end()) return BuiltinInfo(it->first, it->second.caps);
  }
  BD_ASSIGN_OR_RETURN(std::vector<Found> found, Discover());
  for (const Found& f : found) {
    if (f.name == name) return Refresh(f);
  }
  std::string where = paths_.root + "/plugins";
  for (const std::string& d : settings_.extra_dirs) where += ", " + d;
  if (!settings_.bin_dir.empty()) where += ", " + settings_.bin_dir + " (basic-docker-plugin-*)";
  return Status::NotFound("no plugin " + std::string(name.substr(0, 64)) + " (looked in " + where + ")");
}

Result<PluginInfo> PluginManager::Inspect(std::string_view name) { return Load(name); }

Result<std::string> PluginManager::Find(std::string_view type, std::string_view capability) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, b] : builtins_) {
      if (b.caps.Has(type, capability)) return name;
    }
  }
  BD_ASSIGN_OR_RETURN(std::vector<PluginInfo> all, List());
  std::vector<std::string> have;
  for (const PluginInfo& p : all) {
    if (p.refused.empty() && p.capabilities.Has(type, capability)) return p.name;
    if (p.refused.empty()) have.push_back(p.name);
  }
  return Status::NotFound("no plugin has " + std::string(type) + "/" + std::string(capability) +
                          (have.empty() ? " (no plugins are installed)" : " (installed: " + Join(have, ", ") + ")"));
}

void PluginManager::Reap() {
  for (auto it = children_.begin(); it != children_.end();) {
    int status;
    pid_t r = ::waitpid(*it, &status, WNOHANG);
    it = (r == *it || (r < 0 && errno == ECHILD)) ? children_.erase(it) : std::next(it);
  }
}

std::string PluginManager::TailOfLog(std::string_view name) const {
  auto text = os::ReadFile(LogPath(name));
  if (!text.ok() || text->empty()) return "";
  // What this instance wrote: after the last start line.
  std::string_view mine = *text;
  size_t stamp = mine.rfind("--- ");
  if (stamp != std::string_view::npos && (stamp == 0 || mine[stamp - 1] == '\n')) {
    size_t nl = mine.find('\n', stamp);
    mine = nl == std::string_view::npos ? std::string_view() : mine.substr(nl + 1);
  }
  if (mine.size() > 2000) mine = mine.substr(mine.size() - 2000);
  return std::string(TrimSpace(mine));
}

Result<PluginManager::Instance> PluginManager::Start(const PluginInfo& p) {
  BD_RETURN_IF_ERROR(os::MkdirAll(paths_.root + "/plugins/.logs", 0700));
  ::chmod((paths_.root + "/plugins/.logs").c_str(), 0700);
  // Its stderr, bounded: an old log over the limit keeps its last quarter.
  std::string log = LogPath(p.name);
  struct stat lst {};
  if (::stat(log.c_str(), &lst) == 0 && lst.st_size > settings_.log_limit) {
    auto text = os::ReadFile(log);
    if (text.ok()) (void)os::WriteFileAtomic(log, text->substr(text->size() - static_cast<size_t>(settings_.log_limit / 4)), 0600, false);
  }
  UniqueFd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log_fd) return os::ErrnoStatus("open " + log);
  std::string stamp = "--- " + FormatRfc3339Nano(NowNanos()) + " starting " + p.path + "\n";
  (void)os::WriteAll(log_fd.get(), stamp);
  plugin::ServerConfig config;
  config.id = p.name;
  config.type = plugin::ListenType::kUnix;
  config.location = socket_dir_ + "/" + p.name + ".sock";
  config.idle_timeout_ms = settings_.idle_timeout_ms;
  ::unlink(config.location.c_str());
  UniqueFd out[2];
  BD_RETURN_IF_ERROR(os::MakePipe(out));
  BD_ASSIGN_OR_RETURN(pid_t pid, SpawnPlugin({p.path, "server", "--config", plugin::ServerConfigJson(config)},
                                             out[1].get(), log_fd.get(),
                                             PluginEnvironment(p.name, paths_.root)));
  out[1].Reset();
  std::string line;
  auto tail = [&] {
    std::string t = TailOfLog(p.name);
    return t.empty() ? std::string() : "; its stderr ends with:\n" + t;
  };
  bool in_time = ReadUntil(out[0].get(), &line, true, 4096, NowMs() + settings_.start_timeout_ms);
  if (!in_time) {
    KillAndReap(pid);
    return Status::DeadlineExceeded("plugin " + p.name + " did not print its address within " +
                                    std::to_string(settings_.start_timeout_ms) + " ms (killed)" + tail());
  }
  if (line.empty()) {
    int status = 0;
    (void)os::RetryEintr([&] { return ::waitpid(pid, &status, 0); });
    return Status::Unavailable("plugin " + p.name + " " + DescribeExit(status) + " before it listened" + tail());
  }
  std::string address(TrimSpace(line));
  if (address != plugin::AddressOf(config)) {
    KillAndReap(pid);
    return Status::Internal("plugin " + p.name + " printed `" + address.substr(0, 200) + "`, not the address it was given (" +
                            plugin::AddressOf(config) + ")");
  }
  children_.insert(pid);
  return Instance{pid, os::ProcessStartTime(pid), address};
}

Result<PluginManager::Instance> PluginManager::Ensure(const PluginInfo& p) {
  BD_RETURN_IF_ERROR(os::MkdirAll(socket_dir_, 0700));
  UniqueFd lock_fd(::open((socket_dir_ + "/" + p.name + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd) return os::ErrnoStatus("open the lock of plugin " + p.name);
  if (os::RetryEintr([&] { return ::flock(lock_fd.get(), LOCK_EX); }) < 0) return os::ErrnoStatus("lock plugin " + p.name);
  std::lock_guard<std::mutex> lock(mu_);
  Reap();
  // Read in a statement of its own, finished before any write: a read left open would make
  // the write below fail at once (SQLITE_BUSY) when another process wrote in between.
  Instance have;
  int failures = 0;
  int64_t retry_at = 0;
  std::string last_error;
  {
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT pid, pid_start, address, failures, retry_at, last_error FROM plugins WHERE name = ?"));
    st.Bind(1, p.name);
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::NotFound("plugin " + p.name + " is not known any more");
    have = Instance{static_cast<pid_t>(st.Int(0)), static_cast<uint64_t>(st.Int(1)), st.Text(2)};
    failures = static_cast<int>(st.Int(3));
    retry_at = st.Int(4);
    last_error = st.Text(5);
  }
  if (have.pid > 0 && os::ProcessMatches(have.pid, have.pid_start)) return have;
  if (failures > 1 && NowMs() < retry_at) {
    return Status::Unavailable("plugin " + p.name + " is unhealthy after " + std::to_string(failures) +
                               " failures; next start in " + std::to_string(retry_at - NowMs()) + " ms. Last error: " + last_error);
  }
  auto started = Start(p);
  if (!started.ok()) {
    (void)MarkFailed(p.name, failures, started.status().message());
    return started.status();
  }
  Status recorded = [&]() -> Status {
    BD_ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE plugins SET pid = ?, pid_start = ?, address = ?, started_at = ? WHERE name = ?"));
    up.BindAll(static_cast<int64_t>(started->pid), static_cast<int64_t>(started->pid_start), started->address, NowMs(), p.name);
    return up.Run();
  }();
  if (!recorded.ok()) {  // an instance nobody else can find must not live on
    KillAndReap(started->pid);
    children_.erase(started->pid);
    return recorded.WithContext("record the instance of plugin " + p.name);
  }
  return *started;
}

Status PluginManager::RecordFailure(std::string_view name, const std::string& error, bool kill_instance) {
  std::lock_guard<std::mutex> lock(mu_);
  int failures = 0;
  {
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT pid, pid_start, failures FROM plugins WHERE name = ?"));
    st.Bind(1, name);
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return {};
    if (kill_instance) SignalIfSame(static_cast<pid_t>(st.Int(0)), static_cast<uint64_t>(st.Int(1)), SIGKILL);
    failures = static_cast<int>(st.Int(2));
  }
  return MarkFailed(name, failures, error);
}

Status PluginManager::MarkFailed(std::string_view name, int failures, const std::string& error) {
  // The first failure restarts on the next call; later ones wait, doubling up to 30 s.
  int64_t backoff = failures == 0 ? 0 : std::min<int64_t>(kBackoffMaxMs, 250LL << std::min(failures, 10));
  BD_ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE plugins SET pid = 0, pid_start = 0, address = '', failures = failures + 1,"
                                            " retry_at = ?, last_error = ? WHERE name = ?"));
  up.BindAll(NowMs() + backoff, error, std::string(name));
  return up.Run();
}

void PluginManager::ForgetInstance(std::string_view name, const Instance& inst) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = warm_.find(name); it != warm_.end()) warm_.erase(it);
  SignalIfSame(inst.pid, inst.pid_start, SIGKILL);  // alive without its socket: it is of no use
  Reap();
  if (auto up = db_->Prepare("UPDATE plugins SET pid = 0, pid_start = 0, address = '' WHERE name = ? AND pid = ?"); up.ok()) {
    up->BindAll(std::string(name), static_cast<int64_t>(inst.pid));
    (void)up->Run();
  }
}

void PluginManager::RecordSuccess(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto up = db_->Prepare("UPDATE plugins SET failures = 0, retry_at = 0 WHERE name = ? AND failures != 0"); up.ok()) {
    up->Bind(1, name);
    (void)up->Run();
  }
}

Result<std::string> PluginManager::Call(std::string_view name, std::string_view type, std::string_view capability,
                                        std::string_view body) {
  BD_RETURN_IF_ERROR(plugin::ValidateName("plugin type", type));
  BD_RETURN_IF_ERROR(plugin::ValidateName("capability", capability));
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (auto it = builtins_.find(name); it != builtins_.end()) {
      if (!it->second.caps.Has(type, capability)) {
        return Status::NotFound("built-in plugin " + std::string(name) + " has no " + std::string(type) + "/" + std::string(capability));
      }
      BuiltinHandler handler = it->second.handler;
      lock.unlock();
      auto out = handler(type, capability, body);
      if (!out.ok()) return out.status().WithContext("plugin " + std::string(name));
      return out;
    }
  }
  // Warm: the instance that answered last, while its binary is the one it was started from.
  std::optional<Warm> warm;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = warm_.find(name); it != warm_.end()) {
      struct stat st {};
      if (::stat(it->second.info.path.c_str(), &st) == 0 && BinaryId(st) == it->second.binary_id) {
        warm = it->second;
      } else {
        warm_.erase(it);
      }
    }
  }
  PluginInfo p;
  if (warm) {
    p = warm->info;
  } else {
    BD_ASSIGN_OR_RETURN(p, Load(name));
  }
  if (!p.refused.empty()) return Status::FailedPrecondition("plugin " + p.name + " cannot be used: " + p.refused);
  if (!p.capabilities.Has(type, capability)) {
    std::vector<std::string> has;
    for (const auto& [t, caps] : p.capabilities.types) {
      for (const std::string& c : caps) has.push_back(t + "/" + c);
    }
    return Status::NotFound("plugin " + p.name + " has no " + std::string(type) + "/" + std::string(capability) +
                            " (it has " + Join(has, ", ") + ")");
  }
  std::string endpoint = plugin::EndpointOf(type, capability);
  thread_local net::HttpClient client;
  for (int attempt = 0;; ++attempt) {
    Instance inst;
    if (warm && attempt == 0) {
      inst = warm->instance;
    } else {
      BD_ASSIGN_OR_RETURN(inst, Ensure(p));
    }
    net::HttpRequest req;
    req.method = "POST";
    req.body = std::string(body);
    req.headers = {"Content-Type: application/json"};
    req.timeout_ms = settings_.call_timeout_ms;
    constexpr std::string_view kUnix = "unix://";
    if (inst.address.rfind(kUnix, 0) == 0) {
      req.unix_socket = inst.address.substr(kUnix.size());
      req.url = "http://plugin" + endpoint;
    } else {
      req.url = inst.address + endpoint;
    }
    auto resp = client.Do(req);
    if (resp.ok()) {
      if (p.failures > 0) RecordSuccess(p.name);
      if (!warm || attempt > 0) {
        struct stat st {};
        std::lock_guard<std::mutex> lock(mu_);
        if (::stat(p.path.c_str(), &st) == 0) {
          PluginInfo kept = p;
          kept.failures = 0;
          warm_[p.name] = Warm{std::move(kept), BinaryId(st), inst};
        }
      }
      if (resp->status >= 200 && resp->status < 300) return std::move(resp->body);
      return plugin::StatusFromErrorJson(static_cast<int>(resp->status), resp->body).WithContext("plugin " + p.name);
    }
    // Nothing was sent: the instance went away (idled out, or died while idle). Once more,
    // with a new one.
    if (resp.status().code() == Code::kUnavailable && attempt == 0) {
      ForgetInstance(p.name, inst);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      warm_.erase(p.name);
    }
    bool hung = resp.status().code() == Code::kDeadlineExceeded;
    std::string what = "plugin " + p.name + (hung ? " did not answer POST " + endpoint + " within " +
                                                        std::to_string(settings_.call_timeout_ms) + " ms (killed)"
                                                  : " failed during POST " + endpoint + ": " + resp.status().message());
    (void)RecordFailure(p.name, what, /*kill_instance=*/true);
    {
      std::lock_guard<std::mutex> lock(mu_);
      Reap();
    }
    ::usleep(20'000);  // what it wrote as it died reaches the log
    std::string t = TailOfLog(p.name);
    what += t.empty() ? "" : "; its stderr ends with:\n" + t;
    return hung ? Status::DeadlineExceeded(what) : Status::Unavailable(what);
  }
}

Status PluginManager::Stop(std::string_view name) {
  BD_ASSIGN_OR_RETURN(PluginInfo p, Load(name));
  if (p.builtin) return Status::FailedPrecondition("plugin " + p.name + " is built in: it has no process to stop");
  std::lock_guard<std::mutex> lock(mu_);
  warm_.erase(p.name);
  pid_t pid = 0;
  uint64_t start = 0;
  {
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT pid, pid_start FROM plugins WHERE name = ?"));
    st.Bind(1, p.name);
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return {};
    pid = static_cast<pid_t>(st.Int(0));
    start = static_cast<uint64_t>(st.Int(1));
  }
  if (pid > 0 && os::ProcessMatches(pid, start)) {
    auto fd = os::PidfdOpen(pid);
    if (fd.ok()) {
      ::syscall(SYS_pidfd_send_signal, fd->get(), SIGTERM, nullptr, 0);
      if (children_.count(pid)) {
        int status;
        for (int i = 0; i < 200 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) ::usleep(10'000);
        if (::waitpid(pid, &status, WNOHANG) == 0) KillAndReap(pid);
        children_.erase(pid);
      } else {
        auto gone = os::WaitPidfd(fd->get(), 2000);
        if (!gone.ok() || !*gone) ::syscall(SYS_pidfd_send_signal, fd->get(), SIGKILL, nullptr, 0);
      }
    }
  }
  BD_ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE plugins SET pid = 0, pid_start = 0, address = '' WHERE name = ?"));
  up.Bind(1, p.name);
  return up.Run();
}

Result<std::string> PluginManager::Logs(std::string_view name, int64_t max_bytes) {
  BD_ASSIGN_OR_RETURN(PluginInfo p, Load(name));
  if (p.builtin) return Status::FailedPrecondition("plugin " + p.name + " is built in: its messages go to the engine's own log");
  auto text = os::ReadFile(LogPath(p.name));
  if (!text.ok()) return std::string();
  if (max_bytes >= 0 && static_cast<int64_t>(text->size()) > max_bytes) return text->substr(text->size() - static_cast<size_t>(max_bytes));
  return std::move(*text);
}

}  // namespace bd::engine
