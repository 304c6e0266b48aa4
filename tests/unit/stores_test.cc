// The volume, image, capsule and event stores over a temporary data root and database, no
// containers and no root needed: what each records, finds, lists (with filters) and refuses.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/strings.h"
#include "base/time.h"
#include "engine/capsules/store.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/images/store.h"
#include "engine/schema.h"
#include "engine/volumes/store.h"
#include "os/fs.h"
#include "store/archive.h"
#include "store/blob_store.h"
#include "store/db.h"

namespace bd::engine {
namespace {

class StoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = os::TempDir::Create("/tmp", "bd-stores-");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<os::TempDir>(std::move(t).value());
    paths_.root = dir_->path();
    auto blobs = PrepareDataRoot(paths_);
    auto db = store::Db::Open(paths_.Db(), Migrations());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(blobs.ok()) << blobs.status().ToString();
    blobs_ = std::make_unique<store::BlobStore>(std::move(blobs).value());
  }
  // A container row that volumes and capsules can refer to.
  void AddContainer(const std::string& id, const std::string& name) {
    ASSERT_TRUE(db_->Exec("INSERT OR IGNORE INTO images(id, manifest_digest, config, size, created_at) VALUES ('img', 'm', '{}', 0, 0)").ok());
    auto st = db_->Prepare("INSERT INTO containers(id, name, image_id, image_ref, config, spec, state, created_at)"
                           " VALUES (?, ?, 'img', 'busybox', '{}', '{}', 'created', 1)");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(st->BindAll(id, name).Run().ok());
  }
  // A file holding a one-file tar layer.
  std::string LayerFile(const std::string& name, const std::string& content) {
    std::string data;
    store::TarBuilder t([&](std::string_view d) {
      data.append(d);
      return Status();
    });
    EXPECT_TRUE(t.AddFile(name, content, {}).ok());
    EXPECT_TRUE(t.Finish().ok());
    std::string path = dir_->path() + "/" + name + ".tar";
    EXPECT_TRUE(os::WriteFile(path, data).ok());
    return path;
  }
  Result<std::string> Import(ImageStore& images, const std::string& ref, const std::string& file) {
    BD_ASSIGN_OR_RETURN(UniqueFd fd, os::Open(LayerFile(file, "content of " + file), O_RDONLY));
    ImageConfig config;
    config.labels = {{"layer", file}};
    return images.Import(fd.get(), ref, config, "test");
  }
  Paths paths_;
  std::unique_ptr<os::TempDir> dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<store::BlobStore> blobs_;
};

