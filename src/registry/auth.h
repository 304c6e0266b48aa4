// Registry credentials and the challenges registries answer with.
// Credentials live in Docker's config.json shape ({"auths": {"host": {"auth": base64(u:p)}}}):
// the engine's own file under the data root (written by `login`, mode 0600) is read first,
// then $DOCKER_CONFIG/config.json or ~/.docker/config.json, so an existing Docker login works.
// Nothing here prints or logs a secret: errors name the file and the registry only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::registry {

struct Credentials {
  std::string username;
  std::string password;        // or a personal access token
  std::string identity_token;  // an OAuth2 refresh token some registries hand out
};

class CredentialStore {
 public:
  // `own_path` is the engine's file (may not exist); `docker_path` "" finds Docker's own.
  static CredentialStore Load(const std::string& own_path, std::string docker_path = "");

  // What is stored for `registry` ("docker.io", "host:port"), looked up under the names Docker
  // writes ("https://index.docker.io/v1/" for Docker Hub, "host", "https://host").
  std::optional<Credentials> For(std::string_view registry) const;

  // `login`: stores `creds` for `registry` in `own_path` (created 0600, replaced atomically).
  static Status Save(const std::string& own_path, std::string_view registry, const Credentials& creds);
  // `logout`: true when something was removed from `own_path`.
  static Result<bool> Remove(const std::string& own_path, std::string_view registry);

  // The key `registry` is stored under: Docker's for Docker Hub, else the host[:port].
  static std::string KeyFor(std::string_view registry);

 private:
  std::vector<std::map<std::string, Credentials>> files_;  // own first
};

// A WWW-Authenticate challenge: scheme "bearer" or "basic" (lowercase), its parameters.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;  // realm, service, scope, error
};
// Parses `Bearer realm="https://a/token",service="reg",scope="repository:x:pull"`.
// Nullopt when the header is empty or malformed.
std::optional<Challenge> ParseChallenge(std::string_view header);

}  // namespace bd::registry
