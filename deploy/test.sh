#!/usr/bin/env bash
# Builds flowguard and runs the whole test suite through CTest.
# Tests that need ../shared (label `dataset`) skip with a message when it is absent; tests that build
# network namespaces (label `netns`) need root.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FLOWGUARD_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)"
export OPENBLAS_NUM_THREADS=1
ctest --test-dir "$build" --output-on-failure --timeout 600 "$@"
