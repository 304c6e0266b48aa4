// The built-in capsule source for file:// URIs: copies a local file, checked against its
// pinned sha256, through the same contract as a plugin binary (docs/plugins.md).
#include "engine/plugins/builtins.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/daemon_config.h"
#include "engine/runtimes/runtimes.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "plugin/capsule_source.h"

namespace bd::engine {
namespace {

Result<std::string> FetchFile(std::string_view body) {
  BD_ASSIGN_OR_RETURN(plugin::FetchRequest req, plugin::ParseFetchRequest(body, "file:///", "a file:///absolute/path URL"));
  std::string source = req.uri.substr(std::string_view("file://").size());
  UniqueFd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!in) return errno == ENOENT ? Status::NotFound(source + " does not exist") : os::ErrnoStatus("open " + source);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) return Status::InvalidArgument(source + " is not a regular file");
  std::string name = source.substr(source.rfind('/') + 1);
  if (name.empty() || name[0] == '.') name = "content";
  BD_ASSIGN_OR_RETURN(std::unique_ptr<plugin::PinnedFile> file, plugin::PinnedFile::Create(req, name));
  std::string buf(1 << 16, '\0');
  for (;;) {
    ssize_t n = os::RetryEintr([&] { return ::read(in.get(), buf.data(), buf.size()); });
    if (n < 0) return os::ErrnoStatus("read " + source);
    if (n == 0) break;
    BD_RETURN_IF_ERROR(file->Write(std::string_view(buf.data(), static_cast<size_t>(n))));
  }
  return file->Commit();
}

}  // namespace

void RegisterBuiltinPlugins(PluginManager& m) {
  plugin::Capabilities caps;
  caps.types["capsule-source"] = {"fetch-file"};
  m.RegisterBuiltin("builtin-file", caps, [](std::string_view, std::string_view, std::string_view body) {
    return FetchFile(body);
  });
  // The builtin runtime runs in each container's shim (it must be the container's parent), so
  // its only remote capability is telling what runtimes there are; OCI runtime binaries are
  // created, started and deleted by an executor plugin (basic-docker-plugin-oci).
  plugin::Capabilities exec_caps;
  exec_caps.types["executor"] = {"runtimes"};
  Paths paths = m.paths();
  m.RegisterBuiltin("builtin-executor", exec_caps, [paths](std::string_view, std::string_view, std::string_view) -> Result<std::string> {
    BD_ASSIGN_OR_RETURN(DaemonConfig daemon, LoadDaemonConfig(paths));
    nlohmann::json list = nlohmann::json::array();
    for (const RuntimeInfo& r : KnownRuntimes(daemon, os::SelfExeDir())) {
      list.push_back({{"name", r.name}, {"path", r.path}, {"args", r.args}, {"source", r.source}});
    }
    return nlohmann::json{{"runtimes", list}, {"default", DefaultRuntimeName(daemon)}}.dump();
  });
}

}  // namespace bd::engine
