import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fnnlab.bench.compare import summarize
from fnnlab.bench.fidelity import PUBLISHED_GRID, deviations, fidelity
from fnnlab.bench.grids import PAPER, load_grid
from fnnlab.bench.plan import DEFAULT_METHODS
from fnnlab.cli import main
from fnnlab.training import FitConfig


def _config(grid, methods=DEFAULT_METHODS, **changes):
    """The settings of a paper-protocol comparison, as ``make_plan`` stores them."""
    config = {"methods": list(methods), "datasets": ["iris", "wine"], "seeds": [0, 1, 2],
              "protocol": "paper", "grid": load_grid(grid), "metric": "accuracy",
              "metrics": {"iris": "accuracy", "wine": "accuracy"}, "ties": "paper",
              "baseline_grids": {}}
    return {**config, **changes}


def _topics(lines):
    return {line.split(":")[0] for line in lines}


def test_other_protocols_claim_nothing_and_list_nothing():
    assert deviations(_config(PAPER, protocol="random")) == []
    assert deviations(_config(PAPER, protocol="cv")) == []


def test_the_full_paper_grid_lists_only_what_the_paper_leaves_open_or_we_chose():
    lines = deviations(_config(PAPER))
    topics = _topics(lines)
    assert {"data", "split", "validation", "seeds", "selection", "batch size"} <= topics
    # The dense and residual grids are the paper's: no grid line for them.
    assert not [t for t in topics if t.startswith("grid") and t != "grid highway"]
    (highway,) = [line for line in lines if line.startswith("grid highway")]
    assert "width 256 (ours" in highway and "gate_bias -1.0, -2.0, -3.0, -4.0" in highway
    assert "conic layers" in topics
    assert "data: 2 of the paper's 121 UCI data sets" in lines[0]
    assert any("seeds: 3 (0, 1, 2)" in line for line in lines)
    assert not {"metric", "ties", "epochs"} & topics
    assert 'optimizer: "sgd", our reading; the paper names no optimizer' in "\n".join(lines)


def test_a_reduced_grid_names_exactly_the_values_it_cut_and_shares_a_line_per_cut():
    grid = {"fnn": {**PAPER["fnn"], "depth": [2, 3, 4, 8, 16], "lr": [0.01, 0.1]},
            "snn": PAPER["snn"], "msra": {"dropout": [0.0]}}
    lines = deviations(_config(grid, methods=["snn", "msra", "batchnorm"]))
    grid_lines = [line for line in lines if line.startswith("grid")]
    assert grid_lines == [
        "grid snn: depth without 32; lr without 1.0 (120 grid points, the paper's 216).",
        "grid msra: depth without 32; lr without 1.0; dropout without 0.5 "
        "(60 grid points, the paper's 216).",
        "grid batchnorm: depth without 32; lr without 1.0 (60 grid points, the paper's 108).",
    ]
    # Cuts every method shares are one line naming no method.
    same = deviations(_config(grid, methods=["batchnorm", "layernorm"]))
    assert [line for line in same if line.startswith("grid")] == [
        "grid: depth without 32; lr without 1.0 (60 grid points, the paper's 108)."]


def test_training_and_selection_choices_are_read_from_the_grid_and_settings():
    grid = {"fnn": {"depth": [2], "optimizer": ["adam"], "epochs": [30],
                    "early_stopping": [5], "weight_decay": [1e-4]}}
    lines = deviations(_config(grid, methods=["snn", "msra"], ties="small",
                               metrics={"iris": "log_loss", "wine": "log_loss"},
                               metric=None, scaling="quantile"))
    text = "\n".join(lines)
    assert any(line.startswith("optimizer: \"adam\", not the usual reading") for line in lines)
    assert "epochs: at most 30; the paper trained 100." in lines
    assert "stopping: patience 5 on the unsmoothed validation loss" in text
    assert "training: weight_decay = 0.0001 is ours" in text
    assert "metric: grid points chosen and methods ranked by log_loss" in text
    assert "ties: equal validation scores broken by the 'small' rule" in text
    assert "scaling: 'quantile', fitted on each training part" in text


@pytest.mark.skipif("stopping_window" not in FitConfig.field_names(),
                    reason="needs the smoothed stopping rule (FitConfig.stopping_window)")
