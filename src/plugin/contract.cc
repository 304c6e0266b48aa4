#include "plugin/contract.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace bd::plugin {
namespace {

using nlohmann::json;

// JSON text as one object, or InvalidArgument naming `what`.
Result<json> ParseObject(std::string_view what, std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    std::string shown(text.substr(0, 200));
    return Status::InvalidArgument(std::string(what) + " is not JSON: `" + shown + (text.size() > 200 ? "...`" : "`"));
  }
  if (!j.is_object()) return Status::InvalidArgument(std::string(what) + " is not a JSON object");
  return j;
}

constexpr Code kCodes[] = {Code::kNotFound,         Code::kAlreadyExists, Code::kInvalidArgument,
                           Code::kFailedPrecondition, Code::kPermissionDenied, Code::kUnavailable,
                           Code::kInternal,         Code::kConflict,      Code::kNotSupported,
                           Code::kDeadlineExceeded};

}  // namespace

bool Capabilities::Has(std::string_view type, std::string_view capability) const {
  auto it = types.find(std::string(type));
  if (it == types.end()) return false;
  for (const std::string& c : it->second) {
    if (c == capability) return true;
  }
  return false;
}

Status ValidateName(std::string_view what, std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] >= 'a' && name[0] <= 'z';
  for (char ch : name) ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-');
  if (!ok) {
    return Status::InvalidArgument(std::string(what) + " `" + std::string(name.substr(0, 80)) +
                                   "` is not a name (1-64 of a-z, 0-9 and -, starting with a letter)");
  }
  return {};
}

Result<Capabilities> ParseCapabilities(std::string_view text) {
  BD_ASSIGN_OR_RETURN(json j, ParseObject("the capabilities output", TrimSpace(text)));
  Capabilities c;
  auto version = j.find("contractVersion");
  if (version == j.end() || !version->is_string()) {
    return Status::InvalidArgument("the capabilities output has no contractVersion (this engine speaks " +
                                   std::string(kContractVersion) + ")");
  }
  c.contract_version = version->get<std::string>();
  if (c.contract_version != kContractVersion) {
    return Status::InvalidArgument("the plugin speaks contract " + c.contract_version.substr(0, 80) +
                                   ", this engine speaks " + std::string(kContractVersion));
  }
  auto types = j.find("type");
  if (types == j.end() || !types->is_object() || types->empty()) {
    return Status::InvalidArgument("the capabilities output has no \"type\" object with at least one type");
  }
  for (const auto& [type, caps] : types->items()) {
    BD_RETURN_IF_ERROR(ValidateName("plugin type", type));
    if (!caps.is_array() || caps.empty()) {
      return Status::InvalidArgument("type " + type + " lists no capabilities (an array of names)");
    }
    std::vector<std::string>& list = c.types[type];
    for (const json& cap : caps) {
      if (!cap.is_string()) return Status::InvalidArgument("type " + type + " has a capability that is not a string");
      BD_RETURN_IF_ERROR(ValidateName("capability", cap.get<std::string>()));
      list.push_back(cap.get<std::string>());
    }
  }
  return c;
}

std::string CapabilitiesJson(const Capabilities& c) {
  json j = {{"contractVersion", c.contract_version}, {"type", json::object()}};
  for (const auto& [type, caps] : c.types) j["type"][type] = caps;
  return j.dump();
}

Result<int64_t> ParseDuration(std::string_view text) {
  std::string_view rest = TrimSpace(text);
  if (rest.empty()) return Status::InvalidArgument("an empty duration");
  auto bad = [&] { return Status::InvalidArgument("`" + std::string(text.substr(0, 40)) + "` is not a duration (like 250ms, 30s, 1m30s)"); };
  int64_t total = 0;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 0 || digits > 12) return bad();
    int64_t n = ParseInt(rest.substr(0, digits)).value_or(-1);
    rest.remove_prefix(digits);
    int64_t unit = 0;
    if (rest.rfind("ms", 0) == 0) {
      unit = 1, rest.remove_prefix(2);
    } else if (!rest.empty() && rest[0] == 's') {
      unit = 1000, rest.remove_prefix(1);
    } else if (!rest.empty() && rest[0] == 'm') {
      unit = 60'000, rest.remove_prefix(1);
    } else if (!rest.empty() && rest[0] == 'h') {
      unit = 3'600'000, rest.remove_prefix(1);
    } else {
      return bad();
    }
    if (n < 0) return bad();
    total += n * unit;
  }
  return total;
}

