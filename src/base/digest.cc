#include "base/digest.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstdio>

#include "base/dynlib.h"

namespace bd {
namespace {

#define BD_CRYPTO_FUNCTIONS(X) \
  X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) X(EVP_sha256) X(EVP_DigestInit_ex) \
  X(EVP_DigestUpdate) X(EVP_DigestFinal_ex)

struct CryptoApi {
  BD_CRYPTO_FUNCTIONS(BD_DECLARE_FN)
};

Result<CryptoApi> LoadCrypto() {
  const char* soname = "libcrypto.so.3";
  BD_ASSIGN_OR_RETURN(void* handle, OpenLibrary(soname, "libssl3"));
  CryptoApi api;
  BD_CRYPTO_FUNCTIONS(BD_LOAD_FN)
  return api;
}

// Hashing cannot report errors to its callers: without libcrypto the engine cannot work at all.
const CryptoApi& Crypto() {
  static const CryptoApi api = [] {
    auto loaded = LoadCrypto();
    if (!loaded.ok()) {
      std::fprintf(stderr, "basic-docker: %s\n", loaded.status().ToString().c_str());
      std::abort();
    }
    return loaded.value();
  }();
  return api;
}

}  // namespace

struct Sha256Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = Crypto().EVP_MD_CTX_new();
  Crypto().EVP_DigestInit_ex(impl_->ctx, Crypto().EVP_sha256(), nullptr);
}

Sha256Hasher::~Sha256Hasher() { Crypto().EVP_MD_CTX_free(impl_->ctx); }

void Sha256Hasher::Update(const void* data, size_t len) {
  Crypto().EVP_DigestUpdate(impl_->ctx, data, len);
}

std::string Sha256Hasher::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Crypto().EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  out.reserve(7 + 2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string Sha256Digest(std::string_view data) {
  Sha256Hasher h;
  h.Update(data);
  return h.Finish();
}

Status ValidateDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.substr(0, kPrefix.size()) != kPrefix || digest.size() != kPrefix.size() + 64) {
    return Status::InvalidArgument("invalid digest \"" + std::string(digest) +
                                   "\": want sha256:<64 hex digits>");
  }
  for (char c : digest.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Status::InvalidArgument("invalid digest \"" + std::string(digest) +
                                     "\": want lowercase hex");
    }
  }
  return {};
}


}  // namespace bd
