"""Sphinx configuration of the PartialLoading site (``sphinx-build -W -b html docs docs/_build/html``).

The pages are MyST Markdown; the tutorials are MyST notebooks (text files, executed at every
build by myst-nb, so a cell that fails fails the build); the API reference is generated from
the numpydoc docstrings.
"""

from __future__ import annotations

import os

import partialloading

project = "PartialLoading"
author = "the PartialLoading developers"
copyright = "2026, the PartialLoading developers"
release = partialloading.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    # MathJax from the package instead of a CDN: the site renders math offline.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "figures/*.md", "**/.ipynb_checkpoints", "jupyter_execute"]

# MyST: $...$ math, ::: fences, and GitHub-style heading anchors so that links such as
# formulation.md#10-... resolve.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 4

# Notebooks run at every build; an error in any cell is a build error.
nb_execution_mode = os.environ.get("PL_DOCS_EXECUTE", "force")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# Anything a cell writes to stderr (a warning, a solver complaint) is a build warning, so -W fails.
nb_output_stderr = "warn"

# numpydoc renders the docstrings; the class pages list their members through autodoc.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}

html_theme = "furo"
html_title = f"PartialLoading {release}"
suppress_warnings = ["myst.header"]

# Smart quotes and ellipses, but no smart dashes: `--param` must stay two hyphens wherever it is
# written, or a command copied from the page fails.
smartquotes_action = "qe"

# Wide reference tables (the file formats, the command line) wrap their cells instead of hiding
# their last column beyond the page.
html_static_path = ["_static"]
html_css_files = ["tables.css"]
