"""Train a logistic regression on the iris CSV; write the model and its metrics.

The regularisation C comes from params.yaml (`train.C`), so that a change to it
makes a new model: a new version of `iris` in mlci's model registry.
"""
import argparse
import csv
import json
import os
import pickle

import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--data", default="data/iris.csv")
parser.add_argument("--params", default="params.yaml")
parser.add_argument("--out", default="model")
parser.add_argument("--metrics", default="metrics/train.json")
args = parser.parse_args()

params = yaml.safe_load(open(args.params))["train"]
with open(args.data) as f:
    rows = list(csv.DictReader(f))
X = [[float(r[c]) for c in ("sepal_length", "sepal_width", "petal_length", "petal_width")] for r in rows]
y = [r["species"] for r in rows]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
model = LogisticRegression(C=float(params["C"]), max_iter=1000).fit(X_train, y_train)
accuracy = accuracy_score(y_test, model.predict(X_test))

os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "model.pkl"), "wb") as f:
    pickle.dump(model, f)
os.makedirs(os.path.dirname(args.metrics) or ".", exist_ok=True)
with open(args.metrics, "w") as f:
    json.dump({"accuracy": accuracy, "C": params["C"]}, f)
print(f"C={params['C']} accuracy={accuracy:.3f}")
