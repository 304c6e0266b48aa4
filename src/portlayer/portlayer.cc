#include "portlayer/portlayer.h"

namespace bd::portlayer {

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSuccess: return "SUCCESS";
    case Outcome::kError: return "ERROR";
    case Outcome::kNoop: return "NOOP";
  }
  return "?";
}

std::string_view LevelName(Level l) {
  switch (l) {
    case Level::kAbsent: return "absent";
    case Level::kJoined: return "joined";
    case Level::kBound: return "bound";
  }
  return "?";
}

Handle& Handle::Join(Element e) {
  for (Element& existing : elements_) {
    if (existing.id == e.id) {
      existing.component = std::move(e.component);
      existing.config = std::move(e.config);
      if (existing.desired == Level::kAbsent) existing.desired = Level::kJoined;
      return *this;
    }
  }
  if (e.desired == Level::kAbsent) e.desired = Level::kJoined;
  elements_.push_back(std::move(e));
  return *this;
}

Status Handle::SetLevel(std::string_view id, Level level, std::string_view verb) {
  bool found = false;
  for (Element& e : elements_) {
    if (!id.empty() && e.id != id) continue;
    found = true;
    if (level == Level::kBound && e.desired == Level::kAbsent) {
      return Status::FailedPrecondition("cannot bind `" + e.id + "`: it is leaving the handle");
    }
    e.desired = level;
  }
  if (!found && !id.empty()) {
    return Status::NotFound(std::string(verb) + ": no element `" + std::string(id) +
                            "` on the handle of " + container_id_);
  }
  return {};
}

Status Handle::Bind(std::string_view id) { return SetLevel(id, Level::kBound, "bind"); }
Status Handle::Unbind(std::string_view id) { return SetLevel(id, Level::kJoined, "unbind"); }
Status Handle::Leave(std::string_view id) { return SetLevel(id, Level::kAbsent, "leave"); }

const Element* Handle::Find(std::string_view id) const {
  for (const Element& e : elements_) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

bool CommitResult::IsError() const {
  for (const auto& [id, o] : results_) {
    if (o == Outcome::kError) return true;
  }
  return false;
}

void CommitResult::Set(const std::string& id, Outcome o, std::string detail, std::optional<Status> st) {
  if (!results_.count(id)) order_.push_back(id);
  results_[id] = o;
  if (o != Outcome::kError) {
    status_[id] = Status();
  } else if (st) {
    status_[id] = std::move(*st);
  } else {
    status_[id] = Status::FromCode(first_error_.ok() ? Code::kInternal : first_error_.code(), detail);
  }
  detail_[id] = std::move(detail);
}

std::vector<ElementResult> CommitResult::Elements() const {
  std::vector<ElementResult> out;
  for (const std::string& id : order_) out.push_back({id, results_.at(id), status_.at(id), detail_.at(id)});
  return out;
}

void Registry::Register(std::unique_ptr<Component> c) {
  std::string name(c->Name());
  components_[name] = std::move(c);
}

Component* Registry::Get(std::string_view name) const {
  auto it = components_.find(name);
  return it == components_.end() ? nullptr : it->second.get();
}

CommitResult Commit(Handle& handle, const Registry& registry) {
  CommitResult result;
  struct Step {
    const Element* element;
    Component* component;
    Level actual;
  };
  std::vector<Step> down, up;
  if (handle.version() >= 0 && registry.version_check()) {
    if (Status st = registry.version_check()(handle); !st.ok()) {
      for (const Element& e : handle.elements()) result.Set(e.id, Outcome::kError, st.message(), st);
      result.SetFirstError(st);
      return result;
    }
  }
  // Observe everything first: a handle whose state cannot be read changes nothing.
  for (const Element& e : handle.elements()) {
    Component* c = registry.Get(e.component);
    if (!c) {
      Status st = Status::Internal("no component `" + e.component + "` for element `" + e.id + "`");
      result.Set(e.id, Outcome::kError, st.message(), st);
      result.SetFirstError(st);
      continue;
    }
    auto actual = c->Observe(handle, e);
    if (!actual.ok()) {
      result.Set(e.id, Outcome::kError, actual.status().message(), actual.status());
      result.SetFirstError(actual.status().WithContext(e.id));
      continue;
    }
    if (*actual == e.desired) continue;
    (*actual > e.desired ? down : up).push_back({&e, c, *actual});
  }
  if (!result.FirstError().ok()) {
    for (const Element& e : handle.elements()) {
      if (!result.Results().count(e.id)) {
        result.Set(e.id, Outcome::kError, "not applied: the handle could not be observed");
      }
    }
    return result;
  }

  std::vector<Step> plan(down.rbegin(), down.rend());
  plan.insert(plan.end(), up.begin(), up.end());
  std::vector<const Step*> done;
  const Step* failed = nullptr;
  for (const Step& s : plan) {
    Status st = s.component->Apply(handle, *s.element, s.actual, s.element->desired);
    if (!st.ok()) {
      result.SetFirstError(st);
      result.Set(s.element->id, Outcome::kError, st.message(), st);
      failed = &s;
      break;
    }
    done.push_back(&s);
  }
  if (failed) {
    // Put back what was changed, newest first.
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      const Step& s = **it;
      Status undo = s.component->Apply(handle, *s.element, s.element->desired, s.actual);
      result.Set(s.element->id, Outcome::kError,
                 undo.ok() ? "rolled back because `" + failed->element->id + "` failed"
                           : "rollback failed after `" + failed->element->id +
                                 "` failed: " + undo.message());
    }
    for (const Step& s : plan) {
      if (!result.Results().count(s.element->id)) {
        result.Set(s.element->id, Outcome::kError,
                   "not applied because `" + failed->element->id + "` failed");
      }
    }
  } else {
    for (const Step* s : done) {
      result.Set(s->element->id, Outcome::kSuccess,
                 std::string(LevelName(s->actual)) + " -> " +
                     std::string(LevelName(s->element->desired)));
    }
  }
  for (const Element& e : handle.elements()) {
    if (!result.Results().count(e.id)) {
      result.Set(e.id, Outcome::kNoop, "already " + std::string(LevelName(e.desired)));
    }
  }
  return result;
}

}  // namespace bd::portlayer
