"""
The scikit-learn estimator in a pipeline and a grid search
==========================================================

:class:`fnnlab.FNNClassifier` and :class:`fnnlab.FNNRegressor` are ordinary
scikit-learn estimators: they go into a :class:`~sklearn.pipeline.Pipeline`, a
:class:`~sklearn.model_selection.GridSearchCV` and ``cross_val_score``, take NumPy
arrays or pandas DataFrames, and clone and pickle cleanly. Inputs are not scaled
(like ``MLPClassifier``), so a ``StandardScaler`` comes first: SELU and normalized
networks assume standardized features.

Below, a grid search over method and depth on the breast-cancer data, and the
cross-validated accuracy of every grid point.
"""

import os

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fnnlab import FNNClassifier

QUICK = os.environ.get("FNNLAB_DOCS_QUICK") == "1"  # smaller settings for CI builds
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipe = make_pipeline(StandardScaler(),
                     FNNClassifier(width=32, epochs=10 if QUICK else 25, early_stopping=5,
                                   random_state=0))
grid = GridSearchCV(pipe, {"fnnclassifier__method": ["snn", "msra", "batchnorm"],
                           "fnnclassifier__depth": [2, 8] if QUICK else [2, 8, 16]},
                    cv=3)
grid.fit(X_train, y_train)
print("best:", grid.best_params_, "test accuracy:", round(grid.score(X_test, y_test), 4))
net = grid.best_estimator_[-1]
print(net.spec_)

cv = pd.DataFrame(grid.cv_results_)
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for method, part in cv.groupby("param_fnnclassifier__method"):
    ax.errorbar(part["param_fnnclassifier__depth"].astype(int), part["mean_test_score"],
                yerr=part["std_test_score"], marker="o", capsize=3, label=method)
ax.set(xlabel="depth (hidden blocks)", ylabel="3-fold CV accuracy",
       title="GridSearchCV over FNNClassifier(method, depth)")
ax.legend(title="method")
