// The SDK for plugins written in C++ (docs/plugins.md): the two commands of the contract
// (`capabilities`, `server --config JSON`), serving HTTP/JSON on the unix socket or loopback
// port the manager chose, GET /healthz, one POST endpoint per capability, errors as the
// contract's JSON, and the exit after the idle timeout. A plugin's main is:
//
//   int main(int argc, char** argv) {
//     bd::plugin::Plugin p;
//     p.Serve("capsule-source", "fetch", [](std::string_view body) -> bd::Result<std::string> { ... });
//     return p.Main(argc, argv);
//   }
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"
#include "plugin/contract.h"

namespace bd::plugin {

// Takes the request's JSON body (checked to be JSON: anything else is answered 400), gives the answer's JSON body (or a failure, answered as the
// contract's error JSON with its code's HTTP status). Called on a thread of its own per
// connection: handlers must be thread-safe.
using Handler = std::function<Result<std::string>(std::string_view body)>;

class Plugin {
 public:
  // Served at POST /v1/TYPE/CAPABILITY and listed by `capabilities`.
  void Serve(std::string type, std::string capability, Handler handler);

  // Runs the command in argv: `capabilities`, or `server --config JSON`. Returns the exit code
  // (0; 2 for a bad command line or config, printed on stderr).
  int Main(int argc, char** argv);

  // The parts of Main, for tests and for plugins with a command line of their own.
  const Capabilities& capabilities() const { return caps_; }
  int RunServer(const ServerConfig& config);

 private:
  struct Server;
  Capabilities caps_;
  std::map<std::string, Handler> handlers_;  // by endpoint path
};

}  // namespace bd::plugin
