"""Tests for fnnlab.data.loaders: bundled sets, files, folders, and bad files."""

import gzip
import pickle

import numpy as np
import pandas as pd
import pytest

from fnnlab.data import (
    BUNDLED,
    csv_files,
    load,
    load_csv,
    load_dir,
    load_file,
    load_npz,
    load_parquet,
    split,
)


def _frame(n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "size": rng.normal(size=n).round(6),
        "count": np.arange(n),
        "color": ["red", "green", "blue"] * (n // 3),
        "target": ["a", "b"] * (n // 2),
    })


def test_bundled_iris_and_diabetes():
    iris = load("iris")
    assert (len(iris), len(iris.kinds), len(iris.classes)) == (150, 4, 3)
    diabetes = load("diabetes")
    assert diabetes.task == "regression" and diabetes.y.dtype == np.float32


def test_every_bundled_dataset_loads_and_splits():
    for name in BUNDLED.names():
        parts = split(load(name), seed=0)
        assert parts.name == name and parts.n_features > 0


def test_unknown_name_suggests_the_closest_and_lists_known():
    with pytest.raises(ValueError, match=r"Unknown dataset 'irs'\. Did you mean 'iris'\?.*"
                                         r"Known datasets: breast_cancer, .*path to a data file"):
        load("irs")


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_table_files_round_trip(tmp_path, suffix):
    df = _frame()
    path = tmp_path / f"toy{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)
    table = load(path)
    assert table.name == "toy" and table.classes.tolist() == ["a", "b"]
    assert table.kinds == {"size": "numeric", "count": "numeric", "color": "categorical"}
    pd.testing.assert_frame_equal(table.frame, df, check_dtype=False)


def test_npz_round_trip(tmp_path):
    X = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    y = np.arange(10) % 2
    np.savez(tmp_path / "arr.npz", X=X, y=y, feature_names=np.array(["p", "q", "r"]))
    table = load_file(tmp_path / "arr.npz")
    assert list(table.kinds) == ["p", "q", "r"] and table.y.tolist() == y.tolist()
    np.testing.assert_array_equal(table.X.to_numpy(np.float32), X)


def test_custom_target_column(tmp_path):
    df = _frame().rename(columns={"target": "label"})
    df.to_csv(tmp_path / "t.csv", index=False)
    assert load_csv(tmp_path / "t.csv", target="label").classes.tolist() == ["a", "b"]
    with pytest.raises(ValueError, match=r"t\.csv: .*no target column 'target'.*'label'.*target="):
        load_csv(tmp_path / "t.csv")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such data file"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="No such data file"):
        load(tmp_path / "nope.csv")


@pytest.mark.parametrize(("content", "match"), [
    (b"", "is empty"),
    (b"   \n\n", "is empty"),
    (b"a,b,target\n", "header but no rows"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file: it contains binary data"),
    (b'a,target\n1,0\n2,1,7,8\n"x', "cannot be parsed as CSV"),
    (b"a,target\n\xff\xfe,1\n", "not UTF-8 text"),
])
def test_bad_csv_files_get_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_csv(path)


def test_corrupt_gzip_is_reported(tmp_path):
    (tmp_path / "bad.csv.gz").write_bytes(b"this is not gzip")
    with pytest.raises(ValueError, match="not a readable gzip file"):
        load_csv(tmp_path / "bad.csv.gz")
    with gzip.open(tmp_path / "empty.csv.gz", "wb"):
        pass
    with pytest.raises(ValueError, match="is empty"):
        load_csv(tmp_path / "empty.csv.gz")


def test_bad_parquet_and_npz_files(tmp_path):
    (tmp_path / "x.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="cannot be read as Parquet"):
        load_parquet(tmp_path / "x.parquet")
    np.savez(tmp_path / "nokey.npz", X=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"no array 'y'.*np\.savez\(path, X=X, y=y\)"):
        load_npz(tmp_path / "nokey.npz")
    np.savez(tmp_path / "obj.npz", X=np.zeros((2, 2)), y=np.array([{}, {}], dtype=object))
    with pytest.raises(ValueError, match="without pickle"):
        load_npz(tmp_path / "obj.npz")


def test_unknown_suffix_and_folder(tmp_path):
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"suffix '\.xlsx' is not one of \.csv"):
        load_file(tmp_path / "data.xlsx")
    with pytest.raises(ValueError, match="is a folder; use load_dir"):
        load_csv(tmp_path)
    with pytest.raises(ValueError, match="is a folder; use load_dir"):
        load(tmp_path)


def test_load_dir_reads_every_csv_sorted_by_name(tmp_path):
    df = _frame()
    df.to_csv(tmp_path / "b.csv", index=False)
    df.to_csv(tmp_path / "a.csv.gz", index=False)
    (tmp_path / "notes.txt").write_text("not data")
    tables = load_dir(tmp_path)
    assert list(tables) == ["a", "b"] and len(tables["a"]) == 12
    pickle.loads(pickle.dumps(tables["a"]))  # tables travel to worker processes


def test_load_dir_without_csv_files(tmp_path):
    with pytest.raises(ValueError, match="holds no CSV files"):
        load_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="No such data folder"):
        load_dir(tmp_path / "missing")


def test_real_uci_iris(shared_data):
    table = load_csv(shared_data / "iris.csv.gz")
    assert (len(table), len(table.kinds), len(table.classes)) == (150, 4, 3)
    assert table.classes.tolist() == [0, 1, 2] and table.task == "classification"


def test_shared_folder_lists_all_23_datasets(shared_data):
    manifest = pd.read_csv(shared_data / "MANIFEST.csv")
    names = [f.name.removesuffix(".csv.gz") for f in csv_files(shared_data)]
    assert len(names) == 23 and names == sorted(manifest["name"])


def test_folder_skips_manifest_and_rejects_csv_without_target(tmp_path):
    _frame().to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"name": ["a"], "rows": [12]}).to_csv(tmp_path / "MANIFEST.csv", index=False)
    assert [f.name for f in csv_files(tmp_path)] == ["a.csv"]
    pd.DataFrame({"x": [1], "label": [0]}).to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ValueError, match=r"b\.csv has no target column 'target'.*'x', 'label'"):
        csv_files(tmp_path)
