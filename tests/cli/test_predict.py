"""``fnnlab predict``: features are all it needs; bad checkpoints fail in one line."""

import numpy as np
import pandas as pd
import pytest
import torch

from fnnlab.cli import main


def _features(n=60, seed=0):
    g = np.random.default_rng(seed)
    return pd.DataFrame({"a": g.normal(size=n), "b": g.normal(size=n)})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained on a CSV and one trained on an npz archive, with their data."""
    folder = tmp_path_factory.mktemp("predict")
    frame = _features()
    frame["target"] = (frame["a"] > 0).astype(int)
    frame.to_csv(folder / "train.csv", index=False)
    X = frame[["a", "b"]].to_numpy()
    np.savez(folder / "train.npz", X=X, y=frame["target"].to_numpy())
    tiny = ["--depth", "1", "--width", "4", "--epochs", "1", "--no-progress"]
    for name in ("train.csv", "train.npz"):
        out = folder / f"{name}.pt"
        assert main(["train", str(folder / name), "--out", str(out), *tiny]) == 0
    return folder, frame


def _predict(model, data, tmp_path, capsys):
    out = tmp_path / "p.csv"
    code = main(["predict", str(model), str(data), "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err, out


@pytest.mark.parametrize("target", ["absent", "blank", "single-class"])
def test_csv_rows_need_no_usable_target(trained, tmp_path, capsys, target):
    folder, frame = trained
    rows = frame.copy()
    if target == "absent":
        rows = rows.drop(columns="target")
    else:
        rows["target"] = np.nan if target == "blank" else 1
    rows.to_csv(tmp_path / "rows.csv", index=False)
    code, text, out = _predict(folder / "train.csv.pt", tmp_path / "rows.csv", tmp_path, capsys)
    assert code == 0, text
    assert len(pd.read_csv(out)) == len(frame)
    assert ("accuracy" in text) == (target == "single-class")  # a complete target is scored


def test_parquet_without_target_is_scored(trained, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    folder, frame = trained
    frame.drop(columns="target").to_parquet(tmp_path / "rows.parquet")
    code, text, out = _predict(folder / "train.csv.pt", tmp_path / "rows.parquet", tmp_path,
                               capsys)
    assert code == 0, text
    assert pd.read_csv(out)["prediction"].isin([0, 1]).all()


def test_npz_without_y_is_scored(trained, tmp_path, capsys):
    folder, frame = trained
    np.savez(tmp_path / "rows.npz", X=frame[["a", "b"]].to_numpy())
    code, text, out = _predict(folder / "train.npz.pt", tmp_path / "rows.npz", tmp_path, capsys)
    assert code == 0, text
    assert len(pd.read_csv(out)) == len(frame)


def test_complete_target_gives_the_accuracy_of_the_predictions(trained, tmp_path, capsys):
    folder, frame = trained
    code, text, out = _predict(folder / "train.csv.pt", folder / "train.csv", tmp_path, capsys)
    accuracy = (pd.read_csv(out)["prediction"] == frame["target"]).mean()
    assert code == 0 and f"accuracy {accuracy:.4f}" in text


def test_header_only_file_is_one_clear_line(trained, tmp_path, capsys):
    folder, frame = trained
    frame.drop(columns="target").iloc[:0].to_csv(tmp_path / "empty.csv", index=False)
    code, text, _ = _predict(folder / "train.csv.pt", tmp_path / "empty.csv", tmp_path, capsys)
    assert code == 2
    assert text.count("\n") == 1 and "has a header but no rows" in text


def _edited_checkpoint(source, path, edit):
    payload = torch.load(source, weights_only=True)
    edit(payload)
    torch.save(payload, path)
    return path


def test_checkpoint_missing_an_entry_names_it(trained, tmp_path, capsys):
    folder, _ = trained
    model = _edited_checkpoint(folder / "train.csv.pt", tmp_path / "m.pt",
                               lambda p: p["extra"].pop("target"))
    code, text, _ = _predict(model, folder / "train.csv", tmp_path, capsys)
    assert code == 2 and text.count("\n") == 1
    assert "lacks the entries ['target']" in text


@pytest.mark.parametrize("damage", ["missing", "misshapen"])
def test_weights_that_do_not_fit_are_one_line(trained, tmp_path, capsys, damage):
    folder, _ = trained

    def edit(payload):
        state = payload["state_dict"]
        key = next(k for k in state if k.endswith("weight"))
        if damage == "missing":
            del state[key]
        else:
            state[key] = torch.zeros(3, 3)

    model = _edited_checkpoint(folder / "train.csv.pt", tmp_path / "m.pt", edit)
    code, text, _ = _predict(model, folder / "train.csv", tmp_path, capsys)
    assert code == 2 and text.count("\n") == 1
    assert "do not fit the model its spec describes" in text
    assert ("missing '" in text) if damage == "missing" else ("is (3, 3), not" in text)
