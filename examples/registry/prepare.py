"""Write scikit-learn's bundled iris data set as a CSV file, one row a flower.

Runs offline: the data ships inside scikit-learn. Used by workflows/registry.yml,
whose `validate:` step checks the file against examples/registry/iris.schema.yml.
"""
import argparse
import csv
import os

from sklearn.datasets import load_iris

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="data/iris.csv")
args = parser.parse_args()

iris = load_iris()
os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
with open(args.out, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
    for features, label in zip(iris.data, iris.target):
        writer.writerow([*(f"{x:.1f}" for x in features), iris.target_names[label]])
print(f"{len(iris.target)} rows in {args.out}")
