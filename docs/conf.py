"""Sphinx configuration of skae's documentation.

Build from the repository root with ``make docs``, which runs::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

The build needs no network: no intersphinx inventory is fetched and every
image is produced or copied locally. The gallery in ``docs/examples`` runs
each ``plot_*.py`` script and keeps its figures.
"""

import csv
import re
import shutil
from pathlib import Path

import torch

import skae

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

# -- Project -----------------------------------------------------------------
project = "skae"
author = "skae developers"
copyright = "skae developers"
version = release = skae.__version__

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "examples",
    "sg_execution_times.rst",
    "auto_examples/*.ipynb",
]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
# numpydoc lists methods and attributes itself from the docstring; the class
# template below documents the methods once, with autodoc.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}

# -- Gallery -----------------------------------------------------------------
# The examples train small networks on a CPU. For networks this size torch's
# intra-op threads cost more in synchronisation than they save, and on a
# shared machine they can slow training tenfold: run the gallery on one.
torch.set_num_threads(1)

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skae",),
    "backreferences_dir": "gen_modules/backreferences",
    "remove_config_comments": True,
    "download_all_examples": False,
    "min_reported_time": 1,
    "matplotlib_animations": False,
}


# -- Benchmark results -------------------------------------------------------
BENCH_RESULTS = ROOT / "benchmarks" / "results"
BENCH_OUT = DOCS / "gen_modules" / "benchmarks"
# Tables longer than this (per-run records) are offered for download only.
MAX_TABLE_ROWS = 40
# Files of a results folder offered for download, besides figures and tables.
DOWNLOAD_SUFFIXES = {".csv", ".md", ".json", ".txt"}


def _escape(text):
    """Plain text for rst: markup characters escaped, never empty."""
    return re.sub(r"([\\`*_|<>\[\]])", r"\\\1", text.strip()) or "\\ "


def _title(text):
    return text.replace("_", " ").replace("-", " ").capitalize()


def _benchmark_section(folder, heading):
    """rst lines for one folder of results: figures, tables, downloads."""
    lines = []
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for path in files:
        rel = path.relative_to(BENCH_RESULTS)
        target = BENCH_OUT / "_".join(rel.parts)
        shutil.copyfile(path, target)
        src = "/" + target.relative_to(DOCS).as_posix()
        if path.suffix == ".png":
            lines += [
                f".. figure:: {src}",
                "   :width: 100%",
                "",
                f"   ``benchmarks/results/{rel.as_posix()}``",
                "",
            ]
    for path in files:
        if path.suffix != ".csv":
            continue
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        if not 2 <= len(rows) <= MAX_TABLE_ROWS + 1:
            continue
        rel = path.relative_to(BENCH_RESULTS)
        lines += [
            f".. list-table:: {_title(path.stem)} (``{rel.as_posix()}``)",
            "   :header-rows: 1",
            "   :class: benchmark-table",
            "",
        ]
        width = max(len(row) for row in rows)
        for row in rows:
            cells = [_escape(cell) for cell in row + [""] * (width - len(row))]
            lines.append(f"   * - {cells[0]}")
            lines += [f"     - {cell}" for cell in cells[1:]]
        lines.append("")
    downloads = [p for p in files if p.suffix in DOWNLOAD_SUFFIXES]
    if downloads:
        lines += ["All files of this benchmark:", ""]
        for path in downloads:
            rel = path.relative_to(BENCH_RESULTS)
            src = "/" + (BENCH_OUT / "_".join(rel.parts)).relative_to(DOCS).as_posix()
            lines.append(f"- :download:`{rel.as_posix()} <{src}>`")
        lines.append("")
    if lines:
        lines = [heading, "-" * len(heading), "", *lines]
    return lines


def _write_benchmark_results(app):
    """Copy ``benchmarks/results`` figures and tables next to the docs.

    ``docs/benchmarks.rst`` includes ``gen_modules/benchmarks/results.inc``,
    written here: a link to ``benchmarks/README.md``, then for each folder of
    results its figures, its tables (CSV files of at most ``MAX_TABLE_ROWS``
    rows) and links to all its files; or a note when there are no results
    yet. The page thus builds whether or not the benchmarks have been run.
    """
    if BENCH_OUT.exists():
        shutil.rmtree(BENCH_OUT)
    BENCH_OUT.mkdir(parents=True)
    lines = []
    readme = ROOT / "benchmarks" / "README.md"
    if readme.is_file():
        shutil.copyfile(readme, BENCH_OUT / "benchmarks_README.md")
        lines += [
            "What each benchmark measures, and how to run it: "
            ":download:`benchmarks/README.md </gen_modules/benchmarks/"
            "benchmarks_README.md>`.",
            "",
        ]
    if BENCH_RESULTS.is_dir():
        lines += _benchmark_section(BENCH_RESULTS, "Summary")
        for folder in sorted(p for p in BENCH_RESULTS.iterdir() if p.is_dir()):
            lines += _benchmark_section(folder, _title(folder.name))
    if not any(line.startswith((".. figure::", ".. list-table::")) for line in lines):
        lines += [
            ".. note::",
            "",
            "   This checkout has no benchmark results yet: ``make bench`` (or",
            "   ``make bench-quick``) writes them to ``benchmarks/results/``,",
            "   and the next docs build shows them here.",
            "",
        ]
    (BENCH_OUT / "results.inc").write_text("\n".join(lines) + "\n")


def setup(app):
    app.connect("builder-inited", _write_benchmark_results)
