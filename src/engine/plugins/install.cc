// plugin install (from an OCI image layout with one binary per platform) and plugin rm.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/strings.h"
#include "engine/images/store.h"
#include "engine/plugins/manager.h"
#include "engine/plugins/spawn.h"
#include "os/error.h"
#include "os/fs.h"
#include "registry/client.h"
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
  if (::stat(source.c_str(), &st) != 0) {
    // Not a file here: a registry reference ("host:port/plugins/x:1") when it reads as one.
    bool reference = errno == ENOENT && source.find_first_of(":/") != std::string::npos && source[0] != '.' &&
                     source[0] != '/' && ParseImageRef(source).ok();
    if (reference) return InstallFromRegistry(source, name_in, replace);
    return os::ErrnoStatus("plugin install: " + source);
  }
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

Result<PluginManager::Installed> PluginManager::InstallFromRegistry(const std::string& source, const std::string& name,
                                                                   bool replace) {
  BD_ASSIGN_OR_RETURN(ImageRef ref, ParseImageRef(source));
  BD_ASSIGN_OR_RETURN(registry::Registries regs, LoadRegistries(paths_));
  BD_RETURN_IF_ERROR(regs.CheckAllowed(ref.Domain()));
  registry::CredentialStore creds = registry::CredentialStore::Load(paths_.Credentials());
  BD_RETURN_IF_ERROR(os::MkdirAll(paths_.Tmp(), 0700));
  BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "plugin-pull-"));
  BD_RETURN_IF_ERROR(os::MkdirAll(tmp.path() + "/blobs/sha256", 0700));
  auto put = [&](const std::string& digest, const std::string& data) {
    return os::WriteFileAtomic(tmp.path() + "/blobs/sha256/" + std::string(DigestHex(digest)), data, 0600, false);
  };
  const std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
  Status last;
  for (const registry::Endpoint& ep : regs.PullEndpoints(ref.Domain())) {
    registry::Client client(NewRegistrySession(ep, ref, creds, false));
    auto top = client.GetManifest(reference);
    if (!top.ok()) {
      last = top.status();
      if (ep.mirror) continue;
      return last;
    }
    // Only what this machine needs is downloaded: the index, then the one manifest and
    // binary for linux/<arch>. Install reads (and checks) the layout as it would a local one.
    std::string want = "linux/" + MachineArchitecture();
    auto fetch_manifest_and_binary = [&](const std::string& digest) -> Status {
      BD_ASSIGN_OR_RETURN(registry::Manifest m, client.GetManifest(digest));
      BD_RETURN_IF_ERROR(put(m.digest, m.body));
      json doc = ParseJson(m.body, "manifest");
      if (!doc.contains("layers") || !doc["layers"].is_array() || doc["layers"].size() != 1 ||
          !doc["layers"][0].is_object() || !doc["layers"][0].contains("digest") || !doc["layers"][0]["digest"].is_string()) {
        return Status::InvalidArgument(source + ": the manifest for " + want + " must have exactly one layer, the binary");
      }
      std::string layer = doc["layers"][0]["digest"].get<std::string>();
      BD_RETURN_IF_ERROR(ValidateDigest(layer).WithContext(source));
      std::string binary;
      Status sink;
      BD_RETURN_IF_ERROR(client.GetBlob(layer, 0, [&](std::string_view chunk) {
        if (binary.size() + chunk.size() > (size_t{1} << 30)) {
          sink = Status::InvalidArgument(source + ": the plugin binary is larger than 1 GiB");
          return false;
        }
        binary.append(chunk);
        return true;
      }));
      BD_RETURN_IF_ERROR(sink);
      return put(layer, binary);
    };
    json desc = {{"mediaType", top->media_type}, {"digest", top->digest}, {"size", top->body.size()}};
    BD_RETURN_IF_ERROR(put(top->digest, top->body));
    if (top->media_type == kIndexType || top->media_type == registry::kDockerManifestList) {
      desc["mediaType"] = kIndexType;
      json index = ParseJson(top->body, "index");
      if (index.contains("manifests") && index["manifests"].is_array()) {
        for (const json& m : index["manifests"]) {
          std::string p = PlatformOf(m);
          if ((p == want || p.rfind(want + "/", 0) == 0) && m.contains("digest") && m["digest"].is_string()) {
            BD_RETURN_IF_ERROR(fetch_manifest_and_binary(m["digest"].get<std::string>()));
            break;
          }
        }
      }
    } else {
      // A lone manifest says no platform: it is taken as this machine's.
      desc["platform"] = {{"os", "linux"}, {"architecture", MachineArchitecture()}};
      BD_RETURN_IF_ERROR(fetch_manifest_and_binary(top->digest));
    }
    BD_RETURN_IF_ERROR(os::WriteFileAtomic(tmp.path() + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})", 0600, false));
    BD_RETURN_IF_ERROR(os::WriteFileAtomic(tmp.path() + "/index.json",
                                           json{{"schemaVersion", 2}, {"manifests", json::array({desc})}}.dump(), 0600, false));
    auto installed = Install(tmp.path(), name, replace);
    if (!installed.ok()) {
      // Errors name the registry reference, not the scratch directory.
      std::string msg = installed.status().message();
      for (size_t at; (at = msg.find(tmp.path())) != std::string::npos;) msg.replace(at, tmp.path().size(), source);
      return Status::FromCode(installed.status().code(), msg);
    }
    return installed;
  }
  return last;
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
