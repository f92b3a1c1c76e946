"""Write the API reference and CLI pages from the code, at the start of every build.

Six people add public names in parallel, so no page lists them by hand: each
section page is generated from its module's ``__all__`` (or, for a module without
one, from the public names it defines), and autosummary then writes one page per
name. An object exported by several modules (``fnnlab.fit`` is
``fnnlab.training.fit``) gets one page, under the first section that lists it;
other sections link to that page. The CLI page holds the ``--help`` text of every
subcommand, formatted by the parsers themselves.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import os
import pkgutil
import shutil
import types
from pathlib import Path
from typing import Any, TypeVar

# (module, title, one-line summary); the order decides which section owns a shared name.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("fnnlab.models", "Models", "Specs, method presets and the network they build."),
    ("fnnlab.nn", "Building blocks", "Layers, activations, normalization, dropout, init."),
    ("fnnlab.data", "Data", "Loading, checking, preprocessing and splitting tables."),
    ("fnnlab.training", "Training", "fit, fit_many, optimizers, schedules, callbacks."),
    ("fnnlab.likelihoods", "Likelihoods", "Output units and their losses."),
    ("fnnlab.diagnostics", "Diagnostics", "Signal propagation, shattered gradients, landscapes."),
    ("fnnlab.theory", "Theory", "SELU moment map, fixed points, parameter solver."),
    ("fnnlab.bench", "Benchmark harness", "The method comparison: compare, stores, tables."),
    ("fnnlab.sklearn", "scikit-learn estimators", "FNNClassifier and FNNRegressor."),
    ("fnnlab.plots", "Plots", "matplotlib figures of the tidy tables above."),
    ("fnnlab.report", "Reports", "Self-contained HTML reports."),
    ("fnnlab.registry", "Registries", "Lookup by name with did-you-mean errors."),
    ("fnnlab.experiments.grid_lstm", "Grid LSTM experiments", "Parity and addition tasks."),
    # The harness's parts, for users who build their own comparison from them.
    ("fnnlab.bench.plan", "Comparison plan", "What a comparison will run, checked first."),
    ("fnnlab.bench.jobs", "Comparison jobs", "One job per method, data set, grid point, seed."),
    ("fnnlab.bench.datasets", "Comparison data", "Protocols, splits and data fingerprints."),
    ("fnnlab.bench.units", "Comparison units", "Jobs grouped into stacks and run."),
    ("fnnlab.bench.scoring", "Comparison scoring", "Validation and test scores of a job."),
    ("fnnlab.bench.selection", "Grid-point selection", "The grid point each method keeps."),
    ("fnnlab.bench.result", "Comparison result", "The table, notes and first errors."),
    ("fnnlab.bench.fidelity", "Paper fidelity", "Deviations from the SNN paper, and the gap."),
    ("fnnlab.bench.leaderboard", "Leaderboard", "Elo, win rate, improvability, time."),
    ("fnnlab.bench.grids", "Comparison grids", "Hyperparameter grids as data."),
    ("fnnlab.bench.stats", "Comparison statistics", "Ranks, Wilcoxon, Friedman, Nemenyi."),
    ("fnnlab.bench.baselines", "Baselines", "The classical ML baselines."),
    ("fnnlab.bench.runner", "Runners", "Local processes, Dask or Ray."),
    ("fnnlab.bench.store", "Result store", "One SQLite row per finished job."),
    ("fnnlab.data.folds", "Cross-validation folds", "Outer k-fold x repeats, as TabArena."),
    ("fnnlab.training.stacked", "Stacked training", "Many same-shaped networks as one model."),
)


def public_names(module: types.ModuleType) -> list[str]:
    """``module.__all__``, or the public names the module's own code defines."""
    names = getattr(module, "__all__", None)
    if names is None:
        # Read the source rather than vars(): a constant (METHODS = Registry(...)) has
        # no __module__ of its own, and plain imports must not count.
        tree = ast.parse(inspect.getsource(module))
        names = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.ImportFrom):
                # "from m import f as f" is the explicit re-export (fnnlab.plots).
                names += [a.name for a in node.names if a.asname == a.name]
        names = [n for n in names
                 if not n.startswith("_") and not _is_type_alias(getattr(module, n))]
    return sorted(set(names), key=str.lower)


def _is_type_alias(obj: object) -> bool:
    # Annotations' shorthands (Grid = dict[...], Correction = Literal[...]) are not API
    # objects, and autodoc cannot document them as classes.
    return isinstance(obj, (TypeVar, types.GenericAlias)) or type(obj).__module__ == "typing"


