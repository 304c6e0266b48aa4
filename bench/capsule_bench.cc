// Capsule attach/detach latency through the engine library (what `capsule attach` does after
// the CLI has started): N cycles on one running container, then one attach to each of many
// running containers. Prints p50/p99 in microseconds. Run by bench/run_capsule_bench.sh.
//
// usage: capsule_bench ROOT CAPSULE:VERSION CYCLES CONTAINER...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "runtime/live_mount.h"

namespace {

using Clock = std::chrono::steady_clock;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void Report(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))]; };
  std::printf("%-44s n=%-5zu p50 %8.1f us   p99 %8.1f us   max %8.1f us\n", what, us.size(), at(0.5),
              at(0.99), us.back());
}

int Die(const bd::Status& st) {
  std::fprintf(stderr, "capsule_bench: %s\n", st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: capsule_bench ROOT NAME:VERSION CYCLES CONTAINER...\n");
    return 2;
  }
  auto eng = bd::engine::Engine::Open(argv[1]);
  if (!eng.ok()) return Die(eng.status());
  auto ref = bd::engine::ParseCapsuleRef(argv[2]);
  if (!ref.ok()) return Die(ref.status());
  auto capsule = (*eng)->capsules().Get(ref->name, ref->version);
  if (!capsule.ok()) return Die(capsule.status());
  int cycles = std::atoi(argv[3]);
  std::vector<std::string> containers(argv + 4, argv + argc);

  // 1. Attach and detach on one running container, through the port layer's Commit.
  std::vector<double> attach, detach;
  for (int i = 0; i < cycles; ++i) {
    auto t0 = Clock::now();
    auto r = (*eng)->AttachCapsule(containers[0], *capsule);
    auto t1 = Clock::now();
    if (!r.ok()) return Die(r.status());
    if (r->IsError()) return Die(r->FirstError());
    bd::portlayer::CommitResult d;
    if (bd::Status st = (*eng)->DetachCapsule(containers[0], *capsule, &d); !st.ok()) return Die(st);
    auto t2 = Clock::now();
    attach.push_back(Micros(t1 - t0));
    detach.push_back(Micros(t2 - t1));
  }
  Report("engine attach (Commit, one container)", attach);
  Report("engine detach (Commit, one container)", detach);

  // 2. The kernel part alone: clone, set read-only, move into the namespace; and back.
  auto c = (*eng)->containers().Find(containers[0]);
  auto tree = (*eng)->capsules().Tree(*capsule);
  if (!c.ok() || !tree.ok()) return Die(c.ok() ? tree.status() : c.status());
  std::vector<double> mount, umount;
  std::string target = "/capsules/" + capsule->name + "/" + capsule->version;
  for (int i = 0; i < cycles; ++i) {
    auto t0 = Clock::now();
    if (bd::Status st = bd::runtime::AttachLiveMount(c->pid, {*tree, target, false}); !st.ok()) return Die(st);
    auto t1 = Clock::now();
    if (bd::Status st = bd::runtime::DetachLiveMount(c->pid, target, "/capsules"); !st.ok()) return Die(st);
    auto t2 = Clock::now();
    mount.push_back(Micros(t1 - t0));
    umount.push_back(Micros(t2 - t1));
  }
  Report("live mount only (helper, open_tree..move_mount)", mount);
  Report("live unmount only", umount);

  // 3. One attach to each of many running containers.
  std::vector<double> fleet;
  auto all0 = Clock::now();
  for (const std::string& ctr : containers) {
    auto t0 = Clock::now();
    auto r = (*eng)->AttachCapsule(ctr, *capsule);
    if (!r.ok()) return Die(r.status());
    if (r->IsError()) return Die(r->FirstError());
    fleet.push_back(Micros(Clock::now() - t0));
  }
  double total_ms = Micros(Clock::now() - all0) / 1000.0;
  Report("engine attach, one per container", fleet);
  std::printf("attach to %zu running containers: %.1f ms in all\n", containers.size(), total_ms);
  for (const std::string& ctr : containers) {
    bd::portlayer::CommitResult d;
    (void)(*eng)->DetachCapsule(ctr, *capsule, &d);
  }
  return 0;
}
