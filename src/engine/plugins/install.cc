// plugin install (from an OCI image layout with one binary per platform) and plugin rm.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/strings.h"
#include "engine/plugins/manager.h"
#include "engine/plugins/spawn.h"
#include "os/error.h"
#include "os/fs.h"
#include "store/archive.h"
#include "store/db.h"

namespace bd::engine {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "basic-docker-plugin-";
constexpr std::string_view kIndexType = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kTitle = "org.opencontainers.image.title";

// This machine as OCI platforms name it.
std::string MachineArchitecture() {
  utsname u{};
  ::uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m.rfind("armv", 0) == 0) return "arm";
  if (m == "i686" || m == "i386") return "386";
  return m;  // ppc64le, s390x, riscv64 are spelt alike
}

// A blob of the layout named by `desc`, its size and digest checked.
Result<std::string> ReadBlob(int layout_fd, const json& desc, std::string_view what) {
  if (!desc.is_object() || !desc.contains("digest") || !desc["digest"].is_string()) {
    return Status::InvalidArgument(std::string(what) + " has no digest");
  }
  std::string digest = desc["digest"].get<std::string>();
  if (!ValidateDigest(digest).ok()) {
    return Status::InvalidArgument(std::string(what) + " has a digest that is not sha256:<64 hex>: " + digest.substr(0, 80));
  }
  auto fd = os::OpenInRoot(layout_fd, "blobs/sha256/" + digest.substr(7), O_RDONLY);
  if (!fd.ok()) return Status::InvalidArgument(std::string(what) + " " + digest + " is not in the layout's blobs");
  BD_ASSIGN_OR_RETURN(std::string data, os::ReadAll(fd->get()));
  if (Sha256Digest(data) != digest) {
    return Status::InvalidArgument(std::string(what) + " " + digest + " does not match its content (it hashes to " +
                                   Sha256Digest(data) + ")");
  }
  if (desc.contains("size") && (!desc["size"].is_number_integer() || desc["size"].get<int64_t>() != static_cast<int64_t>(data.size()))) {
    return Status::InvalidArgument(std::string(what) + " " + digest + " is not of the size its descriptor says");
  }
  return data;
}

std::string PlatformOf(const json& desc) {
  const json& p = desc.contains("platform") && desc["platform"].is_object() ? desc["platform"] : json::object();
  std::string os = p.value("os", ""), arch = p.value("architecture", ""), variant = p.value("variant", "");
  return os + "/" + arch + (variant.empty() ? "" : "/" + variant);
}

json ParseJson(const std::string& text, std::string_view /*what*/) {
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json();
}

}  // namespace

