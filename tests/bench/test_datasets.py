import numpy as np
import pandas as pd

from fnnlab.bench.datasets import describe, fingerprint
from fnnlab.data import Source


def _csv(path, values):
    pd.DataFrame({"a": values, "target": [0, 1] * (len(values) // 2)}).to_csv(path, index=False)
    return Source(path.stem, path)


def test_fingerprint_follows_the_content_not_the_name(tmp_path):
    values = np.linspace(0, 1, 20)
    a = fingerprint(_csv(tmp_path / "a.csv", values), "random")
    b = fingerprint(_csv(tmp_path / "b.csv", values), "random")
    assert a == b and len(a) == 16
    edited = values.copy()
    edited[3] += 1e-6  # one cell changed
    assert fingerprint(_csv(tmp_path / "a.csv", edited), "random") != a


def test_bundled_data_sets_have_distinct_stable_fingerprints():
    iris = fingerprint(Source("iris"), "random")
    assert iris == fingerprint(Source("iris"), "random")
    assert iris != fingerprint(Source("wine"), "random")


def test_describe_gives_task_classes_and_tabarenas_fold_count(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"a": np.arange(30.0), "target": np.linspace(0.5, 99.7, 30)}).to_csv(
        path, index=False)
    facts = describe(Source("r", path), "cv")
    assert (facts.task, facts.n_classes, facts.n_folds) == ("regression", None, 30)
    assert facts.fingerprint == fingerprint(Source("r", path), "random")
    iris = describe(Source("iris"), "random")
    assert (iris.task, iris.n_classes, iris.n_folds) == ("classification", 3, 1)
