"""``fnnlab train --ensemble K``: K members trained as one stack, saved as one ensemble."""

import numpy as np
import pandas as pd
import torch

import fnnlab
from fnnlab.cli import main
from fnnlab.training.bagging import Ensemble


def test_train_ensemble_saves_an_ensemble_that_predict_scores(tmp_path, capsys):
    model_path, preds = tmp_path / "m.pt", tmp_path / "preds.csv"
    code = main(["train", "iris", "--depth", "2", "--width", "16", "--epochs", "6",
                 "--lr", "0.05", "--ensemble", "3", "--early-stopping", "3",
                 "--out", str(model_path), "--no-progress"])
    assert code == 0 and "test accuracy" in capsys.readouterr().out
    model = fnnlab.load_model(model_path)
    assert isinstance(model, Ensemble) and len(model.members) == 3
    assert not torch.equal(model.members[0].hidden[0].linear.weight,
                           model.members[1].hidden[0].linear.weight)
    assert main(["predict", str(model_path), "iris", "--out", str(preds)]) == 0
    proba = pd.read_csv(preds).filter(like="proba_").to_numpy()
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)


def test_train_rejects_an_ensemble_of_zero(capsys):
    assert main(["train", "iris", "--ensemble", "0"]) == 2
    assert "--ensemble must be a number of members >= 1" in capsys.readouterr().err
