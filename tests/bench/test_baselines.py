import importlib.util

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score

from fnnlab.bench.baselines import (
    BASELINE_GRIDS,
    BASELINES,
    baseline_extra,
    baseline_parameters,
    baseline_tasks,
    check_baselines,
)

# Optional baselines and the fastest settings that still fit the tiny sets below.
_FAST = {"xgboost": {"n_estimators": 20}, "lightgbm": {"n_estimators": 20, "min_child_samples": 5},
         "catboost": {"iterations": 30}, "realmlp": {"n_epochs": 32}, "tabm": {"n_epochs": 8}}


def _installed(name):
    try:
        check_baselines([name])
    except ImportError:
        return False
    return True


def _tiny(task, n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    if task == "classification":
        y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1.0)  # 3 classes
    else:
        y = (2.0 * X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=n)).astype(np.float32)
    return X[:80], y[:80], X[80:], y[80:]


@pytest.mark.parametrize("name", BASELINES.names())
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_each_baseline_fits_and_predicts_its_tasks(name, task):
    if task not in baseline_tasks(name):
        with pytest.raises(ValueError, match=f"does not do {task}"):
            BASELINES.create(name, task=task)
        return
    if not _installed(name):
        pytest.skip(f"{name} needs pip install 'fnnlab[{baseline_extra(name)}]'")
    X, y, X_test, y_test = _tiny(task)
    model = BASELINES.create(name, task=task, seed=0, **_FAST.get(name, {})).fit(X, y)
    pred = np.asarray(model.predict(X_test)).reshape(len(X_test))
    if task == "classification" and hasattr(model, "predict_proba"):  # SVC has none
        proba = model.predict_proba(X_test)
        assert proba.shape == (len(X_test), 3)
        np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    if task == "classification":
        # Majority class is ~45% of the rows; every baseline must beat it clearly.
        assert accuracy_score(y_test, pred.astype(np.int64)) > 0.6
    else:
        # The target is linear plus 5% noise: every baseline explains most of it.
        assert r2_score(y_test, pred) > 0.5


@pytest.mark.parametrize("name", BASELINES.names())
def test_grids_name_real_parameters_and_gbdt_grids_hold_the_default(name):
    if not _installed(name):
        pytest.skip(f"{name} is not installed")
    assert set(BASELINE_GRIDS[name]) <= baseline_parameters(name)
    if baseline_extra(name) == "gbdt":
        defaults = BASELINES.create(name).get_params()
        for param, values in BASELINE_GRIDS[name].items():
            default = defaults.get(param)
            # XGBoost leaves its defaults as None in get_params; they are 0.3 and 6.
            default = {("xgboost", "learning_rate"): 0.3, ("xgboost", "max_depth"): 6,
                       ("catboost", "depth"): 6}.get((name, param), default)
            assert default in values, (name, param, default, values)


def test_seed_makes_a_baseline_reproducible():
    X, y, X_test, _ = _tiny("regression")
    a = BASELINES.create("rf", task="regression", seed=3, n_estimators=10).fit(X, y).predict(X_test)
    b = BASELINES.create("rf", task="regression", seed=3, n_estimators=10).fit(X, y).predict(X_test)
    c = BASELINES.create("rf", task="regression", seed=4, n_estimators=10).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_check_baselines_names_the_extra_of_a_missing_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda mod, *a: None if mod == "catboost" else real(mod, *a))
    with pytest.raises(ImportError, match=r"pip install 'fnnlab\[gbdt\]'"):
        check_baselines(["svm", "catboost"])
    check_baselines(["svm", "rf"], tasks=["regression", "classification"])


def test_check_baselines_rejects_unknown_names_and_unsupported_tasks():
    with pytest.raises(ValueError, match="Did you mean 'xgboost'"):
        check_baselines(["xgbost"])
    with pytest.raises(ValueError, match="'logreg' does not do regression"):
        check_baselines(["rf", "logreg"], tasks=["classification", "regression"])
    with pytest.raises(ValueError, match="Unknown task"):
        check_baselines(["rf"], tasks=["ranking"])
    with pytest.raises(ValueError, match="task must be"):
        BASELINES.create("rf", task="ranking")


def test_every_baseline_knows_its_tasks_and_extra():
    for name in BASELINES.names():
        assert set(baseline_tasks(name)) <= {"classification", "regression"}
        assert name in BASELINE_GRIDS
    assert baseline_tasks("logreg") == ("classification",)
    assert baseline_extra("lgbm") == "gbdt" and baseline_extra("svm") is None
    assert baseline_extra("realmlp") == "pytabkit"
