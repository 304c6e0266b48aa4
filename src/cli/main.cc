#include <CLI/CLI.hpp>
#include <cstdio>
#include <unistd.h>

#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"

namespace bd::cli {

Result<engine::Engine*> Context::Engine() {
  if (!engine_) {
    BD_ASSIGN_OR_RETURN(engine_, engine::Engine::Open(root));
    // Every command starts from records that agree with the kernel; reads never change them.
    BD_RETURN_IF_ERROR(engine_->Reconcile().status());
  }
  return engine_.get();
}

int ExitCodeOf(const Status& st, ExitStyle style) {
  if (st.ok()) return 0;
  switch (st.command_failure()) {
    case CommandFailure::kNotFound: return 127;
    case CommandFailure::kCannotRun: return 126;
    case CommandFailure::kNone: break;
  }
  return style == ExitStyle::kRun ? 125 : 1;
}

int Fail(const Status& st, ExitStyle style) {
  std::string line = "Error: " + st.ToString() + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  return ExitCodeOf(st, style);
}

Status CheckFormat(const std::string& format) {
  if (format.empty() || format == "table" || format == "json") return {};
  return Status::InvalidArgument("unknown format \"" + format + "\": use table or json");
}

int ForEachRef(const std::vector<std::string>& refs,
               const std::function<Status(const std::string&)>& fn) {
  int rc = 0;
  for (const std::string& ref : refs) {
    if (Status st = fn(ref); !st.ok()) rc = Fail(st);
  }
  return rc;
}

Result<std::map<std::string, std::string>> ParseLabels(const std::vector<std::string>& labels) {
  std::map<std::string, std::string> out;
  for (const std::string& l : labels) {
    size_t eq = l.find('=');
    if (l.empty() || eq == 0) return Status::InvalidArgument("invalid label \"" + l + "\"");
    out[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  return out;
}

// Seconds since the epoch, RFC 3339, or a duration before now ("10m", "2h", "30s").
Result<int64_t> ParseTimeBound(const std::string& text) {
  if (text.empty()) return int64_t{0};
  if (auto n = ParseInt(text); n && *n >= 0) return *n * 1'000'000'000;
  if (int64_t t = ParseRfc3339Nano(text); t >= 0) return t;
  char unit = text.back();
  auto n = ParseInt(std::string_view(text).substr(0, text.size() - 1));
  int64_t mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
  if (n && *n >= 0 && mult) return NowNanos() - *n * mult * 1'000'000'000;
  return Status::InvalidArgument("bad time \"" + text + "\": use unix seconds, RFC 3339 or 10m/2h");
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(width[i] - r[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

int Main(int argc, char** argv) {
  CLI::App app{"basic-docker: a container engine with live-attached Resource Capsules"};
  app.name("basic-docker");
  app.require_subcommand(1);
  Context ctx;
  ctx.root = engine::Engine::DefaultRoot();
  app.add_option("--root", ctx.root, "Data root (default: $BASIC_DOCKER_ROOT or /var/lib/basic-docker)");
  app.add_option("--log-level", ctx.log_level, "debug, info, warn or error");
  app.add_flag_callback("-D,--debug", [&] { ctx.log_level = "debug"; }, "Debug logging");
  app.set_version_flag("-v,--version", "basic-docker version 0.1.0");

  RegisterRun(app, ctx);
  RegisterRegistry(app, ctx);
  RegisterPs(app, ctx);
  RegisterLogs(app, ctx);
  RegisterRm(app, ctx);
  RegisterInspect(app, ctx);
  RegisterImages(app, ctx);
  RegisterLifecycle(app, ctx);
  RegisterExec(app, ctx);
  RegisterExecRecords(app, ctx);
  RegisterAttach(app, ctx);
  RegisterCapsule(app, ctx);
  RegisterEvents(app, ctx);
  RegisterPlugin(app, ctx);
  RegisterStats(app, ctx);
  RegisterSystem(app, ctx);
  RegisterVolume(app, ctx);
  app.add_subcommand("version", "Show the version")->callback([&] {
    ctx.action = [] {
      std::printf("basic-docker version 0.1.0\n");
      return 0;
    };
  });

  // Installed (or symlinked) as `capsule`, it is `basic-docker capsule`.
  std::vector<char*> args(argv, argv + argc);
  std::string_view self = argv[0];
  if (self.substr(self.rfind('/') + 1) == "capsule") {
    // `capsule [--root DIR] ls` is `basic-docker [--root DIR] capsule ls`.
    size_t at = 1;
    while (at < args.size() && args[at][0] == '-') {
      std::string_view a = args[at];
      bool takes_value = (a == "--root" || a == "--log-level");
      at += takes_value ? 2 : 1;
    }
    static char kCapsule[] = "capsule";
    args.insert(args.begin() + static_cast<std::ptrdiff_t>(std::min(at, args.size())), kCapsule);
  }
  // An unknown verb is named, as Docker names it, rather than "a subcommand is required".
  for (size_t at = 1; at < args.size(); ++at) {
    std::string_view a = args[at];
    if (a == "--root" || a == "--log-level") {
      ++at;
      continue;
    }
    if (a.empty() || a[0] == '-') continue;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) known |= sub->check_name(std::string(a));
    if (!known) {
      std::fprintf(stderr, "basic-docker: '%s' is not a basic-docker command.\nSee 'basic-docker --help'\n", args[at]);
      return 1;
    }
    break;
  }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 125;
  }
  if (!ctx.log_level.empty()) {
    log::Level level;
    if (!log::ParseLevel(ctx.log_level, &level)) {
      return Fail(Status::InvalidArgument("unknown log level \"" + ctx.log_level + "\""), ExitStyle::kRun);
    }
    log::SetLevel(level);
  }
  return ctx.action ? ctx.action() : 0;
}

}  // namespace bd::cli

int main(int argc, char** argv) { return bd::cli::Main(argc, argv); }
