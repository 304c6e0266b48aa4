#!/usr/bin/env bash
# Resource Capsules against what Docker and Podman offer instead, on this machine, in one run.
# Usage (root): bench/run_capsule_bench.sh [CYCLES] [CONTAINERS] [TREE_MIB]
#   attach/detach: p50/p99 of `capsule attach` + `detach` through the engine library over
#     CYCLES cycles on one running container, the kernel part alone, and one attach to each of
#     CONTAINERS running containers (bench/capsule_bench.cc).
#   recreate: the only way podman gets new read-only content into a container: stop, rm and
#     run it again with one more -v (podman stop -t 0 + rm + run -d), timed the same way.
#   create: `capsule create` of a TREE_MIB tree of mixed files (half random, half text)
#     against `tar -c | zstd -T0` of the same tree.
# podman uses crun, which refuses this host's hybrid cgroups because of
# /sys/fs/cgroup/unified/cgroup.controllers: it runs in a private mount namespace where an
# empty file covers it (as in run_peer_bench.sh). The host is not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles="${1:-1000}"
fleet="${2:-100}"
tree_mib="${3:-1024}"
scripts/install-deps.sh --bench >/dev/null
scripts/build.sh >/dev/null
cmake --build build --target capsule_bench >/dev/null
command -v zstd >/dev/null || { apt-get install -y -qq zstd >/dev/null; }
work="$(mktemp -d /var/tmp/bd-capsule-bench-XXXXXX)"
bd="$PWD/build/bin/basic-docker"
root="$work/root"
cleanup() {
  "$bd" --root "$root" ps -aq 2>/dev/null | xargs -r "$bd" --root "$root" rm -f >/dev/null 2>&1 || true
  podman --root "$work/podman/root" --runroot "$work/podman/run" rm -af -t 0 >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
echo "kernel $(uname -r), $(nproc) cpus; podman $(podman --version | awk '{print $3}'), zstd $(zstd --version | grep -o 'v[0-9.]*')"

# --- attach / detach -------------------------------------------------------------------------
mkdir -p "$work/cfg/conf.d"
for i in $(seq 1 20); do echo "setting_$i = value $i" > "$work/cfg/conf.d/$i.conf"; done
"$bd" --root "$root" capsule create --name cfg --version 1.0.0 --path "$work/cfg" >/dev/null
ids=()
for i in $(seq 1 "$fleet"); do ids+=("$("$bd" --root "$root" run -d busybox sleep 3600)"); done
echo
echo "== capsule attach / detach ($cycles cycles; then $fleet running containers) =="
out="$(build/bin/capsule_bench "$root" cfg:1.0.0 "$cycles" "${ids[@]}")"
echo "$out"
attach_p50_us="$(echo "$out" | awk '/^engine attach \(Commit/ {print $8}')"

# --- concurrent attaches ---------------------------------------------------------------------
# Eight `capsule attach` commands to eight containers at once against the same eight one after
# the other: the database's write lock is held only to record, never across the mount, so the
# concurrent total should be well under the sequential one.
echo
echo "== 8 capsule attach commands to 8 containers: all at once against one after the other (9 rounds) =="
eight=("${ids[@]:0:8}")
detach_all() { for c in "${eight[@]}"; do "$bd" --root "$root" capsule detach "$c" cfg:1.0.0 >/dev/null; done; }
seq_ms=(); par_ms=()
for round in $(seq 1 9); do
  t0=$(date +%s%N)
  for c in "${eight[@]}"; do "$bd" --root "$root" capsule attach "$c" cfg:1.0.0 >/dev/null; done
  t1=$(date +%s%N); detach_all
  t2=$(date +%s%N)
  for c in "${eight[@]}"; do "$bd" --root "$root" capsule attach "$c" cfg:1.0.0 >/dev/null & done
  wait
  t3=$(date +%s%N); detach_all
  seq_ms+=($(( (t1 - t0) / 1000 ))); par_ms+=($(( (t3 - t2) / 1000 )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'; }
s="$(median "${seq_ms[@]}")"; p="$(median "${par_ms[@]}")"
echo "8 sequential: ${s} ms   8 concurrent: ${p} ms   concurrent / sequential: $(awk -v p="$p" -v s="$s" 'BEGIN {printf "%.2f", p/s}')x"
"$bd" --root "$root" rm -f "${ids[@]}" >/dev/null

# --- podman: recreate with one more -v -------------------------------------------------------
mkdir -p "$work/rootfs/bin"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in sh sleep; do ln -sf busybox "$work/rootfs/bin/$a"; done
touch "$work/empty"
echo
echo "== podman: stop + rm + run -d with the content as a new -v (10 rounds) =="
recreate_ms="$(unshare -m --propagation private sh -c "
  mount --bind '$work/empty' /sys/fs/cgroup/unified/cgroup.controllers
  P='podman --root $work/podman/root --runroot $work/podman/run --cgroup-manager=cgroupfs --events-backend=file'
  R='--net=none --ulimit nofile=1024:1024 --ulimit nproc=32768:32768 --rootfs $work/rootfs'
  \$P run -d --name app \$R sleep 3600 >/dev/null
  for i in \$(seq 1 10); do
    t0=\$(date +%s%N)
    \$P stop -t 0 app >/dev/null && \$P rm app >/dev/null &&
      \$P run -d --name app -v $work/cfg:/capsules/cfg/1.0.0:ro \$R sleep 3600 >/dev/null
    echo \$(( (\$(date +%s%N) - t0) / 1000 ))
  done | sort -n | awk '{a[NR]=\$1} END {printf \"%.1f\", a[int((NR+1)/2)]/1000}'
  \$P rm -f -t 0 app >/dev/null")"
echo "podman recreate median: ${recreate_ms} ms"
awk -v r="$recreate_ms" -v a="$attach_p50_us" 'BEGIN {
  printf "capsule attach p50 %.3f ms: %.0fx faster than recreating (target >= 1000x, p50 < 1 ms)\n", a/1000, r*1000/a }'

# --- create throughput -----------------------------------------------------------------------
echo
echo "== capsule create of a ${tree_mib} MiB tree against tar -c | zstd -T0 =="
tree="$work/tree"
mkdir -p "$tree"
half=$((tree_mib / 2))
for d in $(seq 1 16); do
  mkdir -p "$tree/dir$d"
  for f in $(seq 1 16); do  # random (incompressible) files
    head -c $((half * 1024 * 1024 / 256)) /dev/urandom > "$tree/dir$d/bin$f.dat"
  done
  for f in $(seq 1 16); do  # text (compressible) files
    (yes "line $d $f: the quick brown fox jumps over the lazy dog 0123456789" || true) |
      head -c $((half * 1024 * 1024 / 256)) > "$tree/dir$d/text$f.txt"
  done
done
bytes="$(du -sb "$tree" | awk '{print $1}')"
sync
tar -cf - -C "$tree" . | zstd -T0 -3 -q >/dev/null  # warm the page cache for both
t0=$(date +%s%N); tar -cf - -C "$tree" . | zstd -T0 -3 -q > "$work/tree.tar.zst"; t1=$(date +%s%N)
"$bd" --root "$root" capsule create --name big --version 1.0.0 --path "$tree" >/dev/null
"$bd" --root "$root" capsule rm big:1.0.0 >/dev/null; "$bd" --root "$root" capsule gc >/dev/null
t2=$(date +%s%N); "$bd" --root "$root" capsule create --name big --version 1.0.0 --path "$tree" >/dev/null; t3=$(date +%s%N)
awk -v b="$bytes" -v tz=$((t1 - t0)) -v tc=$((t3 - t2)) -v zs="$(stat -c %s "$work/tree.tar.zst")" \
    -v cs="$("$bd" --root "$root" capsule inspect big:1.0.0 | awk -F': ' '/"BlobSize"/ {gsub(",", "", $2); print $2}')" 'BEGIN {
  printf "tar | zstd -T0:   %7.1f MB/s (%.0f MB -> %.0f MB)\n", b/tz*1000, b/1e6, zs/1e6
  printf "capsule create:   %7.1f MB/s (%.0f MB -> %.0f MB)\n", b/tc*1000, b/1e6, cs/1e6
  printf "capsule create / tar|zstd: %.2fx (target >= 0.8)\n", tz/tc }'
