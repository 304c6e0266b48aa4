// The one filter language of every component's List (and of events): Docker's `--filter`.
// A filter is KEY=VALUE terms; the values of one key OR together, different keys AND. Each
// component says which keys it takes; `label` is shared by all (label=KEY or label=KEY=VALUE,
// every label term must hold, as in Docker). The API's JSON form (`{"status":["running"]}`,
// or the older `{"status":{"running":true}}`) parses to the same filter.
//
// Infrastructure elements (the engine's own helpers: label system.hidden=true) are left out of
// every list unless it is asked for all (`--all`) or a label term names system.hidden.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd::engine {

inline constexpr std::string_view kHiddenLabel = "system.hidden";

class ListFilter {
 public:
  ListFilter() = default;
  // `what` names the list in errors ("ps"); an unknown key or a term without '=' is refused,
  // naming the keys there are.
  static Result<ListFilter> Parse(const std::vector<std::string>& terms, const std::vector<std::string_view>& keys,
                                  std::string_view what);
  static Result<ListFilter> FromJson(std::string_view json, const std::vector<std::string_view>& keys,
                                     std::string_view what);

  bool empty() const { return terms_.empty(); }
  bool Has(std::string_view key) const { return terms_.count(std::string(key)) > 0; }
  const std::vector<std::string>& Values(std::string_view key) const;

  // True when `key` is absent, or `test` holds for one of its values.
  template <typename F>
  bool Any(std::string_view key, F&& test) const {
    auto it = terms_.find(std::string(key));
    if (it == terms_.end()) return true;
    for (const std::string& v : it->second) {
      if (test(v)) return true;
    }
    return false;
  }
  // Every label term holds for `labels` (true without label terms), and an infrastructure
  // element is shown only when asked for (SetShowHidden, or a label term on system.hidden).
  bool MatchesLabels(const std::map<std::string, std::string>& labels) const;
  void SetShowHidden(bool show) { show_hidden_ = show; }
  // A key whose values are true or false (dangling=true): InvalidArgument otherwise, or when
  // the filter holds both.
  Status CheckBool(std::string_view key) const;
  // True when `key` is absent or its value is `actual` (after CheckBool).
  bool MatchesBool(std::string_view key, bool actual) const;

 private:
  Status Add(const std::string& key, std::string value, const std::vector<std::string_view>& keys,
             std::string_view what);
  std::map<std::string, std::vector<std::string>> terms_;
  bool show_hidden_ = false;
};

// The keys each list takes (besides `label`, which all take).
extern const std::vector<std::string_view> kContainerFilterKeys;  // ps
extern const std::vector<std::string_view> kImageFilterKeys;      // images
extern const std::vector<std::string_view> kVolumeFilterKeys;     // volume ls
extern const std::vector<std::string_view> kCapsuleFilterKeys;    // capsule ls
extern const std::vector<std::string_view> kEventFilterKeys;      // events

// Docker's glob for `reference=` (path.Match: '*' never crosses '/').
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace bd::engine
