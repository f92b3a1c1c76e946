"""``fnnlab train``: train one FNN on a data set and save it.

    fnnlab train breast_cancer --method snn --depth 8 --width 256 --epochs 100 --out model.pt
    fnnlab train data.csv --target label --optimizer adam --lr 1e-3 --early-stopping 10
    fnnlab train breast_cancer --ensemble 16 --early-stopping 10
    fnnlab train tox21.csv.gz --target 'target_*' --method snn --epochs 5

DATA is a bundled data set name or a data file (CSV, Parquet, npz) read by
:func:`fnnlab.data.load`. The data are split into train / valid / test
(:func:`fnnlab.data.split`, preprocessing fitted on the training rows), the model
is built from an :class:`~fnnlab.models.FNNSpec` and trained with
:func:`fnnlab.fit` (``--ensemble K``: K members trained as one stacked model by
:func:`fnnlab.fit_ensemble`, saved as one ensemble). The checkpoint holds the spec,
the weights, the likelihood, the
class labels, the fitted :class:`~fnnlab.data.Preprocessor` (``preprocessor.to_dict()``)
and, for regression, the :class:`~fnnlab.data.TargetScaler`, so ``fnnlab predict`` can
score raw rows.

``--scaling`` picks how numeric features are scaled (``fnnlab.data.scaling``):
``standard`` z-scores (the default), or ``robust`` / ``quantile`` for heavy-tailed
features such as Tox21's RDKit descriptors; ``none`` leaves them as they are. The
scaling is fitted on the training rows and stored, fitted, in the checkpoint.

Regression targets are standardized with the training mean and standard deviation
before training (gaussian and laplace likelihoods): the network learns t = (y - mean) /
std, whatever the units of y, and predictions and the printed test scores are mapped
back to y's units. The history's losses are in standardized units. The default
learning rate is 0.01 for classification and 0.001 for regression.

Several target columns (``--target a,b`` or a glob ``--target 'target_*'``) that hold
0/1 labels are binary tasks: one sigmoid output each (likelihood bernoulli), a missing
label is skipped by the loss and the metrics, and the command prints the mean and the
per-task validation ROC AUC.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING

from fnnlab.cli.args import output_path, positive_float, scaling

if TYPE_CHECKING:
    from torch.nn import Module

    from fnnlab.data import Dataset, Table
    from fnnlab.likelihoods import Likelihood

# Default learning rates by task. Squared error's Hessian in the head's weights is
# 2 E[h h^T], whose trace is 2 * width for unit-variance features h, and no output unit
# saturates it as softmax does cross-entropy's: on diabetes (standardized targets, 8x256
# SNN, SGD) lr=0.005 diverged in epoch 1 while 0.003 and 0.001 converged.
_LR = {"classification": 0.01, "regression": 0.001}

# Likelihoods whose prediction moves with y -> a + b y (location units): on standardized
# targets they learn the same model, and the prediction maps back by the inverse affine map.
_SCALED_TARGET_LIKELIHOODS = ("gaussian", "laplace")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand."""
    from fnnlab.data import IMPUTE_STRATEGIES, NON_NUMERIC
    from fnnlab.likelihoods import LIKELIHOODS
    from fnnlab.models import METHODS
    from fnnlab.training import OPTIMIZERS, SCHEDULES

    p = subparsers.add_parser(
        "train", help="train an FNN on a data set and save it",
        description="Split DATA into train/valid/test, train an FNN with fnnlab.fit, print "
                    "the test score and save the model (spec + weights + preprocessing).",
    )
    p.add_argument("data", metavar="DATA", help="bundled data set name or data file path")
    p.add_argument("--target", default="target", type=_targets,
                   help="target column (default: target); several, separated by commas, or "
                        "a glob such as 'target_*' (0/1 columns: binary tasks)")
    p.add_argument("--out", default="model.pt", type=output_path,
                   help="checkpoint path (default: model.pt)")
    p.add_argument("--method", default="snn", help=f"preset: {', '.join(METHODS.names())}")
    p.add_argument("--depth", type=int, default=8, help="hidden blocks (default 8)")
    p.add_argument("--width", type=int, default=256, help="units per layer (default 256)")
    p.add_argument("--dropout", type=float, default=None, help="hidden dropout rate")
    p.add_argument("--likelihood", default=None,
                   help=f"{', '.join(LIKELIHOODS.names())} (default: from the task)")
    p.add_argument("--optimizer", default="sgd", help=f"{', '.join(OPTIMIZERS.names())}")
    p.add_argument("--lr", type=positive_float, default=None,
                   help=f"learning rate (default {_LR['classification']}; "
                        f"{_LR['regression']} for regression)")
    p.add_argument("--schedule", default="constant", help=f"{', '.join(SCHEDULES.names())}")
    p.add_argument("--warmup", type=int, default=0, help="warm-up epochs (default 0)")
    p.add_argument("--epochs", type=int, default=100, help="epochs (default 100)")
    p.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 coefficient")
    p.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without a lower validation loss")
    p.add_argument("--ensemble", type=int, default=1, metavar="K",
                   help="train K members as one stacked model and average them "
                        "(fnnlab.fit_ensemble; early stopping on the ensemble); default 1")
    p.add_argument("--valid", type=float, default=0.15, help="validation fraction (0.15)")
    p.add_argument("--test", type=float, default=0.2, help="test fraction (0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of split, init and training")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--precision", default="fp32", help="fp32 or bf16")
    p.add_argument("--history", default=None, metavar="CSV", type=output_path,
                   help="write the history here")
    p.add_argument("--kind", action="append", default=[], metavar="COLUMN=KIND",
                   help="declare a feature column numeric or categorical (repeatable); "
                        "others are inferred")
    p.add_argument("--non-numeric", default="error", choices=NON_NUMERIC,
                   help="values that are not numbers in a numeric column: an error "
                        "(default) or missing values (then pass --impute)")
    p.add_argument("--impute", default=None, choices=IMPUTE_STRATEGIES,
                   help="fill missing feature values with this training statistic "
                        "(default: missing values are an error)")
    p.add_argument("--scaling", default="standard", type=scaling,
                   help="how numeric features are scaled, fitted on the training rows: "
                        "standard (z-scores, default), robust (RealMLP's median/quartile "
                        "scaling with smooth clipping), quantile (to a normal), none; "
                        "robust or quantile for heavy-tailed features")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    return p


