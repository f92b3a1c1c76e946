"""What a claim is, what running it gives, and the rules that turn numbers into a verdict.

A :class:`Claim` pairs a statement of the reference notes (quoted, with the note's
file name) with a function that runs a small seeded experiment and returns an
:class:`Outcome`: what was run, figures, a table of measured numbers, and
:class:`Check` objects. Each check compares one measured number with a bound by a
rule written in code (:func:`below`, :func:`above`), so a verdict is never decided
by hand:

- ``"supported"``: the inequality holds with the stated margin to spare;
- ``"not supported at this scale"``: the opposite inequality holds with that margin;
- ``"inconclusive"``: the number lies within the margin of the bound (or is NaN);
- ``"the note is wrong"``: the bound comes from the note and is wrong on its own terms
  (the mathematics, not the scale of the experiment); the check says why in one
  sentence (:func:`note_is_wrong`).

The margin is the measurement's noise (timing jitter, seed-to-seed spread, Monte
Carlo error) as judged when the rule was written.

Each check is either a *main* check, testing the note's main statement, or a
*secondary* one (a side remark of the note, a control, or a check that the setting
is valid). The headline verdict of a claim comes from its main checks alone
(:func:`combine`): "the note is wrong" if any main check is; otherwise "not
supported at this scale" if any main check is not supported; "supported" if every
main check is; "inconclusive" otherwise (and when no check is main). Secondary checks
are reported beside it and never change it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "CLAIMS",
    "INCONCLUSIVE",
    "NOTE_WRONG",
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
    "count",
    "note_is_wrong",
    "secondary",
]

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported at this scale"
INCONCLUSIVE = "inconclusive"
NOTE_WRONG = "the note is wrong"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOTE_WRONG)


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
    main : bool
        Whether the check tests the note's main statement (and so decides the claim's
        headline verdict, see :func:`combine`).
    reason : str
        Why the note is wrong, in one sentence (only with ``verdict == NOTE_WRONG``).
    """

    name: str
    value: float
    rule: str
    verdict: str
    main: bool = True
    reason: str = ""


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


def below(name: str, value: float, bound: float, margin: float = 0.0, *,
          main: bool = True) -> Check:
    """Check that ``value < bound``.

    Supported if ``value < bound - margin``, not supported if ``value > bound + margin``,
    inconclusive in between or when ``value`` is NaN (``+inf`` counts as above any bound).
    ``main=False`` makes it a secondary check (see :func:`combine`).
    """
    value = float(value)
    rule = f"< {bound:.4g}" + (f" (margin {margin:.3g})" if margin else "")
    return Check(name, value, rule, _decide(value, bound, margin, want_below=True), main)


def above(name: str, value: float, bound: float, margin: float = 0.0, *,
          main: bool = True) -> Check:
    """Check that ``value > bound``; the mirror image of :func:`below`."""
    value = float(value)
    rule = f"> {bound:.4g}" + (f" (margin {margin:.3g})" if margin else "")
    return Check(name, value, rule, _decide(value, bound, margin, want_below=False), main)


def secondary(check: Check) -> Check:
    """The same check as a secondary one: reported, but not part of the headline."""
    return replace(check, main=False)


def note_is_wrong(check: Check, reason: str) -> Check:
    """Mark a failed check whose bound comes from the note as "the note is wrong".

    Use it only where the experiment also shows, on the mathematics' own terms, that
    the note's bound is not the one its theorem needs; ``reason`` says so in one
    sentence. A check that holds (or is inconclusive) is returned unchanged: the
    verdict records what was measured, not what was expected.
    """
    if not reason.strip():
        raise ValueError("note_is_wrong needs the reason in one sentence.")
    if check.verdict != NOT_SUPPORTED:
        return check
    return replace(check, verdict=NOTE_WRONG, reason=reason.strip())


def combine(checks: Sequence[Check]) -> str:
    """A claim's headline verdict from its main checks.

    "the note is wrong" if any main check is; else "not supported at this scale" if any
    main check is not supported; "supported" if every main check is supported;
    "inconclusive" otherwise, and when there is no main check. Secondary checks
    (``main=False``) do not count.
    """
    verdicts = [c.verdict for c in checks if c.main]
    if not verdicts:
        return INCONCLUSIVE
    if NOTE_WRONG in verdicts:
        return NOTE_WRONG
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    if all(v == SUPPORTED for v in verdicts):
        return SUPPORTED
    return INCONCLUSIVE


def count(checks: Sequence[Check]) -> str:
    """The checks as text: "main 2/3 supported; secondary 1/1 supported"."""
    parts = []
    for label, group in (("main", [c for c in checks if c.main]),
                         ("secondary", [c for c in checks if not c.main])):
        if group:
            ok = sum(c.verdict == SUPPORTED for c in group)
            parts.append(f"{label} {ok}/{len(group)} supported")
    return "; ".join(parts) or "no checks"


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
        """The checks as a table: check, value, rule, verdict, role (main or secondary),
        reason (why the note is wrong, else empty)."""
        return pd.DataFrame(
            [{"check": c.name, "value": c.value, "rule": c.rule, "verdict": c.verdict,
              "role": "main" if c.main else "secondary", "reason": c.reason}
             for c in self.checks],
            columns=["check", "value", "rule", "verdict", "role", "reason"],
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
