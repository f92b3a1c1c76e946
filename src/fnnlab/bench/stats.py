"""Statistics of a method comparison: ranks, Wilcoxon, Friedman, Nemenyi, the table.

Input everywhere is a *score matrix*: a DataFrame with one row per dataset and
one column per method, higher is better (accuracy), NaN where a method has no
score on a dataset.

The table follows Klambauer, Unterthiner, Mayr, Hochreiter, "Self-Normalizing
Neural Networks", NeurIPS 2017, Table 1: per-dataset ranks, each method's
"avg. rank diff." (its mean rank minus the mean of all methods' mean ranks;
negative is better) and the p-value of a paired Wilcoxon signed-rank test of
the best method against each other method across datasets. The omnibus test and
critical difference follow Demšar, "Statistical Comparisons of Classifiers over
Multiple Data Sets", JMLR 7:1-30, 2006.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

Correction = Literal["holm", "bonferroni"] | None
TableFormat = Literal["text", "csv", "markdown", "latex"]


def ranks(scores: pd.DataFrame, *, higher_is_better: bool = True) -> pd.DataFrame:
    """Rank the methods on each dataset; rank 1 is best, ties get the average rank.

    R_ij = rank of method j among the methods with a score on dataset i
    (``scipy.stats.rankdata(method="average")``; Demšar 2006, Sec. 3.2.2).

    Parameters
    ----------
    scores : DataFrame
        Datasets x methods. NaN scores are left out of their row's ranking and
        keep a NaN rank.
    higher_is_better : bool, default=True
        False for losses and errors.

    Returns
    -------
    DataFrame
        Same shape as ``scores``, float ranks.
    """
    _check_scores(scores)
    values = scores.to_numpy(dtype=float)
    out = np.full_like(values, np.nan)
    for i, row in enumerate(values):
        ok = ~np.isnan(row)
        key = -row[ok] if higher_is_better else row[ok]
        out[i, ok] = _st.rankdata(key, method="average")
    return pd.DataFrame(out, index=scores.index, columns=scores.columns)


def mean_ranks(scores: pd.DataFrame, *, higher_is_better: bool = True) -> pd.Series:
    """Mean rank of each method over the datasets where it has a score."""
    return ranks(scores, higher_is_better=higher_is_better).mean(axis=0)


def avg_rank_diff(scores: pd.DataFrame, *, higher_is_better: bool = True) -> pd.Series:
    """The SNN paper's "avg. rank diff.": mean rank minus the mean over methods.

    d_j = mean_i R_ij - (1/k) sum_l mean_i R_il, so sum_j d_j = 0 and a negative
    value means better than the average method (Klambauer et al. 2017, Table 1).
    """
    mr = mean_ranks(scores, higher_is_better=higher_is_better)
    return mr - mr.mean()


def wilcoxon_vs_best(
    scores: pd.DataFrame,
    *,
    best: str | None = None,
    correction: Correction = None,
    higher_is_better: bool = True,
) -> pd.Series:
    """Paired two-sided Wilcoxon signed-rank test of the best method vs each other.

    For each method j != b the test pairs s_ib with s_ij over the datasets i where
    both have a score (``scipy.stats.wilcoxon``, zero differences dropped by its
    default ``zero_method="wilcox"``). The SNN paper reports these p-values
    uncorrected; ``correction`` adjusts them for the k-1 comparisons.

    Parameters
    ----------
    scores : DataFrame
        Datasets x methods.
    best : str, optional
        The reference method; default the one with the lowest mean rank.
    correction : {"holm", "bonferroni"} or None
        Bonferroni: p * (k-1). Holm (1979): step-down, the m-th smallest p-value
        is multiplied by (k-1) - m + 1 and the results made monotone.
    higher_is_better : bool, default=True

    Returns
    -------
    Series
        p-value per method, NaN for ``best`` itself and where a test is
        impossible (fewer than one non-zero paired difference).
    """
    _check_scores(scores)
    if correction not in (None, "holm", "bonferroni"):
        raise ValueError(
            f"Unknown correction {correction!r}. Use 'holm', 'bonferroni' or None."
        )
    if best is None:
        best = mean_ranks(scores, higher_is_better=higher_is_better).idxmin()
    elif best not in scores.columns:
        raise ValueError(f"best={best!r} is not a method in the scores: {list(scores.columns)}.")
    p = pd.Series(np.nan, index=scores.columns, dtype=float)
    for method in scores.columns:
        if method == best:
            continue
        pair = scores[[best, method]].dropna().to_numpy(dtype=float)
        diff = pair[:, 0] - pair[:, 1]
        if np.count_nonzero(diff) == 0:
            p[method] = 1.0 if len(diff) else np.nan
            continue
        p[method] = _st.wilcoxon(pair[:, 0], pair[:, 1]).pvalue
    return _correct(p, correction)


def _correct(p: pd.Series, correction: Correction) -> pd.Series:
    tested = p.dropna()
    m = len(tested)
    if correction is None or m == 0:
        return p
    if correction == "bonferroni":
        adjusted = (tested * m).clip(upper=1.0)
    else:
        order = tested.sort_values()
        steps = order.to_numpy() * (m - np.arange(m))
        adjusted = pd.Series(np.minimum(np.maximum.accumulate(steps), 1.0), index=order.index)
    out = p.copy()
    out[adjusted.index] = adjusted
    return out


def friedman(scores: pd.DataFrame, *, higher_is_better: bool = True) -> tuple[float, float]:
    """Friedman test that all methods perform alike (Demšar 2006, Sec. 3.2.2).

    chi2_F = 12N / (k(k+1)) [sum_j Rbar_j^2 - k(k+1)^2 / 4] on the datasets where
    every method has a score (``scipy.stats.friedmanchisquare``, which also
    corrects for ties).

    Returns
    -------
    (statistic, p_value)
        NaN, NaN when fewer than 3 methods or 2 complete datasets.
    """
    _check_scores(scores)
    complete = scores.dropna()
    if complete.shape[1] < 3 or complete.shape[0] < 2:
        return math.nan, math.nan
    key = complete if higher_is_better else -complete
    if np.all(key.to_numpy() == key.to_numpy()[:, :1]):
        return 0.0, 1.0  # every dataset a full tie: no evidence of any difference
    result = _st.friedmanchisquare(*(key[c].to_numpy(dtype=float) for c in key.columns))
    return float(result.statistic), float(result.pvalue)


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of mean ranks (Demšar 2006, Sec. 3.2.2).

    CD = q_alpha sqrt(k(k+1) / (6N)), q_alpha = q_{1-alpha}(k, inf) / sqrt(2),
    with q the studentized range distribution (``scipy.stats.studentized_range``).
    Two methods whose mean ranks differ by more than CD differ significantly.
    Demšar's example: k=4, N=14, alpha=0.05 gives q=2.569 and CD=1.25.
    """
    if not isinstance(k, int | np.integer) or k < 2:
        raise ValueError(f"nemenyi_cd needs k >= 2 methods, got k={k!r}.")
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"nemenyi_cd needs n >= 1 datasets, got n={n!r}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
    q = _st.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def comparison_table(
    scores: pd.DataFrame,
    *,
    correction: Correction = None,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> pd.DataFrame:
    """The SNN paper's table: one row per method, best (lowest mean rank) first.

    Columns: ``method``, ``mean_rank``, ``avg_rank_diff``, ``p_value`` (Wilcoxon
    vs the best, see :func:`wilcoxon_vs_best`), ``significant`` (p < alpha),
    ``best`` (bool), ``n_datasets`` (datasets where the method has a score).
    """
    mr = mean_ranks(scores, higher_is_better=higher_is_better)
    best = mr.idxmin()  # the first of tied methods, in column order
    p = wilcoxon_vs_best(scores, best=best, correction=correction,
                         higher_is_better=higher_is_better)
    table = pd.DataFrame({
        "method": mr.index,
        "mean_rank": mr.to_numpy(),
        "avg_rank_diff": (mr - mr.mean()).to_numpy(),
        "p_value": p[mr.index].to_numpy(),
        "significant": (p[mr.index] < alpha).to_numpy(),
        "best": (mr.index == best),
        "n_datasets": scores.notna().sum(axis=0)[mr.index].to_numpy(),
    })
    # Stable sort: ties keep the column order, so the first row is always ``best``.
    return table.sort_values("mean_rank", kind="stable").reset_index(drop=True)


# Leaderboard columns (fnnlab.bench.leaderboard) a table may carry: header, formatter.
_BOARD = (
    ("elo", "Elo [95% CI]", lambda r: f"{r.elo:.0f} [{r.elo_low:.0f}, {r.elo_high:.0f}]"),
    ("win_rate", "win rate", lambda r: f"{r.win_rate:.2f}"),
    ("improvability", "improv.", lambda r: f"{r.improvability:.3f}"),
    ("train_s_per_1k", "train s/1k", lambda r: f"{r.train_s_per_1k:.3g}"),
    ("predict_s_per_1k", "pred. s/1k", lambda r: f"{r.predict_s_per_1k:.3g}"),
)


def format_table(table: pd.DataFrame, fmt: TableFormat = "text") -> str:
    """Render :func:`comparison_table` output as text (like the paper), CSV, Markdown or LaTeX.

    The text, Markdown and LaTeX forms print "avg. rank diff." with three
    decimals, mark a method significantly worse than the best with "*" (as the
    paper does) and the best method with "(best)"; the p-value is blank for it.
    Leaderboard columns the table carries (Elo with its interval, win rate,
    improvability, train and predict seconds per 1000 rows) follow, NaN blank.
    """
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt not in ("text", "markdown", "latex"):
        raise ValueError(
            f"Unknown table format {fmt!r}. Use one of: text, csv, markdown, latex."
        )
    board = [(col, head, show) for col, head, show in _BOARD if col in table.columns]
    header = ["Method", "avg. rank diff.", "p-value"] + [head for _, head, _ in board]
    rows = []
    for r in table.itertuples(index=False):
        name = f"{r.method} (best)" if r.best else str(r.method)
        diff = f"{r.avg_rank_diff:.3f}" + ("*" if r.significant else "")
        pval = "" if (r.best or pd.isna(r.p_value)) else f"{r.p_value:.1e}"
        rows.append([name, diff, pval] + ["" if pd.isna(getattr(r, col)) else show(r)
                                          for col, _, show in board])
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        lines = [r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule",
                 " & ".join(header).replace("%", r"\%") + r" \\", r"\midrule"]
        for name, diff, pval, *rest in rows:
            cells = [name.replace("_", r"\_"), diff.replace("*", "$^*$"), _latex_sci(pval)]
            lines.append(" & ".join(cells + rest) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        return "  ".join([first] + [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:],
                                                                  strict=True)]).rstrip()

    return "\n".join([line(header)] + [line(row) for row in rows]) + "\n"


def _latex_sci(text: str) -> str:
    if not text:
        return text
    mantissa, exponent = text.split("e")
    return f"${mantissa} \\cdot 10^{{{int(exponent)}}}$"


def _check_scores(scores: pd.DataFrame) -> None:
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(
            f"scores must be a DataFrame (datasets x methods), got {type(scores).__name__}."
        )
    if scores.shape[1] < 2:
        raise ValueError(
            f"A comparison needs at least 2 methods (columns), got {list(scores.columns)}."
        )
    if scores.shape[0] < 1:
        raise ValueError("A comparison needs at least 1 dataset (row), got none.")
