"""Gallery hooks: a reset between examples and a scraper for fnnlab's figures.

sphinx-gallery runs every example in one process, so a seed or a thread count set
by one example would otherwise leak into the next one's numbers and timing.

Its matplotlib scraper saves the figures pyplot knows about. ``fnnlab.plots``
builds ``matplotlib.figure.Figure`` objects directly (no global pyplot state, so
a report or a server never leaks figures), which that scraper cannot see; the
scraper here saves those when an example keeps one in a variable.
"""

from __future__ import annotations

import os
from typing import Any

_SEEN = "fnnlab_seen_figures"


def reset_torch(gallery_conf: dict[str, Any], fname: str) -> None:
    """Seed torch's global generator with 0 and fix its CPU thread count.

    One thread by default: the examples' networks are small, and on a busy
    machine a second thread makes them several times slower.
    """
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("FNNLAB_DOCS_THREADS", "1")))


def fnnlab_figures(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """Save the Figures a code block left in variables that pyplot does not manage.

    Runs before the matplotlib scraper: a pyplot figure still has its manager then,
    and is only marked as seen, so it is never saved twice once pyplot closes it.
    """
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    seen: list[Figure] = block_vars.setdefault(_SEEN, [])
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if not isinstance(value, Figure) or any(value is fig for fig in seen):
            continue
        seen.append(value)
        if value.canvas.manager is None:
            path = next(block_vars["image_path_iterator"])
            value.savefig(path)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""