def run(args: argparse.Namespace) -> int:
    """Load, split, build, fit, score on the test split, save."""

    import fnnlab
    from fnnlab import data
    from fnnlab.likelihoods import resolve
    from fnnlab.models import FNNSpec, build
    from fnnlab.training import METRICS
    from fnnlab.training.metrics import default_metrics
    from fnnlab.training.predict import outputs as model_outputs

    if args.ensemble < 1:
        raise ValueError(f"--ensemble must be a number of members >= 1, got {args.ensemble}.")
    _check_arguments(args)
    with warnings.catch_warnings(record=True) as caught:
        table = data.load(args.data, target=args.target, kinds=_kinds(args.kind),
                          non_numeric=args.non_numeric)
    for warning in caught:  # about the data (rows without labels, ...): one line each
        print(f"fnnlab train: warning: {warning.message}", file=sys.stderr)
    splits = data.split(table, valid=args.valid, test=args.test, seed=args.seed,
                        impute=args.impute, scaling=args.scaling)
    _check_likelihood(args.likelihood, table)
    tasks = splits.train.multi_label
    likelihood = resolve("bernoulli" if tasks and args.likelihood is None else args.likelihood,
                         splits.train.y)
    target_scaler = (data.TargetScaler().fit(splits.train.y)
                     if likelihood.name in _SCALED_TARGET_LIKELIHOODS else None)
    train, valid = splits.train, splits.valid
    if target_scaler is not None:
        train = replace(train, y=target_scaler.transform(train.y))
        valid = None if valid is None else replace(valid, y=target_scaler.transform(valid.y))
    out_features = splits.n_outputs if tasks else likelihood.n_outputs(
        splits.n_classes if likelihood.task == "classification" else splits.n_outputs)
    spec = FNNSpec(in_features=splits.n_features, out_features=out_features, depth=args.depth,
                   width=args.width, method=args.method, dropout=args.dropout)
    lr = _LR[likelihood.task] if args.lr is None else args.lr
    options = dict(likelihood=likelihood, optimizer=args.optimizer, lr=lr, epochs=args.epochs,
                   batch_size=args.batch_size, early_stopping=args.early_stopping,
                   seed=args.seed, device=args.device, progress=args.progress,
                   weight_decay=args.weight_decay, schedule=args.schedule,
                   warmup=args.warmup, precision=args.precision)
    with warnings.catch_warnings():
        # A divergence is reported below as one line, not as a Python warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        if args.ensemble > 1:
            result = fnnlab.fit_ensemble(spec, train, valid, k=args.ensemble, **options)
        else:
            # The documented seed of the initial weights.
            result = fnnlab.fit(build(spec, seed=args.seed), train, valid, **options)
    model = result.model.cpu()
    classes = None if splits.train.classes is None else [str(c) for c in splits.train.classes]
    fnnlab.save(model, args.out, likelihood=likelihood.name, task=splits.task,
                target=list(table.targets), classes=classes,
                feature_names=list(splits.train.feature_names),
                preprocessor=splits.preprocessor.to_dict(),
                target_scaler=None if target_scaler is None else target_scaler.to_dict())
    if args.history:
        result.history.to_csv(args.history, index=False)
    summary = [f"epochs {len(result.history)} ({result.stop_reason})",
               f"best epoch {result.best_epoch}"]
    if splits.test is not None:
        test = splits.test
        outputs = model_outputs(model, test.X)
        y_pred = likelihood.predict(outputs)
        if target_scaler is not None:
            y_pred = target_scaler.inverse_transform(y_pred)
        y_pred = y_pred.numpy()
        proba = (likelihood.predict_proba(outputs).numpy()
                 if likelihood.task == "classification" else None)
        for name in default_metrics(likelihood.task, splits.n_outputs if tasks else 1):
            value = METRICS.get(name)(test.y.numpy(), y_pred, proba)
            summary.append(f"test {name} {value:.4f}")
    print(f"{table.name}: " + ", ".join(summary) + f"; saved {args.out}")
    if tasks and valid is not None:
        print(_task_aucs(model, likelihood, valid, table.targets))
    if result.stop_reason == "diverged":
        print(f"fnnlab train: warning: {result.message}", file=sys.stderr)
    return 0



