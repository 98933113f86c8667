"""Split scikit-learn's bundled digits data set into train and test files.

Runs offline: the data ships inside scikit-learn. Used by workflows/train-evaluate.yml.
"""
import argparse
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="data")
parser.add_argument("--test-size", type=float, default=0.25)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=args.test_size, random_state=args.seed, stratify=y
)
os.makedirs(args.out, exist_ok=True)
np.savez_compressed(os.path.join(args.out, "train.npz"), X=X_train, y=y_train)
np.savez_compressed(os.path.join(args.out, "test.npz"), X=X_test, y=y_test)
print(f"{len(y_train)} training and {len(y_test)} test samples in {args.out}/")
