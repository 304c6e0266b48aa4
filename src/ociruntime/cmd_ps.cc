// basic-runtime ps and list.
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

int Ps(Global& g, const Args& a) {
  auto s = Target(g, a, "ps [--format table|json] CONTAINER [PS OPTIONS...]", SIZE_MAX);
  if (!s.ok()) return Fail(g, s.status());
  std::vector<pid_t> pids = runtime::CgroupProcesses(runtime::PlanFor(s->spec));
  std::string format = a.Get("format", "table");
  if (format == "json") {
    (void)os::WriteAll(STDOUT_FILENO, json(pids).dump() + "\n");
    return 0;
  }
  if (format != "table") {
    g.log.Error("invalid format option \"" + format + "\": use table or json");
    return 1;
  }
  // Table: ps(1) with the given options (default -ef), keeping the header and our processes.
  std::vector<std::string> ps_args = {"ps"};
  if (a.positional.size() > 1) {
    ps_args.insert(ps_args.end(), a.positional.begin() + 1, a.positional.end());
  } else {
    ps_args.push_back("-ef");
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& s2 : ps_args) argv.push_back(s2.data());
    argv.push_back(nullptr);
    ::execvp("ps", argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  UniqueFd rd(out[0]);
  auto text = os::ReadAll(rd.get());
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!text.ok() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    g.log.Error("ps failed");
    return 1;
  }
  auto lines = Split(*text, '\n');
  if (lines.empty()) return 0;
  size_t pid_col = 0;
  auto header = SplitFields(lines[0]);
  while (pid_col < header.size() && header[pid_col] != "PID") ++pid_col;
  if (pid_col == header.size()) {
    g.log.Error("no PID column in ps output");
    return 1;
  }
  std::string result = lines[0] + "\n";
  std::set<pid_t> wanted(pids.begin(), pids.end());
  for (size_t i = 1; i < lines.size(); ++i) {
    auto fields = SplitFields(lines[i]);
    if (fields.size() <= pid_col) continue;
    auto pid = ParseInt(fields[pid_col]);
    if (pid && wanted.count(static_cast<pid_t>(*pid))) result += lines[i] + "\n";
  }
  (void)os::WriteAll(STDOUT_FILENO, result);
  return 0;
}

// Columns as runc's tabwriter lays them out: each at least 12 wide, 3 spaces after the widest
// cell, the last unpadded.
std::string AlignColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (width.size() <= i) width.resize(i + 1, 12);
      width[i] = std::max(width[i], row[i].size() + 3);
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(width[i] - row[i].size(), ' ');
    }
    out += "\n";
  }
  return out;
}

int List(Global& g, const Args& a) {
  std::string format = a.Get("format", "table");
  if (format != "table" && format != "json") {
    return Fail(g, Status::InvalidArgument("invalid format \"" + format + "\": use table or json"));
  }
  json all = json::array();
  std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
  std::string quiet;
  for (const std::string& id : g.store.List()) {
    auto s = g.store.Load(id);
    if (!s.ok()) continue;
    quiet += id + "\n";
    std::string status = StatusOf(g.store, *s);
    pid_t pid = status == "stopped" ? 0 : s->pid;
    all.push_back({{"ociVersion", "1.0.2"}, {"id", id}, {"pid", pid}, {"status", status},
                   {"bundle", s->bundle}, {"rootfs", s->spec.rootfs}, {"created", s->created},
                   {"owner", "root"}});
    rows.push_back({id, std::to_string(pid), status, s->bundle, s->created, "root"});
  }
  std::string out = a.Has("quiet") ? quiet : format == "json" ? all.dump() + "\n" : AlignColumns(rows);
  (void)os::WriteAll(STDOUT_FILENO, out);
  return 0;
}

}  // namespace bd::ociruntime
