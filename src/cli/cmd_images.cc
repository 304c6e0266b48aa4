// images, rmi, import, load, save.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"
#include "engine/images/reference.h"
#include "os/fs.h"

namespace bd::cli {
namespace {

// "-" is standard input; anything else a file.
Result<UniqueFd> OpenInput(const std::string& path) {
  if (path == "-") return UniqueFd(::dup(STDIN_FILENO));
  return os::Open(path, O_RDONLY);
}

}  // namespace

void RegisterImages(CLI::App& app, Context& ctx) {
  struct ListFlags {
    bool quiet = false;
    bool no_trunc = false;
    bool all = false;
    bool digests = false;
    std::string format;
    std::vector<std::string> filters;
    std::string repository;
  };
  auto lf = std::make_shared<ListFlags>();
  CLI::App* images = app.add_subcommand("images", "List images");
  images->add_flag("-q,--quiet", lf->quiet, "Only show image IDs");
  images->add_flag("--no-trunc", lf->no_trunc, "Don't truncate output");
  images->add_flag("-a,--all", lf->all, "Show all images, infrastructure ones (label system.hidden=true) too");
  images->add_option("-f,--filter", lf->filters, "Filter: dangling=true|false, label=K[=V], before=, since=, reference=")
      ->allow_extra_args(false);
  images->add_option("--format", lf->format, "\"table\" (default) or \"json\" (one object per line)");
  images->add_flag("--digests", lf->digests, "Show digests");
  images->add_option("repository", lf->repository, "REPOSITORY[:TAG] to list");
  images->callback([&ctx, lf] {
    ctx.action = [&ctx, lf]() -> int {
      if (Status st = CheckFormat(lf->format); !st.ok()) return Fail(st);
      std::vector<std::string> filters = lf->filters;
      if (!lf->repository.empty()) filters.push_back("reference=" + lf->repository);
      auto filter = engine::ListFilter::Parse(filters, engine::kImageFilterKeys, "images");
      if (!filter.ok()) return Fail(filter.status());
      filter->SetShowHidden(lf->all);
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto list = (*eng)->images().List(*filter);
      if (!list.ok()) return Fail(list.status());
      std::vector<std::vector<std::string>> rows = {{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
      if (lf->digests) rows[0].insert(rows[0].begin() + 2, "DIGEST");
      std::string out;
      int64_t now = NowNanos();
      for (const engine::Image& img : *list) {
        std::string id = lf->no_trunc ? img.id : std::string(DigestHex(img.id)).substr(0, 12);
        int64_t created = ParseRfc3339Nano(img.created);
        std::string ago = created > 0 ? HumanDuration(now - created) + " ago" : "N/A";
        std::vector<std::pair<std::string, std::string>> names;
        for (const std::string& t : img.tags) {
          size_t colon = t.rfind(':');
          names.emplace_back(t.substr(0, colon), t.substr(colon + 1));
        }
        if (names.empty()) names.emplace_back("<none>", "<none>");
        // The digest a repository has the image under ("<none>": never pulled or pushed).
        auto digest_of = [&](const std::string& repo) -> std::string {
          for (const std::string& rd : img.repo_digests) {
            size_t at = rd.rfind('@');
            if (at != std::string::npos && (rd.substr(0, at) == repo || repo == "<none>")) return rd.substr(at + 1);
          }
          return "<none>";
        };
        if (lf->quiet) {
          out += id + "\n";
          continue;
        }
        for (const auto& [repo, tag] : names) {
          if (lf->format == "json") {
            nlohmann::json j = {{"Repository", repo}, {"Tag", tag},     {"ID", id},
                                {"CreatedAt", img.created}, {"CreatedSince", ago},
                                {"Size", HumanSize(img.size)}, {"VirtualSize", img.size},
                                {"Digest", digest_of(repo)}};
            out += j.dump() + "\n";
          } else {
            rows.push_back({repo, tag, id, ago, HumanSize(img.size)});
            if (lf->digests) rows.back().insert(rows.back().begin() + 2, digest_of(repo));
          }
        }
      }
      if (!lf->quiet && lf->format != "json") out = FormatTable(rows);
      std::fputs(out.c_str(), stdout);
      return 0;
    };
  });

  auto force = std::make_shared<bool>(false);
  auto refs = std::make_shared<std::vector<std::string>>();
  CLI::App* rmi = app.add_subcommand("rmi", "Remove one or more images");
  rmi->add_flag("-f,--force", *force, "Force removal of the image");
  rmi->add_option("images", *refs, "Images")->required();
  rmi->callback([&ctx, force, refs] {
    ctx.action = [&ctx, force, refs]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      return ForEachRef(*refs, [&](const std::string& ref) -> Status {
        BD_ASSIGN_OR_RETURN(auto lines, (*eng)->images().Remove(ref, *force));
        for (const auto& l : lines) std::printf("%s\n", l.c_str());
        return {};
      });
    };
  });

  struct ImportFlags {
    std::string file;
    std::string ref;
  };
  auto imf = std::make_shared<ImportFlags>();
  CLI::App* import = app.add_subcommand("import", "Import the contents from a tarball to create a filesystem image");
  import->add_option("file", imf->file, "Tarball (plain, gzip, zstd, xz, bzip2) or - for stdin")->required();
  import->add_option("reference", imf->ref, "REPOSITORY[:TAG]");
  import->callback([&ctx, imf] {
    ctx.action = [&ctx, imf]() -> int {
      if (!imf->ref.empty()) {
        if (auto r = engine::ParseImageRef(imf->ref); !r.ok()) return Fail(r.status());
      }
      auto fd = OpenInput(imf->file);
      if (!fd.ok()) return Fail(fd.status());
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto id = (*eng)->images().Import(fd->get(), imf->ref, {}, "basic-docker import " + imf->file);
      if (!id.ok()) return Fail(id.status());
      std::printf("%s\n", id->c_str());
      return 0;
    };
  });

  auto input = std::make_shared<std::string>("-");
  auto quiet = std::make_shared<bool>(false);
  struct SaveFlags {
    std::string output;
    std::string format = "docker";
    std::vector<std::string> images;
  };
  auto sf = std::make_shared<SaveFlags>();
  CLI::App* save = app.add_subcommand("save", "Save one or more images to a tar archive (streamed to STDOUT by default)");
  save->add_option("-o,--output", sf->output, "Write to a file, instead of STDOUT");
  save->add_option("--format", sf->format, "docker (a docker save archive, the default) or oci (an OCI image layout)");
  save->add_option("images", sf->images, "Images")->required();
  save->callback([&ctx, sf] {
    ctx.action = [&ctx, sf]() -> int {
      if (sf->output.empty() && ::isatty(STDOUT_FILENO) == 1) {
        return Fail(Status::InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
      }
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      if (sf->output.empty()) {
        Status st = (*eng)->images().Save(sf->images, sf->format, [](std::string_view d) { return os::WriteAll(STDOUT_FILENO, d); });
        return st.ok() ? 0 : Fail(st);
      }
      // Written beside the target and renamed into place: a failed save leaves no half file.
      std::string tmp = sf->output + ".tmp-" + RandomHexId().substr(0, 8);
      auto fd = os::Open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (!fd.ok()) return Fail(fd.status());
      Status st = (*eng)->images().Save(sf->images, sf->format, [&](std::string_view d) { return os::WriteAll(fd->get(), d); });
      if (st.ok() && ::fsync(fd->get()) < 0) st = Status::Internal("fsync `" + tmp + "` failed");
      if (st.ok() && ::rename(tmp.c_str(), sf->output.c_str()) < 0) st = Status::Internal("rename into `" + sf->output + "` failed");
      if (!st.ok()) {
        ::unlink(tmp.c_str());
        return Fail(st);
      }
      return 0;
    };
  });

  CLI::App* load = app.add_subcommand("load", "Load images from a docker save or OCI layout archive");
  load->add_option("-i,--input", *input, "Read from a tar archive file instead of STDIN");
  load->add_flag("-q,--quiet", *quiet, "Suppress the load output");
  load->callback([&ctx, input, quiet] {
    ctx.action = [&ctx, input, quiet]() -> int {
      auto fd = OpenInput(*input);
      if (!fd.ok()) return Fail(fd.status());
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      auto lines = (*eng)->images().Load(fd->get());
      if (!lines.ok()) return Fail(lines.status());
      if (!*quiet) {
        for (const auto& l : *lines) std::printf("%s\n", l.c_str());
      }
      return 0;
    };
  });
}

}  // namespace bd::cli
