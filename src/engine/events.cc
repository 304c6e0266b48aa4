#include "engine/events.h"

#include <nlohmann/json.hpp>

#include "base/time.h"

namespace bd::engine {

using nlohmann::json;

namespace {

// The attribute `key` of `e`, or null.
const std::string* Attribute(const Event& e, const std::string& key) {
  auto it = e.attributes.find(key);
  return it == e.attributes.end() ? nullptr : &it->second;
}

// Whether `v` names the container an event concerns: its id, an id prefix of at least four
// characters, or its name. The container is the actor of container events and the
// "container" attribute of others (a capsule attached to it).
bool ConcernsContainer(const Event& e, const std::string& v) {
  const std::string* id = e.type == "container" ? &e.actor : Attribute(e, "container");
  if (!id || id->empty()) return false;
  const std::string* name = Attribute(e, "name");
  return *id == v || (v.size() >= 4 && id->rfind(v, 0) == 0) || (name && *name == v);
}

}  // namespace

Result<EventFilter> ParseEventFilters(const std::vector<std::string>& filters) {
  static constexpr std::string_view kKeys[] = {"type", "event", "action", "container", "image",
                                               "volume", "capsule", "label"};
  EventFilter out;
  for (const std::string& text : filters) {
    size_t eq = text.find('=');
    std::string key = text.substr(0, eq);
    bool known = false;
    for (std::string_view k : kKeys) known |= key == k;
    if (eq == std::string::npos || !known) {
      return Status::InvalidArgument("invalid filter \"" + text +
                                     "\": use type=, event=, container=, image=, volume=, capsule= or label=");
    }
    out.values[key == "action" ? "event" : key].push_back(text.substr(eq + 1));
  }
  return out;
}

bool EventFilter::Matches(const Event& e) const {
  for (const auto& [key, wanted] : values) {
    bool any = false;
    for (const std::string& v : wanted) {
      if (key == "type") {
        any |= e.type == v;
      } else if (key == "event") {
        // "exec_start: sh -c x" is an exec_start, as Docker filters it.
        any |= e.action == v || e.action.rfind(v + ":", 0) == 0;
      } else if (key == "container") {
        any |= ConcernsContainer(e, v);
      } else if (key == "image") {
        const std::string* image = Attribute(e, "image");
        const std::string* name = Attribute(e, "name");
        any |= (e.type == "image" && (e.actor == v || (name && *name == v))) || (image && *image == v);
      } else if (key == "volume") {
        any |= e.type == "volume" && e.actor == v;
      } else if (key == "capsule") {
        any |= e.type == "capsule" && (e.actor == v || e.actor.rfind(v + ":", 0) == 0);
      } else if (key == "label") {
        size_t eq = v.find('=');
        const std::string* have = Attribute(e, v.substr(0, eq));
        any |= have && (eq == std::string::npos || *have == v.substr(eq + 1));
      }
    }
    if (!any) return false;
  }
  return true;
}

std::string EventJson(const Event& e) {
  json j = {{"Type", e.type},
            {"Action", e.action},
            {"Actor", {{"ID", e.actor}, {"Attributes", e.attributes}}},
            {"scope", "local"},
            {"time", e.time / 1'000'000'000},
            {"timeNano", e.time}};
  if (e.type == "container" || e.type == "image") {
    j["status"] = e.action;
    j["id"] = e.actor;
    if (const std::string* image = Attribute(e, "image")) j["from"] = *image;
  }
  return j.dump();
}

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
