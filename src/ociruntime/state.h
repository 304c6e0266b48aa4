// basic-runtime's record of its containers: one directory per container under the state root
// (--root, default /run/basic-runtime) holding state.json (written atomically) and, between
// `create` and `start`, the FIFO the container's process waits on.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "runtime/spec.h"

namespace bd::ociruntime {

struct ContainerState {
  std::string id;
  std::string bundle;
  std::string created;  // RFC 3339
  pid_t pid = 0;
  uint64_t start_time = 0;  // of `pid`, so a recycled pid is never taken for the container
  std::map<std::string, std::string> annotations;
  runtime::Spec spec;
};

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  std::string Dir(const std::string& id) const { return root_ + "/" + id; }
  std::string Fifo(const std::string& id) const { return Dir(id) + "/exec.fifo"; }

  // Creates the container's directory and takes its create lock (a POSIX record lock, which
  // the container's process does not inherit); fails if the id is taken or malformed. The
  // returned descriptor holds the lock until `create` or `run` has finished.
  Result<UniqueFd> Reserve(const std::string& id) const;
  // Whether a create of `id` still holds its lock (a record whose pid is 0 is then "creating";
  // otherwise that create died half-way and the record reads as stopped, for `delete`).
  bool Creating(const std::string& id) const;
  Status Save(const ContainerState& state) const;
  // NotFound with runc's wording ("container \"ID\" does not exist") when there is none.
  Result<ContainerState> Load(const std::string& id) const;
  Status Remove(const std::string& id) const;
  std::vector<std::string> List() const;

 private:
  std::string root_;
};

// "created", "running", "paused" or "stopped", from the process and the cgroup as they are now.
std::string StatusOf(const StateStore& store, const ContainerState& state);

// What `state` prints: the OCI state object.
std::string StateJson(const StateStore& store, const ContainerState& state);

// Container ids as runc accepts them: letters, digits, '_', '+', '-', '.'; not "." or "..".
Status ValidateId(const std::string& id);

}  // namespace bd::ociruntime
