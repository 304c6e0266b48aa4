#!/usr/bin/env bash
# Installs the Debian 12 packages basic-docker needs to build, test and run.
# Usage: scripts/install-deps.sh [--test] [--bench]
#   --test   adds podman (the real OCI client the basic-runtime tests drive), crun and runc
#            (the `run --runtime` tests), docker-registry, skopeo and htpasswd (the registry
#            tests, on 127.0.0.1 ports of their own) and clang
#            (the libFuzzer targets in fuzz/)
#   --bench  adds the peers compared in bench/ (crun, runc, podman) and python3
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libsqlite3-dev libarchive-dev libzstd-dev libssl-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libgtest-dev libgmock-dev
  libseccomp-dev libcap-dev
  libcurl4-openssl-dev libmicrohttpd-dev
  busybox-static iproute2 procps util-linux criu
)
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(podman conmon crun runc containernetworking-plugins clang python3
                       docker-registry skopeo apache2-utils openssl zstd) ;;
    --bench) packages+=(crun runc podman conmon containernetworking-plugins python3
                        docker-registry skopeo zstd gzip) ;;
    *) echo "usage: $0 [--test] [--bench]" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages install without starting their services (docker-registry would listen on :5000);
  # the tests start what they need themselves.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
