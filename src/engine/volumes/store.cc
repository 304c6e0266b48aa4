#include "engine/volumes/store.h"

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "engine/containers/store.h"
#include "engine/diagnostics.h"
#include "engine/events.h"
#include "os/fs.h"

namespace bd::engine {

Status ValidateVolumeName(std::string_view name) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  bool ok = name.size() >= 2 && name.size() <= 255 && alnum(name.front());
  for (char c : name) ok = ok && (alnum(c) || c == '_' || c == '.' || c == '-');
  if (!ok) {
    return Status::InvalidArgument("invalid volume name \"" + std::string(name) +
                                   "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2");
  }
  return {};
}

Result<Volume> VolumeStore::Create(const std::string& name,
                                   const std::map<std::string, std::string>& labels) {
  return Tracked(OperationLog::Of(paths_.root), "volume", "create", name, [&]() -> Result<Volume> {
    BD_RETURN_IF_ERROR(ValidateVolumeName(name));
    // The directory first: a row never points at a missing directory.
    BD_RETURN_IF_ERROR(os::MkdirAll(paths_.VolumeData(name), 0755));
    BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT OR IGNORE INTO volumes(name, created_at, labels) VALUES (?, ?, ?)"));
    BD_RETURN_IF_ERROR(st.BindAll(name, NowNanos(), nlohmann::json(labels).dump()).Run());
    if (db_->Changes() > 0) (void)EventLog(db_).Emit("volume", "create", name, {{"driver", "local"}});
    return Get(name);
  });
}

Result<Volume> VolumeStore::Get(const std::string& name) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT created_at, labels FROM volumes WHERE name = ?"));
  st.BindAll(name);
  BD_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("No such volume: " + name);
  Volume v;
  v.name = name;
  v.mountpoint = paths_.VolumeData(name);
  v.created_at = st.Int(0);
  auto labels = nlohmann::json::parse(st.Text(1), nullptr, false);
  if (labels.is_object()) {
    for (const auto& [k, val] : labels.items()) {
      if (val.is_string()) v.labels[k] = val.get<std::string>();
    }
  }
  BD_ASSIGN_OR_RETURN(auto users, db_->Prepare(
      "SELECT container_id FROM container_volumes WHERE volume = ? ORDER BY container_id"));
  users.BindAll(name);
  while (true) {
    BD_ASSIGN_OR_RETURN(bool more, users.Step());
    if (!more) break;
    v.used_by.push_back(users.Text(0));
  }
  return v;
}

Result<std::vector<Volume>> VolumeStore::List() {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT name FROM volumes ORDER BY name"));
  std::vector<std::string> names;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    names.push_back(st.Text(0));
  }
  std::vector<Volume> out;
  for (const auto& n : names) {
    BD_ASSIGN_OR_RETURN(Volume v, Get(n));
    out.push_back(std::move(v));
  }
  return out;
}

Status VolumeStore::Remove(const std::string& name) {
  return Tracked(OperationLog::Of(paths_.root), "volume", "rm", name, [&]() -> Status {
    BD_ASSIGN_OR_RETURN(Volume v, Get(name));
    BD_ASSIGN_OR_RETURN(auto users, db_->Prepare(
        "SELECT c.name FROM container_volumes u JOIN containers c ON c.id = u.container_id WHERE u.volume = ? ORDER BY c.name"));
    users.BindAll(name);
    BD_ASSIGN_OR_RETURN(std::vector<std::string> user_names, ContainerNames(users));
    if (!user_names.empty()) {
      return Status::FailedPrecondition("remove " + name + ": volume is in use - [" + NameList(user_names) + "]");
    }
    BD_RETURN_IF_ERROR(db_->WriteTxn([&]() -> Status {
      BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
          "DELETE FROM volumes WHERE name = ?"
          " AND NOT EXISTS (SELECT 1 FROM container_volumes WHERE volume = ?1)"));
      BD_RETURN_IF_ERROR(st.BindAll(name).Run());
      if (db_->Changes() == 0) {
        return Status::FailedPrecondition("remove " + name + ": volume is in use");
      }
      return {};
    }));
    (void)EventLog(db_).Emit("volume", "destroy", name, {{"driver", "local"}});
    // The row goes first: a crash leaves an unreferenced directory, never a row without data.
    return os::RemoveAll(paths_.Volumes() + "/" + name);
  });
}

Status VolumeStore::Attach(const std::string& container_id, const std::string& name) {
  BD_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT OR IGNORE INTO container_volumes(container_id, volume) VALUES (?, ?)"));
  return st.BindAll(container_id, name).Run();
}

}  // namespace bd::engine
