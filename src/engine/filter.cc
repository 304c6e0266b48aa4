#include "engine/filter.h"

#include <fnmatch.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace bd::engine {
namespace {

bool IsTrue(const std::string& v) { return v == "true" || v == "1"; }

}  // namespace

const std::vector<std::string_view> kContainerFilterKeys = {"id", "name", "label", "status", "ancestor",
                                                            "before", "since", "exited", "volume"};
const std::vector<std::string_view> kImageFilterKeys = {"dangling", "label", "before", "since", "reference"};
const std::vector<std::string_view> kVolumeFilterKeys = {"name", "label", "dangling", "driver"};
const std::vector<std::string_view> kCapsuleFilterKeys = {"name", "label", "secret", "dangling"};
const std::vector<std::string_view> kEventFilterKeys = {"type",  "event",   "action", "container",
                                                        "image", "volume", "capsule", "label"};

Status ListFilter::Add(const std::string& key, std::string value, const std::vector<std::string_view>& keys,
                       std::string_view what) {
  BD_RETURN_IF_ERROR(ValidateUtf8("a filter's key", key));
  BD_RETURN_IF_ERROR(ValidateUtf8("filter " + key + "=", value));
  if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
    std::vector<std::string> names;
    for (std::string_view k : keys) names.push_back(std::string(k) + "=");
    return Status::InvalidArgument("invalid filter \"" + key + "=" + value + "\": " + std::string(what) +
                                   " takes " + Join(names, ", "));
  }
  terms_[key == "action" ? "event" : key].push_back(std::move(value));
  return {};
}

Result<ListFilter> ListFilter::Parse(const std::vector<std::string>& terms, const std::vector<std::string_view>& keys,
                                     std::string_view what) {
  ListFilter f;
  for (const std::string& t : terms) {
    size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("bad format of filter \"" + t + "\" (expected name=value)");
    }
    BD_RETURN_IF_ERROR(f.Add(t.substr(0, eq), t.substr(eq + 1), keys, what));
  }
  return f;
}

Result<ListFilter> ListFilter::FromJson(std::string_view text, const std::vector<std::string_view>& keys,
                                        std::string_view what) {
  ListFilter f;
  if (text.empty()) return f;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("invalid filter JSON: want an object of key to values");
  for (auto& [key, values] : j.items()) {
    if (values.is_array()) {
      for (const auto& v : values) {
        if (!v.is_string()) return Status::InvalidArgument("invalid filter JSON: values of " + key + " are not strings");
        BD_RETURN_IF_ERROR(f.Add(key, v.get<std::string>(), keys, what));
      }
    } else if (values.is_object()) {  // {"status": {"running": true}}
      for (auto& [v, on] : values.items()) {
        if (!on.is_boolean()) return Status::InvalidArgument("invalid filter JSON: " + key + "." + v + " is not a boolean");
        if (on.get<bool>()) BD_RETURN_IF_ERROR(f.Add(key, v, keys, what));
      }
    } else {
      return Status::InvalidArgument("invalid filter JSON: " + key + " wants a list of values");
    }
  }
  return f;
}

const std::vector<std::string>& ListFilter::Values(std::string_view key) const {
  static const std::vector<std::string> kNone;
  auto it = terms_.find(std::string(key));
  return it == terms_.end() ? kNone : it->second;
}

bool ListFilter::MatchesLabels(const std::map<std::string, std::string>& labels) const {
  if (!show_hidden_) {
    auto hidden = labels.find(std::string(kHiddenLabel));
    bool asked = false;
    for (const std::string& v : Values("label")) asked |= v.substr(0, v.find('=')) == kHiddenLabel;
    if (hidden != labels.end() && hidden->second == "true" && !asked) return false;
  }
  for (const std::string& v : Values("label")) {
    size_t eq = v.find('=');
    auto it = labels.find(v.substr(0, eq));
    if (it == labels.end() || (eq != std::string::npos && it->second != v.substr(eq + 1))) return false;
  }
  return true;
}

Status ListFilter::CheckBool(std::string_view key) const {
  const auto& values = Values(key);
  for (const std::string& v : values) {
    if (!IsTrue(v) && v != "false" && v != "0") {
      return Status::InvalidArgument("invalid filter '" + std::string(key) + "=" + v + "': want true or false");
    }
  }
  if (values.size() > 1 &&
      !std::all_of(values.begin(), values.end(), [&](const std::string& v) { return IsTrue(v) == IsTrue(values[0]); })) {
    return Status::InvalidArgument("invalid filter: " + std::string(key) + "=true and " + std::string(key) +
                                   "=false exclude each other");
  }
  return {};
}

bool ListFilter::MatchesBool(std::string_view key, bool actual) const {
  return Any(key, [&](const std::string& v) { return IsTrue(v) == actual; });
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), FNM_PATHNAME) == 0;
}

}  // namespace bd::engine
