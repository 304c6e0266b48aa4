// capsule create | ls | inspect | rm | verify | gc, and events.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "base/digest.h"
#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"

namespace bd::cli {
namespace {

using nlohmann::json;

json DependencyJson(const engine::Dependency& d) {
  return {{"Name", d.name}, {"Constraint", d.constraint}, {"Optional", d.optional}};
}

// The entries of an unpacked tree, relative, sorted.
void ListTree(const std::string& root, const std::string& rel, std::vector<std::string>* out) {
  auto names = os::ListDir(rel.empty() ? root : root + "/" + rel);
  if (!names.ok()) return;
  for (const std::string& n : *names) {
    std::string path = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    bool is_dir = ::lstat((root + "/" + path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    out->push_back(is_dir ? path + "/" : path);
    if (is_dir) ListTree(root, path, out);
  }
}

json CapsuleJson(const engine::Capsule& c, const std::vector<std::string>* files) {
  json deps = json::array();
  for (const auto& d : c.dependencies) deps.push_back(DependencyJson(d));
  json j = {{"Name", c.name},
            {"Version", c.version},
            {"Digest", c.digest},
            {"ConfigDigest", c.config_digest},
            {"LayerDigest", c.layer_digest},
            {"ContentDigest", c.content_digest},
            {"Size", c.size},
            {"BlobSize", c.blob_size},
            {"FileCount", c.files},
            {"Secret", c.secret},
            {"Labels", c.labels},
            {"Dependencies", deps},
            {"AttachedTo", c.attached_to},
            {"Created", FormatRfc3339Nano(c.created_at)},
            {"MountPoint", "/capsules/" + c.name + "/" + c.version}};
  if (files) j["Files"] = *files;
  return j;
}

Result<engine::Capsule> Find(engine::Engine& eng, const std::string& text) {
  BD_ASSIGN_OR_RETURN(engine::CapsuleRef ref, engine::ParseCapsuleRef(text));
  return eng.capsules().Get(ref.name, ref.version);
}

}  // namespace

void RegisterCapsuleAttach(CLI::App* capsule, Context& ctx);

// Fetches `uri` through the capsule-source plugin for its scheme into a scratch directory
// under the data root (kept in `scratch` until the capsule is made); the file's path.
Result<std::string> FetchCapsuleContent(engine::Engine& eng, const std::string& uri, const std::string& sha256,
                                        std::unique_ptr<os::TempDir>* scratch) {
  size_t colon = uri.find("://");
  std::string scheme = colon == std::string::npos ? "" : uri.substr(0, colon);
  if (scheme.empty() || scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
    return Status::InvalidArgument("--from `" + uri.substr(0, 100) + "` is not a URL (scheme://...)");
  }
  if (!ValidateDigest("sha256:" + sha256).ok()) {
    return Status::InvalidArgument("--sha256 must be 64 lowercase hex digits");
  }
  BD_ASSIGN_OR_RETURN(engine::PluginManager * m, eng.plugins());
  BD_ASSIGN_OR_RETURN(std::string plugin, m->Find("capsule-source", "fetch-" + scheme));
  BD_RETURN_IF_ERROR(os::MkdirAll(eng.paths().Tmp(), 0700));
  BD_ASSIGN_OR_RETURN(os::TempDir dir, os::TempDir::Create(eng.paths().Tmp(), "capsule-fetch-"));
  *scratch = std::make_unique<os::TempDir>(std::move(dir));
  nlohmann::json req = {{"uri", uri}, {"sha256", sha256}, {"destination", (*scratch)->path()}};
  BD_ASSIGN_OR_RETURN(std::string answer, m->Call(plugin, "capsule-source", "fetch-" + scheme, req.dump()));
  nlohmann::json j = nlohmann::json::parse(answer, nullptr, false);
  if (!j.is_object() || !j.contains("path") || !j["path"].is_string() || j.value("sha256", "") != sha256) {
    return Status::Internal("plugin " + plugin + " answered the fetch without the pinned file: " + answer.substr(0, 200));
  }
  std::string path = j["path"].get<std::string>();
  if (path.rfind((*scratch)->path() + "/", 0) != 0 || path.find("/..") != std::string::npos) {
    return Status::Internal("plugin " + plugin + " wrote outside the destination it was given: " + path.substr(0, 200));
  }
  // Checked again here: the content is what was pinned, whoever fetched it.
  BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(path, O_RDONLY | O_NOFOLLOW));
  Sha256Hasher hasher;
  std::string buf(1 << 16, '\0');
  for (;;) {
    ssize_t n = os::RetryEintr([&] { return ::read(fd.get(), buf.data(), buf.size()); });
    if (n < 0) return os::ErrnoStatus("read " + path);
    if (n == 0) break;
    hasher.Update(buf.data(), static_cast<size_t>(n));
  }
  if (hasher.Finish() != "sha256:" + sha256) {
    return Status::InvalidArgument("the content plugin " + plugin + " fetched is not the pinned sha256");
  }
  return path;
}

void RegisterCapsule(CLI::App& app, Context& ctx) {
  CLI::App* capsule = app.add_subcommand("capsule", "Manage Resource Capsules");
  capsule->require_subcommand(1);
  RegisterCapsuleAttach(capsule, ctx);

  struct CreateFlags {
    std::string name, version, path, from, sha256;
    std::vector<std::string> labels, requires_, optional;
    bool secret = false;
  };
  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = capsule->add_subcommand("create", "Create a capsule from a file or a directory");
  create->add_option("--name", cf->name, "Capsule name ([a-z0-9][a-z0-9._-]*)")->required();
  create->add_option("--version", cf->version, "Version: MAJOR[.MINOR[.PATCH]][-PRE][+BUILD], e.g. 1.2.3 or 1.0")->required();
  create->add_option("--path", cf->path, "A file or a directory to pack");
  create->add_option("--from", cf->from, "A URL to fetch the content from, through a capsule-source plugin (http, https)");
  create->add_option("--sha256", cf->sha256, "With --from: the content's pinned sha256 (64 hex digits)");
  create->add_option("-l,--label", cf->labels, "Set metadata (K=V)")->allow_extra_args(false);
  create->add_option("--requires", cf->requires_, "A required capsule: NAME@CONSTRAINT")->allow_extra_args(false);
  create->add_option("--optional", cf->optional, "An optional capsule: NAME@CONSTRAINT")->allow_extra_args(false);
  create->add_flag("--secret", cf->secret, "Credentials: root-only on the host, in memory inside");
  create->callback([&ctx, cf] {
    ctx.action = [&ctx, cf]() -> int {
      engine::CapsuleCreateOptions opts;
      opts.name = cf->name;
      opts.version = cf->version;
      opts.path = cf->path;
      opts.secret = cf->secret;
      auto labels = ParseLabels(cf->labels);
      if (!labels.ok()) return Fail(labels.status());
      opts.labels = *labels;
      for (const auto& [list, optional] : {std::pair{&cf->requires_, false}, std::pair{&cf->optional, true}}) {
        for (const std::string& text : *list) {
          auto dep = engine::ParseDependency(text, optional);
          if (!dep.ok()) return Fail(dep.status());
          opts.dependencies.push_back(*dep);
        }
      }
      if (cf->path.empty() == cf->from.empty()) return Fail(Status::InvalidArgument("give one of --path and --from"));
      if (!cf->from.empty() && cf->sha256.empty()) {
        return Fail(Status::InvalidArgument("--from needs --sha256: fetched content is pinned to its digest"));
      }
      if (cf->from.empty() && !cf->sha256.empty()) return Fail(Status::InvalidArgument("--sha256 goes with --from"));
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::unique_ptr<os::TempDir> fetched;
      if (!cf->from.empty()) {
        auto path = FetchCapsuleContent(**eng, cf->from, cf->sha256, &fetched);
        if (!path.ok()) return Fail(path.status());
        opts.path = *path;
        opts.labels.emplace("basic-docker.capsule.source", cf->from);
      }
      bool created = false;
      auto c = (*eng)->capsules().Create(opts, &created);
      if (!c.ok()) return Fail(c.status());
      if (created) {
        (void)(*eng)->events().Emit("capsule", "create", c->Ref(), {{"digest", c->digest}});
        std::printf("%s %s\n", c->Ref().c_str(), c->digest.c_str());
      } else {
        std::printf("%s %s NOOP (already exists with this content)\n", c->Ref().c_str(),
                    c->digest.c_str());
      }
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
  CLI::App* ls = capsule->add_subcommand("ls", "List capsules");
  ls->alias("list");
  ls->add_flag("-q,--quiet", lf->quiet, "Only display NAME:VERSION");
  ls->add_flag("-a,--all", lf->all, "Show infrastructure capsules (label system.hidden=true) too");
  ls->add_option("--format", lf->format, "\"table\" (default) or \"json\" (one object per line)");
  ls->add_option("-f,--filter", lf->filters,
                 "name=NAME[:VERSION], label=KEY[=VALUE], secret=true|false, dangling=true|false (attached nowhere)")
      ->allow_extra_args(false);
  ls->callback([&ctx, lf] {
    ctx.action = [&ctx, lf]() -> int {
      if (Status st = CheckFormat(lf->format); !st.ok()) return Fail(st);
      auto filter = engine::ListFilter::Parse(lf->filters, engine::kCapsuleFilterKeys, "capsule ls");
      if (!filter.ok()) return Fail(filter.status());
      filter->SetShowHidden(lf->all);
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      (void)(*eng)->ReconcileAllCapsules();
      auto list = (*eng)->capsules().List(*filter);
      if (!list.ok()) return Fail(list.status());
      std::vector<std::vector<std::string>> rows = {
          {"NAME", "VERSION", "DIGEST", "SIZE", "FILES", "SECRET", "ATTACHED", "CREATED"}};
      std::string out;
      for (const engine::Capsule& c : *list) {
        if (lf->quiet) {
          out += c.Ref() + "\n";
        } else if (lf->format == "json") {
          out += CapsuleJson(c, nullptr).dump() + "\n";
        } else {
          rows.push_back({c.name, c.version, std::string(DigestHex(c.digest).substr(0, 12)),
                          HumanSize(c.size, false), std::to_string(c.files), c.secret ? "yes" : "no",
                          std::to_string(c.attached_to.size()),
                          HumanDuration(NowNanos() - c.created_at) + " ago"});
        }
      }
      if (!lf->quiet && lf->format != "json") out = FormatTable(rows);
      std::fputs(out.c_str(), stdout);
      return 0;
    };
  });

  auto inspect_refs = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect = capsule->add_subcommand("inspect", "Display detailed information on capsules");
  inspect->add_option("capsules", *inspect_refs, "NAME:VERSION")->required();
  inspect->callback([&ctx, inspect_refs] {
    ctx.action = [&ctx, inspect_refs]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      json out = json::array();
      int rc = ForEachRef(*inspect_refs, [&](const std::string& text) -> Status {
        BD_ASSIGN_OR_RETURN(engine::Capsule c, Find(**eng, text));
        BD_ASSIGN_OR_RETURN(std::string tree, (*eng)->capsules().Tree(c));
        std::vector<std::string> files;
        ListTree(tree, "", &files);
        out.push_back(CapsuleJson(c, &files));
        return {};
      });
      std::printf("%s\n", out.dump(4).c_str());
      return rc;
    };
  });

  auto rm_refs = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  CLI::App* rm = capsule->add_subcommand("rm", "Remove capsules (their data goes at `capsule gc`)");
  rm->alias("remove");
  rm->add_flag("-f,--force", *force, "Detach from every container first");
  rm->add_option("capsules", *rm_refs, "NAME:VERSION")->required();
  rm->callback([&ctx, rm_refs, force] {
    ctx.action = [&ctx, rm_refs, force]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      return ForEachRef(*rm_refs, [&](const std::string& text) -> Status {
        BD_ASSIGN_OR_RETURN(engine::Capsule c, Find(**eng, text));
        BD_RETURN_IF_ERROR((*eng)->RemoveCapsule(c, *force));
        (void)(*eng)->events().Emit("capsule", "rm", c.Ref(), {{"digest", c.digest}});
        std::printf("%s\n", c.Ref().c_str());
        return {};
      });
    };
  });

  auto verify_refs = std::make_shared<std::vector<std::string>>();
  CLI::App* verify = capsule->add_subcommand("verify", "Re-hash capsule content (all when none named)");
  verify->add_option("capsules", *verify_refs, "NAME:VERSION");
  verify->callback([&ctx, verify_refs] {
    ctx.action = [&ctx, verify_refs]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::vector<std::string> refs = *verify_refs;
      if (refs.empty()) {
        auto list = (*eng)->capsules().List();
        if (!list.ok()) return Fail(list.status());
        for (const auto& c : *list) refs.push_back(c.Ref());
      }
      return ForEachRef(refs, [&](const std::string& text) -> Status {
        BD_ASSIGN_OR_RETURN(engine::Capsule c, Find(**eng, text));
        BD_RETURN_IF_ERROR((*eng)->capsules().Verify(c));
        std::printf("%s %s ok\n", c.Ref().c_str(), c.digest.c_str());
        return {};
      });
    };
  });

  auto dry_run = std::make_shared<bool>(false);
  CLI::App* gc = capsule->add_subcommand("gc", "Remove blobs and unpacked trees nothing references");
  gc->add_flag("--dry-run", *dry_run, "Only say what would be removed");
  gc->callback([&ctx, dry_run] {
    ctx.action = [&ctx, dry_run]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto report = (*eng)->CollectGarbage(*dry_run);
      if (!report.ok()) return Fail(report.status());
      const char* verb = *dry_run ? "Would delete" : "Deleted";
      for (const std::string& b : report->blobs) std::printf("%s blob %s\n", verb, b.c_str());
      for (const std::string& t : report->trees) std::printf("%s tree %s\n", verb, t.c_str());
      for (const std::string& l : report->layers) std::printf("%s layer %s\n", verb, l.c_str());
      std::printf("Total %s space: %s\n", *dry_run ? "reclaimable" : "reclaimed",
                  HumanSize(report->bytes, false).c_str());
      if (!*dry_run) {
        (void)(*eng)->events().Emit("capsule", "gc", "store",
                                    {{"blobs", std::to_string(report->blobs.size())},
                                     {"trees", std::to_string(report->trees.size())},
                                     {"bytes", std::to_string(report->bytes)}});
      }
      return 0;
    };
  });
}

namespace {

// SUCCESS / ERROR / NOOP per element, as the port layer's Commit reported them.
int PrintCommit(const portlayer::CommitResult& r) {
  for (const std::string& id : r.Order()) {
    const std::string& detail = r.Detail().at(id);
    std::printf("%-40s %s%s\n", id.c_str(), std::string(portlayer::OutcomeName(r.Results().at(id))).c_str(),
                detail.empty() ? "" : ("  " + detail).c_str());
  }
  if (r.IsError()) return Fail(r.FirstError());
  return 0;
}
}  // namespace

void RegisterCapsuleAttach(CLI::App* capsule, Context& ctx) {
  struct Flags {
    std::string container, capsule;
  };
  for (bool attach : {true, false}) {
    auto f = std::make_shared<Flags>();
    CLI::App* sub = capsule->add_subcommand(
        attach ? "attach" : "detach",
        attach ? "Attach a capsule and what it requires to a running container, live"
               : "Detach a capsule from a container, live");
    sub->add_option("container", f->container, "Container name or id")->required();
    sub->add_option("capsule", f->capsule, "NAME:VERSION")->required();
    sub->callback([&ctx, f, attach] {
      ctx.action = [&ctx, f, attach]() -> int {
        auto ref = engine::ParseCapsuleRef(f->capsule);
        if (!ref.ok()) return Fail(ref.status());
        auto eng = ctx.Engine();
        if (!eng.ok()) return Fail(eng.status());
        (void)(*eng)->ReconcileAllCapsules();
        auto c = (*eng)->capsules().Get(ref->name, ref->version);
        if (!c.ok()) return Fail(c.status());
        if (attach) {
          auto r = (*eng)->AttachCapsule(f->container, *c);
          if (!r.ok()) return Fail(r.status());
          return PrintCommit(*r);
        }
        portlayer::CommitResult r;
        Status st = (*eng)->DetachCapsule(f->container, *c, &r);
        if (r.Order().empty()) return Fail(st);
        return PrintCommit(r);
      };
    });
  }

  struct ExportFlags {
    std::string capsule, output;
  };
  auto ef = std::make_shared<ExportFlags>();
  CLI::App* exp = capsule->add_subcommand("export", "Write a capsule as an OCI image layout archive");
  exp->add_option("capsule", ef->capsule, "NAME:VERSION")->required();
  exp->add_option("-o,--output", ef->output, "The archive to write")->required();
  exp->callback([&ctx, ef] {
    ctx.action = [&ctx, ef]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto c = Find(**eng, ef->capsule);
      if (!c.ok()) return Fail(c.status());
      if (Status st = (*eng)->capsules().Export(*c, ef->output); !st.ok()) return Fail(st);
      return 0;
    };
  });

