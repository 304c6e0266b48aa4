#include "engine/plugins/conformance.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "engine/plugins/spawn.h"
#include "net/http_client.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "plugin/contract.h"

namespace bd::engine {
namespace {

using nlohmann::json;

// A plugin process of the check's, killed and reaped when it goes out of scope.
struct Running {
  pid_t pid = 0;
  UniqueFd out;
  std::string err_path;
  ~Running() {
    if (pid > 0) KillAndReap(pid);
  }
  // Waits up to `ms` for it to exit; its wait status, or nothing.
  std::optional<int> WaitExit(int64_t ms) {
    int64_t end = PluginNowMs() + ms;
    int status = 0;
    while (pid > 0) {
      pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        pid = 0;
        return status;
      }
      if (PluginNowMs() >= end) return std::nullopt;
      ::usleep(5'000);
    }
    return std::nullopt;
  }
  std::string Stderr() const {
    auto t = os::ReadFile(err_path);
    if (!t.ok() || t->empty()) return "";
    std::string tail = t->size() > 600 ? t->substr(t->size() - 600) : *t;
    return "; its stderr: " + std::string(TrimSpace(tail));
  }
};

Result<std::unique_ptr<Running>> Launch(const std::string& path, const std::vector<std::string>& args,
                                        const std::string& scratch) {
  auto r = std::make_unique<Running>();
  r->err_path = scratch + "/stderr";
  UniqueFd err(::open(r->err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!err) return os::ErrnoStatus("open " + r->err_path);
  UniqueFd out[2];
  BD_RETURN_IF_ERROR(os::MakePipe(out));
  std::vector<std::string> argv = {path};
  argv.insert(argv.end(), args.begin(), args.end());
  BD_ASSIGN_OR_RETURN(r->pid, SpawnPlugin(argv, out[1].get(), err.get(), PluginEnvironment("check", "")));
  r->out = std::move(out[0]);
  return r;
}

// Starts `server --config` and reads its address line.
Result<std::unique_ptr<Running>> StartServer(const std::string& path, const plugin::ServerConfig& config,
                                             const std::string& scratch) {
  BD_ASSIGN_OR_RETURN(auto r, Launch(path, {"server", "--config", plugin::ServerConfigJson(config)}, scratch));
  std::string line;
  if (!ReadUntil(r->out.get(), &line, true, 4096, PluginNowMs() + 10'000)) {
    return Status::DeadlineExceeded("no address line within 10 s" + r->Stderr());
  }
  std::string want = plugin::AddressOf(config);
  if (std::string(TrimSpace(line)) != want) {
    auto exit = r->WaitExit(200);
    return Status::Internal("printed `" + std::string(TrimSpace(line)).substr(0, 200) + "`, not `" + want + "`" +
                            (exit ? " and " + DescribeExit(*exit) : "") + r->Stderr());
  }
  return r;
}

Result<net::HttpResponse> Request(const plugin::ServerConfig& c, const std::string& method, const std::string& path,
                                  const std::string& body = "") {
  net::HttpClient client;
  net::HttpRequest req;
  req.method = method;
  req.body = body;
  req.timeout_ms = 5'000;
  if (!body.empty()) req.headers = {"Content-Type: application/json"};
  if (c.type == plugin::ListenType::kUnix) {
    req.unix_socket = c.location;
    req.url = "http://plugin" + path;
  } else {
    req.url = "http://" + c.location + path;
  }
  return client.Do(req);
}

// An answer that is the contract's error JSON with a status in [lo, hi].
Status IsContractError(const Result<net::HttpResponse>& r, long lo, long hi) {
  if (!r.ok()) return r.status();
  if (r->status < lo || r->status > hi) {
    return Status::Internal("HTTP " + std::to_string(r->status) + " (wanted " + std::to_string(lo) + "-" +
                            std::to_string(hi) + "): " + r->body.substr(0, 200));
  }
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("code") || !j["code"].is_string() || !j.contains("message") || !j["message"].is_string()) {
    return Status::Internal("the body is not {\"code\": ..., \"message\": ...}: " + r->body.substr(0, 200));
  }
  std::string code = j["code"].get<std::string>();
  if (!plugin::CodeOfContractName(code)) return Status::Internal("unknown error code " + code);
  return {};
}

Result<int> FreeLoopbackPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return os::ErrnoStatus("bind a loopback port");
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace

std::vector<CheckResult> CheckPlugin(const std::string& path, const std::string& scratch) {
  std::vector<CheckResult> results;
  auto check = [&](const std::string& name, const std::function<Status(std::string*)>& fn) {
    std::string seen;
    Status st = fn(&seen);
    results.push_back({name, st.ok(), st.ok() ? seen : st.message()});
    return st.ok();
  };
  plugin::Capabilities caps;
  std::string first_output;
  bool have_caps = check("capabilities prints the contract's JSON and exits 0", [&](std::string* seen) -> Status {
    BD_ASSIGN_OR_RETURN(auto r, Launch(path, {"capabilities"}, scratch));
    std::string out;
    if (!ReadUntil(r->out.get(), &out, false, 1 << 20, PluginNowMs() + 5'000)) return Status::DeadlineExceeded("no end of output within 5 s");
    auto exit = r->WaitExit(5'000);
    if (!exit) return Status::DeadlineExceeded("did not exit within 5 s of its output");
    if (!WIFEXITED(*exit) || WEXITSTATUS(*exit) != 0) return Status::Internal(DescribeExit(*exit) + r->Stderr());
    BD_ASSIGN_OR_RETURN(caps, plugin::ParseCapabilities(out));
    first_output = out;
    std::vector<std::string> list;
    for (const auto& [t, cs] : caps.types) list.push_back(t + ": " + Join(cs, ", "));
    *seen = Join(list, "; ");
    return {};
  });
  check("capabilities is the same every time", [&](std::string*) -> Status {
    if (!have_caps) return Status::FailedPrecondition("no capabilities to compare");
    BD_ASSIGN_OR_RETURN(auto r, Launch(path, {"capabilities"}, scratch));
    std::string out;
    if (!ReadUntil(r->out.get(), &out, false, 1 << 20, PluginNowMs() + 5'000)) return Status::DeadlineExceeded("no end of output within 5 s");
    (void)r->WaitExit(5'000);
    BD_ASSIGN_OR_RETURN(plugin::Capabilities again, plugin::ParseCapabilities(out));
    if (again.types != caps.types) return Status::Internal("a second call listed other capabilities");
    return {};
  });
  for (const auto& bad : std::vector<std::pair<std::string, std::string>>{
           {"malformed JSON", "{"}, {"no location", R"({"id":"check","type":"unix"})"},
           {"a non-loopback tcp location", R"({"id":"check","type":"tcp","location":"0.0.0.0:1"})"}}) {
    const std::string& config = bad.second;
    check("server refuses a config with " + bad.first, [&](std::string*) -> Status {
      BD_ASSIGN_OR_RETURN(auto r, Launch(path, {"server", "--config", config}, scratch));
      std::string out;
      (void)ReadUntil(r->out.get(), &out, true, 4096, PluginNowMs() + 5'000);
      auto exit = r->WaitExit(5'000);
      if (!exit) return Status::DeadlineExceeded("still running 5 s later");
      if (WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) return Status::Internal("exited 0");
      if (!TrimSpace(out).empty()) return Status::Internal("printed `" + std::string(TrimSpace(out)).substr(0, 100) + "` on stdout");
      return {};
    });
  }

  plugin::ServerConfig unix_config;
  unix_config.id = "check";
  unix_config.location = scratch + "/plugin.sock";
  std::unique_ptr<Running> server;
  bool up = check("server --config (unix) prints its address once listening", [&](std::string* seen) -> Status {
    ::unlink(unix_config.location.c_str());
    BD_ASSIGN_OR_RETURN(server, StartServer(path, unix_config, scratch));
    *seen = plugin::AddressOf(unix_config);
    return {};
  });
  auto need_server = [&]() -> Status {
    return up ? Status() : Status::FailedPrecondition("the server did not start");
  };
  check("its socket is its owner's only", [&](std::string*) -> Status {
    BD_RETURN_IF_ERROR(need_server());
    struct stat st {};
    if (::stat(unix_config.location.c_str(), &st) != 0) return os::ErrnoStatus("stat the socket");
    if (st.st_mode & 0077) return Status::PermissionDenied("the socket's mode grants group or others access");
    return {};
  });
  check("GET /healthz answers 200 with a JSON object", [&](std::string*) -> Status {
    BD_RETURN_IF_ERROR(need_server());
    BD_ASSIGN_OR_RETURN(net::HttpResponse r, Request(unix_config, "GET", "/healthz"));
    if (r.status != 200) return Status::Internal("HTTP " + std::to_string(r.status));
    if (!json::parse(r.body, nullptr, false).is_object()) return Status::Internal("not a JSON object: " + r.body.substr(0, 100));
    return {};
  });
  check("an unknown endpoint is 404 with the contract's error JSON", [&](std::string*) -> Status {
    BD_RETURN_IF_ERROR(need_server());
    return IsContractError(Request(unix_config, "POST", "/v1/no-such-type/no-such-capability", "{}"), 404, 404);
  });
  for (const auto& [type, list] : caps.types) {
    for (const std::string& cap : list) {
      std::string endpoint = plugin::EndpointOf(type, cap);
      check("POST " + endpoint + " with malformed JSON is a 4xx error JSON", [&](std::string*) -> Status {
        BD_RETURN_IF_ERROR(need_server());
        BD_RETURN_IF_ERROR(IsContractError(Request(unix_config, "POST", endpoint, "{not json"), 400, 499));
        BD_ASSIGN_OR_RETURN(net::HttpResponse h, Request(unix_config, "GET", "/healthz"));
        if (h.status != 200) return Status::Internal("unhealthy afterwards: HTTP " + std::to_string(h.status));
        return {};
      });
    }
  }
  check("eight concurrent requests are all answered", [&](std::string*) -> Status {
    BD_RETURN_IF_ERROR(need_server());
    std::vector<std::thread> threads;
    std::vector<Status> got(8);
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&, i] {
        auto r = Request(unix_config, "GET", "/healthz");
        got[i] = !r.ok() ? r.status() : r->status == 200 ? Status() : Status::Internal("HTTP " + std::to_string(r->status));
      });
    }
    for (auto& t : threads) t.join();
    for (const Status& s : got) BD_RETURN_IF_ERROR(s);
    return {};
  });
  check("SIGTERM stops it within 2 s", [&](std::string*) -> Status {
    BD_RETURN_IF_ERROR(need_server());
    ::kill(server->pid, SIGTERM);
    auto exit = server->WaitExit(2'000);
    if (!exit) return Status::DeadlineExceeded("still running" + server->Stderr());
    return {};
  });
  server.reset();

  check("it exits by itself after its idle timeout, removing its socket", [&](std::string* seen) -> Status {
    plugin::ServerConfig c = unix_config;
    c.idle_timeout_ms = 1'000;
    ::unlink(c.location.c_str());
    BD_ASSIGN_OR_RETURN(auto r, StartServer(path, c, scratch));
    BD_ASSIGN_OR_RETURN(net::HttpResponse h, Request(c, "GET", "/healthz"));
    if (h.status != 200) return Status::Internal("healthz: HTTP " + std::to_string(h.status));
    int64_t asked = PluginNowMs();
    auto exit = r->WaitExit(4'000);
    if (!exit) return Status::DeadlineExceeded("still running 4 s after its last request (idleTimeout 1s)");
    if (!WIFEXITED(*exit) || WEXITSTATUS(*exit) != 0) return Status::Internal("it " + DescribeExit(*exit) + r->Stderr());
    if (os::Exists(c.location)) return Status::Internal("its socket is still there");
    *seen = "exited after " + std::to_string(PluginNowMs() - asked) + " ms";
    return {};
  });
  check("server --config (tcp) listens on the loopback port given", [&](std::string* seen) -> Status {
    BD_ASSIGN_OR_RETURN(int port, FreeLoopbackPort());
    plugin::ServerConfig c;
    c.id = "check";
    c.type = plugin::ListenType::kTcp;
    c.location = "127.0.0.1:" + std::to_string(port);
    BD_ASSIGN_OR_RETURN(auto r, StartServer(path, c, scratch));
    BD_ASSIGN_OR_RETURN(net::HttpResponse h, Request(c, "GET", "/healthz"));
    if (h.status != 200) return Status::Internal("healthz: HTTP " + std::to_string(h.status));
    *seen = plugin::AddressOf(c);
    return {};
  });
  return results;
}

}  // namespace bd::engine
