// HTTP client on libcurl, opened with dlopen on first use (base/dynlib.h): commands that never
// speak HTTP do not pay for loading it. Over TCP (http, https) or a unix socket. Used for
// plugins (their servers, on a unix socket or loopback port) and registries.
#pragma once

#include <sys/types.h>

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
  // When set, a successful (2xx) answer's body goes here as it arrives (not into
  // HttpResponse::body, which keeps the body of any other answer); false stops the transfer
  // (Internal, "aborted by the receiver").
  std::function<bool(std::string_view)> on_data;
  // Called with the status (200, 206, ...) before the first byte of a successful answer's body
  // goes to `on_data`.
  std::function<void(long)> on_start;
  // When set (with any method but GET and HEAD), the request body is read from here instead of
  // `body`: it fills the buffer and returns the bytes written, 0 at the end, or -1 to abort.
  // `upload_size` is the body's length (-1: unknown, sent chunked).
  std::function<ssize_t(char*, size_t)> on_upload;
  int64_t upload_size = -1;
  bool follow_redirects = false;
  // TLS without verifying the server's certificate (a registry configured `insecure`).
  bool insecure_tls = false;
  // Aborts with DeadlineExceeded when fewer than `low_speed_bytes` arrive per second for
  // `low_speed_seconds` (a stalled download) even though `timeout_ms` has not passed. 0: off.
  long low_speed_bytes = 0;
  long low_speed_seconds = 0;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  // The final answer's headers (after redirects), names lowercased, in the order received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string effective_url;  // where the answer came from, after redirects

  // The first header of that name (lowercase), or "".
  std::string Header(std::string_view name) const;
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