  auto import_file = std::make_shared<std::string>();
  CLI::App* imp = capsule->add_subcommand("import", "Read capsules from an OCI image layout archive");
  imp->add_option("file", *import_file, "The archive (from capsule export)")->required();
  imp->callback([&ctx, import_file] {
    ctx.action = [&ctx, import_file]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::vector<bool> created;
      auto list = (*eng)->capsules().Import(*import_file, &created);
      if (!list.ok()) return Fail(list.status());
      for (size_t i = 0; i < list->size(); ++i) {
        const engine::Capsule& c = (*list)[i];
        if (created[i]) (void)(*eng)->events().Emit("capsule", "import", c.Ref(), {{"digest", c.digest}});
        std::printf("%s %s%s\n", c.Ref().c_str(), c.digest.c_str(), created[i] ? "" : " NOOP (already stored)");
      }
      return 0;
    };
  });

  auto push_args = std::make_shared<std::vector<std::string>>();
  CLI::App* push = capsule->add_subcommand("push", "Push a capsule and its dependencies to a registry");
  push->add_option("args", *push_args, "NAME:VERSION REPOSITORY[:TAG] (the tag defaults to the version)")
      ->required()->expected(2);
  push->callback([&ctx, push_args] {
    ctx.action = [&ctx, push_args]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto c = Find(**eng, (*push_args)[0]);
      if (!c.ok()) return Fail(c.status());
      std::string tag;
      auto digest = (*eng)->capsules().Push(*c, (*push_args)[1], &tag);
      if (!digest.ok()) return Fail(digest.status());
      (void)(*eng)->events().Emit("capsule", "push", c->Ref(), {{"digest", *digest}});
      std::printf("%s: digest: %s\n", tag.c_str(), digest->c_str());
      return 0;
    };
  });

  auto pull_ref = std::make_shared<std::string>();
  CLI::App* pull = capsule->add_subcommand("pull", "Pull a capsule and its dependencies from a registry");
  pull->add_option("reference", *pull_ref, "REPOSITORY:TAG or REPOSITORY@DIGEST")->required();
  pull->callback([&ctx, pull_ref] {
    ctx.action = [&ctx, pull_ref]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::vector<bool> created;
      auto list = (*eng)->capsules().Pull(*pull_ref, &created);
      if (!list.ok()) return Fail(list.status());
      for (size_t i = 0; i < list->size(); ++i) {
        const engine::Capsule& c = (*list)[i];
        if (created[i]) (void)(*eng)->events().Emit("capsule", "pull", c.Ref(), {{"digest", c.digest}});
        std::printf("%s %s%s\n", c.Ref().c_str(), c.digest.c_str(), created[i] ? "" : " NOOP (already stored)");
      }
      return 0;
    };
  });

  auto deps_ref = std::make_shared<std::string>();
  CLI::App* deps = capsule->add_subcommand("deps", "Show the resolved dependency tree of a capsule");
  deps->add_option("capsule", *deps_ref, "NAME:VERSION")->required();
  deps->callback([&ctx, deps_ref] {
    ctx.action = [&ctx, deps_ref]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto c = Find(**eng, *deps_ref);
      if (!c.ok()) return Fail(c.status());
      auto closure = (*eng)->capsules().Closure(*c);
      if (!closure.ok()) return Fail(closure.status());
      std::map<std::string, const engine::Capsule*> by_name;
      for (const auto& k : *closure) by_name[k.name] = &k;
      std::function<void(const engine::Capsule&, const std::string&)> print =
          [&](const engine::Capsule& k, const std::string& indent) {
            for (const auto& d : k.dependencies) {
              auto it = by_name.find(d.name);
              std::string line = indent + "- " + d.name + "@" + d.constraint + (d.optional ? " (optional)" : "");
              if (it == by_name.end()) {
                std::printf("%s: not attached, no match\n", line.c_str());
                continue;
              }
              std::printf("%s -> %s\n", line.c_str(), it->second->Ref().c_str());
              print(*it->second, indent + "  ");
            }
          };
      std::printf("%s\n", c->Ref().c_str());
      print(*c, "  ");
      return 0;
    };
  });
}