def test_the_papers_smoothed_stopping_rule_is_no_deviation_but_our_reading_is_said():
    grid = {"fnn": {**PAPER["fnn"], "epochs": [100], "stopping_window": [10],
                    "early_stopping": [None]}}
    lines = deviations(_config(grid, methods=["snn", "msra"]))
    (stopping,) = [line for line in lines if line.startswith("stopping")]
    assert "trailing 10-epoch moving average" in stopping and "patience" not in stopping


def test_what_the_paper_leaves_open_is_ours_even_when_not_searched():
    grid = {"fnn": PAPER["fnn"], "highway": {"dropout": [0.0, 0.5], "layer_form": ["rectangular"]}}
    (highway,) = [line for line in deviations(_config(grid, methods=["highway"]))
                  if line.startswith("grid")]
    assert highway == ("grid: gate_bias chosen from the depth (ours; the paper gives none); "
                       "width 1024, 512, 256 (ours; the paper gives none) "
                       "(108 grid points, the paper's 36).")


def test_methods_and_baselines_outside_the_paper_are_named():
    config = _config(PAPER, methods=["snn", "grid_lstm", "rf"], baseline_grids={"rf": {}})
    text = "\n".join(deviations(config))
    assert "methods: grid_lstm not among the paper's seven" in text
    assert "baselines: rf trained here" in text


def test_published_grid_sizes_match_the_supplement():
    # 3 widths x 6 depths x 3 lr x 2 layer forms, times 2 dropout rates for SNN and ReLU.
    sizes = {m: int(np.prod([len(v) for v in g.values()])) for m, g in PUBLISHED_GRID.items()}
    assert sizes == {"snn": 216, "msra": 216, "batchnorm": 108, "layernorm": 108,
                     "weightnorm": 108, "highway": 36, "resnet": 5 * 3 * 3 * 2 * 2}


def _per_dataset():
    # Two methods, three data sets; msra has no published number on "c".
    return pd.DataFrame({
        "dataset": ["a", "b", "c", "a", "b", "c"],
        "method": ["snn", "snn", "snn", "msra", "msra", "msra"],
        "score": [0.90, 0.80, 0.70, 0.60, 0.50, 0.40],
        "std": [0.02, 0.01, np.nan, 0.10, 0.0, 0.05],
        "published": [0.95, 0.79, 0.60, 0.50, 0.50, np.nan],
    })


def test_fidelity_averages_differences_and_counts_data_sets_within_two_sd():
    table = fidelity(_per_dataset(), methods=["snn", "msra"]).set_index("method")
    # snn: d = -0.05, +0.01, +0.10; within 2 sd: |-0.05| > 0.04 no, 0.01 <= 0.02 yes,
    # no sd on c. msra: d = +0.10 (<= 0.20 yes), 0.0 (<= 0 yes).
    assert table.loc["snn", "n_datasets"] == 3
    assert table.loc["snn", "mean_difference"] == pytest.approx(0.06 / 3)
    assert table.loc["snn", "mean_abs_difference"] == pytest.approx(0.16 / 3)
    assert (table.loc["snn", "within_2sd"], table.loc["snn", "n_with_sd"]) == (1, 2)
    assert table.loc["msra", "mean_difference"] == pytest.approx(0.05)
    assert (table.loc["msra", "within_2sd"], table.loc["msra", "n_with_sd"]) == (2, 2)
    assert list(table.index) == ["snn", "msra"]


def _rows():
    """Hand-made store rows: two methods, iris and wine, two seeds, one grid point."""
    rows = []
    accuracies = {("snn", "iris"): [0.96, 0.98], ("msra", "iris"): [0.90, 0.94],
                  ("snn", "wine"): [1.0, 0.98], ("msra", "wine"): [0.93, 0.93]}
    for (method, dataset), scores in accuracies.items():
        for seed, score in enumerate(scores):
            rows.append({"method": method, "kind": "fnn", "dataset": dataset, "seed": seed,
                         "fold": None, "params": {"depth": 2}, "status": "ok",
                         "scores": {"valid_accuracy": 0.9, "test_accuracy": score}})
    return pd.DataFrame(rows)


