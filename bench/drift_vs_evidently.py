"""False alarms and detections of `mlci data validate` beside Evidently's
DataDriftPreset, on the same seeded samples (run by bench/drift-vs-evidently.sh).

For each size and trial: a reference sample, a clean resample of the same source
and a shifted sample are written as CSV; mlci infers a schema from the reference,
writes its statistics, and validates both samples against them; Evidently's
default preset compares the same CSVs, read with pandas. A false alarm is a clean
sample flagged; a detection is a shifted column flagged.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

# scipy's warnings under Evidently's tests say nothing the table does not: its
# chi-square divides by a zero expectation when a sample has a value the
# reference lacks (p = 0, drift), and its K-S falls back to the asymptotic p.
warnings.filterwarnings("ignore", "divide by zero", RuntimeWarning)
warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning)

COLUMNS = ["x", "latency_ms", "count", "species"]
SPECIES = ["setosa", "versicolor", "virginica", "arctica"]
SHARES = [0.4, 0.3, 0.2, 0.1]
SHIFTED_SHARES = [0.3, 0.3, 0.2, 0.2]
# How far the shifted sample moves, in standard deviations of each column.
SHIFT = 0.5
LOGNORMAL_SD = math.sqrt((math.e - 1) * math.e)
POISSON_MEAN = 5.0


def sample_csv(rng, rows, shifted):
    """The CSV text of one sample, in the format of tests/data_calibration/samples.rs."""
    shift = SHIFT if shifted else 0.0
    x = 50 + 10 * (rng.standard_normal(rows) + shift)
    latency = 20 * (rng.lognormal(0.0, 1.0, rows) + shift * LOGNORMAL_SD)
    count = rng.poisson(POISSON_MEAN, rows) + round(shift * math.sqrt(POISSON_MEAN))
    species = rng.choice(SPECIES, rows, p=SHIFTED_SHARES if shifted else SHARES)
    lines = ["x,latency_ms,count,species"]
    lines += [f"{a:.4f},{b:.3f},{c},{d}" for a, b, c, d in zip(x, latency, count, species)]
    return "\n".join(lines) + "\n"


def run_mlci(mlci, work, *args):
    """Runs mlci in work; exit 0 and 1 are verdicts, anything else stops the bench."""
    done = subprocess.run([mlci, *args], cwd=work, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"mlci {' '.join(args)} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def mlci_verdict(mlci, work, current):
    """(any failure, columns with a drift failure, seconds of the validate call)."""
    start = time.perf_counter()
    out = run_mlci(mlci, work, "data", "validate", current, "--schema", "schema.yml",
                   "--baseline", "ref.json", "--json")
    seconds = time.perf_counter() - start
    report = json.loads(out)
    failures = report["failures"]
    drifted = {f["column"] for f in failures if f["rule"] == "drift"}
    return bool(failures) or not report["passed"], drifted, seconds


def evidently_verdict(reference, current):
    """(columns drifted, dataset_drift, method per column, seconds incl. reading the CSVs)."""
    start = time.perf_counter()
    ref, cur = pd.read_csv(reference), pd.read_csv(current)
    # include_tests only adds the pass/fail of each column's test to the
    # snapshot: the preset, its methods and thresholds stay the defaults.
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        current_data=cur, reference_data=ref)
    seconds = time.perf_counter() - start
    result = snapshot.dict()
    drifted, methods, share = set(), {}, None
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":DriftedColumnsCount"):
            share = metric["value"]["share"]
        elif config["type"].endswith(":ValueDrift"):
            methods[config["column"]] = config["method"]
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if not params["type"].endswith(":ValueDrift"):
            continue
        if test["status"] == "FAIL":
            drifted.add(params["column"])
        elif test["status"] != "SUCCESS":
            sys.exit(f"Evidently's test of {params['column']} ended {test['status']}: "
                     f"{test['description']}")
    if share is None:
        sys.exit("Evidently's snapshot has no DriftedColumnsCount: another preset layout?")
    return drifted, share >= 0.5, methods, seconds


def trial(mlci, rows, number, tally):
    rng = np.random.default_rng([rows, number])
    with tempfile.TemporaryDirectory(prefix="mlci-bench-drift.") as work:
        path = {}
        for name, shifted in (("ref", False), ("clean", False), ("shifted", True)):
            path[name] = os.path.join(work, name + ".csv")
            with open(path[name], "w") as f:
                f.write(sample_csv(rng, rows, shifted))
        run_mlci(mlci, work, "data", "schema", "infer", "ref.csv", "-o", "schema.yml")
        run_mlci(mlci, work, "data", "validate", "ref.csv", "--schema", "schema.yml",
                 "--stats-out", "ref.json")

        failed, drifted, seconds = mlci_verdict(mlci, work, "clean.csv")
        tally["mlci_false_any"] += failed
        tally["mlci_false_drift"] += bool(drifted)
        tally["mlci_ms"].append(seconds * 1000)
        _, drifted, _ = mlci_verdict(mlci, work, "shifted.csv")
        for column in drifted & set(COLUMNS):
            tally["mlci_" + column] += 1

        drifted, dataset, methods, seconds = evidently_verdict(path["ref"], path["clean"])
        tally["evid_false_col"] += bool(drifted)
        tally["evid_false_dataset"] += dataset
        tally["evid_ms"].append(seconds * 1000)
        for column, method in methods.items():
            tally["methods"].setdefault(column, set()).add(method)
        drifted, dataset, _, _ = evidently_verdict(path["ref"], path["shifted"])
        tally["evid_shifted_dataset"] += dataset
        for column in drifted & set(COLUMNS):
            tally["evid_" + column] += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlci", required=True, help="the mlci binary")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--sizes", default=[100, 300, 1000, 10000],
                        type=lambda text: [int(v) for v in text.split(",")],
                        help="rows, comma-separated")
    args = parser.parse_args()
    mlci = os.path.abspath(args.mlci)
    tallies = {}
    for rows in args.sizes:
        tally = {key: 0 for key in ("mlci_false_any", "mlci_false_drift", "evid_false_col",
                                    "evid_false_dataset", "evid_shifted_dataset")}
        tally.update({f"{tool}_{c}": 0 for tool in ("mlci", "evid") for c in COLUMNS})
        tally.update(mlci_ms=[], evid_ms=[], methods={})
        start = time.perf_counter()
        for number in range(args.trials):
            trial(mlci, rows, number, tally)
        print(f"{rows} rows: {args.trials} trials in {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
        tallies[rows] = tally

    n = args.trials
    print(f"\nOf {n} trials per size. False alarms on a clean resample of the reference's source:"
          "\nmlci any failure/drift failure only, Evidently any column drifted/dataset_drift"
          " (share >= 0.5).\nDetections on a sample shifted by 0.5 sd (species 40/30/20/10 ->"
          " 30/30/20/20 %): mlci/Evidently.\nevid-dataset: shifted samples where Evidently's"
          " dataset_drift fired.\nms: median time of one comparison (mlci: the"
          " `validate --baseline` process; Evidently: read_csv x2 + the report).")
    header = ["rows", "mlci-false", "evid-false", "x", "latency_ms", "count", "species",
              "evid-dataset", "ms mlci/evid"]
    lines = [header]
    for rows, t in tallies.items():
        lines.append([
            str(rows),
            f"{t['mlci_false_any']}/{t['mlci_false_drift']}",
            f"{t['evid_false_col']}/{t['evid_false_dataset']}",
            *(f"{t['mlci_' + c]}/{t['evid_' + c]}" for c in COLUMNS),
            str(t["evid_shifted_dataset"]),
            f"{statistics.median(t['mlci_ms']):.0f}/{statistics.median(t['evid_ms']):.0f}",
        ])
    for line in lines:
        print("  ".join(cell.rjust(max(len(h), 7)) for cell, h in zip(line, header)))
    print("\nEvidently's methods (chosen by its defaults):")
    for rows, t in tallies.items():
        methods = ", ".join(f"{c} {' | '.join(sorted(m))}" for c, m in t["methods"].items())
        print(f"{rows:>6}: {methods}")


if __name__ == "__main__":
    main()
