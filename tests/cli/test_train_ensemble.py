"""``fnnlab train --ensemble K``: K members trained as one stack, saved as one ensemble."""

import numpy as np
import pandas as pd
import pytest
import torch

import fnnlab
from fnnlab.cli import main
from fnnlab.training.bagging import Ensemble


@pytest.fixture
def csv(tmp_path):
    g = np.random.default_rng(0)
    X = g.normal(size=(200, 3))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2],
                          "target": np.where(X[:, 0] - X[:, 1] > 0, "yes", "no")})
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False)
    return path


def test_train_ensemble_saves_an_ensemble_that_predict_scores(csv, tmp_path, capsys):
    model_path, preds = tmp_path / "m.pt", tmp_path / "preds.csv"
    code = main(["train", str(csv), "--depth", "2", "--width", "16", "--epochs", "6",
                 "--lr", "0.05", "--ensemble", "3", "--early-stopping", "3",
                 "--out", str(model_path), "--no-progress"])
    assert code == 0 and "test accuracy" in capsys.readouterr().out
    model = fnnlab.load_model(model_path)
    assert isinstance(model, Ensemble) and len(model.members) == 3
    assert main(["predict", str(model_path), str(csv), "--out", str(preds)]) == 0
    proba = pd.read_csv(preds)[["proba_no", "proba_yes"]].to_numpy()
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert not torch.equal(model.members[0].hidden[0].linear.weight,
                           model.members[1].hidden[0].linear.weight)


def test_train_rejects_an_ensemble_of_zero(csv, capsys):
    assert main(["train", str(csv), "--ensemble", "0"]) == 2
    assert "--ensemble must be a number of members >= 1" in capsys.readouterr().err
