// Loading a shared library on first use. Libraries only some commands need (libarchive,
// libcrypto) are opened with dlopen when first called, so `run`, `ps`, `logs` and every shim
// start without paying for them (several milliseconds per process; see docs/benchmarks.md).
// Thread-safe.
#pragma once

#include <string>

#include "base/status.h"

namespace bd {

// dlopen(`soname`) once and keep it; `package` names the Debian package for the error.
Result<void*> OpenLibrary(const char* soname, const char* package);
// dlsym, with an error naming the symbol.
Result<void*> LibrarySymbol(void* lib, const char* soname, const char* name);

// Fills a table of function pointers named after the library's own functions. `X` lists
// them: X(function_name) ...; `decltype(&::function_name)` gives each pointer its exact type.
#define BD_DECLARE_FN(name) decltype(&::name) name = nullptr;
#define BD_LOAD_FN(name)                                                        \
  {                                                                             \
    auto sym = ::bd::LibrarySymbol(handle, soname, #name);                      \
    if (!sym.ok()) return sym.status();                                         \
    api.name = reinterpret_cast<decltype(&::name)>(sym.value());                \
  }

}  // namespace bd
