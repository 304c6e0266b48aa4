#!/usr/bin/env bash
# Plugin call latency through the engine's plugin manager, in one run: the C++ test plugin
# (the SDK), the Python example plugin and an in-process built-in (bench/plugin_bench.cc).
# Usage: bench/run_plugin_bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-50}"
scripts/install-deps.sh --bench >/dev/null
scripts/build.sh >/dev/null
cmake --build build --target plugin_bench bd-test-plugin >/dev/null
work="$(mktemp -d /var/tmp/bd-plugin-bench-XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/plugins"
cp build/bin/bd-test-plugin "$work/root/plugins/basic-docker-plugin-tp"
cp examples/plugins/python/basic-docker-plugin-http-source "$work/root/plugins/basic-docker-plugin-py"
echo "kernel $(uname -r), $(nproc) cpus, $(python3 --version)"
build/bin/plugin_bench "$work/root" "$rounds"
