// basic-docker-plugin-http: a capsule source over HTTP and HTTPS (docs/plugins.md, type
// capsule-source, capabilities fetch-http and fetch-https). Streams the URL into the
// destination directory through sha256, against the pinned digest; libcurl does the transfer
// (redirects followed, never from https to http), the SDK serves the contract.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "base/digest.h"
#include "base/strings.h"
#include "net/http_client.h"
#include "os/error.h"
#include "os/fs.h"
#include "plugin/sdk.h"

namespace {

using nlohmann::json;
using bd::Result;
using bd::Status;

// The file name a URL's content is written under: its last path segment, or "content".
std::string FileNameOf(const std::string& uri) {
  std::string path = uri.substr(0, uri.find_first_of("?#"));
  size_t scheme = path.find("://");
  path = scheme == std::string::npos ? path : path.substr(scheme + 3);
  size_t slash = path.find('/');
  path = slash == std::string::npos ? "" : path.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string name = path.substr(path.rfind('/') + 1);
  bool ok = !name.empty() && name != "." && name != ".." && name.size() <= 200 && name[0] != '.';
  for (char c : name) ok = ok && static_cast<unsigned char>(c) >= 0x20 && c != '%' && c != '\\';
  return ok ? name : "content";
}

Result<std::string> Fetch(std::string_view scheme, std::string_view body) {
  json req = json::parse(body, nullptr, false);
  if (!req.is_object()) return Status::InvalidArgument("the request is not a JSON object");
  std::string uri = req.value("uri", ""), want = req.value("sha256", ""), dest = req.value("destination", "");
  if (uri.rfind(std::string(scheme) + "://", 0) != 0) {
    return Status::InvalidArgument("uri must be a " + std::string(scheme) + ":// URL");
  }
  if (want.size() != 64 || want.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::InvalidArgument("sha256 must be 64 lowercase hex digits");
  }
  if (dest.empty() || dest[0] != '/' || !bd::os::IsDir(dest)) {
    return Status::InvalidArgument("destination must be an existing directory (absolute path)");
  }
  int64_t max_bytes = req.value("maxBytes", static_cast<int64_t>(0));
  std::string final_path = dest + "/" + FileNameOf(uri);
  std::string part = final_path + ".part-" + std::to_string(::getpid()) + "-" + bd::RandomHexId().substr(0, 12);
  bd::UniqueFd out(::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) return bd::os::ErrnoStatus("create " + part);
  bd::Sha256Hasher hasher;
  int64_t size = 0;
  Status write_failed;
  bd::net::HttpRequest http;
  http.url = uri;
  http.timeout_ms = 3'600'000;
  http.follow_redirects = true;
  http.on_data = [&](std::string_view chunk) {
    size += static_cast<int64_t>(chunk.size());
    if (max_bytes > 0 && size > max_bytes) {
      write_failed = Status::InvalidArgument(uri + " is larger than maxBytes (" + std::to_string(max_bytes) + ")");
      return false;
    }
    hasher.Update(chunk.data(), chunk.size());
    write_failed = bd::os::WriteAll(out.get(), chunk);
    return write_failed.ok();
  };
  bd::net::HttpClient client;
  auto resp = client.Do(http);
  auto fail = [&](Status st) -> Status {
    ::unlink(part.c_str());
    return st;
  };
  if (!write_failed.ok()) return fail(write_failed);
  if (!resp.ok()) return fail(Status::Unavailable(resp.status().message()));
  if (resp->status == 404 || resp->status == 410) return fail(Status::NotFound(uri + ": HTTP " + std::to_string(resp->status)));
  if (resp->status < 200 || resp->status >= 300) return fail(Status::Unavailable(uri + ": HTTP " + std::to_string(resp->status)));
  std::string got = hasher.Finish().substr(7);
  if (got != want) return fail(Status::InvalidArgument(uri + " has sha256 " + got + ", not the pinned " + want));
  if (::fsync(out.get()) < 0) return fail(bd::os::ErrnoStatus("fsync " + part));
  out.Reset();
  if (::rename(part.c_str(), final_path.c_str()) < 0) return fail(bd::os::ErrnoStatus("rename into " + final_path));
  return json{{"path", final_path}, {"size", size}, {"sha256", got}}.dump();
}

}  // namespace

int main(int argc, char** argv) {
  bd::plugin::Plugin p;
  p.Serve("capsule-source", "fetch-http", [](std::string_view body) { return Fetch("http", body); });
  p.Serve("capsule-source", "fetch-https", [](std::string_view body) { return Fetch("https", body); });
  return p.Main(argc, argv);
}
