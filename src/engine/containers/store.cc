#include "engine/containers/store.h"

#include <signal.h>

#include <nlohmann/json.hpp>
#include <set>

#include "base/digest.h"
#include "base/strings.h"
#include "base/time.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/cgroups.h"

namespace bd::engine {

using nlohmann::json;

std::string ContainerConfigToJson(const ContainerConfig& c) {
  json j = {{"Image", c.image_ref},   {"Entrypoint", c.entrypoint}, {"Cmd", c.cmd},
            {"Env", c.env},           {"WorkingDir", c.working_dir}, {"User", c.user},
            {"Hostname", c.hostname}, {"Labels", c.labels},         {"AutoRemove", c.auto_remove},
            {"CapAdd", c.cap_add},    {"CapDrop", c.cap_drop},      {"Privileged", c.privileged},
            {"ReadonlyRootfs", c.read_only}, {"NoNewPrivileges", c.no_new_privileges},
            {"Seccomp", c.seccomp},   {"SecurityOpt", c.security_opt},
            {"RestartPolicy", {{"Name", c.restart}, {"MaximumRetryCount", c.restart_max}}},
            {"StopTimeout", c.stop_timeout},
            {"Memory", c.memory},     {"NanoCpus", c.nano_cpus},    {"PidsLimit", c.pids_limit},
            {"Binds", c.binds},       {"Tmpfs", c.tmpfs},           {"NetworkMode", c.network},
            {"Init", c.init},         {"OpenStdin", c.open_stdin},
            {"Tty", c.tty},
            {"LogMaxSize", c.log.max_size}, {"LogMaxFile", c.log.max_file},
            {"Persistent", c.persistent}};
  // Only when not the builtin one: the configuration hash of an older container stays the same.
  if (!c.runtime.empty()) j["Runtime"] = c.runtime;
  return j.dump();
}

Result<ContainerConfig> ContainerConfigFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("container config is not a JSON object");
  }
  try {
    ContainerConfig c;
    c.image_ref = j.value("Image", "");
    c.entrypoint = j.value("Entrypoint", std::vector<std::string>{});
    c.cmd = j.value("Cmd", std::vector<std::string>{});
    c.env = j.value("Env", std::vector<std::string>{});
    c.working_dir = j.value("WorkingDir", "");
    c.user = j.value("User", "");
    c.hostname = j.value("Hostname", "");
    c.labels = j.value("Labels", std::map<std::string, std::string>{});
    c.auto_remove = j.value("AutoRemove", false);
    c.cap_add = j.value("CapAdd", std::vector<std::string>{});
    c.cap_drop = j.value("CapDrop", std::vector<std::string>{});
    c.privileged = j.value("Privileged", false);
    c.read_only = j.value("ReadonlyRootfs", false);
    c.no_new_privileges = j.value("NoNewPrivileges", true);
    c.seccomp = j.value("Seccomp", "default");
    c.security_opt = j.value("SecurityOpt", std::vector<std::string>{});
    if (j.contains("RestartPolicy")) {
      c.restart = j["RestartPolicy"].value("Name", "no");
      c.restart_max = j["RestartPolicy"].value("MaximumRetryCount", 0);
    }
    c.stop_timeout = j.value("StopTimeout", 10);
    c.memory = j.value("Memory", int64_t{0});
    c.nano_cpus = j.value("NanoCpus", int64_t{0});
    c.pids_limit = j.value("PidsLimit", int64_t{0});
    c.binds = j.value("Binds", std::vector<std::string>{});
    c.tmpfs = j.value("Tmpfs", std::vector<std::string>{});
    c.network = j.value("NetworkMode", "none");
    c.init = j.value("Init", false);
    c.open_stdin = j.value("OpenStdin", false);
    c.tty = j.value("Tty", false);
    c.log.max_size = j.value("LogMaxSize", c.log.max_size);
    c.log.max_file = j.value("LogMaxFile", c.log.max_file);
    c.persistent = j.value("Persistent", false);
    c.runtime = j.value("Runtime", "");
    return c;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("container config: ") + e.what());
  }
}

namespace {

// The configuration as the hash and the comparison see it: the image reference as typed
// ("busybox" or "busybox:latest") gives way to the image's id.
json ComparableConfig(const ContainerConfig& c, const std::string& image_id) {
  json j = json::parse(ContainerConfigToJson(c));
  j["Image"] = image_id;
  return j;
}

std::string EnvName(const std::string& kv) { return kv.substr(0, kv.find('=')); }

}  // namespace

