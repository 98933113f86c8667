#!/usr/bin/env bash
# `mlci deploy` beside MLflow's own server (`mlflow models serve`, PyPI mlflow),
# on the same MLflow-format sklearn model (tests/fixtures/deploy/iris-v1):
#
# - latency: 1 000 sequential requests on a keep-alive connection, p50 and p95,
#   through mlci's front (the proxy in front of MLflow's scoring server in its
#   container) and straight to `mlflow models serve` on the host, in alternating
#   batches; the ratio of the p50s (goal: at most 1.5);
# - time to live: `mlci deploy` of a first version (its serving environment
#   already built, as it is after the first deployment of these requirements)
#   and of a second one (goal: under 10 s), on an idle machine;
# - requests lost during a switch to a third version, under steady load from two
#   clients that open a connection per request (must be 0).
#
# Usage: bench/deploy-vs-mlflow.sh. Needs python3 and the runner images (mlci
# images build). Installs mlflow and scikit-learn into bench/.venv-mlflow on first
# use. MLCI_BIN=path: that build of mlci instead of target/release/mlci. The first
# run builds the serving environment (pip, minutes): it is timed apart.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
mlci=${MLCI_BIN:-${CARGO_TARGET_DIR:-target}/release/mlci}
if [ -z "${MLCI_BIN:-}" ]; then cargo build --release --quiet; fi
mlci=$(realpath "$mlci")
venv=bench/.venv-mlflow
if [ ! -x "$venv/bin/mlflow" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet mlflow scikit-learn
fi
py="$repo/$venv/bin/python"
free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

work=$(mktemp -d)
name=bench-iris-$$
mlflow_pid=
cleanup() {
  [ -n "$mlflow_pid" ] && kill "$mlflow_pid" 2>/dev/null
  (cd "$work" && "$mlci" deploy rm "$name" --cache-dir "$work/cache" >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT
cp -r tests/fixtures/deploy/iris-v1 tests/fixtures/deploy/iris-v2 tests/fixtures/deploy/iris-v3 "$work/"
cd "$work"
export MLCI_CACHE_DIR=$work/cache
"$mlci" models register iris iris-v1 >/dev/null
"$mlci" models register iris iris-v2 >/dev/null
"$mlci" models register iris iris-v3 >/dev/null

mlflow_port=$(free_port)
PATH="$repo/$venv/bin:$PATH" mlflow models serve -m iris-v1 --env-manager local \
  -h 127.0.0.1 -p "$mlflow_port" >"$work/mlflow.log" 2>&1 &
mlflow_pid=$!

# The serving environment of these requirements, built once (timed apart).
started=$(date +%s.%N)
"$mlci" images build >/dev/null
env_log=$("$mlci" deploy iris@1 --name "$name-env" --port "$(free_port)" 2>&1) || { echo "$env_log"; exit 1; }
env_s=$(echo "$(date +%s.%N) - $started" | bc)
"$mlci" deploy rm "$name-env" >/dev/null 2>&1
grep -q "environment.*reused" <<<"$env_log" && env_note="reused" || env_note="built"

port=$(free_port)
started=$(date +%s.%N)
"$mlci" deploy iris@1 --name "$name" --port "$port" 2>"$work/first.log" >/dev/null
first_s=$(echo "$(date +%s.%N) - $started" | bc)

for _ in $(seq 1 100); do
  curl -sf "127.0.0.1:$mlflow_port/ping" >/dev/null && break
  sleep 0.2
done
read -r mlflow_p50 mlflow_p95 mlci_p50 mlci_p95 < <("$py" "$repo/bench/deploy_vs_mlflow.py" latency "$mlflow_port" "$port" 1000)

started=$(date +%s.%N)
"$mlci" deploy iris@2 --name "$name" 2>"$work/second.log" >/dev/null
second_s=$(echo "$(date +%s.%N) - $started" | bc)

stop=$work/stop
"$py" "$repo/bench/deploy_vs_mlflow.py" load "$port" "$stop" >"$work/load.out" &
load_pid=$!
sleep 1
started=$(date +%s.%N)
"$mlci" deploy iris@3 --name "$name" 2>"$work/third.log" >/dev/null
loaded_s=$(echo "$(date +%s.%N) - $started" | bc)
sleep 1
touch "$stop"
wait "$load_pid"
read -r answered lost _ <"$work/load.out"

printf 'serving environment (%s, once per requirements): %.1f s\n' "$env_note" "$env_s"
printf 'latency p50 / p95, ms: mlci front %s / %s, mlflow models serve %s / %s\n' \
  "$mlci_p50" "$mlci_p95" "$mlflow_p50" "$mlflow_p95"
printf 'p50 ratio mlci/mlflow: %.2f (goal <= 1.5)\n' "$(echo "$mlci_p50 / $mlflow_p50" | bc -l)"
printf 'deploy to live: first version %.1f s, second version %.1f s (goal < 10 s)\n' "$first_s" "$second_s"
printf 'switch under load (third version, live after %.1f s): %s requests answered, %s failed (must be 0)\n' "$loaded_s" "$answered" "$lost"
[ "$lost" -eq 0 ]
