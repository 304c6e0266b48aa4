#include "registry/client.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/digest.h"
#include "base/strings.h"
#include "base/time.h"

namespace bd::registry {
namespace {

using nlohmann::json;

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '/' ||
        c == ',') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string MediaTypeOf(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  return std::string(TrimSpace(t));
}

int64_t NowMs() { return NowNanos() / 1'000'000; }

constexpr int64_t kSmallTimeoutMs = 60'000;

}  // namespace

std::string RegistryErrorText(const net::HttpResponse& resp) {
  json doc = json::parse(resp.body, nullptr, false);
  std::string out;
  if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array()) {
    for (const json& e : doc["errors"]) {
      if (!e.is_object()) continue;
      std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
      std::string msg = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
      for (char& ch : code) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (!out.empty()) out += "; ";
      out += code.empty() ? msg : (msg.empty() ? code : code + ": " + msg);
    }
  }
  if (out.empty()) out = "HTTP " + std::to_string(resp.status);
  // The answer is the registry's text: keep it to one readable line.
  if (out.size() > 300) out = out.substr(0, 300) + "...";
  for (char& ch : out) {
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  }
  return out;
}

std::string Client::Url(std::string_view path) const {
  bool http;
  {
    std::lock_guard<std::mutex> g(s_->mu);
    http = s_->http_fallback;
  }
  return s_->endpoint.BaseUrl(http) + "/v2/" + std::string(path);
}

Status Client::StatusOf(const net::HttpResponse& resp, const std::string& what) const {
  std::string text = RegistryErrorText(resp);
  switch (resp.status) {
    case 401:
      return Status::PermissionDenied(
          "unauthorized: " + what + " on " + s_->registry + ": " +
          (s_->credentials ? "incorrect username or password (" + text + ")"
                           : "authentication required; log in with `basic-docker login " + s_->registry + "`"));
    case 403:
      return Status::PermissionDenied("denied: " + what + " on " + s_->registry + ": " + text);
    case 404:
      return Status::NotFound(what + " not found on " + s_->registry + ": " + text);
    case 429:
      return Status::Unavailable("toomanyrequests: " + s_->registry + " rate-limits " + what + ": " + text);
    default:
      return Status::Unavailable(s_->registry + " answered " + what + " with " + text +
                                 (text.rfind("HTTP ", 0) == 0 ? "" : " (HTTP " + std::to_string(resp.status) + ")"));
  }
}

