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
  BD_ASSIGN_OR_RETURN(ListFilter f, ListFilter::Parse(filters, kEventFilterKeys, "events"));
  f.SetShowHidden(true);  // what infrastructure did is part of the record
  return EventFilter{std::move(f)};
}

bool EventFilter::Matches(const Event& e) const {
  return filter.Any("type", [&](const std::string& v) { return e.type == v; }) &&
         // "exec_start: sh -c x" is an exec_start, as Docker filters it.
         filter.Any("event", [&](const std::string& v) { return e.action == v || e.action.rfind(v + ":", 0) == 0; }) &&
         filter.Any("container", [&](const std::string& v) { return ConcernsContainer(e, v); }) &&
         filter.Any("image", [&](const std::string& v) {
           const std::string* image = Attribute(e, "image");
           const std::string* name = Attribute(e, "name");
           return (e.type == "image" && (e.actor == v || (name && *name == v))) || (image && *image == v);
         }) &&
         filter.Any("volume", [&](const std::string& v) { return e.type == "volume" && e.actor == v; }) &&
         filter.Any("capsule", [&](const std::string& v) {
           return e.type == "capsule" && (e.actor == v || e.actor.rfind(v + ":", 0) == 0);
         }) &&
         filter.MatchesLabels(e.attributes);  // every label term, as Docker's MatchKVList
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
