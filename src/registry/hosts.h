// Where a registry is reached, and how: registries.conf (JSON) under the data root and in
// /etc/basic-docker, plus the keys Docker's daemon.json has for the same things.
//
//   {"registries": {"HOST[:PORT]": {"insecure": true, "blocked": false,
//                                   "mirrors": ["HOST[:PORT]" | "URL"]}},
//    "insecure-registries": ["HOST[:PORT]"], "registry-mirrors": ["URL"],   (Docker's: Hub)
//    "max-concurrent-downloads": 3, "max-concurrent-uploads": 5}
//
// A registry on a loopback address (localhost, 127.0.0.0/8, [::1]) is plain HTTP, as in Docker;
// `insecure` means HTTPS without verifying the certificate, then plain HTTP if TLS fails.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::registry {

struct Endpoint {
  std::string host;         // "127.0.0.1:5000", "registry-1.docker.io"
  bool plain_http = false;  // http:// from the start
  bool insecure = false;    // https unverified, falling back to http
  bool mirror = false;      // pulls only; a failure moves on to the next endpoint
  std::string path_prefix;  // a mirror URL's path ("/v2" is appended after it)

  std::string BaseUrl(bool http) const;  // "https://host" (or http), with the prefix
};

struct HostSettings {
  bool insecure = false;
  bool blocked = false;  // never contacted (pulls and pushes fail saying so), as podman's
  std::vector<std::string> mirrors;
};

class Registries {
 public:
  // Reads each file in order (missing ones skipped); later ones add to and override earlier.
  // A file that is not valid JSON, or has a member of the wrong type, is InvalidArgument naming
  // the file and the member.
  static Result<Registries> Load(const std::vector<std::string>& files);

  // FailedPrecondition when `domain` is blocked.
  Status CheckAllowed(std::string_view domain) const;
  // Mirrors first (in order), then the registry itself. Docker Hub ("docker.io") is reached at
  // registry-1.docker.io.
  std::vector<Endpoint> PullEndpoints(std::string_view domain) const;
  Endpoint PushEndpoint(std::string_view domain) const;

  int max_concurrent_downloads() const { return max_downloads_; }
  int max_concurrent_uploads() const { return max_uploads_; }

 private:
  Endpoint Direct(std::string_view domain) const;
  std::map<std::string, HostSettings, std::less<>> hosts_;
  int max_downloads_ = 3;
  int max_uploads_ = 5;
};

// localhost, 127.0.0.0/8, ::1 (with or without a port).
bool IsLoopbackHost(std::string_view host_port);

}  // namespace bd::registry
