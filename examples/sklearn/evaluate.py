"""Evaluate every model under --models on the test split and write the metrics.

The top-level `accuracy` and `loss` are the best model's (what the workflow's gates
check); `models.<name>.*` keeps each model's numbers. Used by workflows/train-evaluate.yml.
"""
import argparse
import json
import os
import pickle

import numpy as np
from sklearn.metrics import accuracy_score, log_loss

parser = argparse.ArgumentParser()
parser.add_argument("--data", default="data")
parser.add_argument("--models", default="model")
parser.add_argument("--out", default="metrics/eval.json")
args = parser.parse_args()

test = np.load(os.path.join(args.data, "test.npz"))
X, y = test["X"], test["y"]
results = {}
for name in sorted(os.listdir(args.models)):
    path = os.path.join(args.models, name, "model.pkl")
    if not os.path.isfile(path):
        continue
    with open(path, "rb") as f:
        model = pickle.load(f)
    results[name] = {
        "accuracy": float(accuracy_score(y, model.predict(X))),
        "loss": float(log_loss(y, model.predict_proba(X), labels=model.classes_)),
    }
if not results:
    raise SystemExit(f"no model.pkl under {args.models}/: run train.py with --data first")

best = max(results, key=lambda n: results[n]["accuracy"])
metrics = {
    "accuracy": results[best]["accuracy"],
    "loss": results[best]["loss"],
    "best_model": best,
    "models": results,
}
os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
with open(args.out, "w") as f:
    json.dump(metrics, f, indent=2)
for name, r in results.items():
    print(f"{name}: accuracy={r['accuracy']:.3f} loss={r['loss']:.3f}")
print(f"best: {best}")
