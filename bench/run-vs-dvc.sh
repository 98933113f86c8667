#!/usr/bin/env bash
# mlci run vs dvc repro on the same 3-stage pipeline with a 200 MB dataset.
#
#   fetch    -> data/dataset.bin (200 MB, generated from a seed: stands in for a download)
#   train    -> model/ (reads the whole dataset and params/train.yaml)
#   evaluate -> metrics.json (reads the model and params/evaluate.yaml)
#
# The same Python scripts do the work for both tools: DVC runs them on the host,
# mlci runs each stage as a job in the python-ml container. Each stage has its own
# params file, so that both tools can see that only the last stage's parameter changed.
#
# Scenarios, each timed ROUNDS times (median printed):
#   first run        empty caches, no outputs in the working tree
#   nothing changed  again, with everything cached
#   last param       only params/evaluate.yaml changed (a new value each round)
#   fresh clone      a new clone and an empty local cache; the S3 remote (moto on
#                    127.0.0.1) holds every stage: dvc pull + dvc repro vs mlci run
#                    --cache-remote
#
# Usage: bench/run-vs-dvc.sh [ROUNDS]   (default 5). Needs Docker and the python-ml
# image (mlci images build runs first). Installs dvc[s3] into bench/.venv and moto into
# bench/.venv-moto (moto pins a botocore that dvc-s3 refuses) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rounds=${1:-5}

