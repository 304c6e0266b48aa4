#!/usr/bin/env bash
# Crash soak: kill -9 of the CLI at random moments in run -d, rm -f, import, capsule create,
# capsule attach/detach, rmi and gc racing an import, each followed by a consistency check
# (bench/crash_soak.py). Usage (root): bench/crash_soak.sh [TRIALS_PER_OPERATION]
# (7 operations a round, 8 kills; 180 rounds by default). SOAK_SEED=N picks the timings.
# It runs in a throwaway pid and mount namespace: every shim and container it starts dies with
# that namespace, and it kills only the processes it started, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${BD_SOAK_INSIDE:-}" != 1 ]]; then
  scripts/install-deps.sh --bench >/dev/null
  scripts/build.sh >/dev/null
  export BD_SOAK_INSIDE=1
  exec unshare --pid --fork --mount-proc --mount --propagation private bash "$0" "$@"
fi
echo "kernel $(uname -r), $(nproc) cpus"
BD="$PWD/build/bin/basic-docker" exec python3 bench/crash_soak.py "${1:-180}"
