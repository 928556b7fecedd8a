"""
=================================================
Training and scoring over the blocks of dask data
=================================================

Data that do not fit in memory can come as a dask array, cut into blocks of
rows. dask-ml's ``Incremental`` trains a skae estimator block by block with
:meth:`~skae.AutoencoderOutlierDetector.partial_fit`, and
:func:`skae.dask.map_blocks` scores each block where it lives, keeping the
result lazy until it is needed.

Here the data are generated block by block: points near a curved surface in
10 dimensions, with a few scattered outliers planted in each block.
"""

# %%
# Dask data, generated block by block
# -----------------------------------
import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask_ml.wrappers import Incremental
from sklearn.metrics import roc_auc_score

from skae import AutoencoderOutlierDetector
from skae.dask import map_blocks

N_BLOCKS, BLOCK_ROWS, N_FEATURES = 8, 2_000, 10


def make_block(seed):
    """Rows near a 2-D curved surface in 10-D, 1% of them outliers."""
    rng = np.random.RandomState(seed)
    t = rng.uniform(-2, 2, size=(BLOCK_ROWS, 2))
    basis = np.random.RandomState(0).normal(size=(4, N_FEATURES))
    X = np.hstack([t, np.sin(t), t[:, :1] * t[:, 1:]])[:, :4] @ basis
    X += 0.05 * rng.normal(size=X.shape)
    outliers = rng.rand(BLOCK_ROWS) < 0.01
    X[outliers] = rng.uniform(X.min(), X.max(), size=(outliers.sum(), N_FEATURES))
    return X.astype(np.float32), outliers


blocks = [dask.delayed(make_block)(seed) for seed in range(N_BLOCKS)]
dX = da.concatenate(
    [
        da.from_delayed(block[0], shape=(BLOCK_ROWS, N_FEATURES), dtype=np.float32)
        for block in blocks
    ]
)
labels = da.concatenate(
    [da.from_delayed(block[1], shape=(BLOCK_ROWS,), dtype=bool) for block in blocks]
)
print(dX)

# %%
# Train over the blocks
# ---------------------
# ``Incremental`` calls ``partial_fit`` on each block in turn: one epoch over
# its rows. ``partial_fit`` needs ``early_stopping=False``. An outlier
# detector has no ``score`` method, which ``Incremental`` asks for unless it
# is told how to score. Three passes over the blocks here.
detector = AutoencoderOutlierDetector(
    contamination=0.01, early_stopping=False, random_state=0
)
incremental = Incremental(
    detector,
    scoring=lambda estimator, X, y=None: estimator.score_samples(X).mean(),
    random_state=0,
)
for _ in range(3):
    incremental.partial_fit(dX)
detector = incremental.estimator_
print(f"trained for {detector.n_iter_} passes of partial_fit")

# %%
# Score block by block
# --------------------
# ``map_blocks`` maps a fitted estimator's method over the blocks, with the
# output's true chunks and dtype (one score per row here), still lazy.
d_scores = map_blocks(detector.score_samples, dX)
d_flags = map_blocks(detector.predict, dX)
print(d_scores)
scores, flags, truth = dask.compute(d_scores, d_flags, labels)
print(
    f"ROC-AUC {roc_auc_score(truth, -scores):.3f}; {np.sum(flags == -1)} rows "
    f"flagged, {truth[flags == -1].mean():.0%} of them planted outliers"
)

# The outliers' scores reach far below the threshold, so the plot draws
# ``offset_ - score`` through ``arcsinh``: linear near the threshold at 0,
# logarithmic far from it.
abnormality = np.arcsinh(detector.offset_ - scores)
fig, ax = plt.subplots(figsize=(7, 4))
bins = np.linspace(abnormality.min(), abnormality.max(), 60)
ax.hist(abnormality[~truth], bins=bins, alpha=0.6, label="normal rows")
ax.hist(abnormality[truth], bins=bins, alpha=0.8, label="planted outliers")
ax.axvline(0.0, color="k", ls="--", label="threshold")
ax.set_yscale("log")
ax.set_xlabel("arcsinh(offset_ - score_samples): outliers to the right")
ax.set_ylabel("rows")
ax.legend()
ax.set_title("Scores of all blocks, computed block by block")
fig.tight_layout()
plt.show()
