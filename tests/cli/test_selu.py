"""Tests for ``fnnlab selu``."""

import re

from fnnlab.cli import main
from fnnlab.theory import alpha_dropout_affine, jacobian_norm, selu_parameters


def _values(text: str) -> dict[str, str]:
    return {m[1]: m[2] for m in re.finditer(r"^(\w[\w ]*?)\s{2,}(.+)$", text, re.M)}


def test_selu_command_prints_the_paper_constants_for_zero_one(capsys):
    assert main(["selu"]) == 0
    values = _values(capsys.readouterr().out)
    assert values["alpha"] == "1.673263242354"
    assert values["scale"] == "1.050700987355"
    assert values["jacobian norm"] == "0.787673"
    assert values["stable"] == "yes"


def test_selu_command_for_variance_four_with_dropout(capsys):
    assert main(["selu", "--mean", "0", "--var", "4", "--dropout", "0.1"]) == 0
    values = _values(capsys.readouterr().out)
    alpha, scale = selu_parameters(0.0, 4.0)
    a, b = alpha_dropout_affine(0.1, alpha, scale, 0.0, 4.0)
    assert float(values["alpha"]) == round(alpha, 12)
    assert float(values["scale"]) == round(scale, 12)
    assert float(values["jacobian norm"]) == round(jacobian_norm(0, 4, alpha, scale), 6)
    assert values["stable"] == "yes"
    assert float(values["dropout a"]) == round(a, 6)
    assert float(values["dropout b"]) == round(b, 6)


def test_selu_command_reports_an_unreachable_fixed_point_in_one_line(capsys):
    assert main(["selu", "--mean", "3", "--var", "1"]) == 2
    err = capsys.readouterr().err
    assert "not reachable" in err and err.count("\n") == 1
