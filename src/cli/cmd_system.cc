// system df, system info, info.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/strings.h"
#include "cli/cli.h"
#include "engine/system.h"

namespace bd::cli {
namespace {

int PrintDiskUsage(Context& ctx, const std::string& format) {
  if (Status st = CheckFormat(format); !st.ok()) return Fail(st);
  auto eng = ctx.Engine();
  if (!eng.ok()) return Fail(eng.status());
  auto rows = engine::DiskUsage(**eng);
  if (!rows.ok()) return Fail(rows.status());
  std::string out;
  if (format == "json") {
    for (const engine::DiskUsageRow& r : *rows) {
      out += nlohmann::json({{"Type", r.type},
                             {"TotalCount", r.total},
                             {"Active", r.active},
                             {"Size", HumanSize(r.size)},
                             {"Reclaimable", HumanSize(r.reclaimable)},
                             {"SizeBytes", r.size},
                             {"ReclaimableBytes", r.reclaimable}})
                 .dump() + "\n";
    }
  } else {
    std::vector<std::vector<std::string>> table = {{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}};
    for (const engine::DiskUsageRow& r : *rows) {
      int64_t pct = r.size > 0 ? r.reclaimable * 100 / r.size : 0;
      table.push_back({r.type, std::to_string(r.total), std::to_string(r.active), HumanSize(r.size),
                       HumanSize(r.reclaimable) + " (" + std::to_string(pct) + "%)"});
    }
    out = FormatTable(table);
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

int PrintInfo(Context& ctx, const std::string& format) {
  if (Status st = CheckFormat(format); !st.ok()) return Fail(st);
  auto eng = ctx.Engine();
  if (!eng.ok()) return Fail(eng.status());
  auto info = engine::Info(**eng);
  if (!info.ok()) return Fail(info.status());
  if (format == "json") {
    std::printf("%s\n", engine::InfoJson(*info).c_str());
    return 0;
  }
  const engine::SystemInfo& i = *info;
  std::string out = "Containers: " + std::to_string(i.containers) + "\n Running: " + std::to_string(i.running) +
                    "\n Paused: " + std::to_string(i.paused) + "\n Stopped: " + std::to_string(i.stopped) +
                    "\nImages: " + std::to_string(i.images) + "\nVolumes: " + std::to_string(i.volumes) +
                    "\nCapsules: " + std::to_string(i.capsules) + "\nServer Version: " + i.server_version +
                    "\nStorage Driver: " + i.storage_driver + "\nLogging Driver: " + i.logging_driver +
                    "\nCgroup Driver: " + i.cgroup_driver + "\nCgroup Version: " + i.cgroup_version +
                    "\nDefault Runtime: " + i.default_runtime + "\nSecurity Options:\n";
  for (const std::string& s : i.security_options) out += " " + s + "\n";
  out += "Kernel Version: " + i.kernel_version + "\nOperating System: " + i.operating_system +
         "\nOSType: linux\nArchitecture: " + i.architecture + "\nCPUs: " + std::to_string(i.ncpu) +
         "\nTotal Memory: " + HumanSize(i.mem_total, true) + "\nDocker Root Dir: " + i.docker_root_dir + "\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace

void RegisterSystem(CLI::App& app, Context& ctx) {
  auto df_format = std::make_shared<std::string>();
  auto info_format = std::make_shared<std::string>();
  CLI::App* system = app.add_subcommand("system", "Manage basic-docker");
  system->require_subcommand(1);
  CLI::App* df = system->add_subcommand("df", "Show disk usage of images, containers, volumes and capsules");
  df->add_option("--format", *df_format, "\"table\" (default) or \"json\"");
  df->callback([&ctx, df_format] { ctx.action = [&ctx, df_format] { return PrintDiskUsage(ctx, *df_format); }; });
  for (CLI::App* sub : {system->add_subcommand("info", "Display system-wide information"),
                        app.add_subcommand("info", "Display system-wide information")}) {
    sub->add_option("-f,--format", *info_format, "\"table\" (default) or \"json\"");
    sub->callback([&ctx, info_format] { ctx.action = [&ctx, info_format] { return PrintInfo(ctx, *info_format); }; });
  }
}

}  // namespace bd::cli
