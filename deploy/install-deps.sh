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
  libcpp-httplib-dev  # flowguard-console (HTTP)
)
# Run-time and test tools: namespaces/veth (iproute2), nft for inspecting the kernel
# set in tests, python3 for the shared parity checker, tcpdump/tcpreplay for live tests.
TOOL_PKGS=(iproute2 nftables python3 tcpdump tcpreplay iputils-ping netcat-openbsd sqlite3 procps)
# flowguard-console tests: promtool checks /metrics, headless chromium loads the page (both skip when
# absent); curl for bench/console.
TOOL_PKGS+=(prometheus chromium curl)

LAB_TOOLS=0
for arg in "$@"; do
  case "$arg" in
    --with-demo-tools)
      # Only needed to regenerate the bundled demo capture (deploy/make-demo-pcap.sh).
      TOOL_PKGS+=(nmap hping3 curl python3) ;;
    --with-lab-tools)
      LAB_TOOLS=1
      # Only needed to record attack-lab captures (tests/lab/lab.sh, docs/lab.md): the victim's services
      # (run from generated configs inside a namespace; the package's own units are never started), the
      # benign clients and the attack tools.
      TOOL_PKGS+=(ethtool curl python3 openssh-client openssh-server vsftpd nginx dnsmasq-base iperf3
                  redis-server redis-tools rsync nmap hping3 patator hydra slowhttptest apache2-utils sqlmap) ;;
    *) echo "install-deps.sh: unknown option $arg (use --with-demo-tools, --with-lab-tools)" >&2; exit 2 ;;
  esac
done

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
if [ "$LAB_TOOLS" = 1 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  # The lab runs its own sshd/vsftpd/nginx/redis inside namespaces: keep the packages from starting
  # host-wide services while they install (Debian's policy-rc.d convention; removed afterwards).
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once when anything is missing.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
