#!/usr/bin/env bash
# Transcode benchmark (issue 3): the controller's encode_audio_file against
# `opusenc --speech --bitrate 24` on the same 15-minute 48 kHz mono speech WAV, in the same run.
# Usage: bench_transcode.sh PATH/TO/loa-transcode-bench [SECONDS]
set -euo pipefail
bench=${1:?usage: bench_transcode.sh PATH/TO/loa-transcode-bench [SECONDS]}
seconds=${2:-900}
command -v opusenc >/dev/null || { echo "opusenc not installed (opus-tools)"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/loa-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT

"$bench" generate "$dir/in.wav" "$seconds"

now() { date +%s.%N; }
t0=$(now)
"$bench" encode "$dir/in.wav" "$dir/ours.opus"
t1=$(now)
opusenc --quiet --speech --bitrate 24 "$dir/in.wav" "$dir/theirs.opus"
t2=$(now)

opusinfo "$dir/ours.opus" >/dev/null

awk -v s="$seconds" -v a="$t0" -v b="$t1" -v c="$t2" \
    -v os="$(stat -c %s "$dir/ours.opus")" -v ts="$(stat -c %s "$dir/theirs.opus")" 'BEGIN {
  ours = b - a; theirs = c - b;
  printf "input: %.0f s of speech, 48 kHz mono WAV\n", s;
  printf "ours (loa-transcode-bench encode, whole process): %.2f s wall, %.0fx realtime, %d bytes\n", ours, s / ours, os;
  printf "opusenc --speech --bitrate 24:                    %.2f s wall, %.0fx realtime, %d bytes\n", theirs, s / theirs, ts;
  printf "ratio ours/opusenc wall time: %.2f\n", ours / theirs;
}'
