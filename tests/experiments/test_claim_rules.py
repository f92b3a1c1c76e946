"""Each claim's verdict rule on given numbers (no training beyond tiny cases), and the
parts of a verdict: main and secondary checks, "the note is wrong", the data folder."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from fnnlab.experiments.claims import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    NOTE_WRONG,
    SUPPORTED,
    above,
    below,
    check_table,
    combine,
    count,
    note_is_wrong,
    secondary,
    shared_data,
)
from fnnlab.experiments.claims.activations import relu_tanh_checks
from fnnlab.experiments.claims.batchnorm import benefit_checks, placement_checks, renorm_checks
from fnnlab.experiments.claims.claim import Outcome
from fnnlab.experiments.claims.comparison import comparison_checks
from fnnlab.experiments.claims.highway import highway_checks
from fnnlab.experiments.claims.lesion import lesion_accuracies, lesion_checks
from fnnlab.experiments.claims.normalization import normalization_op_costs, weight_norm_checks
from fnnlab.experiments.claims.optimization import _curvature, lr_bound_checks
from fnnlab.experiments.claims.scaling import gd_steps, scaling_checks
from fnnlab.experiments.claims.shattered import covariance_rate, fitted_rate, shattered_checks
from fnnlab.experiments.claims.tying import tie_hidden_layers, tying_checks
from fnnlab.models import FNNSpec, build


def verdicts(checks):
    return [c.verdict for c in checks]


def test_secondary_checks_never_change_the_headline():
    ok, bad = below("a", 0, 1), below("b", 2, 1)
    assert combine([ok, secondary(bad)]) == SUPPORTED
    assert combine([secondary(ok)]) == INCONCLUSIVE          # no main check
    assert combine([bad, secondary(ok)]) == NOT_SUPPORTED
    assert count([ok, secondary(bad), secondary(ok)]) == ("main 1/1 supported; "
                                                          "secondary 1/2 supported")
    assert above("x", 2, 1, main=False).main is False


def test_the_note_is_wrong_only_replaces_a_failed_check_and_wins_the_headline():
    failed, held = above("converges at the note's bound", 0.0, 0.95), above("x", 1.0, 0.5)
    wrong = note_is_wrong(failed, "K bounds f', the theorem needs sup|f''|.")
    assert wrong.verdict == NOTE_WRONG and wrong.reason.startswith("K bounds")
    assert note_is_wrong(held, "reason") is held
    assert combine([wrong, below("a", 2, 1)]) == NOTE_WRONG
    with pytest.raises(ValueError, match="reason"):
        note_is_wrong(failed, " ")


def test_check_table_has_one_row_per_check_with_the_issue_columns():
    outcomes = {3: Outcome("", pd.DataFrame(), [below("a", 0, 1), secondary(above("b", 0, 1))]),
                5: Outcome("", pd.DataFrame(), [])}
    table = check_table(outcomes)
    assert list(table.columns) == ["claim", "check", "value", "rule", "verdict", "main",
                                   "reason"]
    assert table["claim"].tolist() == [3, 3] and table["main"].tolist() == [True, False]


def test_claim_11_rule_calls_the_notes_bound_wrong_from_the_curvature():
    grid = torch.linspace(-math.pi, math.pi, 100_001, dtype=torch.float64)
    k_grad, min_curv = _curvature(grid)
    assert k_grad == pytest.approx(17.0, abs=1e-3)       # f'' = (-25 sin 5x + 9 sin 3x)/2
    assert min_curv == pytest.approx(8.27, abs=0.01)
    checks = lr_bound_checks(0.0, 1.0, k_grad, min_curv)
    assert verdicts(checks) == [NOTE_WRONG, SUPPORTED] and not checks[1].main
    # Had the bound held, the check would say so; had K' been the notes' 4, a failure
    # would only be "not supported".
    assert verdicts(lr_bound_checks(1.0, 1.0, k_grad, min_curv))[0] == SUPPORTED
    assert verdicts(lr_bound_checks(0.0, 1.0, 4.0, 8.27))[0] == NOT_SUPPORTED


def _runs(relu_steps, tanh_steps):
    rows = []
    for name, table in (("ReLU", relu_steps), ("tanh", tanh_steps)):
        for lr, steps in table.items():
            for seed, s in enumerate(steps):
                rows.append({"activation": name, "lr": lr, "seed": seed, "steps": s,
                             "end": "reached" if math.isfinite(s) else "diverged"})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("relu", "tanh", "headline"), [
    ({0.1: [100, 110, 90], 1.0: [math.inf] * 3}, {0.3: [300, 320, 280], 3.0: [math.inf] * 3},
     SUPPORTED),
    ({0.1: [300, 300, 300], 1.0: [math.inf] * 3}, {0.3: [310, 290, 300], 3.0: [math.inf] * 3},
     INCONCLUSIVE),
    ({0.1: [400, 400, 400], 1.0: [math.inf] * 3}, {0.3: [200, 210, 190], 3.0: [math.inf] * 3},
     NOT_SUPPORTED),
])
def test_claim_6_rule_compares_median_steps_at_each_fastest_rate(relu, tanh, headline):
    checks = relu_tanh_checks(_runs(relu, tanh))
    assert combine(checks) == headline
    assert verdicts(checks)[1:] == [SUPPORTED, SUPPORTED]   # both grids reach a failing rate


def test_claim_6_rule_flags_a_grid_that_never_fails():
    checks = relu_tanh_checks(_runs({0.1: [100], 1.0: [90]}, {0.3: [300], 3.0: [math.inf]}))
    assert checks[1].verdict == INCONCLUSIVE and not checks[1].main   # NaN: no failing rate


def test_claim_7_covariance_ratio_and_rate_on_synthetic_profiles():
    # Gradients whose far-apart halves have covariance 2^-L exactly, for every seed.
    rows = []
    for depth in (1, 2, 3, 4):
        for seed in range(4):
            g = np.ones(8)
            g[4:] = 2.0 ** -depth
            rows += [{"depth": depth, "seed": seed, "x": i, "gradient": v}
                     for i, v in enumerate(g * (1 if seed % 2 else -1))]
    cov = covariance_rate(pd.DataFrame(rows))
    second = (1 + 4.0 ** -cov["depth"]) / 2
    np.testing.assert_allclose(cov["ratio"], 2.0 ** -cov["depth"] / second)
    assert (cov["se"] == 0).all()
    assert fitted_rate(pd.DataFrame({"depth": [1, 2, 3], "ratio": [0.5, 0.25, 0.125],
                                     "se": [0.01] * 3})) == pytest.approx(-1.0)
    assert math.isnan(fitted_rate(pd.DataFrame({"depth": [1, 2], "ratio": [0.5, 0.0],
                                                "se": [0.01, 0.01]})))
    corr = {("batchnorm", 24): 0.0, ("resnet:branch_layers=1", 24): 0.6,
            ("resnet:branch_scale=0.3", 24): 0.5}
    assert verdicts(shattered_checks(-1.1, corr, 24, 0.25)) == [SUPPORTED] * 5
    assert shattered_checks(-2.5, corr, 24, 0.25)[0].verdict == NOT_SUPPORTED


def test_claim_9_rule():
    assert verdicts(highway_checks(0.1, 2.0, 2.3, 0.4)) == [SUPPORTED] * 4
    assert combine(highway_checks(1.9, 2.0, 2.3, 0.4)) == NOT_SUPPORTED   # no gain
    assert combine(highway_checks(0.1, 2.0, 2.3, 1.0)) == NOT_SUPPORTED   # every gate opened
    # A plain net that trains removes the premise: secondary, not the headline.
    checks = highway_checks(0.05, 0.3, 2.3, 0.4)
    assert checks[-1].verdict == NOT_SUPPORTED and combine(checks) == SUPPORTED


def test_claim_10_rule_and_the_op_cost_table():
    assert combine(weight_norm_checks(0.0, 0.2, 0.5, 1.5, 1.5)) == SUPPORTED
    assert combine(weight_norm_checks(0.0, 1.5, 0.5, 0.5, 0.5)) == NOT_SUPPORTED
    ops = normalization_op_costs(16, 8, repeats=1)
    assert ops["ms (fwd + bwd)"].gt(0).all()
    by = ops.set_index("operation")
    assert by.loc["batch norm (F.batch_norm)", "FLOPs"] == 17 * 16 * 8
    assert by.loc["weight norm (torch._weight_norm)", "bytes moved (min.)"] == 20 * 8 * 8


def test_claim_15_rule_uses_avg_rank_diff_and_the_1000_row_split():
    fnn = pd.Series({"snn": -0.8, "msra": -0.2, "layernorm": -0.2, "highway": 0.0,
                     "resnet": 0.3, "weightnorm": 0.4, "batchnorm": 0.5})
    scores = pd.DataFrame({"snn": [0.9, 0.9, 0.6, 0.6], "svm": [0.8, 0.8, 0.7, 0.7],
                           "rf": [0.7, 0.7, 0.8, 0.8]}, index=list("abcd"))
    rows = pd.Series([5000, 2000, 300, 500], index=list("abcd"))
    checks = comparison_checks(fnn, scores, rows)
    assert verdicts(checks) == [SUPPORTED] * 4
    flipped = comparison_checks(fnn, scores, pd.Series([300, 500, 5000, 2000],
                                                       index=list("abcd")))
    assert verdicts(flipped)[1:3] == [NOT_SUPPORTED, NOT_SUPPORTED]
    assert comparison_checks(-fnn, scores, rows)[3].verdict == NOT_SUPPORTED


def test_claims_18_19_20_rules():
    assert combine(placement_checks(0.96, 0.95)) == SUPPORTED
    assert combine(placement_checks(0.90, 0.96)) == NOT_SUPPORTED
    assert combine(renorm_checks(0.96, 0.85, 0.93)) == SUPPORTED
    assert verdicts(renorm_checks(0.96, 0.95, 0.93)) == [INCONCLUSIVE, NOT_SUPPORTED]
    assert combine(benefit_checks(0.5, 0.6, 0.05, 0.05, 0.0)) == SUPPORTED
    assert verdicts(benefit_checks(0.0, 0.05, 0.05, 0.0, 0.05)) == [INCONCLUSIVE] + [
        NOT_SUPPORTED] * 2


def test_claim_21_gradient_descent_and_rule():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    y = x @ np.array([1.0, -2.0]) + 0.1 * rng.normal(size=50)
    fast = gd_steps(x, y, 0.3, 1000)
    stretched = x * np.array([1.0, 100.0])
    slow = min(gd_steps(stretched, y, lr, 1000) for lr in (1e-5, 3e-5, 1e-4))
    assert fast < 50 and slow > 10 * fast
    assert gd_steps(x, y, 10.0, 100) == math.inf                       # diverges
    assert scaling_checks(math.inf, 30, 3000)[0].verdict == SUPPORTED   # log10(100) = 2
    assert scaling_checks(40, 30, 3000)[0].verdict == NOT_SUPPORTED


def test_claim_22_lesion_restores_the_block_and_the_rule():
    torch.manual_seed(0)
    model = build(FNNSpec(4, 3, depth=4, width=8, method="resnet"))
    blocks = list(model.hidden)
    x, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    accs = lesion_accuracies(model, x, y)
    assert len(accs) == len(blocks) - 1 and list(model.hidden) == blocks
    assert combine(lesion_checks(0.01, 0.5)) == SUPPORTED
    assert combine(lesion_checks(0.3, 0.5)) == NOT_SUPPORTED


def test_claim_23_tying_shares_one_module_and_the_rule():
    model = tie_hidden_layers(build(FNNSpec(4, 3, depth=5, width=8, method="resnet")))
    assert all(model.hidden[i] is model.hidden[1] for i in range(2, len(model.hidden)))
    untied = build(FNNSpec(4, 3, depth=5, width=8, method="resnet"))
    assert sum(p.numel() for p in model.parameters()) < sum(
        p.numel() for p in untied.parameters())
    assert combine(tying_checks(0.3, 0.2, 0.8, 0.8)) == SUPPORTED
    assert combine(tying_checks(0.1, 0.2, 0.8, 0.8)) == NOT_SUPPORTED


def test_missing_data_folder_is_a_skip_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(shared_data, "_candidates", lambda: [tmp_path / "nowhere"])
    assert shared_data.locate() is None
    with pytest.raises(shared_data.DataUnavailable, match="FNNLAB_SHARED_DATA"):
        shared_data.require("letter")
    from fnnlab.experiments.claims import reproduce

    table = reproduce(only=6, quick=True, progress=False)
    assert table["verdict"].tolist() == [INCONCLUSIVE]
    assert table["checks"].iloc[0].startswith("skipped: needs the shared UCI data folder")
    assert table["error"].tolist() == [""]


def test_data_dir_option_is_found_first_and_checked(tmp_path, monkeypatch):
    monkeypatch.delenv(shared_data.ENV_VAR, raising=False)
    (tmp_path / "MANIFEST.csv").write_text("name\n")
    (tmp_path / "letter.csv.gz").write_bytes(b"")
    with shared_data.use_data_dir(tmp_path):
        assert shared_data.locate() == tmp_path
        assert shared_data.require("letter") == [tmp_path / "letter.csv.gz"]
        with pytest.raises(shared_data.DataUnavailable, match="lacks chess-krvk"):
            shared_data.require("chess-krvk")
    with pytest.raises(FileNotFoundError, match="MANIFEST.csv"):
        with shared_data.use_data_dir(tmp_path / "empty"):
            pass
