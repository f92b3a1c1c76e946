"""Tests for ``fnnlab reproduce``."""

from fnnlab.cli import main


def test_reproduce_prints_the_verdict_table_and_writes_the_report(tmp_path, capsys):
    code = main(["reproduce", "--quick", "--only", "1", "--seed", "0", "--quiet",
                 "--report", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    assert "supported" in out.out and "1 claims in" in out.out
    assert out.err == ""
    assert (tmp_path / "index.html").exists() and (tmp_path / "verdicts.csv").exists()


def test_unknown_claim_number_is_a_one_line_usage_error(capsys):
    assert main(["reproduce", "--only", "1,99"]) == 2
    err = capsys.readouterr().err
    assert "unknown claim number(s) [99]" in err and err.count("\n") == 1
