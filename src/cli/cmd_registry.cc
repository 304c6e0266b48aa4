// pull, login, logout, tag; and the pull `run` and `create` do for a missing image.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "base/strings.h"
#include "base/time.h"
#include "cli/cli.h"
#include "engine/images/reference.h"
#include "os/fs.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/hosts.h"

namespace bd::cli {
namespace {

using Phase = engine::PullProgress::Phase;

// Docker's pull display: on a terminal one line per layer, redrawn in place; otherwise a line
// at each change of a layer's phase.
class PullDisplay {
 public:
  PullDisplay(FILE* out, bool quiet, bool push = false)
      : out_(out), quiet_(quiet), push_(push), tty_(::isatty(::fileno(out)) == 1) {}

  void Message(const std::string& line) {
    if (quiet_) return;
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
  }

  void Update(const engine::PullProgress& p) {
    if (quiet_) return;
    auto it = index_.find(p.id);
    bool fresh = it == index_.end();
    if (fresh) {
      index_[p.id] = order_.size();
      order_.push_back(p.id);
      phases_.push_back(p.phase);
    } else if (!tty_ && phases_[it->second] == p.phase) {
      return;  // plain output: one line per phase
    }
    size_t i = index_[p.id];
    phases_[i] = p.phase;
    std::string text = p.id + ": " + Describe(p);
    if (!tty_) {
      std::fprintf(out_, "%s\n", text.c_str());
    } else if (fresh) {
      std::fprintf(out_, "%s\n", text.c_str());
    } else {
      size_t up = order_.size() - i;
      std::fprintf(out_, "\x1b[%zuA\x1b[2K\r%s\x1b[%zuB\r", up, text.c_str(), up);
    }
    std::fflush(out_);
  }

 private:
  static std::string Bar(int64_t cur, int64_t total) {
    if (total <= 0) return HumanSize(cur);
    int width = 50;
    int filled = static_cast<int>(width * std::min<int64_t>(cur, total) / total);
    std::string bar = "[" + std::string(filled > 0 ? filled - 1 : 0, '=') + (filled > 0 ? ">" : "") +
                      std::string(width - filled, ' ') + "]";
    return bar + "  " + HumanSize(cur) + "/" + HumanSize(total);
  }

  std::string Describe(const engine::PullProgress& p) const {
    if (push_) {
      switch (p.phase) {
        case Phase::kWaiting: return tty_ ? "Waiting" : "Preparing";
        case Phase::kExists: return "Layer already exists";
        case Phase::kDownloading: return tty_ ? "Pushing " + Bar(p.current, p.total) : "Pushing";
        case Phase::kMounted: return "Mounted from another repository";
        default: return "Pushed";
      }
    }
    switch (p.phase) {
      case Phase::kWaiting: return tty_ ? "Waiting" : "Pulling fs layer";
      case Phase::kExists: return "Already exists";
      case Phase::kDownloading: return tty_ ? "Downloading " + Bar(p.current, p.total) : "Downloading";
      case Phase::kExtracting: return "Extracting";
      case Phase::kVerifying: return "Verifying Checksum";
      case Phase::kDone: return "Pull complete";
      case Phase::kMounted: return "Mounted";
    }
    return "";
  }

  FILE* out_;
  bool quiet_;
  bool push_;
  bool tty_;
  std::map<std::string, size_t> index_;
  std::vector<std::string> order_;
  std::vector<Phase> phases_;
};

// "docker.io/library/busybox:latest": the name a pull ends by printing.
std::string FullName(const engine::ImageRef& ref) {
  std::string base = ref.Domain() + "/" + ref.RemotePath();
  return ref.digest.empty() ? base + ":" + ref.tag : base + "@" + ref.digest;
}

bool HasExplicitTagOrDigest(std::string_view text) {
  size_t slash = text.rfind('/');
  size_t colon = text.rfind(':');
  return text.find('@') != std::string_view::npos ||
         (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash));
}

// Reads a password from the terminal without echoing it.
Result<std::string> PromptPassword() {
  if (::isatty(STDIN_FILENO) != 1) {
    return Status::InvalidArgument("cannot ask for a password: standard input is not a terminal (use --password-stdin)");
  }
  std::fprintf(stderr, "Password: ");
  std::fflush(stderr);
  termios old{};
  bool restore = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  char c;
  while (::read(STDIN_FILENO, &c, 1) == 1 && c != '\n') line += c;
  if (restore) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::fprintf(stderr, "\n");
  return line;
}

std::string LoginServer(const std::string& arg) {
  if (arg.empty()) return "docker.io";
  std::string s = arg;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (s.rfind(scheme, 0) == 0) s = s.substr(scheme.size());
  }
  if (size_t slash = s.find('/'); slash != std::string::npos) s = s.substr(0, slash);
  if (s == "index.docker.io" || s == "registry-1.docker.io") s = "docker.io";
  return s;
}

}  // namespace

