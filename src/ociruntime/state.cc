#include "ociruntime/state.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "runtime/cgroups.h"

namespace bd::ociruntime {

using nlohmann::json;

Status ValidateId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 1024 && id != "." && id != "..";
  for (char c : id) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' ||
                c == '.');
  }
  if (!ok) return Status::InvalidArgument("invalid container id \"" + id + "\"");
  return {};
}

Result<UniqueFd> StateStore::Reserve(const std::string& id) const {
  BD_RETURN_IF_ERROR(ValidateId(id));
  BD_RETURN_IF_ERROR(os::MkdirAll(root_, 0700));
  if (::mkdir(Dir(id).c_str(), 0700) < 0) {
    if (errno == EEXIST) return Status::AlreadyExists("container with id exists: " + id);
    return os::ErrnoStatus("create the state directory `" + Dir(id) + "`");
  }
  std::string path = Dir(id) + "/create.lock";
  UniqueFd lock(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  struct flock l{};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  if (!lock || ::fcntl(lock.get(), F_SETLK, &l) < 0) {
    Status st = os::ErrnoStatus("lock `" + path + "`");
    (void)os::RemoveAll(Dir(id));
    return st;
  }
  return lock;
}

bool StateStore::Creating(const std::string& id) const {
  UniqueFd fd(::open((Dir(id) + "/create.lock").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  struct flock l{};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  return ::fcntl(fd.get(), F_GETLK, &l) == 0 && l.l_type != F_UNLCK;
}

Status StateStore::Save(const ContainerState& s) const {
  json j = {{"id", s.id},
            {"bundle", s.bundle},
            {"created", s.created},
            {"pid", s.pid},
            {"startTime", s.start_time},
            {"annotations", s.annotations},
            {"spec", json::parse(runtime::SpecToJson(s.spec))}};
  // Atomic but not fsynced: a record of processes, which a reboot ends anyway (runc's state is
  // on /run too).
  return os::WriteFileAtomic(Dir(s.id) + "/state.json", j.dump(), 0600, /*durable=*/false);
}

Result<ContainerState> StateStore::Load(const std::string& id) const {
  BD_RETURN_IF_ERROR(ValidateId(id));
  auto text = os::ReadFile(Dir(id) + "/state.json");
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return Status::NotFound("container \"" + id + "\" does not exist");
    }
    return text.status();
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Status::Internal("state of container \"" + id + "\" is not JSON");
  try {
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.bundle = j.value("bundle", "");
    s.created = j.value("created", "");
    s.pid = j.value("pid", 0);
    s.start_time = j.value("startTime", uint64_t{0});
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    BD_ASSIGN_OR_RETURN(s.spec, runtime::SpecFromJson(j.at("spec").dump()));
    return s;
  } catch (const json::exception& e) {
    return Status::Internal("state of container \"" + id + "\": " + e.what());
  }
}

Status StateStore::Remove(const std::string& id) const {
  BD_RETURN_IF_ERROR(ValidateId(id));
  return os::RemoveAll(Dir(id));
}

std::vector<std::string> StateStore::List() const {
  std::vector<std::string> out;
  auto names = os::ListDir(root_);
  if (!names.ok()) return out;  // no container was ever created here
  for (const std::string& name : *names) {
    if (os::Exists(Dir(name) + "/state.json")) out.push_back(name);
  }
  return out;
}

std::string StatusOf(const StateStore& store, const ContainerState& s) {
  if (s.pid <= 0) return store.Creating(s.id) ? "creating" : "stopped";
  if (!os::ProcessMatches(s.pid, s.start_time)) return "stopped";
  if (os::Exists(store.Fifo(s.id))) return "created";
  if (runtime::CgroupFrozen(runtime::PlanFor(s.spec))) return "paused";
  return "running";
}

std::string StateJson(const StateStore& store, const ContainerState& s) {
  std::string status = StatusOf(store, s);
  json j = {{"ociVersion", "1.0.2"},
            {"id", s.id},
            {"pid", status == "stopped" || status == "creating" ? 0 : s.pid},
            {"status", status},
            {"bundle", s.bundle},
            {"rootfs", s.spec.rootfs},
            {"created", s.created},
            {"owner", ""}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j.dump(2) + "\n";
}

}  // namespace bd::ociruntime