std::string ConfigHash(const ContainerConfig& config, const std::string& image_id) {
  return Sha256Digest(ComparableConfig(config, image_id).dump());
}

std::vector<std::string> ConfigDifferences(const ContainerConfig& have, const std::string& have_image,
                                           const ContainerConfig& want, const std::string& want_image) {
  json a = ComparableConfig(have, have_image);
  json b = ComparableConfig(want, want_image);
  std::vector<std::string> out;
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (a.contains(it.key()) && a[it.key()] == it.value()) continue;
    if (it.key() != "Env") {
      out.push_back(it.key());
      continue;
    }
    // Values may be secrets: name the variables only.
    std::set<std::string> names;
    std::set<std::string> in_a(have.env.begin(), have.env.end()), in_b(want.env.begin(), want.env.end());
    for (const std::string& kv : have.env) if (!in_b.count(kv)) names.insert(EnvName(kv));
    for (const std::string& kv : want.env) if (!in_a.count(kv)) names.insert(EnvName(kv));
    out.push_back(names.empty() ? "Env (order)" : "Env (" + Join(std::vector<std::string>(names.begin(), names.end()), ", ") + ")");
  }
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!b.contains(it.key())) out.push_back(it.key());  // a setting only the old one has (Runtime)
  }
  return out;
}

std::map<std::string, std::string> EventAttributes(const Container& c, std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> out = c.config.labels;
  out["name"] = c.name;
  out["image"] = c.image_ref;
  for (auto& [k, v] : extra) out[k] = std::move(v);
  return out;
}

Result<std::vector<std::string>> ContainerNames(store::Statement& query) {
  std::vector<std::string> names;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, query.Step());
    if (!row) return names;
    names.push_back(query.Text(0));
  }
}

std::string NameList(const std::vector<std::string>& names) {
  constexpr size_t kShown = 10;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += " and " + std::to_string(names.size() - kShown) + " more";
  return out;
}

std::vector<std::string> Container::Args() const {
  std::vector<std::string> args = config.entrypoint;
  args.insert(args.end(), config.cmd.begin(), config.cmd.end());
  return args;
}

namespace {

constexpr std::string_view kColumns =
    "id, name, image_id, image_ref, config, spec, state, pid, shim_pid, shim_start, exit_code,"
    " error, created_at, started_at, finished_at, restart_count, stop_requested, oom_killed,"
    " pid_start, (SELECT version FROM container_versions v WHERE v.id = containers.id)";

Result<Container> FromRow(store::Statement& st) {
  Container c;
  c.id = st.Text(0);
  c.name = st.Text(1);
  c.image_id = st.Text(2);
  c.image_ref = st.Text(3);
  BD_ASSIGN_OR_RETURN(c.config, ContainerConfigFromJson(st.Text(4)));
  c.spec_json = st.Text(5);
  BD_ASSIGN_OR_RETURN(c.state, ParseState(st.Text(6)));
  c.pid = static_cast<pid_t>(st.Int(7));
  c.shim_pid = static_cast<pid_t>(st.Int(8));
  c.shim_start = static_cast<uint64_t>(st.Int(9));
  c.exit_code = static_cast<int>(st.Int(10));
  c.error = st.Text(11);
  c.created_at = st.Int(12);
  c.started_at = st.Int(13);
  c.finished_at = st.Int(14);
  c.restart_count = static_cast<int>(st.Int(15));
  c.stop_requested = st.Int(16) != 0;
  c.oom_killed = st.Int(17) != 0;
  c.pid_start = static_cast<uint64_t>(st.Int(18));
  c.version = st.Int(19);
  return c;
}

}  // namespace

Status ContainerStore::Insert(const Container& c) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO containers(id, name, image_id, image_ref, config, spec, state, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  Status s = db_->WriteTxn([&]() -> Status {
    BD_RETURN_IF_ERROR(st.BindAll(c.id, c.name, c.image_id, c.image_ref, ContainerConfigToJson(c.config),
                                  c.spec_json, StateName(c.state), c.created_at)
                           .Run());
    return events_.Emit("container", "create", c.id, EventAttributes(c));
  });
  if (s.code() == Code::kAlreadyExists) {
    return Status::AlreadyExists("Conflict. The container name \"/" + c.name +
                                 "\" is already in use. Remove that container or choose "
                                 "another name.");
  }
  return s;
}

