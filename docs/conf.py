"""Sphinx configuration of the sklearn_gdlogreg documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html``.
"""

import os
import re
from importlib.metadata import version as _version

project = "sklearn_gdlogreg"
author = "The sklearn_gdlogreg developers"
copyright = "The sklearn_gdlogreg developers"
release = _version("sklearn-gdlogreg")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
html_theme = "pydata_sphinx_theme"
html_title = "sklearn_gdlogreg"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = []

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Intersphinx needs the network to fetch the projects' inventories; CI builds
# offline with warnings as errors, so links to other projects are opt-in:
# set SKLEARN_GDLOGREG_INTERSPHINX=1 where the network is available.
if os.environ.get("SKLEARN_GDLOGREG_INTERSPHINX"):
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_gdlogreg",),
    "reference_url": {"sklearn_gdlogreg": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "matplotlib_animations": False,
    "plot_gallery": "True",
}

# The benchmarks page shows benchmarks/README.md (the measured tables) when
# it exists; it is Markdown, so it is shown as text.
_here = os.path.dirname(os.path.abspath(__file__))
_readme = os.path.join(_here, "..", "benchmarks", "README.md")
os.makedirs(os.path.join(_here, "generated"), exist_ok=True)
with open(os.path.join(_here, "generated", "benchmarks_readme.inc"), "w") as _f:
    if os.path.exists(_readme):
        _f.write(
            ".. literalinclude:: ../benchmarks/README.md\n   :language: markdown\n"
        )
    else:
        _f.write("``benchmarks/README.md`` has not been written yet.\n")


# Methods inherited from scikit-learn (predict, score, get_params, ...) carry
# :ref: and :term: roles pointing into scikit-learn's own documentation. Offline
# those targets do not exist; show their text instead of a broken link. Our
# own docstrings are left untouched, so a bad reference of ours still fails.
_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`>]*>)?`")


# In reST a word ending in "_" is a link: "of shape (n_iter_ + 1,)" would be
# a broken one. Shapes name fitted attributes that way; quote them.
_SHAPE_ATTR = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[ ,)])")


def _quote_shape(line):
    head, sep, shape = line.partition("of shape (")
    return head + sep + _SHAPE_ATTR.sub(r"`\1`", shape) if sep else line


def _process_docstring(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("sklearn.") or module == "sklearn":
        lines[:] = [_ROLE.sub(lambda m: m.group(1), line) for line in lines]
    else:
        lines[:] = [_quote_shape(line) for line in lines]


def setup(app):
    """Connect the docstring hook."""
    app.connect("autodoc-process-docstring", _process_docstring)