if [ ! -x bench/.venv/bin/dvc ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q 'dvc[s3]'
fi
if [ ! -x bench/.venv-moto/bin/moto_server ]; then
  python3 -m venv bench/.venv-moto
  bench/.venv-moto/bin/pip install -q 'moto[server]'
fi
dvc=$root/bench/.venv/bin/dvc
# MLCI_BIN=path: time that build of mlci instead (a baseline, for before/after).
if [ -n "${MLCI_BIN:-}" ]; then
  mlci=$(realpath "$MLCI_BIN")
else
  cargo build --release -q
  mlci=$root/target/release/mlci
fi
$mlci images build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/mlci-bench-dvc.XXXXXX")
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# No telemetry, no update checks, dummy credentials for moto.
export DVC_NO_ANALYTICS=1 DVC_NO_UPDATER=1 CI=true
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
endpoint=http://127.0.0.1:$port
export MLCI_S3_ENDPOINT=$endpoint
bench/.venv-moto/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "$endpoint" && break; sleep 0.1; done
curl -sf -X PUT "$endpoint/bench" >/dev/null

# The pipeline's scripts and params, shared by both projects.
project() {
  local dir=$1
  mkdir -p "$dir/params"
  cat >"$dir/fetch.py" <<'EOF'
import os, random
seed = int(open("params/fetch.yaml").read().split(":")[1])
rng = random.Random(seed)
os.makedirs("data", exist_ok=True)
with open("data/dataset.bin", "wb") as f:
    for _ in range(200):
        f.write(rng.randbytes(1 << 20))
EOF
  cat >"$dir/train.py" <<'EOF'
import json, os, zlib
lr = float(open("params/train.yaml").read().split(":")[1])
crc, size = 0, 0
with open("data/dataset.bin", "rb") as f:
    while chunk := f.read(1 << 20):
        crc, size = zlib.crc32(chunk, crc), size + len(chunk)
os.makedirs("model", exist_ok=True)
with open("model/weights.bin", "wb") as f:
    f.write(crc.to_bytes(4, "little") * (1 << 20))  # a 4 MB model
json.dump({"lr": lr, "rows": size // 64, "crc": crc}, open("model/meta.json", "w"))
EOF
  cat >"$dir/evaluate.py" <<'EOF'
import json
threshold = float(open("params/evaluate.yaml").read().split(":")[1])
meta = json.load(open("model/meta.json"))
score = (meta["crc"] % 1000) / 1000
json.dump({"accuracy": score, "passed": score >= threshold}, open("metrics.json", "w"))
EOF
  echo "seed: 7" >"$dir/params/fetch.yaml"
  echo "lr: 0.01" >"$dir/params/train.yaml"
  echo "threshold: 0.5" >"$dir/params/evaluate.yaml"
  git -C "$dir" init -q
}
commit() { git -C "$1" add -A && git -C "$1" -c user.email=b@b -c user.name=b commit -qm "$2"; }

# DVC's project.
dvc_dir=$work/dvc
project "$dvc_dir"
cat >"$dvc_dir/dvc.yaml" <<'EOF'
stages:
  fetch:
    cmd: python3 fetch.py
    deps: [fetch.py]
    params:
      - params/fetch.yaml:
          - seed
    outs: [data]
  train:
    cmd: python3 train.py
    deps: [train.py, data]
    params:
      - params/train.yaml:
          - lr
    outs: [model]
  evaluate:
    cmd: python3 evaluate.py
    deps: [evaluate.py, model]
    params:
      - params/evaluate.yaml:
          - threshold
    metrics:
      - metrics.json:
          cache: false
EOF
(cd "$dvc_dir" && $dvc init -q && $dvc config core.autostage false \
  && $dvc remote add -q -d bench s3://bench/dvc && $dvc remote modify bench endpointurl "$endpoint")
commit "$dvc_dir" "dvc pipeline"

# mlci's project: the same stages as jobs.
mlci_dir=$work/mlci
project "$mlci_dir"
mkdir -p "$mlci_dir/.github/workflows"
cat >"$mlci_dir/.github/workflows/pipeline.yml" <<'EOF'
on: push
jobs:
  fetch:
    runs-on: python-ml
    steps:
      - run: python3 fetch.py
        inputs: [fetch.py, params/fetch.yaml]
        outputs: [data/]
  train:
    needs: fetch
    runs-on: python-ml
    steps:
      - run: python3 train.py
        inputs: [train.py, data/, params/train.yaml]
        outputs: [model/]
  evaluate:
    needs: train
    runs-on: python-ml
    steps:
      - run: python3 evaluate.py
        inputs: [evaluate.py, model/, params/evaluate.yaml]
        metrics: [metrics.json]
EOF
printf 'data/\nmodel/\nmetrics.json\n.mlci/\n' >"$mlci_dir/.gitignore"
commit "$mlci_dir" "mlci pipeline"
mlci_cache=$work/mlci-cache

time_of() { # runs "$@" in directory $1; prints seconds
  local dir=$1 start end
  shift
  start=$(date +%s.%N)
  (cd "$dir" && "$@") >"$work/last.log" 2>&1 || {
    echo "failed: $*" >&2
    cat "$work/last.log" >&2
    exit 1
  }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
dvc_repro() { $dvc repro -q; }
mlci_run() { MLCI_CACHE_DIR=$mlci_cache $mlci run "$@"; }
# The results must agree: same metrics from both tools after every scenario.
same_metrics() {
  cmp -s <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$dvc_dir/metrics.json") \
    <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$mlci_dir/metrics.json") || {
    echo "the two tools disagree: $(cat "$dvc_dir/metrics.json") vs $(cat "$mlci_dir/metrics.json")" >&2
    exit 1
  }
}

declare -A times
record() { times[$1]+="$2 "; }
for round in $(seq "$rounds"); do
  # First run: empty caches, no outputs, no lock file or run store.
  rm -rf "$dvc_dir/.dvc/cache" "$dvc_dir/.dvc/tmp" "$dvc_dir/dvc.lock" "$dvc_dir/data" "$dvc_dir/model" "$dvc_dir/metrics.json"
  rm -rf "$mlci_cache" "$mlci_dir/.mlci" "$mlci_dir/data" "$mlci_dir/model" "$mlci_dir/metrics.json"
  echo "threshold: 0.5" >"$dvc_dir/params/evaluate.yaml"
  echo "threshold: 0.5" >"$mlci_dir/params/evaluate.yaml"
  d=$(time_of "$dvc_dir" dvc_repro)
  m=$(time_of "$mlci_dir" mlci_run)
  same_metrics
  record first_dvc "$d"
  record first_mlci "$m"
  printf 'round %d: first run        dvc %6.2fs  mlci %6.2fs\n' "$round" "$d" "$m"

  d=$(time_of "$dvc_dir" dvc_repro)
  m=$(time_of "$mlci_dir" mlci_run)
  grep -q 'restored from cache' "$work/last.log" || { echo "mlci ran a stage with nothing changed" >&2; cat "$work/last.log" >&2; exit 1; }
  same_metrics
  record same_dvc "$d"
  record same_mlci "$m"
  printf 'round %d: nothing changed  dvc %6.2fs  mlci %6.2fs\n' "$round" "$d" "$m"

  threshold="0.$((60 + round))"
  echo "threshold: $threshold" >"$dvc_dir/params/evaluate.yaml"
  echo "threshold: $threshold" >"$mlci_dir/params/evaluate.yaml"
  d=$(time_of "$dvc_dir" dvc_repro)
  m=$(time_of "$mlci_dir" mlci_run)
  same_metrics
  record last_dvc "$d"
  record last_mlci "$m"
  printf 'round %d: last param       dvc %6.2fs  mlci %6.2fs\n' "$round" "$d" "$m"
done

# Fresh clone: fill both remotes (not timed), commit what each tool tracks, then clone.
(cd "$dvc_dir" && $dvc push -q)
commit "$dvc_dir" "results"
(cd "$mlci_dir" && MLCI_CACHE_DIR=$mlci_cache $mlci cache push --cache-remote s3://bench/mlci >/dev/null)
for round in $(seq "$rounds"); do
  rm -rf "$work/clone-dvc" "$work/clone-mlci" "$mlci_cache"
  git clone -q "$dvc_dir" "$work/clone-dvc"
  git clone -q "$mlci_dir" "$work/clone-mlci"
  d=$(time_of "$work/clone-dvc" sh -c "$dvc pull -q && $dvc repro -q")
  m=$(time_of "$work/clone-mlci" env MLCI_CACHE_DIR="$mlci_cache" "$mlci" run --cache-remote s3://bench/mlci)
  if grep -q 'starting in' "$work/last.log"; then echo "mlci started a container in the fresh clone" >&2; cat "$work/last.log" >&2; exit 1; fi
  cmp -s "$work/clone-dvc/data/dataset.bin" "$work/clone-mlci/data/dataset.bin" || { echo "fresh clones differ" >&2; exit 1; }
  record clone_dvc "$d"
  record clone_mlci "$m"
  printf 'round %d: fresh clone      dvc %6.2fs  mlci %6.2fs\n' "$round" "$d" "$m"
done

printf '\nmedians of %d rounds, 3 stages, 200 MB dataset\n' "$rounds"
printf '%-16s %8s %8s %10s\n' scenario dvc mlci mlci/dvc
for scenario in first same last clone; do
  d=$(printf '%s\n' ${times[${scenario}_dvc]} | median)
  m=$(printf '%s\n' ${times[${scenario}_mlci]} | median)
  case $scenario in
    first) label="first run" ;; same) label="nothing changed" ;;
    last) label="last param" ;; clone) label="fresh clone" ;;
  esac
  printf '%-16s %7.2fs %7.2fs %9.2fx\n' "$label" "$d" "$m" "$(echo "$m / $d" | bc -l)"
done
