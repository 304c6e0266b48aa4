// Reference-based garbage collection of the store, for images and capsules alike: blobs that
// no image, layer or capsule record names, unpacked layer and capsule trees without a record,
// and what killed writers left in tmp/, ingest/ and trash/. Collection takes the store lock
// exclusively; every writer holds it shared from its first scratch file until its records are
// committed, so nothing being written is ever collected. Not thread-safe (one Db connection).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/paths.h"
#include "store/blob_store.h"
#include "store/db.h"

namespace bd::engine {

struct GcReport {
  std::vector<std::string> blobs;   // digests
  std::vector<std::string> layers;  // unpacked image layer directories
  std::vector<std::string> trees;   // unpacked capsule directories
  int64_t bytes = 0;
};

// With `wait` false, Unavailable while a writer holds the store lock (nothing is done).
Result<GcReport> CollectGarbage(const Paths& paths, store::Db* db, const store::BlobStore& blobs,
                                bool dry_run, bool wait);

// Cheap enough for every store open: empties trash/ always, and tmp/ and ingest/ when no
// writer is running (the store lock is free), so interrupted imports never pile up.
void SweepScratch(const Paths& paths, const store::BlobStore& blobs);

}  // namespace bd::engine