def _targets(value: str) -> str | list[str]:
    """``--target a,b`` -> ``["a", "b"]``; one name (or glob) stays a string."""
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"--target takes column names separated by commas, "
                                         f"got an empty name in {value!r}.")
    return names[0] if len(names) == 1 else names


def _task_aucs(model: Module, likelihood: Likelihood, valid: Dataset,
               targets: tuple[str, ...]) -> str:
    """'valid roc_auc 0.7712 (mean of 12 tasks); per task: a 0.7401, ...' of ``model``."""
    import numpy as np

    from fnnlab.training.metrics import per_task
    from fnnlab.training.predict import outputs as model_outputs

    proba = likelihood.predict_proba(model_outputs(model, valid.X)).numpy()
    aucs = per_task("roc_auc", valid.y.numpy(), None, proba)
    each = ", ".join(f"{t} {a:.4f}" for t, a in zip(targets, aucs, strict=True))
    return f"valid roc_auc {np.nanmean(aucs):.4f} (mean of {len(aucs)} tasks); per task: {each}"


def _check_arguments(args: argparse.Namespace) -> None:
    """Checks across arguments, made before any data are read."""
    if args.early_stopping is not None and args.valid == 0:
        raise ValueError("--early-stopping watches the validation loss, but --valid 0 holds "
                         "out no validation rows. Pass --valid 0.15 (say), or drop "
                         "--early-stopping.")


def _kinds(declared: list[str]) -> dict[str, str]:
    """``["zip=categorical"]`` -> ``{"zip": "categorical"}``, checked."""
    from fnnlab.data import KINDS

    kinds = {}
    for item in declared:
        column, _, kind = item.rpartition("=")
        if not column or kind not in KINDS:
            raise ValueError(f"--kind takes COLUMN=KIND with KIND one of {', '.join(KINDS)}, "
                             f"got {item!r}.")
        kinds[column] = kind
    return kinds


def _check_likelihood(name: str | None, table: Table) -> None:
    """Refuse a likelihood made for the other task, naming the target and its values."""
    from fnnlab.likelihoods import LIKELIHOODS

    if name is None:
        return
    task = LIKELIHOODS.get(LIKELIHOODS.canonical(name)).task
    if task == table.task:
        return
    fitting = [n for n in LIKELIHOODS.names() if LIKELIHOODS.get(n).task == table.task]
    values = table.frame[table.targets[0]].head(3).tolist()
    raise ValueError(
        f"--likelihood {name} is for {task}, but the target {table.target!r} of "
        f"{table.name!r} was read as {table.task} (values such as {values}). Pass "
        f"--likelihood {' / '.join(fitting)}, or drop --likelihood to choose by the target."
    )
