#!/usr/bin/env bash
# Installs every Debian package flowguard needs to build, test and run.
# Idempotent and non-interactive: only packages that are missing are installed,
# and only from Debian's own archive.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config
  libpcap-dev libtorch-dev libopenblas0-pthread
  libprotobuf-dev protobuf-compiler
  libboost-dev catch2
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev
  libsqlite3-dev libnftables-dev libssl-dev
  clang-14 libfuzzer-14-dev  # tests/fuzz (CTest fuzz/smoke skips without them)
  libxgboost-dev  # flowguard-train --arch gbdt|rf only; the inference server never links it
)
# Run-time and test tools: namespaces/veth (iproute2), nft for inspecting the kernel
# set in tests, python3 for the shared parity checker, tcpdump/tcpreplay for live tests.
TOOL_PKGS=(iproute2 nftables python3 tcpdump tcpreplay iputils-ping netcat-openbsd sqlite3 procps)

if [ "${1:-}" = "--with-demo-tools" ]; then
  # Only needed to regenerate the bundled demo capture (deploy/make-demo-pcap.sh).
  TOOL_PKGS+=(nmap hping3 curl python3)
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it calls apt-get)" >&2
  exit 1
fi

missing=()
for p in "${BUILD_PKGS[@]}" "${TOOL_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once when anything is missing.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
