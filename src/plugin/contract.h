// The plugin contract (docs/plugins.md), shared by the engine's plugin manager and the SDK
// plugins are written with: what `PLUGIN capabilities` prints, what `PLUGIN server --config`
// is given, and how a failure travels back. Pure: parsing and printing only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::plugin {

// The version this engine speaks; a plugin printing another is refused.
inline constexpr std::string_view kContractVersion = "basic-docker.plugin/v1";

// What `capabilities` prints: {"contractVersion": "...", "type": {"TYPE": ["CAP", ...]}}.
struct Capabilities {
  std::string contract_version{kContractVersion};
  std::map<std::string, std::vector<std::string>> types;

  bool Has(std::string_view type, std::string_view capability) const;
};

// InvalidArgument, naming what is wrong, for anything but one JSON object of the contract's
// version with at least one type, every type and capability a name (ValidateName).
Result<Capabilities> ParseCapabilities(std::string_view text);
std::string CapabilitiesJson(const Capabilities& c);

// Types and capabilities: 1-64 of [a-z0-9-], starting with a letter.
Status ValidateName(std::string_view what, std::string_view name);

enum class ListenType { kUnix, kTcp };

// What `server --config` is given: {"id", "type": "unix"|"tcp", "location", "idleTimeout"}.
// location: a socket path (unix) or 127.0.0.1:PORT (tcp); idleTimeout: a Go duration string
// ("30s", "1m30s", "250ms") or a number of seconds; absent: the plugin never idles out.
struct ServerConfig {
  std::string id;
  ListenType type = ListenType::kUnix;
  std::string location;
  std::optional<int64_t> idle_timeout_ms;
};

Result<ServerConfig> ParseServerConfig(std::string_view text);
std::string ServerConfigJson(const ServerConfig& c);

// The address a plugin prints once it listens: "unix://PATH" or "http://127.0.0.1:PORT".
std::string AddressOf(const ServerConfig& c);

// "250ms", "30s", "1m30s", "2h": milliseconds. InvalidArgument otherwise.
Result<int64_t> ParseDuration(std::string_view text);

// The path of a capability's endpoint: POST /v1/TYPE/CAPABILITY.
std::string EndpointOf(std::string_view type, std::string_view capability);

// A failure as a plugin answers it: {"code": "InvalidArgument", "message": "..."} with the
// HTTP status of its code.
std::string ErrorJson(const Status& st);
std::string_view ContractCodeName(Code code);
// The code a contract name stands for ("NotFound"); nothing for a name the contract lacks.
std::optional<Code> CodeOfContractName(std::string_view name);
// A plugin's error body back as a Status; a body that is not one: Internal, with what it was.
Status StatusFromErrorJson(int http_status, std::string_view body);

}  // namespace bd::plugin
