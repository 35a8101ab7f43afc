#!/usr/bin/env bash
# flowguard quick start: install missing Debian packages, build, and run the demo end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FLOWGUARD_BUILD_DIR:-build}
bash deploy/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)" --target flowguard-capture flowguard-infer flowguardctl
exec bash deploy/run-demo.sh "$build"
