#!/usr/bin/env bash
# Pull of a multi-layer image (about 200 MB unpacked, four layers) from a docker-registry on a
# 127.0.0.1 port into an empty store: basic-docker against `podman pull` and `skopeo copy` to
# containers-storage, interleaved, once with gzip layers and once with zstd; and the
# decompression floor: `gzip -dc | tar -x` (`zstd -dc | tar -x`) of the same layer blobs.
# The two images have the same layers and config; only their compression differs.
# Usage (root): bench/run_registry_bench.sh [ROUNDS]
# Loopback only; every store is a fresh directory under one temp dir, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
scripts/install-deps.sh --bench
scripts/build.sh >/dev/null
command -v zstd >/dev/null || { echo "zstd (the command) is needed for the floor" >&2; exit 1; }
work="$(mktemp -d /var/tmp/bd-regbench-XXXXXX)"
reg_pid=""
cleanup() {
  [[ -n $reg_pid ]] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
bd="$PWD/build/bin/basic-docker"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
reg="127.0.0.1:$port"
cat > "$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $reg
EOF
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fsS "http://$reg/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

# Four layers of real files from this machine (binaries, libraries, text), about 50 MB each,
# compressed once with gzip -6 and once with zstd -3 (the tools' defaults) into two layouts.
python3 - "$work" <<'PY'
import hashlib, json, os, subprocess, sys, tarfile, io
work = sys.argv[1]
sources = ["/usr/lib/x86_64-linux-gnu", "/usr/share", "/usr/bin", "/usr/lib"]
seen = set()
raws = []
for src in sources:
    buf = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            for f in sorted(filenames):
                p = os.path.join(dirpath, f)
                if p in seen or not os.path.isfile(p) or os.path.islink(p):
                    continue
                try:
                    size = os.path.getsize(p)
                    if size > (8 << 20):
                        continue
                    t.add(p, arcname=p.lstrip("/"), recursive=False)
                except OSError:
                    continue
                seen.add(p)
                total += size
                if total >= (50 << 20):
                    break
            if total >= (50 << 20):
                break
    raws.append(buf.getvalue())
diffs = ["sha256:" + hashlib.sha256(r).hexdigest() for r in raws]
for comp, argv, media in (("gzip", ["gzip", "-6", "-n", "-c"], "application/vnd.oci.image.layer.v1.tar+gzip"),
                          ("zstd", ["zstd", "-3", "-q", "-c"], "application/vnd.oci.image.layer.v1.tar+zstd")):
    out = "%s/layout-%s" % (work, comp)
    os.makedirs(out + "/blobs/sha256", exist_ok=True)
    def put(data):
        d = hashlib.sha256(data).hexdigest()
        open(f"{out}/blobs/sha256/{d}", "wb").write(data)
        return "sha256:" + d
    layers = []
    for r in raws:
        c = subprocess.run(argv, input=r, capture_output=True, check=True).stdout
        layers.append({"mediaType": media, "digest": put(c), "size": len(c)})
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
                      "layers": layers}).encode()
    md = put(man)
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": md, "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "1"}}]},
              open(out + "/index.json", "w"))
    open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
    print("%s image: %d layers, %.1f MB unpacked, %.1f MB compressed" % (
        comp, len(layers), sum(len(r) for r in raws) / 1e6, sum(l["size"] for l in layers) / 1e6))
PY
# Copied as they are (skopeo keeps a layer's compression).
for c in gzip zstd; do
  skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$work/layout-$c:1" "docker://$reg/bench/$c:1"
done

echo "kernel $(uname -r), $(nproc) cpus; podman $(podman --version | awk '{print $3}'), skopeo $(skopeo --version | awk '{print $3}'), docker-registry $(dpkg-query -W -f='${Version}' docker-registry)"
python3 bench/registry_bench.py --rounds "$rounds" --bd "$bd" --registry "$reg" --work "$work"
