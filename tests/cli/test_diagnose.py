"""Tests for ``fnnlab diagnose``."""


from fnnlab.cli import main


def test_diagnose_prints_signal_and_shattered_tables_and_writes_figures(capsys, tmp_path):
    code = main(["diagnose", "--methods", "batchnorm,resnet:branch_scale=0.1", "--depth", "3",
                 "--width", "8", "--sections", "signal,shattered", "--seeds", "1",
                 "--report", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "== Signal propagation" in out and "== Shattered gradients" in out
    assert "resnet:branch_scale=0.1" in out and "neighbor_correlation" in out
    written = sorted(p.name for p in tmp_path.glob("*.png"))
    assert written == ["coactivation.png", "gradient_autocorrelation.png",
                       "gradient_correlation.png", "gradient_spectrum.png", "signal.png"]


def test_diagnose_landscape_section(capsys, tmp_path):
    code = main(["diagnose", "--method", "msra", "--depth", "2", "--width", "8",
                 "--sections", "landscape", "--steps", "4", "--grid-points", "5",
                 "--contour-points", "3", "--report", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "beta_smoothness" in out and "1-D loss surface" in out
    assert (tmp_path / "loss_surface_2d.png").stat().st_size > 0


def test_diagnose_rejects_unknown_section_and_method(capsys):
    assert main(["diagnose", "--sections", "signals"]) == 2
    assert "Unknown section" in capsys.readouterr().err
    assert main(["diagnose", "--method", "nope", "--sections", "signal"]) == 2
    assert "Unknown method" in capsys.readouterr().err
