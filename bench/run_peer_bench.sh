#!/usr/bin/env bash
# basic-docker against crun, runc and podman on this machine, interleaved in one run.
# Usage (root): bench/run_peer_bench.sh start|runtimes|exec|exec-once|rss|runtime|update [ROUNDS]
#   start: `basic-docker run --rm busybox true` against `crun run` / `runc run` of a bundle with
#          the same busybox rootfs and `podman run --rm --net=none` of that rootfs.
#   runtimes: `run --rm --runtime crun|runc busybox true` (the executor plugin driving them)
#          against the builtin runtime, the runtimes' own `run` of the bundle and podman.
#   exec:  `exec CTR true` in a running container of each.
#   exec-once: `exec --once KEY CTR true` replayed and run for the first time (a new key each
#          round) against a plain `exec CTR true` and `crun exec`.
#   rss:   memory of one idle container's monitor: basic-docker-shim against podman's conmon.
#   runtime: the OCI runtimes alone on one bundle (`true`): basic-runtime run, crun run, runc run;
#            then the same with a user namespace and four hooks in the config.
#   update: `update --memory` of a running container: basic-runtime, runc and crun update.
#
# crun 1.8 refuses this host's hybrid cgroup layout because of
# /sys/fs/cgroup/unified/cgroup.controllers; every command runs in a private mount namespace
# where an empty file covers it (podman uses crun too). The host is not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
suite="${1:?usage: bench/run_peer_bench.sh start|runtimes|exec|exec-once|rss|runtime|update [ROUNDS]}"
rounds="${2:-50}"
scripts/install-deps.sh --bench
scripts/build.sh >/dev/null
work="$(mktemp -d /var/tmp/bd-bench-XXXXXX)"
trap 'rm -rf "$work"' EXIT
bd="$PWD/build/bin/basic-docker"
"$bd" --root "$work/root" run --rm busybox true
# The bundles' rootfs is the busybox image's own layer, copied.
layer="$(ls -d "$work"/root/layers/*)"
for b in bundle bundle-sleep; do
  mkdir -p "$work/$b"
  cp -a "$layer" "$work/$b/rootfs"
  (cd "$work/$b" && runc spec)
done
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' "$work/bundle/config.json"
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sleep", "3600"/' "$work/bundle-sleep/config.json"
# The same bundle with a user namespace (root mapped to 100000) and hooks at every point.
mkdir -p "$work/bundle-userns"
cp -a "$work/bundle/rootfs" "$work/bundle-userns/rootfs"
chown -R 100000:100000 "$work/bundle-userns/rootfs"
chmod 755 "$work"
python3 - "$work/bundle/config.json" "$work/bundle-userns/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
# Each hook reads its state: crun fails a hook that exits before it has written the state.
c["hooks"] = {k: [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/null"]}]
              for k in ("prestart", "createRuntime", "poststart", "poststop")}
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
touch "$work/empty"
echo "kernel $(uname -r), $(nproc) cpus; crun $(crun --version | head -1 | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}'), podman $(podman --version | awk '{print $3}')"
unshare -m --propagation private sh -c "
  mount --bind '$work/empty' /sys/fs/cgroup/unified/cgroup.controllers &&
  exec python3 bench/peer_bench.py '$suite' --rounds '$rounds' --bd '$bd' --root '$work/root' \
    --bundle '$work/bundle' --podman-dir '$work/podman' --runtime '$PWD/build/bin/basic-runtime'"
