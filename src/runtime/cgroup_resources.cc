#include "runtime/cgroup_resources.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace bd::runtime {

using nlohmann::json;

int64_t SharesToWeight(int64_t shares) {
  if (shares <= 0) return 0;
  return 1 + ((std::clamp<int64_t>(shares, 2, 262144) - 2) * 9999) / 262142;
}

namespace {

struct Writer {
  const ControllerDirs& dirs;
  std::vector<CgroupWrite> out;

  // The directory of `controller`, or a clear error naming the setting that needs it.
  Result<ControllerDir> Need(std::string_view controller, std::string_view setting) {
    ControllerDir d = dirs(controller);
    if (d.dir.empty()) {
      return Status::InvalidArgument(std::string(setting) + " needs the " + std::string(controller) +
                                     " cgroup controller, which this host does not mount");
    }
    return d;
  }
  void Add(const ControllerDir& d, std::string_view file, std::string value) {
    out.push_back({d.dir + "/" + std::string(file), std::move(value)});
  }
};

int64_t Int(const json& section, const char* key) {
  const json& v = section.at(key);
  if (v.is_number_integer() || v.is_number_unsigned()) {
    // Unsigned values above INT64_MAX (a uint64 "unlimited") read as -1.
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return -1;
    return v.get<int64_t>();
  }
  throw json::type_error::create(302, std::string(key) + " must be an integer", &v);
}

bool Has(const json& section, const char* key) {
  return section.is_object() && section.contains(key) && !section[key].is_null();
}

std::string MaxOr(int64_t v, const char* unlimited) { return v < 0 ? unlimited : std::to_string(v); }

Status Memory(const json& m, Writer& w) {
  BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need("memory", "linux.resources.memory"));
  int64_t limit = Has(m, "limit") ? Int(m, "limit") : 0;
  if (d.v2) {
    if (Has(m, "limit")) w.Add(d, "memory.max", MaxOr(limit, "max"));
    if (Has(m, "reservation")) w.Add(d, "memory.low", MaxOr(Int(m, "reservation"), "max"));
    if (Has(m, "swap")) {
      // runc's meaning is memory plus swap; v2 limits swap alone.
      int64_t swap = Int(m, "swap");
      if (swap >= 0 && limit > 0 && swap < limit) {
        return Status::InvalidArgument("memory+swap limit (" + std::to_string(swap) +
                                       ") must not be below the memory limit (" + std::to_string(limit) + ")");
      }
      w.Add(d, "memory.swap.max", swap < 0 ? "max" : std::to_string(limit > 0 ? swap - limit : swap));
    }
    if (Has(m, "swappiness")) return Status::InvalidArgument("memory.swappiness is not supported on cgroup v2");
    if (Has(m, "disableOOMKiller") && m["disableOOMKiller"].get<bool>()) {
      return Status::InvalidArgument("memory.disableOOMKiller is not supported on cgroup v2");
    }
    return {};
  }
  if (Has(m, "swap")) {
    int64_t swap = Int(m, "swap");
    if (swap >= 0 && limit > 0 && swap < limit) {
      return Status::InvalidArgument("memory+swap limit (" + std::to_string(swap) +
                                     ") must not be below the memory limit (" + std::to_string(limit) + ")");
    }
  }
  // The limit, then memory+swap (which must not be below it); WriteCgroupFiles swaps the two
  // when the current memory+swap is below the new limit.
  if (Has(m, "limit")) w.Add(d, "memory.limit_in_bytes", MaxOr(limit, "-1"));
  if (Has(m, "swap") && Int(m, "swap") != 0) w.Add(d, "memory.memsw.limit_in_bytes", MaxOr(Int(m, "swap"), "-1"));
  if (Has(m, "reservation")) w.Add(d, "memory.soft_limit_in_bytes", MaxOr(Int(m, "reservation"), "-1"));
  if (Has(m, "kernelTCP")) w.Add(d, "memory.kmem.tcp.limit_in_bytes", MaxOr(Int(m, "kernelTCP"), "-1"));
  if (Has(m, "swappiness")) {
    int64_t s = Int(m, "swappiness");
    if (s < 0 || s > 100) {
      return Status::InvalidArgument("invalid memory swappiness " + std::to_string(s) + " (0 to 100)");
    }
    w.Add(d, "memory.swappiness", std::to_string(s));
  }
  if (Has(m, "disableOOMKiller") && m["disableOOMKiller"].get<bool>()) w.Add(d, "memory.oom_control", "1");
  if (Has(m, "useHierarchy") && m["useHierarchy"].get<bool>()) w.Add(d, "memory.use_hierarchy", "1");
  return {};
}