def _is_shared(obj: object) -> bool:
    # Numbers and strings are compared by value elsewhere; only objects with their own
    # identity (classes, functions, registries, dicts) can be the same object twice.
    return not isinstance(obj, (int, float, str, bytes, tuple, type(None)))


def _owners() -> dict[int, str]:
    """id(object) -> the qualified name of its page (first section exporting it)."""
    owners: dict[int, str] = {}
    for modname, _, _ in SECTIONS:
        module = importlib.import_module(modname)
        for name in public_names(module):
            obj = getattr(module, name)
            if _is_shared(obj) and not isinstance(obj, types.ModuleType):
                owners.setdefault(id(obj), f"{modname}.{name}")
    return owners


def _aliases(owners: dict[int, str]) -> dict[str, str]:
    """Other names of each documented object -> the name of its page.

    ``fnnlab.fit`` is documented as ``fnnlab.training.fit``, and a docstring may name
    an object by where it is defined (``fnnlab.training.fit.fit``); both should link.
    """
    import fnnlab

    aliases: dict[str, str] = {}
    for modname in ["fnnlab"] + [section[0] for section in SECTIONS]:
        module = fnnlab if modname == "fnnlab" else importlib.import_module(modname)
        for name in public_names(module):
            obj = getattr(module, name)
            owner = owners.get(id(obj)) if _is_shared(obj) else None
            if owner is None:
                continue
            aliases.setdefault(f"{modname}.{name}", owner)
            defined = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
            aliases.setdefault(defined, owner)
    return {alias: owner for alias, owner in aliases.items() if alias != owner}


_ALIASES: dict[str, str] = {}


