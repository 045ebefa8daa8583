"""LightGBM on the rows bench/train-gbdt.ts wrote, with the parameters Flywheel's GBDT defaults mirror.

    python3 bench/support/lightgbm_reference.py <dir> <features>

<dir> holds train.x.f32 / test.x.f32 (row-major float32, <features> columns) and train.y.f64 /
test.y.f64 (float64 labels, 0 or 1). Prints one JSON line: {"auc", "seconds", "version", "threads"};
seconds covers building the Dataset (binning) and training, like the TypeScript figure.
Needs lightgbm, numpy and scikit-learn (`pip install lightgbm numpy scikit-learn`).
"""

import json
import os
import sys
import time

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

PARAMS = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 31,
    "max_depth": -1,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "lambda_l2": 0.0,
    "max_bin": 255,
    "boost_from_average": True,
    "deterministic": True,
    "seed": 7,
    "verbose": -1,
}
ITERATIONS = 100


def load(directory, name, features):
    x = np.fromfile(os.path.join(directory, f"{name}.x.f32"), dtype="<f4").reshape(-1, features)
    y = np.fromfile(os.path.join(directory, f"{name}.y.f64"), dtype="<f8")
    return x, y


def main(directory, features):
    x_train, y_train = load(directory, "train", features)
    x_test, y_test = load(directory, "test", features)
    started = time.perf_counter()
    booster = lgb.train(PARAMS, lgb.Dataset(x_train, label=y_train), num_boost_round=ITERATIONS)
    seconds = time.perf_counter() - started
    auc = roc_auc_score(y_test, booster.predict(x_test))
    threads = os.cpu_count()
    print(json.dumps({"auc": float(auc), "seconds": seconds, "version": lgb.__version__, "threads": threads}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
