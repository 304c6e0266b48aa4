#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "engine/schema.h"
#include "os/fs.h"
#include "store/db.h"

namespace bd::store {
namespace {

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-db-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
  }
  std::string Path() const { return dir_->path() + "/state.db"; }
  std::unique_ptr<os::TempDir> dir_;
};

TEST_F(DbTest, MigratesInOrderAndOnlyOnce) {
  std::vector<Migration> v1 = {{1, "CREATE TABLE t(x INTEGER);"}};
  std::vector<Migration> v2 = {v1[0], {2, "ALTER TABLE t ADD COLUMN y TEXT;"}};
  {
    auto db = Db::Open(Path(), v1);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_EQ((*db)->UserVersion(), 1);
  }
  auto db = Db::Open(Path(), v2);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->UserVersion(), 2);
  EXPECT_TRUE((*db)->Exec("INSERT INTO t(x, y) VALUES (1, 'a')").ok());
  // Opening again re-runs nothing (migration 2 would fail if re-applied).
  EXPECT_TRUE(Db::Open(Path(), v2).ok());
}

TEST_F(DbTest, RefusesASchemaNewerThanItKnows) {
  std::vector<Migration> v2 = {{1, "CREATE TABLE t(x);"}, {2, "CREATE TABLE u(y);"}};
  ASSERT_TRUE(Db::Open(Path(), v2).ok());
  auto db = Db::Open(Path(), {v2[0]});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kFailedPrecondition);
}

TEST_F(DbTest, FailedMigrationLeavesVersionUnchanged) {
  std::vector<Migration> bad = {{1, "CREATE TABLE t(x);"}, {2, "CREATE TABLE t(x);"}};
  auto db = Db::Open(Path(), bad);
  ASSERT_FALSE(db.ok());
  auto again = Db::Open(Path(), {bad[0]});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->UserVersion(), 1);
}

TEST_F(DbTest, WriteTxnRollsBackOnError) {
  auto db = Db::Open(Path(), {{1, "CREATE TABLE t(x INTEGER UNIQUE);"}});
  ASSERT_TRUE(db.ok());
  Status st = (*db)->WriteTxn([&]() -> Status {
    BD_RETURN_IF_ERROR((*db)->Exec("INSERT INTO t VALUES (1)"));
    return Status::Internal("boom");
  });
  EXPECT_EQ(st.code(), Code::kInternal);
  auto q = (*db)->Prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->Int(0), 0);
  // Constraint violations come back as AlreadyExists.
  ASSERT_TRUE((*db)->Exec("INSERT INTO t VALUES (2)").ok());
  auto ins = (*db)->Prepare("INSERT INTO t VALUES (?)");
  ASSERT_TRUE(ins.ok());
  EXPECT_EQ(ins->BindAll(2).Run().code(), Code::kAlreadyExists);
}

// A foreign-key failure is no duplicate: a missing parent (or one still referred to) is a failed
// precondition, NOT NULL and CHECK an invalid argument; only UNIQUE is "already exists".
TEST_F(DbTest, ConstraintKindsMapToTheirOwnCodes) {
  auto db = Db::Open(Path(), {{1, "CREATE TABLE p(id TEXT PRIMARY KEY);"
                                  "CREATE TABLE c(id TEXT PRIMARY KEY, p TEXT NOT NULL REFERENCES p(id), n INTEGER CHECK (n > 0));"}});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->Exec("INSERT INTO p VALUES ('a')").ok());
  auto ins = (*db)->Prepare("INSERT INTO c VALUES (?, ?, ?)");
  ASSERT_TRUE(ins.ok());
  EXPECT_EQ(ins->BindAll("x", "nosuch", 1).Run().code(), Code::kFailedPrecondition);
  ASSERT_TRUE((*db)->Prepare("INSERT INTO c VALUES (?, ?, ?)")->BindAll("x", "a", 1).Run().ok());
  EXPECT_EQ((*db)->Prepare("INSERT INTO c VALUES (?, ?, ?)")->BindAll("x", "a", 1).Run().code(), Code::kAlreadyExists);
  EXPECT_EQ((*db)->Prepare("INSERT INTO c VALUES (?, ?, ?)")->BindAll("y", "a", 0).Run().code(), Code::kInvalidArgument);
  EXPECT_EQ((*db)->Exec("DELETE FROM p WHERE id = 'a'").code(), Code::kFailedPrecondition);  // still referred to
}

