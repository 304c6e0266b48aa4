#include <gtest/gtest.h>

#include "os/fs.h"
#include "store/blob_store.h"

namespace bd::store {
namespace {

TEST(BlobStoreTest, PutIsContentAddressedAndIdempotent) {
  auto tmp = os::TempDir::Create("/tmp", "bd-blobs-");
  ASSERT_TRUE(tmp.ok());
  auto store = BlobStore::Open(tmp->path());
  ASSERT_TRUE(store.ok());
  auto a = store->Put("hello");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->digest, Sha256Digest("hello"));
  EXPECT_EQ(a->size, 5);
  EXPECT_TRUE(store->Has(a->digest));
  EXPECT_EQ(*store->Read(a->digest), "hello");
  auto again = store->Put("hello");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->digest, a->digest);
  EXPECT_TRUE(os::ListDir(tmp->path() + "/ingest")->empty());
  EXPECT_EQ(os::ListDir(tmp->path() + "/blobs/sha256")->size(), 1u);
}

TEST(BlobStoreTest, DigestMismatchMakesNothingVisible) {
  auto tmp = os::TempDir::Create("/tmp", "bd-blobs-");
  ASSERT_TRUE(tmp.ok());
  auto store = BlobStore::Open(tmp->path());
  ASSERT_TRUE(store.ok());
  auto w = store->NewWriter();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Write("data").ok());
  std::string wrong = Sha256Digest("other");
  auto r = w->Commit(std::string_view(wrong));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(store->Has(Sha256Digest("data")));
  EXPECT_FALSE(store->Has(wrong));
  { auto drop = std::move(w).value(); }
  EXPECT_TRUE(os::ListDir(tmp->path() + "/ingest")->empty());
  EXPECT_EQ(store->Read("sha256:nothex").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store->Read(wrong).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace bd::store
