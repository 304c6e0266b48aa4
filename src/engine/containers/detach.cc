#include "engine/containers/detach.h"

#include <cctype>

#include "base/strings.h"

namespace bd::engine {

std::string DetachScanner::Feed(std::string_view in, bool* detach) {
  *detach = false;
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    if (!keys_.empty() && c == keys_[matched_]) {
      if (++matched_ == keys_.size()) {
        matched_ = 0;
        *detach = true;
        return out;
      }
      continue;
    }
    out.append(keys_, 0, matched_);  // the sequence broke: what was held goes on
    matched_ = 0;
    if (!keys_.empty() && c == keys_[0]) {
      matched_ = 1;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::string> ParseDetachKeys(std::string_view spec) {
  std::string keys;
  for (const std::string& key : Split(spec, ',')) {
    std::string lower = key;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key.size() == 1) {
      keys.push_back(key[0]);
    } else if (lower.size() == 6 && lower.rfind("ctrl-", 0) == 0) {
      char x = lower[5];
      if (x >= 'a' && x <= 'z') {
        keys.push_back(static_cast<char>(x - 'a' + 1));
      } else if (x == '@' || x == '[' || x == '\\' || x == ']' || x == '^' || x == '_') {
        keys.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(x)) - '@'));
      } else {
        return Status::InvalidArgument("invalid detach key \"" + key + "\"");
      }
    } else {
      return Status::InvalidArgument("invalid detach key \"" + key + "\": use a character or ctrl-X");
    }
  }
  if (keys.empty()) return Status::InvalidArgument("empty detach key sequence");
  return keys;
}

}  // namespace bd::engine
