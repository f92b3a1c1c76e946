"""The method comparison: protocol, grids, runner (local / dask / ray), result
store and statistics.

Files: ``compare.py`` (``compare``, ``ComparisonResult``, ``table_from_store``),
``protocol.py`` (jobs, splits, choosing a grid point on validation), ``grids.py``
(quick / paper grids as data), ``baselines.py`` (scikit-learn baselines),
``runner.py`` (parallel execution), ``store.py`` (SQLite results), ``stats.py``
(ranks, Wilcoxon, Friedman, Nemenyi, the table).
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
