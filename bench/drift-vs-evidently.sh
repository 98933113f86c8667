#!/usr/bin/env bash
# Drift checks of `mlci data validate` beside Evidently (PyPI `evidently`, the 0.7
# line, 0.7.23 when this was written), on the same samples: how often each cries
# wolf on a clean sample, and how often each sees a real shift, column by column.
#
# Evidently runs its default preset, DataDriftPreset, untouched: per column a
# test at p < 0.05 when the reference has at most 1 000 rows (Kolmogorov–Smirnov
# for numbers, chi-square for categories; integers of at most 10 values count as
# categories), and above that a distance at 0.1 (normalised Wasserstein for
# numbers, Jensen–Shannon for categories); its dataset_drift verdict is "at
# least half of the columns drifted". Its chi-square takes the reference's
# frequencies as exact (a goodness of fit, not a two-sample test), so it flags a
# clean categorical column more often than 1 time in 20.
#
# mlci runs as a user would: `data schema infer` on the reference, `data
# validate --stats-out` on it, then `data validate --baseline --json` on each
# sample, every default kept.
#
# For 100, 300, 1 000 and 10 000 rows, TRIALS trials each (seeded numpy): a
# reference, a clean resample of the same source and a shifted sample. Columns:
# x ~ N(50, 10), latency_ms ~ 20·lognormal(0, 1), count ~ Poisson(5), species
# 40/30/20/10 % (as tests/data_calibration/samples.rs). Shifted: every numeric
# column + 0.5 of its standard deviation (count + 1), species 30/30/20/20 %.
#
# Printed per size, of TRIALS: false alarms on the clean sample (mlci: any
# failure / drift failures only; Evidently: any column drifted / dataset_drift),
# detections per column on the shifted sample (mlci/Evidently), how often
# Evidently's dataset_drift fired on the shifted sample, and the median time of
# one comparison. Then, unless SKIP_SPEED=1, bench/data-validate.sh 1024 with the
# same binary: validate's rows/s on 1 GB, which must not fall below the README's.
#
# Usage: bench/drift-vs-evidently.sh [TRIALS]   (default 20; on 2 cores about 1.5
# minutes of comparisons, then about 1 minute of speed). Needs python3. Installs
# evidently into bench/.venv-evidently on first use. MLCI_BIN=path: run that build
# of mlci instead of target/release/mlci (or $CARGO_TARGET_DIR/release/mlci).
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-20}
case $trials in
  '' | *[!0-9]* | 0)
    echo "usage: bench/drift-vs-evidently.sh [TRIALS]   (TRIALS a positive number)" >&2
    exit 2
    ;;
esac

venv=bench/.venv-evidently
if ! "$venv/bin/python" -c 'import evidently' 2>/dev/null; then
  python3 -m venv "$venv"
  # evidently 0.7 imports a pandas function that pandas 3 removed.
  "$venv/bin/pip" install -q 'evidently>=0.7,<0.8' 'pandas<3'
fi

if [ -n "${MLCI_BIN:-}" ]; then
  mlci=$(realpath "$MLCI_BIN")
else
  mlci=${CARGO_TARGET_DIR:-$PWD/target}/release/mlci
  if [ ! -x "$mlci" ] || [ -n "$(find src Cargo.toml Cargo.lock -newer "$mlci" -print -quit)" ]; then
    echo "$mlci is missing or older than the sources: cargo build --release" >&2
    cargo build --release -q
  fi
fi

echo "mlci: $mlci; evidently $("$venv/bin/python" -c 'import evidently; print(evidently.__version__)')"
start=$(date +%s)
"$venv/bin/python" bench/drift_vs_evidently.py --mlci "$mlci" --trials "$trials"
echo "comparisons: $(($(date +%s) - start)) s"

if [ "${SKIP_SPEED:-}" != 1 ]; then
  echo
  MLCI_BIN=$mlci bench/data-validate.sh 1024
  echo "README's figures (time, rows/s, MB/s, peak RSS):"
  grep -E '^\| `mlci data [^|]*\| [0-9.]+ s \|' README.md
fi
