#!/usr/bin/env bash
# Two builds of basic-docker against each other, interleaved in one run: the "not slower" check
# of a change. Usage (root): bench/before_after.sh OLD_BIN_DIR [ROUNDS]
#   OLD_BIN_DIR: build/bin of the tree before the change, for example
#     git worktree add /tmp/before HEAD~1 && (cd /tmp/before && scripts/build.sh &&
#       cmake --build build --target capsule_bench)
#     bench/before_after.sh /tmp/before/build/bin
# Measures, for each build with its own data root: `run --rm busybox true`, `exec CTR true`,
# engine capsule attach p50/p99 (bench/capsule_bench.cc), and eight `capsule attach` commands to
# eight containers at once against one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
old="${1:?usage: bench/before_after.sh OLD_BIN_DIR [ROUNDS]}"
rounds="${2:-30}"
scripts/build.sh >/dev/null
cmake --build build --target capsule_bench >/dev/null
[ -x "$old/capsule_bench" ] || { echo "$old/capsule_bench is missing: build its capsule_bench target" >&2; exit 1; }
work="$(mktemp -d /var/tmp/bd-before-after-XXXXXX)"
new="$PWD/build/bin"
cleanup() {
  for b in old new; do
    bin="$old"; [ "$b" = new ] && bin="$new"
    "$bin/basic-docker" --root "$work/$b" ps -aq 2>/dev/null | xargs -r "$bin/basic-docker" --root "$work/$b" rm -f >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/cfg"
for i in $(seq 1 20); do echo "setting_$i = value $i" > "$work/cfg/$i.conf"; done
echo "kernel $(uname -r), $(nproc) cpus"
python3 - "$old" "$new" "$work" "$rounds" <<'PY'
import statistics, subprocess, sys, time
old, new, work, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
builds = {"before": old, "after": new}
def bd(name, *args, **kw):
    root = f"{work}/{'old' if name == 'before' else 'new'}"
    return subprocess.run([f"{builds[name]}/basic-docker", "--root", root, *args], check=True,
                          stdout=subprocess.PIPE, text=True, **kw).stdout.strip()
ctrs = {}
for name in builds:
    bd(name, "capsule", "create", "--name", "cfg", "--version", "1.0.0", "--path", f"{work}/cfg")
    ctrs[name] = [bd(name, "run", "-d", "busybox", "sleep", "3600") for _ in range(8)]
def timed(fn):
    t0 = time.perf_counter(); fn(); return (time.perf_counter() - t0) * 1000
results = {(n, k): [] for n in builds for k in ("run", "exec", "seq8", "par8")}
for r in range(rounds):
    for name in builds:
        results[(name, "run")].append(timed(lambda: bd(name, "run", "--rm", "busybox", "true")))
        results[(name, "exec")].append(timed(lambda: bd(name, "exec", ctrs[name][0], "true")))
    if r % 3 == 0:
        for name in builds:
            def seq():
                for c in ctrs[name]: bd(name, "capsule", "attach", c, "cfg:1.0.0")
            def par():
                root = f"{work}/{'old' if name == 'before' else 'new'}"
                ps = [subprocess.Popen([f"{builds[name]}/basic-docker", "--root", root, "capsule", "attach", c, "cfg:1.0.0"],
                                       stdout=subprocess.DEVNULL) for c in ctrs[name]]
                for p in ps: p.wait()
            def detach():
                for c in ctrs[name]: bd(name, "capsule", "detach", c, "cfg:1.0.0")
            results[(name, "seq8")].append(timed(seq)); detach()
            results[(name, "par8")].append(timed(par)); detach()
print(f"{'median ms':38} {'before':>10} {'after':>10} {'after/before':>13}")
for key, label in (("run", "run --rm busybox true"), ("exec", "exec CTR true"),
                   ("seq8", "8 capsule attach, one after the other"), ("par8", "8 capsule attach, all at once")):
    b, a = statistics.median(results[("before", key)]), statistics.median(results[("after", key)])
    print(f"{label:38} {b:10.2f} {a:10.2f} {a / b:12.2f}x")
for name in builds:
    sp = statistics.median(results[(name, "par8")]) / statistics.median(results[(name, "seq8")])
    print(f"{name}: 8 concurrent / 8 sequential attaches: {sp:.2f}x")
# capsule_bench alternately, five times each: its p50 and p99 move with the machine's other load.
attach = {n: ([], []) for n in builds}
for _ in range(5):
    for name in builds:
        root = f"{work}/{'old' if name == 'before' else 'new'}"
        out = subprocess.run([f"{builds[name]}/capsule_bench", root, "cfg:1.0.0", "300", ctrs[name][0]],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        f = next(l for l in out.splitlines() if l.startswith("engine attach (Commit")).split()
        attach[name][0].append(float(f[f.index("p50") + 1])); attach[name][1].append(float(f[f.index("p99") + 1]))
for i, q in enumerate(("p50", "p99")):
    b, a = statistics.median(attach["before"][i]), statistics.median(attach["after"][i])
    print(f"{'engine capsule attach ' + q + ' (us)':38} {b:10.1f} {a:10.1f} {a / b:12.2f}x")
PY
