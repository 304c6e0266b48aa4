#!/usr/bin/env bash
# Fresh Debian 12, as root: install, build and run every test (unit and real-container tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
scripts/build-fuzz.sh
cd build
ctest --output-on-failure --timeout 300 -j2
