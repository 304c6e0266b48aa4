#include "net/http_client.h"

// The member calls below name the functions as curl.h does; its type-checking macros would
// take them over.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <mutex>

#include "base/dynlib.h"

namespace bd::net {
namespace {

#define BD_CURL_FUNCTIONS(X)                                                                  \
  X(curl_global_init) X(curl_easy_init) X(curl_easy_setopt) X(curl_easy_perform)              \
  X(curl_easy_getinfo) X(curl_easy_cleanup) X(curl_easy_strerror) X(curl_slist_append)         \
  X(curl_slist_free_all) X(curl_easy_reset)

struct CurlApi {
  BD_CURL_FUNCTIONS(BD_DECLARE_FN)
};

Result<CurlApi> LoadCurl() {
  const char* soname = "libcurl.so.4";
  BD_ASSIGN_OR_RETURN(void* handle, OpenLibrary(soname, "libcurl4"));
  CurlApi api;
  BD_CURL_FUNCTIONS(BD_LOAD_FN)
  if (api.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return Status::Internal("libcurl failed to initialise");
  return api;
}

const Result<CurlApi>& Curl() {
  static const Result<CurlApi> api = LoadCurl();
  return api;
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t Stream(char* data, size_t size, size_t n, void* sink) {
  auto* fn = static_cast<const std::function<bool(std::string_view)>*>(sink);
  return (*fn)(std::string_view(data, size * n)) ? size * n : 0;
}

}  // namespace

HttpClient::~HttpClient() {
  if (easy_ != nullptr) Curl()->curl_easy_cleanup(easy_);
}

Result<HttpResponse> HttpClient::Do(const HttpRequest& req) {
  if (!Curl().ok()) return Status::NotSupported(Curl().status().message());
  const CurlApi& c = *Curl();
  if (easy_ == nullptr) {
    easy_ = c.curl_easy_init();
    if (easy_ == nullptr) return Status::Internal("libcurl could not make a handle");
  } else {
    c.curl_easy_reset(easy_);  // options go, the connection cache stays
  }
  CURL* h = easy_;
  HttpResponse resp;
  c.curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  if (!req.unix_socket.empty()) c.curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, req.unix_socket.c_str());
  c.curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  c.curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_ms));
  c.curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout_ms));
  if (req.on_data) {
    c.curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Stream);
    c.curl_easy_setopt(h, CURLOPT_WRITEDATA, &req.on_data);
  } else {
    c.curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Collect);
    c.curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
  }
  if (req.follow_redirects) {
    c.curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    c.curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    // Never from https down to http, nor to another scheme.
    c.curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, req.url.rfind("https://", 0) == 0 ? "https" : "http,https");
  }
  // No proxy from the environment: plugins are local, registries configure their own.
  c.curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_slist* headers = nullptr;
  for (const std::string& hd : req.headers) headers = c.curl_slist_append(headers, hd.c_str());
  if (req.method == "GET") {
    c.curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    c.curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    if (req.method != "POST") c.curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    c.curl_easy_setopt(h, CURLOPT_POST, 1L);
    c.curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
    c.curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    headers = c.curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  }
  if (headers != nullptr) c.curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = c.curl_easy_perform(h);
  if (headers != nullptr) c.curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    std::string what = std::string(c.curl_easy_strerror(rc)) + " (" + req.method + " " + req.url + ")";
    switch (rc) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
        return Status::Unavailable(what);
      case CURLE_OPERATION_TIMEDOUT:
        return Status::DeadlineExceeded(what);
      case CURLE_WRITE_ERROR:
        return Status::Internal("aborted by the receiver (" + req.method + " " + req.url + ")");
      default:
        return Status::Internal(what);
    }
  }
  c.curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

}  // namespace bd::net
