"""scikit-learn estimators: ``FNNClassifier`` and ``FNNRegressor``.

Both follow scikit-learn's estimator contract (``__init__`` only stores plain
values, ``fit`` does the work and returns ``self``, fitted attributes end in ``_``)
so they work in ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and pass
``sklearn.utils.estimator_checks``. ``fit`` turns the parameters into an
:class:`~fnnlab.models.FNNSpec` and trains it with the same :func:`fnnlab.models.build`
and :func:`fnnlab.training.fit` as the rest of fnnlab, so

    FNNClassifier(method="snn", depth=8, random_state=0).fit(X, y)

trains the network that ``fit(build(FNNSpec(..., method="snn", depth=8)), (X, y),
likelihood="categorical", seed=0)`` trains, with its weights initialized by
``build(spec, seed=0)``.

By default the estimators do **not** scale their inputs, like scikit-learn's
``MLPClassifier``: self-normalizing networks (and every method here) assume
standardized features, so put a ``StandardScaler`` in front of them in a
``Pipeline``, or pass ``scaling="standard"`` (or ``"robust"`` / ``"quantile"`` for
heavy-tailed features, ``fnnlab.data.scaling``), which fits the scaling on the rows
given to ``fit``; for a regression target far from unit scale, wrap the regressor in
``TransformedTargetRegressor``.

References
----------
Buitinck et al., "API design for machine learning software: experiences from the
scikit-learn project", 2013, arXiv:1309.0238.
"""

from __future__ import annotations

import copy
import math
import numbers
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from scipy import special
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_consistent_length, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fnnlab.data.scaling import SCALINGS
from fnnlab.likelihoods import LIKELIHOODS
from fnnlab.models import FNNSpec, build
from fnnlab.training import fit, fit_ensemble
from fnnlab.training.callbacks import EarlyStopping
from fnnlab.training.optimizers import make_optimizer

__all__ = ["FNNClassifier", "FNNRegressor"]

# Seeds are drawn below this bound so they fit every RNG torch and NumPy have.
_MAX_SEED = np.iinfo(np.int32).max
# Rows per forward pass in predict (bounds the memory of the activations).
_PREDICT_CHUNK = 8192
# Most cells of a sparse X densified (2**28 float32 values = 1 GiB); beyond, an error.
_MAX_DENSE = 2**28