Status Client::Authenticate(const net::HttpResponse& resp) {
  std::optional<Challenge> ch = ParseChallenge(resp.Header("www-authenticate"));
  if (!ch) {
    return Status::PermissionDenied("unauthorized: " + s_->registry +
                                    " answered 401 without a usable WWW-Authenticate challenge");
  }
  const std::optional<Credentials>& creds = s_->credentials;
  if (ch->scheme == "basic") {
    if (!creds || creds->username.empty()) {
      return Status::PermissionDenied("unauthorized: " + s_->registry +
                                      " requires a login; run `basic-docker login " + s_->registry + "`");
    }
    std::lock_guard<std::mutex> g(s_->mu);
    s_->authorization = "Basic " + Base64Encode(creds->username + ":" + creds->password);
    s_->authorization_expires = 0;
    return {};
  }
  if (ch->scheme != "bearer" || ch->params["realm"].empty()) {
    return Status::PermissionDenied("unauthorized: " + s_->registry + " asks for \"" + ch->scheme +
                                    "\" authentication, which is not supported (Bearer and Basic are)");
  }
  std::string realm = ch->params["realm"];
  if (realm.rfind("https://", 0) != 0 && realm.rfind("http://", 0) != 0) {
    return Status::PermissionDenied("unauthorized: " + s_->registry + "'s token realm is not an http(s) URL");
  }
  std::vector<std::string> scopes;
  // No repository (a login's GET /v2/): the token is only for the registry itself.
  std::string ours = s_->repository.empty() ? "" : "repository:" + s_->repository + (s_->push ? ":pull,push" : ":pull");
  if (!ours.empty()) scopes.push_back(ours);
  if (!ch->params["scope"].empty() && ch->params["scope"] != ours) {
    for (const std::string& sc : Split(ch->params["scope"], ' ')) {
      if (!sc.empty() && sc != ours) scopes.push_back(sc);
    }
  }
  for (const std::string& sc : s_->extra_scopes) scopes.push_back(sc);
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  bool first = true;
  if (!ch->params["service"].empty()) {
    url += "service=" + PercentEncode(ch->params["service"]);
    first = false;
  }
  for (const std::string& sc : scopes) {
    url += std::string(first ? "" : "&") + "scope=" + PercentEncode(sc);
    first = false;
  }
  net::HttpRequest req;
  req.url = url;
  req.timeout_ms = kSmallTimeoutMs;
  req.follow_redirects = true;
  req.insecure_tls = s_->endpoint.insecure;
  if (creds && !creds->username.empty()) {
    req.headers.push_back("Authorization: Basic " + Base64Encode(creds->username + ":" + creds->password));
  }
  auto answer = http_.Do(req);
  if (!answer.ok()) {
    return Status::Unavailable("cannot reach the token server of " + s_->registry + ": " + answer.status().message());
  }
  if (answer->status == 401 || answer->status == 403) {
    return Status::PermissionDenied("unauthorized: " + s_->registry + ": " +
                                    (creds ? "incorrect username or password"
                                           : "authentication required; log in with `basic-docker login " + s_->registry + "`"));
  }
  if (answer->status != 200) {
    return Status::Unavailable("the token server of " + s_->registry + " answered HTTP " + std::to_string(answer->status));
  }
  json doc = json::parse(answer->body, nullptr, false);
  std::string token;
  if (doc.is_object()) {
    for (const char* key : {"token", "access_token"}) {
      if (doc.contains(key) && doc[key].is_string() && !doc[key].get<std::string>().empty()) {
        token = doc[key].get<std::string>();
        break;
      }
    }
  }
  if (token.empty()) {
    return Status::Unavailable("the token server of " + s_->registry + " answered without a token");
  }
  int64_t expires_in = 60;  // the distribution spec's default
  if (doc.contains("expires_in") && doc["expires_in"].is_number_integer() && doc["expires_in"].get<int64_t>() > 0) {
    expires_in = doc["expires_in"].get<int64_t>();
  }
  std::lock_guard<std::mutex> g(s_->mu);
  s_->authorization = "Bearer " + token;
  // Refreshed a little before it runs out, so a long pull never sends an expired one.
  s_->authorization_expires = NowMs() + std::max<int64_t>(expires_in - 10, 1) * 1000;
  return {};
}

Result<net::HttpResponse> Client::Send(net::HttpRequest req) {
  bool authenticated = false;
  int rate_limited = 0;
  const std::vector<std::string> base_headers = req.headers;
  req.insecure_tls = s_->endpoint.insecure;
  while (true) {
    req.headers = base_headers;
    {
      std::lock_guard<std::mutex> g(s_->mu);
      if (!s_->authorization.empty() && s_->authorization_expires != 0 && NowMs() >= s_->authorization_expires) {
        s_->authorization.clear();  // expired: the next 401 fetches a new one
      }
      if (!s_->authorization.empty()) req.headers.push_back("Authorization: " + s_->authorization);
    }
    auto resp = http_.Do(req);
    if (!resp.ok()) {
      bool https = req.url.rfind("https://", 0) == 0;
      bool fallback_allowed;
      {
        std::lock_guard<std::mutex> g(s_->mu);
        fallback_allowed = s_->endpoint.insecure && !s_->http_fallback;
      }
      if (https && fallback_allowed && resp.status().code() != Code::kDeadlineExceeded) {
        {
          std::lock_guard<std::mutex> g(s_->mu);
          s_->http_fallback = true;
        }
        req.url = "http://" + req.url.substr(8);
        continue;
      }
      Status st = resp.status();
      if (st.code() == Code::kUnavailable || st.code() == Code::kInternal) {
        return Status::Unavailable("cannot reach registry " + s_->registry + ": " + st.message());
      }
      return st;
    }
    if (resp->status == 401 && !authenticated) {
      authenticated = true;
      BD_RETURN_IF_ERROR(Authenticate(*resp));
      continue;
    }
    if (resp->status == 429 && rate_limited < 3) {
      ++rate_limited;
      int64_t wait_s = 1;
      if (auto secs = ParseInt(resp->Header("retry-after")); secs && *secs >= 0) wait_s = *secs;
      if (wait_s > 10) return resp;  // beyond the bound: reported, not waited for
      std::this_thread::sleep_for(std::chrono::seconds(wait_s));
      continue;
    }
    return resp;
  }
}

