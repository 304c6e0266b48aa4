// The event log behind `events`: one row per event in the state database, appended by the
// process that acted (CLI or shim), read in order by id. Not thread-safe; one per Db.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/filter.h"
#include "store/db.h"

namespace bd::engine {

struct Event {
  int64_t id = 0;
  int64_t time = 0;    // unix nanoseconds
  std::string type;    // "container", "image", "volume", "capsule"
  std::string action;  // Docker's: "create", "start", "die", "destroy", "exec_start: CMD", ...
  std::string actor;   // the container's or image's id, the volume's name, "libssl:1.1.1"
  std::map<std::string, std::string> attributes;
};

// Docker's event filters: `type=`, `event=` (also `action=`), `container=`, `image=`,
// `volume=`, `capsule=`, `label=KEY[=VALUE]`. Values of one key OR together, keys AND; every label term must hold.
struct EventFilter {
  ListFilter filter;  // kEventFilterKeys; `action` is read as `event`
  bool Matches(const Event& e) const;
};
// InvalidArgument naming the filter when a key is unknown or the text has no '='.
Result<EventFilter> ParseEventFilters(const std::vector<std::string>& filters);

// One event as Docker's /events and `docker events --format json` give it: Type, Action,
// Actor {ID, Attributes}, scope, time, timeNano, and for containers and images the older
// status / id / from fields.
std::string EventJson(const Event& e);

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
