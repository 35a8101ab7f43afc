# Sourced by the live tests: two network namespaces joined by a veth pair, removed on exit.
#   netns_pair_setup PREFIX IF_A IF_B NET    e.g. netns_pair_setup fgtest fgva fgvb 10.201.0
# gives NS_A (NET.1 on IF_A) and NS_B (NET.2 on IF_B), a scratch dir TMP, and kills $BG_PID on exit.
# Skips the test (exit 77) without root or iproute2.

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "FLOWGUARD-SKIPPED: $(basename "$0") needs root and iproute2 (network namespaces)"
  exit 77
fi

BG_PID=
netns_pair_cleanup() {
  if [ -n "$BG_PID" ]; then kill "$BG_PID" 2>/dev/null || true; fi
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  rm -rf "$TMP"
}

netns_pair_setup() {
  local prefix=$1 if_a=$2 if_b=$3 net=$4
  NS_A=$prefix-a-$$
  NS_B=$prefix-b-$$
  TMP=$(mktemp -d)
  trap netns_pair_cleanup EXIT
  ip netns add "$NS_A"
  ip netns add "$NS_B"
  ip -n "$NS_A" link add "$if_a" type veth peer name "$if_b" netns "$NS_B"
  ip -n "$NS_A" addr add "$net.1/24" dev "$if_a"
  ip -n "$NS_B" addr add "$net.2/24" dev "$if_b"
  for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
  ip -n "$NS_A" link set "$if_a" up
  ip -n "$NS_B" link set "$if_b" up
}
