"""``ComparisonResult``: the table of a method comparison, and how it is printed and saved."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fnnlab.bench import stats as _stats
from fnnlab.bench.fidelity import format_fidelity


@dataclass
class ComparisonResult:
    """What :func:`compare` returns.

    Attributes
    ----------
    table : DataFrame
        One row per method over all data sets, best first: ``method``, ``mean_rank``,
        ``avg_rank_diff``, ``p_value`` (Wilcoxon vs the best), ``significant``,
        ``best``, ``n_datasets``; the leaderboard's ``elo``, ``elo_low``,
        ``elo_high``, ``win_rate``, ``improvability``, ``train_s_per_1k``,
        ``predict_s_per_1k``, ``n_folds`` (``fnnlab.bench.leaderboard``);
        ``mean_error`` (mean over data sets of the test error), ``failed_jobs`` and
        ``metric`` (the data sets' metrics). Ranks and tests compare errors (lower is
        better) within each data set.
    scores : DataFrame
        Data sets x methods: mean over folds and seeds of the test score, in each
        data set's metric, of the grid point chosen on validation.
    per_dataset : DataFrame
        Long form of ``scores`` with ``task``, ``metric``, ``std``, ``error``,
        ``n_seeds`` and ``n_folds``, and with ``published`` and ``difference``
        (ours - published) when a reference was given.
    selected : DataFrame
        The chosen grid point per (method, dataset, seed), see ``selection.select``.
    results : DataFrame
        Every job row of the store that belongs to this comparison.
    metric : str
        The score that chose grid points and ranks methods ("roc_auc/rmse": each
        data set its task's).
    friedman : (statistic, p_value)
        Friedman test over the data sets where every method has a score.
    cd : float
        Nemenyi critical difference (alpha=0.05) for those data sets.
    config : dict
        The settings of the comparison.
    ran, skipped : int
        Jobs run by this call, and jobs skipped because the store had them.
    seconds : float
        Wall time of this call.
    changed : list of str
        Data sets whose content differs from the one the store's earlier results were
        computed on; their jobs ran as a new data set.
    tables : dict of str to DataFrame
        The table of each task type ("classification", "regression"), over its data
        sets only; with one task type its table is ``table``.
    deviations : list of str
        Under the paper protocol, everything this comparison does differently from the
        SNN paper (``fnnlab.bench.fidelity.deviations``); empty otherwise.
    fidelity : DataFrame or None
        With a reference, per method: mean of (ours - published), mean absolute
        difference, and data sets within two standard deviations over seeds
        (``fnnlab.bench.fidelity.fidelity``); None without one.
    """

    table: pd.DataFrame
    scores: pd.DataFrame
    per_dataset: pd.DataFrame
    selected: pd.DataFrame
    results: pd.DataFrame
    metric: str
    friedman: tuple[float, float]
    cd: float
    config: dict[str, Any] = field(default_factory=dict)
    ran: int = 0
    skipped: int = 0
    seconds: float = 0.0
    changed: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    deviations: list[str] = field(default_factory=list)
    fidelity: pd.DataFrame | None = None

    def format(self, fmt: str = "text") -> str:
        """The table as text (one per task type, tests, notes), CSV, Markdown, LaTeX or JSON."""
        if fmt == "json":
            return json.dumps(_clean(self.to_dict()), indent=2, allow_nan=False)
        if fmt != "text":
            return _stats.format_table(self.table, fmt)
        lines = [f"Method comparison: {self.table.shape[0]} methods, {self.scores.shape[0]} "
                 f"data sets, protocol {self.config.get('protocol', 'random')}; test error of "
                 f"the grid point chosen on validation (kept, not refitted), lower is better: "
                 f"1 - score for accuracy, ROC AUC and R^2. * = Wilcoxon p < 0.05 vs best. "
                 f"Elo: Bradley-Terry fit to the duels on every fold, 95% bootstrap CI over "
                 f"data sets{'; rf pinned at 1000' if 'rf' in self.table['method'].values else ''}."
                 f" improv. = 1 - best error / error; s/1k = median seconds per 1000 rows."]
        tasks = self.config.get("tasks", {})
        for task, table in self.tables.items():
            names = [d for d in self.scores.index if tasks.get(d) == task]
            lines += ["", f"{task} ({len(names)} data set{'s' * (len(names) != 1)}: "
                          f"{', '.join(names)}; error of {table['metric'].iloc[0]}):",
                      _stats.format_table(table, "text").rstrip()]
        if len(self.tables) != 1:
            lines += ["", "All task types (each data set ranked by its own error):",
                      _stats.format_table(self.table, "text").rstrip()]
        lines.append("")
        stat, p = self.friedman
        complete = int(self.scores.dropna().shape[0])
        if not math.isnan(stat):
            lines.append(f"Friedman chi2 = {stat:.2f}, p = {p:.2g} on {complete} complete "
                         f"data sets; Nemenyi CD (alpha=0.05) = {self.cd:.2f} ranks.")
        grids = self.config.get("baseline_grids", {})
        if grids:
            lines.append("Baseline grids (library defaults otherwise): " + "; ".join(
                f"{name} {json.dumps(grid, sort_keys=True) if grid else 'defaults only'}"
                for name, grid in grids.items()))
        lines += self.notes()
        if "published" in self.per_dataset:
            ref = self.per_dataset.dropna(subset=["published"])
            if len(ref):
                lines += ["", "Published accuracies (SNN paper) beside ours:",
                          ref[["dataset", "method", "score", "std", "published", "difference"]]
                          .to_string(index=False, float_format=lambda x: f"{x:.4f}")]
        if self.fidelity is not None and len(self.fidelity):
            lines += ["", "Fidelity to the published accuracies, per method (ours - published "
                          "over the data sets with both; within 2 sd: |ours - published| <= "
                          "2 standard deviations of ours over seeds):",
                      format_fidelity(self.fidelity)]
        return "\n".join(lines) + "\n"

    def notes(self) -> list[str]:
        """Lines about missing scores, changed data sets, failed jobs (with first errors) and,
        under the paper protocol, the deviations from the paper."""
        lines = []
        missing = self.scores.isna() & self.scores.notna().any(axis=1).to_numpy()[:, None]
        if missing.any().any():
            lines.append("No test score (a failed job, or a metric the method cannot give, "
                         "such as log-loss without class probabilities): " + "; ".join(
                             f"{m} on {', '.join(missing.index[missing[m]])}"
                             for m in missing.columns if missing[m].any()) + ".")
        if self.changed:
            lines.append(f"Changed data: {', '.join(self.changed)} differ from the content the "
                         f"store's earlier results used; their jobs ran as new data sets.")
        failed = self.results[self.results["status"] != "ok"] if len(self.results) else None
        if failed is not None and len(failed):
            where = failed.groupby(["method", "dataset"]).size()
            lines.append(f"Failed jobs: {len(failed)} ("
                         + ", ".join(f"{m}/{d}: {n}" for (m, d), n in where.items()) + ").")
            lines += first_errors(failed)
        if self.deviations:
            lines.append("Deviations from the SNN paper (Klambauer et al. 2017, supplement A4):")
            lines += [f"  - {line}" for line in self.deviations]
        return lines

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the table, per-data-set scores, tests, settings, and the
        deviations from the paper and the fidelity summary where they apply)."""
        out = {
            "metric": self.metric,
            "table": self.table.to_dict(orient="records"),
            "tables": {task: table.to_dict(orient="records")
                       for task, table in self.tables.items()},
            "per_dataset": self.per_dataset.to_dict(orient="records"),
            "friedman": {"statistic": self.friedman[0], "p_value": self.friedman[1]},
            "nemenyi_cd": self.cd,
            "failed_jobs": int((self.results["status"] != "ok").sum()) if len(self.results)
            else 0,
            "ran": self.ran, "skipped": self.skipped, "seconds": self.seconds,
            "changed": self.changed,
            "config": self.config,
        }
        if self.config.get("protocol") == "paper":
            out["deviations"] = list(self.deviations)
        if self.fidelity is not None:
            out["fidelity"] = self.fidelity.to_dict(orient="records")
        return out

    def save(self, directory: str | Path) -> Path:
        """Write the tables (txt, csv, md, tex, json), scores, selections and figures.

        Everything goes to ``directory``; the figures are the critical differences, the
        scores heatmap and each task type's Elo chart (``elo_<task>.png``).
        """
        # Deferred: matplotlib takes seconds to import, and only saving draws figures.
        from fnnlab.plots.comparison import accuracy_heatmap, critical_difference_diagram
        from fnnlab.plots.leaderboard import elo_ratings

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / "table.txt").write_text(self.format("text"))
        for fmt, suffix in (("csv", "csv"), ("markdown", "md"), ("latex", "tex")):
            (out / f"table.{suffix}").write_text(self.format(fmt))
        (out / "comparison.json").write_text(self.format("json"))
        self.per_dataset.to_csv(out / "per_dataset.csv", index=False)
        self.selected.to_csv(out / "selected.csv", index=False)
        if self.scores.shape[1] >= 2 and not math.isnan(self.cd):
            fig = critical_difference_diagram(self.table, self.cd)
            fig.savefig(out / "critical_difference.png", dpi=120, bbox_inches="tight")
        fig = accuracy_heatmap(self.scores, metric=self.metric)
        fig.savefig(out / "scores_heatmap.png", dpi=120, bbox_inches="tight")
        for task, table in self.tables.items():
            if "elo" in table and table["elo"].notna().any():
                fig = elo_ratings(table, title=f"{task}: Elo")
                fig.savefig(out / f"elo_{task}.png", dpi=120, bbox_inches="tight")
        return out


def first_errors(failed: pd.DataFrame, limit: int = 3) -> list[str]:
    """Lines naming the first ``limit`` distinct errors of failed job rows, with counts."""
    counts = failed["error"].fillna("unknown error").value_counts(sort=False)
    lines = [f"First errors ({min(limit, len(counts))} of {len(counts)} distinct):"]
    for error, n in list(counts.items())[:limit]:
        first = failed[failed["error"].fillna("unknown error") == error].iloc[0]
        lines.append(f"  {error} ({n} job{'s' if n > 1 else ''}, first: {first['method']} "
                     f"on {first['dataset']}, seed {first['seed']}, {first['params']})")
    return lines


def _clean(value: Any) -> Any:
    # Strict JSON: NaN becomes null, numpy scalars become Python numbers.
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
