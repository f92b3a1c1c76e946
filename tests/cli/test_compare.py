import json

import pytest

from fnnlab.cli import main

BASE = ["compare", "--methods", "", "--baselines", "knn,logreg", "--suite", "iris,wine",
        "--seeds", "1", "--jobs", "1", "--quiet"]


def test_compare_prints_the_table_and_reprints_it_from_the_store(tmp_path, capsys):
    store = str(tmp_path / "r.sqlite")
    assert main([*BASE, "--store", store, "--report", str(tmp_path / "rep")]) == 0
    first = capsys.readouterr().out
    assert "avg. rank diff." in first and "(best)" in first
    assert (tmp_path / "rep" / "table.tex").is_file()
    assert main(["compare", "--store", store, "--table"]) == 0
    assert capsys.readouterr().out == first


def test_compare_json_with_reference_adds_published_column(tmp_path, capsys):
    ref = tmp_path / "ref.csv"
    ref.write_text("name,SNN,MS\niris,0.9730,0.9189\n")
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"fnn": {"depth": 2, "width": 8, "lr": 0.1, "epochs": 1}}))
    code = main(["compare", "--methods", "snn,msra", "--suite", "iris", "--grid", str(grid),
                 "--seeds", "1", "--jobs", "1", "--quiet", "--format", "json",
                 "--reference", str(ref)])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["method"]: r for r in out["per_dataset"]}
    assert rows["snn"]["published"] == 0.9730
    assert rows["msra"]["difference"] == pytest.approx(rows["msra"]["score"] - 0.9189)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--suite", "quik"], "Unknown suite 'quik'"),
        (["--baselines", "svn"], "Unknown baseline 'svn'. Did you mean 'svm'"),
        (["--methods", "snn,bogus"], "Unknown method 'bogus'"),
        (["--table"], "--table re-prints the table of a store"),
    ],
)
def test_compare_bad_input_is_one_line_error_exit_2(args, match, capsys):
    assert main([*BASE, *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert __import__("re").search(match, err)


def test_compare_unknown_backend_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*BASE, "--backend", "spark"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'spark'" in capsys.readouterr().err



def test_compare_no_stacked_prints_the_same_table(tmp_path, capsys):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"fnn": {"depth": 1, "width": 8, "lr": [0.01, 0.1],
                                        "epochs": 2}}))
    args = ["compare", "--methods", "snn,msra", "--suite", "iris", "--seeds", "1", "--jobs",
            "1", "--quiet", "--grid", str(grid), "--format", "json"]

    def table() -> list[dict]:
        # Everything but the wall-clock columns, which differ between any two runs.
        rows = json.loads(capsys.readouterr().out)["table"]
        return [{k: v for k, v in r.items() if not k.endswith("_s_per_1k")} for r in rows]

    assert main(args) == 0
    stacked = table()
    assert main([*args, "--no-stacked"]) == 0
    alone = table()
    # A stack of one and a stack of two differ in float32 rounding only (about 1e-8 of a
    # log-loss), so continuous columns agree to 1e-6 and everything else exactly.
    assert [r["method"] for r in alone] == [r["method"] for r in stacked]
    for got, want in zip(alone, stacked, strict=True):
        assert got.keys() == want.keys()
        for key, value in want.items():
            if isinstance(value, float) and not isinstance(value, bool):
                assert got[key] == pytest.approx(value, rel=1e-6), key
            else:
                assert got[key] == value, key


def test_compare_retry_failed_reruns_only_the_failed_jobs(tmp_path, capsys):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"logreg": {"C": [-1.0, 1.0]}}))
    args = [*BASE, "--store", str(tmp_path / "r.sqlite"), "--grid", str(grid),
            "--format", "json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    first = json.loads(out)
    assert first["failed_jobs"] == 2 and first["ran"] == 3 * 2 + 2 * 2
    assert "Failed jobs: 2" in err and "First errors (1 of 1 distinct)" in err
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["ran"] == 0
    assert main([*args, "--retry-failed"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["ran"] == 2 and again["skipped"] == 8 and again["failed_jobs"] == 2


def test_compare_cv_json_and_report_carry_the_leaderboard(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("fnnlab.bench.datasets.tabarena_repeats", lambda n_rows: 1)
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"knn": {"n_neighbors": [5]}, "rf": {"n_estimators": [10]}}))
    args = ["compare", "--methods", "", "--baselines", "knn,rf", "--suite", "iris,diabetes",
            "--protocol", "cv", "--jobs", "1", "--quiet", "--grid", str(grid)]
    assert main([*args, "--format", "json", "--report", str(tmp_path / "rep")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["tables"]) == {"classification", "regression"}
    assert {"elo", "elo_low", "elo_high", "win_rate", "train_s_per_1k",
            "predict_s_per_1k"} <= set(out["table"][0])
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Regression: leaderboard" in page and "data:image/png;base64" in page
    assert (tmp_path / "rep" / "elo_regression.png").is_file()
