#!/usr/bin/env python3
"""kill -9 of the basic-docker CLI at random moments, then a consistency check after each kill.

Run through bench/crash_soak.sh, which puts it in a throwaway pid and mount namespace.
Operations: run -d, rm -f, import, capsule create, capsule attach/detach, rmi, and gc racing
an import. After each kill the store must be whole: PRAGMA integrity_check is ok; every
layer, image and capsule record has its files; no container directory lacks its record; a
retry of the killed command succeeds; what is there still works (an image runs, a capsule
verifies and shows its content where it is recorded as attached); and the next command leaves
no work files behind. Prints trials, kills, failures and what was lost.
"""
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time

BD = os.environ.get("BD", "build/bin/basic-docker")
TRIALS = int(sys.argv[1]) if len(sys.argv) > 1 else 180
SEED = int(os.environ.get("SOAK_SEED", "1"))
random.seed(SEED)

work = tempfile.mkdtemp(prefix="bd-crash-soak-", dir="/var/tmp")
root = os.path.join(work, "root")
failures = []
kills = 0
trials = 0


def cli(*args, check=False, timeout=60):
    r = subprocess.run([BD, "--root", root, *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


def killed(*args, max_ms):
    """Starts the CLI, SIGKILLs it after a random delay (if still running). True if killed."""
    global kills
    p = subprocess.Popen([BD, "--root", root, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0, max_ms) / 1000.0)
    was_running = p.poll() is None
    if was_running:
        p.send_signal(signal.SIGKILL)
        kills += 1
    p.wait()
    return was_running


def fail(op, what):
    failures.append(f"{op}: {what}")


def entries(sub):
    try:
        return os.listdir(os.path.join(root, sub))
    except FileNotFoundError:
        return []


def check_store(op):
    """The invariants that must hold whatever was killed when."""
    cli("ps", "-a")  # a command: sweeps what killed writers left, if nobody writes now
    for sub in ("tmp", "ingest"):
        if entries(sub):
            fail(op, f"work files left in {sub}/: {entries(sub)}")
    db = sqlite3.connect(os.path.join(root, "state.db"), timeout=30)
    try:
        if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            fail(op, "integrity_check failed")
        blobs = set(entries("blobs/sha256"))
        for (diff_id, blob) in db.execute(
                "SELECT diff_id, blob_digest FROM layers WHERE diff_id IN (SELECT diff_id FROM image_layers)"):
            if not os.path.isdir(os.path.join(root, "layers", diff_id[7:])):
                fail(op, f"layer {diff_id[:19]} recorded, directory missing (lost)")
            if blob[7:] not in blobs:
                fail(op, f"layer blob {blob[:19]} recorded, missing (lost)")
        for (image, manifest) in db.execute("SELECT id, manifest_digest FROM images"):
            for d in (image, manifest):
                if d[7:] not in blobs:
                    fail(op, f"image blob {d[:19]} missing (lost)")
        for row in db.execute("SELECT name, version, digest, config_digest, layer_digest FROM capsules"):
            for d in row[2:]:
                if d[7:] not in blobs:
                    fail(op, f"capsule {row[0]}:{row[1]} blob {d[:19]} missing (lost)")
        ids = {r[0] for r in db.execute("SELECT id FROM containers")}
        for d in entries("containers"):
            if d not in ids:
                fail(op, f"container directory {d[:12]} without a record: {entries('containers/' + d)}")
    finally:
        db.close()


def tar_of(path, files):
    with tarfile.open(path, "w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            t.addfile(info, io.BytesIO(data))


busybox = open("/bin/busybox", "rb").read()
image_tar = os.path.join(work, "image.tar")
tar_of(image_tar, {"bin/busybox": busybox, "bin/sh": busybox, "data/blob": os.urandom(4 << 20)})
content = os.path.join(work, "capsule")
os.makedirs(content)
for i in range(50):
    with open(os.path.join(content, f"f{i}"), "w") as f:
        f.write(f"content {i}\n" * 1000)

cli("import", image_tar, "soak:base", check=True)
cli("capsule", "create", "--name", "cfg", "--version", "1.0.0", "--path", content, check=True)
host = cli("run", "-d", "--name", "host", "soak:base", "sh", "-c", "exec /bin/busybox sleep 100000", check=True)


def op_run(i):
    name = f"r{i}"
    killed("run", "-d", "--name", name, "soak:base", "/bin/busybox", "sleep", "600", max_ms=35)
    check_store("run")
    r = cli("rm", "-f", name)
    if r.returncode != 0 and "No such container" not in r.stderr:
        fail("run", f"rm -f after a killed run: {r.stderr.strip()}")


def op_rm(i):
    name = f"m{i}"
    cli("run", "-d", "--name", name, "soak:base", "/bin/busybox", "sleep", "600", check=True)
    killed("rm", "-f", name, max_ms=12)
    check_store("rm")
    r = cli("rm", "-f", name)
    if r.returncode != 0 and "No such container" not in r.stderr:
        fail("rm", f"retry of rm -f: {r.stderr.strip()}")
    if cli("ps", "-a", "-q", "--filter", f"name={name}").stdout.strip():
        fail("rm", "container still listed after the retry")


def image_works(op, ref):
    r = cli("run", "--rm", ref, "/bin/busybox", "sh", "-c", "wc -c < /data/blob")
    if r.returncode != 0 or r.stdout.strip() != str(4 << 20):
        fail(op, f"image {ref} does not run whole: {r.returncode} {r.stdout.strip()} {r.stderr.strip()}")


def op_import(i):
    killed("import", image_tar, "soak:imp", max_ms=30)
    check_store("import")
    if cli("images", "-q", "soak:imp").stdout.strip():
        image_works("import", "soak:imp")
    r = cli("import", image_tar, "soak:imp")  # the retry
    if r.returncode != 0:
        fail("import", f"retry: {r.stderr.strip()}")
    image_works("import", "soak:imp")


def op_rmi(i):
    cli("import", image_tar, "soak:rmi", check=True)
    killed("rmi", "soak:rmi", max_ms=10)
    check_store("rmi")
    r = cli("rmi", "soak:rmi")
    if r.returncode != 0 and "No such image" not in r.stderr:
        fail("rmi", f"retry: {r.stderr.strip()}")
    # The same content again comes back whole, never from a half-deleted layer.
    cli("import", image_tar, "soak:rmi", check=True)
    image_works("rmi", "soak:rmi")
    cli("rmi", "soak:rmi")


def op_capsule_create(i):
    version = f"2.0.{i}"
    killed("capsule", "create", "--name", "made", "--version", version, "--path", content, max_ms=15)
    check_store("capsule create")
    r = cli("capsule", "create", "--name", "made", "--version", version, "--path", content)
    if r.returncode != 0:
        fail("capsule create", f"retry: {r.stderr.strip()}")
    r = cli("capsule", "verify", f"made:{version}")
    if r.returncode != 0:
        fail("capsule create", f"verify: {r.stderr.strip()}")
    cli("capsule", "rm", f"made:{version}")


def attached_and_whole(op):
    """After reconciliation a capsule is mounted (whole) exactly when it is recorded, and a
    mounted one cannot be removed."""
    cli("capsule", "ls")  # reconciles records with the containers' mount tables
    r = cli("exec", "host", "/bin/busybox", "cat", "/capsules/cfg/1.0.0/f7")
    mounted = r.returncode == 0
    if mounted and r.stdout != "content 7\n" * 1000:
        fail(op, "capsule content differs inside the container")
    rm = cli("capsule", "rm", "cfg:1.0.0")
    if rm.returncode == 0:
        if mounted:
            fail(op, "capsule rm allowed while it is mounted")
        cli("capsule", "create", "--name", "cfg", "--version", "1.0.0", "--path", content, check=True)
    elif not mounted:
        fail(op, f"recorded as attached but not mounted after reconciliation: {rm.stderr.strip()}")
    return mounted


def op_attach(i):
    killed("capsule", "attach", "host", "cfg:1.0.0", max_ms=22)
    check_store("attach")
    mounted = attached_and_whole("attach")
    if mounted:
        killed("capsule", "detach", "host", "cfg:1.0.0", max_ms=8)
        check_store("detach")
        attached_and_whole("detach")
    r = cli("capsule", "detach", "host", "cfg:1.0.0")
    if r.returncode != 0 and "not attached" not in r.stderr and "NOOP" not in r.stdout:
        fail("detach", f"retry: {r.stderr.strip()} {r.stdout.strip()}")
    if cli("exec", "host", "/bin/busybox", "test", "-e", "/capsules/cfg/1.0.0").returncode == 0:
        fail("detach", "still mounted after a detach")


def op_gc_race(i):
    imp = subprocess.Popen([BD, "--root", root, "import", image_tar, "soak:race"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(random.uniform(0, 40) / 1000.0)
    killed("capsule", "gc", max_ms=8)
    _, err = imp.communicate()
    if imp.returncode != 0:
        fail("gc race", f"import racing gc failed: {err.decode().strip()}")
    check_store("gc race")
    image_works("gc race", "soak:race")
    cli("rmi", "soak:race")


ops = [op_run, op_rm, op_import, op_rmi, op_capsule_create, op_attach, op_gc_race]
started = time.time()
try:
    for i in range(TRIALS):
        for op in ops:
            before = len(failures)
            try:
                op(i)
            except Exception as e:  # a command that should have worked did not
                fail(op.__name__, repr(e))
            trials += 1
            if len(failures) > before:
                print(f"trial {i} {op.__name__}: {failures[before:]}", flush=True)
        if (i + 1) % 10 == 0:
            print(f"... {trials} trials, {kills} kills, {len(failures)} failures", flush=True)
finally:
    ids = cli("ps", "-a", "-q", "--no-trunc").stdout.split()
    if ids:
        cli("rm", "-f", *ids)
    subprocess.run(["rm", "-rf", work])

print(f"crash soak: {trials} trials, {kills} kills, {len(failures)} failures "
      f"({time.time() - started:.0f} s, seed {SEED})")
for f in failures[:50]:
    print("  " + f)
sys.exit(1 if failures else 0)