TEST_F(StoresTest, Volumes) {
  VolumeStore volumes(paths_, db_.get());
  auto v = volumes.Create("data", {{"env", "prod"}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(os::IsDir(v->mountpoint));
  EXPECT_TRUE(volumes.Create("data", {}).ok());  // again: the same volume (a NOOP, as Docker)
  EXPECT_EQ(volumes.Get("data")->labels.at("env"), "prod");
  ASSERT_TRUE(volumes.Create("scratch", {}).ok());
  for (const char* bad : {"", "-x", "a/b", "..", "a b"}) {
    EXPECT_EQ(volumes.Create(bad, {}).status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(volumes.Get("nope").status().code(), Code::kNotFound);
  AddContainer("c1", "web");
  ASSERT_TRUE(volumes.Attach("c1", "data").ok());
  EXPECT_FALSE(volumes.Attach("c9", "data").ok());  // no such container
  auto used = volumes.List(*ListFilter::Parse({"dangling=false"}, kVolumeFilterKeys, "volume ls"));
  ASSERT_TRUE(used.ok());
  ASSERT_EQ(used->size(), 1u);
  EXPECT_EQ(used->front().used_by, (std::vector<std::string>{"c1"}));
  EXPECT_EQ(volumes.List(*ListFilter::Parse({"name=scr"}, kVolumeFilterKeys, "volume ls"))->size(), 1u);
  Status busy = volumes.Remove("data");
  EXPECT_EQ(busy.code(), Code::kFailedPrecondition);
  EXPECT_NE(busy.message().find("[web]"), std::string::npos) << busy.message();  // who uses it
  ASSERT_TRUE(volumes.Remove("scratch").ok());
  EXPECT_FALSE(os::Exists(paths_.root + "/volumes/scratch"));
  EXPECT_EQ(volumes.List()->size(), 1u);
}

TEST_F(StoresTest, Images) {
  ImageStore images(paths_, db_.get(), blobs_.get());
  auto a = Import(images, "app:1", "a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ::usleep(2000);
  auto b = Import(images, "team/tool:2", "b");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_NE(*a, *b);
  EXPECT_EQ(images.Resolve("app:1")->id, *a);
  EXPECT_EQ(images.Resolve("docker.io/library/app:1")->id, *a);  // the same name, spelled out
  EXPECT_EQ(images.Resolve(std::string(DigestHex(*b)).substr(0, 8))->id, *b);  // an id prefix
  EXPECT_EQ(images.Resolve("app:2").status().code(), Code::kNotFound);
  EXPECT_EQ(images.Resolve("Bad//Ref").status().code(), Code::kInvalidArgument);
  auto img = images.Resolve("app:1");
  ASSERT_EQ(img->diff_ids.size(), 1u);
  EXPECT_TRUE(os::Exists(images.LayerDirs(*img)[0] + "/a"));  // unpacked once, shared
  auto filter = [](std::vector<std::string> terms) { return *ListFilter::Parse(terms, kImageFilterKeys, "images"); };
  EXPECT_EQ(images.List()->size(), 2u);
  auto tools = images.List(filter({"reference=team/*"}));
  ASSERT_EQ(tools->size(), 1u);
  EXPECT_EQ(tools->front().tags, (std::vector<std::string>{"team/tool:2"}));
  EXPECT_EQ(images.List(filter({"label=layer=a"}))->front().id, *a);
  EXPECT_EQ(images.List(filter({"since=app:1"}))->front().id, *b);
  EXPECT_EQ(images.List(filter({"before=team/tool:2"}))->front().id, *a);
  EXPECT_TRUE(images.List(filter({"dangling=true"}))->empty());
  auto removed = images.Remove("app:1", false);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(removed->front(), "Untagged: app:1");
  EXPECT_EQ(images.Resolve("app:1").status().code(), Code::kNotFound);
  EXPECT_EQ(images.Remove("app:1", false).status().code(), Code::kNotFound);
  EXPECT_EQ(images.List()->size(), 1u);
}

TEST_F(StoresTest, Capsules) {
  CapsuleStore capsules(paths_, db_.get(), blobs_.get());
  std::string content = dir_->path() + "/cfg";
  ASSERT_TRUE(os::MkdirAll(content, 0755).ok());
  ASSERT_TRUE(os::WriteFile(content + "/app.conf", "x = 1\n").ok());
  CapsuleCreateOptions opts;
  opts.name = "cfg";
  opts.version = "1.0";
  opts.path = content;
  opts.labels = {{"team", "web"}};
  bool created = false;
  auto one = capsules.Create(opts, &created);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_TRUE(created);
  EXPECT_EQ(one->files, 1);
  ASSERT_TRUE(capsules.Create(opts, &created).ok());
  EXPECT_FALSE(created);  // the same again: a NOOP
  ASSERT_TRUE(os::WriteFile(content + "/app.conf", "x = 2\n").ok());
  EXPECT_FALSE(capsules.Create(opts, &created).ok());  // other content under cfg:1.0
  opts.version = "1.0.0";
  EXPECT_FALSE(capsules.Create(opts, &created).ok());  // 1.0 and 1.0.0 of one name: ambiguous
  opts.version = "2.1";
  opts.labels.clear();
  ASSERT_TRUE(capsules.Create(opts, &created).ok());
  EXPECT_EQ(capsules.Versions("cfg")->size(), 2u);
  auto filter = [](std::vector<std::string> terms) { return *ListFilter::Parse(terms, kCapsuleFilterKeys, "capsule ls"); };
  EXPECT_EQ(capsules.List(filter({"label=team=web"}))->front().Ref(), "cfg:1.0");
  EXPECT_EQ(capsules.List(filter({"name=cfg:2.1"}))->size(), 1u);
  EXPECT_EQ(capsules.List(filter({"name=cfg"}))->size(), 2u);
  AddContainer("c1", "web");
  ASSERT_TRUE(db_->Exec("INSERT INTO capsule_attachments(container_id, name, version, attached_at) VALUES ('c1', 'cfg', '2.1', 1)").ok());
  EXPECT_EQ(capsules.List(filter({"dangling=true"}))->front().Ref(), "cfg:1.0");
  Status busy = capsules.Remove("cfg", "2.1");
  EXPECT_EQ(busy.code(), Code::kFailedPrecondition) << busy.ToString();
  ASSERT_TRUE(capsules.Remove("cfg", "1.0").ok());
  EXPECT_EQ(capsules.Get("cfg", "1.0").status().code(), Code::kNotFound);
  EXPECT_EQ(capsules.List()->size(), 1u);
}

TEST_F(StoresTest, EventLog) {
  EventLog events(db_.get());
  int64_t t0 = NowNanos();
  ASSERT_TRUE(events.Emit("volume", "create", "data", {{"driver", "local"}}).ok());
  ASSERT_TRUE(events.Emit("container", "start", "c1", {{"name", "web"}, {"team", "a"}}).ok());
  auto all = events.Read(0, 0, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].action, "create");  // oldest first
  EXPECT_GE((*all)[0].time, t0);
  EXPECT_EQ(events.Read((*all)[0].id, 0, 0)->size(), 1u);  // after an id
  EXPECT_TRUE(events.Read(0, NowNanos() + 1'000'000'000, 0)->empty());
  auto f = ParseEventFilters({"type=container", "label=team=a"});
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->Matches((*all)[0]));
  EXPECT_TRUE(f->Matches((*all)[1]));
  EXPECT_FALSE(ParseEventFilters({"label=team=a", "label=missing"})->Matches((*all)[1]));  // every label
  EXPECT_EQ(ParseEventFilters({"colour=red"}).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace bd::engine
