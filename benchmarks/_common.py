"""Helpers shared by skae's benchmark scripts.

Data loading from the shared data folder (``../shared/data`` relative to the
repository root), the command line every benchmark accepts, progress lines,
thread limits, and the files every benchmark writes: a ``meta.json`` that
records how the results were produced, CSV and Markdown tables.
"""

import argparse
import datetime
import gzip
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

ODDS_DATASETS = (
    "arrhythmia",
    "cardio",
    "glass",
    "ionosphere",
    "letter",
    "lympho",
    "mnist",
    "musk",
    "optdigits",
    "pendigits",
    "pima",
    "satellite",
    "satimage-2",
    "shuttle",
    "vertebral",
    "vowels",
    "wbc",
)
#: The development suite's ADBench sets (``shared/data/adbench``): classical
#: tabular sets, and image (ResNet-18) and text (BERT) embeddings.
ADBENCH_TABULAR = ("ALOI", "campaign", "celeba", "cover", "donors", "http", "skin")
ADBENCH_EMBEDDINGS = (
    "cv_CIFAR10_0",
    "cv_SVHN_0",
    *(
        f"cv_MVTec-AD_{name}"
        for name in (
            "bottle",
            "cable",
            "capsule",
            "carpet",
            "grid",
            "hazelnut",
            "leather",
            "metal_nut",
            "pill",
            "screw",
            "tile",
            "toothbrush",
            "transistor",
            "wood",
            "zipper",
        )
    ),
    "nlp_20news_3",
)


# ----------------------------------------------------------------------
# Command line and run set-up
# ----------------------------------------------------------------------
def make_parser(name, description):
    """Argument parser with the options every benchmark accepts.

    Parameters
    ----------
    name : str
        Name of the benchmark; results go to ``benchmarks/results/<name>/``
        unless ``--out`` is given.
    description : str
        Shown by ``--help``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        action="store_true",
        help="few seeds and datasets: minutes instead of the full run",
    )
    mode.add_argument(
        "--smoke",
        action="store_true",
        help="tiny settings that only check the script runs end to end (tests)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS_DIR / name,
        help="folder for the tables, figures and meta.json",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help=(
            "threads for torch and for BLAS/OpenMP (all methods alike); 1 keeps "
            "timings stable on a machine shared with other jobs"
        ),
    )
    return parser


def mode_name(args):
    """``"smoke"``, ``"quick"`` or ``"full"``."""
    if args.smoke:
        return "smoke"
    return "quick" if args.quick else "full"


class limit_threads:
    """Limit torch and BLAS/OpenMP to ``n_threads``, from the call on.

    Used as a context manager, it restores the previous limits on exit, so
    that a benchmark run from a test leaves the test process as it found it;
    called on its own, the limits hold while the object is referenced.

    Parameters
    ----------
    n_threads : int
        Number of threads for torch's intra-op pool and for BLAS/OpenMP.
    """

    def __init__(self, n_threads):
        import torch
        from threadpoolctl import threadpool_limits

        self._previous = torch.get_num_threads()
        torch.set_num_threads(n_threads)
        self._blas = threadpool_limits(limits=n_threads)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        import torch

        self._blas.restore_original_limits()
        torch.set_num_threads(self._previous)


class Progress:
    """Print timestamped progress lines: elapsed time since creation."""

    def __init__(self, name):
        self.name = name
        self.start = time.perf_counter()

    def __call__(self, message):
        elapsed = time.perf_counter() - self.start
        print(f"[{self.name} {elapsed:7.1f}s] {message}", flush=True)

    @property
    def elapsed(self):
        return time.perf_counter() - self.start


class Timer:
    """Context manager measuring wall time in ``seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------
def has_data(*parts):
    """Whether ``DATA_DIR / parts`` exists."""
    return DATA_DIR.joinpath(*parts).exists()


def load_mnist():
    """The 10,000 MNIST test images as float64 pixels in [0, 1], and labels.

    Returns
    -------
    X : ndarray of shape (10000, 784)
    y : ndarray of shape (10000,)
    """
    folder = DATA_DIR / "mnist"
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    X = images.reshape(-1, 28 * 28).astype(np.float64) / 255.0
    return X, labels.astype(np.int64)


