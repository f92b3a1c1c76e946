"""``fnnlab predict``: score raw rows with a model saved by ``fnnlab train``.

    fnnlab predict model.pt new_rows.csv --out predictions.csv

DATA is a bundled data set name or a data file with the same feature columns the
model was trained on (a target column, if present, is ignored). The checkpoint's
preprocessing (training means and scales, one-hot categories, imputation values)
is applied, then the model. The output CSV has a ``prediction`` column (the class
label, or the value; ``prediction_<target>`` for several targets) and, for
classifiers, one ``proba_<class>`` column per class. Without ``--out`` the CSV goes
to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

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


def _features(frame: pd.DataFrame, state: dict[str, Any]) -> np.ndarray:
    """Apply the saved preprocessing: z = (x - mean) / scale; one-hot with saved categories.

    Mirrors :class:`fnnlab.data.Preprocessor` (StandardScaler, OneHotEncoder with
    ``handle_unknown="ignore"``, optional SimpleImputer) from its fitted values.
    """
    blocks = []
    for kind in ("numeric", "categorical"):
        part = state.get(kind)
        if not part:
            continue
        missing = [c for c in part["columns"] if c not in frame.columns]
        if missing:
            raise ValueError(f"DATA lacks feature column(s) {missing} the model was trained on.")
        for j, column in enumerate(part["columns"]):
            values = frame[column]
            if kind == "numeric":
                x = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
                bad = ~np.isfinite(x) & values.notna().to_numpy()
                if bad.any():
                    raise ValueError(f"Column {column!r} has non-numeric or infinite values in "
                                     f"{int(bad.sum())} row(s), e.g. row {int(bad.argmax())}.")
            else:
                x = values.astype(object).map(str, na_action="ignore").to_numpy(object)
            isna = pd.isna(x)
            if isna.any():
                if part["fill"] is None:
                    raise ValueError(
                        f"Column {column!r} has {int(isna.sum())} missing value(s) and the model "
                        f"was trained without imputation. Fill or drop those rows.")
                x[isna] = part["fill"][j]
            if kind == "numeric":
                blocks.append(((x - part["mean"][j]) / part["scale"][j])[:, None])
            else:
                cats = np.asarray(part["categories"][j], dtype=object)
                blocks.append((x[:, None] == cats[None, :]).astype(np.float64))
    return np.hstack(blocks).astype(np.float32)


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
    from fnnlab.likelihoods import resolve
    from fnnlab.training import read
    from fnnlab.training.predict import outputs as model_outputs

    extra = read(args.model).get("extra", {})
    if "preprocessing" not in extra:
        raise ValueError(f"{args.model} was not written by fnnlab train (no preprocessing "
                         f"saved); use fnnlab.training.predict from Python instead.")
    model = fnnlab.load(args.model)
    frame = _frame(args.data, extra["target"])
    X = _features(frame, extra["preprocessing"])
    likelihood = resolve(extra["likelihood"], torch.empty(0))
    out = model_outputs(model, X)
    result = pd.DataFrame(index=range(len(X)))
    prediction = likelihood.predict(out).numpy()
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
