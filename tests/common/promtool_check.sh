#!/usr/bin/env bash
# Usage: promtool_check.sh SAMPLE_PROGRAM — its output must pass `promtool check metrics` with no findings.
set -euo pipefail
if ! command -v promtool >/dev/null; then
  echo "FLOWGUARD-SKIPPED: promtool not installed (Debian package prometheus)"
  exit 77
fi
out=$(timeout 10 "$1")
echo "$out"
findings=$(printf '%s\n' "$out" | timeout 10 promtool check metrics 2>&1) || { echo "$findings"; exit 1; }
if [ -n "$findings" ]; then
  echo "promtool findings:"; echo "$findings"; exit 1
fi
echo "promtool check metrics: clean"
