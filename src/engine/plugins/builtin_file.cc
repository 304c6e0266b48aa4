// The built-in capsule source for file:// URIs: copies a local file, checked against its
// pinned sha256, through the same contract as a plugin binary (docs/plugins.md).
#include "engine/plugins/builtins.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/strings.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"

namespace bd::engine {
namespace {

using nlohmann::json;

Result<std::string> FetchFile(std::string_view body) {
  json req = json::parse(body, nullptr, false);
  if (!req.is_object()) return Status::InvalidArgument("the request is not a JSON object");
  std::string uri = req.value("uri", ""), want = req.value("sha256", ""), dest = req.value("destination", "");
  constexpr std::string_view kScheme = "file://";
  if (uri.rfind(kScheme, 0) != 0 || uri.size() <= kScheme.size() || uri[kScheme.size()] != '/') {
    return Status::InvalidArgument("uri must be a file:///absolute/path URL");
  }
  std::string source = uri.substr(kScheme.size());
  if (want.size() != 64 || want.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::InvalidArgument("sha256 must be 64 lowercase hex digits");
  }
  if (dest.empty() || dest[0] != '/' || !os::IsDir(dest)) {
    return Status::InvalidArgument("destination must be an existing directory (absolute path)");
  }
  UniqueFd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!in) return errno == ENOENT ? Status::NotFound(source + " does not exist") : os::ErrnoStatus("open " + source);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) return Status::InvalidArgument(source + " is not a regular file");
  std::string name = source.substr(source.rfind('/') + 1);
  if (name.empty() || name[0] == '.') name = "content";
  std::string final_path = dest + "/" + name;
  std::string part = final_path + ".part-" + RandomHexId().substr(0, 12);
  UniqueFd out(::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) return os::ErrnoStatus("create " + part);
  auto fail = [&](Status s) {
    ::unlink(part.c_str());
    return s;
  };
  Sha256Hasher hasher;
  std::string buf(1 << 16, '\0');
  int64_t size = 0;
  for (;;) {
    ssize_t n = os::RetryEintr([&] { return ::read(in.get(), buf.data(), buf.size()); });
    if (n < 0) return fail(os::ErrnoStatus("read " + source));
    if (n == 0) break;
    hasher.Update(buf.data(), static_cast<size_t>(n));
    size += n;
    if (Status s = os::WriteAll(out.get(), std::string_view(buf.data(), static_cast<size_t>(n))); !s.ok()) return fail(s);
  }
  std::string got = hasher.Finish().substr(7);
  if (got != want) return fail(Status::InvalidArgument(uri + " has sha256 " + got + ", not the pinned " + want));
  if (::fsync(out.get()) < 0) return fail(os::ErrnoStatus("fsync " + part));
  out.Reset();
  if (::rename(part.c_str(), final_path.c_str()) < 0) return fail(os::ErrnoStatus("rename into " + final_path));
  return json{{"path", final_path}, {"size", size}, {"sha256", got}}.dump();
}

}  // namespace

void RegisterBuiltinPlugins(PluginManager& m) {
  plugin::Capabilities caps;
  caps.types["capsule-source"] = {"fetch-file"};
  m.RegisterBuiltin("builtin-file", caps, [](std::string_view, std::string_view, std::string_view body) {
    return FetchFile(body);
  });
}

}  // namespace bd::engine
