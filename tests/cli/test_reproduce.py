"""Tests for ``fnnlab reproduce``."""

import pandas as pd

from fnnlab.cli import main


def test_reproduce_prints_the_verdict_table_and_writes_the_report(tmp_path, capsys):
    code = main(["reproduce", "--quick", "--only", "1", "--seed", "0", "--quiet",
                 "--report", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    assert "supported" in out.out and "1 claims in" in out.out and "CPU" in out.out
    assert out.err == ""
    for name in ("index.html", "verdicts.csv", "claims.csv", "summary.md"):
        assert (tmp_path / name).exists()
    checks = pd.read_csv(tmp_path / "verdicts.csv")
    assert list(checks.columns[:5]) == ["claim", "check", "value", "rule", "verdict"]
    assert (checks["claim"] == 1).all() and len(checks) > 1
    assert "| 1 | SELU" in (tmp_path / "summary.md").read_text()


def test_unknown_claim_number_is_a_one_line_usage_error(capsys):
    assert main(["reproduce", "--only", "1,99"]) == 2
    err = capsys.readouterr().err
    assert "unknown claim number(s) [99]" in err and err.count("\n") == 1


def test_data_option_must_name_the_shared_data_folder(tmp_path, capsys):
    assert main(["reproduce", "--quick", "--only", "6", "--quiet", "--data",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has no MANIFEST.csv" in err and err.count("\n") == 1
