#include "engine/schema.h"

namespace bd::engine {

const std::vector<store::Migration>& Migrations() {
  static const std::vector<store::Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE images (
  id              TEXT PRIMARY KEY,  -- digest of the image config
  manifest_digest TEXT NOT NULL,
  config          TEXT NOT NULL,     -- the OCI image config JSON
  size            INTEGER NOT NULL,  -- bytes of the unpacked layers
  created_at      INTEGER NOT NULL   -- unix nanoseconds when stored here
);
CREATE TABLE image_tags (
  name     TEXT PRIMARY KEY,         -- repository:tag
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX image_tags_by_image ON image_tags(image_id);
CREATE TABLE layers (
  diff_id     TEXT PRIMARY KEY,      -- digest of the uncompressed tar; names the unpacked dir
  blob_digest TEXT NOT NULL,         -- digest of the blob as stored (maybe compressed)
  media_type  TEXT NOT NULL,
  size        INTEGER NOT NULL       -- bytes of the blob
);
CREATE TABLE image_layers (
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,         -- 0 is the base layer
  diff_id  TEXT NOT NULL REFERENCES layers(diff_id),
  PRIMARY KEY (image_id, position)
);
CREATE TABLE containers (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  image_id    TEXT NOT NULL REFERENCES images(id),
  image_ref   TEXT NOT NULL,         -- as the user wrote it
  config      TEXT NOT NULL,         -- engine-level config JSON (Docker's Config + HostConfig)
  spec        TEXT NOT NULL,         -- the runtime spec JSON the shim launches
  state       TEXT NOT NULL,         -- created | running | exited
  pid         INTEGER NOT NULL DEFAULT 0,
  shim_pid    INTEGER NOT NULL DEFAULT 0,
  shim_start  INTEGER NOT NULL DEFAULT 0,  -- the shim's start time, to detect a recycled pid
  exit_code   INTEGER NOT NULL DEFAULT 0,
  error       TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  started_at  INTEGER NOT NULL DEFAULT 0,
  finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX containers_by_image ON containers(image_id);
)sql"},
      {2, R"sql(
-- Restart policies are carried out by the shim; `stop` sets stop_requested so that neither a
-- policy nor a racing restart brings the container back.
ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE containers ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;
)sql"},
      {3, R"sql(
-- The kernel's OOM killer ended the container's last run (read from its memory cgroup).
ALTER TABLE containers ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;
-- The container process's start time, so that a recycled pid is never mistaken for it.
ALTER TABLE containers ADD COLUMN pid_start INTEGER NOT NULL DEFAULT 0;
)sql"},
      {4, R"sql(
-- Named volumes: a directory volumes/<name>/_data each, and which containers use them.
CREATE TABLE volumes (
  name       TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  labels     TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE container_volumes (
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  volume       TEXT NOT NULL REFERENCES volumes(name),
  PRIMARY KEY (container_id, volume)
);
CREATE INDEX container_volumes_by_volume ON container_volumes(volume);
)sql"},
      {5, R"sql(
-- Resource Capsules: NAME:VERSION is immutable; equal content shares one layer blob and one
-- unpacked tree (content_digest names it).
CREATE TABLE capsules (
  name           TEXT NOT NULL,
  version        TEXT NOT NULL,
  digest         TEXT NOT NULL,     -- the OCI manifest's digest
  config_digest  TEXT NOT NULL,
  layer_digest   TEXT NOT NULL,     -- the zstd tar blob
  content_digest TEXT NOT NULL,     -- the uncompressed tar
  size           INTEGER NOT NULL,  -- bytes of file content
  blob_size      INTEGER NOT NULL,
  files          INTEGER NOT NULL,
  secret         INTEGER NOT NULL DEFAULT 0,
  labels         TEXT NOT NULL DEFAULT '{}',
  requires       TEXT NOT NULL DEFAULT '[]',
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE INDEX capsules_by_content ON capsules(content_digest);
-- Which containers have which capsules attached; kept across stops, so a start gets them back.
CREATE TABLE capsule_attachments (
  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  version      TEXT NOT NULL,
  attached_at  INTEGER NOT NULL,
  PRIMARY KEY (container_id, name, version),
  FOREIGN KEY (name, version) REFERENCES capsules(name, version)
);
CREATE INDEX capsule_attachments_by_capsule ON capsule_attachments(name, version);
-- What `events` streams: one row per event, in order.
CREATE TABLE events (
  id         INTEGER PRIMARY KEY,   -- rowid: grows with every event
  time       INTEGER NOT NULL,      -- unix nanoseconds
  type       TEXT NOT NULL,         -- capsule, container, ...
  action     TEXT NOT NULL,         -- create, attach, detach, rm, gc, ...
  actor      TEXT NOT NULL,         -- e.g. NAME:VERSION
  attributes TEXT NOT NULL DEFAULT '{}'
);
)sql"},
      {6, R"sql(
-- Optimistic concurrency for port-layer handles: every change of a container's row, or of the
-- capsules attached to it, moves its version on. Triggers, so that no writer can forget; a
-- table of its own, so that moving it on never rewrites the container's (large) row.
CREATE TABLE container_versions (
  id      TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE,
  version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO container_versions(id) SELECT id FROM containers;
CREATE TRIGGER containers_insert_version AFTER INSERT ON containers
BEGIN
  INSERT OR REPLACE INTO container_versions(id, version) VALUES (NEW.id, 0);
END;
CREATE TRIGGER containers_update_version AFTER UPDATE ON containers
BEGIN
  UPDATE container_versions SET version = version + 1 WHERE id = NEW.id;
END;
CREATE TRIGGER capsule_attachments_insert_version AFTER INSERT ON capsule_attachments
BEGIN
  UPDATE container_versions SET version = version + 1 WHERE id = NEW.container_id;
END;
CREATE TRIGGER capsule_attachments_delete_version AFTER DELETE ON capsule_attachments
BEGIN
  UPDATE container_versions SET version = version + 1 WHERE id = OLD.container_id;
END;
)sql"},
      {7, R"sql(
-- Version 7 once added an operations table for diagnostics; they are kept in
-- <data-root>/operations.jsonl instead (engine/diagnostics.h), off the state database's write
-- lock. A database that had the table loses it.
DROP TABLE IF EXISTS operations;
)sql"},
      {8, R"sql(
-- At-most-once exec (exec --once KEY): one record per container instance (its id) and key,
-- claimed as running with its supervisor's identity before the command starts.
CREATE TABLE exec_records (
  id               INTEGER PRIMARY KEY,
  container_id     TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
  key              TEXT NOT NULL,
  state            TEXT NOT NULL,               -- running | done | interrupted
  exec_id          TEXT NOT NULL,
  argv             TEXT NOT NULL,               -- JSON array, as given to execve
  env              TEXT NOT NULL,               -- JSON array of K=V
  working_dir      TEXT NOT NULL,
  user             TEXT NOT NULL,
  tty              INTEGER NOT NULL DEFAULT 0,
  interactive      INTEGER NOT NULL DEFAULT 0,
  supervisor_pid   INTEGER NOT NULL,
  supervisor_start INTEGER NOT NULL,            -- its start time: a recycled pid is not it
  pid              INTEGER NOT NULL DEFAULT 0,  -- the command, as the host sees it
  pid_start        INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER NOT NULL DEFAULT 0,
  finished_at      INTEGER NOT NULL DEFAULT 0,
  exit_code        INTEGER NOT NULL DEFAULT 0,
  error            TEXT NOT NULL DEFAULT '',    -- why the command could not run
  output_limit     INTEGER NOT NULL,
  stdout           BLOB NOT NULL DEFAULT x'',
  stderr           BLOB NOT NULL DEFAULT x'',
  stdout_size      INTEGER NOT NULL DEFAULT 0,  -- bytes written, kept or not
  stderr_size      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (container_id, key)
);
CREATE INDEX exec_records_running ON exec_records(state) WHERE state = 'running';
)sql"},
      {9, R"sql(
-- Plugins (engine/plugins/manager.h): what each binary's `capabilities` said, kept until the
-- binary changes, and its running instance, shared by every caller.
CREATE TABLE plugins (
  name         TEXT PRIMARY KEY,
  path         TEXT NOT NULL,
  binary_id    TEXT NOT NULL,               -- device, inode, size, mtime, ctime of the file asked
  capabilities TEXT NOT NULL DEFAULT '',    -- contract JSON; '' when they were refused
  refused      TEXT NOT NULL DEFAULT '',    -- why the capabilities were refused
  pid          INTEGER NOT NULL DEFAULT 0,  -- the running instance (0: none)
  pid_start    INTEGER NOT NULL DEFAULT 0,
  address      TEXT NOT NULL DEFAULT '',
  started_at   INTEGER NOT NULL DEFAULT 0,
  failures     INTEGER NOT NULL DEFAULT 0,  -- consecutive failed starts and calls
  retry_at     INTEGER NOT NULL DEFAULT 0,  -- unix ms: no start before (backoff)
  last_error   TEXT NOT NULL DEFAULT ''
);
)sql"},
      {10, R"sql(
-- Registries (engine/images/pull.cc): the digest each image has in the repositories it was
-- pulled from or pushed to, as Docker's RepoDigests, and every blob its manifests name beyond
-- the layer rows (an index, the compressed layer blobs as the registry has them), so garbage
-- collection keeps what `push` and `save` write back out.
CREATE TABLE image_repo_digests (
  name     TEXT PRIMARY KEY,                                     -- repository@sha256:...
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX image_repo_digests_by_image ON image_repo_digests(image_id);
-- The manifest each tag was pulled as ('' : the image's own): one config may come in several
-- (gzip and zstd layers), and a push of the tag sends the one it has.
ALTER TABLE image_tags ADD COLUMN manifest_digest TEXT NOT NULL DEFAULT '';
CREATE TABLE image_blobs (
  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  digest   TEXT NOT NULL,
  PRIMARY KEY (image_id, digest)
);
)sql"},
  };
  return kMigrations;
}

}  // namespace bd::engine
