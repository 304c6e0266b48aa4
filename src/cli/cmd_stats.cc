// stats, pause, unpause.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"
#include "os/fs.h"

namespace bd::cli {
namespace {

int64_t HostMemory() {
  auto info = os::ReadFile("/proc/meminfo");
  if (!info.ok()) return 0;
  for (const std::string& line : Split(*info, '\n')) {
    if (line.rfind("MemTotal:", 0) == 0) {
      auto kb = ParseInt(TrimSpace(std::string_view(line).substr(9, line.size() - 12)));
      return kb.value_or(0) * 1024;
    }
  }
  return 0;
}

struct Sample {
  engine::Container c;
  runtime::CgroupStats stats;
  int64_t at = 0;
};

}  // namespace

void RegisterStats(CLI::App& app, Context& ctx) {
  struct Flags {
    bool no_stream = false;
    std::string format;
    std::vector<std::string> refs;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* stats = app.add_subcommand("stats", "Display a live stream of container resource usage");
  stats->add_flag("--no-stream", f->no_stream, "Print one sample and exit");
  stats->add_option("--format", f->format, "\"table\" (default) or \"json\" (one object per line)");
  stats->add_option("containers", f->refs, "Containers (default: all running)");
  stats->callback([&ctx, f] {
    ctx.action = [&ctx, f]() -> int {
      if (Status st = CheckFormat(f->format); !st.ok()) return Fail(st);
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      int64_t host_memory = HostMemory();
      auto sample = [&]() -> Result<std::vector<Sample>> {
        std::vector<engine::Container> list;
        if (f->refs.empty()) {
          BD_ASSIGN_OR_RETURN(auto all, (*eng)->containers().List());
          for (auto& c : all) {
            if (c.Running()) list.push_back(std::move(c));
          }
        } else {
          for (const std::string& ref : f->refs) {
            BD_ASSIGN_OR_RETURN(engine::Container c, (*eng)->containers().Find(ref));
            list.push_back(std::move(c));
          }
        }
        std::vector<Sample> out;
        for (auto& c : list) {
          BD_ASSIGN_OR_RETURN(runtime::CgroupStats s, (*eng)->Stats(c));
          out.push_back({std::move(c), s, NowNanos()});
        }
        return out;
      };
      auto before = sample();
      if (!before.ok()) return Fail(before.status());
      while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(f->no_stream ? 500 : 1000));
        auto after = sample();
        if (!after.ok()) return Fail(after.status());
        std::vector<std::vector<std::string>> rows = {
            {"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"}};
        std::string out;
        for (const Sample& a : *after) {
          double cpu = 0;
          for (const Sample& b : *before) {
            if (b.c.id == a.c.id && a.at > b.at) {
              cpu = 100.0 * static_cast<double>(a.stats.cpu_usage_ns - b.stats.cpu_usage_ns) /
                    static_cast<double>(a.at - b.at);
            }
          }
          int64_t limit = a.stats.memory_limit > 0 ? a.stats.memory_limit : host_memory;
          double mem_pct = limit > 0 ? 100.0 * static_cast<double>(a.stats.memory_usage) /
                                           static_cast<double>(limit)
                                     : 0;
          char cpu_s[32], mem_s[32];
          std::snprintf(cpu_s, sizeof cpu_s, "%.2f%%", cpu < 0 ? 0 : cpu);
          std::snprintf(mem_s, sizeof mem_s, "%.2f%%", mem_pct);
          if (f->format == "json") {
            nlohmann::json j = {{"ID", a.c.id.substr(0, 12)},      {"Name", a.c.name},
                                {"CPUPerc", cpu_s},                {"MemUsage", a.stats.memory_usage},
                                {"MemLimit", limit},               {"MemPerc", mem_s},
                                {"PIDs", a.stats.pids}};
            out += j.dump() + "\n";
          } else {
            rows.push_back({a.c.id.substr(0, 12), a.c.name, cpu_s,
                            HumanSize(a.stats.memory_usage, true) + " / " + HumanSize(limit, true),
                            mem_s,
                            std::to_string(a.stats.pids)});
          }
        }
        if (f->format != "json") out = FormatTable(rows);
        if (!f->no_stream) out = "\033[2J\033[H" + out;
        std::fputs(out.c_str(), stdout);
        std::fflush(stdout);
        if (f->no_stream) return 0;
        before = std::move(after);
      }
    };
  });

  // pause and unpause: one engine call per container.
  using Action = Status (engine::Engine::*)(const std::string&);
  for (auto [name, help, action] :
       {std::tuple<const char*, const char*, Action>{
            "pause", "Pause all processes within one or more containers", &engine::Engine::Pause},
        std::tuple<const char*, const char*, Action>{
            "unpause", "Unpause all processes within one or more containers",
            &engine::Engine::Unpause}}) {
    auto refs = std::make_shared<std::vector<std::string>>();
    CLI::App* sub = app.add_subcommand(name, help);
    sub->add_option("containers", *refs, "Containers")->required();
    sub->callback([&ctx, refs, action = action] {
      ctx.action = [&ctx, refs, action]() -> int {
        auto eng = ctx.Engine();
        if (!eng.ok()) return Fail(eng.status());
        return ForEachRef(*refs, [&](const std::string& ref) -> Status {
          BD_RETURN_IF_ERROR(((**eng).*action)(ref));
          std::printf("%s\n", ref.c_str());
          return {};
        });
      };
    });
  }
}

}  // namespace bd::cli