Result<PluginManager::Installed> PluginManager::Install(const std::string& source, const std::string& name_in, bool replace) {
  // A tar is unpacked (safely: nothing outside the scratch directory) into the data root's tmp.
  std::unique_ptr<os::TempDir> unpacked;
  std::string layout = source;
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) return os::ErrnoStatus("plugin install: " + source);
  if (!S_ISDIR(st.st_mode)) {
    BD_RETURN_IF_ERROR(os::MkdirAll(paths_.Tmp(), 0700));
    BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "plugin-install-"));
    unpacked = std::make_unique<os::TempDir>(std::move(tmp));
    BD_ASSIGN_OR_RETURN(UniqueFd in, os::Open(source, O_RDONLY));
    store::UnpackOptions opts;
    opts.preserve_owner = false;
    auto r = store::UnpackTar(in.get(), unpacked->path(), opts);
    if (!r.ok()) return r.status().WithContext("plugin install: " + source);
    layout = unpacked->path();
  }
  BD_ASSIGN_OR_RETURN(UniqueFd root, os::Open(layout, O_RDONLY | O_DIRECTORY));
  auto read_file = [&](const std::string& rel) -> Result<std::string> {
    auto fd = os::OpenInRoot(root.get(), rel, O_RDONLY);
    if (!fd.ok()) return Status::InvalidArgument(source + " is not an OCI image layout (no " + rel + ")");
    return os::ReadAll(fd->get());
  };
  BD_ASSIGN_OR_RETURN(std::string marker, read_file("oci-layout"));
  if (!ParseJson(marker, "oci-layout").contains("imageLayoutVersion")) {
    return Status::InvalidArgument(source + ": oci-layout has no imageLayoutVersion");
  }
  BD_ASSIGN_OR_RETURN(std::string index_text, read_file("index.json"));
  json index = ParseJson(index_text, "index.json");
  if (!index.contains("manifests") || !index["manifests"].is_array()) {
    return Status::InvalidArgument(source + ": index.json lists no manifests");
  }
  json manifests = index["manifests"];
  // One nested index (what a registry's multi-platform tag is) is looked through.
  if (manifests.size() == 1 && manifests[0].value("mediaType", "") == kIndexType) {
    BD_ASSIGN_OR_RETURN(std::string nested, ReadBlob(root.get(), manifests[0], "the index"));
    json j = ParseJson(nested, "index");
    if (!j.contains("manifests") || !j["manifests"].is_array()) return Status::InvalidArgument(source + ": its index lists no manifests");
    manifests = j["manifests"];
  }
  std::string want = "linux/" + MachineArchitecture();
  const json* chosen = nullptr;
  std::vector<std::string> have;
  for (const json& m : manifests) {
    std::string p = PlatformOf(m);
    have.push_back(p);
    if (chosen == nullptr && (p == want || p.rfind(want + "/", 0) == 0)) chosen = &m;
  }
  if (chosen == nullptr) {
    return Status::NotFound("no plugin binary for " + want + " in " + source + " (it has: " +
                            (have.empty() ? std::string("none") : Join(have, ", ")) + ")");
  }
  BD_ASSIGN_OR_RETURN(std::string manifest_text, ReadBlob(root.get(), *chosen, "the manifest for " + want));
  json manifest = ParseJson(manifest_text, "manifest");
  if (!manifest.contains("layers") || !manifest["layers"].is_array() || manifest["layers"].size() != 1) {
    return Status::InvalidArgument(source + ": the manifest for " + want + " must have exactly one layer, the binary");
  }
  const json& layer = manifest["layers"][0];
  BD_ASSIGN_OR_RETURN(std::string binary, ReadBlob(root.get(), layer, "the binary for " + want));
  if (binary.empty()) return Status::InvalidArgument(source + ": the binary for " + want + " is empty");
  std::string name = name_in;
  if (name.empty()) {
    std::string title;
    if (layer.contains("annotations") && layer["annotations"].is_object()) title = layer["annotations"].value(std::string(kTitle), "");
    if (title.rfind(kPrefix, 0) == 0) title = title.substr(kPrefix.size());
    name = title;
  }
  if (name.empty()) {
    return Status::InvalidArgument(source + ": no name for the plugin (give --name, or annotate its layer with " +
                                   std::string(kTitle) + ")");
  }
  if (!ValidPluginName(name)) {
    return Status::InvalidArgument("`" + name.substr(0, 80) +
                                   "` is not a plugin name (1-64 of a-z, 0-9, ., _ and -, starting with a letter or digit)");
  }
  Installed out;
  out.name = name;
  out.digest = layer["digest"].get<std::string>();
  out.platform = PlatformOf(*chosen);
  std::string dir = paths_.root + "/plugins";
  out.path = dir + "/" + std::string(kPrefix) + name;
  BD_RETURN_IF_ERROR(os::MkdirAll(dir, 0700));
  if (auto existing = os::ReadFile(out.path); existing.ok()) {
    if (Sha256Digest(*existing) == out.digest) {
      out.noop = true;
      return out;
    }
    if (!replace) return Status::AlreadyExists("plugin " + name + " is installed (another binary): --replace replaces it");
  }
  // Staged under a name discovery skips, checked, then renamed into place.
  std::string staged = dir + "/.install-" + name + "-" + std::to_string(::getpid());
  BD_RETURN_IF_ERROR(os::WriteFileAtomic(staged, binary, 0755));
  auto drop = [&](Status s) {
    ::unlink(staged.c_str());
    return s;
  };
  if (auto caps = AskCapabilities(staged, name); !caps.ok()) return drop(caps.status().WithContext("plugin " + name + " is refused"));
  if (replace) (void)Stop(name);
  if (::rename(staged.c_str(), out.path.c_str()) < 0) return drop(os::ErrnoStatus("install " + out.path));
  BD_RETURN_IF_ERROR(os::FsyncDir(dir));
  return out;
}

Status PluginManager::Remove(std::string_view name) {
  BD_ASSIGN_OR_RETURN(PluginInfo p, Load(name));
  if (p.builtin) return Status::FailedPrecondition("plugin " + p.name + " is built in");
  std::string dir = paths_.root + "/plugins";
  if (p.path.rfind(dir + "/", 0) != 0) {
    return Status::FailedPrecondition("plugin " + p.name + " is " + p.path + ", not in " + dir +
                                      ": it was not installed here; remove the file itself");
  }
  BD_RETURN_IF_ERROR(Stop(name));
  if (::unlink(p.path.c_str()) < 0 && errno != ENOENT) return os::ErrnoStatus("remove " + p.path);
  (void)os::FsyncDir(dir);
  ::unlink(LogPath(p.name).c_str());
  std::lock_guard<std::mutex> lock(mu_);
  warm_.erase(p.name);
  BD_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM plugins WHERE name = ?"));
  del.Bind(1, p.name);
  return del.Run();
}

}  // namespace bd::engine