Status Cpu(const json& c, Writer& w) {
  bool any_cpu = Has(c, "shares") || Has(c, "quota") || Has(c, "period") || Has(c, "realtimeRuntime") ||
                 Has(c, "realtimePeriod") || Has(c, "idle") || Has(c, "burst");
  if (any_cpu) {
    BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need("cpu", "linux.resources.cpu"));
    if (Has(c, "period")) {
      int64_t p = Int(c, "period");
      if (p < 1000 || p > 1000000) {
        return Status::InvalidArgument("invalid cpu period " + std::to_string(p) +
                                       " (1000 to 1000000 microseconds)");
      }
    }
    if (Has(c, "shares")) {
      int64_t shares = Int(c, "shares");
      if (d.v2) {
        if (shares > 0) w.Add(d, "cpu.weight", std::to_string(SharesToWeight(shares)));
      } else {
        w.Add(d, "cpu.shares", std::to_string(shares));
      }
    }
    if (d.v2) {
      if (Has(c, "quota") || Has(c, "period")) {
        int64_t quota = Has(c, "quota") ? Int(c, "quota") : -1;
        int64_t period = Has(c, "period") ? Int(c, "period") : 100000;
        w.Add(d, "cpu.max", (quota <= 0 ? std::string("max") : std::to_string(quota)) + " " + std::to_string(period));
      }
      if (Has(c, "burst")) w.Add(d, "cpu.max.burst", std::to_string(Int(c, "burst")));
      if (Has(c, "realtimeRuntime") || Has(c, "realtimePeriod")) {
        return Status::InvalidArgument("realtime cpu limits are not supported on cgroup v2");
      }
    } else {
      // A period first: a quota is checked against the period in force (and a period alone,
      // without a quota, is set too).
      if (Has(c, "period")) w.Add(d, "cpu.cfs_period_us", std::to_string(Int(c, "period")));
      if (Has(c, "quota")) w.Add(d, "cpu.cfs_quota_us", std::to_string(Int(c, "quota") == 0 ? -1 : Int(c, "quota")));
      if (Has(c, "burst")) w.Add(d, "cpu.cfs_burst_us", std::to_string(Int(c, "burst")));
      if (Has(c, "realtimePeriod")) w.Add(d, "cpu.rt_period_us", std::to_string(Int(c, "realtimePeriod")));
      if (Has(c, "realtimeRuntime")) w.Add(d, "cpu.rt_runtime_us", std::to_string(Int(c, "realtimeRuntime")));
    }
    if (Has(c, "idle")) w.Add(d, "cpu.idle", std::to_string(Int(c, "idle")));
  }
  if (Has(c, "cpus") || Has(c, "mems")) {
    BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need("cpuset", "linux.resources.cpu.cpus/mems"));
    if (Has(c, "cpus")) w.Add(d, "cpuset.cpus", c["cpus"].get<std::string>());
    if (Has(c, "mems")) w.Add(d, "cpuset.mems", c["mems"].get<std::string>());
  }
  return {};
}

// "MAJ:MIN VALUE" lines of a blkio device list.
std::string DeviceKey(const json& e) {
  return std::to_string(Int(e, "major")) + ":" + std::to_string(Int(e, "minor"));
}

Status BlockIo(const json& b, Writer& w) {
  BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need(w.dirs("blkio").dir.empty() ? "io" : "blkio", "linux.resources.blockIO"));
  auto check_weight = [](int64_t v) -> Status {
    if (v < 10 || v > 1000) return Status::InvalidArgument("invalid blkio weight " + std::to_string(v) + " (10 to 1000)");
    return {};
  };
  // v2's io.weight runs from 1 to 10000.
  auto v2_weight = [](int64_t v) { return std::to_string(1 + (v - 10) * 9999 / 990); };
  if (Has(b, "weight")) {
    BD_RETURN_IF_ERROR(check_weight(Int(b, "weight")));
    if (d.v2) w.Add(d, "io.weight", "default " + v2_weight(Int(b, "weight")));
    else w.Add(d, "blkio.weight", std::to_string(Int(b, "weight")));
  }
  if (Has(b, "leafWeight")) {
    if (d.v2) return Status::InvalidArgument("blockIO.leafWeight is not supported on cgroup v2");
    BD_RETURN_IF_ERROR(check_weight(Int(b, "leafWeight")));
    w.Add(d, "blkio.leaf_weight", std::to_string(Int(b, "leafWeight")));
  }
  for (const json& e : b.value("weightDevice", json::array())) {
    if (Has(e, "weight")) {
      BD_RETURN_IF_ERROR(check_weight(Int(e, "weight")));
      if (d.v2) w.Add(d, "io.weight", DeviceKey(e) + " " + v2_weight(Int(e, "weight")));
      else w.Add(d, "blkio.weight_device", DeviceKey(e) + " " + std::to_string(Int(e, "weight")));
    }
    if (Has(e, "leafWeight") && !d.v2) {
      BD_RETURN_IF_ERROR(check_weight(Int(e, "leafWeight")));
      w.Add(d, "blkio.leaf_weight_device", DeviceKey(e) + " " + std::to_string(Int(e, "leafWeight")));
    }
  }
  static constexpr std::pair<const char*, std::pair<const char*, const char*>> kThrottle[] = {
      {"throttleReadBpsDevice", {"blkio.throttle.read_bps_device", "rbps"}},
      {"throttleWriteBpsDevice", {"blkio.throttle.write_bps_device", "wbps"}},
      {"throttleReadIOPSDevice", {"blkio.throttle.read_iops_device", "riops"}},
      {"throttleWriteIOPSDevice", {"blkio.throttle.write_iops_device", "wiops"}}};
  for (const auto& [key, files] : kThrottle) {
    for (const json& e : b.value(key, json::array())) {
      int64_t rate = Int(e, "rate");
      if (d.v2) w.Add(d, "io.max", DeviceKey(e) + " " + files.second + "=" + (rate == 0 ? "max" : std::to_string(rate)));
      else w.Add(d, files.first, DeviceKey(e) + " " + std::to_string(rate));
    }
  }
  return {};
}

