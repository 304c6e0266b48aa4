// HTTP client on libcurl, opened with dlopen on first use (base/dynlib.h): commands that never
// speak HTTP do not pay for loading it. Over TCP (http, https) or a unix socket. Used for
// plugins (their servers, on a unix socket or loopback port) and registries.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::net {

struct HttpRequest {
  std::string method = "GET";
  std::string url;          // http://host[:port]/path; for a unix socket the host is any name
  std::string unix_socket;  // a socket path to connect to instead of the URL's host
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  int64_t timeout_ms = 30'000;       // the whole exchange
  int64_t connect_timeout_ms = 5'000;
  // When set, the answer's body goes here as it arrives (not into HttpResponse::body); false
  // stops the transfer (Internal, "aborted by the receiver").
  std::function<bool(std::string_view)> on_data;
  bool follow_redirects = false;
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

// Failures of the exchange (an HTTP error status is a response, not a failure):
//   Unavailable: nothing was sent (no server, refused, no such socket)
//   DeadlineExceeded: timeout_ms passed
//   Internal: the connection broke after the request went out (the server died mid-call)
//   NotSupported: libcurl is not installed
// One client keeps its connections open for the next request; not for two threads at once.
class HttpClient {
 public:
  HttpClient() = default;
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Do(const HttpRequest& req);

 private:
  void* easy_ = nullptr;
};

}  // namespace bd::net
