#include "runtime/user.h"

#include "base/strings.h"

namespace bd::runtime {
namespace {

bool IsNumeric(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

Result<ResolvedUser> ResolveUser(std::string_view spec, std::string_view passwd,
                                 std::string_view group) {
  ResolvedUser out;
  std::string_view user_part = spec, group_part;
  bool has_group = false;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    user_part = spec.substr(0, colon);
    group_part = spec.substr(colon + 1);
    has_group = true;
  }
  if (user_part.empty()) user_part = "0";
  std::string user_name;
  bool found = false;
  for (const std::string& line : Split(passwd, '\n')) {
    auto f = Split(line, ':');  // name:pw:uid:gid:gecos:home:shell
    if (f.size() < 7) continue;
    bool match = IsNumeric(user_part) ? f[2] == user_part : f[0] == user_part;
    if (!match) continue;
    auto uid = ParseInt(f[2]);
    auto gid = ParseInt(f[3]);
    if (!uid || !gid) continue;
    out.uid = static_cast<uid_t>(*uid);
    out.gid = static_cast<gid_t>(*gid);
    out.home = f[5].empty() ? "/" : f[5];
    user_name = f[0];
    found = true;
    break;
  }
  if (!found) {
    if (!IsNumeric(user_part)) {
      return Status::NotFound("unable to find user " + std::string(user_part) +
                              ": no matching entries in passwd file");
    }
    auto uid = ParseInt(user_part);
    if (!uid || *uid > 0xfffffffe) return Status::InvalidArgument("invalid uid " + std::string(user_part));
    out.uid = static_cast<uid_t>(*uid);
    out.gid = 0;
  }
  if (has_group) {
    if (IsNumeric(group_part)) {
      auto gid = ParseInt(group_part);
      if (!gid || *gid > 0xfffffffe) {
        return Status::InvalidArgument("invalid gid " + std::string(group_part));
      }
      out.gid = static_cast<gid_t>(*gid);
    } else {
      bool group_found = false;
      for (const std::string& line : Split(group, '\n')) {
        auto f = Split(line, ':');  // name:pw:gid:members
        if (f.size() < 3 || f[0] != group_part) continue;
        if (auto gid = ParseInt(f[2])) {
          out.gid = static_cast<gid_t>(*gid);
          group_found = true;
          break;
        }
      }
      if (!group_found) {
        return Status::NotFound("unable to find group " + std::string(group_part) +
                                ": no matching entries in group file");
      }
    }
  }
  if (!user_name.empty()) {
    for (const std::string& line : Split(group, '\n')) {
      auto f = Split(line, ':');
      if (f.size() < 4) continue;
      for (const std::string& member : Split(f[3], ',')) {
        if (member != user_name) continue;
        if (auto gid = ParseInt(f[2]); gid && static_cast<gid_t>(*gid) != out.gid) {
          out.additional_gids.push_back(static_cast<gid_t>(*gid));
        }
      }
    }
  }
  return out;
}

std::optional<std::string_view> FindEnv(const std::vector<std::string>& env,
                                        std::string_view key) {
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    std::string_view kv = *it;
    if (kv.size() > key.size() && kv.substr(0, key.size()) == key && kv[key.size()] == '=') {
      return kv.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

}  // namespace bd::runtime