def test_text_and_json_end_with_the_fidelity_summary_and_carry_the_deviations():
    config = _config(PAPER, methods=["snn", "msra"], seeds=[0, 1])
    reference = pd.DataFrame({"dataset": ["iris", "iris", "wine", "wine"],
                              "method": ["snn", "msra", "snn", "msra"],
                              "published": [0.96, 0.90, 0.95, 0.93]})
    result = summarize(_rows(), config, reference=reference)
    text = result.format()
    assert "Deviations from the SNN paper" in text
    assert "  - split: test part = k-fold split 0" in text
    tail = text[text.index("Fidelity to the published accuracies"):].splitlines()
    assert tail[1].split() == ["method", "datasets", "mean(ours-published)",
                               "mean|ours-published|", "within", "2", "sd"]
    snn = tail[2].split()
    # snn: iris 0.97 vs 0.96, wine 0.99 vs 0.95: d = +0.01, +0.04; sd over seeds 0.0141
    # on both, so iris lies within 2 sd and wine does not.
    assert snn == ["snn", "2", "+0.0250", "0.0250", "1/2"]
    msra = tail[3].split()  # iris 0.92 vs 0.90 (sd 0.028), wine 0.93 vs 0.93 (sd 0)
    assert msra == ["msra", "2", "+0.0100", "0.0100", "2/2"]
    assert len(tail) == 4  # the text ends with the summary
    out = json.loads(result.format("json"))
    assert list(out)[-2:] == ["deviations", "fidelity"]
    assert out["deviations"] == result.deviations and out["deviations"]
    assert [row["method"] for row in out["fidelity"]] == ["snn", "msra"]


def test_json_outside_the_paper_protocol_has_no_deviations_key():
    result = summarize(_rows(), _config(PAPER, methods=["snn", "msra"], protocol="random"))
    out = json.loads(result.format("json"))
    assert "deviations" not in out and "fidelity" not in out
    assert "Deviations" not in result.format()


def test_cli_paper_protocol_prints_deviations_and_fidelity_end_to_end(tmp_path, capsys):
    ref = tmp_path / "ref.csv"
    ref.write_text("name,n_rows,SNN,MS\niris,150,0.9730,0.9189\nwine,178,0.9773,0.9318\n")
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"fnn": {"depth": 2, "width": 8, "lr": 0.1, "epochs": 2}}))
    data = Path("/work/shared/data")
    if not (data / "splits" / "iris.splits.json.gz").is_file():
        pytest.skip("needs the shared UCI data with split files")
    suite = str(data / "iris.csv.gz")
    store = str(tmp_path / "r.sqlite")
    args = ["compare", "--methods", "snn,msra", "--suite", suite, "--grid", str(grid),
            "--protocol", "paper", "--seeds", "2", "--jobs", "1", "--quiet",
            "--reference", str(ref), "--store", store]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Deviations from the SNN paper" in text and "grid snn: width 8 instead of" in text
    assert text.rstrip().splitlines()[-3].split()[0] == "method"
    # Re-made from the store, the JSON carries the same rule, deviations and summary.
    assert main(["compare", "--store", store, "--table", "--reference", str(ref),
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["ties"] == "paper" and out["config"]["metric"] == "accuracy"
    assert {row["method"] for row in out["fidelity"]} == {"snn", "msra"}
    assert all(row["n_datasets"] == row["n_with_sd"] == 1 for row in out["fidelity"])


def test_html_report_carries_the_deviations_and_the_fidelity_table(tmp_path):
    from fnnlab.report import comparison_report

    config = _config(PAPER, methods=["snn", "msra"], seeds=[0, 1])
    reference = pd.DataFrame({"dataset": ["iris", "iris", "wine", "wine"],
                              "method": ["snn", "msra", "snn", "msra"],
                              "published": [0.96, 0.90, 0.95, 0.93]})
    result = summarize(_rows(), config, reference=reference)
    page = comparison_report(result).write(tmp_path).read_text()
    assert "Deviations from the SNN paper" in page
    assert page.count("<li>") >= len(result.deviations) > 0
    assert "split: test part = k-fold split 0" in page
    assert "Fidelity to the published accuracies" in page and "within_2sd" in page
    outside = summarize(_rows(), _config(PAPER, methods=["snn", "msra"], protocol="random"))
    assert "Deviations from the SNN paper" not in comparison_report(outside).to_html()
