// Mounts with Status errors, and ScopedMount, which detaches its mount on destruction unless
// released. Thread-safe (no shared state); mounts act on the caller's mount namespace.
#pragma once

#include <string>
#include <utility>

#include "base/status.h"

namespace bd::os {

Status Mount(const std::string& source, const std::string& target, const std::string& type,
             unsigned long flags, const std::string& data = "");
Status Unmount(const std::string& target, int flags = 0);

class ScopedMount {
 public:
  static Result<ScopedMount> Make(const std::string& source, const std::string& target,
                                  const std::string& type, unsigned long flags,
                                  const std::string& data = "");
  ScopedMount(ScopedMount&& o) noexcept : target_(std::exchange(o.target_, {})) {}
  ScopedMount& operator=(ScopedMount&&) = delete;
  ScopedMount(const ScopedMount&) = delete;
  ~ScopedMount();
  const std::string& target() const { return target_; }
  // Keeps the mount; returns its target.
  std::string Release() { return std::exchange(target_, {}); }

 private:
  explicit ScopedMount(std::string target) : target_(std::move(target)) {}
  std::string target_;
};

}  // namespace bd::os
