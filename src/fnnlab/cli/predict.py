"""``fnnlab predict``: score raw rows with a model saved by ``fnnlab train``.

    fnnlab predict model.pt new_rows.csv --out predictions.csv

DATA is a bundled data set name or a data file (CSV, Parquet, npz) with the same
feature columns the model was trained on; it needs no target column. A target column
that is there and complete (no blank cell) gives a score, accuracy or r2, printed
beside the predictions; a blank, single-class or absent target is fine. The checkpoint's
fitted :class:`~fnnlab.data.Preprocessor` (rebuilt with ``Preprocessor.from_dict``:
training means and scales, one-hot categories, imputation values) is applied, then
the model; a regression model's standardized predictions are mapped back to the
target's units with the saved :class:`~fnnlab.data.TargetScaler`. The output CSV has a
``prediction`` column (the class label, or the value; ``prediction_<target>`` for
several targets) and, for
classifiers, one ``proba_<class>`` column per class. A model of several binary tasks
(trained with several 0/1 target columns) gives one probability column per task
instead, ``proba_<target>`` = P(target = 1), and its score is the mean ROC AUC over
the labels the file has (blank cells are missing labels). Without ``--out`` the CSV
goes to stdout.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

# What fnnlab train stores in a checkpoint's extra and predict reads back.
_NEEDED = ("likelihood", "target", "preprocessor")


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


def _rows(data_arg: str, targets: list[str], missing_ok: bool = False
          ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The feature columns of DATA, and its target columns when all are there and complete.

    ``missing_ok``: blank target cells are missing labels (several binary tasks).
    """
    from fnnlab import data

    if data_arg in data.BUNDLED:
        frame = data.load(data_arg).frame
    else:
        frame = data.read_rows(data_arg)
    present = [t for t in targets if t in frame.columns]
    features = frame.drop(columns=present)
    complete = len(present) == len(targets) and (
        missing_ok or not frame[present].isna().any().any())
    return features, frame[present] if complete else None


def _checkpoint_extra(path: str) -> dict:
    """The checkpoint's ``extra`` entries that predict needs, each checked to be there."""
    from fnnlab.training import read

    extra = read(path).get("extra", {})
    if "preprocessor" not in extra:
        raise ValueError(f"{path} holds no fitted preprocessor (it was not written by "
                         f"this version of fnnlab train); retrain it with fnnlab train, or "
                         f"predict from Python with fnnlab.training.predict.")
    missing = [key for key in _NEEDED if key not in extra]
    if missing:
        raise ValueError(f"{path} lacks the entries {missing} that fnnlab train writes next to "
                         f"the model; the file was damaged or written by another program. "
                         f"Retrain it with fnnlab train.")
    return extra


def _score(truth: pd.DataFrame, prediction: np.ndarray, classes: list | None,
           proba: np.ndarray | None = None) -> str:
    """'accuracy 0.9333', 'r2 0.8123' or (tasks) 'roc_auc 0.7712' on the rows' own targets."""
    from sklearn.metrics import r2_score

    from fnnlab.training.metrics import METRICS

    if proba is not None:
        labels = truth.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
        if not np.isin(labels[~np.isnan(labels)], (0.0, 1.0)).all():
            return ""
        return f"roc_auc {METRICS.get('roc_auc')(labels, proba > 0.5, proba):.4f}"
    if classes is not None:
        labels = truth.iloc[:, 0].map(str).to_numpy()
        return f"accuracy {np.mean(labels == prediction.astype(str)):.4f}"
    values = pd.DataFrame(truth).apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    if len(values) < 2 or not np.isfinite(values).all():
        return ""
    return f"r2 {r2_score(values, prediction.reshape(values.shape)):.4f}"


def run(args: argparse.Namespace) -> int:
    """Load the checkpoint and the rows, predict, write the CSV."""
    import torch

    import fnnlab
    from fnnlab.data import Preprocessor, TargetScaler, dataset_name
    from fnnlab.likelihoods import resolve
    from fnnlab.training.predict import outputs as model_outputs

    extra = _checkpoint_extra(args.model)
    model = fnnlab.load(args.model)
    preprocessor = Preprocessor.from_dict(extra["preprocessor"])
    preprocessor.name = dataset_name(args.data)  # errors name the rows being scored
    targets = list(extra["target"])
    # Several binary tasks: bernoulli with one output per target column.
    tasks = extra["likelihood"] == "bernoulli" and len(targets) > 1
    features, truth = _rows(args.data, targets, missing_ok=tasks)
    X = preprocessor.transform(features)
    likelihood = resolve(extra["likelihood"], torch.empty(0))
    out = model_outputs(model, X)
    result = pd.DataFrame(index=range(len(X)))
    if tasks:
        proba = likelihood.predict_proba(out).numpy().reshape(len(X), len(targets))
        for k, name in enumerate(targets):
            result[f"proba_{name}"] = proba[:, k]
        score = "" if truth is None else _score(truth, proba, None, proba)
        return _write(result, args.out, score)
    prediction = likelihood.predict(out)
    if extra.get("target_scaler") is not None:
        prediction = TargetScaler.from_dict(extra["target_scaler"]).inverse_transform(prediction)
    prediction = prediction.numpy()
    classes = extra.get("classes")
    if classes is not None:
        prediction = np.asarray(classes, dtype=object)[prediction]
        result["prediction"] = prediction
        proba = likelihood.predict_proba(out).numpy()
        for k, label in enumerate(classes):
            result[f"proba_{label}"] = proba[:, k]
    elif prediction.ndim == 2 and prediction.shape[1] > 1:
        for k, name in enumerate(extra["target"]):
            result[f"prediction_{name}"] = prediction[:, k]
    else:
        result["prediction"] = prediction.reshape(len(X))
    score = "" if truth is None else _score(truth, prediction, classes)
    return _write(result, args.out, score)


def _write(result: pd.DataFrame, out: str | None, score: str) -> int:
    """Write the predictions to ``out`` (stdout for None), and the score beside them."""
    if out:
        result.to_csv(out, index=False)
        print(f"wrote {len(result)} predictions to {out}"
              + (f"; {score} against the file's targets" if score else ""))
    else:
        result.to_csv(sys.stdout, index=False)
        if score:
            print(f"fnnlab predict: {score} against the file's targets", file=sys.stderr)
    return 0