class _FNNEstimator(BaseEstimator):
    """Parameters, validation and training shared by the classifier and the regressor.

    Subclasses set ``_stratify`` (split the early-stopping holdout by class) and define
    ``_validation_options`` (for ``validate_data``), ``_likelihood``, ``_n_classes`` and
    ``_encode_targets`` (labels or values -> the target tensor ``fit`` trains on).
    """

    def __init__(
        self,
        method: str | None = "snn",
        depth: int = 8,
        width: int = 64,
        activation: str | None = None,
        norm: str | None = None,
        init: str | None = None,
        dropout: float | None = None,
        input_dropout: float | None = None,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 200,
        batch_size: int = 64,
        early_stopping: int | None = 10,
        validation_fraction: float | None = None,
        tol: float = 1e-4,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
        warm_start: bool = False,
        verbose: bool = False,
        ensemble: int = 1,
        scaling: str = "none",
    ) -> None:
        self.method = method
        self.depth = depth
        self.width = width
        self.activation = activation
        self.norm = norm
        self.init = init
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.warm_start = warm_start
        self.verbose = verbose
        self.ensemble = ensemble
        self.scaling = scaling

    # -- parameters -------------------------------------------------------------------

    def _check_params(self) -> None:
        """Validate the training parameters; ``FNNSpec`` validates the architecture."""
        name = type(self).__name__
        _check_int(self.epochs, f"{name}.epochs", 1)
        _check_int(self.batch_size, f"{name}.batch_size", 1)
        if self.early_stopping is not None:
            _check_int(self.early_stopping, f"{name}.early_stopping", 1,
                       hint=" (patience in epochs) or None")
        # Checked even when early stopping is off, so a typo never waits for the day it is on.
        if self.validation_fraction is not None and not (
                isinstance(self.validation_fraction, numbers.Real)
                and not isinstance(self.validation_fraction, bool)
                and 0.0 < self.validation_fraction < 1.0):
            raise ValueError(
                f"{name}.validation_fraction must be in (0, 1) (the share held out for "
                f"early stopping) or None (early stopping watches the training loss), got "
                f"{self.validation_fraction!r}."
            )
        _check_int(self.ensemble, f"{name}.ensemble", 1, hint=" (number of members)")
        _check_number(self.lr, f"{name}.lr", positive=True)
        _check_number(self.weight_decay, f"{name}.weight_decay", positive=False)
        _check_number(self.tol, f"{name}.tol", positive=False)
        if self.scaling not in SCALINGS:
            raise ValueError(f"{name}.scaling must be one of {', '.join(SCALINGS.names())}, "
                             f"got {self.scaling!r}.")

    def _spec(self, n_features: int, n_outputs: int) -> FNNSpec:
        return FNNSpec(
            in_features=n_features, out_features=n_outputs, depth=self.depth,
            width=self.width, method=self.method, activation=self.activation, norm=self.norm,
            init=self.init, dropout=self.dropout, input_dropout=self.input_dropout,
        )

    def _seed(self) -> int:
        """The fit's seed: ``random_state`` itself when it is an int, else a fresh draw."""
        if isinstance(self.random_state, numbers.Integral) and not isinstance(
                self.random_state, bool):
            return int(self.random_state) % _MAX_SEED
        return int(check_random_state(self.random_state).randint(_MAX_SEED))

    def _validate_xy(self, X: Any, y: Any, **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """``validate_data`` on ``(X, y)`` with this estimator's options."""
        return validate_data(self, X, y, accept_sparse=True, **options,
                             **self._validation_options())

    # -- training ---------------------------------------------------------------------

    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any = None) -> _FNNEstimator:
        """Shared body of ``fit`` (``incremental=False``) and ``partial_fit``."""
        self._check_params()
        if self.ensemble > 1 and (incremental or self.warm_start):
            raise ValueError(f"{type(self).__name__}(ensemble={self.ensemble}) trains its "
                             f"members in one fit; partial_fit and warm_start need "
                             f"ensemble=1.")
        first = not (incremental or self.warm_start) or not hasattr(self, "model_")
        _check_frame_columns(X, type(self).__name__)
        # Two samples at least: batch statistics and data-dependent inits need them.
        X, y = self._validate_xy(X, y, reset=first,
                                 ensure_min_samples=1 if incremental else 2)
        X = _dense(X, type(self).__name__)
        if first:
            self.scaling_ = SCALINGS.create(self.scaling).fit(X)
        elif self.scaling_.name != SCALINGS.canonical(self.scaling):
            raise ValueError(f"{type(self).__name__} was fitted with scaling="
                             f"{self.scaling_.name!r}, got {self.scaling!r}. Set "
                             f"warm_start=False (or call fit) to train a new network.")
        X = self._scaled(X)
        target, n_outputs = self._encode_targets(y, first=first, classes=classes)
        spec = self._spec(self.n_features_in_, n_outputs)
        if first:
            seed = self._seed()
            self.spec_ = spec
            # Seeded inside fork_rng: reproducible from random_state, and the caller's RNG
            # is left untouched. An ensemble builds its members from the spec itself.
            self.model_ = build(spec, seed=seed) if self.ensemble == 1 else None
            self.n_iter_ = 0
            self.history_ = None
            self._optimizer = None
        elif spec != self.spec_:
            raise ValueError(
                f"{type(self).__name__} was fitted with {self.spec_!r}, but the current "
                f"parameters describe {spec!r}. Set warm_start=False (or call fit instead "
                f"of partial_fit) to train a new network."
            )
        else:
            # Continue with other shuffles than the epochs already run.
            seed = (self._seed() + self.n_iter_) % _MAX_SEED
        x = torch.tensor(X, dtype=torch.float32)
        train: tuple[torch.Tensor, torch.Tensor] = (x, target)
        valid = None
        callbacks: tuple[EarlyStopping, ...] = ()
        if self.early_stopping is not None and not incremental:
            if self.validation_fraction is None:
                # MLPClassifier's rule: stop once the training loss has not fallen by tol
                # for early_stopping (its n_iter_no_change) epochs in a row.
                callbacks = (EarlyStopping(self.early_stopping, min_delta=self.tol),)
            else:
                train, valid = self._holdout(x, target, seed)
        # A namespace with n_classes, so a partial_fit batch that lacks the last classes
        # still trains all outputs.
        data = SimpleNamespace(X=train[0], y=train[1], n_classes=self._n_classes())
        if self.ensemble > 1:
            result = fit_ensemble(
                spec, data, valid, k=self.ensemble, likelihood=self._likelihood(),
                optimizer=self.optimizer, lr=self.lr, weight_decay=self.weight_decay,
                epochs=self.epochs, batch_size=self.batch_size,
                early_stopping=self.early_stopping,
                # Without a held-out part each member watches its own training loss.
                stop_on="member" if valid is None else "ensemble",
                seed=seed, device=self.device, progress=bool(self.verbose))
        else:
            result = fit(
                self.model_, data, valid, likelihood=self._likelihood(),
                optimizer=self._make_optimizer, lr=self.lr, weight_decay=self.weight_decay,
                epochs=1 if incremental else self.epochs, batch_size=self.batch_size,
                early_stopping=None if valid is None else self.early_stopping, seed=seed,
                device=self.device, progress=bool(self.verbose), callbacks=callbacks,
            )
        self.model_ = result.model
        history = result.history.copy()
        history["epoch"] = history["epoch"] + self.n_iter_
        self.history_ = (history if self.history_ is None
                         else pd.concat([self.history_, history], ignore_index=True))
        self.n_iter_ += len(history)
        return self

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        """``X`` through the fitted ``scaling_``; "none" returns ``X`` itself, untouched."""
        return X if self.scaling_.name == "none" else self.scaling_.transform(X)

    def _make_optimizer(self, params: Any, lr: float,
                        weight_decay: float = 0.0) -> torch.optim.Optimizer:
        """The optimizer factory handed to ``fit``: one optimizer per fitted network.

        Warm-start fits and ``partial_fit`` calls reuse it, so momentum and Adam's
        moment estimates carry over as in one long run; ``lr`` and ``weight_decay`` are
        refreshed in case ``set_params`` changed them.
        """
        if self._optimizer is None:
            self._optimizer = make_optimizer(self.optimizer, params, lr,
                                             weight_decay=weight_decay)
        for group in self._optimizer.param_groups:
            group.update(lr=lr, initial_lr=lr, weight_decay=weight_decay)
        return self._optimizer

    def _holdout(self, x: torch.Tensor, target: torch.Tensor, seed: int) -> tuple[Any, Any]:
        """Split off ``validation_fraction`` of the rows for early stopping."""
        stratify = target.numpy() if self._stratify and target.dim() == 1 else None
        try:
            train_idx, valid_idx = train_test_split(
                np.arange(len(x)), test_size=self.validation_fraction, random_state=seed,
                stratify=stratify,
            )
        except ValueError as error:
            raise ValueError(
                f"{type(self).__name__} could not hold out validation_fraction="
                f"{self.validation_fraction} of {len(x)} samples for early stopping: {error} "
                f"Pass more samples, a larger validation_fraction, or early_stopping=None."
            ) from None
        train_idx, valid_idx = torch.as_tensor(train_idx), torch.as_tensor(valid_idx)
        return (x[train_idx], target[train_idx]), (x[valid_idx], target[valid_idx])

    def _outputs(self, X: Any) -> np.ndarray:
        """Raw network outputs for ``X`` in float64, shape (n_samples, n_outputs).

        Note [float64 predictions]: the float32 matrix kernels round differently for
        different numbers of rows, so a row's float32 output changes in the 8th digit
        with the batch it came in. scikit-learn requires predictions that do not depend
        on the batch (``check_methods_subset_invariance``), so predictions run on a
        float64 copy of the trained network; its weights equal the float32 ones exactly.
        """
        check_is_fitted(self)
        _check_frame_columns(X, type(self).__name__)
        X = self._scaled(_dense(validate_data(self, X, reset=False, dtype=np.float64,
                                              accept_sparse=True), type(self).__name__))
        model = copy.deepcopy(self.model_).double().eval()
        device = next(model.parameters()).device
        # A read-only input (a memory-mapped or broadcast array) is copied: torch cannot
        # wrap it without a warning, and the network must not see memory it may not write.
        x = torch.from_numpy(np.require(X, requirements="W"))
        with torch.no_grad():
            chunks = [model(x[i:i + _PREDICT_CHUNK].to(device)).cpu()
                      for i in range(0, len(x), _PREDICT_CHUNK)]
        return torch.cat(chunks).numpy()

    def __sklearn_tags__(self):  # noqa: D105 - scikit-learn's tags API (>= 1.6)
        tags = super().__sklearn_tags__()
        # Bit-identical refits need CPU kernels; CUDA's are not deterministic by default.
        tags.non_deterministic = self.device != "cpu"
        tags.input_tags.sparse = True
        return tags


