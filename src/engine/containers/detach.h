// Docker's detach keys: the attached input is scanned for a key sequence (Ctrl-P Ctrl-Q by
// default); when it completes, the client lets go of the container and the container runs on.
// Pure: fed byte strings as they arrive, tested without a terminal.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace bd::engine {

inline constexpr std::string_view kDefaultDetachKeys = "\x10\x11";  // Ctrl-P Ctrl-Q

class DetachScanner {
 public:
  explicit DetachScanner(std::string keys = std::string(kDefaultDetachKeys)) : keys_(std::move(keys)) {}

  // Returns the bytes of `in` to pass on to the container. A partial match at the end is held
  // back until the next call shows whether the sequence goes on; a broken match passes the
  // held bytes on. Sets `*detach` when the sequence completes (the rest of `in` is dropped).
  std::string Feed(std::string_view in, bool* detach);

 private:
  std::string keys_;
  size_t matched_ = 0;
};

// Docker's --detach-keys format: comma-separated keys, each a single character or "ctrl-X"
// (X a letter, or one of @ [ \ ] ^ _), e.g. "ctrl-p,ctrl-q" or "ctrl-a,d".
Result<std::string> ParseDetachKeys(std::string_view spec);

}  // namespace bd::engine