def resolve_alias(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a Python reference that names a documented object by another name."""
    if node.get("refdomain") != "py":
        return None
    target = _ALIASES.get(node.get("reftarget", ""))
    if target is None:
        return None
    return env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, "obj", target,
                                             node, contnode)


def _autosummary(names: list[str], toctree: bool) -> str:
    head = ".. autosummary::\n"
    if toctree:
        head += "   :toctree: generated\n   :template: fnnlab_object.rst\n"
    return head + "\n" + "".join(f"   {name}\n" for name in names) + "\n"


def _section(modname: str, title: str, summary: str, owners: dict[int, str]) -> str:
    module = importlib.import_module(modname)
    own, linked = [], []
    for name in public_names(module):
        obj = getattr(module, name)
        full = f"{modname}.{name}"
        if isinstance(obj, types.ModuleType):
            linked.append(obj.__name__)
        elif not _is_shared(obj) or owners.get(id(obj)) == full:
            own.append(name)
        else:
            linked.append(owners.get(id(obj), full))
    text = f"{title}\n{'=' * len(title)}\n\n.. automodule:: {modname}\n   :no-members:\n\n"
    text += f"{summary}\n\n"
    if own:
        text += _autosummary(own, toctree=True)
    if linked:
        text += "Also exported here, documented in their own section:\n\n"
        text += ".. currentmodule:: None\n\n"
        text += _autosummary([n for n in linked if not _is_module(n)], toctree=False)
        mods = [n for n in linked if _is_module(n)]
        text += "".join(f"- :mod:`{n}`\n" for n in mods) + ("\n" if mods else "")
    return text


def _is_module(name: str) -> bool:
    try:
        return isinstance(importlib.import_module(name), types.ModuleType)
    except ImportError:
        return False


def _top_level(owners: dict[int, str]) -> str:
    import fnnlab

    lines = ["The top-level package", "=====================", "",
             ".. automodule:: fnnlab", "   :no-members:", "",
             # Every name below starts with "fnnlab."; autosummary resolves them absolutely.
             ".. currentmodule:: None", "",
             f"``fnnlab.__version__`` is ``{fnnlab.__version__!r}``. "
             "The names of ``fnnlab.__all__``, each on the page of the section that owns it:",
             ""]
    objects, modules = [], []
    for name in public_names(fnnlab):
        if name == "__version__":
            continue
        obj = getattr(fnnlab, name)
        if isinstance(obj, types.ModuleType):
            modules.append(obj.__name__)
        else:
            objects.append(owners.get(id(obj), f"fnnlab.{name}"))
    lines.append(_autosummary(objects, toctree=False))
    lines.append("Subpackages reachable as attributes: "
                 + ", ".join(f":mod:`{m}`" for m in modules) + ".")
    return "\n".join(lines) + "\n"


def _cli_page() -> str:
    from fnnlab import cli

    # argparse wraps help to $COLUMNS - 2; fix it so the page does not depend on the
    # terminal, and so the lines fit the theme's code block without scrolling.
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "76"
    try:
        return _cli_text(_cli_parser(cli))
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns


def _cli_parser(cli: types.ModuleType) -> argparse.ArgumentParser:
    """The ``fnnlab`` parser with every subcommand, as ``fnnlab --help`` builds it.

    Falls back to the package's documented protocol (each ``fnnlab.cli.<name>``
    module has ``add_parser(subparsers)``) if the private builder is renamed.
    """
    build = getattr(cli, "_build_parser", None)
    if build is not None:
        built = build()
        return built[0] if isinstance(built, tuple) else built
    parser = argparse.ArgumentParser(prog="fnnlab")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in pkgutil.iter_modules(cli.__path__):
        module = importlib.import_module(f"fnnlab.cli.{info.name}")
        if hasattr(module, "add_parser"):
            module.add_parser(subparsers)
    return parser


def _cli_text(parser: argparse.ArgumentParser) -> str:
    lines = ["Command line", "============", "",
             "Every subcommand only parses its arguments and calls the library functions "
             "documented in this reference, so the command line and Python give the same "
             "results. The texts below are the parsers' own ``--help`` output.", "",
             "fnnlab", "------", "", ".. code-block:: text", ""]
    lines += ["   " + line for line in parser.format_help().splitlines()] + [""]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        title = f"fnnlab {name}"
        lines += [title, "-" * len(title), "", ".. code-block:: text", ""]
        lines += ["   " + line.rstrip() for line in sub.format_help().splitlines()] + [""]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    # Rewrite only on change, so Sphinx's incremental build does not reread every page.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(app: object, config: object = None) -> None:
    """Write ``api/*.rst`` and ``api/cli.rst`` under the source directory."""
    out = Path(app.srcdir) / "api"  # type: ignore[attr-defined]
    out.mkdir(exist_ok=True)
    # autosummary writes a stub per name but never deletes one: a name that left an
    # __all__ would leave an orphan page, which is a warning.
    shutil.rmtree(out / "generated", ignore_errors=True)
    owners = _owners()
    _ALIASES.clear()
    _ALIASES.update(_aliases(owners))
    pages = ["fnnlab"]
    _write(out / "fnnlab.rst", _top_level(owners))
    for modname, title, summary in SECTIONS:
        _write(out / f"{modname}.rst", _section(modname, title, summary, owners))
        pages.append(modname)
    _write(out / "cli.rst", _cli_page())
    pages.append("cli")
    index = ["API reference", "=============", "",
             "Generated from the code at build time: one page per public name.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {page}" for page in pages]
    _write(out / "index.rst", "\n".join(index) + "\n")


def describe_data(app: object, what: str, name: str, obj: object, options: object,
                  lines: list[str]) -> None:
    """Replace the docstring a module constant inherits from its type by what it holds.

    autodoc shows ``tuple.__doc__`` for a tuple constant and the ``Registry`` class
    docstring for a registry instance; neither says anything about the constant.
    """
    if what not in ("data", "attribute") or isinstance(obj, type) or callable(obj):
        return
    inherited = inspect.getdoc(type(obj)) or ""
    if not lines or "\n".join(lines).strip() != inherited.strip():
        return
    lines.clear()
    names = getattr(obj, "names", None)
    if callable(names):
        listed = ", ".join(f"``{n}``" for n in names())
        lines += [f"A :class:`~fnnlab.registry.Registry` of {getattr(obj, 'kind', 'entries')}"
                  f" entries, looked up by name: {listed}.", ""]


def setup(app: object) -> dict[str, object]:
    # Before numpydoc (priority 500) rewrites the docstring into its sections.
    app.connect("autodoc-process-docstring", describe_data, priority=100)  # type: ignore[attr-defined]
    app.connect("missing-reference", resolve_alias)  # type: ignore[attr-defined]
    # At config-inited, before Sphinx lists the source files, so the pages written
    # here are read and autosummary sees their directives.
    app.connect("config-inited", generate)  # type: ignore[attr-defined]
    return {"parallel_read_safe": True, "parallel_write_safe": True}


__all__ = ["generate", "public_names", "setup"]
