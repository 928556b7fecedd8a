"""Small data sets shared by the tests (module- or session-scoped)."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

# pytest-xdist runs one worker per core: a second torch thread per worker
# would oversubscribe the cores, and OpenMP's spin-waiting makes that many
# times slower, not just twice.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def digits():
    """``load_digits`` split 75/25, stratified, as float64."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


@pytest.fixture(scope="session")
def curve_with_outliers():
    """Points near a 1-D curve in 3-D, and uniform points far from it.

    Returns ``X_train`` (inliers only), ``X_test`` and ``y_test`` with 1 for
    the planted outliers.
    """
    rng = np.random.RandomState(0)

    def curve(n):
        t = rng.uniform(-3, 3, size=(n, 1))
        return np.hstack([t, np.sin(t), np.cos(t)]) + 0.05 * rng.normal(size=(n, 3))

    X_outliers = rng.uniform(-3, 3, size=(20, 3))
    X_test = np.vstack([curve(200), X_outliers])
    y_test = np.r_[np.zeros(200), np.ones(20)]
    return curve(400), X_test, y_test


@pytest.fixture(scope="session")
def mnist():
    """2,000 MNIST images as float64 pixels in [0, 1], or skip."""
    import gzip

    path = SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.skip(f"MNIST is not available at {path}")
    with gzip.open(path) as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return pixels.reshape(-1, 784)[:2000].astype(np.float64) / 255.0
