#!/usr/bin/env bash
# Runs every libFuzzer target of a LOA_FUZZ build for SECONDS each, starting from a temporary copy
# of its committed seed corpus (tests/fuzz/corpus/<target>/, never written to). Fails if any
# target finds a crash, a leak, undefined behaviour or a timeout; the reproducer is kept.
#   usage: tests/fuzz/run-all.sh BUILD_DIR SECONDS
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
corpus_root=$here/corpus
bin_dir=$build/tests/fuzz
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
ran=0
for seeds in "$corpus_root"/*/; do
  target=$(basename "$seeds")
  exe=$bin_dir/$target
  if [[ ! -x $exe ]]; then
    echo "$target: not built in $bin_dir" >&2
    failed+=("$target (not built)")
    continue
  fi
  mkdir -p "$work/$target"
  cp "$seeds"/* "$work/$target/"
  log=$work/$target.log
  echo "== $target: ${seconds}s from $(ls "$seeds" | wc -l) seeds"
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$target-" "$work/$target" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$log" | tr '\n' ' '
    echo
  else
    echo "$target: FAILED (log: $artifacts/$target.log)"
    cp "$log" "$artifacts/$target.log"
    grep -E 'ERROR|SUMMARY|violated|Test unit written' "$log" | head -5 || true
    failed+=("$target")
  fi
  ran=$((ran + 1))
done

if [[ $ran -eq 0 ]]; then
  echo "no fuzz targets found" >&2
  exit 1
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all $ran fuzz targets ran ${seconds}s without a finding"