Status Client::Ping() {
  net::HttpRequest req;
  req.url = Url("");
  req.timeout_ms = kSmallTimeoutMs;
  BD_ASSIGN_OR_RETURN(net::HttpResponse resp, Send(req));
  if (resp.status != 200) return StatusOf(resp, "the API root");
  return {};
}

Result<Manifest> Client::GetManifest(std::string_view reference) {
  net::HttpRequest req;
  req.url = Url(s_->repository + "/manifests/" + std::string(reference));
  req.timeout_ms = kSmallTimeoutMs;
  req.follow_redirects = true;
  req.headers.push_back("Accept: " + std::string(kOciIndex) + ", " + std::string(kOciManifest) + ", " +
                        std::string(kDockerManifestList) + ", " + std::string(kDockerManifest));
  BD_ASSIGN_OR_RETURN(net::HttpResponse resp, Send(req));
  std::string what = "manifest for " + s_->repository + (reference.rfind("sha256:", 0) == 0 ? "@" : ":") +
                     std::string(reference);
  if (resp.status != 200) return StatusOf(resp, what);
  if (resp.body.size() > (4 << 20)) {
    return Status::InvalidArgument(what + " is larger than 4 MiB (the distribution spec's limit)");
  }
  Manifest m;
  m.body = std::move(resp.body);
  m.digest = Sha256Digest(m.body);
  m.media_type = MediaTypeOf(resp.Header("content-type"));
  json doc = json::parse(m.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument(what + " from " + s_->registry + " is not a JSON object");
  }
  if (m.media_type == kDockerSchema1 || m.media_type == kDockerSchema1Signed ||
      (doc.contains("schemaVersion") && doc["schemaVersion"] == 1)) {
    return Status::NotSupported(
        what + " on " + s_->registry + " is a Docker image manifest schema 1, which is not supported "
        "(deprecated since 2017, removed from Docker); push the image again with a current client");
  }
  if (doc.contains("mediaType") && doc["mediaType"].is_string()) {
    std::string declared = doc["mediaType"].get<std::string>();
    if (m.media_type.empty() || m.media_type == "application/json" || m.media_type == "text/plain") {
      m.media_type = declared;
    } else if (declared != m.media_type) {
      return Status::InvalidArgument(what + " declares media type " + declared + " but was served as " + m.media_type);
    }
  }
  if (m.media_type.empty()) m.media_type = doc.contains("manifests") ? std::string(kOciIndex) : std::string(kOciManifest);
  if (reference.rfind("sha256:", 0) == 0 && m.digest != reference) {
    return Status::InvalidArgument(what + ": the registry sent content with digest " + m.digest);
  }
  if (std::string claimed = resp.Header("docker-content-digest");
      claimed.rfind("sha256:", 0) == 0 && claimed != m.digest) {
    return Status::InvalidArgument(what + ": the registry claims digest " + claimed + " for content with digest " + m.digest);
  }
  return m;
}

Result<std::optional<int64_t>> Client::BlobSize(std::string_view digest) {
  net::HttpRequest req;
  req.method = "HEAD";
  req.url = Url(s_->repository + "/blobs/" + std::string(digest));
  req.timeout_ms = kSmallTimeoutMs;
  req.follow_redirects = true;
  BD_ASSIGN_OR_RETURN(net::HttpResponse resp, Send(req));
  if (resp.status == 404) return std::optional<int64_t>();
  if (resp.status != 200) return StatusOf(resp, "blob " + std::string(digest));
  auto size = ParseInt(resp.Header("content-length"));
  return std::optional<int64_t>(size ? *size : -1);
}