Status Hugepages(const json& list, Writer& w) {
  for (const json& e : list) {
    std::string size = e.at("pageSize").get<std::string>();
    size_t digits = 0;
    while (digits < size.size() && std::isdigit(static_cast<unsigned char>(size[digits]))) ++digits;
    std::string unit = size.substr(digits);
    if (digits == 0 || (unit != "KB" && unit != "MB" && unit != "GB")) {
      return Status::InvalidArgument("invalid hugepage size \"" + size + "\" (such as 2MB or 1GB)");
    }
    BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need("hugetlb", "linux.resources.hugepageLimits"));
    std::string limit = std::to_string(Int(e, "limit"));
    w.Add(d, "hugetlb." + size + (d.v2 ? ".max" : ".limit_in_bytes"), limit);
  }
  return {};
}

Status Network(const json& n, Writer& w) {
  if (Has(n, "classID")) {
    BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need("net_cls", "linux.resources.network.classID"));
    w.Add(d, "net_cls.classid", std::to_string(Int(n, "classID")));
  }
  for (const json& p : n.value("priorities", json::array())) {
    BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need("net_prio", "linux.resources.network.priorities"));
    w.Add(d, "net_prio.ifpriomap", p.at("name").get<std::string>() + " " + std::to_string(Int(p, "priority")));
  }
  return {};
}

Status Rdma(const json& r, Writer& w) {
  for (const auto& [device, limits] : r.items()) {
    BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need("rdma", "linux.resources.rdma"));
    std::string line = device;
    if (Has(limits, "hcaHandles")) line += " hca_handle=" + std::to_string(Int(limits, "hcaHandles"));
    if (Has(limits, "hcaObjects")) line += " hca_object=" + std::to_string(Int(limits, "hcaObjects"));
    w.Add(d, "rdma.max", line);
  }
  return {};
}

Status Unified(const json& u, Writer& w) {
  for (const auto& [file, value] : u.items()) {
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      return Status::InvalidArgument("linux.resources.unified: invalid file name \"" + file + "\"");
    }
    std::string controller = file.substr(0, file.find('.'));
    ControllerDir d = w.dirs(controller);
    if (d.dir.empty()) d = w.dirs("");  // cgroup.* files and controllers the plan does not name
    if (d.dir.empty() || !d.v2) {
      return Status::InvalidArgument("linux.resources.unified needs cgroup v2; this container's cgroups are v1");
    }
    w.Add(d, file, value.get<std::string>());
  }
  return {};
}

}  // namespace

Result<std::vector<CgroupWrite>> ResourceWrites(std::string_view resources_json, const ControllerDirs& dirs) {
  json r = json::parse(resources_json, nullptr, false);
  if (r.is_discarded() || !r.is_object()) return Status::InvalidArgument("linux.resources is not a JSON object");
  Writer w{dirs, {}};
  try {
    if (Has(r, "memory")) BD_RETURN_IF_ERROR(Memory(r["memory"], w));
    if (Has(r, "cpu")) BD_RETURN_IF_ERROR(Cpu(r["cpu"], w));
    if (Has(r, "pids") && Has(r["pids"], "limit")) {
      BD_ASSIGN_OR_RETURN(ControllerDir d, w.Need("pids", "linux.resources.pids"));
      int64_t limit = Int(r["pids"], "limit");
      w.Add(d, "pids.max", limit <= 0 ? "max" : std::to_string(limit));
    }
    if (Has(r, "blockIO")) BD_RETURN_IF_ERROR(BlockIo(r["blockIO"], w));
    if (Has(r, "hugepageLimits")) BD_RETURN_IF_ERROR(Hugepages(r["hugepageLimits"], w));
    if (Has(r, "network")) BD_RETURN_IF_ERROR(Network(r["network"], w));
    if (Has(r, "rdma")) BD_RETURN_IF_ERROR(Rdma(r["rdma"], w));
    if (Has(r, "unified")) BD_RETURN_IF_ERROR(Unified(r["unified"], w));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("linux.resources: ") + e.what());
  }
  return std::move(w.out);
}

}  // namespace bd::runtime
