// The event log behind `events`: one row per event in the state database, appended by the
// process that acted (CLI or shim), read in order by id. Not thread-safe; one per Db.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/db.h"

namespace bd::engine {

struct Event {
  int64_t id = 0;
  int64_t time = 0;    // unix nanoseconds
  std::string type;    // "capsule", "container", ...
  std::string action;  // "create", "attach", "detach", "rm", "gc", ...
  std::string actor;   // e.g. "libssl:1.1.1"
  std::map<std::string, std::string> attributes;
};

class EventLog {
 public:
  explicit EventLog(store::Db* db) : db_(db) {}
  Status Emit(const std::string& type, const std::string& action, const std::string& actor,
              const std::map<std::string, std::string>& attributes = {});
  // Events with id > `after_id` and time in [since, until] (until 0: no bound), oldest first.
  Result<std::vector<Event>> Read(int64_t after_id, int64_t since, int64_t until);

 private:
  store::Db* db_;
};

}  // namespace bd::engine
