// libFuzzer: `capsule import` of arbitrary archives into a throwaway data root. Nothing may
// crash, nothing may be written outside the data root, and a rejected archive stores nothing.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "os/fs.h"

namespace {

struct World {
  std::string dir;
  std::unique_ptr<bd::engine::Engine> engine;
  World() {
    // Under the run's own work directory (scripts/run-fuzz.sh), which it removes afterwards.
    const char* base = std::getenv("BD_FUZZ_WORKDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/bd-fuzz-import-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    auto e = bd::engine::Engine::Open(dir + "/root");
    if (!e.ok()) std::abort();
    engine = std::move(*e);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* w = new World();
  std::string archive = w->dir + "/input.tar";
  if (!bd::os::WriteFile(archive, std::string_view(reinterpret_cast<const char*>(data), size)).ok()) std::abort();
  std::vector<bool> created;
  auto imported = w->engine->capsules().Import(archive, &created);
  auto list = w->engine->capsules().List();
  if (!list.ok()) std::abort();
  if (!imported.ok() && !list->empty() && created.empty()) {
    // A failed import records nothing: everything listed came from earlier successes.
    for (const auto& c : *list) {
      if (!w->engine->capsules().Verify(c).ok()) std::abort();
    }
  }
  // Only the data root and the input file may exist in the world directory.
  for (const char* escaped : {"/escaped", "/root/../escaped", "/x"}) {
    if (bd::os::Exists(w->dir + escaped)) std::abort();
  }
  for (const auto& c : *list) (void)w->engine->capsules().Remove(c.name, c.version);
  return 0;
}
