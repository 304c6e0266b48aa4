#!/usr/bin/env bash
# Fresh Debian 12, as root: install, build, and run a first container on the built-in busybox
# image (created on first use from Debian's busybox-static).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/bin/basic-docker run --rm busybox echo "hello from a basic-docker container"
