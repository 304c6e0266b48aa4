#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) into build-fuzz/ (see fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang++ >/dev/null; then
  echo "build-fuzz: clang++ is not installed (scripts/install-deps.sh --test installs it)" >&2
  exit 1
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBASIC_DOCKER_FUZZ=ON -DBASIC_DOCKER_TESTS=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz --target fuzz_constraint fuzz_capsule_import