Status PullImage(engine::Engine& eng, const std::string& ref, const std::string& platform, bool quiet,
                 FILE* out) {
  BD_ASSIGN_OR_RETURN(engine::ImageRef parsed, engine::ParseImageRef(ref));
  PullDisplay display(out, quiet);
  if (!HasExplicitTagOrDigest(ref)) display.Message("Using default tag: latest");
  engine::PullOptions opts;
  opts.platform = platform;
  opts.progress = [&](const engine::PullProgress& p) { display.Update(p); };
  opts.message = [&](const std::string& line) { display.Message(line); };
  BD_ASSIGN_OR_RETURN(engine::PullResult r, eng.images().Pull(ref, opts));
  display.Message(std::string("Status: ") + (r.downloaded ? "Downloaded newer image for " : "Image is up to date for ") +
                  r.name);
  if (out == stdout || quiet) std::fprintf(out, "%s\n", FullName(parsed).c_str());
  return {};
}

Status EnsureImage(engine::Engine& eng, const std::string& ref, const std::string& policy,
                   const std::string& platform) {
  if (policy != "missing" && policy != "always" && policy != "never") {
    return Status::InvalidArgument("invalid pull option: '" + policy + "': must be one of \"always\", \"missing\" or \"never\"");
  }
  if (policy == "always") return PullImage(eng, ref, platform, false, stderr);
  auto have = eng.images().ResolveOrBuiltin(ref);
  if (have.ok() || have.status().code() != Code::kNotFound) return have.status();
  if (policy == "never") return have.status();
  auto parsed = engine::ParseImageRef(ref);
  if (!parsed.ok()) return have.status();  // not a name (an id prefix): nothing to pull
  std::fprintf(stderr, "Unable to find image '%s' locally\n", parsed->Canonical().c_str());
  return PullImage(eng, ref, platform, false, stderr);
}

