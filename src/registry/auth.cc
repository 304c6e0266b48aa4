#include "registry/auth.h"

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "os/fs.h"

namespace bd::registry {
namespace {

using nlohmann::json;

constexpr std::string_view kHubKey = "https://index.docker.io/v1/";

bool IsHub(std::string_view registry) {
  return registry == "docker.io" || registry == "index.docker.io" ||
         registry == "registry-1.docker.io" || registry == kHubKey;
}

std::map<std::string, Credentials> ParseAuths(const json& doc) {
  std::map<std::string, Credentials> out;
  if (!doc.is_object() || !doc.contains("auths") || !doc["auths"].is_object()) return out;
  for (const auto& [key, entry] : doc["auths"].items()) {
    if (!entry.is_object()) continue;
    Credentials c;
    if (entry.contains("auth") && entry["auth"].is_string()) {
      std::optional<std::string> plain = Base64Decode(entry["auth"].get<std::string>());
      if (!plain) continue;
      size_t colon = plain->find(':');
      if (colon == std::string::npos) continue;
      c.username = plain->substr(0, colon);
      c.password = plain->substr(colon + 1);
    }
    if (entry.contains("identitytoken") && entry["identitytoken"].is_string()) {
      c.identity_token = entry["identitytoken"].get<std::string>();
    }
    if (c.username.empty() && c.identity_token.empty()) continue;
    out[key] = std::move(c);
  }
  return out;
}

std::map<std::string, Credentials> ReadAuths(const std::string& path) {
  auto text = os::ReadFile(path);
  if (!text.ok()) return {};
  return ParseAuths(json::parse(*text, nullptr, false));
}

std::string DockerConfigPath() {
  if (const char* d = std::getenv("DOCKER_CONFIG"); d != nullptr && *d != '\0') {
    return std::string(d) + "/config.json";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.docker/config.json";
  }
  return "";
}

// The file's JSON, or an empty object when it does not exist; an error when it is not JSON
// (a login never replaces a file it cannot read: the user's other settings are in it).
Result<json> ReadOwn(const std::string& path) {
  auto text = os::ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return json::object();
    return text.status();
  }
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("`" + path + "` is not a JSON object; fix or remove it");
  }
  return doc;
}

}  // namespace

std::string CredentialStore::KeyFor(std::string_view registry) {
  return IsHub(registry) ? std::string(kHubKey) : std::string(registry);
}

CredentialStore CredentialStore::Load(const std::string& own_path, std::string docker_path) {
  CredentialStore s;
  s.files_.push_back(ReadAuths(own_path));
  if (docker_path.empty()) docker_path = DockerConfigPath();
  if (!docker_path.empty() && docker_path != own_path) s.files_.push_back(ReadAuths(docker_path));
  return s;
}

std::optional<Credentials> CredentialStore::For(std::string_view registry) const {
  std::vector<std::string> keys;
  if (IsHub(registry)) {
    keys = {std::string(kHubKey), "index.docker.io", "docker.io", "registry-1.docker.io"};
  } else {
    std::string r(registry);
    keys = {r, "https://" + r, "http://" + r, "https://" + r + "/v1/", "https://" + r + "/v2/"};
  }
  for (const auto& file : files_) {
    for (const std::string& k : keys) {
      if (auto it = file.find(k); it != file.end()) return it->second;
    }
  }
  return std::nullopt;
}

Status CredentialStore::Save(const std::string& own_path, std::string_view registry,
                             const Credentials& creds) {
  BD_ASSIGN_OR_RETURN(json doc, ReadOwn(own_path));
  if (!doc.contains("auths") || !doc["auths"].is_object()) doc["auths"] = json::object();
  json entry = json::object();
  if (!creds.username.empty()) entry["auth"] = Base64Encode(creds.username + ":" + creds.password);
  if (!creds.identity_token.empty()) entry["identitytoken"] = creds.identity_token;
  doc["auths"][KeyFor(registry)] = std::move(entry);
  return os::WriteFileAtomic(own_path, doc.dump(1, '\t') + "\n", 0600, true);
}

Result<bool> CredentialStore::Remove(const std::string& own_path, std::string_view registry) {
  BD_ASSIGN_OR_RETURN(json doc, ReadOwn(own_path));
  if (!doc.contains("auths") || !doc["auths"].is_object()) return false;
  bool removed = false;
  for (const std::string& k : {KeyFor(registry), std::string(registry)}) {
    removed = doc["auths"].erase(k) > 0 || removed;
  }
  if (!removed) return false;
  BD_RETURN_IF_ERROR(os::WriteFileAtomic(own_path, doc.dump(1, '\t') + "\n", 0600, true));
  return true;
}

std::optional<Challenge> ParseChallenge(std::string_view h) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  skip_space();
  size_t start = i;
  while (i < h.size() && std::isalpha(static_cast<unsigned char>(h[i]))) ++i;
  if (i == start) return std::nullopt;
  Challenge c;
  for (size_t k = start; k < i; ++k) {
    c.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(h[k])));
  }
  while (true) {
    skip_space();
    if (i >= h.size()) break;
    size_t key_start = i;
    while (i < h.size() && h[i] != '=' && h[i] != ',' && h[i] != ' ') ++i;
    std::string key;
    for (size_t k = key_start; k < i; ++k) {
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(h[k])));
    }
    skip_space();
    if (i >= h.size() || h[i] != '=') {
      if (i < h.size() && h[i] == ',') ++i;
      if (key.empty()) return std::nullopt;
      continue;  // a token68 or a bare word: nothing we use
    }
    ++i;
    skip_space();
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value += h[i++];
      }
      if (i >= h.size()) return std::nullopt;  // unterminated
      ++i;
    } else {
      while (i < h.size() && h[i] != ',' && h[i] != ' ') value += h[i++];
    }
    c.params[key] = value;
    skip_space();
    if (i < h.size() && h[i] == ',') ++i;
  }
  return c;
}

}  // namespace bd::registry
