"""HTML reports: sections of text, figures and tables in one self-contained file.

A :class:`Report` is built section by section and written as ``index.html`` into
a folder. Figures are embedded as base64 PNG (``data:`` URIs) and the style sheet
is inline, so the file opens from disk, can be mailed or archived as one file, and
never loads anything from a network. ``fnnlab reproduce``, ``compare``, ``diagnose``
and ``train`` all write their reports through this class::

    report = Report("Comparison on the quick suite")
    report.add_section("Ranks", "Mean rank per method over the data sets.")
    report.add_table(table)
    report.add_figure(fig, caption="Critical-difference diagram.")
    report.write("report/")            # -> report/index.html

Tables are rendered with ``DataFrame.to_html`` (escaped), text is escaped, and
only :meth:`Report.add_html` inserts markup as given.
"""

from __future__ import annotations

import base64
import html
import io
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.figure import Figure
from torch import Tensor, nn

if TYPE_CHECKING:
    from fnnlab.bench.result import ComparisonResult

__all__ = ["Report", "Section", "comparison_report", "model_graph_png"]

# The resolution figures are saved at. Figures are drawn at 6-10 inches wide, so
# 100 dpi gives 600-1000 pixels: sharp on screen, a few tens of kB per PNG.
_DPI = 100

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1.5em; color: #1d1d1f;
       line-height: 1.45; }
