// What the files of images/ share: the JSON helpers of image configs and manifests.
// Only for images/*.cc (it brings in nlohmann/json).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace bd::engine::image_json {

// The architecture of this machine as OCI names it ("amd64", "arm64", else uname's).
std::string HostArch();
// The strings of array `key` of object `j` (non-strings skipped; none when it is not an array).
std::vector<std::string> StringList(const nlohmann::json& j, const char* key);
// `text` parsed without exceptions: a discarded value when it is not JSON.
nlohmann::json ParseJson(std::string_view text);

}  // namespace bd::engine::image_json
