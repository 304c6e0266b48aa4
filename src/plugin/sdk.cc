#include "plugin/sdk.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/unique_fd.h"
#include "os/error.h"

namespace bd::plugin {
namespace {

constexpr size_t kMaxBody = 64u << 20;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The listening socket the config names; a stale socket file at a unix location is replaced.
Result<UniqueFd> Listen(const ServerConfig& c) {
  if (c.type == ListenType::kUnix) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return os::ErrnoStatus("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, c.location.data(), c.location.size());
    struct stat st {};
    if (::lstat(c.location.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return Status::AlreadyExists(c.location + " exists and is not a socket");
      ::unlink(c.location.c_str());
    }
    // Only its owner (the engine's user) may connect.
    mode_t old = ::umask(0177);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::umask(old);
    if (rc < 0) return os::ErrnoStatus("bind " + c.location);
    if (::listen(fd.get(), 128) < 0) return os::ErrnoStatus("listen on " + c.location);
    return fd;
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return os::ErrnoStatus("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(ParseInt(c.location.substr(c.location.find(':') + 1)).value_or(0)));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return os::ErrnoStatus("bind " + c.location);
  if (::listen(fd.get(), 128) < 0) return os::ErrnoStatus("listen on " + c.location);
  return fd;
}

}  // namespace

// One request's state across the access handler's calls.
struct Request {
  std::string body;
  bool too_large = false;
};

struct Plugin::Server {
  Plugin* plugin;
  std::mutex mu;  // in_flight, last_done_ms: read by the idle check
  int in_flight = 0;
  int64_t last_done_ms = NowMs();

  static MHD_Result Answer(MHD_Connection* conn, unsigned status, const std::string& body) {
    MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
  }

  static MHD_Result Access(void* cls, MHD_Connection* conn, const char* url, const char* method, const char*,
                           const char* upload, size_t* upload_size, void** con_cls) {
    auto* self = static_cast<Server*>(cls);
    if (*con_cls == nullptr) {
      *con_cls = new Request();
      std::lock_guard<std::mutex> lock(self->mu);
      ++self->in_flight;
      return MHD_YES;
    }
    auto* req = static_cast<Request*>(*con_cls);
    if (*upload_size != 0) {
      if (req->body.size() + *upload_size > kMaxBody) {
        req->too_large = true;
      } else {
        req->body.append(upload, *upload_size);
      }
      *upload_size = 0;
      return MHD_YES;
    }
    std::string path = url;
    std::string m = method;
    if (req->too_large) {
      return Answer(conn, 413, ErrorJson(Status::InvalidArgument("the request body is over 64 MiB")));
    }
    if (path == "/healthz") {
      if (m != "GET" && m != "HEAD") return Answer(conn, 405, ErrorJson(Status::InvalidArgument("/healthz takes GET")));
      return Answer(conn, 200, R"({"status":"ok"})");
    }
    auto it = self->plugin->handlers_.find(path);
    if (it == self->plugin->handlers_.end()) {
      return Answer(conn, 404, ErrorJson(Status::NotFound("no endpoint " + path.substr(0, 200) + " in this plugin")));
    }
    if (m != "POST") return Answer(conn, 405, ErrorJson(Status::InvalidArgument(path + " takes POST")));
    if (!nlohmann::json::accept(req->body)) {
      return Answer(conn, 400, ErrorJson(Status::InvalidArgument("the request body is not JSON")));
    }
    Result<std::string> out = Status::Internal("the handler did not answer");
    try {
      out = it->second(req->body);
    } catch (const std::exception& e) {
      out = Status::Internal(std::string("the handler failed: ") + e.what());
    }
    if (!out.ok()) return Answer(conn, static_cast<unsigned>(HttpStatusOf(out.status().code())), ErrorJson(out.status()));
    return Answer(conn, 200, *out);
  }

  static void Completed(void* cls, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    auto* self = static_cast<Server*>(cls);
    delete static_cast<Request*>(*con_cls);
    *con_cls = nullptr;
    std::lock_guard<std::mutex> lock(self->mu);
    --self->in_flight;
    self->last_done_ms = NowMs();
  }
};

void Plugin::Serve(std::string type, std::string capability, Handler handler) {
  handlers_[EndpointOf(type, capability)] = std::move(handler);
  auto& caps = caps_.types[std::move(type)];
  caps.push_back(std::move(capability));
}

int Plugin::RunServer(const ServerConfig& config) {
  // SIGTERM and SIGINT end it cleanly: blocked here (the server's threads inherit the mask)
  // and taken by this thread between its idle checks.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  auto listener = Listen(config);
  if (!listener.ok()) {
    std::fprintf(stderr, "%s\n", listener.status().ToString().c_str());
    return 1;
  }
  Server server{this};
  MHD_Daemon* daemon = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0, nullptr, nullptr,
      &Server::Access, &server, MHD_OPTION_LISTEN_SOCKET, listener->get(), MHD_OPTION_NOTIFY_COMPLETED,
      &Server::Completed, &server, MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_END);
  if (daemon == nullptr) {
    std::fprintf(stderr, "could not start the HTTP server on %s\n", config.location.c_str());
    return 1;
  }
  int listen_fd = listener->Release();  // the daemon's now
  // Listening: the address, one line, is the manager's sign. Nothing else goes to stdout.
  std::string line = AddressOf(config) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  for (;;) {
    int64_t wait_ms = 1000;
    {
      std::lock_guard<std::mutex> lock(server.mu);
      if (config.idle_timeout_ms) {
        int64_t idle_for = NowMs() - server.last_done_ms;
        if (server.in_flight == 0 && idle_for >= *config.idle_timeout_ms) break;
        wait_ms = std::clamp<int64_t>(*config.idle_timeout_ms - idle_for, 1, 1000);
        if (server.in_flight > 0) wait_ms = 1000;
      }
    }
    timespec ts{static_cast<time_t>(wait_ms / 1000), static_cast<long>((wait_ms % 1000) * 1'000'000)};
    if (::sigtimedwait(&stop, nullptr, &ts) > 0) break;
  }
  // No new connections from here; the socket goes first so the manager's next call starts
  // a new instance rather than reaching this one.
  MHD_quiesce_daemon(daemon);
  if (config.type == ListenType::kUnix) ::unlink(config.location.c_str());
  ::close(listen_fd);
  MHD_stop_daemon(daemon);
  return 0;
}

int Plugin::Main(int argc, char** argv) {
  std::string self = argc > 0 ? argv[0] : "plugin";
  auto usage = [&] {
    std::fprintf(stderr, "usage: %s capabilities | server --config JSON\n", self.c_str());
    return 2;
  };
  if (argc == 2 && std::string_view(argv[1]) == "capabilities") {
    std::string out = CapabilitiesJson(caps_) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  if (argc >= 2 && std::string_view(argv[1]) == "server") {
    std::string config_text;
    for (int i = 2; i < argc; ++i) {
      std::string_view a = argv[i];
      if (a == "--config" && i + 1 < argc) {
        config_text = argv[++i];
      } else if (a.rfind("--config=", 0) == 0) {
        config_text = std::string(a.substr(9));
      } else {
        return usage();
      }
    }
    if (config_text.empty()) return usage();
    auto config = ParseServerConfig(config_text);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
      return 2;
    }
    return RunServer(*config);
  }
  return usage();
}

}  // namespace bd::plugin
