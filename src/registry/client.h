// A client of one repository on one registry endpoint, over the OCI distribution API (v1.1)
// and Docker's registry v2: manifests negotiated and digest-checked, blobs streamed with Range
// resume and redirects to blob storage followed, uploads with HEAD first and cross-repository
// mount, Bearer token auth (challenge, scope, cache, refresh) and Basic auth.
// A Session is shared by the clients of one pull or push (one per worker thread: a Client is
// not for two threads at once); it holds the token, so the workers authenticate once.
// Secrets (passwords, tokens) are never put in an error message.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "net/http_client.h"
#include "registry/auth.h"
#include "registry/hosts.h"

namespace bd::registry {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

struct Session {
  Endpoint endpoint;
  std::string registry;    // "docker.io", "127.0.0.1:5000": for credentials and messages
  std::string repository;  // the path on the registry: "library/busybox"
  std::optional<Credentials> credentials;
  bool push = false;                     // scope actions "pull,push" instead of "pull"
  std::vector<std::string> extra_scopes;  // "repository:other/repo:pull" (mount sources)
  int64_t timeout_ms = 3'600'000;

  // Set by the clients (under `mu`).
  std::mutex mu;
  std::string authorization;  // the header value that worked last
  int64_t authorization_expires = 0;  // unix ms, 0: none
  bool http_fallback = false;         // an insecure endpoint answered only in plain HTTP
};

struct Manifest {
  std::string media_type;
  std::string digest;  // sha256 of `body`, checked against the registry's and a pinned one
  std::string body;
};

// The error a registry put in its answer ({"errors": [{"code", "message"}]}), or "HTTP N".
std::string RegistryErrorText(const net::HttpResponse& resp);

class Client {
 public:
  explicit Client(std::shared_ptr<Session> session) : s_(std::move(session)) {}

  // GET /v2/ (authenticating there first): "is this a registry, can we reach it".
  Status Ping();
  // A manifest or index by tag or digest. NotFound names the reference; a schema 1 manifest
  // is NotSupported with a message saying so.
  Result<Manifest> GetManifest(std::string_view reference);
  // HEAD of a blob: its size, or nullopt when the repository does not have it.
  Result<std::optional<int64_t>> BlobSize(std::string_view digest);
  // Streams blob `digest` from byte `offset` into `sink` (false stops it; the caller's reason
  // then wins). A server that ignores Range is read from its start, the first `offset` bytes
  // skipped, so `sink` always receives the bytes from `offset`.
  Status GetBlob(std::string_view digest, int64_t offset,
                 const std::function<bool(std::string_view)>& sink);
  // All tags (following the Link header's pages).
  Result<std::vector<std::string>> Tags();
  // Uploads a blob of `size` bytes read by `reader` (as HttpRequest::on_upload): tried first as
  // a mount from `mount_from` (a repository on the same registry) when given. Returns true
  // when it was mounted (nothing sent).
  Result<bool> PutBlob(std::string_view digest, int64_t size,
                       const std::function<ssize_t(char*, size_t)>& reader,
                       std::string_view mount_from);
  // PUT of a manifest under `reference` (a tag or its digest); returns its digest.
  Result<std::string> PutManifest(std::string_view reference, std::string_view media_type,
                                  std::string_view body);

 private:
  std::string Url(std::string_view path) const;
  // Sends `req` (its URL's path from /v2 on) with the session's Authorization; on 401 answers
  // the challenge and sends once more; on 429 waits Retry-After (at most 10 s, 3 times).
  Result<net::HttpResponse> Send(net::HttpRequest req);
  Status Authenticate(const net::HttpResponse& challenge_resp);
  Status StatusOf(const net::HttpResponse& resp, const std::string& what) const;

  std::shared_ptr<Session> s_;
  net::HttpClient http_;
};

}  // namespace bd::registry