namespace {

// The Docker event a change of state into `to` from `from` is.
std::string_view EventOf(State from, State to) {
  switch (to) {
    case State::kRunning: return from == State::kPaused ? "unpause" : "start";
    case State::kPaused: return "pause";
    case State::kRestarting:
    case State::kExited: return "die";
    case State::kCreated: return "create";
  }
  return "";
}

}  // namespace

template <typename... Args>
Status ContainerStore::Transition(const std::string& id, std::optional<State> from, State to,
                                  const std::string& set_sql, const std::string& where_sql, Args&&... values) {
  std::string from_sql = from ? "'" + std::string(StateName(*from)) + "'" : StatesLeadingTo(to);
  return db_->WriteTxn([&]() -> Status {
    // The record before: its name, image and labels for the event, its state for a refusal.
    BD_ASSIGN_OR_RETURN(Container c, Get(id));
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE containers SET state = ?1" + set_sql + " WHERE id = ?2 AND state IN (" +
                                              from_sql + ")" + where_sql + " RETURNING exit_code, oom_killed"));
    st.BindAll(StateName(to), id, std::forward<Args>(values)...);
    BD_ASSIGN_OR_RETURN(bool changed, st.Step());
    if (!changed) {
      if (from && c.state != *from) {
        return Status::FailedPrecondition("container " + c.name + " is " + std::string(StateName(c.state)) +
                                          ", not " + std::string(StateName(*from)));
      }
      return CheckTransition(c.name, c.state, to);
    }
    int64_t exit_code = st.Int(0);
    bool oom_now = st.Int(1) != 0 && !c.oom_killed;  // a kill the record did not have yet
    BD_RETURN_IF_ERROR(st.Run());  // the statement done before the commit
    std::map<std::string, std::string> extra;
    if (to == State::kExited || to == State::kRestarting) {
      if (oom_now) BD_RETURN_IF_ERROR(events_.Emit("container", "oom", id, EventAttributes(c)));
      extra["exitCode"] = std::to_string(exit_code);
    }
    std::string_view action = EventOf(c.state, to);
    if (action == "start") BD_RETURN_IF_ERROR(EmitVolumeEvents(c, "mount"));
    BD_RETURN_IF_ERROR(events_.Emit("container", std::string(action), id, EventAttributes(c, std::move(extra))));
    if (action == "die") BD_RETURN_IF_ERROR(EmitVolumeEvents(c, "unmount"));
    return Status();
  });
}

Status ContainerStore::EmitVolumeEvents(const Container& c, const char* action) {
  for (const std::string& text : c.config.binds) {
    auto v = ParseVolumeSpec(text);
    if (!v.ok() || !v->named) continue;
    std::map<std::string, std::string> attrs = {{"container", c.id}, {"driver", "local"}};
    if (std::string_view(action) == "mount") {
      attrs["destination"] = v->destination;
      attrs["propagation"] = v->propagation;
      attrs["read/write"] = v->read_only ? "false" : "true";
    }
    BD_RETURN_IF_ERROR(events_.Emit("volume", action, v->source, attrs));
  }
  return {};
}

Result<bool> ContainerStore::Reconcile(Container* c) {
  if (!c->Active() || os::ProcessMatches(c->shim_pid, c->shim_start)) return false;
  // Nobody supervises the container any more: take it down (its pid namespace goes with its
  // first process) rather than leave it running unrecorded.
  if (os::ProcessMatches(c->pid, c->pid_start)) ::kill(c->pid, SIGKILL);
  c->state = State::kExited;
  c->exit_code = 255;
  c->error = "the container's shim exited without recording the container's exit";
  c->finished_at = NowNanos();
  c->pid = 0;
  // Only the record of this shim: another may have started the container again meanwhile, or
  // removed it.
  Status st = Transition(c->id, std::nullopt, State::kExited, ", exit_code = ?3, error = ?4, finished_at = ?5, pid = 0",
                         " AND shim_pid = ?6 AND shim_start = ?7", c->exit_code, c->error, c->finished_at,
                         c->shim_pid, static_cast<int64_t>(c->shim_start));
  if (!st.ok() && st.code() != Code::kNotFound) return st;
  // What the shim would have cleaned up: the container's cgroups (its processes were killed
  // above).
  if (auto plan = CgroupPlanOf(*c); plan.ok()) (void)runtime::RemoveCgroup(*plan);
  return true;
}