void RegisterRegistry(CLI::App& app, Context& ctx) {
  struct PullFlags {
    std::string ref;
    std::string platform;
    bool quiet = false;
    bool all_tags = false;
  };
  auto pf = std::make_shared<PullFlags>();
  CLI::App* pull = app.add_subcommand("pull", "Download an image from a registry");
  pull->add_option("--platform", pf->platform, "os/arch[/variant] to pull (default: this machine's)");
  pull->add_flag("-q,--quiet", pf->quiet, "Print only the image's name");
  pull->add_flag("-a,--all-tags", pf->all_tags, "Download all tagged images in the repository");
  pull->add_option("image", pf->ref, "NAME[:TAG|@DIGEST]")->required();
  pull->callback([&ctx, pf] {
    ctx.action = [&ctx, pf]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      if (!pf->all_tags) {
        Status st = PullImage(**eng, pf->ref, pf->platform, pf->quiet, stdout);
        return st.ok() ? 0 : Fail(st);
      }
      if (HasExplicitTagOrDigest(pf->ref)) {
        return Fail(Status::InvalidArgument("tag can't be used with --all-tags/-a"));
      }
      auto tags = (*eng)->images().RemoteTags(pf->ref);
      if (!tags.ok()) return Fail(tags.status());
      if (tags->empty()) return Fail(Status::NotFound("repository " + pf->ref + " has no tags"));
      for (const std::string& t : *tags) {
        Status st = PullImage(**eng, pf->ref + ":" + t, pf->platform, pf->quiet, stdout);
        if (!st.ok()) return Fail(st);
      }
      return 0;
    };
  });

  struct PushFlags {
    std::string ref;
    bool quiet = false;
    bool all_tags = false;
  };
  auto psf = std::make_shared<PushFlags>();
  CLI::App* push = app.add_subcommand("push", "Upload an image to a registry");
  push->add_flag("-q,--quiet", psf->quiet, "Print only the image's digest line");
  push->add_flag("-a,--all-tags", psf->all_tags, "Push all tags of the repository");
  push->add_option("image", psf->ref, "NAME[:TAG]")->required();
  push->callback([&ctx, psf] {
    ctx.action = [&ctx, psf]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::vector<std::string> refs = {psf->ref};
      if (psf->all_tags) {
        if (HasExplicitTagOrDigest(psf->ref)) return Fail(Status::InvalidArgument("tag can't be used with --all-tags/-a"));
        auto repo = engine::ParseImageRef(psf->ref);
        if (!repo.ok()) return Fail(repo.status());
        auto images = (*eng)->images().List();
        if (!images.ok()) return Fail(images.status());
        refs.clear();
        for (const engine::Image& img : *images) {
          for (const std::string& t : img.tags) {
            if (t.rfind(repo->repository + ":", 0) == 0) refs.push_back(t);
          }
        }
        if (refs.empty()) return Fail(Status::NotFound("An image does not exist locally with the tag: " + repo->repository));
      }
      for (const std::string& r : refs) {
        PullDisplay display(stdout, psf->quiet, /*push=*/true);
        engine::PullOptions opts;
        opts.progress = [&](const engine::PullProgress& p) { display.Update(p); };
        opts.message = [&](const std::string& line) { display.Message(line); };
        auto pushed = (*eng)->images().Push(r, opts);
        if (!pushed.ok()) return Fail(pushed.status());
        std::printf("%s: digest: %s size: %lld\n", pushed->tag.c_str(), pushed->digest.c_str(),
                    static_cast<long long>(pushed->size));
      }
      return 0;
    };
  });

  struct LoginFlags {
    std::string server;
    std::string username;
    std::string password;
    bool password_stdin = false;
  };
  auto lf = std::make_shared<LoginFlags>();
  CLI::App* login = app.add_subcommand("login", "Log in to a registry");
  login->add_option("-u,--username", lf->username, "Username");
  login->add_option("-p,--password", lf->password, "Password (visible to other users: prefer --password-stdin)");
  login->add_flag("--password-stdin", lf->password_stdin, "Take the password from stdin");
  login->add_option("server", lf->server, "Registry (default: Docker Hub)");
  login->callback([&ctx, lf] {
    ctx.action = [&ctx, lf]() -> int {
      if (lf->password_stdin && !lf->password.empty()) {
        return Fail(Status::InvalidArgument("--password and --password-stdin are mutually exclusive"));
      }
      if (lf->password_stdin && lf->username.empty()) {
        return Fail(Status::InvalidArgument("Must provide --username with --password-stdin"));
      }
      std::string server = LoginServer(lf->server);
      if (lf->username.empty()) {
        if (::isatty(STDIN_FILENO) != 1) return Fail(Status::InvalidArgument("Must provide --username (standard input is not a terminal)"));
        std::fprintf(stderr, "Username: ");
        std::fflush(stderr);
        char c;
        while (::read(STDIN_FILENO, &c, 1) == 1 && c != '\n') lf->username += c;
        if (lf->username.empty()) return Fail(Status::InvalidArgument("Username is required"));
      }
      std::string password = lf->password;
      if (lf->password_stdin) {
        auto all = os::ReadAll(STDIN_FILENO);
        if (!all.ok()) return Fail(all.status());
        password = *all;
        while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
      } else if (password.empty()) {
        auto p = PromptPassword();
        if (!p.ok()) return Fail(p.status());
        password = *p;
      }
      if (password.empty()) return Fail(Status::InvalidArgument("Password is required"));
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      const engine::Paths& paths = (*eng)->paths();
      auto regs = engine::LoadRegistries(paths);
      if (!regs.ok()) return Fail(regs.status());
      if (Status st = regs->CheckAllowed(server); !st.ok()) return Fail(st);
      // The registry is asked first: a wrong password is never stored.
      auto session = std::make_shared<registry::Session>();
      session->endpoint = regs->PushEndpoint(server);
      session->registry = server;
      session->credentials = registry::Credentials{lf->username, password, ""};
      registry::Client client(session);
      if (Status st = client.Ping(); !st.ok()) {
        return Fail(st.WithContext("login to " + server));
      }
      Status saved = registry::CredentialStore::Save(paths.Credentials(), server, *session->credentials);
      if (!saved.ok()) return Fail(saved);
      std::printf("Login Succeeded\n");
      return 0;
    };
  });

  auto logout_server = std::make_shared<std::string>();
  CLI::App* logout = app.add_subcommand("logout", "Log out from a registry");
  logout->add_option("server", *logout_server, "Registry (default: Docker Hub)");
  logout->callback([&ctx, logout_server] {
    ctx.action = [&ctx, logout_server]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      std::string server = LoginServer(*logout_server);
      auto removed = registry::CredentialStore::Remove((*eng)->paths().Credentials(), server);
      if (!removed.ok()) return Fail(removed.status());
      if (*removed) {
        std::printf("Removing login credentials for %s\n", server.c_str());
      } else {
        std::printf("Not logged in to %s\n", server.c_str());
      }
      return 0;
    };
  });

  auto tag_args = std::make_shared<std::vector<std::string>>();
  CLI::App* tag = app.add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
  tag->add_option("images", *tag_args, "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")->required()->expected(2);
  tag->callback([&ctx, tag_args] {
    ctx.action = [&ctx, tag_args]() -> int {
      auto eng = ctx.Engine();
      if (!eng.ok()) return Fail(eng.status());
      Status st = (*eng)->images().Tag((*tag_args)[0], (*tag_args)[1]);
      return st.ok() ? 0 : Fail(st);
    };
  });
}

}  // namespace bd::cli
