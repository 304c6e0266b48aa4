#include "registry/hosts.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "os/fs.h"

namespace bd::registry {
namespace {

using nlohmann::json;

std::string HostOnly(std::string_view host_port) {
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find(']');
    return std::string(host_port.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  size_t colon = host_port.rfind(':');
  return std::string(colon == std::string_view::npos ? host_port : host_port.substr(0, colon));
}

Status WrongType(const std::string& file, const std::string& member, const char* want) {
  return Status::InvalidArgument("`" + file + "`: \"" + member + "\" must be " + want);
}

Result<std::vector<std::string>> Strings(const json& v, const std::string& file, const std::string& member) {
  if (!v.is_array()) return WrongType(file, member, "an array of strings");
  std::vector<std::string> out;
  for (const json& e : v) {
    if (!e.is_string() || e.get<std::string>().empty()) return WrongType(file, member, "an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<int> PositiveInt(const json& v, const std::string& file, const std::string& member) {
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 64) {
    return WrongType(file, member, "an integer from 1 to 64");
  }
  return static_cast<int>(v.get<int64_t>());
}

// "https://mirror:5000/path" or "mirror:5000" into an endpoint.
Endpoint MirrorEndpoint(std::string_view spec) {
  Endpoint e;
  e.mirror = true;
  std::string_view rest = spec;
  if (rest.rfind("http://", 0) == 0) {
    e.plain_http = true;
    rest.remove_prefix(7);
  } else if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
  }
  size_t slash = rest.find('/');
  e.host = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    std::string prefix(rest.substr(slash));
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    e.path_prefix = prefix;
  }
  if (IsLoopbackHost(e.host)) e.plain_http = true;
  return e;
}

}  // namespace

std::string Endpoint::BaseUrl(bool http) const {
  return std::string(http || plain_http ? "http://" : "https://") + host + path_prefix;
}

bool IsLoopbackHost(std::string_view host_port) {
  std::string host = HostOnly(host_port);
  if (host == "localhost" || host == "::1") return true;
  std::vector<std::string> parts = Split(host, '.');
  if (parts.size() != 4 || parts[0] != "127") return false;
  for (const std::string& p : parts) {
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  }
  return true;
}

Result<Registries> Registries::Load(const std::vector<std::string>& files) {
  Registries r;
  for (const std::string& file : files) {
    auto text = os::ReadFile(file);
    if (!text.ok()) {
      if (text.status().code() == Code::kNotFound) continue;
      return text.status();
    }
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument("`" + file + "` is not a JSON object");
    }
    if (doc.contains("registries")) {
      if (!doc["registries"].is_object()) return WrongType(file, "registries", "an object");
      for (const auto& [name, entry] : doc["registries"].items()) {
        std::string where = "registries." + name;
        if (!entry.is_object()) return WrongType(file, where, "an object");
        HostSettings& h = r.hosts_[name];
        if (entry.contains("insecure")) {
          if (!entry["insecure"].is_boolean()) return WrongType(file, where + ".insecure", "true or false");
          h.insecure = entry["insecure"].get<bool>();
        }
        if (entry.contains("blocked")) {
          if (!entry["blocked"].is_boolean()) return WrongType(file, where + ".blocked", "true or false");
          h.blocked = entry["blocked"].get<bool>();
        }
        if (entry.contains("mirrors")) {
          BD_ASSIGN_OR_RETURN(h.mirrors, Strings(entry["mirrors"], file, where + ".mirrors"));
        }
      }
    }
    if (doc.contains("insecure-registries")) {
      BD_ASSIGN_OR_RETURN(auto names, Strings(doc["insecure-registries"], file, "insecure-registries"));
      for (const std::string& n : names) r.hosts_[n].insecure = true;
    }
    if (doc.contains("registry-mirrors")) {
      BD_ASSIGN_OR_RETURN(r.hosts_["docker.io"].mirrors,
                          Strings(doc["registry-mirrors"], file, "registry-mirrors"));
    }
    if (doc.contains("max-concurrent-downloads")) {
      BD_ASSIGN_OR_RETURN(r.max_downloads_, PositiveInt(doc["max-concurrent-downloads"], file, "max-concurrent-downloads"));
    }
    if (doc.contains("max-concurrent-uploads")) {
      BD_ASSIGN_OR_RETURN(r.max_uploads_, PositiveInt(doc["max-concurrent-uploads"], file, "max-concurrent-uploads"));
    }
  }
  return r;
}

Status Registries::CheckAllowed(std::string_view domain) const {
  if (auto it = hosts_.find(domain); it != hosts_.end() && it->second.blocked) {
    return Status::FailedPrecondition("registry " + std::string(domain) + " is blocked (\"blocked\": true in registries.conf)");
  }
  return {};
}

Endpoint Registries::Direct(std::string_view domain) const {
  Endpoint e;
  e.host = domain == "docker.io" ? "registry-1.docker.io" : std::string(domain);
  e.plain_http = IsLoopbackHost(domain);
  if (auto it = hosts_.find(domain); it != hosts_.end()) e.insecure = it->second.insecure;
  return e;
}

std::vector<Endpoint> Registries::PullEndpoints(std::string_view domain) const {
  std::vector<Endpoint> out;
  if (auto it = hosts_.find(domain); it != hosts_.end()) {
    for (const std::string& m : it->second.mirrors) {
      Endpoint e = MirrorEndpoint(m);
      if (auto mi = hosts_.find(e.host); mi != hosts_.end() && mi->second.insecure) e.insecure = true;
      out.push_back(std::move(e));
    }
  }
  out.push_back(Direct(domain));
  return out;
}

Endpoint Registries::PushEndpoint(std::string_view domain) const { return Direct(domain); }

}  // namespace bd::registry
