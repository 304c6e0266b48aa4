#!/usr/bin/env python3
"""Times container start-to-exit of `true` for basic-docker and its peers, interleaved.

Each round runs every command once, in a rotating order, so machine noise hits all of them
alike. Prints per-command median, p90 and the ratio of each peer to basic-docker.
Run through bench/run_start_bench.sh, which prepares the bundle and the namespace.
"""
import argparse
import statistics
import subprocess
import sys
import time


def timed(cmd):
    t0 = time.perf_counter_ns()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = (time.perf_counter_ns() - t0) / 1e6
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--bd", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--podman-dir", required=True)
    args = ap.parse_args()

    counter = iter(range(10**9))
    podman = ["podman", "--root", f"{args.podman_dir}/root", "--runroot", f"{args.podman_dir}/run",
              "--cgroup-manager=cgroupfs", "--events-backend=file", "run", "--rm", "--net=none",
              "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=32768:32768",
              "--rootfs", f"{args.bundle}/rootfs", "true"]
    commands = {
        "basic-docker run --rm busybox true": lambda: [args.bd, "--root", args.root, "run", "--rm", "busybox", "true"],
        "crun run (bare bundle)": lambda: ["crun", "run", "--bundle", args.bundle, f"bd-bench-{next(counter)}"],
        "runc run (bare bundle)": lambda: ["runc", "run", "--bundle", args.bundle, f"bd-bench-{next(counter)}"],
        "podman run --rm --net=none": lambda: podman,
    }
    names = list(commands)
    for name in names:  # warm caches and create the built-in image
        timed(commands[name]())
    samples = {n: [] for n in names}
    for i in range(args.rounds):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            samples[name].append(timed(commands[name]()))

    ours = statistics.median(samples[names[0]])
    print(f"{'command':40} {'median ms':>10} {'p90 ms':>8} {'peer/ours':>10}")
    for name in names:
        s = sorted(samples[name])
        med = statistics.median(s)
        p90 = s[int(0.9 * (len(s) - 1))]
        print(f"{name:40} {med:10.1f} {p90:8.1f} {med / ours:10.2f}")
    crun = statistics.median(samples[names[1]])
    pod = statistics.median(samples[names[3]])
    print(f"\nbasic-docker / crun bare bundle: {ours / crun:.2f}x (target <= 2.0)")
    print(f"podman / basic-docker: {pod / ours:.1f}x faster (target >= 5)")


if __name__ == "__main__":
    main()