// Processes that open one new database at once all succeed: the first switches it to WAL,
// the others wait for that instead of failing with "database is locked".
TEST_F(DbTest, ConcurrentFirstOpensAllSucceed) {
  std::string path = dir_->path() + "/race.db";
  std::vector<pid_t> pids;
  for (int i = 0; i < 8; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(Db::Open(path, engine::Migrations()).ok() ? 0 : 1);
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

TEST_F(DbTest, EngineSchemaAppliesToAFreshDatabase) {
  auto db = Db::Open(Path(), engine::Migrations());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->UserVersion(), engine::Migrations().back().version);
  EXPECT_TRUE((*db)->Exec("SELECT id, name, state, shim_pid FROM containers").ok());
  EXPECT_TRUE((*db)->Exec("SELECT diff_id, blob_digest FROM layers").ok());
}

// Migration 6 over a database of schema 5 with a container and an attached capsule in it:
// the rows keep their data at version 0, and from then on every change of the row or of its
// attachments moves the version on (the port layer's optimistic concurrency).
TEST_F(DbTest, UpgradeToSchema6VersionsContainers) {
  std::vector<Migration> upto5(engine::Migrations().begin(), engine::Migrations().begin() + 5);
  ASSERT_EQ(upto5.back().version, 5);
  {
    auto db = Db::Open(Path(), upto5);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec(
        "INSERT INTO images(id, manifest_digest, config, size, created_at) VALUES ('img', 'm', '{}', 0, 0);"
        "INSERT INTO containers(id, name, image_id, image_ref, config, spec, state, created_at)"
        " VALUES ('c1', 'web', 'img', 'busybox', '{}', '{}', 'exited', 1);"
        "INSERT INTO capsules(name, version, digest, config_digest, layer_digest, content_digest, size,"
        " blob_size, files, created_at) VALUES ('cfg', '1.0', 'd', 'c', 'l', 'x', 1, 1, 1, 1);").ok());
  }
  auto db = Db::Open(Path(), engine::Migrations());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto version = [&] {
    auto st = (*db)->Prepare("SELECT v.version, c.name, c.state FROM containers c JOIN container_versions v ON v.id = c.id WHERE c.id = 'c1'");
    EXPECT_TRUE(st.ok());
    auto row = st->Step();
    EXPECT_TRUE(row.ok() && *row);
    EXPECT_EQ(st->Text(1), "web");
    return st->Int(0);
  };
  EXPECT_EQ(version(), 0);
  ASSERT_TRUE((*db)->Exec("UPDATE containers SET state = 'running' WHERE id = 'c1'").ok());
  EXPECT_EQ(version(), 1);
  ASSERT_TRUE((*db)->Exec("UPDATE containers SET state = 'running' WHERE id = 'nope'").ok());
  EXPECT_EQ(version(), 1);
  ASSERT_TRUE((*db)->Exec("INSERT INTO capsule_attachments(container_id, name, version, attached_at)"
                          " VALUES ('c1', 'cfg', '1.0', 2)").ok());
  EXPECT_EQ(version(), 2);
  ASSERT_TRUE((*db)->Exec("DELETE FROM capsule_attachments WHERE container_id = 'c1'").ok());
  EXPECT_EQ(version(), 3);
}

// Migration 7 over a database of schema 6 that has a container and (as one build of version 7
// made) an operations table: the rows stay, the table goes.
TEST_F(DbTest, UpgradeToSchema7DropsTheOperationsTable) {
  std::vector<Migration> upto6(engine::Migrations().begin(), engine::Migrations().begin() + 6);
  ASSERT_EQ(upto6.back().version, 6);
  {
    auto db = Db::Open(Path(), upto6);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec(
        "INSERT INTO images(id, manifest_digest, config, size, created_at) VALUES ('img', 'm', '{}', 0, 0);"
        "INSERT INTO containers(id, name, image_id, image_ref, config, spec, state, created_at)"
        " VALUES ('c1', 'web', 'img', 'busybox', '{}', '{}', 'exited', 1);"
        "CREATE TABLE operations (id INTEGER PRIMARY KEY, op TEXT);").ok());
  }
  auto db = Db::Open(Path(), engine::Migrations());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->UserVersion(), engine::Migrations().back().version);
  EXPECT_FALSE((*db)->Exec("SELECT id FROM operations").ok());
  auto names = (*db)->Prepare("SELECT name FROM containers");
  ASSERT_TRUE(names.ok());
  ASSERT_TRUE(*names->Step());
  EXPECT_EQ(names->Text(0), "web");
}

// Migration 8 over a database of schema 7 with a container: exec records can be kept for it,
// one per key, binary output intact, and they go with the container.
TEST_F(DbTest, UpgradeToSchema8KeepsExecRecordsPerContainer) {
  std::vector<Migration> upto7(engine::Migrations().begin(), engine::Migrations().begin() + 7);
  ASSERT_EQ(upto7.back().version, 7);
  {
    auto db = Db::Open(Path(), upto7);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec(
        "INSERT INTO images(id, manifest_digest, config, size, created_at) VALUES ('img', 'm', '{}', 0, 0);"
        "INSERT INTO containers(id, name, image_id, image_ref, config, spec, state, created_at)"
        " VALUES ('c1', 'web', 'img', 'busybox', '{}', '{}', 'exited', 1);").ok());
  }
  auto db = Db::Open(Path(), engine::Migrations());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_GE((*db)->UserVersion(), 8);
  const std::string binary("\0\xff\n\x01", 4);
  auto insert = [&](const char* container, const char* key) {
    auto st = (*db)->Prepare(
        "INSERT INTO exec_records(container_id, key, state, exec_id, argv, env, working_dir, user,"
        " supervisor_pid, supervisor_start, created_at, output_limit, stdout) VALUES (?, ?, 'done', 'e',"
        " '[]', '[]', '/', '', 1, 1, 1, 10, ?)");
    EXPECT_TRUE(st.ok());
    st->Bind(1, container).Bind(2, key).BindBlob(3, binary);
    return st->Run();
  };
  ASSERT_TRUE(insert("c1", "migrate").ok());
  EXPECT_EQ(insert("c1", "migrate").code(), Code::kAlreadyExists);
  EXPECT_EQ(insert("nope", "migrate").code(), Code::kFailedPrecondition);  // no such container
  auto out = (*db)->Prepare("SELECT stdout FROM exec_records WHERE key = 'migrate'");
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(*out->Step());
  EXPECT_EQ(out->Blob(0), binary);
  ASSERT_TRUE((*db)->Exec("DELETE FROM containers WHERE id = 'c1'").ok());
  auto left = (*db)->Prepare("SELECT count(*) FROM exec_records");
  ASSERT_TRUE(left.ok());
  ASSERT_TRUE(*left->Step());
  EXPECT_EQ(left->Int(0), 0);
}

}  // namespace
}  // namespace bd::store
