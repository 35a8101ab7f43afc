#!/usr/bin/env bash
# Fails when BINARY depends on a shared library matching REGEX (case-insensitive), named WHAT.
#   does_not_link.sh BINARY REGEX WHAT
# The capture agent must never pull in LibTorch; the inference server never XGBoost (tree bundles are
# compiled TorchScript, only flowguard-train links XGBoost).
set -euo pipefail
bin=$1 regex=$2 what=$3
libs=$(ldd "$bin")
if grep -Eqi "$regex" <<<"$libs"; then
  echo "FAIL: $bin links $what:"; grep -Ei "$regex" <<<"$libs"; exit 1
fi
echo "ok: $(wc -l <<<"$libs") shared libraries, none from $what"
