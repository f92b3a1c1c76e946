"""How data errors name columns, rows and values.

Every loader, check and preprocessor in `fnnlab.data` says where a problem is
(DESIGN.md: "say what is wrong, where, and what to do"). These helpers word the
"where" alike everywhere: a list of names cut after a few entries, row positions
with a count of the rest, a label without NumPy's type wrapper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["counts", "label", "names", "rows"]


def names(items: Sequence[Any], limit: int = 20) -> str:
    """``'a', 'b', ... (N in all)``: the reprs of the first ``limit`` items."""
    shown = ", ".join(repr(item) for item in list(items)[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def rows(mask: np.ndarray, limit: int = 5) -> str:
    """``3, 17, 40 (and 12 more)``: the positions where the boolean ``mask`` is true."""
    where = np.flatnonzero(mask)
    more = f" (and {len(where) - limit} more)" if len(where) > limit else ""
    return ", ".join(map(str, where[:limit])) + more


def label(value: Any) -> str:
    """repr of a value, without NumPy's type wrapper (``2``, not ``np.int64(2)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def counts(per_column: Mapping[str, int], limit: int = 10) -> str:
    """``'a' (2 rows), 'b' (1 row)``: a count of rows per column."""
    items = [f"{column!r} ({n} row{'s' if n != 1 else ''})" for column, n in per_column.items()]
    more = f", ... ({len(items)} columns in all)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more
