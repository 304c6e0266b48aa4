// Resolving a container's user ("name", "uid", "name:group", "uid:gid") against the image's
// /etc/passwd and /etc/group contents, and finding executables on the container's PATH.
// Pure functions over strings: tested without root, used inside the container after pivot_root.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::runtime {

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::string home = "/";
};

Result<ResolvedUser> ResolveUser(std::string_view spec, std::string_view passwd,
                                 std::string_view group);

// The value of `key` in a "K=V" list (the last one wins), or nullopt.
std::optional<std::string_view> FindEnv(const std::vector<std::string>& env, std::string_view key);

// Docker's default PATH when the image sets none.
inline constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace bd::runtime
