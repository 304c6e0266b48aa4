// volume create | ls | inspect | rm.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"

namespace bd::cli {
namespace {

nlohmann::json VolumeJson(const engine::Volume& v) {
  return {{"Name", v.name},
          {"Driver", "local"},
          {"Mountpoint", v.mountpoint},
          {"CreatedAt", FormatRfc3339Nano(v.created_at)},
          {"Labels", v.labels},
          {"Scope", "local"},
          {"UsedBy", v.used_by}};
}

}  // namespace

void RegisterVolume(CLI::App& app, Context& ctx) {
  CLI::App* volume = app.add_subcommand("volume", "Manage volumes");
  volume->require_subcommand(1);

  struct CreateFlags {
    std::string name;
    std::vector<std::string> labels;
  };
  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = volume->add_subcommand("create", "Create a volume");
  create->add_option("name", cf->name, "Volume name (default: a random id)");
  create->add_option("-l,--label", cf->labels, "Set metadata (K=V)")->allow_extra_args(false);
  create->callback([&ctx, cf] {
    ctx.action = [&ctx, cf]() -> int {
      auto labels = ParseLabels(cf->labels);
      if (!labels.ok()) return Fail(labels.status());
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::string name = cf->name.empty() ? RandomHexId() : cf->name;
      auto v = (*eng)->volumes().Create(name, *labels);
      if (!v.ok()) return Fail(v.status());
      std::printf("%s\n", v->name.c_str());
      return 0;
    };
  });

  struct LsFlags {
    bool quiet = false;
    bool all = false;
    std::string format;
    std::vector<std::string> filters;
  };
  auto lf = std::make_shared<LsFlags>();
  CLI::App* ls = volume->add_subcommand("ls", "List volumes");
  ls->alias("list");
  ls->add_flag("-q,--quiet", lf->quiet, "Only display volume names");
  ls->add_flag("-a,--all", lf->all, "Show infrastructure volumes (label system.hidden=true) too");
  ls->add_option("-f,--filter", lf->filters, "Filter: name=, label=K[=V], dangling=true|false, driver=local")
      ->allow_extra_args(false);
  ls->add_option("--format", lf->format, "\"table\" (default) or \"json\" (one object per line)");
  ls->callback([&ctx, lf] {
    ctx.action = [&ctx, lf]() -> int {
      if (Status st = CheckFormat(lf->format); !st.ok()) return Fail(st);
      auto filter = engine::ListFilter::Parse(lf->filters, engine::kVolumeFilterKeys, "volume ls");
      if (!filter.ok()) return Fail(filter.status());
      filter->SetShowHidden(lf->all);
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto list = (*eng)->volumes().List(*filter);
      if (!list.ok()) return Fail(list.status());
      std::vector<std::vector<std::string>> rows = {{"DRIVER", "VOLUME NAME"}};
      std::string out;
      for (const engine::Volume& v : *list) {
        if (lf->quiet) out += v.name + "\n";
        else if (lf->format == "json") out += VolumeJson(v).dump() + "\n";
        else rows.push_back({"local", v.name});
      }
      if (!lf->quiet && lf->format != "json") out = FormatTable(rows);
      std::fputs(out.c_str(), stdout);
      return 0;
    };
  });

  auto inspect_names = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect = volume->add_subcommand("inspect", "Display detailed information on volumes");
  inspect->add_option("names", *inspect_names, "Volumes")->required();
  inspect->callback([&ctx, inspect_names] {
    ctx.action = [&ctx, inspect_names]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      nlohmann::json out = nlohmann::json::array();
      int rc = ForEachRef(*inspect_names, [&](const std::string& name) -> Status {
        BD_ASSIGN_OR_RETURN(engine::Volume v, (*eng)->volumes().Get(name));
        out.push_back(VolumeJson(v));
        return {};
      });
      std::printf("%s\n", out.dump(4).c_str());
      return rc;
    };
  });

  auto rm_names = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  CLI::App* rm = volume->add_subcommand("rm", "Remove one or more volumes");
  rm->alias("remove");
  rm->add_flag("-f,--force", *force, "Do not fail when a volume does not exist");
  rm->add_option("names", *rm_names, "Volumes")->required();
  rm->callback([&ctx, rm_names, force] {
    ctx.action = [&ctx, rm_names, force]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      return ForEachRef(*rm_names, [&](const std::string& name) -> Status {
        Status st = (*eng)->volumes().Remove(name);
        if (st.code() == Code::kNotFound && *force) return {};
        BD_RETURN_IF_ERROR(st);
        std::printf("%s\n", name.c_str());
        return {};
      });
    };
  });
}

}  // namespace bd::cli