void RegisterEvents(CLI::App& app, Context& ctx) {
  struct Flags {
    std::vector<std::string> filters;
    std::string format, since, until;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* events = app.add_subcommand("events", "Stream events of containers, images, volumes and capsules");
  events->add_option("-f,--filter", f->filters,
                     "type=, event=, container=, image=, volume=, capsule=, label=KEY[=VALUE]")
      ->allow_extra_args(false);
  events->add_option("--format", f->format, "\"table\" (default: one line each) or \"json\"");
  events->add_option("--since", f->since, "Also show events since (unix seconds, RFC 3339, 10m)");
  events->add_option("--until", f->until, "Stop at this time (then exit)");
  events->callback([&ctx, f] {
    ctx.action = [&ctx, f]() -> int {
      if (Status st = CheckFormat(f->format); !st.ok()) return Fail(st);
      auto filter = engine::ParseEventFilters(f->filters);
      if (!filter.ok()) return Fail(filter.status());
      auto since = ParseTimeBound(f->since);
      if (!since.ok()) return Fail(since.status());
      auto until = ParseTimeBound(f->until);
      if (!until.ok()) return Fail(until.status());
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      int64_t start = f->since.empty() ? NowNanos() : *since;
      int64_t last = 0;
      for (;;) {
        auto batch = (*eng)->events().Read(last, start, *until);
        if (!batch.ok()) return Fail(batch.status());
        for (const engine::Event& e : *batch) {
          last = e.id;
          if (!filter->Matches(e)) continue;
          if (f->format == "json") {
            std::printf("%s\n", engine::EventJson(e).c_str());
          } else {
            std::string attrs;
            for (const auto& [k, v] : e.attributes) attrs += (attrs.empty() ? "" : ", ") + k + "=" + v;
            std::printf("%s %s %s %s%s\n", FormatRfc3339Nano(e.time).c_str(), e.type.c_str(),
                        e.action.c_str(), e.actor.c_str(), attrs.empty() ? "" : (" (" + attrs + ")").c_str());
          }
        }
        std::fflush(stdout);
        if (*until && NowNanos() > *until) return 0;
        ::poll(nullptr, 0, 100);
      }
    };
  });
}

}  // namespace bd::cli
