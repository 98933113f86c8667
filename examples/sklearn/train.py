"""Train a classifier on scikit-learn's bundled digits data set and write its metrics.

Runs offline: the data ships inside scikit-learn. With --data (the output of prepare.py)
it trains on that split and also saves the model as <out>/model.pkl for evaluate.py.
"""
import argparse
import json
import os
import pickle

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--model", choices=["forest", "logistic"], default="forest")
parser.add_argument("--out", default="metrics")
parser.add_argument("--data", help="a directory with train.npz and test.npz (prepare.py)")
parser.add_argument("--n-estimators", type=int, default=100)
args = parser.parse_args()

if args.data:
    import numpy as np

    train = np.load(os.path.join(args.data, "train.npz"))
    test = np.load(os.path.join(args.data, "test.npz"))
    X_train, y_train, X_test, y_test = train["X"], train["y"], test["X"], test["y"]
else:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
model = (
    RandomForestClassifier(n_estimators=args.n_estimators, random_state=0)
    if args.model == "forest"
    else LogisticRegression(max_iter=2000)
)
model.fit(X_train, y_train)
metrics = {
    "accuracy": accuracy_score(y_test, model.predict(X_test)),
    "loss": log_loss(y_test, model.predict_proba(X_test)),
}
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, f"{args.model}.json"), "w") as f:
    json.dump(metrics, f)
if args.data:
    with open(os.path.join(args.out, "model.pkl"), "wb") as f:
        pickle.dump(model, f)
print(f"{args.model}: accuracy={metrics['accuracy']:.3f} loss={metrics['loss']:.3f}")
