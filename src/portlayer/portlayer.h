// The port layer: every change to a container is gathered on a Handle and applied by one Commit.
//
// A Handle is a snapshot of one container's desired elements (its rootfs, its task, later its
// mounts and capsules). Join adds an element, Bind activates it, Unbind deactivates it, Leave
// removes it; nothing touches the system until Commit. Commit asks each element's Component for
// the actual state, applies only the difference and reports each element as SUCCESS, ERROR or
// NOOP with a message. It is atomic: when one element fails, the ones it already changed are
// reverted, so the container is left as it was. Doing the same thing twice is a NOOP.
// Each element's configuration is its component's own struct (an ElementConfig). A handle may
// carry the version of the container it was made from: a Commit after the container changed
// fails with Conflict and changes nothing (optimistic concurrency: two clients never silently
// overwrite each other), as the registry's version check decides.
// Handles and components are used from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::portlayer {

// How far an element is brought into the container.
enum class Level { kAbsent = 0, kJoined = 1, kBound = 2 };

enum class Outcome { kSuccess, kError, kNoop };
std::string_view OutcomeName(Outcome o);  // "SUCCESS", "ERROR", "NOOP"
std::string_view LevelName(Level l);

// A component's configuration of one element: each component derives its own struct.
struct ElementConfig {
  virtual ~ElementConfig() = default;
};

struct Element {
  std::string id;         // unique within the handle, e.g. "rootfs", "task", "capsule:libssl:1.1"
  std::string component;  // which Component applies it
  std::shared_ptr<const ElementConfig> config;  // the component's own struct; may be null
  Level desired = Level::kJoined;

  // The configuration as the component's struct `T`, or null when it is not one.
  template <typename T>
  const T* Config() const {
    return dynamic_cast<const T*>(config.get());
  }
};

class Handle;

// Knows how to bring one kind of element to a level on the real system.
class Component {
 public:
  virtual ~Component() = default;
  virtual std::string_view Name() const = 0;
  // The element's actual level now.
  virtual Result<Level> Observe(const Handle& h, const Element& e) = 0;
  // Moves the element from `from` to `to` (one step or several).
  virtual Status Apply(Handle& h, const Element& e, Level from, Level to) = 0;
};

class Handle {
 public:
  // `version`: the container's version this handle was made from (-1: no check).
  explicit Handle(std::string container_id, int64_t version = -1)
      : container_id_(std::move(container_id)), version_(version) {}

  const std::string& container_id() const { return container_id_; }
  int64_t version() const { return version_; }

  // Adds `e` (at least kJoined). Joining an element that is already there keeps its level.
  Handle& Join(Element e);
  // Activates `id`, or every element when `id` is empty.
  Status Bind(std::string_view id = {});
  // Deactivates `id` (back to kJoined), or every element when `id` is empty.
  Status Unbind(std::string_view id = {});
  // Marks `id` to be removed, or every element when `id` is empty.
  Status Leave(std::string_view id = {});

  const std::vector<Element>& elements() const { return elements_; }
  const Element* Find(std::string_view id) const;

 private:
  Status SetLevel(std::string_view id, Level level, std::string_view verb);
  std::string container_id_;
  int64_t version_;
  std::vector<Element> elements_;
};

// One element's part of a Commit: its outcome, the Status behind an ERROR (the element's own
// failure, or, for one rolled back or not applied, the first failure's code with why), and a
// line of detail ("joined -> bound", "already bound").
struct ElementResult {
  std::string element;
  Outcome outcome = Outcome::kNoop;
  Status status;
  std::string detail;
};

class CommitResult {
 public:
  bool IsError() const;
  // Every element, in the order Commit handled them.
  std::vector<ElementResult> Elements() const;
  const std::map<std::string, Outcome>& Results() const { return results_; }
  const std::map<std::string, std::string>& Detail() const { return detail_; }
  // Element ids in the order Commit handled them.
  const std::vector<std::string>& Order() const { return order_; }
  // The first failing element's status (OK if none failed).
  const Status& FirstError() const { return first_error_; }

  // `st`: an ERROR's Status; by default one of the first error's code with `detail`.
  void Set(const std::string& id, Outcome o, std::string detail, std::optional<Status> st = std::nullopt);
  void SetFirstError(Status st) {
    if (first_error_.ok()) first_error_ = std::move(st);
  }

 private:
  std::map<std::string, Outcome> results_;
  std::map<std::string, std::string> detail_;
  std::map<std::string, Status> status_;
  std::vector<std::string> order_;
  Status first_error_;
};

// Says whether the container of a versioned handle is still at the handle's version: OK, or
// Conflict naming what changed.
using VersionCheck = std::function<Status(const Handle&)>;

class Registry {
 public:
  void Register(std::unique_ptr<Component> c);
  Component* Get(std::string_view name) const;
  void SetVersionCheck(VersionCheck check) { version_check_ = std::move(check); }
  const VersionCheck& version_check() const { return version_check_; }

 private:
  std::map<std::string, std::unique_ptr<Component>, std::less<>> components_;
  VersionCheck version_check_;
};

// Applies the handle. A versioned handle whose container changed is refused first (every
// element ERROR, the Conflict as the first error). Deactivations and removals run first, in
// reverse join order; activations follow in join order. On the first ERROR every change made
// so far is reverted.
CommitResult Commit(Handle& handle, const Registry& registry);

}  // namespace bd::portlayer
