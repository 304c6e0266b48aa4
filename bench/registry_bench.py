#!/usr/bin/env python3
"""Pull benchmark (run by bench/run_registry_bench.sh): basic-docker pull, podman pull and
skopeo copy to containers-storage of one image from a loopback registry into empty stores,
interleaved; and the decompression floor, `gzip -dc | tar -x` of the same layer blobs.
Wall time and CPU time (user + system of the command and its children) per round."""
import argparse, glob, json, os, resource, shutil, statistics, subprocess, time


# The peers' storage mounts (overlay's) live in a mount namespace that ends with the command.
PRIVATE = ["unshare", "-m", "--propagation", "private"]


def timed(argv, **kw):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(argv), r.stderr.decode(errors="replace")[-2000:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def fresh(path):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--bd", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    w = a.work
    for comp, tool in (("gzip", "gzip"), ("zstd", "zstd")):
        ref = "%s/bench/%s:1" % (a.registry, comp)
        raw = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + ref],
                             check=True, capture_output=True).stdout
        layers = [l["digest"] for l in json.loads(raw)["layers"]]
        blob_paths = []
        for d in layers:
            h = d.split(":")[1]
            blob_paths.append(glob.glob("%s/registry/docker/registry/v2/blobs/sha256/%s/%s/data" % (w, h[:2], h))[0])
        mb = sum(os.path.getsize(p) for p in blob_paths) / 1e6
        results = {k: [] for k in ("basic-docker pull", "podman pull", "skopeo copy to containers-storage",
                                   "%s -dc | tar -x (floor)" % tool)}
        for i in range(a.rounds):
            # Interleaved, the order rotated each round.
            jobs = [
                ("basic-docker pull", lambda: timed([a.bd, "--root", fresh(w + "/bd"), "pull", "-q", ref])),
                ("podman pull", lambda: timed(PRIVATE + ["podman", "--root", fresh(w + "/pm"), "--runroot", fresh(w + "/pmr"),
                                               "--storage-driver", "overlay", "pull", "-q", "--tls-verify=false", ref])),
                ("skopeo copy to containers-storage",
                 lambda: timed(PRIVATE + ["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false", "docker://" + ref,
                                "containers-storage:[overlay@%s+%s]bench:1" % (fresh(w + "/sk"), fresh(w + "/skr"))])),
                ("%s -dc | tar -x (floor)" % tool, lambda: floor(tool, blob_paths, fresh(w + "/floor"))),
            ]
            k = i % len(jobs)
            for name, fn in jobs[k:] + jobs[:k]:
                subprocess.run(["sync"])
                results[name].append(fn())
        print("\n%s layers: %d blobs, %.1f MB compressed; %d rounds, medians" % (comp, len(layers), mb, a.rounds))
        print("%-40s %9s %9s %11s %10s" % ("command", "wall s", "cpu s", "cpu ms/MB", "wall ratio"))
        ours = statistics.median(x[0] for x in results["basic-docker pull"])
        for name, xs in results.items():
            wall = statistics.median(x[0] for x in xs)
            cpu = statistics.median(x[1] for x in xs)
            print("%-40s %9.2f %9.2f %11.1f %9.2fx" % (name, wall, cpu, cpu * 1000 / mb, wall / ours))
        pm = statistics.median(x[0] for x in results["podman pull"])
        cpu_ours = statistics.median(x[1] for x in results["basic-docker pull"])
        cpu_floor = statistics.median(x[1] for x in results["%s -dc | tar -x (floor)" % tool])
        print("podman pull / basic-docker pull: %.2fx (target >= 1.5)" % (pm / ours))
        print("basic-docker cpu / floor cpu: %.2fx (target <= 1.2)" % (cpu_ours / cpu_floor))


def floor(tool, blobs, dest):
    wall = cpu = 0.0
    for b in blobs:
        x, y = timed(["sh", "-c", "%s -dc < '%s' | tar -x -C '%s'" % (tool, b, dest)])
        wall += x
        cpu += y
    return wall, cpu


if __name__ == "__main__":
    main()
