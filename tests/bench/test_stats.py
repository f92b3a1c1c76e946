import math
import warnings

import numpy as np
import pandas as pd
import pytest

from fnnlab.bench.stats import (
    avg_rank_diff,
    comparison_table,
    format_table,
    friedman,
    mean_ranks,
    nemenyi_cd,
    ranks,
    wilcoxon_vs_best,
)


def _scores():
    # Rows: datasets, columns: methods; accuracy, higher is better.
    return pd.DataFrame(
        {"a": [0.9, 0.8, 0.7], "b": [0.9, 0.6, 0.8], "c": [0.5, 0.8, 0.6], "d": [0.4, 0.5, 0.9]},
        index=["d1", "d2", "d3"],
    )


def test_ranks_average_ties_hand_computed():
    r = ranks(_scores())
    # d1: a,b tie for 1-2 -> 1.5 each; c 3; d 4.
    # d2: a,c tie for 1-2 -> 1.5 each; b 3; d 4.
    # d3: d 1; b 2; a 3; c 4.
    expected = np.array([[1.5, 1.5, 3, 4], [1.5, 3, 1.5, 4], [3, 2, 4, 1]], dtype=float)
    np.testing.assert_array_equal(r.to_numpy(), expected)
    np.testing.assert_allclose(mean_ranks(_scores()).to_numpy(), [2.0, 6.5 / 3, 8.5 / 3, 3.0])


def test_ranks_lower_is_better_and_nan_left_out():
    s = pd.DataFrame({"a": [1.0, np.nan], "b": [2.0, 3.0], "c": [0.5, 1.0]})
    r = ranks(s, higher_is_better=False)
    np.testing.assert_array_equal(r.iloc[0].to_numpy(), [2, 3, 1])
    assert np.isnan(r.iloc[1, 0])
    np.testing.assert_array_equal(r.iloc[1, 1:].to_numpy(), [2, 1])


def test_avg_rank_diff_sums_to_zero_and_matches_definition():
    rng = np.random.default_rng(0)
    s = pd.DataFrame(rng.random((12, 7)), columns=list("abcdefg"))
    d = avg_rank_diff(s)
    assert abs(d.sum()) < 1e-12
    # Without missing scores the mean over methods of the mean ranks is (k+1)/2.
    np.testing.assert_allclose(d.to_numpy(), mean_ranks(s).to_numpy() - 4.0)


def test_wilcoxon_matches_scipy_documented_example():
    # scipy.stats.wilcoxon docs: differences of 15 paired samples, two-sided exact p.
    d = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75], float)
    s = pd.DataFrame({"best": d + 100.0, "other": np.full(15, 100.0)})
    p = wilcoxon_vs_best(s, best="best")
    assert math.isnan(p["best"])
    assert p["other"] == pytest.approx(0.041259765625, abs=1e-12)


def test_wilcoxon_corrections_by_hand():
    rng = np.random.default_rng(1)
    s = pd.DataFrame(rng.random((10, 4)), columns=list("abcd"))
    s["a"] += 0.3
    raw = wilcoxon_vs_best(s, best="a")
    bonf = wilcoxon_vs_best(s, best="a", correction="bonferroni")
    holm = wilcoxon_vs_best(s, best="a", correction="holm")
    others = raw.drop("a").sort_values()
    np.testing.assert_allclose(bonf[others.index], np.minimum(others * 3, 1))
    steps = np.maximum.accumulate(others.to_numpy() * np.array([3, 2, 1]))
    np.testing.assert_allclose(holm[others.index], np.minimum(steps, 1))
    with pytest.raises(ValueError, match="Unknown correction"):
        wilcoxon_vs_best(s, correction="sidak")


def test_nemenyi_cd_matches_demsar_2006_example():
    # Demšar 2006, Sec. 3.2.4: four classifiers on 14 data sets, CD = 2.569 sqrt(20/84) = 1.25.
    assert nemenyi_cd(4, 14) == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 14)), abs=1e-3)
    assert round(nemenyi_cd(4, 14), 2) == 1.25
    # Demšar Table 5(a) q_0.05 for k = 2 .. 10 (CD with N chosen so the root is 1/sqrt(2)*...).
    q = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
    for k, qk in zip(range(2, 11), q, strict=True):
        n = k * (k + 1) / 6  # makes sqrt(k(k+1)/(6N)) = 1
        assert nemenyi_cd(k, int(n)) * math.sqrt(int(n) / n) == pytest.approx(qk, abs=1e-3)
    with pytest.raises(ValueError, match="k >= 2"):
        nemenyi_cd(1, 10)


def test_friedman_matches_demsar_formula():
    rng = np.random.default_rng(2)
    s = pd.DataFrame(rng.random((14, 4)), columns=list("abcd"))
    stat, p = friedman(s)
    n, k = s.shape
    rbar = mean_ranks(s).to_numpy()
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(rbar**2) - k * (k + 1) ** 2 / 4)
    assert stat == pytest.approx(chi2, rel=1e-12)
    assert 0 < p < 1


def test_comparison_table_and_formats():
    s = _scores()
    t = comparison_table(s)
    assert list(t["method"]) == ["a", "b", "c", "d"]
    assert t["best"].tolist() == [True, False, False, False]
    assert abs(t["avg_rank_diff"].sum()) < 1e-12
    text = format_table(t)
    assert text.splitlines()[0].split() == ["Method", "avg.", "rank", "diff.", "p-value"]
    assert "a (best)" in text
    assert "| a (best) | -0.500 |  |" in format_table(t, "markdown")
    latex = format_table(t, "latex")
    assert latex.startswith(r"\begin{tabular}") and r"\bottomrule" in latex
    csv = format_table(t, "csv")
    assert pd.read_csv(__import__("io").StringIO(csv)).shape == t.shape
    with pytest.raises(ValueError, match="Unknown table format"):
        format_table(t, "html")


def test_bad_scores_rejected():
    with pytest.raises(TypeError, match="DataFrame"):
        ranks(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="at least 2 methods"):
        ranks(pd.DataFrame({"a": [1.0]}))


def test_mean_ranks_friedman_and_cd_agree_with_autorank():
    # autorank (Herbold 2020) is the maintained library for these statistics; where it is
    # installed, fnnlab's figures must match it.
    autorank = pytest.importorskip("autorank")
    rng = np.random.default_rng(2)
    s = pd.DataFrame(rng.random((14, 4)), columns=list("abcd"))
    with warnings.catch_warnings():  # statsmodels' deprecations, not ours
        warnings.simplefilter("ignore")
        ref = autorank.autorank(s, alpha=0.05, verbose=False, force_mode="nonparametric",
                                order="descending")
    np.testing.assert_allclose(mean_ranks(s)[ref.rankdf.index], ref.rankdf["meanrank"],
                               rtol=1e-12)
    assert friedman(s)[1] == pytest.approx(ref.pvalue, rel=1e-9)
    # autorank takes q from a table, fnnlab from the studentized range distribution.
    assert nemenyi_cd(4, 14) == pytest.approx(ref.cd, abs=1e-4)