h1 { font-size: 1.9em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #e3e3e3; padding-bottom: 0.2em; margin-top: 2.2em; }
h3 { margin-top: 1.4em; }
.meta { color: #666; font-size: 0.9em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f5f5f7; }
td:first-child, th:first-child, .left { text-align: left; }
blockquote { border-left: 4px solid #c7d2fe; margin: 0.8em 0; padding: 0.3em 1em;
             background: #f7f8ff; color: #333; }
.verdict { display: inline-block; padding: 0.1em 0.6em; border-radius: 0.8em;
           font-weight: 600; font-size: 0.9em; white-space: nowrap; }
.supported { background: #d1fae5; color: #065f46; }
.not-supported { background: #fee2e2; color: #991b1b; }
.inconclusive { background: #fef3c7; color: #92400e; }
nav ol { columns: 2; font-size: 0.95em; }
pre { background: #f5f5f7; padding: 0.6em; overflow-x: auto; }
"""


@dataclass
class Section:
    """One titled part of a report: a heading and a list of HTML blocks."""

    title: str
    anchor: str
    blocks: list[str] = field(default_factory=list)
    level: int = 2


class Report:
    """A self-contained HTML report built from text, figures and tables.

    Parameters
    ----------
    title : str
        Title of the page (``<h1>`` and ``<title>``).
    intro : str, optional
        Paragraph(s) under the title; blank lines separate paragraphs.
    toc : bool, default=True
        List the level-2 sections under the front matter (when there are several).

    Notes
    -----
    ``add_text``, ``add_figure``, ``add_table`` and ``add_html`` append to the
    section started last by :meth:`add_section` (or to the front matter before the
    first section). ``write`` adds a table of contents of the level-2 sections unless
    ``toc=False``.
    """

    def __init__(self, title: str, intro: str = "", *, toc: bool = True) -> None:
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"Report: title must be a non-empty string, got {title!r}.")
        self.title = title
        self.toc = toc
        self.front: list[str] = []
        self.sections: list[Section] = []
        self._anchors: set[str] = set()
        if intro:
            self.add_text(intro)

    # -- building -------------------------------------------------------------------

    def _blocks(self) -> list[str]:
        return self.sections[-1].blocks if self.sections else self.front

    def add_section(self, title: str, text: str = "", *, anchor: str | None = None,
                    level: int = 2) -> Section:
        """Start a new section; what is added next goes into it.

        Parameters
        ----------
        title : str
            Heading.
        text : str, optional
            Paragraph(s) under the heading.
        anchor : str, optional
            HTML id (for links ``#anchor``); default: made from the title.
        level : {2, 3}
            Heading level; level-2 sections are listed in the table of contents.
        """
        if level not in (2, 3):
            raise ValueError(f"Report.add_section: level must be 2 or 3, got {level!r}.")
        anchor = self._unique_anchor(anchor or title)
        section = Section(title=title, anchor=anchor, level=level)
        self.sections.append(section)
        if text:
            self.add_text(text)
        return section

    def add_text(self, text: str) -> None:
        """Add paragraphs of plain text (escaped; a blank line starts a new paragraph)."""
        for para in re.split(r"\n\s*\n", text.strip()):
            if para.strip():
                self._blocks().append(f"<p>{html.escape(para.strip())}</p>")

    def add_quote(self, text: str, source: str = "") -> None:
        """Add a quotation, with its source (e.g. a file name) under it."""
        cite = f"<br><small>{html.escape(source)}</small>" if source else ""
        self._blocks().append(f"<blockquote>{html.escape(text)}{cite}</blockquote>")

    def add_html(self, markup: str) -> None:
        """Add raw HTML as given (the caller escapes; must not load external resources)."""
        self._blocks().append(markup)

    def add_figure(self, fig: Figure, caption: str = "", *, width: int | None = None) -> None:
        """Embed a matplotlib figure as a base64 PNG.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
        caption : str, optional
        width : int, optional
            Display width in CSS pixels (default: the PNG's own width, at most the page).
        """
        if not isinstance(fig, Figure):
            raise TypeError(
                f"Report.add_figure expects a matplotlib Figure, got {type(fig).__name__}. "
                f"Use add_image for PNG bytes."
            )
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
        self.add_image(buffer.getvalue(), caption, width=width, alt=_figure_title(fig))

    def add_image(self, png: bytes, caption: str = "", *, width: int | None = None,
                  alt: str = "") -> None:
        """Embed PNG bytes as a ``data:`` URI."""
        if not isinstance(png, bytes | bytearray) or not bytes(png[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ValueError("Report.add_image expects the bytes of a PNG file.")
        data = base64.b64encode(bytes(png)).decode("ascii")
        size = f' width="{int(width)}"' if width else ""
        alt = html.escape(alt or caption or "figure", quote=True)
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._blocks().append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"{size}>{cap}</figure>'
        )

    def add_table(self, df: pd.DataFrame, caption: str = "", *, index: bool = False,
                  float_format: str = "{:.4g}", max_rows: int = 200) -> None:
        """Add a DataFrame as an HTML table (values escaped, floats to 4 significant digits).

        Parameters
        ----------
        df : pandas.DataFrame
        caption : str, optional
        index : bool, default=False
            Show the index as the first column.
        float_format : str, default="{:.4g}"
            Format of float cells.
        max_rows : int, default=200
            Longer tables are cut, with a note saying how many rows were left out.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"Report.add_table expects a pandas DataFrame, got "
                            f"{type(df).__name__}.")
        shown = df.head(max_rows)
        table = shown.to_html(index=index, escape=True, border=0, na_rep="–",
                              float_format=lambda v: float_format.format(v))
        note = (f"<p class='meta'>{len(df) - max_rows} more rows not shown.</p>"
                if len(df) > max_rows else "")
        cap = f"<p class='meta'>{html.escape(caption)}</p>" if caption else ""
        self._blocks().append(cap + table + note)

    # -- output ----------------------------------------------------------------------

    def to_html(self) -> str:
        """The whole page as one string."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>'
                      for s in self.sections if s.level == 2)
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
            f"<p class='meta'>Written by fnnlab on {stamp}.</p>",
            *self.front,
        ]
        if self.toc and len([s for s in self.sections if s.level == 2]) > 1:
            parts.append(f"<nav><h2>Contents</h2><ol>{toc}</ol></nav>")
        for s in self.sections:
            parts.append(f'<section id="{s.anchor}"><h{s.level}>{html.escape(s.title)}'
                         f"</h{s.level}>")
            parts.extend(s.blocks)
            parts.append("</section>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def write(self, directory: str | Path, filename: str = "index.html") -> Path:
        """Write the page into ``directory`` (created if needed) and return its path."""
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"Report.write: {str(directory)!r} exists and is not a folder; "
                             f"pass a folder path.")
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / filename
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_html(), encoding="utf-8")
        tmp.replace(path)
        return path

    def _unique_anchor(self, text: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        anchor, i = base, 2
        while anchor in self._anchors:
            anchor, i = f"{base}-{i}", i + 1
        self._anchors.add(anchor)
        return anchor


def _figure_title(fig: Figure) -> str:
    if fig._suptitle is not None:
        return fig._suptitle.get_text()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    return titles[0] if titles else ""


def model_graph_png(model: nn.Module, x: Tensor) -> bytes | None:
    """The autograd graph of ``model(x)`` as PNG bytes, drawn by torchviz and Graphviz.

    Returns None when torchviz (``pip install torchviz``) or Graphviz's ``dot``
    program is not installed, so callers can skip the figure.
    """
    try:
        import torchviz
        from graphviz.backend import ExecutableNotFound
    except ImportError:
        return None
    output = model(x)
    with warnings.catch_warnings():  # torchviz compares versions with distutils' LooseVersion
        warnings.simplefilter("ignore", DeprecationWarning)
        dot = torchviz.make_dot(output.sum(), params=dict(model.named_parameters()))
    dot.graph_attr.update(rankdir="TB", dpi="72")
    try:
        return dot.pipe(format="png")
    except ExecutableNotFound:
        return None


def comparison_report(result: ComparisonResult) -> Report:
    """The HTML report of ``fnnlab compare``: per task type its table and Elo figure.

    Each task type's section holds its table (ranks, Wilcoxon p-values and TabArena's
    leaderboard columns, ``fnnlab.bench.leaderboard``) and the Elo chart with its
    bootstrap intervals (``fnnlab.plots.leaderboard.elo_ratings``); the scores per data
    set, the deviations from the SNN paper and the fidelity summary (paper protocol,
    ``--reference``) and the settings follow.
    """
    from fnnlab.plots.leaderboard import elo_ratings

    config = result.config
    report = Report("Method comparison", result.format("text").split("\n", 1)[0])
    for task, table in result.tables.items():
        report.add_section(f"{task.capitalize()}: leaderboard",
                           f"Test error of {table['metric'].iloc[0]}, lower is better.")
        report.add_table(table.round(4))
        if "elo" in table and table["elo"].notna().any():
            report.add_figure(elo_ratings(table, title=f"{task}: Elo"),
                              caption="Elo (Bradley-Terry on every fold's duels) with its "
                                      "95% bootstrap interval over data sets.")
    report.add_section("Scores per data set", "Mean over folds and seeds, in each data "
                                              "set's metric.")
    report.add_table(result.per_dataset.round(4))
    if result.deviations:
        report.add_section("Deviations from the SNN paper",
                           "What this run does differently from Klambauer et al. (2017, "
                           "supplement A4) (fnnlab.bench.fidelity.deviations).")
        items = "".join(f"<li>{html.escape(line)}</li>" for line in result.deviations)
        report.add_html(f"<ul>{items}</ul>")
    if result.fidelity is not None and len(result.fidelity):
        report.add_section("Fidelity to the published accuracies",
                           "Per method: mean and mean absolute difference of ours minus "
                           "published, and the data sets whose published number lies within "
                           "two standard deviations (over seeds) of ours.")
        report.add_table(result.fidelity.round(4))
    settings = {k: config.get(k) for k in ("protocol", "seeds", "metrics", "baseline_grids")}
    report.add_section("Settings")
    report.add_table(pd.DataFrame({"setting": list(settings),
                                   "value": [str(v) for v in settings.values()]}))
    return report
