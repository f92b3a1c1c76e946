"""Tests for fnnlab.data.suites: suite names, folders, lists, and Source."""

import pickle

import pandas as pd
import pytest

from fnnlab.data import SUITES, Source, suite


def test_quick_suite_is_the_bundled_classification_sets():
    sources = suite("quick")
    assert [s.name for s in sources] == ["iris", "wine", "breast_cancer", "digits"]
    assert all(s.path is None and not s.has_paper_splits for s in sources)
    assert len(sources[0].load()) == 150


def test_unknown_suite_lists_known_suites():
    with pytest.raises(ValueError, match=r"Unknown suite 'quik'\. Known suites: quick"):
        suite("quik")
    assert "quick" in SUITES


def test_folder_without_csv_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="holds no CSV files"):
        suite(tmp_path)
    with pytest.raises(FileNotFoundError, match="No such data folder"):
        suite(str(tmp_path / "absent"))


def test_explicit_list_of_names_and_files(tmp_path):
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "target": [0, 1, 0, 1]}).to_csv(
        tmp_path / "mine.csv", index=False)
    sources = suite(["wine", tmp_path / "mine.csv"])
    assert sources == [Source("wine"), Source("mine", tmp_path / "mine.csv")]
    assert sources[1].load().name == "mine"
    assert pickle.loads(pickle.dumps(sources[1])) == sources[1]
    with pytest.raises(ValueError, match="Unknown dataset 'wien'. Did you mean 'wine'"):
        suite(["wien"])
    with pytest.raises(ValueError, match=r"more than once"):
        suite(["wine", "wine"])
    with pytest.raises(ValueError, match="no paper split file"):
        Source("wine").paper_split()


def test_shared_folder_suite_has_paper_splits(shared_data):
    sources = suite(shared_data)
    assert len(sources) == 23 and all(s.has_paper_splits for s in sources)
    iris = next(s for s in sources if s.name == "iris")
    assert len(iris.paper_split().test) == 37
