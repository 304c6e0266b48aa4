// The capsule-source type (docs/plugins.md) for the implementations that serve it, built in or
// plugin binaries: its request, and the pinned file a fetch writes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace bd::plugin {

struct FetchRequest {
  std::string uri;
  std::string sha256;       // 64 lowercase hex digits
  std::string destination;  // an existing directory, absolute
  int64_t max_bytes = 0;    // 0: no bound
};

// InvalidArgument unless `body` is {"uri": string starting with `prefix`, "sha256": 64 hex,
// "destination": an existing absolute directory, "maxBytes": optional non-negative integer}.
// `shape` says what the uri must be ("a http:// URL").
Result<FetchRequest> ParseFetchRequest(std::string_view body, std::string_view prefix, std::string_view shape);

// A fetch's file: written under a temporary name in the destination, made visible as `name`
// by Commit only when its content is the pinned digest; removed otherwise (and when dropped).
class PinnedFile {
 public:
  static Result<std::unique_ptr<PinnedFile>> Create(const FetchRequest& req, const std::string& name);
  ~PinnedFile();
  PinnedFile(const PinnedFile&) = delete;
  PinnedFile& operator=(const PinnedFile&) = delete;

  // InvalidArgument past the request's maxBytes.
  Status Write(std::string_view chunk);
  // fsync and rename into place; the answer's JSON ({"path", "size", "sha256"}). A digest other
  // than the pinned one is InvalidArgument naming both.
  Result<std::string> Commit();

 private:
  PinnedFile() = default;
  FetchRequest req_;
  std::string final_path_, part_path_;
  UniqueFd fd_;
  Sha256Hasher hasher_;
  int64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace bd::plugin