Result<int> ContainerStore::ReconcileAll() {
  // Every command runs this: only the shims are read, and only the records of dead ones in full.
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT id, shim_pid, shim_start FROM containers WHERE state IN (" + ActiveStates() + ")"));
  std::vector<std::string> dead;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    if (!os::ProcessMatches(static_cast<pid_t>(st.Int(1)), static_cast<uint64_t>(st.Int(2)))) dead.push_back(st.Text(0));
  }
  int changed = 0;
  for (const std::string& id : dead) {
    auto c = Get(id);
    if (!c.ok()) {
      if (c.status().code() == Code::kNotFound) continue;  // removed meanwhile
      return c.status();
    }
    BD_ASSIGN_OR_RETURN(bool did, Reconcile(&c.value()));
    changed += did ? 1 : 0;
  }
  return changed;
}

Result<runtime::CgroupPlan> CgroupPlanOf(const Container& c) {
  BD_ASSIGN_OR_RETURN(runtime::Spec spec, runtime::SpecFromJson(c.spec_json));
  return runtime::PlanFor(spec);
}

Result<Container> ContainerStore::Get(const std::string& id) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT " + std::string(kColumns) +
                                            " FROM containers WHERE id = ?"));
  st.BindAll(id);
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("No such container: " + id);
  return FromRow(st);
}

Result<ContainerStore::Version> ContainerStore::VersionOf(const std::string& id) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT v.version, c.name, c.state FROM containers c JOIN container_versions v ON v.id = c.id WHERE c.id = ?"));
  st.BindAll(id);
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("No such container: " + id);
  Version v{st.Int(0), st.Text(1), State::kCreated};
  BD_ASSIGN_OR_RETURN(v.state, ParseState(st.Text(2)));
  return v;
}

Result<Container> ContainerStore::Find(std::string_view ref) {
  std::string r(ref);
  if (!r.empty() && r.front() == '/') r.erase(0, 1);
  if (r.empty()) return Status::InvalidArgument("empty container name or id");
  BD_ASSIGN_OR_RETURN(auto exact, db_->Prepare("SELECT id FROM containers WHERE id = ?1 OR name = ?1"));
  exact.BindAll(r);
  BD_ASSIGN_OR_RETURN(bool has_exact, exact.Step());
  if (has_exact) return Get(exact.Text(0));
  // Ids are lowercase hex, so every id starting with r sorts between r and r + 'g'.
  BD_ASSIGN_OR_RETURN(auto prefix, db_->Prepare(
      "SELECT id FROM containers WHERE id > ?1 AND id < ?1 || 'g' LIMIT 2"));
  prefix.BindAll(r);
  std::vector<std::string> ids;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, prefix.Step());
    if (!row) break;
    ids.push_back(prefix.Text(0));
  }
  if (ids.empty()) return Status::NotFound("No such container: " + r);
  if (ids.size() > 1) {
    return Status::InvalidArgument("multiple containers found with id prefix " + r +
                                   ": give more characters");
  }
  return Get(ids[0]);
}

Result<std::vector<Container>> ContainerStore::List() { return Select("ORDER BY created_at DESC"); }

Result<std::vector<Container>> ContainerStore::Select(std::string_view where_sql) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT " + std::string(kColumns) + " FROM containers " +
                                            std::string(where_sql)));
  std::vector<Container> out;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    BD_ASSIGN_OR_RETURN(Container c, FromRow(st));
    out.push_back(std::move(c));
  }
  return out;
}

Status ContainerStore::MarkRunning(const std::string& id, pid_t pid, pid_t shim_pid,
                                   uint64_t shim_start, int64_t started_at) {
  return Transition(id, std::nullopt, State::kRunning,
                    ", pid = ?3, pid_start = ?4, shim_pid = ?5, shim_start = ?6, started_at = ?7,"
                    " exit_code = 0, error = '', finished_at = 0, oom_killed = 0",
                    "", pid, static_cast<int64_t>(os::ProcessStartTime(pid)), shim_pid,
                    static_cast<int64_t>(shim_start), started_at);
}

Status ContainerStore::MarkExited(const std::string& id, int exit_code, const std::string& error,
                                  int64_t finished_at, bool oom_killed) {
  return Transition(id, std::nullopt, State::kExited, ", pid = 0, exit_code = ?3, error = ?4, finished_at = ?5, oom_killed = ?6",
                    "", exit_code, error, finished_at, oom_killed ? 1 : 0);
}

