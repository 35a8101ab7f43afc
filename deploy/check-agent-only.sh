#!/usr/bin/env bash
# The capture agent (and flowguardctl) must configure, build and test without LibTorch: a second
# configure with the inference server and the trainer switched off and LibTorch made unfindable, so a
# stray dependency on it fails here instead of going unnoticed on hosts that have it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FLOWGUARD_AGENT_BUILD_DIR:-build-agent-only}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DFLOWGUARD_INFERENCE=OFF -DFLOWGUARD_MODELS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON \
  ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER}
if grep -qi '^Torch_DIR:PATH=/' "$build/CMakeCache.txt"; then
  echo "agent-only configure found LibTorch: $(grep -i '^Torch_DIR' "$build/CMakeCache.txt")" >&2
  exit 1
fi
cmake --build "$build" -j"$(nproc)"
# The agent's own checks (the full suite already ran in the main build).
ctest --test-dir "$build" --output-on-failure -R '^(e2e/capture_does_not_link_libtorch|common/|proto/)'