Result<ServerConfig> ParseServerConfig(std::string_view text) {
  BD_ASSIGN_OR_RETURN(json j, ParseObject("the server config", text));
  ServerConfig c;
  auto str = [&](const char* key) -> Result<std::string> {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
      return Status::InvalidArgument(std::string("the server config has no \"") + key + "\" string");
    }
    return it->get<std::string>();
  };
  BD_ASSIGN_OR_RETURN(c.id, str("id"));
  BD_ASSIGN_OR_RETURN(std::string type, str("type"));
  if (type == "unix") {
    c.type = ListenType::kUnix;
  } else if (type == "tcp") {
    c.type = ListenType::kTcp;
  } else {
    return Status::InvalidArgument("the server config's type is `" + type.substr(0, 40) + "`, not unix or tcp");
  }
  BD_ASSIGN_OR_RETURN(c.location, str("location"));
  if (c.type == ListenType::kUnix && (c.location[0] != '/' || c.location.size() > 107)) {
    return Status::InvalidArgument("a unix location must be an absolute socket path of at most 107 bytes");
  }
  if (c.type == ListenType::kTcp) {
    std::string_view loc = c.location;
    constexpr std::string_view kLoopback = "127.0.0.1:";
    std::optional<int64_t> port = loc.rfind(kLoopback, 0) == 0 ? ParseInt(loc.substr(kLoopback.size())) : std::nullopt;
    if (!port || *port < 1 || *port > 65535) {
      return Status::InvalidArgument("a tcp location must be 127.0.0.1:PORT (loopback only), not `" + c.location.substr(0, 60) + "`");
    }
  }
  if (auto it = j.find("idleTimeout"); it != j.end() && !it->is_null()) {
    if (it->is_number_unsigned() || it->is_number_integer()) {
      c.idle_timeout_ms = it->get<int64_t>() * 1000;
    } else if (it->is_string()) {
      BD_ASSIGN_OR_RETURN(c.idle_timeout_ms, ParseDuration(it->get<std::string>()));
    } else {
      return Status::InvalidArgument("the server config's idleTimeout is neither a duration string nor seconds");
    }
    if (*c.idle_timeout_ms <= 0) return Status::InvalidArgument("the server config's idleTimeout must be positive");
  }
  return c;
}

std::string ServerConfigJson(const ServerConfig& c) {
  json j = {{"id", c.id}, {"type", c.type == ListenType::kUnix ? "unix" : "tcp"}, {"location", c.location}};
  if (c.idle_timeout_ms) j["idleTimeout"] = std::to_string(*c.idle_timeout_ms) + "ms";
  return j.dump();
}

std::string AddressOf(const ServerConfig& c) {
  return (c.type == ListenType::kUnix ? "unix://" : "http://") + c.location;
}

std::string EndpointOf(std::string_view type, std::string_view capability) {
  return "/v1/" + std::string(type) + "/" + std::string(capability);
}

std::string_view ContractCodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kPermissionDenied: return "PermissionDenied";
    case Code::kUnavailable: return "Unavailable";
    case Code::kInternal: return "Internal";
    case Code::kConflict: return "Conflict";
    case Code::kNotSupported: return "NotSupported";
    case Code::kDeadlineExceeded: return "DeadlineExceeded";
  }
  return "Internal";
}

std::optional<Code> CodeOfContractName(std::string_view name) {
  for (Code c : kCodes) {
    if (ContractCodeName(c) == name) return c;
  }
  return std::nullopt;
}

std::string ErrorJson(const Status& st) {
  return json{{"code", ContractCodeName(st.ok() ? Code::kInternal : st.code())}, {"message", st.message()}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

Status StatusFromErrorJson(int http_status, std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("code") && j["code"].is_string() && j.contains("message") && j["message"].is_string()) {
    std::string name = j["code"].get<std::string>();
    if (std::optional<Code> c = CodeOfContractName(name)) return Status::FromCode(*c, j["message"].get<std::string>());
    return Status::Internal(j["message"].get<std::string>() + " (unknown error code " + name.substr(0, 40) + ")");
  }
  std::string shown(body.substr(0, 200));
  return Status::Internal("HTTP " + std::to_string(http_status) + " without an error body of the contract: `" + shown + "`");
}

}  // namespace bd::plugin