def load_odds(name):
    """An ODDS dataset: float64 ``X`` and ``y`` in {0, 1} (1 = outlier)."""
    from scipy.io import loadmat

    mat = loadmat(DATA_DIR / "odds" / f"{name}.mat")
    X = np.asarray(mat["X"], dtype=np.float64)
    y = np.asarray(mat["y"]).ravel().astype(np.int64)
    return X, y


def load_adbench(name):
    """An ADBench set of the development suite: float64 ``X``, ``y`` in {0, 1}."""
    with np.load(DATA_DIR / "adbench" / f"{name}.npz") as data:
        X = np.asarray(data["X"], dtype=np.float64)
        y = np.asarray(data["y"]).ravel().astype(np.int64)
    return X, y


def load_outlier_set(name, max_rows=None):
    """An ODDS or ADBench set by name, at most ``max_rows`` rows.

    Larger sets are subsampled, stratified by the label, with seed 0 (as
    ADBench's own protocol caps its sets).
    """
    X, y = load_odds(name) if name in ODDS_DATASETS else load_adbench(name)
    if max_rows is not None and len(X) > max_rows:
        from sklearn.model_selection import train_test_split

        X, _, y, _ = train_test_split(
            X, y, train_size=max_rows, stratify=y, random_state=0
        )
    return X, y


def pyod_split(X, y, seed, stratify=False):
    """PyOD's protocol: 60/40 split, standardised on the training part.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        ``train_test_split(test_size=0.4, random_state=seed)``, stratified by
        ``y`` if asked, with a ``StandardScaler`` fitted on ``X_train``
        applied to both parts.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.4, random_state=seed, stratify=y if stratify else None
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


# ----------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------
def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions():
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for package in (
        "skae",
        "torch",
        "scikit-learn",
        "skorch",
        "pyod",
        "numpy",
        "scipy",
        "pandas",
    ):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    return versions


def git_state():
    """The commit checked out and whether the tree has uncommitted changes.

    Call it when a run starts: the results then belong to that code, even if
    a commit is made while the run goes on.

    Returns
    -------
    state : dict
        ``{"commit": str or None, "dirty": bool or None}`` (``None`` outside a
        git checkout). Untracked files count as changes, except in
        ``benchmarks/results``, which runs write to.
    """
    import subprocess

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changes = git(
            "status", "--porcelain", "--", ".", ":(exclude)benchmarks/results"
        )
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(changes)}


def describe_code(git):
    """``git_state()`` in words, for a README: commit, and a dirty tree flagged."""
    if git.get("commit") is None:
        return "code outside a git checkout"
    text = f"commit {git['commit'][:7]}"
    if git.get("dirty"):
        text += " **with uncommitted changes**"
    return text


def write_meta(out, argv, *, started, git, seconds, settings):
    """Write ``meta.json``: command, date, code, machine, versions, settings.

    Parameters
    ----------
    out : Path
        Output folder.
    argv : list of str
        The benchmark's arguments.
    started : str
        ISO date and time (UTC) the run started.
    git : dict
        :func:`git_state` taken when the run started.
    seconds : float
        Wall time of the whole run.
    settings : dict
        Benchmark-specific settings (seeds, datasets, parameters).
    """
    import torch

    meta = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "argv": list(argv),
        "started_utc": started,
        "wall_time_s": round(seconds, 1),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "platform": platform.platform(),
            "torch_threads": torch.get_num_threads(),
            "cuda_available": torch.cuda.is_available(),
        },
        "versions": _versions(),
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "settings": settings,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def utc_now():
    """Current UTC date and time, ISO format, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_table(df, path, *, floatfmt=".3f", title=None, note=None):
    """Write ``df`` to ``path`` as CSV (``.csv``) or Markdown (``.md``)."""
    path = Path(path)
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
        return
    parts = []
    if title:
        parts.append(f"## {title}\n")
    if note:
        parts.append(f"{note}\n")
    parts.append(df.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    path.write_text("\n".join(parts))


def markdown_table(df, floatfmt=".3f"):
    """``df`` as a Markdown table string, without the index."""
    return df.to_markdown(index=False, floatfmt=floatfmt)
