// inspect.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cli.h"

namespace bd::cli {

void RegisterInspect(CLI::App& app, Context& ctx) {
  auto type = std::make_shared<std::string>();
  auto refs = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect = app.add_subcommand("inspect", "Return low-level information on containers or images");
  inspect->add_option("--type", *type, "Only \"container\" or \"image\"");
  inspect->add_option("names", *refs, "Containers or images")->required();
  inspect->callback([&ctx, type, refs] {
    ctx.action = [&ctx, type, refs]() -> int {
      if (!type->empty() && *type != "container" && *type != "image") {
        return Fail(Status::InvalidArgument("unknown --type \"" + *type + "\""));
      }
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::vector<std::string> objects;
      int rc = 0;
      for (const std::string& ref : *refs) {
        if (*type != "image") {
          auto c = (*eng)->containers().Find(ref);
          if (c.ok()) {
            objects.push_back((*eng)->InspectContainer(*c));
            continue;
          }
          if (c.status().code() != Code::kNotFound) {
            rc = Fail(c.status());
            continue;
          }
        }
        if (*type != "container") {
          auto img = (*eng)->images().Resolve(ref);
          if (img.ok()) {
            objects.push_back((*eng)->InspectImage(*img));
            continue;
          }
        }
        rc = Fail(Status::NotFound("No such object: " + ref));
      }
      std::string out = "[";
      for (size_t i = 0; i < objects.size(); ++i) {
        // Indent each object by four spaces inside the array, as docker does.
        std::string obj = "    " + objects[i];
        for (size_t p = 0; (p = obj.find('\n', p)) != std::string::npos; p += 5) obj.insert(p + 1, "    ");
        out += (i ? ",\n" : "\n") + obj;
      }
      out += objects.empty() ? "]\n" : "\n]\n";
      std::fputs(out.c_str(), stdout);
      return rc;
    };
  });
}

}  // namespace bd::cli
