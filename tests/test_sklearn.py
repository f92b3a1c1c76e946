"""FNNClassifier / FNNRegressor: scikit-learn's estimator checks and the workflows users rely on."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fnnlab.models import FNNSpec, build
from fnnlab.sklearn import FNNClassifier, FNNRegressor
from fnnlab.training import fit

# Tiny nets and few epochs keep the ~90 fits of the estimator checks fast; adam with
# lr=0.01 still learns the blobs / make_regression problems the learning checks use.
SMALL = dict(depth=2, width=16, epochs=10, batch_size=32, optimizer="adam", lr=0.01)


def small_classifier(**kw):
    return FNNClassifier(**{**SMALL, "random_state": 0, **kw})


def small_regressor(**kw):
    return FNNRegressor(**{**SMALL, "random_state": 0, **kw})


@parametrize_with_checks([small_classifier(), small_regressor()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture
def binary():
    X, y = make_classification(n_samples=160, n_features=6, n_informative=4, random_state=0)
    return StandardScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_init_stores_parameters_unchanged():
    clf = FNNClassifier(method="msra", depth=3, dropout=0.5, optimizer="nope", epochs=-1)
    assert clf.get_params()["method"] == "msra" and clf.optimizer == "nope"
    assert clf.epochs == -1 and clf.dropout == 0.5  # validated only in fit


def test_classifier_learns_iris_with_string_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = small_classifier(epochs=30).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert clf.predict(X).dtype == names.dtype
    assert clf.score(X, names) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), atol=1e-10)
    assert clf.decision_function(X).shape == (150, 3)


def test_binary_decision_function_is_log_odds_of_second_class(binary):
    X, y = binary
    clf = small_classifier().fit(X, np.where(y == 1, "yes", "no"))
    d = clf.decision_function(X)
    p = clf.predict_proba(X)
    assert d.shape == (len(X),)
    np.testing.assert_allclose(d, np.log(p[:, 1] / p[:, 0]), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(clf.predict(X), np.where(d > 0, "yes", "no"))


def test_fitted_attributes(binary):
    X, y = binary
    clf = small_classifier(epochs=3)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert clf.fit(X, y) is clf
    assert clf.n_features_in_ == 6 and clf.n_iter_ == 3
    assert clf.spec_ == FNNSpec(in_features=6, out_features=2, depth=2, width=16, method="snn")
    assert clf.model_.spec == clf.spec_
    assert clf.history_["epoch"].tolist() == [1, 2, 3]
    assert not hasattr(clf, "feature_names_in_")


def test_dataframe_sets_feature_names_and_warns_on_arrays(binary):
    X, y = binary
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    clf = small_classifier(epochs=2).fit(frame, pd.Series(y))
    assert clf.feature_names_in_.tolist() == list(frame.columns)
    np.testing.assert_array_equal(clf.predict(frame), small_classifier(epochs=2).fit(X, y)
                                  .predict(X))
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[frame.columns[::-1]])


def test_same_random_state_gives_identical_predictions(binary):
    X, y = binary
    a = small_classifier(random_state=3).fit(X, y).predict_proba(X)
    b = small_classifier(random_state=3).fit(X, y).predict_proba(X)
    c = small_classifier(random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_trains_the_network_build_and_fit_train_with_the_same_seed(binary):
    X, y = binary
    clf = small_classifier(random_state=5).fit(X, y)
    torch.manual_seed(5)
    model = build(clf.spec_)
    fit(model, (torch.from_numpy(X), torch.from_numpy(y)), likelihood="categorical",
        optimizer="adam", lr=0.01, epochs=10, batch_size=32, seed=5, progress=False)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(clf.model_.state_dict()[name], value, rtol=0, atol=0)


def test_fit_twice_equals_fit_once_on_second_data(binary, iris):
    X, y = binary
    Xi, yi = iris
    twice = small_classifier().fit(X, y).fit(Xi, yi)
    once = small_classifier().fit(Xi, yi)
    assert twice.n_features_in_ == 4 and twice.classes_.tolist() == [0, 1, 2]
    assert twice.n_iter_ == once.n_iter_ and len(twice.history_) == len(once.history_)
    np.testing.assert_array_equal(twice.predict_proba(Xi), once.predict_proba(Xi))


def test_warm_start_continues_training(binary):
    X, y = binary
    clf = small_classifier(epochs=4, warm_start=True).fit(X, y)
    first = clf.model_
    loss_before = clf.history_["train_loss"].iloc[-1]
    clf.fit(X, y)
    assert clf.model_ is first and clf.n_iter_ == 8
    assert clf.history_["epoch"].tolist() == list(range(1, 9))
    # More epochs on the same data keep lowering the training loss.
    assert clf.history_["train_loss"].iloc[-1] < loss_before
    with pytest.raises(ValueError, match="warm_start=False"):
        clf.set_params(depth=3).fit(X, y)


def test_warm_start_rejects_new_classes(binary):
    X, y = binary
    clf = small_classifier(epochs=2, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match=r"labels \[2\] that are not in classes_"):
        clf.fit(X, np.where(y == 1, 2, 0))


def test_partial_fit_trains_one_epoch_per_call(binary):
    X, y = binary
    clf = small_classifier()
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:80], y[:80], classes=[0, 1])
    clf.partial_fit(X[80:], y[80:])
    assert clf.n_iter_ == 2 and clf.history_["epoch"].tolist() == [1, 2]
    for _ in range(10):
        clf.partial_fit(X, y)
    assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)


def test_partial_fit_accepts_classes_missing_from_the_first_batch(iris):
    X, y = iris
    clf = small_classifier().partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    clf.partial_fit(X, y)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.predict_proba(X).shape == (150, 3)


def test_regressor_multi_output_and_likelihoods():
    X, y = make_regression(n_samples=200, n_features=5, n_targets=3, noise=1.0,
                           random_state=0)
    y = StandardScaler().fit_transform(y)
    reg = small_regressor(epochs=40).fit(X, y)
    assert reg.n_outputs_ == 3 and reg.predict(X).shape == (200, 3)
    assert reg.score(X, y) > 0.9
    column = small_regressor(epochs=2).fit(X, y[:, :1])
    assert column.predict(X).shape == (200, 1)
    assert small_regressor(epochs=2).fit(X, y[:, 0]).predict(X).shape == (200,)
    counts = np.random.default_rng(0).poisson(2.0, size=200)
    poisson = small_regressor(likelihood="poisson", epochs=2).fit(X, counts)
    assert (poisson.predict(X) > 0).all()


def test_bad_parameters_raise_in_fit(binary):
    X, y = binary
    with pytest.raises(ValueError, match="epochs must be >= 1, got 0"):
        small_classifier(epochs=0).fit(X, y)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        small_classifier(batch_size=3.5).fit(X, y)
    with pytest.raises(ValueError, match="lr must be > 0"):
        small_classifier(lr=0.0).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction must be in"):
        small_classifier(early_stopping=2, validation_fraction=1.0).fit(X, y)
    with pytest.raises(ValueError, match="Unknown method 'nope'"):
        small_classifier(method="nope").fit(X, y)
    with pytest.raises(ValueError, match="regression likelihood"):
        small_regressor(likelihood="categorical").fit(X, y.astype(float))
    with pytest.raises(ValueError, match="2 classes"):
        small_classifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="negative"):
        small_regressor(likelihood="poisson").fit(X, y - 1.0)


def test_fit_refuses_one_sample_with_a_clear_error():
    # Batch norm cannot train on one row; the estimator says so instead of torch.
    with pytest.raises(ValueError, match="1 sample"):
        small_regressor(method="batchnorm").fit(np.ones((1, 3)), [1.0])


def test_early_stopping_holds_out_validation_data(binary):
    X, y = binary
    clf = small_classifier(epochs=200, early_stopping=3, validation_fraction=0.25).fit(X, y)
    assert "valid_loss" in clf.history_.columns
    assert clf.n_iter_ < 200


def test_pickle_round_trip_predicts_the_same(binary):
    X, y = binary
    clf = small_classifier().fit(pd.DataFrame(X, columns=list("abcdef")), y)
    restored = pickle.loads(pickle.dumps(clf))
    frame = pd.DataFrame(X, columns=list("abcdef"))
    np.testing.assert_array_equal(restored.predict_proba(frame), clf.predict_proba(frame))
    assert restored.spec_ == clf.spec_ and restored.get_params() == clf.get_params()
    assert clone(restored).get_params() == clf.get_params()
    # The restored optimizer still drives the restored network: training goes on alike.
    before = clf.predict_proba(frame)
    clf.partial_fit(frame, y)
    restored.partial_fit(frame, y)
    assert np.abs(clf.predict_proba(frame) - before).max() > 1e-4
    np.testing.assert_array_equal(restored.predict_proba(frame), clf.predict_proba(frame))


def test_pipeline_grid_search_over_method_and_depth(iris):
    X, y = load_iris(return_X_y=True, as_frame=True)
    pipe = make_pipeline(StandardScaler(), small_classifier(epochs=15))
    grid = GridSearchCV(pipe, {"fnnclassifier__method": ["snn", "msra"],
                               "fnnclassifier__depth": [1, 2]}, cv=2, n_jobs=2)
    grid.fit(X, y)
    assert set(grid.cv_results_["param_fnnclassifier__method"]) == {"snn", "msra"}
    assert grid.best_score_ > 0.8
    assert grid.score(X, y) > 0.8


def test_cross_val_score_regressor_in_pipeline():
    X, y = make_regression(n_samples=150, n_features=4, noise=5.0, random_state=1)
    pipe = make_pipeline(StandardScaler(), small_regressor(epochs=30))
    scores = cross_val_score(pipe, X, y / y.std(), cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


def test_defaults_are_a_deep_snn_that_stops_when_the_loss_stops_improving(binary):
    X, y = binary
    clf = FNNClassifier(random_state=0)
    assert (clf.method, clf.depth, clf.early_stopping, clf.validation_fraction) == (
        "snn", 8, 10, None)
    clf.fit(X, y)
    assert "valid_loss" not in clf.history_.columns  # nothing held out by default
    assert clf.n_iter_ < 100
    # Stopped because the last 10 epochs did not lower the best training loss by tol.
    losses = clf.history_["train_loss"].to_numpy()
    assert losses[-10:].min() > losses[:-10].min() - clf.tol
    assert clf.score(X, y) > 0.9


def test_sparse_input_is_densified(binary):
    import scipy.sparse as sp

    X, y = binary
    X = np.where(np.abs(X) > 1, X, 0).astype(np.float32)
    dense = small_classifier().fit(X, y)
    sparse = small_classifier().fit(sp.csr_matrix(X), y)
    np.testing.assert_array_equal(sparse.predict_proba(sp.csc_matrix(X)),
                                  dense.predict_proba(X))


def test_sparse_input_beyond_the_limit_is_a_clear_error(binary, monkeypatch):
    import scipy.sparse as sp

    import fnnlab.sklearn as fs

    X, y = binary
    monkeypatch.setattr(fs, "_MAX_DENSE", 100)
    with pytest.raises(ValueError, match=r"densifies sparse input, but X of shape \(160, 6\) "
                                         r"has 960 cells, more than the limit of 100"):
        small_classifier().fit(sp.csr_matrix(X), y)


def test_a_dataframe_with_a_string_column_names_it(binary):
    X, y = binary
    frame = pd.DataFrame(X, columns=list("abcdef")).assign(color="red")
    with pytest.raises(ValueError, match=r"column 'color' of X holds non-numeric values "
                                         r"\(e\.g\. 'red' in row 0\).*OneHotEncoder"):
        small_classifier().fit(frame, y)


def test_validation_fraction_and_lr_are_checked_even_when_unused(binary):
    X, y = binary
    with pytest.raises(ValueError,
                       match=r"validation_fraction must be in \(0, 1\).*or None.*got 1\.5"):
        small_classifier(early_stopping=None, validation_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match="lr must be > 0 and finite, got inf"):
        small_classifier(lr=float("inf")).fit(X, y)


def test_read_only_input_predicts_without_warnings(binary):
    import warnings

    X, y = binary
    clf = small_classifier(epochs=2).fit(X, y)
    X = X.astype(np.float64)
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "array is not writable" would fail here
        clf.predict_proba(X)


def test_multilabel_y_with_missing_labels_trains_one_sigmoid_per_task():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] + X[:, 3] > 0], 1).astype(float)
    Y[rng.random(Y.shape) < 0.3] = np.nan
    Y[0] = np.nan  # a row without any label: dropped with a warning
    with pytest.warns(UserWarning, match="dropped"):
        clf = FNNClassifier(**SMALL, random_state=0).fit(X, Y)
    assert clf.multilabel_ and clf.classes_.tolist() == [0, 1, 2]
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and ((proba > 0) & (proba < 1)).all()
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    # The same network fit trains on the same data with the masked bernoulli loss.
    with pytest.warns(UserWarning, match="dropped"):
        ref = fit(build(clf.spec_, seed=0), (torch.tensor(X), torch.tensor(Y).float()),
                  likelihood="bernoulli", optimizer="adam", lr=0.01, epochs=10,
                  batch_size=32, seed=0)
    assert clf.history_["train_loss"].iloc[0] == pytest.approx(
        ref.history["train_loss"].iloc[0], rel=1e-5)
    with pytest.raises(ValueError, match="0/1, NaN"):
        FNNClassifier(**SMALL).fit(X, np.nan_to_num(Y) * 2)
    Y[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"target column 'y\[:, 1\]' has no observed label"):
        FNNClassifier(**SMALL).fit(X, Y)


def test_multilabel_score_is_subset_accuracy_over_the_observed_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0], 1).astype(float)
    clf = FNNClassifier(**SMALL, random_state=0).fit(X, Y)
    # Without missing labels it is scikit-learn's subset accuracy on the label matrix.
    assert clf.score(X, Y) == pytest.approx(accuracy_score(Y, clf.predict(X)))
    # A missing label cannot make a row wrong; a row without labels is left out.
    pred = clf.predict(X)
    Y_missing = Y.copy()
    Y_missing[:, 1] = np.where(pred[:, 1] != Y[:, 1], np.nan, Y[:, 1])
    Y_missing[0] = np.nan
    right = (pred[1:, 0] == Y[1:, 0]).mean()
    assert clf.score(X, Y_missing) == pytest.approx(right)
    weights = np.arange(120.0)
    expected = np.average(pred[1:, 0] == Y[1:, 0], weights=weights[1:])
    assert clf.score(X, Y_missing, sample_weight=weights) == pytest.approx(expected)
