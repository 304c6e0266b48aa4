// Images: import, load (docker save and OCI layout), rmi, and the built-in busybox.
#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/strings.h"
#include "integration/cli_helper.h"

namespace bd::testing {
namespace {

using nlohmann::json;

class ImageTest : public EngineTest {
 protected:
  // Everything under the data root that an image could leave behind.
  size_t StoredThings() {
    size_t n = 0;
    for (const char* d : {"/layers", "/blobs/sha256", "/tmp", "/ingest"}) {
      auto l = os::ListDir(root_ + d);
      if (l.ok()) n += l->size();
    }
    return n;
  }

  // A docker save archive of one image built from `layer` with `config`.
  std::string DockerSave(const std::string& layer, const json& config, const std::string& tag) {
    std::string cfg = config.dump();
    std::string cfg_name = std::string(DigestHex(Sha256Digest(cfg))) + ".json";
    json manifest = json::array({{{"Config", cfg_name},
                                  {"RepoTags", json::array({tag})},
                                  {"Layers", json::array({"abc/layer.tar"})}}});
    return BuildTar([&](store::TarBuilder& t) {
      ASSERT_TRUE(t.AddFile(cfg_name, cfg, {}).ok());
      ASSERT_TRUE(t.AddDir("abc", {}).ok());
      ASSERT_TRUE(t.AddFile("abc/layer.tar", layer, {}).ok());
      ASSERT_TRUE(t.AddFile("manifest.json", manifest.dump(), {}).ok());
    });
  }
};

json ConfigFor(const std::string& layer, json cfg) {
  return {{"architecture", "amd64"},
          {"os", "linux"},
          {"created", "2026-01-01T00:00:00Z"},
          {"config", std::move(cfg)},
          {"rootfs", {{"type", "layers"}, {"diff_ids", json::array({Sha256Digest(layer)})}}}};
}

TEST_F(ImageTest, BuiltinBusyboxIsCreatedOnFirstUse) {
  EXPECT_EQ(Cli({"images", "-q"}).out, "");
  ASSERT_EQ(Cli({"run", "--rm", "busybox", "true"}).code, 0);
  CmdResult images = Cli({"images"});
  EXPECT_NE(images.out.find("busybox"), std::string::npos) << images.out;
  EXPECT_NE(images.out.find("latest"), std::string::npos);
  auto j = json::parse(Cli({"images", "--format", "json"}).out);
  EXPECT_EQ(j["Repository"], "busybox");
  // The same busybox gives the same image: a second root agrees on the id.
  std::string id = Cli({"images", "-q"}).out;
  CmdResult other = RunCmd({std::string(BD_BIN_DIR) + "/basic-docker", "--root",
                            root_ + "-second", "run", "--rm", "busybox", "true"});
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_EQ(RunCmd({std::string(BD_BIN_DIR) + "/basic-docker", "--root", root_ + "-second",
                    "images", "-q"}).out, id);
  (void)os::RemoveAll(root_ + "-second");
}

TEST_F(ImageTest, ImportMakesARunnableImage) {
  std::string tar = WriteFile("rootfs.tar", BusyboxLayerTar());
  CmdResult imp = Cli({"import", tar, "mine:v1"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  EXPECT_EQ(imp.out.substr(0, 7), "sha256:");
  CmdResult run = Cli({"run", "--rm", "mine:v1", "/bin/echo", "imported"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "imported\n");
  // An imported image has no command of its own.
  CmdResult nocmd = Cli({"run", "--rm", "mine:v1"});
  EXPECT_EQ(nocmd.code, 125);
  EXPECT_NE(nocmd.err.find("no command"), std::string::npos) << nocmd.err;
  // From stdin, too; same content, same layer.
  CmdResult stdin_imp = Cli({"import", "-", "mine:v2"}, BusyboxLayerTar());
  ASSERT_EQ(stdin_imp.code, 0) << stdin_imp.err;
  EXPECT_EQ(os::ListDir(root_ + "/layers")->size(), 1u);
}

TEST_F(ImageTest, HostileTarballsAreRefusedAndChangeNothing) {
  std::string outside = dir_->path() + "/outside";
  ASSERT_TRUE(os::MkdirAll(outside).ok());
  ASSERT_EQ(Cli({"images"}).code, 0);
  size_t before = StoredThings();
  struct Case {
    const char* name;
    std::function<void(store::TarBuilder&)> fill;
    const char* message;
  };
  std::vector<Case> cases = {
      {"dotdot", [&](store::TarBuilder& t) { ASSERT_TRUE(t.AddFile("../../outside/x", "x", {}).ok()); }, ".."},
      {"absolute", [&](store::TarBuilder& t) { ASSERT_TRUE(t.AddFile(outside + "/x", "x", {}).ok()); }, "absolute"},
      {"symlink", [&](store::TarBuilder& t) {
         ASSERT_TRUE(t.AddFile("ok", "fine", {}).ok());
         ASSERT_TRUE(t.AddSymlink("escape", outside, {}).ok());
         ASSERT_TRUE(t.AddFile("escape/x", "x", {}).ok());
       }, "symlink"},
  };
  for (const Case& c : cases) {
    std::string tar = WriteFile(std::string(c.name) + ".tar", BuildTar(c.fill));
    CmdResult r = Cli({"import", tar, std::string("evil:") + c.name});
    EXPECT_EQ(r.code, 1) << c.name;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.name << ": " << r.err;
    EXPECT_TRUE(os::ListDir(outside)->empty()) << c.name;
    EXPECT_EQ(StoredThings(), before) << c.name;
  }
  EXPECT_EQ(Cli({"images", "-q"}).out, "");
  CmdResult junk = Cli({"import", WriteFile("junk.tar", std::string(2048, 'j')), "junk"});
  EXPECT_EQ(junk.code, 1);
  EXPECT_EQ(Cli({"import", "/no/such/file.tar", "x"}).code, 1);
  EXPECT_EQ(Cli({"import", WriteFile("ok.tar", BusyboxLayerTar()), "Bad:Ref!"}).code, 1);
  EXPECT_EQ(StoredThings(), before);
}

TEST_F(ImageTest, LoadsADockerSaveArchiveWithItsConfig) {
  std::string layer = BusyboxLayerTar();
  json cfg = ConfigFor(layer, {{"Env", {"PATH=/bin", "GREETING=hi"}},
                               {"WorkingDir", "/data"},
                               {"User", "4242:4343"},
                               {"Entrypoint", {"sh", "-c"}},
                               {"Cmd", {"echo $GREETING; pwd; id -u; id -g"}}});
  std::string archive = WriteFile("save.tar", DockerSave(layer, cfg, "saved/app:1.0"));
  CmdResult load = Cli({"load", "-i", archive});
  ASSERT_EQ(load.code, 0) << load.err;
  EXPECT_EQ(load.out, "Loaded image: saved/app:1.0\n");
  CmdResult run = Cli({"run", "--rm", "saved/app:1.0"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "hi\n/data\n4242\n4343\n");
  // A command given to run replaces Cmd and keeps the Entrypoint.
  CmdResult cmd = Cli({"run", "--rm", "saved/app:1.0", "echo replaced"});
  EXPECT_EQ(cmd.out, "replaced\n");
  auto insp = json::parse(Cli({"inspect", "saved/app:1.0"}).out);
  EXPECT_EQ(insp[0]["Config"]["WorkingDir"], "/data");
  EXPECT_EQ(insp[0]["RootFS"]["Layers"][0], Sha256Digest(layer));
}

TEST_F(ImageTest, LoadRefusesALayerThatDoesNotMatchItsConfig) {
  std::string layer = BusyboxLayerTar();
  json cfg = ConfigFor("something else", {{"Cmd", {"sh"}}});
  std::string archive = WriteFile("bad.tar", DockerSave(layer, cfg, "bad:1"));
  size_t before = StoredThings();
  CmdResult load = Cli({"load", "-i", archive});
  EXPECT_EQ(load.code, 1);
  EXPECT_NE(load.err.find("does not match"), std::string::npos) << load.err;
  EXPECT_EQ(Cli({"images", "-q"}).out, "");
  EXPECT_EQ(StoredThings(), before);
  CmdResult neither = Cli({"load", "-i", WriteFile("x.tar", BusyboxLayerTar())});
  EXPECT_EQ(neither.code, 1);
  EXPECT_NE(neither.err.find("neither"), std::string::npos) << neither.err;
}

TEST_F(ImageTest, LoadsAnOciImageLayout) {
  std::string layer = BusyboxLayerTar();
  std::string cfg = ConfigFor(layer, {{"Cmd", {"echo", "from-oci"}}}).dump();
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"config",
                    {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                     {"digest", Sha256Digest(cfg)},
                     {"size", cfg.size()}}},
                   {"layers", json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                            {"digest", Sha256Digest(layer)},
                                            {"size", layer.size()}}})}};
  std::string m = manifest.dump();
  json index = {{"schemaVersion", 2},
                {"manifests", json::array({{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                            {"digest", Sha256Digest(m)},
                                            {"size", m.size()},
                                            {"annotations",
                                             {{"org.opencontainers.image.ref.name", "oci/app:2"}}}}})}};
  auto blob = [](const std::string& data) {
    return "blobs/sha256/" + std::string(DigestHex(Sha256Digest(data)));
  };
  std::string archive = WriteFile("oci.tar", BuildTar([&](store::TarBuilder& t) {
    ASSERT_TRUE(t.AddFile("oci-layout", R"({"imageLayoutVersion":"1.0.0"})", {}).ok());
    ASSERT_TRUE(t.AddFile("index.json", index.dump(), {}).ok());
    ASSERT_TRUE(t.AddFile(blob(cfg), cfg, {}).ok());
    ASSERT_TRUE(t.AddFile(blob(m), m, {}).ok());
    ASSERT_TRUE(t.AddFile(blob(layer), layer, {}).ok());
  }));
  CmdResult load = Cli({"load", "-i", archive});
  ASSERT_EQ(load.code, 0) << load.err;
  EXPECT_EQ(load.out, "Loaded image: oci/app:2\n");
  CmdResult run = Cli({"run", "--rm", "oci/app:2"});
  EXPECT_EQ(run.out, "from-oci\n");
}

TEST_F(ImageTest, RmiRefusesImagesInUseAndRemovesUnusedData) {
  std::string tar = WriteFile("rootfs.tar", BusyboxLayerTar());
  ASSERT_EQ(Cli({"import", tar, "gc:1"}).code, 0);
  ASSERT_EQ(Cli({"create", "--name", "user", "gc:1", "/bin/true"}).code, 0);
  ASSERT_EQ(Cli({"create", "--name", "other", "gc:1", "/bin/true"}).code, 0);
  CmdResult in_use = Cli({"rmi", "gc:1"});
  EXPECT_EQ(in_use.code, 1);
  // Every container that uses it, by name.
  EXPECT_NE(in_use.err.find("containers other, user are using its referenced image"), std::string::npos) << in_use.err;
  ASSERT_EQ(Cli({"rm", "user", "other"}).code, 0);
  CmdResult rmi = Cli({"rmi", "gc:1"});
  EXPECT_EQ(rmi.code, 0) << rmi.err;
  EXPECT_NE(rmi.out.find("Untagged: gc:1"), std::string::npos);
  EXPECT_NE(rmi.out.find("Deleted: sha256:"), std::string::npos);
  EXPECT_TRUE(os::ListDir(root_ + "/layers")->empty());
  EXPECT_TRUE(os::ListDir(root_ + "/blobs/sha256")->empty());
  EXPECT_EQ(Cli({"rmi", "gc:1"}).code, 1);
}

}  // namespace
}  // namespace bd::testing
