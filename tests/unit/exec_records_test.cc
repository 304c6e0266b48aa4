// exec --once records over a temporary database: one claim per (container, key), the
// supervisor's steps guarded by its identity, orphaned runs interrupted, reset, removal, prune
// and the space they hold; and the persistent containers' configuration hash.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "engine/containers/exec_records.h"
#include "engine/containers/store.h"
#include "engine/schema.h"
#include "os/fs.h"
#include "os/process.h"
#include "store/db.h"

namespace bd::engine {
namespace {

class ExecRecordStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-rec-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
    auto db = store::Db::Open(dir_->path() + "/state.db", Migrations());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    store_ = std::make_unique<ExecRecordStore>(db_.get());
    ASSERT_TRUE(db_->Exec(
        "INSERT INTO images(id, manifest_digest, config, size, created_at) VALUES ('img', 'm', '{}', 0, 0);"
        "INSERT INTO containers(id, name, image_id, image_ref, config, spec, state, created_at)"
        " VALUES ('c1', 'web', 'img', 'busybox', '{}', '{}', 'running', 1),"
        "        ('c2', 'db', 'img', 'busybox', '{}', '{}', 'running', 1);").ok());
  }
  // A fresh claim supervised by this process.
  ExecRecord Fresh(const std::string& container, const std::string& key) {
    ExecRecord r;
    r.container_id = container;
    r.key = key;
    r.exec_id = "e-" + key;
    r.argv = {"sh", "-c", "echo hi"};
    r.env = {"PATH=/bin", "A=1"};
    r.working_dir = "/";
    r.supervisor_pid = ::getpid();
    r.supervisor_start = os::ProcessStartTime(::getpid());
    r.created_at = 100;
    r.output_limit = 8;
    return r;
  }
  ExecRecord ClaimDone(const std::string& container, const std::string& key, const std::string& out,
                       int64_t finished_at = 200) {
    ExecRecord r = Fresh(container, key);
    auto claim = store_->ClaimOrFind(&r, false);
    EXPECT_TRUE(claim.ok() && claim->claimed);
    r.finished_at = finished_at;
    r.exit_code = 3;
    r.stdout_size = static_cast<int64_t>(out.size());
    r.stdout_data = out.substr(0, 8);
    r.stderr_data = "err";
    r.stderr_size = 3;
    EXPECT_TRUE(store_->Finish(r, {}).ok());
    return r;
  }
  std::unique_ptr<os::TempDir> dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<ExecRecordStore> store_;
};

TEST_F(ExecRecordStoreTest, OneClaimPerKeyAndContainerAndOutputKeptByteForByte) {
  ExecRecord a = Fresh("c1", "migrate");
  auto first = store_->ClaimOrFind(&a, false);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->claimed);
  EXPECT_GT(a.id, 0);
  ExecRecord again = Fresh("c1", "migrate");
  auto second = store_->ClaimOrFind(&again, false);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->claimed);
  ASSERT_TRUE(second->existing);
  EXPECT_EQ(second->existing->id, a.id);
  EXPECT_EQ(second->existing->state, ExecRecordState::kRunning);
  // The same key on another container is a record of its own.
  ExecRecord other = Fresh("c2", "migrate");
  EXPECT_TRUE(store_->ClaimOrFind(&other, false)->claimed);

  const std::string binary("\0\xff\x01\n", 4);
  a.finished_at = 150;
  a.exit_code = 7;
  a.stdout_data = binary;
  a.stdout_size = 4;
  a.stderr_data = "e";
  a.stderr_size = 1;
  ASSERT_TRUE(store_->Finish(a, {}).ok());
  auto found = store_->Find("c1", "migrate");
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ((*found)->state, ExecRecordState::kDone);
  EXPECT_EQ((*found)->exit_code, 7);
  EXPECT_EQ((*found)->stdout_data, binary);
  EXPECT_EQ((*found)->stderr_data, "e");
  EXPECT_EQ((*found)->argv, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_EQ((*found)->env, (std::vector<std::string>{"PATH=/bin", "A=1"}));
  EXPECT_FALSE((*found)->StdoutTruncated());
  // Without the output, the sizes are still there.
  auto light = store_->Find("c1", "migrate", false);
  EXPECT_EQ((*light)->stdout_data, "");
  EXPECT_EQ((*light)->stdout_kept, 4);
  // A finished record is not finished twice.
  EXPECT_EQ(store_->Finish(a, {}).code(), Code::kFailedPrecondition);
}

