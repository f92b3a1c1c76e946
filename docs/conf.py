"""Sphinx configuration of the fnnlab documentation site (``make docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The source tree first, so the site documents this checkout even when another
# fnnlab is installed in the environment.
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE / "_ext"))

import fnnlab  # noqa: E402

project = "fnnlab"
author = "the fnnlab authors"
copyright = "the fnnlab authors, MIT license"
version = release = fnnlab.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "fnnlab_api",
    "fnnlab_results",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = ["_templates"]
root_doc = "index"

# API reference: autosummary writes one page per name listed by the pages that
# fnnlab_api generates from the modules' __all__.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
# Blocks subclass torch.nn.Module; without this a forward() with no docstring of
# its own would show torch's generic text.
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Markdown results pages (docs/results/*.md, docs/claims.md, BENCHMARKS.md) are
# written by others and link to files in the repository that are not pages of this
# site; such a link stays a plain link instead of failing the -W build.
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "colon_fence"]
suppress_warnings = ["myst.xref_missing", "myst.header"]

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
}
# No network in CI: intersphinx inventories are only fetched when asked for.
if os.environ.get("FNNLAB_DOCS_INTERSPHINX") != "1":
    intersphinx_mapping = {}

# The gallery: every examples/plot_*.py runs at build time and its figures are
# embedded. FNNLAB_DOCS_QUICK=1 (set by CI) makes the examples use smaller settings.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(^|/)(__init__|grid_lstm_parity)\.py$",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    # Show what examples print, not the repr of a last expression (ax.legend()).
    "capture_repr": (),
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib", "fnnlab_gallery.reset_torch"),
    "image_scrapers": ("fnnlab_gallery.fnnlab_figures", "matplotlib"),
    "abort_on_example_error": True,
    "backreferences_dir": None,
}

html_theme = "pydata_sphinx_theme"
html_title = f"fnnlab {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_context = {"default_mode": "light"}