def _check_number(value: Any, name: str, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} and finite, got "
                         f"{value!r}.")


def _check_frame_columns(X: Any, name: str) -> None:
    """Raise naming the first DataFrame column that holds text instead of numbers."""
    if not isinstance(X, pd.DataFrame):
        return
    for column in X.columns:
        values = X[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        parsed = pd.to_numeric(values, errors="coerce")
        bad = parsed.isna() & values.notna()
        if bad.any():
            first = values[bad].iloc[0]
            raise ValueError(
                f"{name}: column {column!r} of X holds non-numeric values (e.g. {first!r} "
                f"in row {values.index[bad][0]!r}); the network takes numbers only. Encode "
                f"it (OneHotEncoder or OrdinalEncoder in a ColumnTransformer) or drop it."
            )


def _dense(X: Any, name: str) -> np.ndarray:
    """``X`` as a dense array; a sparse matrix is densified if it has at most _MAX_DENSE cells.

    The network's first layer takes dense tensors, so sparse input is densified; the limit
    keeps a large sparse matrix from silently filling the memory.
    """
    if not sp.issparse(X):
        return X
    cells = X.shape[0] * X.shape[1]
    if cells > _MAX_DENSE:
        raise ValueError(
            f"{name} densifies sparse input, but X of shape {X.shape} has {cells:,} cells, "
            f"more than the limit of {_MAX_DENSE:,} ({_MAX_DENSE * 4 / 2**30:.1f} GiB as "
            f"float32). Reduce the features first (e.g. TruncatedSVD) or pass fewer rows "
            f"per call (partial_fit)."
        )
    return X.toarray()


def _check_int(value: Any, name: str, low: int, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int{hint}, got {value!r}.")
    if value < low:
        raise ValueError(f"{name} must be >= {low}{hint}, got {value!r}.")


class FNNClassifier(ClassifierMixin, _FNNEstimator):
    """A deep feedforward network classifier (softmax output, cross-entropy loss).

    Parameters
    ----------
    method : str or None, default="snn"
        Preset from ``fnnlab.models.METHODS`` ("snn", "msra", "batchnorm", "layernorm",
        "weightnorm", "highway", "resnet", ...). The architecture parameters below that
        are None take the preset's choice.
    depth, width : int, default=8, 64
        Number of hidden blocks and units per hidden layer. The default is a deep
        self-normalizing net of modest width, so a first fit takes seconds on a laptop.
    activation, norm, init : str or None, default=None
        Names in ``fnnlab.nn.ACTIVATIONS``, ``NORMS``, ``INITIALIZERS``; None = preset.
    dropout, input_dropout : float or None, default=None
        Dropout rate of the hidden layers and of the input; None = preset (no dropout).
    optimizer : str, default="adam"
        Name in ``fnnlab.training.OPTIMIZERS`` ("sgd", "momentum", "adam", ...).
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        L2 penalty λ (adds λθ to the gradient).
    epochs : int, default=200
        Passes over the training data (the maximum, with early stopping), like
        MLPClassifier's ``max_iter``.
    batch_size : int, default=64
        Minibatch size.
    early_stopping : int or None, default=10
        Patience in epochs, like MLPClassifier's ``n_iter_no_change``. With
        ``validation_fraction=None`` training stops once the training loss has not
        fallen by more than ``tol`` for this many epochs in a row (MLPClassifier's
        default rule). With a ``validation_fraction``, that share of the data
        (stratified) is held out, training stops once its loss has not improved for
        this many epochs, and the best epoch's weights are kept. None trains all
        ``epochs``.
    validation_fraction : float or None, default=None
        Share of the samples held out for early stopping, in (0, 1); None holds out
        nothing and watches the training loss. Checked even when ``early_stopping``
        is None.
    tol : float, default=1e-4
        The least decrease of the training loss that counts as an improvement when
        ``validation_fraction`` is None (one network; ``ensemble`` members ignore it).
    random_state : int, RandomState or None, default=None
        Seed of the weight initialization, the minibatch order and dropout. An int
        gives the same network on every fit (on CPU); None gives a different one.
    device : str, default="cpu"
        "cpu", "cuda" or "auto"; the fitted ``model_`` stays on this device.
    warm_start : bool, default=False
        If True, ``fit`` continues training the fitted network for ``epochs`` more
        epochs instead of starting anew (the data must have the same features and
        classes, and the architecture parameters must not change).
    verbose : bool, default=False
        Show a progress bar.
    ensemble : int, default=1
        Members trained as one stacked model by :func:`fnnlab.fit_ensemble` (seeds
        ``seed, seed + 1, ...``); with a ``validation_fraction``, early stopping on the
        ensemble's validation loss, without one each member stops on its own training
        loss (without ``tol``). ``predict_proba`` averages their probabilities. 1
        trains one network.
    scaling : {"none", "standard", "robust", "quantile"}, default="none"
        How the features are scaled before the network (``fnnlab.data.scaling``):
        not at all, z-scores, RealMLP's robust scaling with smooth clipping, or a
        quantile map to a normal. Fitted on the ``X`` of ``fit`` (the first batch of
        ``partial_fit``), as a scaler in a ``Pipeline`` would be.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; ``0..n_tasks-1`` for several binary tasks.
    multilabel_ : bool
        Whether ``y`` was several binary tasks (one sigmoid output each; then
        ``predict`` returns 0/1 columns and ``predict_proba`` P(y_t = 1) per task).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names, when ``X`` was a DataFrame with string column names.
    spec_ : FNNSpec
        The architecture that was built.
    model_ : fnnlab.models.FNN or fnnlab.training.bagging.Ensemble
        The trained network (a ``torch.nn.Module``); it outputs logits (for
        ``ensemble > 1``: the ensemble, whose softmax is the members' mean probability).
    history_ : pandas.DataFrame
        One row per epoch trained (``fnnlab.training.FitResult.history``; epochs keep
        counting across ``warm_start`` fits and ``partial_fit`` calls).
    n_iter_ : int
        Number of epochs trained.
    scaling_ : fnnlab.data.Scaling
        The scaling fitted on the training features.

    Notes
    -----
    Inputs are not standardized by default; pass ``scaling="standard"`` or use
    ``make_pipeline(StandardScaler(), FNNClassifier())``.
    Training runs in float32; predictions run in float64 (Note [float64 predictions]).
    Sparse ``X`` is densified (at most 2**28 cells); a DataFrame column holding text is
    an error that names the column (encode it first, e.g. with a ``ColumnTransformer``).

    Expected time with the defaults: about 50 µs per sample and epoch on one CPU core,
    so a fit on 1,000 samples × 20 features takes about 3 s (about 50 epochs before the
    training loss stops improving) and on 10,000 samples about 35 s; never more than 200
    epochs. ``check_estimator(FNNClassifier())`` takes about 40 s of CPU time
    (``benchmarks/bench_sklearn.py --check-estimator``).
    """

    _stratify = True

    def _validation_options(self) -> dict[str, Any]:
        return {"dtype": np.float32}

    def _validate_xy(self, X: Any, y: Any, **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """Several label columns (0/1, NaN where missing) skip scikit-learn's y checks."""
        shape = np.asarray(y).shape
        if len(shape) != 2 or shape[1] < 2:
            return super()._validate_xy(X, y, **options)
        X = validate_data(self, X, accept_sparse=True, **options, **self._validation_options())
        y = check_array(y, ensure_all_finite="allow-nan", dtype=np.float64, input_name="y")
        check_consistent_length(X, y)
        return X, y

    def _likelihood(self) -> str:
        return "bernoulli" if self.multilabel_ else "categorical"

    def _n_classes(self) -> int | None:
        return 2 if self.multilabel_ else len(self.classes_)

    def _encode_labels(self, y: np.ndarray, first: bool) -> tuple[torch.Tensor, int]:
        """Several binary tasks: 0/1 labels, NaN where missing -> float (N, T)."""
        labels = y[~np.isnan(y)]
        if not np.isin(labels, (0.0, 1.0)).all():
            raise ValueError(
                f"FNNClassifier takes a 2-D y as several binary tasks (multi-label: 0/1, NaN "
                f"where a label is missing), but y holds {sorted(set(labels.tolist()))[:5]}. "
                f"Pass one column of class labels, or 0/1 indicator columns."
            )
        if first:
            self.multilabel_, self.classes_ = True, np.arange(y.shape[1])
        elif not self.multilabel_ or len(self.classes_) != y.shape[1]:
            raise ValueError(f"y has shape {y.shape}, unlike the y FNNClassifier was fitted "
                             f"on. Fit anew with warm_start=False.")
        return torch.tensor(y, dtype=torch.float32), y.shape[1]

    def _encode_targets(self, y: np.ndarray, *, first: bool,
                        classes: Any = None) -> tuple[torch.Tensor, int]:
        if y.ndim == 2:
            return self._encode_labels(y, first)
        if first:
            self.multilabel_ = False
        elif self.multilabel_:
            raise ValueError("y has one column of labels, but FNNClassifier was fitted on "
                             "several binary tasks. Fit anew with warm_start=False.")
        check_classification_targets(y)
        if first:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                raise ValueError(
                    f"FNNClassifier needs at least 2 classes, but y has 1 class "
                    f"({labels.tolist()}). Pass samples of every class."
                )
            self.classes_ = labels
        unseen = np.setdiff1d(y, self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels {unseen.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}. Pass every label in `classes` on the first call to "
                f"partial_fit, or fit with warm_start=False."
            )
        return torch.as_tensor(np.searchsorted(self.classes_, y), dtype=torch.int64), len(
            self.classes_)

    def fit(self, X: Any, y: Any) -> FNNClassifier:
        """Train a new network on ``(X, y)`` (or continue, with ``warm_start=True``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Class labels (numbers or strings), or several binary tasks: 0/1 columns
            with NaN where a label is missing (multi-label; the loss skips missing
            labels, rows without any label are dropped with a warning).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> FNNClassifier:
        """Train one epoch on ``(X, y)``, starting a new network on the first call.

        Later calls continue the same network and optimizer state (``early_stopping``
        does not apply; no data are held out).

        Parameters
        ----------
        X, y : as in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            All class labels; required on the first call (a batch may lack some
            classes), ignored afterwards.

        Returns
        -------
        self
        """
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, incremental=True, classes=classes)

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits: shape (n_samples, n_classes), or (n_samples,) log-odds of ``classes_[1]``
        for two classes; (n_samples, n_tasks) log-odds for several binary tasks."""
        z = self._outputs(X)
        if self.multilabel_:
            return z
        return z[:, 1] - z[:, 0] if len(self.classes_) == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities softmax(z), shape (n_samples, n_classes), rows sum to 1.

        Several binary tasks: P(y_t = 1) = sigmoid(z_t), shape (n_samples, n_tasks).
        """
        z = self._outputs(X)
        if self.multilabel_:
            return special.expit(z)  # no overflow warning for very negative logits
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities z - logsumexp(z) (log sigmoid(z_t) for several tasks)."""
        z = self._outputs(X)
        if self.multilabel_:
            return -np.logaddexp(0.0, -z)
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label for each row (0/1 per task for several tasks)."""
        z = self._outputs(X)
        if self.multilabel_:
            return (z > 0).astype(np.int64)
        return self.classes_[np.argmax(z, axis=1)]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy; for several tasks, subset accuracy over the observed labels.

        With several tasks a row counts as right when every label it has is predicted
        right (scikit-learn's subset accuracy, ``accuracy_score`` on a label matrix);
        missing labels (NaN) are skipped, and rows without any label are left out.
        """
        if not getattr(self, "multilabel_", False):
            return super().score(X, y, sample_weight=sample_weight)
        y = np.asarray(y, dtype=float)
        observed = ~np.isnan(y)
        rows = observed.any(axis=1)
        right = ((self.predict(X) == np.nan_to_num(y)) | ~observed).all(axis=1)
        weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
        return float(np.average(right[rows], weights=weight))


class FNNRegressor(RegressorMixin, _FNNEstimator):
    """A deep feedforward network regressor; one or several targets.

    Parameters
    ----------
    likelihood : str, default="gaussian"
        Regression likelihood from ``fnnlab.likelihoods.LIKELIHOODS``: "gaussian"
        (squared error, predicts the mean), "laplace" (absolute error, the median) or
        "poisson" (counts y >= 0, a softplus rate).
    **others
        As in :class:`FNNClassifier` (``early_stopping`` holds out a random, not
        stratified, share).

    Attributes
    ----------
    n_outputs_ : int
        Number of targets.
    spec_, model_, history_, n_iter_, n_features_in_, feature_names_in_, scaling_
        As in :class:`FNNClassifier`.

    Notes
    -----
    Neither inputs (unless ``scaling`` says so) nor targets are standardized; use
    ``TransformedTargetRegressor(FNNRegressor(scaling="standard"),
    transformer=StandardScaler())`` for targets far from unit scale.
    """

    _stratify = False

    def __init__(
        self,
        likelihood: str = "gaussian",
        method: str | None = "snn",
        depth: int = 8,
        width: int = 64,
        activation: str | None = None,
        norm: str | None = None,
        init: str | None = None,
        dropout: float | None = None,
        input_dropout: float | None = None,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        epochs: int = 200,
        batch_size: int = 64,
        early_stopping: int | None = 10,
        validation_fraction: float | None = None,
        tol: float = 1e-4,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
        warm_start: bool = False,
        verbose: bool = False,
        ensemble: int = 1,
        scaling: str = "none",
    ) -> None:
        super().__init__(
            method=method, depth=depth, width=width, activation=activation, norm=norm,
            init=init, dropout=dropout, input_dropout=input_dropout, optimizer=optimizer,
            lr=lr, weight_decay=weight_decay, epochs=epochs, batch_size=batch_size,
            early_stopping=early_stopping, validation_fraction=validation_fraction, tol=tol,
            random_state=random_state, device=device, warm_start=warm_start, verbose=verbose,
            ensemble=ensemble, scaling=scaling,
        )
        self.likelihood = likelihood

    def _validation_options(self) -> dict[str, Any]:
        return {"dtype": np.float32, "multi_output": True, "y_numeric": True}

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _n_classes(self) -> int | None:
        return None

    def _likelihood(self) -> str:
        name = LIKELIHOODS.canonical(self.likelihood)
        if LIKELIHOODS.get(name).task != "regression":
            regression = [n for n in LIKELIHOODS.names()
                          if LIKELIHOODS.get(n).task == "regression"]
            raise ValueError(
                f"FNNRegressor.likelihood must be a regression likelihood "
                f"({', '.join(regression)}), got {self.likelihood!r}. Use FNNClassifier "
                f"for class labels."
            )
        return name

    def _encode_targets(self, y: np.ndarray, *, first: bool,
                        classes: Any = None) -> tuple[torch.Tensor, int]:
        if self._likelihood() == "poisson" and np.any(y < 0):
            raise ValueError(
                f"The poisson likelihood models counts y >= 0, but y has {int((y < 0).sum())} "
                f"negative values. Use likelihood='gaussian'."
            )
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if first:
            self.n_outputs_ = n_outputs
            self._y_ndim = y.ndim
        elif (n_outputs, y.ndim) != (self.n_outputs_, self._y_ndim):
            raise ValueError(
                f"y has shape {y.shape}, but {type(self).__name__} was fitted on "
                f"{self.n_outputs_} target(s) of {self._y_ndim} dimension(s). Fit anew with "
                f"warm_start=False."
            )
        # Always (N, T): a 1-D y and the column y[:, None] then train the same network.
        return torch.tensor(y, dtype=torch.float32).reshape(len(y), n_outputs), n_outputs

    def fit(self, X: Any, y: Any) -> FNNRegressor:
        """Train a new network on ``(X, y)`` (or continue, with ``warm_start=True``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any) -> FNNRegressor:
        """Train one epoch on ``(X, y)``, starting a new network on the first call.

        Later calls continue the same network and optimizer state (``early_stopping``
        does not apply; no data are held out). Returns self.
        """
        return self._fit(X, y, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions shaped like the training targets: (n_samples,) or (n_samples, T)."""
        z = torch.from_numpy(self._outputs(X))
        pred = LIKELIHOODS.create(self._likelihood()).predict(z).numpy()

        return pred[:, 0] if self._y_ndim == 1 else pred
