// The built-in busybox image: made from the host's static busybox, one layer of its applets.
#include "engine/images/store.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "base/crash_point.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "engine/containers/store.h"
#include "engine/daemon_config.h"
#include "engine/events.h"
#include "engine/gc.h"
#include "engine/images/internal.h"
#include "engine/images/reference.h"
#include "os/error.h"
#include "os/fs.h"
#include "os/process.h"
#include "store/archive.h"

namespace bd::engine {

using nlohmann::json;
using image_json::HostArch;
using image_json::ParseJson;
using image_json::StringList;

namespace {

// True when the ELF file at `path` has no program interpreter, i.e. runs without a libc in the
// container.
bool IsStaticElf(const std::string& path) {
  auto data = os::ReadFile(path);
  if (!data.ok() || data->size() < sizeof(Elf64_Ehdr)) return false;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(data->data());
  if (std::string_view(reinterpret_cast<const char*>(eh->e_ident), 4) != "\177ELF" ||
      eh->e_ident[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  for (int i = 0; i < eh->e_phnum; ++i) {
    size_t off = eh->e_phoff + static_cast<size_t>(i) * eh->e_phentsize;
    if (off + sizeof(Elf64_Phdr) > data->size()) return false;
    const auto* ph = reinterpret_cast<const Elf64_Phdr*>(data->data() + off);
    if (ph->p_type == PT_INTERP) return false;
  }
  return true;
}

Result<std::vector<std::string>> BusyboxApplets(const std::string& busybox) {
  UniqueFd pipe[2];
  BD_RETURN_IF_ERROR(os::MakePipe(pipe));
  pid_t pid = ::fork();
  if (pid < 0) return os::ErrnoStatus("fork");
  if (pid == 0) {
    ::dup2(pipe[1].get(), 1);
    ::execl(busybox.c_str(), busybox.c_str(), "--list-full", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pipe[1].Reset();
  auto out = os::ReadAll(pipe[0].get());
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!out.ok()) return out.status();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Unavailable("`" + busybox + " --list-full` failed");
  }
  std::vector<std::string> applets;
  for (const std::string& line : Split(*out, '\n')) {
    std::string_view l = TrimSpace(line);
    if (!l.empty() && l != "bin/busybox") applets.emplace_back(l);
  }
  return applets;
}

}  // namespace

Status ImageStore::CreateBuiltinBusybox(const std::string& tag) {
  std::string busybox = BusyboxPath();
  struct stat st;
  if (::stat(busybox.c_str(), &st) < 0 || !IsStaticElf(busybox)) {
    return Status::Unavailable(
        "the built-in busybox image needs a static busybox at " + busybox +
        " (Debian: apt-get install busybox-static), or set BASIC_DOCKER_BUSYBOX");
  }
  BD_ASSIGN_OR_RETURN(std::vector<std::string> applets, BusyboxApplets(busybox));
  BD_ASSIGN_OR_RETURN(os::FileLock lock, os::FileLock::Acquire(paths_.StoreLock(), false));
  BD_ASSIGN_OR_RETURN(os::TempDir tmp, os::TempDir::Create(paths_.Tmp(), "busybox-"));
  std::string tar_path = tmp.path() + "/rootfs.tar";
  BD_ASSIGN_OR_RETURN(UniqueFd out, os::Open(tar_path, O_RDWR | O_CREAT | O_TRUNC, 0600));
  {
    store::TarBuilder tar([&](std::string_view d) { return os::WriteAll(out.get(), d); });
    // Fixed times: the same busybox always gives the same image id.
    store::TarBuilder::Meta dir{0755, 0, 0, st.st_mtime};
    std::set<std::string> dirs;
    for (const char* d : {"bin", "dev", "etc", "home", "proc", "root", "run", "sbin", "sys",
                          "tmp", "usr", "usr/bin", "usr/sbin", "var", "var/spool",
                          "var/spool/mail", "var/www"}) {
      store::TarBuilder::Meta m = dir;
      if (std::string_view(d) == "tmp") m.mode = 01777;
      if (std::string_view(d) == "root") m.mode = 0700;
      BD_RETURN_IF_ERROR(tar.AddDir(d, m));
      dirs.insert(d);
    }
    BD_RETURN_IF_ERROR(tar.AddFileFromDisk("bin/busybox", busybox, {0755, 0, 0, st.st_mtime}));
    for (const std::string& applet : applets) {
      std::string parent = os::Dirname(applet);
      if (parent != "." && !dirs.count(parent)) {
        BD_RETURN_IF_ERROR(tar.AddDir(parent, dir));
        dirs.insert(parent);
      }
      BD_RETURN_IF_ERROR(tar.AddSymlink(applet, "/bin/busybox", dir));
    }
    store::TarBuilder::Meta file{0644, 0, 0, st.st_mtime};
    BD_RETURN_IF_ERROR(tar.AddFile("etc/passwd",
                                   "root:x:0:0:root:/root:/bin/sh\n"
                                   "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                                   "nobody:x:65534:65534:nobody:/home:/bin/false\n",
                                   file));
    BD_RETURN_IF_ERROR(tar.AddFile("etc/group",
                                   "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwheel:x:10:root\n"
                                   "nogroup:x:65534:\n",
                                   file));
    BD_RETURN_IF_ERROR(tar.Finish());
  }
  if (::lseek(out.get(), 0, SEEK_SET) < 0) return os::ErrnoStatus("seek");
  ImageConfig config;
  config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  config.cmd = {"sh"};
  BD_ASSIGN_OR_RETURN(std::string id,
                      Import(out.get(), tag, config, "basic-docker built-in image from " + busybox,
                             static_cast<int64_t>(st.st_mtime) * 1'000'000'000));
  log::Info("created built-in image {} ({})", tag, id);
  return {};
}

}  // namespace bd::engine
