#!/usr/bin/env bash
# CI smoke run of the libFuzzer targets (CTest fuzz/smoke): configures and builds tests/fuzz with
# clang-14 in a sub-build, makes the seed corpora (synthetic, plus the shared edge captures when
# present), then runs every target for a few seconds. Any crash, leak or sanitizer report fails the
# test. Exit 77 (SKIPPED) when clang++-14 or libFuzzer is not installed.
#   smoke.sh SRC_DIR BUILD_DIR [SHARED_DIR] [SECONDS_PER_TARGET]
set -euo pipefail
src=$1 build=$2 shared=${3:-} secs=${4:-4}
cxx=$(command -v clang++-14 || true)
if [ -z "$cxx" ] || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "SKIP: clang++-14 / libFuzzer not installed (Debian: clang-14 libfuzzer-14-dev)"
  exit 77
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" >"$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j2 >"$build.build.log" 2>&1 || { tail -50 "$build.build.log"; exit 1; }

seeds=$build/seeds
rm -rf "$seeds"
captures=()
if [ -n "$shared" ] && [ -d "$shared/data/pcaps/edge" ]; then
  while IFS= read -r f; do captures+=("$f"); done < <(find "$shared/data/pcaps/edge" -name '*.pcap*' -size -2M | sort)
else
  echo "note: no shared edge captures (FLOWGUARD_SHARED_DIR); synthetic seeds only"
fi
"$build/make-fuzz-seeds" "$seeds" "${captures[@]}"

status=0
for target in packet_decoder flow_engine frame_hello control_request manifest infer_control; do
  corpus=$build/corpus/$target
  mkdir -p "$corpus"
  log=$build/$target.log
  if "$build/fuzz_$target" -max_total_time="$secs" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$build/crash-$target-" "$corpus" "$seeds/$target" >"$log" 2>&1; then
    echo "fuzz_$target: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') execs"
  else
    echo "fuzz_$target: FAILED"; tail -40 "$log"; status=1
  fi
done
exit $status
