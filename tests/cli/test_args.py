"""Argument checks made when the command line is read (fnnlab.cli.args), and main's errors."""

import os

import numpy as np
import pandas as pd
import pytest

from fnnlab.cli import main


@pytest.fixture
def csv(tmp_path):
    g = np.random.default_rng(0)
    frame = pd.DataFrame({"a": g.normal(size=40), "b": g.normal(size=40)})
    frame["target"] = (frame["a"] > 0).astype(int)
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False)
    return path


def _error(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("lr", ["inf", "nan", "-0.1", "0"])
def test_lr_must_be_finite_and_positive(csv, capsys, lr):
    assert "argument --lr: must be a finite number > 0" in _error(capsys, ["train", str(csv),
                                                                          "--lr", lr])


def test_jobs_zero_is_refused_in_the_users_terms(capsys):
    assert "argument --jobs: 0 jobs would run nothing" in _error(capsys, ["compare", "--jobs",
                                                                          "0"])


def test_store_in_a_missing_folder_names_the_folder(tmp_path, capsys):
    line = _error(capsys, ["compare", "--store", str(tmp_path / "nowhere" / "r.sqlite")])
    assert f"{tmp_path / 'nowhere'}, does not exist" in line


def test_train_out_that_cannot_be_written_fails_before_training(csv, tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    assert "is a folder" in _error(capsys, ["train", str(csv), "--out", str(folder)])
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = _error(capsys, ["train", str(csv), "--out", str(blocker / "m.pt")])
    assert "cannot write" in line and "does not take new files" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused(csv, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert "does not take new files" in _error(capsys, ["train", str(csv), "--out",
                                                        str(locked / "m.pt")])


def test_reproduce_report_that_is_a_file_fails_before_any_claim_runs(tmp_path, capsys):
    report = tmp_path / "report.html"
    report.write_text("")
    assert "is a file, not a folder" in _error(capsys, ["reproduce", "--report", str(report)])


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_command_shows_the_traceback(tmp_path, where):
    argv = ["train", str(tmp_path / "missing.csv")]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(FileNotFoundError):
        main(argv)


def test_without_debug_errors_are_one_line(tmp_path, capsys):
    assert main(["train", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such data file" in err


def test_library_warnings_about_fnnlabs_own_calls_are_quiet():
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    from fnnlab.cli import _quiet_library_warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _quiet_library_warnings()
        assert balanced_accuracy_score([0, 0, 1], [0, 2, 1]) == pytest.approx(0.75)


def test_unknown_scaling_is_a_usage_error_listing_the_names(csv, capsys):
    line = _error(capsys, ["train", str(csv), "--scaling", "robst"])
    assert line.endswith("argument --scaling: Unknown scaling 'robst'. Did you mean 'robust'? "
                         "Known scalings: none, quantile, robust, standard.")