TEST_F(ExecRecordStoreTest, ResetReplacesAFinishedRecordButNeverARunningOne) {
  ExecRecord running = Fresh("c1", "long");
  ASSERT_TRUE(store_->ClaimOrFind(&running, false)->claimed);
  ExecRecord reset = Fresh("c1", "long");
  auto r = store_->ClaimOrFind(&reset, true);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->claimed);  // still running: --reset waits like any other call
  ExecRecord done = ClaimDone("c1", "once", "x");
  ExecRecord anew = Fresh("c1", "once");
  anew.exec_id = "e-again";
  auto n = store_->ClaimOrFind(&anew, true);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->claimed);
  auto now = store_->Find("c1", "once");
  EXPECT_EQ((*now)->state, ExecRecordState::kRunning);
  EXPECT_EQ((*now)->exec_id, "e-again");
  EXPECT_NE((*now)->exec_id, done.exec_id);
}

TEST_F(ExecRecordStoreTest, ARunWhoseSupervisorDiedIsInterruptedOnce) {
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ASSERT_GT(gone, 0);
  uint64_t start = os::ProcessStartTime(gone);
  int status = 0;
  ASSERT_EQ(::waitpid(gone, &status, 0), gone);
  ExecRecord r = Fresh("c1", "seed");
  r.supervisor_pid = gone;
  r.supervisor_start = start;
  ASSERT_TRUE(store_->ClaimOrFind(&r, false)->claimed);
  auto listed = store_->ListRunning();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  ExecRecord seen = listed->at(0);
  auto changed = store_->InterruptIfOrphaned(&seen, {{"name", "web"}});
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_TRUE(*changed);
  EXPECT_EQ(seen.state, ExecRecordState::kInterrupted);
  EXPECT_FALSE(*store_->InterruptIfOrphaned(&seen, {}));
  // The supervisor's late steps change nothing now.
  r.finished_at = 300;
  EXPECT_EQ(store_->Finish(r, {}).code(), Code::kFailedPrecondition);
  EXPECT_EQ((*store_->Find("c1", "seed"))->state, ExecRecordState::kInterrupted);
  // A live supervisor's record is left alone.
  ExecRecord live = Fresh("c1", "live");
  ASSERT_TRUE(store_->ClaimOrFind(&live, false)->claimed);
  EXPECT_FALSE(*store_->InterruptIfOrphaned(&live, {}));
  EXPECT_EQ(live.state, ExecRecordState::kRunning);
}

TEST_F(ExecRecordStoreTest, RemovePruneAndUsage) {
  ClaimDone("c1", "old", "0123456789", 100);  // 10 bytes produced, 8 kept
  ClaimDone("c1", "new", "abc", 500);
  ExecRecord running = Fresh("c2", "busy");
  ASSERT_TRUE(store_->ClaimOrFind(&running, false)->claimed);
  auto old = store_->Find("c1", "old");
  EXPECT_TRUE((*old)->StdoutTruncated());
  EXPECT_EQ((*old)->stdout_data, "01234567");

  auto usage = store_->DiskUsage();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->total, 3);
  EXPECT_EQ(usage->running, 1);
  EXPECT_GT(usage->bytes, usage->reclaimable);
  EXPECT_GT(usage->reclaimable, 0);

  // A running record is not removed while its supervisor lives.
  EXPECT_EQ(store_->Remove("c2", "busy").code(), Code::kFailedPrecondition);
  EXPECT_EQ(store_->Remove("c1", "nope").code(), Code::kNotFound);
  auto pruned = store_->Prune(300);  // finished before 300: "old" only
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned->removed, 1);
  EXPECT_GT(pruned->bytes, 0);
  EXPECT_FALSE(*store_->Find("c1", "old"));
  EXPECT_TRUE(*store_->Find("c1", "new"));
  ASSERT_TRUE(store_->Remove("c1", "new").ok());
  EXPECT_EQ(store_->Prune(0)->removed, 0);  // the running one stays
  EXPECT_EQ(store_->List()->size(), 1u);
  // A container's records go with it.
  ASSERT_TRUE(db_->Exec("DELETE FROM containers WHERE id = 'c2'").ok());
  EXPECT_EQ(store_->List()->size(), 0u);
}

