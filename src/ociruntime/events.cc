#include "ociruntime/events.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "os/fs.h"

namespace bd::ociruntime {

using nlohmann::json;

namespace {

std::string Read(const std::string& path) {
  auto text = os::ReadFile(path);
  return text.ok() ? std::string(TrimSpace(*text)) : std::string();
}

// A number file; "max" (v2's unlimited) and unreadable files are 0.
uint64_t Number(const std::string& path) {
  std::string text = Read(path);
  auto n = ParseInt(text);
  return n && *n > 0 ? static_cast<uint64_t>(*n) : 0;
}

// "key value" lines (memory.stat, cpu.stat, memory.events) as an object.
json KeyValues(const std::string& path) {
  json out = json::object();
  auto text = os::ReadFile(path);
  if (!text.ok()) return out;
  for (const std::string& line : Split(*text, '\n')) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    if (auto n = ParseInt(TrimSpace(std::string_view(line).substr(space + 1)))) out[line.substr(0, space)] = *n;
  }
  return out;
}

uint64_t Key(const json& kv, const char* key) {
  return kv.contains(key) ? kv[key].get<uint64_t>() : 0;
}

// blkio's "MAJ:MIN Op Value" lines as runc's entries.
json BlkioEntries(const std::string& path) {
  json out = json::array();
  auto text = os::ReadFile(path);
  if (!text.ok()) return out;
  for (const std::string& line : Split(*text, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() != 3) continue;
    auto dev = Split(f[0], ':');
    auto value = ParseInt(f[2]);
    if (dev.size() != 2 || !value) continue;
    out.push_back({{"major", ParseInt(dev[0]).value_or(0)}, {"minor", ParseInt(dev[1]).value_or(0)},
                   {"op", f[1]}, {"value", *value}});
  }
  return out;
}

json HugetlbStats(const std::string& dir, bool v2) {
  json out = json::object();
  if (dir.empty()) return out;
  auto names = os::ListDir(dir);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    // hugetlb.2MB.usage_in_bytes (v1) or hugetlb.2MB.current (v2)
    std::string suffix = v2 ? ".current" : ".usage_in_bytes";
    if (n.rfind("hugetlb.", 0) != 0 || n.size() <= suffix.size() + 8 ||
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0 || n.find(".rsvd.") != std::string::npos) {
      continue;
    }
    std::string size = n.substr(8, n.size() - 8 - suffix.size());
    std::string base = dir + "/hugetlb." + size;
    out[size] = {{"usage", Number(base + suffix)},
                 {"max", Number(base + (v2 ? ".max" : ".max_usage_in_bytes"))},
                 {"failcnt", v2 ? Key(KeyValues(base + ".events"), "max") : Number(base + ".failcnt")}};
  }
  return out;
}

}  // namespace

