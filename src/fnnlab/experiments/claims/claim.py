"""What a claim is, what running it gives, and the rules that turn numbers into a verdict.

A :class:`Claim` pairs a statement of the reference notes (quoted, with the note's
file name) with a function that runs a small seeded experiment and returns an
:class:`Outcome`: what was run, figures, a table of measured numbers, and
:class:`Check` objects. Each check compares one measured number with a bound by a
rule written in code (:func:`below`, :func:`above`), so a verdict is never decided
by hand:

- ``"supported"``: the inequality holds with the stated margin to spare;
- ``"not supported at this scale"``: the opposite inequality holds with that margin;
- ``"inconclusive"``: the number lies within the margin of the bound (or is NaN).

The margin is the measurement's noise (timing jitter, seed-to-seed spread, Monte
Carlo error) as judged when the rule was written. A claim is supported when all of
its checks are, not supported when any check is not, and inconclusive otherwise
(:func:`combine`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "CLAIMS",
    "INCONCLUSIVE",
    "NOT_SUPPORTED",
    "SUPPORTED",
    "VERDICTS",
    "Check",
    "Claim",
    "Outcome",
    "above",
    "below",
    "claim",
    "combine",
]

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported at this scale"
INCONCLUSIVE = "inconclusive"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)


@dataclass(frozen=True)
class Check:
    """One measured number held against one bound.

    Attributes
    ----------
    name : str
        What was measured ("variance of layer 64, SNN").
    value : float
        The measured number.
    rule : str
        The rule as text ("< 0.25, margin 0.05").
    verdict : str
        One of :data:`VERDICTS`.
    """

    name: str
    value: float
    rule: str
    verdict: str


def _decide(value: float, bound: float, margin: float, want_below: bool) -> str:
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}.")
    if math.isnan(value):
        return INCONCLUSIVE
    gap = (bound - value) if want_below else (value - bound)
    if gap > margin:
        return SUPPORTED
    if gap < -margin:
        return NOT_SUPPORTED
    return INCONCLUSIVE


def below(name: str, value: float, bound: float, margin: float = 0.0) -> Check:
    """Check that ``value < bound``.

    Supported if ``value < bound - margin``, not supported if ``value > bound + margin``,
    inconclusive in between or when ``value`` is NaN (``+inf`` counts as above any bound).
    """
    value = float(value)
    rule = f"< {bound:.4g}" + (f" (margin {margin:.3g})" if margin else "")
    return Check(name, value, rule, _decide(value, bound, margin, want_below=True))


def above(name: str, value: float, bound: float, margin: float = 0.0) -> Check:
    """Check that ``value > bound``; the mirror image of :func:`below`."""
    value = float(value)
    rule = f"> {bound:.4g}" + (f" (margin {margin:.3g})" if margin else "")
    return Check(name, value, rule, _decide(value, bound, margin, want_below=False))


def combine(checks: Sequence[Check]) -> str:
    """A claim's verdict: supported if every check is, not supported if any check is
    not, inconclusive otherwise (and when there are no checks)."""
    verdicts = [c.verdict for c in checks]
    if not verdicts:
        return INCONCLUSIVE
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    if all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return INCONCLUSIVE


@dataclass
class Outcome:
    """What running a claim's experiment gives.

    Attributes
    ----------
    setup : str
        What was run: models, data, sizes, seeds, and how each number was measured.
    numbers : DataFrame
        The measured numbers (tidy, one row per measurement).
    checks : list of Check
        The rules applied to the numbers; :func:`combine` turns them into the verdict.
    figures : list of (Figure, caption)
    notes : str
        How to read the result (caveats, what differs from the papers' setting).
    """

    setup: str
    numbers: pd.DataFrame
    checks: list[Check]
    figures: list[tuple[Figure, str]] = field(default_factory=list)
    notes: str = ""

    @property
    def verdict(self) -> str:
        return combine(self.checks)

    def checks_frame(self) -> pd.DataFrame:
        """The checks as a table: check, measured, rule, verdict."""
        return pd.DataFrame(
            [{"check": c.name, "measured": c.value, "rule": c.rule, "verdict": c.verdict}
             for c in self.checks],
            columns=["check", "measured", "rule", "verdict"],
        )


Runner = Callable[[bool, int], Outcome]


@dataclass(frozen=True)
class Claim:
    """A claim of the reference notes and the experiment that tests it.

    Attributes
    ----------
    id : int
        Number of the claim (the order of the report).
    title : str
        A short name.
    statement : str
        The notes' statement, quoted briefly (or closely paraphrased, marked so).
    source : str
        The note file(s) the statement comes from, in ``../shared/reference/``.
    run : callable
        ``run(quick, seed) -> Outcome``.
    """

    id: int
    title: str
    statement: str
    source: str
    run: Runner


CLAIMS: dict[int, Claim] = {}


def claim(id: int, title: str, statement: str, source: str) -> Callable[[Runner], Runner]:
    """Register the decorated ``run(quick, seed) -> Outcome`` function as claim ``id``."""

    def register(run: Runner) -> Runner:
        if id in CLAIMS:
            raise ValueError(f"Claim {id} is registered twice ({CLAIMS[id].title!r} and "
                             f"{title!r}); give each claim its own number.")
        CLAIMS[id] = Claim(id=id, title=title, statement=statement, source=source, run=run)
        return run

    return register
