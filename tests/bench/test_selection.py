import itertools

import pandas as pd
import pytest

from fnnlab.bench.compare import summarize
from fnnlab.bench.selection import PROTOCOL_TIES, TIE_RULES, select


def _rows(points, valid, *, method="snn", seed=0, status="ok"):
    """Hand-made store rows: one per grid point, with its validation accuracy."""
    rows = []
    for point, score in zip(points, valid, strict=True):
        rows.append({"method": method, "kind": "fnn", "dataset": "iris", "seed": seed,
                     "fold": None, "params": dict(point), "status": status,
                     "scores": {"valid_accuracy": score, "test_accuracy": score / 2}})
    return pd.DataFrame(rows)


def _chosen(rows, ties):
    out = select(rows, "accuracy", ties=ties)
    assert len(out) == 1
    return out["params"].iloc[0]


def _grid(**values):
    keys = sorted(values)
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(values[k] for k in keys))]


def test_paper_rule_prefers_more_layers_over_lower_lr_and_higher_dropout():
    # Depth decides first even against a worse lr and dropout; 16 beats 2, 3, 8 (which
    # JSON text order would not: "16" < "2").
    points = [{"depth": d, "lr": lr, "dropout": p}
              for d, lr, p in [(2, 0.01, 0.05), (16, 1.0, 0.0), (3, 0.01, 0.05), (8, 0.1, 0.05)]]
    rows = _rows(points, [0.9] * 4)
    assert _chosen(rows, "paper") == {"depth": 16, "lr": 1.0, "dropout": 0.0}


def test_paper_rule_prefers_lower_lr_at_equal_depth_then_higher_dropout():
    points = [{"depth": 8, "lr": 0.1, "dropout": 0.05}, {"depth": 8, "lr": 0.01, "dropout": 0.0},
              {"depth": 8, "lr": 1.0, "dropout": 0.05}]
    assert _chosen(_rows(points, [0.9] * 3), "paper")["lr"] == 0.01
    points = [{"depth": 8, "lr": 0.01, "dropout": 0.0}, {"depth": 8, "lr": 0.01, "dropout": 0.05}]
    assert _chosen(_rows(points, [0.9] * 2), "paper")["dropout"] == 0.05


def test_three_way_tie_on_a_full_grid_follows_the_rule_and_a_better_score_still_wins():
    points = _grid(depth=[2, 4, 16], lr=[0.01, 0.1, 1.0], dropout=[0.0, 0.05], width=[64])
    valid = [0.8] * len(points)
    tied = [{"depth": 2, "lr": 0.01, "dropout": 0.0, "width": 64},
            {"depth": 16, "lr": 0.1, "dropout": 0.0, "width": 64},
            {"depth": 16, "lr": 0.1, "dropout": 0.05, "width": 64}]
    for point in tied:
        valid[points.index(point)] = 0.9
    rows = _rows(points, valid)
    assert _chosen(rows, "paper") == tied[2]   # more layers, then higher dropout
    assert _chosen(rows, "small") == tied[0]   # fewer layers
    valid[points.index({"depth": 4, "lr": 1.0, "dropout": 0.0, "width": 64})] = 0.95
    assert _chosen(_rows(points, valid), "paper")["depth"] == 4


def test_small_rule_prefers_fewer_layers_then_fewer_units_then_lower_lr():
    points = [{"depth": 4, "width": 64, "lr": 0.01}, {"depth": 2, "width": 256, "lr": 0.01},
              {"depth": 2, "width": 64, "lr": 0.1}, {"depth": 2, "width": 64, "lr": 0.01}]
    assert _chosen(_rows(points, [0.9] * 4), "small") == {"depth": 2, "width": 64, "lr": 0.01}


@pytest.mark.parametrize("ties", sorted(TIE_RULES))
def test_the_choice_does_not_depend_on_row_order(ties):
    points = _grid(depth=[2, 3, 16, 32], lr=[0.01, 1.0], dropout=[0.0, 0.5], layer_form=["a", "b"])
    rows = _rows(points, [0.9] * len(points))
    first = _chosen(rows, ties)
    for seed in range(5):
        shuffled = rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        assert _chosen(shuffled, ties) == first
    # The rule ties on layer_form; the fallback orders it, the same way every time.
    assert first["layer_form"] == "a"


def test_points_without_the_rules_parameters_fall_back_to_numeric_order():
    # Baseline grids (k of knn) have no depth or lr: numbers compare by value, 5 < 15.
    points = [{"n_neighbors": 15}, {"n_neighbors": 5}, {"n_neighbors": 50}]
    rows = _rows(points, [0.9] * 3, method="knn").assign(kind="baseline")
    for ties in TIE_RULES:
        assert _chosen(rows, ties) == {"n_neighbors": 5}


def test_scores_equal_up_to_float_rounding_are_a_tie():
    points = [{"depth": 2}, {"depth": 16}]
    rows = _rows(points, [0.1 + 0.2, 0.3])  # 0.30000000000000004 vs 0.3
    assert _chosen(rows, "paper") == {"depth": 16}
    rows = _rows(points, [0.3 + 1e-9, 0.3])  # a real difference
    assert _chosen(rows, "paper") == {"depth": 2}


def test_failed_jobs_never_win_a_tie():
    ok = _rows([{"depth": 2}], [0.5])
    failed = _rows([{"depth": 32}], [0.9], status="failed")
    out = select(pd.concat([ok, failed], ignore_index=True), "accuracy", ties="paper")
    assert out["params"].iloc[0] == {"depth": 2} and out["n_failed"].iloc[0] == 1


def test_unknown_tie_rule_is_rejected_with_the_known_ones():
    with pytest.raises(ValueError, match="Known tie rules: paper, small"):
        select(_rows([{"depth": 2}], [0.5]), "accuracy", ties="deep")


def test_the_protocol_decides_the_rule_and_the_result_records_it():
    points = [{"depth": 2, "lr": 0.1}, {"depth": 16, "lr": 0.1}]
    rows = pd.concat([_rows(points, [0.9, 0.9]), _rows(points, [0.9, 0.9], method="msra")],
                     ignore_index=True)
    config = {"methods": ["snn", "msra"], "datasets": ["iris"], "metric": "accuracy",
              "protocol": "paper", "seeds": [0], "grid": {"fnn": {"depth": [2, 16]}}}
    paper = summarize(rows, config)
    assert paper.config["ties"] == PROTOCOL_TIES["paper"] == "paper"
    assert {p["depth"] for p in paper.selected["params"]} == {16}
    small = summarize(rows, {**config, "protocol": "random"})
    assert small.config["ties"] == "small"
    assert {p["depth"] for p in small.selected["params"]} == {2}
    forced = summarize(rows, {**config, "protocol": "random"}, ties="paper")
    assert {p["depth"] for p in forced.selected["params"]} == {16}