TEST(ExecKeyTest, RefusesEmptyLongAndControlCharacters) {
  EXPECT_TRUE(ValidateExecKey("db-migrate:v2").ok());
  EXPECT_TRUE(ValidateExecKey("schlüssel").ok());
  EXPECT_EQ(ValidateExecKey("").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateExecKey(std::string(256, 'k')).code(), Code::kInvalidArgument);
  EXPECT_TRUE(ValidateExecKey(std::string(255, 'k')).ok());
  EXPECT_EQ(ValidateExecKey("a\nb").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateExecKey(std::string("a\0b", 3)).code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateExecKey("\xff\xfe").code(), Code::kInvalidArgument);
}

TEST(ExecRecordJsonTest, TextWhereUtf8ElseBase64AndSizesWithoutOutput) {
  ExecRecord r;
  r.key = "k";
  r.state = ExecRecordState::kDone;
  r.stdout_data = "hi\n";
  r.stdout_size = r.stdout_kept = 3;
  r.stderr_data = std::string("\0\xff", 2);
  r.stderr_size = 5;
  r.stderr_kept = 2;
  auto j = nlohmann::json::parse(ExecRecordJson(r, "web"));
  EXPECT_EQ(j["State"], "done");
  EXPECT_EQ(j["Container"]["Name"], "web");
  EXPECT_EQ(j["Stdout"]["Data"], "hi\n");
  EXPECT_EQ(j["Stdout"]["Encoding"], "utf-8");
  EXPECT_EQ(j["Stderr"]["Data"], "AP8=");
  EXPECT_EQ(j["Stderr"]["Encoding"], "base64");
  EXPECT_EQ(j["Stderr"]["Truncated"], true);
  EXPECT_EQ(j["Stdout"]["Truncated"], false);
  auto light = nlohmann::json::parse(ExecRecordJson(r, "web", false, -1));
  EXPECT_FALSE(light["Stdout"].contains("Data"));
  EXPECT_EQ(light["Stderr"]["Size"], 5);
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(ConfigHashTest, SameConfigSameHashAndDifferencesNamedWithoutValues) {
  ContainerConfig a;
  a.image_ref = "busybox";
  a.cmd = {"sleep", "100"};
  a.env = {"PATH=/bin", "DB_PASSWORD=hunter2"};
  a.persistent = true;
  ContainerConfig b = a;
  b.image_ref = "busybox:latest";  // the same image, typed another way
  EXPECT_EQ(ConfigHash(a, "sha256:1"), ConfigHash(b, "sha256:1"));
  EXPECT_TRUE(ConfigDifferences(a, "sha256:1", b, "sha256:1").empty());
  EXPECT_NE(ConfigHash(a, "sha256:1"), ConfigHash(a, "sha256:2"));
  EXPECT_EQ(ConfigDifferences(a, "sha256:1", b, "sha256:2"), std::vector<std::string>{"Image"});
  b.env = {"PATH=/bin", "DB_PASSWORD=letmein"};
  b.memory = 1 << 20;
  std::vector<std::string> diff = ConfigDifferences(a, "sha256:1", b, "sha256:1");
  EXPECT_EQ(diff, (std::vector<std::string>{"Env (DB_PASSWORD)", "Memory"}));
  for (const std::string& d : diff) EXPECT_EQ(d.find("hunter2"), std::string::npos);
  EXPECT_NE(ConfigHash(a, "sha256:1"), ConfigHash(b, "sha256:1"));
  // Persistent round-trips through the stored JSON.
  auto back = ContainerConfigFromJson(ContainerConfigToJson(a));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->persistent);
  EXPECT_EQ(ConfigHash(*back, "sha256:1"), ConfigHash(a, "sha256:1"));
}

}  // namespace
}  // namespace bd::engine
