#!/usr/bin/env bash
# mlci's cost per step against a raw `docker exec` loop of the same commands.
#
# The same script runs N times in a container of the same image, either as N
# steps of one mlci job, or as N `docker exec` calls of a shell loop into a
# container started beforehand. A step costs what a bare `docker exec` does
# (one process of the docker CLI, one exec in the engine) plus what mlci adds:
# the step's script and file-command files written into the container, and
# GITHUB_OUTPUT/GITHUB_ENV/GITHUB_PATH/GITHUB_STEP_SUMMARY read back.
#
# mlci's per-step cost is (time of N steps - time of 1 step) / (N - 1), so
# that the container's start, the workspace copy and the removal drop out;
# the raw loop's is its time / N, container start left out.
#
# Usage: bench/step-overhead.sh [ROUNDS] [STEPS]   (default 5 rounds, 40 steps).
# Needs Docker and the python-ml image (mlci images build runs first).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
steps=${2:-40}
image=mlci/python-ml:latest
cargo build --release -q
mlci=$PWD/target/release/mlci
$mlci images build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/mlci-bench-steps.XXXXXX")
container=
cleanup() {
  [ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# What every step runs: a line of output and a step output, as a small real step does.
command='echo "step $STEP"; echo "n=$STEP" >> "$GITHUB_OUTPUT"'

workflow() { # $1: number of steps
  echo "on: push"
  echo "jobs:"
  echo "  steps:"
  echo "    runs-on: python-ml"
  echo "    steps:"
  for i in $(seq "$1"); do
    echo "      - run: '$command'"
    echo "        env: { STEP: \"$i\" }"
  done
}
for n in 1 "$steps"; do
  mkdir -p "$work/w$n/.github/workflows"
  workflow "$n" >"$work/w$n/.github/workflows/steps.yml"
  (cd "$work/w$n" && git init -q && git add -A \
    && git -c user.email=b@b -c user.name=b commit -qm steps)
done

time_of() { # prints seconds
  local start end
  start=$(date +%s.%N)
  "$@" >"$work/last.log" 2>&1 || { echo "failed: $*" >&2; cat "$work/last.log" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# The raw loop: one container, the same command with the same variables.
container=$(docker run -d --rm --entrypoint sleep "$image" infinity)
raw_loop() {
  local i
  for i in $(seq "$steps"); do
    docker exec -e STEP="$i" -e GITHUB_OUTPUT=/tmp/out "$container" bash -e -c "$command"
  done
}

mlci_per_step=() raw_per_step=()
for round in $(seq "$rounds"); do
  one=$(cd "$work/w1" && time_of "$mlci" run --no-cache)
  many=$(cd "$work/w$steps" && time_of "$mlci" run --no-cache)
  raw=$(time_of raw_loop)
  m=$(echo "($many - $one) / ($steps - 1)" | bc -l)
  r=$(echo "$raw / $steps" | bc -l)
  printf 'round %d: mlci 1 step %.2fs, %d steps %.2fs -> %.1f ms/step; raw docker exec %.1f ms/step\n' \
    "$round" "$one" "$steps" "$many" "$(echo "$m * 1000" | bc -l)" "$(echo "$r * 1000" | bc -l)"
  mlci_per_step+=("$m") raw_per_step+=("$r")
done
mm=$(printf '%s\n' "${mlci_per_step[@]}" | median)
rm_=$(printf '%s\n' "${raw_per_step[@]}" | median)
printf '\nmedian of %d rounds, %d steps: mlci %.1f ms/step, raw docker exec %.1f ms/step, mlci/raw = %.2fx\n' \
  "$rounds" "$steps" "$(echo "$mm * 1000" | bc -l)" "$(echo "$rm_ * 1000" | bc -l)" "$(echo "$mm / $rm_" | bc -l)"
