// basic-docker-plugin-http: a capsule source over HTTP and HTTPS (docs/plugins.md, type
// capsule-source, capabilities fetch-http and fetch-https). Streams the URL into the
// destination directory through sha256, against the pinned digest; libcurl does the transfer
// (redirects followed, never from https to http), the SDK serves the contract.
#include <memory>
#include <string>

#include "net/http_client.h"
#include "plugin/capsule_source.h"
#include "plugin/sdk.h"

namespace {

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
  BD_ASSIGN_OR_RETURN(bd::plugin::FetchRequest req,
                      bd::plugin::ParseFetchRequest(body, std::string(scheme) + "://", "a " + std::string(scheme) + ":// URL"));
  BD_ASSIGN_OR_RETURN(std::unique_ptr<bd::plugin::PinnedFile> file, bd::plugin::PinnedFile::Create(req, FileNameOf(req.uri)));
  Status write_failed;
  bd::net::HttpRequest http;
  http.url = req.uri;
  http.timeout_ms = 3'600'000;
  http.follow_redirects = true;
  http.on_data = [&](std::string_view chunk) {
    write_failed = file->Write(chunk);
    return write_failed.ok();
  };
  bd::net::HttpClient client;
  auto resp = client.Do(http);
  if (!write_failed.ok()) return write_failed;
  if (!resp.ok()) return Status::Unavailable(resp.status().message());
  if (resp->status == 404 || resp->status == 410) return Status::NotFound(req.uri + ": HTTP " + std::to_string(resp->status));
  if (resp->status < 200 || resp->status >= 300) return Status::Unavailable(req.uri + ": HTTP " + std::to_string(resp->status));
  return file->Commit();
}

}  // namespace

int main(int argc, char** argv) {
  bd::plugin::Plugin p;
  p.Serve("capsule-source", "fetch-http", [](std::string_view body) { return Fetch("http", body); });
  p.Serve("capsule-source", "fetch-https", [](std::string_view body) { return Fetch("https", body); });
  return p.Main(argc, argv);
}
