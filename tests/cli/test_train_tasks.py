"""``fnnlab train --target 'target_*'`` and ``fnnlab predict``: several binary tasks."""

import re

import numpy as np
import pandas as pd
import pytest

import fnnlab
from fnnlab.cli import main


@pytest.fixture
def tasks_csv(tmp_path):
    """Three binary tasks with missing labels (blank cells), like Tox21's target_* columns."""
    g = np.random.default_rng(0)
    X = g.normal(size=(200, 3))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    rules = {"target_A": X[:, 0] > 0, "target_B": X[:, 1] + X[:, 2] > 0,
             "target_C": X[:, 2] > 0.3}
    for name, rule in rules.items():
        frame[name] = np.where(g.random(200) < 0.3, np.nan, rule.astype(float))
    frame.loc[0, list(rules)] = np.nan  # a row without any label
    path = tmp_path / "tasks.csv"
    frame.to_csv(path, index=False)
    return path


def test_train_and_predict_several_tasks_with_missing_labels(tasks_csv, tmp_path, capsys):
    model_path, preds = tmp_path / "m.pt", tmp_path / "p.csv"
    code = main(["train", str(tasks_csv), "--target", "target_*", "--depth", "2",
                 "--width", "8", "--epochs", "2", "--out", str(model_path), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.fullmatch(r"fnnlab train: warning: Data set 'tasks': dropped \d+ of 200 rows "
                        r"that have no observed label in any target column \(rows 0, .*\)\.\n",
                        err)
    aucs = re.search(r"valid roc_auc ([\d.]+) \(mean of 3 tasks\); per task: target_A "
                     r"([\d.]+), target_B ([\d.]+), target_C ([\d.]+)", out)
    assert aucs is not None, out
    mean, *each = map(float, aucs.groups())
    assert mean == pytest.approx(np.mean(each), abs=1e-4)
    assert "test roc_auc" in out
    assert fnnlab.training.read(model_path)["extra"]["target"] == ["target_A", "target_B",
                                                                    "target_C"]
    assert main(["predict", str(model_path), str(tasks_csv), "--out", str(preds)]) == 0
    assert "roc_auc" in capsys.readouterr().out  # scored on the labels the file has
    proba = pd.read_csv(preds)
    assert list(proba.columns) == ["proba_target_A", "proba_target_B", "proba_target_C"]
    assert len(proba) == 200 and ((proba > 0) & (proba < 1)).all().all()
    # The columns by name, separated by commas, in the order given.
    assert main(["train", str(tasks_csv), "--target", "target_C,target_A,target_B",
                 "--depth", "1", "--width", "4", "--epochs", "1", "--out", str(model_path),
                 "--no-progress"]) == 0
    assert "(mean of 3 tasks); per task: target_C" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", str(tasks_csv), "--target", "target_A,"])
