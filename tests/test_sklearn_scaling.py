"""FNNClassifier / FNNRegressor ``scaling=``: the fitted scaling, then the same network."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fnnlab.data import SCALINGS
from fnnlab.sklearn import FNNClassifier, FNNRegressor

SMALL = dict(depth=2, width=16, epochs=5, batch_size=32, lr=0.01, random_state=0)


@pytest.fixture
def heavy():
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    X[:, 0] = np.exp(3 * X[:, 0])  # heavy right tail
    X[:, 1] = (X[:, 1] > 1).astype(float)  # a sparse 0/1 column
    return X, y


@pytest.mark.parametrize("name", ["standard", "robust", "quantile"])
def test_scaling_equals_training_on_the_scaled_features(heavy, name):
    X, y = heavy
    train, new = X[:150], X[150:]
    clf = FNNClassifier(scaling=name, **SMALL).fit(train, y[:150])
    # The scaling is fitted on fit's rows only, after the float32 conversion fit makes.
    scaling = SCALINGS.create(name).fit(train.astype(np.float32))
    for field, values in scaling.parameters_.items():
        np.testing.assert_array_equal(clf.scaling_.parameters_[field], values)
    plain = FNNClassifier(**SMALL).fit(scaling.transform(train.astype(np.float32)), y[:150])
    np.testing.assert_array_equal(clf.predict_proba(new),
                                  plain.predict_proba(scaling.transform(new)))


def test_default_leaves_the_features_alone(heavy):
    X, y = heavy
    reg = FNNRegressor(**SMALL).fit(X, y.astype(float))
    assert reg.scaling == "none" and reg.scaling_.name == "none"
    assert reg._scaled(X) is X


def test_unknown_scaling_names_the_known_ones(heavy):
    X, y = heavy
    with pytest.raises(ValueError, match="FNNClassifier.scaling must be one of none, quantile, "
                                         "robust, standard, got 'quantil'"):
        FNNClassifier(scaling="quantil", **SMALL).fit(X, y)


def test_warm_start_refuses_another_scaling(heavy):
    X, y = heavy
    clf = FNNClassifier(scaling="robust", warm_start=True, **SMALL).fit(X, y)
    clf.set_params(scaling="quantile")
    with pytest.raises(ValueError, match="fitted with scaling='robust', got 'quantile'"):
        clf.fit(X, y)
