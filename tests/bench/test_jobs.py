import json

import sklearn

from fnnlab.bench.jobs import Job, job_row, make_jobs
from fnnlab.data import Source


def test_jobs_cover_the_product_and_their_keys_hold_the_data_fingerprint():
    jobs = make_jobs({"snn": [{"lr": 0.1}, {"lr": 0.01}], "knn": [{}]},
                     {"snn": "fnn", "knn": "baseline"}, [Source("iris"), Source("wine")],
                     [0, 1], "random", {"iris": "aaaa", "wine": "bbbb"})
    assert len(jobs) == 2 * 2 * 3 and len({job.key for job in jobs}) == len(jobs)
    assert {job.data for job in jobs if job.dataset == "iris"} == {"aaaa"}
    job = jobs[0]
    assert json.loads(job.key) == ["snn", "iris", "aaaa", {"lr": 0.1}, 0, "random"]
    other = Job(*[getattr(job, f) for f in ("method", "kind", "dataset", "path", "params",
                                             "seed", "protocol")], data="cccc")
    assert other.key != job.key  # same name and settings, other content: another job


def test_ok_and_failed_rows_share_the_identity_columns():
    job = Job("svm", "baseline", "iris", None, (("C", 1.0),), 3, "random", "aaaa")
    ok = job_row(job, status="ok", scores={"test_accuracy": 0.9}, seconds=0.5)
    failed = job_row(job, status="failed", error="ValueError: boom")
    identity = ("key", "method", "kind", "dataset", "data_hash", "params", "seed", "protocol",
                "host", "fnnlab_version", "torch_version", "sklearn_version")
    assert all(ok[c] == failed[c] for c in identity)
    assert ok["params"] == {"C": 1.0} and ok["sklearn_version"] == sklearn.__version__
    assert failed["scores"] is None and failed["error"] == "ValueError: boom"
