"""``fnnlab predict``: score raw rows with a model saved by ``fnnlab train``.

    fnnlab predict model.pt new_rows.csv --out predictions.csv

DATA is a bundled data set name or a data file with the same feature columns the
model was trained on (a target column, if present, is ignored). The checkpoint's
fitted :class:`~fnnlab.data.Preprocessor` (rebuilt with ``Preprocessor.from_dict``:
training means and scales, one-hot categories, imputation values) is applied, then
the model; a regression model's standardized predictions are mapped back to the
target's units with the saved :class:`~fnnlab.data.TargetScaler`. The output CSV has a
``prediction`` column (the class label, or the value; ``prediction_<target>`` for
several targets) and, for
classifiers, one ``proba_<class>`` column per class. Without ``--out`` the CSV goes
to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``predict`` subcommand."""
    p = subparsers.add_parser(
        "predict", help="predict with a model saved by fnnlab train",
        description="Apply a saved model (and its preprocessing) to the rows of DATA.",
    )
    p.add_argument("model", metavar="MODEL", help="checkpoint written by fnnlab train")
    p.add_argument("data", metavar="DATA", help="bundled data set name or data file path")
    p.add_argument("--out", default=None, help="output CSV (default: stdout)")
    return p


def _frame(data_arg: str, target: list[str]) -> pd.DataFrame:
    from fnnlab import data

    path = Path(data_arg)
    if path.suffix in (".csv", ".gz") and path.is_file():
        header = pd.read_csv(path, nrows=0).columns
        if not set(target) <= set(map(str, header)):
            # Rows to score need no target column; read them through pandas directly.
            return pd.read_csv(path)
    table = data.load(data_arg, target=target[0] if len(target) == 1 else target)
    return table.X


def run(args: argparse.Namespace) -> int:
    """Load the checkpoint and the rows, predict, write the CSV."""
    import torch

    import fnnlab
    from fnnlab.data import Preprocessor, TargetScaler, dataset_name
    from fnnlab.likelihoods import resolve
    from fnnlab.training import read
    from fnnlab.training.predict import outputs as model_outputs

    extra = read(args.model).get("extra", {})
    if "preprocessor" not in extra:
        raise ValueError(f"{args.model} holds no fitted preprocessor (it was not written by "
                         f"this version of fnnlab train); retrain it with fnnlab train, or "
                         f"predict from Python with fnnlab.training.predict.")
    model = fnnlab.load(args.model)
    preprocessor = Preprocessor.from_dict(extra["preprocessor"])
    preprocessor.name = dataset_name(args.data)  # errors name the rows being scored
    X = preprocessor.transform(_frame(args.data, extra["target"]))
    likelihood = resolve(extra["likelihood"], torch.empty(0))
    out = model_outputs(model, X)
    result = pd.DataFrame(index=range(len(X)))
    prediction = likelihood.predict(out)
    if extra.get("target_scaler") is not None:
        prediction = TargetScaler.from_dict(extra["target_scaler"]).inverse_transform(prediction)
    prediction = prediction.numpy()
    if extra.get("classes") is not None:
        classes = np.asarray(extra["classes"], dtype=object)
        result["prediction"] = classes[prediction]
        proba = likelihood.predict_proba(out).numpy()
        for k, label in enumerate(classes):
            result[f"proba_{label}"] = proba[:, k]
    elif prediction.ndim == 2 and prediction.shape[1] > 1:
        for k, name in enumerate(extra["target"]):
            result[f"prediction_{name}"] = prediction[:, k]
    else:
        result["prediction"] = prediction.reshape(len(X))
    if args.out:
        result.to_csv(args.out, index=False)
        print(f"wrote {len(result)} predictions to {args.out}")
    else:
        result.to_csv(sys.stdout, index=False)
    return 0
