"""Model files shared between ml4t and XGBoost's own Python package.

1. A model ml4t trains and saves loads in xgboost.Booster and predicts the same
   probabilities on the same rows (real FILUSDT features), within 1e-6.
2. A model trained in Python, saved as UBJSON with a manifest written here
   (SHA-256 by hashlib), loads in ml4t and predicts the same values, through
   both the flat evaluator and XGBoost's C API.
3. ml4t refuses that directory when the manifest's checksum or feature list is
   wrong.

Runs with Debian's /usr/bin/python3 (python3-xgboost, python3-numpy); drives
build/bin/ml4t-model-tool. Exits non-zero on failure.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import xgboost as xgb

TOL = 1e-6  # float32 trees in both; only the final sigmoid's precision differs
BIN = os.environ.get("ML4T_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))
TOOL = os.path.join(BIN, "ml4t-model-tool")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def tool(*args, ok=True):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise SystemExit(f"ml4t-model-tool {' '.join(args)} failed: {r.stderr}")
    return r


def read_rows(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
    return header[:-1], data[:, :-1].astype(np.float32), data[:, -1].astype(np.float32)


def predictions(output):
    return np.array([float(v) for v in output.split()])


def write_manifest(directory, booster_file, names, n_samples):
    with open(os.path.join(directory, booster_file), "rb") as f:
        blob = f.read()
    manifest = {
        "schema_version": 1,
        "ml4t_version": "python-test",
        "model_version": "py-" + hashlib.sha256(blob).hexdigest()[:8],
        "objective": "binary:logistic",
        "created": {"utc": "2023-12-01T00:00:00.000000000Z", "ns": "1701388800000000000"},
        "booster": {
            "file": booster_file,
            "format": "ubj",
            "bytes": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
        },
        "features": names,
        "training_window": {"first_ts_ns": "1698796800000000000",
                            "last_ts_ns": "1699000000000000000", "n_samples": n_samples},
        "labels": {"pt_multiplier": 2.0, "sl_multiplier": 1.0, "max_holding_bars": 60},
        "class_balance": {"method": "none", "positive_rate": 0.45, "scale_pos_weight": 1.0},
        "params": {"trained_by": "xgboost " + xgb.__version__},
        "metrics": {"auc": 0.5},
    }
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def main():
    with tempfile.TemporaryDirectory(prefix="ml4t_interop_") as tmp:
        rows = os.path.join(tmp, "rows.csv")
        tool("rows", rows, "8000")
        names, X, y = read_rows(rows)
        check(X.shape == (8000, 10) and np.isnan(X).any(), f"{X.shape[0]} real rows with NaNs")

        # 1. ml4t -> Python
        model = os.path.join(tmp, "c_model", "model.ubj")
        tool("train", rows, model, "60", "5")
        manifest = json.load(open(os.path.join(tmp, "c_model", "manifest.json")))
        blob = open(model, "rb").read()
        check(manifest["booster"]["sha256"] == hashlib.sha256(blob).hexdigest(),
              "manifest sha256 equals hashlib's digest of model.ubj")
        check(manifest["features"] == names, "manifest lists the features in order")
        bst = xgb.Booster(model_file=model)
        check(bst.num_boosted_rounds() == 60, "Python sees 60 boosted rounds")
        py = bst.predict(xgb.DMatrix(X, missing=np.nan, feature_names=names))
        flat = predictions(tool("predict", model, rows).stdout)
        via_c = predictions(tool("predict", model, rows, "--xgb").stdout)
        d1, d2 = np.max(np.abs(flat - py)), np.max(np.abs(via_c - py))
        check(d1 <= TOL, f"ml4t flat evaluator vs Python xgboost: max diff {d1:.3g} <= {TOL}")
        check(d2 <= TOL, f"ml4t XGBoost C path vs Python xgboost: max diff {d2:.3g} <= {TOL}")

        # 2. Python -> ml4t
        pdir = os.path.join(tmp, "py_model")
        os.makedirs(pdir)
        params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 4,
                  "eta": 0.2, "subsample": 0.9, "seed": 7, "nthread": 1}
        dtrain = xgb.DMatrix(X[:6000], label=y[:6000], missing=np.nan, feature_names=names)
        pbst = xgb.train(params, dtrain, num_boost_round=40)
        ppath = os.path.join(pdir, "model.ubj")
        pbst.save_model(ppath)
        write_manifest(pdir, "model.ubj", names, 6000)
        want = pbst.predict(xgb.DMatrix(X, missing=np.nan, feature_names=names))
        got = predictions(tool("predict", ppath, rows).stdout)
        got_c = predictions(tool("predict", ppath, rows, "--xgb").stdout)
        d3, d4 = np.max(np.abs(got - want)), np.max(np.abs(got_c - want))
        check(len(got) == len(want), f"ml4t predicted all {len(want)} rows of the Python model")
        check(d3 <= TOL, f"Python model in ml4t flat evaluator: max diff {d3:.3g} <= {TOL}")
        check(d4 <= TOL, f"Python model through ml4t's XGBoost path: max diff {d4:.3g}")
        info = json.loads(tool("info", ppath).stdout)
        check(info["model_version"].startswith("py-") and info["metrics"]["auc"] == 0.5,
              "ml4t reads the Python-written manifest fields")

        # 3. refusals
        m = json.load(open(os.path.join(pdir, "manifest.json")))
        m["booster"]["sha256"] = "0" * 64
        json.dump(m, open(os.path.join(pdir, "manifest.json"), "w"))
        r = tool("predict", ppath, rows, ok=False)
        check(r.returncode == 1 and "booster.sha256" in r.stderr,
              "a wrong sha256 is refused: " + r.stderr.strip()[:100])
        write_manifest(pdir, "model.ubj", names, 6000)
        swapped = list(names)
        swapped[0], swapped[1] = swapped[1], swapped[0]
        m = json.load(open(os.path.join(pdir, "manifest.json")))
        m["features"] = swapped
        json.dump(m, open(os.path.join(pdir, "manifest.json"), "w"))
        r = tool("predict", ppath, rows, ok=False)
        check(r.returncode == 1 and "features" in r.stderr,
              "a feature list that differs from the CSV is refused: " + r.stderr.strip()[:100])
        r = tool("info", ppath, ok=False)
        check(r.returncode == 1 and "booster feature 0" in r.stderr,
              "a manifest that disagrees with the booster's own names is refused")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all interop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
