#!/usr/bin/env bash
# Runs one libFuzzer target briefly on its seed corpus: scripts/run-fuzz.sh NAME SECONDS.
# Exit 77 (ctest: skipped) when the target was not built (scripts/build-fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
name="$1"
seconds="${2:-20}"
bin="build-fuzz/bin/fuzz_$name"
if [[ ! -x "$bin" ]]; then
  echo "skipped: $bin is not built (run scripts/build-fuzz.sh)"
  exit 77
fi
corpus="$(mktemp -d /tmp/bd-fuzz-corpus-XXXXXX)"
# What the target makes goes under a work directory of this run only: targets run side by side.
export BD_FUZZ_WORKDIR="$(mktemp -d /tmp/bd-fuzz-work-XXXXXX)"
trap 'rm -rf "$corpus" "$BD_FUZZ_WORKDIR"' EXIT
cp fuzz/corpus/"$name"/* "$corpus"/
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | tail -15
