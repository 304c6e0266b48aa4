// The port layer: every change to a container is gathered on a Handle and applied by one Commit.
//
// A Handle is a snapshot of one container's desired elements (its rootfs, its task, later its
// mounts and capsules). Join adds an element, Bind activates it, Unbind deactivates it, Leave
// removes it; nothing touches the system until Commit. Commit asks each element's Component for
// the actual state, applies only the difference and reports each element as SUCCESS, ERROR or
// NOOP with a message. It is atomic: when one element fails, the ones it already changed are
// reverted, so the container is left as it was. Doing the same thing twice is a NOOP.
// Handles and components are used from one thread at a time.
#pragma once

#include <map>
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

struct Element {
  std::string id;         // unique within the handle, e.g. "rootfs", "task", "capsule:libssl:1.1"
  std::string component;  // which Component applies it
  std::string config;     // component-specific (JSON); opaque to the port layer
  Level desired = Level::kJoined;
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
  explicit Handle(std::string container_id) : container_id_(std::move(container_id)) {}

  const std::string& container_id() const { return container_id_; }

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

  // Per-handle scratch values for components (not persisted): e.g. attached stdio.
  void SetContext(std::string key, void* value) { context_[std::move(key)] = value; }
  void* Context(const std::string& key) const {
    auto it = context_.find(key);
    return it == context_.end() ? nullptr : it->second;
  }

 private:
  Status SetLevel(std::string_view id, Level level, std::string_view verb);
  std::string container_id_;
  std::vector<Element> elements_;
  std::map<std::string, void*> context_;
};

class CommitResult {
 public:
  bool IsError() const;
  const std::map<std::string, Outcome>& Results() const { return results_; }
  const std::map<std::string, std::string>& Detail() const { return detail_; }
  // Element ids in the order Commit handled them.
  const std::vector<std::string>& Order() const { return order_; }
  // The first failing element's status (OK if none failed).
  const Status& FirstError() const { return first_error_; }

  void Set(const std::string& id, Outcome o, std::string detail);
  void SetFirstError(Status st) {
    if (first_error_.ok()) first_error_ = std::move(st);
  }

 private:
  std::map<std::string, Outcome> results_;
  std::map<std::string, std::string> detail_;
  std::vector<std::string> order_;
  Status first_error_;
};

class Registry {
 public:
  void Register(std::unique_ptr<Component> c);
  Component* Get(std::string_view name) const;

 private:
  std::map<std::string, std::unique_ptr<Component>, std::less<>> components_;
};

// Applies the handle. Deactivations and removals run first, in reverse join order; activations
// follow in join order. On the first ERROR every change made so far is reverted.
CommitResult Commit(Handle& handle, const Registry& registry);

}  // namespace bd::portlayer
