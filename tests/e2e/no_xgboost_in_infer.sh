#!/usr/bin/env bash
# Fails when the inference server binary depends on XGBoost: tree bundles are compiled TorchScript,
# and only flowguard-train links XGBoost.
set -euo pipefail
bin=$1
libs=$(ldd "$bin")
if grep -Eqi 'xgboost' <<<"$libs"; then
  echo "FAIL: $bin links XGBoost:"; grep -Ei 'xgboost' <<<"$libs"; exit 1
fi
echo "ok: $(wc -l <<<"$libs") shared libraries, none from XGBoost"
