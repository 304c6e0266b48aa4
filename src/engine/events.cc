#include "engine/events.h"

#include <nlohmann/json.hpp>

#include "base/time.h"

namespace bd::engine {

using nlohmann::json;

Status EventLog::Emit(const std::string& type, const std::string& action, const std::string& actor,
                      const std::map<std::string, std::string>& attributes) {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare("INSERT INTO events (time, type, action, actor, attributes) "
                                   "VALUES (?, ?, ?, ?, ?)"));
  st.BindAll(NowNanos(), type, action, actor, json(attributes).dump());
  return st.Run();
}

Result<std::vector<Event>> EventLog::Read(int64_t after_id, int64_t since, int64_t until) {
  BD_ASSIGN_OR_RETURN(store::Statement st,
                      db_->Prepare("SELECT id, time, type, action, actor, attributes FROM events "
                                   "WHERE id > ? AND time >= ? AND (? = 0 OR time <= ?) ORDER BY id"));
  st.BindAll(after_id, since, until, until);
  std::vector<Event> out;
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    Event e{st.Int(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4), {}};
    json attrs = json::parse(st.Text(5), nullptr, false);
    if (attrs.is_object()) {
      for (const auto& [k, v] : attrs.items()) {
        if (v.is_string()) e.attributes[k] = v.get<std::string>();
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace bd::engine