Status Client::GetBlob(std::string_view digest, int64_t offset,
                       const std::function<bool(std::string_view)>& sink) {
  net::HttpRequest req;
  req.url = Url(s_->repository + "/blobs/" + std::string(digest));
  req.timeout_ms = s_->timeout_ms;
  req.low_speed_bytes = 1;
  req.low_speed_seconds = 60;  // a registry that stops sending is given up on
  req.follow_redirects = true;
  if (offset > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
  int64_t skip = -1;  // unknown until the answer starts
  req.on_start = [&](long status) { skip = status == 206 ? 0 : offset; };
  req.on_data = [&](std::string_view chunk) {
    if (skip > 0) {
      size_t n = std::min<size_t>(static_cast<size_t>(skip), chunk.size());
      chunk.remove_prefix(n);
      skip -= static_cast<int64_t>(n);
      if (chunk.empty()) return true;
    }
    return sink(chunk);
  };
  BD_ASSIGN_OR_RETURN(net::HttpResponse resp, Send(req));
  if (resp.status != 200 && resp.status != 206) return StatusOf(resp, "blob " + std::string(digest));
  return {};
}

Result<std::vector<std::string>> Client::Tags() {
  std::vector<std::string> out;
  std::string next = Url(s_->repository + "/tags/list?n=1000");
  for (int page = 0; page < 1000 && !next.empty(); ++page) {
    net::HttpRequest req;
    req.url = next;
    req.timeout_ms = kSmallTimeoutMs;
    BD_ASSIGN_OR_RETURN(net::HttpResponse resp, Send(req));
    if (resp.status != 200) return StatusOf(resp, "the tags of " + s_->repository);
    json doc = json::parse(resp.body, nullptr, false);
    if (!doc.is_object()) return Status::InvalidArgument("the tag list of " + s_->repository + " is not JSON");
    if (doc.contains("tags") && doc["tags"].is_array()) {
      for (const json& t : doc["tags"]) {
        if (t.is_string()) out.push_back(t.get<std::string>());
      }
    }
    next.clear();
    std::string link = resp.Header("link");  // </v2/x/tags/list?last=a&n=1000>; rel="next"
    if (size_t lt = link.find('<'), gt = link.find('>'); lt != std::string::npos && gt != std::string::npos &&
                                                         gt > lt && link.find("rel=\"next\"") != std::string::npos) {
      std::string target = link.substr(lt + 1, gt - lt - 1);
      if (target.rfind("/v2/", 0) == 0) next = Url(target.substr(4));
    }
  }
  return out;
}

Result<bool> Client::PutBlob(std::string_view digest, int64_t size,
                             const std::function<ssize_t(char*, size_t)>& reader,
                             std::string_view mount_from) {
  net::HttpRequest start;
  start.method = "POST";
  start.url = Url(s_->repository + "/blobs/uploads/");
  if (!mount_from.empty()) start.url += "?mount=" + std::string(digest) + "&from=" + PercentEncode(mount_from);
  start.timeout_ms = kSmallTimeoutMs;
  BD_ASSIGN_OR_RETURN(net::HttpResponse resp, Send(start));
  if (resp.status == 201 && !mount_from.empty()) return true;
  if (resp.status != 202) return StatusOf(resp, "an upload of blob " + std::string(digest));
  std::string location = resp.Header("location");
  if (location.empty()) return Status::Unavailable(s_->registry + " started an upload without a Location");
  if (location.rfind("http://", 0) != 0 && location.rfind("https://", 0) != 0) {
    if (location.front() != '/') location = "/" + location;
    std::string base = Url("");
    location = base.substr(0, base.find('/', base.find("://") + 3)) + location;
  }
  net::HttpRequest put;
  put.method = "PUT";
  put.url = location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + std::string(digest);
  put.timeout_ms = s_->timeout_ms;
  put.on_upload = reader;
  put.upload_size = size;
  put.headers.push_back("Content-Type: application/octet-stream");
  BD_ASSIGN_OR_RETURN(net::HttpResponse done, Send(put));
  if (done.status != 201 && done.status != 204) return StatusOf(done, "the upload of blob " + std::string(digest));
  return false;
}

Result<std::string> Client::PutManifest(std::string_view reference, std::string_view media_type,
                                        std::string_view body) {
  net::HttpRequest req;
  req.method = "PUT";
  req.url = Url(s_->repository + "/manifests/" + std::string(reference));
  req.timeout_ms = kSmallTimeoutMs;
  req.body = std::string(body);
  req.headers.push_back("Content-Type: " + std::string(media_type));
  BD_ASSIGN_OR_RETURN(net::HttpResponse resp, Send(req));
  if (resp.status != 201 && resp.status != 200) {
    return StatusOf(resp, "the manifest " + s_->repository + ":" + std::string(reference));
  }
  std::string digest = Sha256Digest(body);
  return digest;
}

}  // namespace bd::registry