std::string StatsJson(const runtime::CgroupPlan& plan) {
  json data = json::object();
  bool v2 = plan.layout == runtime::CgroupLayout::kV2;
  if (v2 && !plan.dirs.empty()) {
    const std::string& d = plan.dirs[0];
    json cpu = KeyValues(d + "/cpu.stat");
    data["cpu"] = {{"usage", {{"total", Key(cpu, "usage_usec") * 1000}, {"kernel", Key(cpu, "system_usec") * 1000},
                              {"user", Key(cpu, "user_usec") * 1000}}},
                   {"throttling", {{"periods", Key(cpu, "nr_periods")}, {"throttled_periods", Key(cpu, "nr_throttled")},
                                   {"throttled_time", Key(cpu, "throttled_usec") * 1000}}}};
    json raw = KeyValues(d + "/memory.stat");
    data["memory"] = {{"cache", Key(raw, "file")},
                      {"usage", {{"usage", Number(d + "/memory.current")}, {"limit", Number(d + "/memory.max")},
                                 {"max", Number(d + "/memory.peak")},
                                 {"failcnt", Key(KeyValues(d + "/memory.events"), "max")}}},
                      {"swap", {{"usage", Number(d + "/memory.swap.current")}, {"limit", Number(d + "/memory.swap.max")}}},
                      {"raw", raw}};
    data["pids"] = {{"current", Number(d + "/pids.current")}, {"limit", Number(d + "/pids.max")}};
    data["hugetlb"] = HugetlbStats(d, true);
    return data.dump();
  }
  if (std::string d = runtime::ControllerDirOf(plan, "cpuacct").dir; !d.empty()) {
    json percpu = json::array();
    for (const std::string& v : Split(Read(d + "/cpuacct.usage_percpu"), ' ')) {
      if (auto n = ParseInt(v)) percpu.push_back(*n);
    }
    // cpuacct.stat counts USER_HZ ticks.
    json ticks = KeyValues(d + "/cpuacct.stat");
    uint64_t ns_per_tick = 1000000000ULL / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    data["cpu"]["usage"] = {{"total", Number(d + "/cpuacct.usage")}, {"percpu", percpu},
                            {"kernel", Key(ticks, "system") * ns_per_tick}, {"user", Key(ticks, "user") * ns_per_tick}};
  }
  if (std::string d = runtime::ControllerDirOf(plan, "cpu").dir; !d.empty()) {
    json cpu = KeyValues(d + "/cpu.stat");
    data["cpu"]["throttling"] = {{"periods", Key(cpu, "nr_periods")}, {"throttled_periods", Key(cpu, "nr_throttled")},
                                 {"throttled_time", Key(cpu, "throttled_time")}};
  }
  if (std::string d = runtime::ControllerDirOf(plan, "memory").dir; !d.empty()) {
    auto entry = [&](const std::string& prefix) {
      return json{{"usage", Number(d + "/" + prefix + "usage_in_bytes")},
                  {"max", Number(d + "/" + prefix + "max_usage_in_bytes")},
                  {"failcnt", Number(d + "/" + prefix + "failcnt")},
                  {"limit", Number(d + "/" + prefix + "limit_in_bytes")}};
    };
    json raw = KeyValues(d + "/memory.stat");
    data["memory"] = {{"cache", Key(raw, "cache")}, {"usage", entry("memory.")}, {"swap", entry("memory.memsw.")},
                      {"kernel", entry("memory.kmem.")}, {"kernelTCP", entry("memory.kmem.tcp.")}, {"raw", raw}};
  }
  if (std::string d = runtime::ControllerDirOf(plan, "pids").dir; !d.empty()) {
    data["pids"] = {{"current", Number(d + "/pids.current")}, {"limit", Number(d + "/pids.max")}};
  }
  if (std::string d = runtime::ControllerDirOf(plan, "blkio").dir; !d.empty()) {
    data["blkio"] = {{"ioServiceBytesRecursive", BlkioEntries(d + "/blkio.throttle.io_service_bytes_recursive")},
                     {"ioServicedRecursive", BlkioEntries(d + "/blkio.throttle.io_serviced_recursive")}};
  }
  runtime::ControllerDir huge = runtime::ControllerDirOf(plan, "hugetlb");  // unified on a hybrid host
  data["hugetlb"] = HugetlbStats(huge.dir, huge.v2);
  return data.dump();
}

std::string EventLine(std::string_view type, const std::string& id, const std::string& data_json) {
  json line = {{"type", std::string(type)}, {"id", id}};
  if (!data_json.empty()) line["data"] = json::parse(data_json);
  return line.dump() + "\n";
}

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double n = std::stod(std::string(text.substr(start, i - start)));
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : unit == "h" ? 3600000
                 : unit == "us" || unit == "µs" ? 0.001 : unit == "ns" ? 1e-6 : -1;
    if (scale < 0) return std::nullopt;
    total += n * scale;
  }
  return static_cast<int64_t>(total);
}

}  // namespace bd::ociruntime
