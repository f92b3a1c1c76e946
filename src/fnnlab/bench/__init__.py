"""The method comparison: planning, jobs, grids, training units, runner (local / dask /
ray), result store, selection and statistics.

Files, in the order a comparison uses them: ``compare.py`` (``compare``,
``table_from_store``, ``summarize``), ``plan.py`` (every input checked, the job list),
``grids.py`` (quick / paper grids as data, their checks), ``baselines.py``
(scikit-learn, GBDT and tabular-MLP baselines), ``datasets.py`` (splits per protocol,
cv folds, content fingerprints), ``jobs.py`` (``Job``, store rows), ``units.py`` (jobs
trained together as one stack; regression targets scaled on the training part),
``scoring.py`` (classification and regression metrics, predict time), ``runner.py``
(parallel execution), ``store.py`` (SQLite results), ``selection.py`` (grid point
chosen on validation), ``stats.py`` (ranks, Wilcoxon, Friedman, Nemenyi, the table),
``leaderboard.py`` (Elo, win rate, improvability, time per 1000 rows), ``fidelity.py``
(the paper protocol's deviations from the SNN paper, and its accuracies against the
published ones), ``result.py`` (``ComparisonResult``: printing and saving).
"""

from fnnlab.bench.baselines import BASELINE_GRIDS, BASELINES
from fnnlab.bench.compare import DEFAULT_METHODS, ComparisonResult, compare, table_from_store
from fnnlab.bench.grids import GRIDS
from fnnlab.bench.store import ResultStore

__all__ = [
    "BASELINES",
    "BASELINE_GRIDS",
    "DEFAULT_METHODS",
    "GRIDS",
    "ComparisonResult",
    "ResultStore",
    "compare",
    "table_from_store",
]
