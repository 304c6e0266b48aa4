// What the files of capsules/ share. Only for capsules/*.cc (it brings in nlohmann/json).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/capsules/store.h"

namespace bd::engine::capsule_internal {

// A capsule's dependencies as stored in its record and config: [{name, constraint, optional}].
nlohmann::json DependenciesJson(const std::vector<Dependency>& deps);
// The dependencies of that JSON text (none when it is not an array).
std::vector<Dependency> DependenciesFromJson(const std::string& text);
// sha256 of the decompressed content of a zstd blob; InvalidArgument for a corrupt or
// truncated stream.
Result<std::string> ContentDigestOf(const std::string& blob_path);

}  // namespace bd::engine::capsule_internal
