#!/usr/bin/env python3
"""basic-docker against its peers, interleaved round by round so noise hits all alike.

Suites:
  start  run of `true` to its exit: basic-docker run --rm, crun run, runc run, podman run --rm
  exec   `true` in a running container: basic-docker exec, crun exec, runc exec, podman exec
  exec-once  exec --once of `true`: its replay and its first run (a new key each time) against a
         plain basic-docker exec and crun exec
  rss    memory of the per-container monitor of an idle container: basic-docker-shim vs conmon
  runtime  OCI runtimes on one bundle running `true`: basic-runtime run, crun run, runc run
  update   `update --memory` of a running container: basic-runtime update, runc update, crun update
Prints per-command median and p90 and each peer's ratio to basic-docker. Run through
bench/run_peer_bench.sh, which prepares the bundle, the images and the namespace.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def run(cmd, check=True, detached=False):
    # A detached container keeps the streams it was given: never hand it a pipe we wait on.
    err = subprocess.DEVNULL if detached else subprocess.PIPE
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    if check and r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode() if r.stderr else ''}")


def timed(cmd):
    t0 = time.perf_counter_ns()
    run(cmd)
    return (time.perf_counter_ns() - t0) / 1e6


def measure(commands, rounds):
    names = list(commands)
    for name in names:  # warm caches
        timed(commands[name]())
    samples = {n: [] for n in names}
    for i in range(rounds):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            samples[name].append(timed(commands[name]()))
    return names, samples


def report(names, samples):
    ours = statistics.median(samples[names[0]])
    print(f"{'command':44} {'median ms':>10} {'p90 ms':>8} {'peer/ours':>10}")
    for name in names:
        s = sorted(samples[name])
        med = statistics.median(s)
        print(f"{name:44} {med:10.2f} {s[int(0.9 * (len(s) - 1))]:8.2f} {med / ours:10.2f}")
    return {n: statistics.median(samples[n]) for n in names}


def podman_base(args):
    return ["podman", "--root", f"{args.podman_dir}/root", "--runroot", f"{args.podman_dir}/run",
            "--cgroup-manager=cgroupfs", "--events-backend=file"]


def podman_run(args, extra):
    return podman_base(args) + ["run"] + extra + [
        "--net=none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=32768:32768",
        "--rootfs", f"{args.bundle}/rootfs"]


def start_suite(args):
    counter = iter(range(10**9))
    commands = {
        "basic-docker run --rm busybox true": lambda: [args.bd, "--root", args.root, "run", "--rm", "busybox", "true"],
        "crun run (bare bundle)": lambda: ["crun", "run", "--bundle", args.bundle, f"bd-bench-{next(counter)}"],
        "runc run (bare bundle)": lambda: ["runc", "run", "--bundle", args.bundle, f"bd-bench-{next(counter)}"],
        "podman run --rm --net=none": lambda: podman_run(args, ["--rm"]) + ["true"],
    }
    names, samples = measure(commands, args.rounds)
    m = report(names, samples)
    print(f"\nbasic-docker / crun bare bundle: {m[names[0]] / m[names[1]]:.2f}x (target <= 1.5)")
    print(f"podman / basic-docker: {m[names[3]] / m[names[0]]:.1f}x faster (target >= 5)")


def runtimes_suite(args):
    # `run --runtime X`: the executor plugin's cost over the runtime's own `run` of a bundle.
    counter = iter(range(10**9))
    bd = lambda rt: (lambda: [args.bd, "--root", args.root, "run", "--rm", "--runtime", rt, "busybox", "true"])
    commands = {
        "basic-docker run --rm (builtin) true": bd("builtin"),
        "basic-docker run --rm --runtime crun true": bd("crun"),
        "basic-docker run --rm --runtime runc true": bd("runc"),
        "crun run (bare bundle)": lambda: ["crun", "run", "--bundle", args.bundle, f"bd-bench-{next(counter)}"],
        "runc run (bare bundle)": lambda: ["runc", "run", "--bundle", args.bundle, f"bd-bench-{next(counter)}"],
        "podman run --rm --net=none (crun)": lambda: podman_run(args, ["--rm"]) + ["true"],
    }
    names, samples = measure(commands, args.rounds)
    m = report(names, samples)
    print(f"\n--runtime crun / crun run: {m[names[1]] / m[names[3]]:.2f}x; "
          f"--runtime runc / runc run: {m[names[2]] / m[names[4]]:.2f}x; "
          f"podman / --runtime crun: {m[names[5]] / m[names[1]]:.1f}x")


def exec_suite(args):
    # One long-running container per engine, made here and removed afterwards.
    run([args.bd, "--root", args.root, "run", "-d", "--name", "bench-exec", "busybox", "sleep", "3600"])
    sleeper = f"{args.bundle}-sleep"
    crun_id, runc_id = f"bench-crun-{os.getpid()}", f"bench-runc-{os.getpid()}"
    run(["crun", "run", "--detach", "--bundle", sleeper, crun_id], detached=True)
    run(["runc", "run", "--detach", "--bundle", sleeper, runc_id], detached=True)
    pod = subprocess.run(podman_run(args, ["-d"]) + ["sleep", "3600"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         check=True).stdout.strip()
    try:
        commands = {
            "basic-docker exec CTR true": lambda: [args.bd, "--root", args.root, "exec", "bench-exec", "true"],
            "crun exec CTR true": lambda: ["crun", "exec", crun_id, "true"],
            "runc exec CTR true": lambda: ["runc", "exec", runc_id, "true"],
            "podman exec CTR true": lambda: podman_base(args) + ["exec", pod, "true"],
        }
        names, samples = measure(commands, args.rounds)
        m = report(names, samples)
        print(f"\nbasic-docker exec / crun exec: {m[names[0]] / m[names[1]]:.2f}x (target <= 1.0)")
        print(f"podman exec / basic-docker exec: {m[names[3]] / m[names[0]]:.1f}x")
    finally:
        run([args.bd, "--root", args.root, "rm", "-f", "bench-exec"], check=False)
        for rt, name in (("crun", crun_id), ("runc", runc_id)):
            run([rt, "kill", name, "KILL"], check=False)
            time.sleep(0.2)
            run([rt, "delete", "--force", name], check=False)
        run(podman_base(args) + ["rm", "-f", pod], check=False)


def exec_once_suite(args):
    run([args.bd, "--root", args.root, "run", "-d", "--name", "bench-once", "busybox", "sleep", "3600"])
    crun_id = f"bench-crun-{os.getpid()}"
    run(["crun", "run", "--detach", "--bundle", f"{args.bundle}-sleep", crun_id], detached=True)
    bd = [args.bd, "--root", args.root]
    run(bd + ["exec", "--once", "recorded", "bench-once", "true"])
    keys = iter(range(10**9))
    try:
        commands = {
            "basic-docker exec CTR true": lambda: bd + ["exec", "bench-once", "true"],
            "basic-docker exec --once K CTR true (replay)": lambda: bd + ["exec", "--once", "recorded", "bench-once", "true"],
            "basic-docker exec --once NEW CTR true (run)": lambda: bd + ["exec", "--once", f"k{next(keys)}", "bench-once", "true"],
            "crun exec CTR true": lambda: ["crun", "exec", crun_id, "true"],
        }
        names, samples = measure(commands, args.rounds)
        m = report(names, samples)
        print(f"\nreplay / plain exec: {m[names[1]] / m[names[0]]:.2f}x (target < 1.0)")
        print(f"first run / plain exec: {m[names[2]] / m[names[0]]:.2f}x (target < 1.2: recording overhead under 20%)")
        print(f"first run / crun exec: {m[names[2]] / m[names[3]]:.2f}x")
    finally:
        run(bd + ["rm", "-f", "bench-once"], check=False)
        run(["crun", "kill", crun_id, "KILL"], check=False)
        time.sleep(0.2)
        run(["crun", "delete", "--force", crun_id], check=False)


def runtime_suite(args):
    counter = iter(range(10**9))
    state = os.path.join(os.path.dirname(args.bundle), "basic-runtime-state")
    userns = os.path.join(os.path.dirname(args.bundle), "bundle-userns")
    for label, bundle in (("", args.bundle), (" (userns+hooks)", userns)):
        commands = {
            f"basic-runtime run{label}": lambda b=bundle: [args.runtime, "--root", state, "run", "--bundle", b,
                                                           f"bd-bench-{next(counter)}"],
            f"crun run{label}": lambda b=bundle: ["crun", "run", "--bundle", b, f"bd-bench-{next(counter)}"],
            f"runc run{label}": lambda b=bundle: ["runc", "run", "--bundle", b, f"bd-bench-{next(counter)}"],
        }
        names, samples = measure(commands, args.rounds)
        m = report(names, samples)
        print(f"\nbasic-runtime / crun{label}: {m[names[0]] / m[names[1]]:.2f}x (target <= 1.2); "
              f"runc / basic-runtime: {m[names[2]] / m[names[0]]:.2f}x\n")


def update_suite(args):
    # One sleeping container per runtime, its memory limit changed back and forth.
    sleeper = f"{args.bundle}-sleep"
    state = os.path.join(os.path.dirname(args.bundle), "basic-runtime-state")
    ids = {rt: f"bench-upd-{rt}-{os.getpid()}" for rt in ("basic-runtime", "runc", "crun")}
    run([args.runtime, "--root", state, "run", "--detach", "--bundle", sleeper, ids["basic-runtime"]], detached=True)
    run(["runc", "run", "--detach", "--bundle", sleeper, ids["runc"]], detached=True)
    run(["crun", "run", "--detach", "--bundle", sleeper, ids["crun"]], detached=True)
    sizes = iter(["67108864", "100663296"] * 10**6)  # bytes: crun 1.8 takes no units
    try:
        commands = {
            "basic-runtime update --memory": lambda: [args.runtime, "--root", state, "update", "--memory",
                                                      next(sizes), ids["basic-runtime"]],
            "runc update --memory": lambda: ["runc", "update", "--memory", next(sizes), ids["runc"]],
            "crun update --memory": lambda: ["crun", "update", "--memory", next(sizes), ids["crun"]],
        }
        names, samples = measure(commands, args.rounds)
        m = report(names, samples)
        print(f"\nrunc update / basic-runtime update: {m[names[1]] / m[names[0]]:.2f}x; "
              f"basic-runtime / crun: {m[names[0]] / m[names[2]]:.2f}x")
    finally:
        for rt, base in (("basic-runtime", [args.runtime, "--root", state]), ("runc", ["runc"]), ("crun", ["crun"])):
            run(base + ["delete", "--force", ids[rt]], check=False)


def memory_kib(pid):
    """(RSS, PSS) of a process in KiB, from /proc."""
    rss = pss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def rss_suite(args):
    run([args.bd, "--root", args.root, "run", "-d", "--name", "bench-rss", "busybox", "sleep", "3600"])
    pod = subprocess.run(podman_run(args, ["-d"]) + ["sleep", "3600"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         check=True).stdout.strip()
    try:
        time.sleep(1)  # both monitors settle into their idle loop
        import json
        info = json.loads(subprocess.run([args.bd, "--root", args.root, "inspect", "bench-rss"],
                                         capture_output=True, text=True, check=True).stdout)[0]
        shim = parent_of(info["State"]["Pid"])
        pinfo = json.loads(subprocess.run(podman_base(args) + ["inspect", pod], capture_output=True,
                                          text=True, check=True).stdout)[0]
        conmon = parent_of(pinfo["State"]["Pid"])
        rows = {"basic-docker-shim": memory_kib(shim), "conmon (podman)": memory_kib(conmon)}
        print(f"{'monitor':24} {'RSS KiB':>9} {'PSS KiB':>9}")
        for name, (rss, pss) in rows.items():
            print(f"{name:24} {rss:9d} {pss:9d}")
        (ours_rss, ours_pss), (c_rss, c_pss) = rows.values()
        print(f"\nshim / conmon: RSS {ours_rss / c_rss:.2f}x, PSS {ours_pss / c_pss:.2f}x (target <= 1.0)")
    finally:
        run([args.bd, "--root", args.root, "rm", "-f", "bench-rss"], check=False)
        run(podman_base(args) + ["rm", "-f", pod], check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("suite", choices=["start", "runtimes", "exec", "exec-once", "rss", "runtime", "update"])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--bd", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--podman-dir", required=True)
    ap.add_argument("--runtime", required=True)
    args = ap.parse_args()
    {"start": start_suite, "runtimes": runtimes_suite, "exec": exec_suite, "exec-once": exec_once_suite, "rss": rss_suite,
     "runtime": runtime_suite, "update": update_suite}[args.suite](args)


if __name__ == "__main__":
    main()
