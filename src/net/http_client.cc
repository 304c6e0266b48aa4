#include "net/http_client.h"

// The member calls below name the functions as curl.h does; its type-checking macros would
// take them over.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <cctype>
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

size_t Upload(char* buf, size_t size, size_t n, void* source) {
  auto* fn = static_cast<const std::function<ssize_t(char*, size_t)>*>(source);
  ssize_t got = (*fn)(buf, size * n);
  return got < 0 ? CURL_READFUNC_ABORT : static_cast<size_t>(got);
}

// Header lines of every answer arrive here (redirects and 1xx too): a status line starts the
// set over, so what is left is the final answer's.
size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(out);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos && colon > 0) {
    std::string name(line.substr(0, colon));
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    headers->emplace_back(std::move(name), std::string(value));
  }
  return size * n;
}

struct StreamTarget {
  const CurlApi* api;
  CURL* handle;
  const std::function<bool(std::string_view)>* sink;
  const std::function<void(long)>* on_start;
  std::string* error_body;
  bool started = false;
};

// Only a successful answer's body is streamed; another's (an error document) is kept in the
// response, up to 1 MiB, for the caller to read.
size_t Stream(char* data, size_t size, size_t n, void* target) {
  auto* t = static_cast<StreamTarget*>(target);
  long code = 0;
  t->api->curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code >= 300) {
    if (t->error_body->size() < (1 << 20)) t->error_body->append(data, size * n);
    return size * n;
  }
  if (!t->started) {
    t->started = true;
    if (*t->on_start) (*t->on_start)(code);
  }
  return (*t->sink)(std::string_view(data, size * n)) ? size * n : 0;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

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
  StreamTarget target{&c, h, &req.on_data, &req.on_start, &resp.body};
  if (req.on_data) {
    c.curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Stream);
    c.curl_easy_setopt(h, CURLOPT_WRITEDATA, &target);
  } else {
    c.curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Collect);
    c.curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
  }
  c.curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CollectHeader);
  c.curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
  // HTTP/2 where TLS negotiates it; HTTP/1.1 in the clear.
  c.curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  if (req.insecure_tls) {
    c.curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    c.curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (req.low_speed_seconds > 0) {
    c.curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, req.low_speed_bytes);
    c.curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, req.low_speed_seconds);
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
  } else if (req.on_upload) {
    c.curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);  // a PUT unless renamed below
    if (req.method != "PUT") c.curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    c.curl_easy_setopt(h, CURLOPT_READFUNCTION, &Upload);
    c.curl_easy_setopt(h, CURLOPT_READDATA, &req.on_upload);
    if (req.upload_size >= 0) {
      c.curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.upload_size));
    }
    headers = c.curl_slist_append(headers, "Expect:");
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
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CACERT_BADFILE:
        return Status::Unavailable("TLS: " + what);
      case CURLE_OPERATION_TIMEDOUT:
        return Status::DeadlineExceeded(what);
      case CURLE_WRITE_ERROR:
        return Status::Internal("aborted by the receiver (" + req.method + " " + req.url + ")");
      default:
        return Status::Internal(what);
    }
  }
  c.curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  char* url = nullptr;
  if (c.curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url != nullptr) resp.effective_url = url;
  return resp;
}

}  // namespace bd::net
