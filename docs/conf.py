"""Sphinx configuration of the Puffer documentation (``nox -s docs`` builds it with warnings as errors)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))  # puffer_docs (reference directives), puffer_plots (benchmark plots)

project = "Puffer"
author = "the Puffer developers"
copyright = "2026, the Puffer developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the docstrings use Google style (Args:, Returns:, Raises:)
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # ships MathJax 3 into _static: the site renders math with no network too
    "puffer_docs",
    "puffer_plots",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "README.md"]

# MyST: $...$ math for the kernel formulas, ::: fences for admonitions, anchors for ## and ### headings.
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# The API reference: members in source order, type hints in the description rather than the signature
# (keeps long signatures readable), and no imports of optional integrations at build time beyond what the
# docs session installs (torch, gymnasium, pettingzoo are installed there).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_mock_imports = ["stable_baselines3", "wandb", "imageio"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = "Puffer"
html_static_path: list[str] = []
# The build must not reach the network: no intersphinx inventories, no remote images.
