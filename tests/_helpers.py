"""What several test files check or measure, written once."""

import importlib
import sys
from pathlib import Path

import numpy as np
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_module(name):
    """The module ``name`` of ``benchmarks/``, which are scripts beside one
    another rather than a package: their folder goes on ``sys.path``."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


def weights(estimator):
    """A copy of the parameters of a fitted estimator's network, by name."""
    return {
        name: p.detach().clone()
        for name, p in estimator.net_.module_.named_parameters()
    }


def same_weights(a, b):
    """For each parameter of two networks, whether it holds the same values
    in the same dtype, bit for bit (NaN never equals NaN).

    ``a`` and ``b`` are fitted estimators or copies from :func:`weights`;
    both must have the same parameters, in the same order.
    """
    a = weights(a) if hasattr(a, "net_") else a
    b = weights(b) if hasattr(b, "net_") else b
    assert list(a) == list(b), "the networks have different parameters"
    return {
        name: a[name].dtype == b[name].dtype and torch.equal(a[name], b[name])
        for name in a
    }


def assert_same_weights(a, b):
    """Assert that two networks hold the same parameters, bit for bit."""
    differ = [name for name, same in same_weights(a, b).items() if not same]
    assert not differ, f"parameters differ: {differ}"


def reconstruction_error(reducer, X, *, target=None, scaled=False):
    """Per-row mean squared error of ``reducer``'s reconstruction of ``X``.

    Computed with numpy from ``inverse_transform(transform(X))``, apart from
    the code under test. The error is against ``target`` (``X`` by default),
    in the units of the data, or with ``scaled=True`` in the estimator's
    training units: ``(X - center_) / scale_``.
    """
    X = np.asarray(X)
    target = X if target is None else np.asarray(target)
    X_hat = reducer.inverse_transform(reducer.transform(X))
    if scaled:
        X_hat = (X_hat - reducer.center_) / reducer.scale_
        target = (target - reducer.center_) / reducer.scale_
    return np.mean((X_hat - target) ** 2, axis=1)
