import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from fnnlab.bench.leaderboard import elo_from_wins, leaderboard


def _results(errors, folds=3, seed=0, noise=0.0):
    """Per-fold results: ``errors`` maps method -> error per data set (list)."""
    rng = np.random.default_rng(seed)
    rows = []
    for method, per_dataset in errors.items():
        for d, e in enumerate(per_dataset):
            for f in range(folds):
                rows.append({"dataset": f"d{d}", "fold": f, "method": method,
                             "error": e + noise * rng.random()})
    return pd.DataFrame(rows)


def test_elo_of_two_methods_is_the_closed_form_log_odds():
    # a beat b 3 times out of 4: the maximum-likelihood gap is 400 log10(3/1).
    wins = pd.DataFrame([[0.0, 3.0], [1.0, 0.0]], index=["a", "b"], columns=["a", "b"])
    elo = elo_from_wins(wins, prior_sd=math.inf)
    assert elo["a"] - elo["b"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert elo.mean() == pytest.approx(1000.0)
    assert elo_from_wins(wins, anchor="b", prior_sd=math.inf)["b"] == pytest.approx(1000.0)


def test_elo_matches_scikit_learn_logistic_regression_with_the_same_prior():
    rng = np.random.default_rng(1)
    m, prior_sd = 5, 300.0
    w = rng.integers(0, 6, size=(m, m)).astype(float)
    np.fill_diagonal(w, 0)
    names = list("abcde")
    elo = elo_from_wins(pd.DataFrame(w, names, names), prior_sd=prior_sd)
    # Chatbot Arena's formulation: one row per ordered pair, x = e_i - e_j, label 1.
    i, j = np.nonzero(w + w.T)
    x = np.zeros((len(i), m))
    x[np.arange(len(i)), i], x[np.arange(len(i)), j] = 1.0, -1.0
    c = (prior_sd * math.log(10) / 400) ** 2
    X, y = np.vstack([x, x]), np.r_[np.ones(len(i)), np.zeros(len(i))]
    # Each unordered pair appears twice above (as (i, j) and (j, i)), so halve weights.
    weight = 0.5 * np.r_[w[i, j], w[j, i]]
    beta = LogisticRegression(C=c, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(
        X, y, sample_weight=weight).coef_[0]
    ref = 400 / math.log(10) * beta
    np.testing.assert_allclose(elo.to_numpy(), ref - ref.mean() + 1000, atol=1e-3)


def test_a_method_that_wins_every_duel_ranks_first():
    results = _results({"a": [0.1, 0.2, 0.3, 0.1], "b": [0.5, 0.4, 0.6, 0.2],
                        "c": [0.3, 0.5, 0.4, 0.3], "rf": [0.4, 0.3, 0.5, 0.4]})
    board = leaderboard(results, anchor="rf", n_bootstrap=50)
    top = board.iloc[0]
    assert top["method"] == "a"
    assert np.isfinite(board["elo"]).all()  # the prior keeps the winner's rating finite
    assert top["win_rate"] == 1.0 and top["mean_rank"] == 1.0 and top["improvability"] == 0.0
    assert top["elo_low"] > board["elo"].iloc[1]  # clearly ahead of the runner-up
    anchor = board.set_index("method").loc["rf"]
    assert anchor["elo"] == anchor["elo_low"] == anchor["elo_high"] == 1000.0
    assert anchor["anchor"] and board["anchor"].sum() == 1
    assert list(board["n_datasets"]) == [4] * 4 and list(board["n_folds"]) == [12] * 4


def test_equal_methods_get_equal_elo_within_the_ci():
    base = [0.3, 0.5, 0.2, 0.6, 0.4, 0.3]
    results = _results({"a": base, "b": base, "c": [e + 0.05 for e in base],
                        "d": [0.4, 0.2, 0.5, 0.3, 0.5, 0.2]}, noise=0.0)
    board = leaderboard(results, n_bootstrap=100).set_index("method")
    a, b = board.loc["a"], board.loc["b"]
    assert a["elo"] == pytest.approx(b["elo"], abs=1e-6)
    assert a["elo_low"] <= b["elo"] <= a["elo_high"]
    assert a["win_rate"] == pytest.approx(b["win_rate"])
    # a and b tie each other and beat c everywhere: strictly above c.
    assert a["elo"] > board.loc["c", "elo"]


def test_constructed_win_matrix_orders_a_transitive_chain():
    names = ["low", "mid", "top"]
    wins = pd.DataFrame([[0, 3, 1], [7, 0, 3], [9, 7, 0]], index=names, columns=names)
    elo = elo_from_wins(wins.astype(float))
    assert elo["top"] > elo["mid"] > elo["low"]
    # Swapping two methods' rows and columns swaps their ratings.
    swapped = wins.rename(index={"low": "top", "top": "low"},
                          columns={"low": "top", "top": "low"}).loc[names, names]
    np.testing.assert_allclose(elo_from_wins(swapped.astype(float))[["low", "top"]],
                               elo[["top", "low"]], atol=1e-6)


def test_each_dataset_weighs_the_same_whatever_its_folds():
    # d1 has two folds (a wins one, b the other), d2 one fold that a wins.
    results = pd.DataFrame({
        "dataset": ["d1", "d1", "d1", "d1", "d2", "d2"],
        "fold": [0, 0, 1, 1, 0, 0],
        "method": ["a", "b", "a", "b", "a", "b"],
        "error": [1.0, 2.0, 2.0, 1.0, 1.0, 2.0],
        "train_seconds": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        "n_train": [1000, 1000, 1000, 1000, 500, 500],
        "predict_seconds": [0.1] * 6,
        "n_predict": [100] * 6,
    })
    board = leaderboard(results, n_bootstrap=0, prior_sd=math.inf).set_index("method")
    # Weighted wins: a 0.5 (d1) + 1 (d2) = 1.5, b 0.5.
    assert board.loc["a", "win_rate"] == pytest.approx(0.75)
    assert board.loc["a", "elo"] - board.loc["b", "elo"] == pytest.approx(
        400 * math.log10(3), abs=1e-6)
    assert board.loc["a", "mean_rank"] == pytest.approx((1.5 + 1) / 2)
    # Improvability of a: d1 (0 + (1 - 1/2)) / 2 = 0.25, d2 0 -> 0.125; b: (0.25 + 0.5) / 2.
    assert board.loc["a", "improvability"] == pytest.approx(0.125)
    assert board.loc["b", "improvability"] == pytest.approx(0.375)
    # Median of 1000 * seconds / rows: a (1, 3, 10) -> 3; prediction 1 s per 1000 rows.
    assert board.loc["a", "train_s_per_1k"] == pytest.approx(3.0)
    assert board.loc["b", "predict_s_per_1k"] == pytest.approx(1.0)
    assert np.isnan(board.loc["a", "elo_low"])


def test_a_missing_result_sits_out_its_fold():
    results = _results({"a": [0.1, 0.2], "b": [0.3, 0.4], "c": [0.5, 0.6]}, folds=2)
    results = results.drop(index=results.index[(results.method == "c")
                                                & (results.dataset == "d1")])
    board = leaderboard(results, n_bootstrap=0).set_index("method")
    assert board.loc["c", "n_datasets"] == 1 and board.loc["c", "n_folds"] == 2
    assert board.loc["c", "win_rate"] == 0.0 and board.loc["a", "win_rate"] == 1.0
    # b beat c on d0 and lost to a on d0 and d1 (each data set weighs 1): 1 of 3.
    assert board.loc["b", "win_rate"] == pytest.approx(1 / 3)


def test_bad_results_get_clear_errors():
    good = _results({"a": [0.1], "b": [0.2]})
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['error'\]"):
        leaderboard(good.rename(columns={"error": "rmse"}))
    with pytest.raises(ValueError, match="more than one row"):
        leaderboard(pd.concat([good, good]))
    with pytest.raises(ValueError, match="errors >= 0"):
        leaderboard(good.assign(error=-good["error"]))
    with pytest.raises(ValueError, match="Anchor 'rf' is not among"):
        leaderboard(good, anchor="rf")
    with pytest.raises(ValueError, match="'n_train'"):
        leaderboard(good.assign(train_seconds=1.0))
    with pytest.raises(ValueError, match="'roc_auc' is a score"):
        leaderboard(good.rename(columns={"error": "roc_auc"}), error="roc_auc")
    board = leaderboard(good.rename(columns={"error": "rmse"}), error="rmse", n_bootstrap=0)
    assert board["method"].tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="at least 2 methods"):
        leaderboard(good[good.method == "a"])
