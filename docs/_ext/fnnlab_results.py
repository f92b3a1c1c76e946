"""List the results pages that exist, at the start of every build.

Results pages (``docs/results/*.md``, ``docs/claims.md``) are written by other
work in parallel and some may not exist yet. A toctree glob that matches nothing
is a warning, and warnings fail this build, so the list is written here from the
files present, into ``results/_pages.txt``, which ``results/index.rst`` includes.
"""

from __future__ import annotations

from pathlib import Path

# Pages outside docs/results/, linked when present, in this order.
EXTRA = ("claims", "reproduce", "benchmarks")
SUFFIXES = (".md", ".rst")


def write_toctree(app: object, config: object = None) -> None:
    src = Path(app.srcdir)  # type: ignore[attr-defined]
    results = sorted(p.stem for p in (src / "results").iterdir()
                     if p.suffix in SUFFIXES and p.stem != "index" and not p.stem.startswith("_"))
    extra = [f"/{name}" for name in EXTRA if any((src / name).with_suffix(s).exists()
                                                 for s in SUFFIXES)]
    lines = [".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   {name}" for name in results + extra]
    text = "\n".join(lines) + "\n"
    out = src / "results" / "_pages.txt"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


def setup(app: object) -> dict[str, object]:
    app.connect("config-inited", write_toctree)  # type: ignore[attr-defined]
    return {"parallel_read_safe": True, "parallel_write_safe": True}
