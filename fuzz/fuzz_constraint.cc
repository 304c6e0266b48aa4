// libFuzzer: capsule references, versions, dependencies and constraints from arbitrary text.
// Parsing must never crash, and what parses must behave: a version always matches "=" itself,
// and precedence is a strict weak order on what ParseVersion accepts.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/capsules/ref.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)bd::engine::ParseCapsuleRef(text);
  (void)bd::engine::ParseDependency(text, false);
  auto v = bd::engine::ParseVersion(text);
  if (v.ok()) {
    if (v->Compare(*v) != 0) std::abort();
    auto self = bd::engine::Constraint::Parse("=" + text);
    if (!self.ok() || !self->Matches(*v)) std::abort();
  }
  auto c = bd::engine::Constraint::Parse(text);
  if (c.ok()) {
    for (const char* probe : {"0.0.0", "1.2.3", "1.2.3-rc.1", "2.0.0", "10.20.30"}) {
      (void)c->Matches(*bd::engine::ParseVersion(probe));
    }
  }
  return 0;
}
