#include "base/dynlib.h"

#include <dlfcn.h>

#include <map>
#include <mutex>

namespace bd {

Result<void*> OpenLibrary(const char* soname, const char* package) {
  static std::mutex mu;
  static std::map<std::string, void*> open;
  std::lock_guard<std::mutex> lock(mu);
  auto it = open.find(soname);
  if (it != open.end()) return it->second;
  void* h = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* err = ::dlerror();
    return Status::Unavailable(std::string("cannot load ") + soname + " (Debian package " +
                               package + "): " + (err ? err : "unknown error"));
  }
  open[soname] = h;
  return h;
}

Result<void*> LibrarySymbol(void* lib, const char* soname, const char* name) {
  void* sym = ::dlsym(lib, name);
  if (!sym) return Status::Unavailable(std::string(soname) + " lacks " + name);
  return sym;
}

}  // namespace bd
