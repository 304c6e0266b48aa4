// basic-runtime update.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/time.h"
#include "ociruntime/common.h"
#include "ociruntime/events.h"
#include "ociruntime/state.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "os/signals.h"
#include "os/terminal.h"
#include "runtime/cgroup_resources.h"
#include "runtime/cgroups.h"
#include "runtime/hooks.h"
#include "runtime/launch.h"
#include "runtime/oci_config.h"
#include "runtime/security.h"

namespace bd::ociruntime {

using nlohmann::json;

// "64m", "1g", "1024" (bytes), as runc's --memory takes them; -1 for unlimited.
Result<int64_t> ParseBytes(const std::string& text) {
  if (text == "-1") return -1;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 18) return Status::InvalidArgument("invalid size \"" + text + "\"");
  int64_t n = std::stoll(text.substr(0, i));
  std::string unit = text.substr(i);
  std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();
  static constexpr std::pair<const char*, int> kShift[] = {{"", 0}, {"k", 10}, {"m", 20}, {"g", 30}, {"t", 40}};
  for (const auto& [u, shift] : kShift) {
    if (unit == u) return n << shift;
  }
  return Status::InvalidArgument("invalid size \"" + text + "\"");
}

// `update`: the resources of a running container, from flags or from `-r FILE` (the OCI
// linux.resources JSON, "-" for stdin); flags win over the file, as with runc.
int Update(Global& g, const Args& a) {
  auto s = Target(g, a, "update [OPTIONS] CONTAINER");
  if (!s.ok()) return Fail(g, s.status());
  if (StatusOf(g.store, *s) == "stopped") return Fail(g, Status::FailedPrecondition("container not running"));
  for (const char* refused : {"kernel-memory", "kernel-memory-tcp"}) {
    if (a.Has(refused)) return Fail(g, Status::InvalidArgument(std::string("--") + refused + " is not supported: kernel memory limits are gone from the kernel"));
  }
  if (a.Has("l3-cache-schema") || a.Has("mem-bw-schema")) {
    return Fail(g, Status::InvalidArgument("Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported"));
  }
  // The request as an OCI linux.resources object: the -r file, then the flags over it.
  json r = json::object();
  if (a.Has("r")) {
    std::string path = a.Get("r");
    auto text = path == "-" ? os::ReadAll(STDIN_FILENO) : os::ReadFile(path);
    if (!text.ok()) return Fail(g, text.status().WithContext("-r"));
    r = json::parse(*text, nullptr, false);
    if (!r.is_object()) return Fail(g, Status::InvalidArgument("-r: not a JSON object"));
    r.erase("devices");  // runc's update leaves device rules alone too
  }
  struct Flag {
    const char* flag;
    const char* section;
    const char* key;
    enum { kBytes, kNumber, kText } kind;
  };
  static constexpr Flag kFlagsToResources[] = {
      {"memory", "memory", "limit", Flag::kBytes},
      {"memory-reservation", "memory", "reservation", Flag::kBytes},
      {"memory-swap", "memory", "swap", Flag::kBytes},
      {"cpu-shares", "cpu", "shares", Flag::kNumber},
      {"cpu-quota", "cpu", "quota", Flag::kNumber},
      {"cpu-period", "cpu", "period", Flag::kNumber},
      {"cpu-rt-period", "cpu", "realtimePeriod", Flag::kNumber},
      {"cpu-rt-runtime", "cpu", "realtimeRuntime", Flag::kNumber},
      {"cpu-idle", "cpu", "idle", Flag::kNumber},
      {"cpuset-cpus", "cpu", "cpus", Flag::kText},
      {"cpuset-mems", "cpu", "mems", Flag::kText},
      {"pids-limit", "pids", "limit", Flag::kNumber},
      {"blkio-weight", "blockIO", "weight", Flag::kNumber},
  };
  for (const Flag& f : kFlagsToResources) {
    if (!a.Has(f.flag)) continue;
    std::string v = a.Get(f.flag);
    json value;
    if (f.kind == Flag::kText) {
      value = v;
    } else if (f.kind == Flag::kBytes) {
      auto n = ParseBytes(v);
      if (!n.ok()) return Fail(g, n.status().WithContext(std::string("--") + f.flag));
      value = *n;
    } else {
      auto n = ParseInt(v);
      if (!n) return Fail(g, Status::InvalidArgument(std::string("--") + f.flag + ": \"" + v + "\" is not a number"));
      value = *n;
    }
    r[f.section][f.key] = value;
  }
  if (r.empty()) return Fail(g, Status::InvalidArgument("update: nothing to update (see update --help)"));
  runtime::CgroupPlan plan = runtime::PlanFor(s->spec);
  auto writes = runtime::ResourceWrites(r.dump(), [&](std::string_view c) { return runtime::ControllerDirOf(plan, c); });
  if (!writes.ok()) return Fail(g, writes.status());
  // Every cgroup must be there before anything is written: nothing changes on an error.
  for (const runtime::CgroupWrite& w : *writes) {
    if (!os::IsDir(os::Dirname(w.file))) {
      return Fail(g, Status::FailedPrecondition("the container has no cgroup at `" + os::Dirname(w.file) +
                                                "`, so `" + os::Basename(w.file) + "` cannot be set"));
    }
  }
  Status st = runtime::WriteCgroupFiles(*writes);
  return st.ok() ? 0 : Fail(g, st);
}

}  // namespace bd::ociruntime
