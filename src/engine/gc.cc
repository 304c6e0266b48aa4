#include "engine/gc.h"

#include <algorithm>
#include <set>

#include "os/fs.h"

namespace bd::engine {
namespace {

// A directory that is not there holds nothing to collect.
std::vector<std::string> List(const std::string& dir) {
  auto names = os::ListDir(dir);
  return names.ok() ? std::move(*names) : std::vector<std::string>();
}

Result<std::set<std::string>> Column(store::Db* db, const char* sql) {
  std::set<std::string> out;
  BD_ASSIGN_OR_RETURN(store::Statement st, db->Prepare(sql));
  while (true) {
    BD_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.insert(st.Text(0));
  }
  return out;
}

// Empties `dir` of whatever is in it, quietly (what cannot go now goes next time); returns
// the bytes it held.
int64_t Empty(const std::string& dir, bool dry_run) {
  int64_t bytes = 0;
  for (const std::string& n : List(dir)) {
    bytes += os::DiskUsage(dir + "/" + n);
    if (!dry_run) (void)os::RemoveAll(dir + "/" + n);
  }
  return bytes;
}

}  // namespace

Result<GcReport> CollectGarbage(const Paths& paths, store::Db* db, const store::BlobStore& blobs,
                                bool dry_run, bool wait) {
  auto lock = wait ? os::FileLock::Acquire(paths.StoreLock(), true)
                   : os::FileLock::TryExclusive(paths.StoreLock());
  if (!lock.ok()) return lock.status();
  // Layer records no image uses any more (an rmi removes them itself; this catches the rest).
  if (!dry_run) {
    BD_RETURN_IF_ERROR(db->WriteTxn([&]() -> Status {
      BD_ASSIGN_OR_RETURN(store::Statement del, db->Prepare(
          "DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)"));
      return del.Run();
    }));
  }
  std::set<std::string> live_blobs;
  for (const char* sql : {"SELECT id FROM images", "SELECT manifest_digest FROM images",
                          "SELECT blob_digest FROM layers", "SELECT digest FROM image_blobs",
                          "SELECT digest FROM capsules",
                          "SELECT config_digest FROM capsules", "SELECT layer_digest FROM capsules"}) {
    BD_ASSIGN_OR_RETURN(std::set<std::string> some, Column(db, sql));
    live_blobs.merge(some);
  }
  BD_ASSIGN_OR_RETURN(std::set<std::string> live_layers,
                      Column(db, "SELECT diff_id FROM image_layers"));
  std::set<std::string> live_trees;
  {
    BD_ASSIGN_OR_RETURN(store::Statement st, db->Prepare("SELECT content_digest, secret FROM capsules"));
    while (true) {
      BD_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      live_trees.insert(paths.CapsuleTree(st.Text(0), st.Int(1) != 0));
    }
  }
  GcReport report;
  // Directories go out of sight first: a collector killed halfway never leaves a partial tree
  // under a name a later import or attach would take as complete.
  auto remove_dir = [&](const std::string& path) -> Status {
    report.bytes += os::DiskUsage(path);
    return dry_run ? Status() : os::RemoveOutOfSight(path, paths.Trash());
  };
  for (const std::string& hex : List(paths.Layers())) {
    if (live_layers.count("sha256:" + hex)) continue;
    report.layers.push_back(paths.Layers() + "/" + hex);
    BD_RETURN_IF_ERROR(remove_dir(report.layers.back()));
  }
  for (const char* kind : {"/trees", "/secrets"}) {
    std::string dir = paths.Capsules() + kind;
    for (const std::string& hex : List(dir)) {
      std::string path = dir + "/" + hex;
      if (live_trees.count(path)) continue;
      report.trees.push_back(path);
      BD_RETURN_IF_ERROR(remove_dir(path));
    }
  }
  for (const std::string& hex : List(blobs.root() + "/blobs/sha256")) {
    std::string digest = "sha256:" + hex;
    if (live_blobs.count(digest)) continue;
    report.blobs.push_back(digest);
    report.bytes += std::max<int64_t>(blobs.SizeOf(digest), 0);
    if (!dry_run) BD_RETURN_IF_ERROR(blobs.Delete(digest));
  }
  // Scratch of writers that were killed: nobody writes while the lock is held.
  // A full collection also drops the downloads a killed pull left for resuming.
  for (const std::string& dir : {paths.Tmp(), blobs.root() + "/ingest", blobs.root() + "/partial", paths.Trash()}) {
    report.bytes += Empty(dir, dry_run);
  }
  return report;
}

void SweepScratch(const Paths& paths, const store::BlobStore& blobs) {
  (void)Empty(paths.Trash(), false);  // nothing is ever used from the trash
  std::string ingest = blobs.root() + "/ingest";
  if (List(paths.Tmp()).empty() && List(ingest).empty()) return;
  auto lock = os::FileLock::TryExclusive(paths.StoreLock());
  if (!lock.ok()) return;  // a writer is at work: its files are not stale
  (void)Empty(paths.Tmp(), false);
  (void)Empty(ingest, false);
}

}  // namespace bd::engine
