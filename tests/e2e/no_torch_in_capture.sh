#!/usr/bin/env bash
# Fails when the capture agent binary depends on any LibTorch library.
set -euo pipefail
bin=$1
libs=$(ldd "$bin")
if grep -Eqi 'torch|c10|caffe2' <<<"$libs"; then
  echo "FAIL: $bin links LibTorch:"; grep -Ei 'torch|c10|caffe2' <<<"$libs"; exit 1
fi
echo "ok: $(wc -l <<<"$libs") shared libraries, none from LibTorch"
