from pathlib import Path

import pytest

from fnnlab.bench.plan import make_plan

DATA = "/work/shared/data"
pytestmark = pytest.mark.skipif(not Path(f"{DATA}/splits/iris.splits.json.gz").is_file(),
                                reason="needs the shared UCI data with split files")


def _plan(**changes):
    kwargs = dict(methods=["snn", "msra"], datasets=[f"{DATA}/iris.csv.gz"], baselines=[],
                  grid={"fnn": {"depth": 2}}, seeds=1, backend="local", metric=None,
                  protocol="paper", reference=None, correction=None)
    return make_plan(**{**kwargs, **changes})


def test_paper_protocol_chooses_and_ranks_by_accuracy_and_breaks_ties_the_papers_way():
    config = _plan().config
    assert config["metric"] == "accuracy" and config["metrics"] == {"iris": "accuracy"}
    assert config["ties"] == "paper"


def test_other_protocols_keep_each_tasks_metric_and_prefer_small_networks():
    config = _plan(protocol="random").config
    assert config["metric"] is None and config["metrics"] == {"iris": "log_loss"}
    assert config["ties"] == "small"
    assert _plan(protocol="random", ties="paper").config["ties"] == "paper"


def test_an_unknown_tie_rule_fails_before_any_job():
    with pytest.raises(ValueError, match="Unknown tie rule 'deep'"):
        _plan(ties="deep")
