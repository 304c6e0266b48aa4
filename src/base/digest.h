// SHA-256 digests in OCI form ("sha256:<64 lowercase hex>"). Sha256Hasher is incremental and
// not thread-safe; the free functions are.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bd {

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(const void* data, size_t len);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Returns "sha256:<hex>". The hasher may not be updated afterwards.
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string Sha256Digest(std::string_view data);

// Checks "sha256:<64 lowercase hex>".
Status ValidateDigest(std::string_view digest);

// The hex part of a digest ("sha256:abc" -> "abc").
inline std::string_view DigestHex(std::string_view digest) {
  auto colon = digest.find(':');
  return colon == std::string_view::npos ? digest : digest.substr(colon + 1);
}

}  // namespace bd
