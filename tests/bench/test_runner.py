import math

import pytest

from fnnlab.bench.runner import check_backend, run_jobs


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_local_runner_returns_every_result_and_records_failures(n_jobs):
    jobs = [4.0, 9.0, -1.0, 16.0]
    out = dict(run_jobs(math.sqrt, jobs, n_jobs=n_jobs, progress=False))
    assert out[4.0] == 2.0 and out[9.0] == 3.0 and out[16.0] == 4.0
    assert out[-1.0]["status"] == "failed"
    assert out[-1.0]["error"] == "ValueError: math domain error"


def test_runner_with_no_jobs_yields_nothing():
    assert list(run_jobs(math.sqrt, [], progress=False)) == []


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown backend 'dsak'. Did you mean 'dask'"):
        check_backend("dsak")
    with pytest.raises(ValueError, match="Unknown backend"):
        list(run_jobs(math.sqrt, [1.0], backend="slurm", progress=False))


def test_ray_backend_without_ray_says_how_to_install():
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install 'ray'"):
            check_backend("ray")
    else:
        assert check_backend("ray") == "ray"
