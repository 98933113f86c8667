#!/usr/bin/env bash
# Throughput and memory of `mlci data schema infer` and `mlci data validate`
# on a generated CSV of SIZE_MB megabytes.
#
# The CSV has seven columns of every kind the schema knows (two floats, an
# integer label, a species string of three values, a boolean, a date, and a
# string of about 1 000 values), about 45 bytes a row: a block of 50 000
# random rows (seeded) written again and again up to the size, so that
# generating a gigabyte takes seconds, not minutes. Each command runs under
# /usr/bin/time -v: rows per second come from the rows written and the wall
# time, peak memory from the maximum resident set size, which must stay flat
# (tens of MB) whatever the file's size: the file is streamed, never loaded.
#
# Three passes: infer a schema, validate against it writing the statistics,
# validate again with those statistics as the baseline (drift computed).
#
# Usage: bench/data-validate.sh [SIZE_MB]   (default 1024). Needs python3.
# MLCI_BIN=path: measure that build of mlci instead of target/release/mlci.
# The CSV lives in a temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}

# MLCI_BIN=path: measure that build of mlci instead (a baseline, for before/after).
if [ -n "${MLCI_BIN:-}" ]; then
  mlci=$(realpath "$MLCI_BIN")
else
  mlci=${CARGO_TARGET_DIR:-$PWD/target}/release/mlci
  if [ ! -x "$mlci" ] || [ -n "$(find src Cargo.toml Cargo.lock -newer "$mlci" -print -quit)" ]; then
    echo "$mlci is missing or older than the sources: cargo build --release" >&2
    cargo build --release -q
  fi
fi
if [ ! -x /usr/bin/time ]; then
  echo "/usr/bin/time is missing: apt-get install time" >&2
  apt-get install -y -q time >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mlci-bench-data.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "generating $size_mb MB of CSV in $work"
rows=$(python3 - "$work/data.csv" "$size_mb" <<'PY'
import random, sys
path, size = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
rng = random.Random(7)
species = ["setosa", "versicolor", "virginica"]
lines = []
for i in range(50_000):
    label = rng.randrange(3)
    lines.append("%.4f,%.3f,%d,%s,%s,2024-%02d-%02d,w%d\n" % (
        rng.gauss(5.8, 0.8), rng.uniform(0, 100), label, species[label],
        "true" if rng.random() < 0.3 else "false",
        rng.randrange(1, 13), rng.randrange(1, 29), rng.randrange(1000)))
block = "".join(lines).encode()
header = b"sepal_length,score,label,species,flag,day,word\n"
rows, written = 0, len(header)
with open(path, "wb") as f:
    f.write(header)
    while written + len(block) <= size:
        f.write(block)
        written += len(block)
        rows += len(lines)
    for line in lines:
        if written + len(line) > size:
            break
        f.write(line.encode())
        written += len(line)
        rows += 1
print(rows)
PY
)
bytes=$(stat -c %s "$work/data.csv")
echo "$rows rows, $((bytes / 1024 / 1024)) MB"

# Runs a command under /usr/bin/time -v and prints seconds, rows/s and peak RSS.
measure() { # $1: label, then the command
  local label=$1
  shift
  local log=$work/time.log status=0
  /usr/bin/time -v "$@" >"$work/out.txt" 2>"$log" || status=$?
  if [ "$status" -gt 1 ]; then
    echo "$label failed (exit $status):" >&2
    tail -20 "$work/out.txt" "$log" >&2
    exit 1
  fi
  awk -v label="$label" -v rows="$rows" -v bytes="$bytes" '
    /Elapsed \(wall clock\)/ {
      n = split($NF, t, ":"); s = 0
      for (i = 1; i <= n; i++) s = s * 60 + t[i]
    }
    /Maximum resident set size/ { rss = $NF }
    END {
      printf "%-28s %7.2f s  %6.2f M rows/s  %6.0f MB/s  peak RSS %5.1f MB\n",
        label, s, rows / s / 1e6, bytes / s / 1048576, rss / 1024
    }' "$log"
}

cd "$work"
measure "schema infer" "$mlci" data schema infer data.csv -o schema.yml
measure "validate --stats-out" "$mlci" data validate data.csv --schema schema.yml --stats-out base.json
measure "validate --baseline (drift)" "$mlci" data validate data.csv --schema schema.yml --baseline base.json
tail -1 out.txt
