// The Capsule Store: named, versioned, immutable bundles of files. Content is packed as a
// deterministic tar (sorted entries, owner root, mtime 0), compressed with zstd and stored as
// a blob addressed by its sha256, with an OCI manifest and config beside it, so a capsule is
// an OCI artifact. Equal content is stored once. The state database records each NAME:VERSION
// and which containers have it attached. Not thread-safe; one CapsuleStore per Db connection.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/capsules/ref.h"
#include "engine/filter.h"
#include "engine/paths.h"
#include "runtime/spec.h"
#include "store/blob_store.h"
#include "store/db.h"

namespace bd::engine {

inline constexpr std::string_view kCapsuleArtifactType = "application/vnd.basic-docker.capsule.v1";
inline constexpr std::string_view kCapsuleConfigType =
    "application/vnd.basic-docker.capsule.config.v1+json";
inline constexpr std::string_view kCapsuleLayerType = "application/vnd.oci.image.layer.v1.tar+zstd";

struct Capsule {
  std::string name;
  std::string version;
  std::string digest;          // of the OCI manifest: the capsule's identity
  std::string config_digest;
  std::string layer_digest;    // the zstd-compressed tar blob
  std::string content_digest;  // of the uncompressed tar: equal content, equal digest
  int64_t size = 0;            // bytes of file content
  int64_t blob_size = 0;       // bytes of the compressed blob
  int64_t files = 0;           // entries: files, directories, symlinks
  bool secret = false;
  std::map<std::string, std::string> labels;
  std::vector<Dependency> dependencies;  // required and optional ones
  int64_t created_at = 0;
  std::vector<std::string> attached_to;  // container ids

  std::string Ref() const { return name + ":" + version; }
};

struct CapsuleCreateOptions {
  std::string name;
  std::string version;
  std::string path;  // a file or a directory on the host
  std::map<std::string, std::string> labels;
  std::vector<Dependency> dependencies;
  bool secret = false;
};

class CapsuleStore {
 public:
  CapsuleStore(Paths paths, store::Db* db, const store::BlobStore* blobs)
      : paths_(std::move(paths)), db_(db), blobs_(blobs) {}

  // Packs and records NAME:VERSION. The same content and metadata again is a NOOP
  // (`*created` false); anything else under an existing NAME:VERSION is an error.
  Result<Capsule> Create(const CapsuleCreateOptions& opts, bool* created);
  Result<Capsule> Get(const std::string& name, const std::string& version);
  Result<std::vector<Capsule>> List();
  // Those `f` selects (kCapsuleFilterKeys: name (NAME or NAME:VERSION), label, secret,
  // dangling: attached to no container).
  Result<std::vector<Capsule>> List(const ListFilter& f);
  // Every version of `name` this store holds, lowest first.
  Result<std::vector<Capsule>> Versions(const std::string& name);
  // `root` and everything it needs, dependencies first, each once: for every dependency the
  // highest version matching its constraint; optional ones only if one matches. Cycles,
  // missing required capsules and two versions of one name are errors naming the chain.
  Result<std::vector<Capsule>> Closure(const Capsule& root);
  // Removes the record; refuses while a container has it attached. Data goes at `Gc`.
  Status Remove(const std::string& name, const std::string& version);

  // The capsule's unpacked tree, made on first use: shared and read-only for ordinary
  // capsules; for secrets a 0700 directory of 0400 files, only ever copied into memory.
  Result<std::string> Tree(const Capsule& c);
  // Re-hashes the blobs and the unpacked tree's source; an error names what differs.
  Status Verify(const Capsule& c);
  Status RecordAttachment(const std::string& container_id, const Capsule& c);
  Status ForgetAttachment(const std::string& container_id, const std::string& name,
                          const std::string& version);
  Result<std::vector<CapsuleRef>> AttachedTo(const std::string& container_id);

  // Writes NAME:VERSION as an OCI image layout tar (oci-layout, index.json, blobs), to be
  // read back by Import here or elsewhere. Secret capsules are written 0600.
  Status Export(const Capsule& c, const std::string& path);
  // Reads an archive Export wrote (or any OCI layout holding capsule artifacts): every digest
  // and the content are verified before anything is recorded; unsafe entries are refused.
  Result<std::vector<Capsule>> Import(const std::string& path, std::vector<bool>* created);

  // `capsule push`: NAME:VERSION and its dependency closure to the repository `ref` names (a
  // tag; the capsule's version when none is given): each capsule's blobs and manifest (by
  // digest), then an OCI index of them all, artifactType the capsule's, under the tag.
  // Returns the index's digest. engine/capsules/registry.cc.
  Result<std::string> Push(const Capsule& c, const std::string& ref, std::string* tag);
  // `capsule pull`: what Push wrote (or one capsule manifest) from `ref`, every blob verified,
  // recorded as Import records. The capsule `ref` names comes first in the result.
  Result<std::vector<Capsule>> Pull(const std::string& ref, std::vector<bool>* created);

 private:
  // Import's work on an unpacked OCI layout `dir` (the caller holds the store lock); `what`
  // names it in errors.
  Result<std::vector<Capsule>> ImportLayout(const std::string& dir, const std::string& what,
                                            std::vector<bool>* created);
  Result<Capsule> Load(store::Statement& st);
  // The stored capsule when `c` is already there identically; an error when NAME:VERSION
  // holds something else.
  Result<std::optional<Capsule>> Existing(const Capsule& c);
  // Records `c` unless NAME:VERSION is there already: then returns the stored one (same
  // content) or the immutability error.
  Result<std::optional<Capsule>> Insert(Capsule* c);
  Paths paths_;
  store::Db* db_;
  const store::BlobStore* blobs_;
};

// `spec` with the container's recorded capsules as its /capsules mounts: read-only binds of
// the unpacked trees on a small tmpfs (secrets are attached from memory after the start), or,
// in the propagation fallback, the shared host directory with the capsules mounted under it.
// Used before every start, by `start` and by the shim when a restart policy restarts it.
Result<runtime::Spec> SpecWithCapsules(runtime::Spec spec, const std::string& container_id,
                                       CapsuleStore& capsules, const Paths& paths);

}  // namespace bd::engine