Status ContainerStore::MarkPaused(const std::string& id, bool paused) {
  // Only pause and unpause move between these two (a start also leads to running).
  return Transition(id, paused ? State::kRunning : State::kPaused, paused ? State::kPaused : State::kRunning, "", "");
}

Status ContainerStore::MarkRestarting(const std::string& id, int exit_code, int64_t finished_at,
                                      bool oom_killed) {
  return Transition(id, std::nullopt, State::kRestarting,
                    ", pid = 0, exit_code = ?3, finished_at = ?4, oom_killed = ?5, restart_count = restart_count + 1",
                    "", exit_code, finished_at, oom_killed ? 1 : 0);
}

Status ContainerStore::SetStopRequested(const std::string& id, bool requested) {
  // Unchanged (every start of a container never stopped): no row changes, so the commit
  // writes nothing to the WAL.
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE containers SET stop_requested = ?1 WHERE id = ?2 AND stop_requested != ?1"));
  return st.BindAll(requested ? 1 : 0, id).Run();
}

Status ContainerStore::SetSpec(const std::string& id, const std::string& spec_json) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE containers SET spec = ? WHERE id = ?"));
  return st.BindAll(spec_json, id).Run();
}

Result<int64_t> ParseMemorySize(std::string_view text) {
  auto invalid = [&] {
    return Status::InvalidArgument("invalid size \"" + std::string(text) +
                                   "\": want a number with an optional unit b, k, m or g");
  };
  if (text.empty()) return invalid();
  double mult = 1;
  char unit = static_cast<char>(::tolower(static_cast<unsigned char>(text.back())));
  std::string_view num = text;
  if (unit == 'b' || unit == 'k' || unit == 'm' || unit == 'g') {
    mult = unit == 'k' ? 1024.0 : unit == 'm' ? 1048576.0 : unit == 'g' ? 1073741824.0 : 1.0;
    num.remove_suffix(1);
  }
  std::string n(num);
  char* end = nullptr;
  double v = std::strtod(n.c_str(), &end);
  if (n.empty() || end != n.c_str() + n.size() || !(v > 0) || v * mult > 9.0e18) return invalid();
  return static_cast<int64_t>(v * mult);
}

Result<int64_t> ParseCpus(std::string_view text) {
  std::string n(text);
  char* end = nullptr;
  double v = std::strtod(n.c_str(), &end);
  if (n.empty() || end != n.c_str() + n.size() || !(v > 0) || v > 4096) {
    return Status::InvalidArgument("invalid --cpus \"" + n + "\": want a number above 0");
  }
  return static_cast<int64_t>(v * 1e9);
}

Status ParseRestartPolicy(std::string_view text, ContainerConfig* config) {
  std::string_view name = text.substr(0, text.find(':'));
  if (name == "no" || name == "always" || name == "unless-stopped") {
    if (name.size() != text.size()) {
      return Status::InvalidArgument("restart policy \"" + std::string(text) +
                                     "\": only on-failure takes a count");
    }
    config->restart = std::string(name);
    config->restart_max = 0;
    return {};
  }
  if (name == "on-failure") {
    config->restart = "on-failure";
    config->restart_max = 0;
    if (name.size() != text.size()) {
      auto n = ParseInt(text.substr(name.size() + 1));
      if (!n || *n < 0 || *n > 1'000'000) {
        return Status::InvalidArgument("restart policy \"" + std::string(text) +
                                       "\": the count must be a number >= 0");
      }
      config->restart_max = static_cast<int>(*n);
    }
    return {};
  }
  return Status::InvalidArgument("invalid restart policy \"" + std::string(text) +
                                 "\": use no, always, unless-stopped or on-failure[:N]");
}

bool ShouldRestart(const ContainerConfig& config, int exit_code, int restarts) {
  if (config.restart == "always" || config.restart == "unless-stopped") return true;
  if (config.restart == "on-failure") {
    return exit_code != 0 && (config.restart_max == 0 || restarts < config.restart_max);
  }
  return false;
}

Status ContainerStore::Delete(const std::string& id) {
  return db_->WriteTxn([&]() -> Status {
    auto before = Get(id);
    if (!before.ok()) return before.status().code() == Code::kNotFound ? Status() : before.status();
    const Container& c = *before;
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM containers WHERE id = ?"));
    BD_RETURN_IF_ERROR(st.BindAll(id).Run());
    return events_.Emit("container", "destroy", id, EventAttributes(c));
  });
}

}  // namespace bd::engine
