#!/usr/bin/env bash
# Transcode benchmark (issue 3): the controller's encode_audio_file against
# `opusenc --speech --bitrate 24` on the same 15-minute 48 kHz mono speech WAV, in the same run.
# The tools run alternately for LOA_BENCH_ROUNDS rounds (default 3), so load from other processes
# hits both alike; the best and the median wall time of each are reported.
# Usage: bench_transcode.sh PATH/TO/loa-transcode-bench [SECONDS]
set -euo pipefail
bench=${1:?usage: bench_transcode.sh PATH/TO/loa-transcode-bench [SECONDS]}
seconds=${2:-900}
rounds=${LOA_BENCH_ROUNDS:-3}
command -v opusenc >/dev/null || { echo "opusenc not installed (opus-tools)"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/loa-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT

"$bench" generate "$dir/in.wav" "$seconds"

# Prints "WALL CPU" in seconds for the command given as arguments (CPU = user + system time:
# less disturbed than wall time when other processes share the cores).
measure() {
  local TIMEFORMAT='%R %U %S' line
  line=$({ time "$@" >/dev/null 2>&1; } 2>&1)
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' <<<"$line"
}

ours=() theirs=() theirs9=() ours_cpu=() theirs_cpu=() theirs9_cpu=()
for ((round = 1; round <= rounds; round++)); do
  read -r w c <<<"$(measure "$bench" encode "$dir/in.wav" "$dir/ours.opus")"
  ours+=("$w") ours_cpu+=("$c")
  read -r w c <<<"$(measure opusenc --quiet --speech --bitrate 24 "$dir/in.wav" "$dir/theirs.opus")"
  theirs+=("$w") theirs_cpu+=("$c")
  # The same at libopus's default complexity (9), which our encoder uses; opusenc's default is 10.
  read -r w c <<<"$(measure opusenc --quiet --speech --bitrate 24 --comp 9 "$dir/in.wav" "$dir/theirs9.opus")"
  theirs9+=("$w") theirs9_cpu+=("$c")
  echo "round $round (wall/cpu s): ours ${ours[-1]}/${ours_cpu[-1]}," \
       "opusenc ${theirs[-1]}/${theirs_cpu[-1]}, opusenc --comp 9 ${theirs9[-1]}/${theirs9_cpu[-1]}"
done

opusinfo "$dir/ours.opus" >/dev/null  # our output is a valid Ogg Opus file

# best and median of a list of numbers
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s\n", v[1], v[int((NR + 1) / 2)] }'; }
read -r ours_best ours_med <<<"$(stats "${ours[@]}")"
read -r theirs_best theirs_med <<<"$(stats "${theirs[@]}")"
read -r theirs9_best theirs9_med <<<"$(stats "${theirs9[@]}")"
read -r ours_cpu_best _ <<<"$(stats "${ours_cpu[@]}")"
read -r theirs_cpu_best _ <<<"$(stats "${theirs_cpu[@]}")"
read -r theirs9_cpu_best _ <<<"$(stats "${theirs9_cpu[@]}")"

awk -v s="$seconds" -v n="$rounds" -v ob="$ours_best" -v om="$ours_med" \
    -v oc="$ours_cpu_best" -v tc="$theirs_cpu_best" -v nc="$theirs9_cpu_best" \
    -v tb="$theirs_best" -v tm="$theirs_med" -v nb="$theirs9_best" -v nm="$theirs9_med" \
    -v os="$(stat -c %s "$dir/ours.opus")" -v ts="$(stat -c %s "$dir/theirs.opus")" 'BEGIN {
  printf "input: %.0f s of speech, 48 kHz mono 16-bit WAV; %d rounds\n", s, n;
  printf "                                        wall best (median)  realtime   cpu best  output\n";
  printf "ours    loa-transcode-bench encode:     %7.2f s (%6.2f) %6.0fx %9.2f s  %d bytes\n", ob, om, s / ob, oc, os;
  printf "opusenc --speech --bitrate 24:          %7.2f s (%6.2f) %6.0fx %9.2f s  %d bytes\n", tb, tm, s / tb, tc, ts;
  printf "opusenc --speech --bitrate 24 --comp 9: %7.2f s (%6.2f) %6.0fx %9.2f s\n", nb, nm, s / nb, nc;
  printf "ratio ours/opusenc: wall %.2f, cpu %.2f; against --comp 9: wall %.2f, cpu %.2f\n", ob / tb, oc / tc, ob / nb, oc / nc;
}'
