"""Missing values (NaN): which cells are observed, what fills the others.

The estimators take the path of this module only when the rows given to
them hold NaN; complete data never reach it, so their models and scores do
not depend on it. Missing cells never enter a loss or a score: training
masks them out of the reconstruction error, and scores and per-feature
errors are computed on the observed cells of each row. The network still
needs a value in every cell of its input: a missing cell starts at the
feature's mean and is then replaced, pass after pass, by the network's own
reconstruction of it (an EM-like fill, which for a linear network is
iterative PCA imputation).
"""

import numpy as np
import torch

from skae._blocks import blocks
from skae._losses import output_to_data

#: Most passes of the network that refine the fill of missing cells, each
#: replacing them by the reconstruction of the row filled by the last. A
#: row stops at the first pass that changes its fill more than the pass
#: before: on data the network rebuilds well the passes converge, as
#: iterative PCA does, but a network trained on rows whose missing cells
#: hold the feature's mean can overshoot when fed its own fills, and then
#: the passes diverge (``benchmarks/README.md``, missing values).
FILL_PASSES = 10
#: Rounds of PCA reconstruction that refine the mean fill of the training
#: rows before the principal axes of PCA's start are taken from them.
START_ROUNDS = 5


def has_missing(X):
    """Whether ``X`` (a validated float array) holds a NaN, block by block.

    The sum of a block is finite when the block holds neither NaN nor
    infinity: only blocks whose sum is not finite are searched cell by cell.
    """
    for block in blocks(X, temporaries=0):
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(block, axis=None)
        if not np.isfinite(total) and np.isnan(block).any():
            return True
    return False


def check_observed(X, *, columns):
    """Raise if a row (and with ``columns``, a column) of ``X`` is all NaN.

    A row without an observed cell has nothing to encode or score; a
    feature never observed has no scale and nothing to learn from.
    """
    observed = ~np.isnan(X)
    checks = [(1, "row", "a sample needs at least one observed value. Drop them.")]
    if columns:
        checks.append((0, "feature", "Drop them, or fill them before fitting."))
    for axis, what, advice in checks:
        empty = np.flatnonzero(~observed.any(axis=axis))
        if len(empty):
            raise ValueError(
                f"X has {len(empty)} {what}(s) whose values are all missing "
                f"(NaN): {what}(s) {empty[:5].tolist()}; {advice}"
            )


def check_missing(estimator, X, *, first_pass):
    """Whether rows ``X`` of a fit miss cells; raise if they cannot be
    trained on (a row or, on the first pass, a column without an observed
    cell, or an accelerator, whose sharded batches carry no masks)."""
    if not has_missing(X):
        return False
    check_observed(X, columns=first_pass)
    if estimator.accelerator is not None:
        raise ValueError(
            "Input X contains NaN: training on missing values is not "
            "supported with an accelerator. Fill them first, or fit "
            "without one."
        )
    return True


def scaled_fill(scaling, means):
    """The first fill of missing cells: the features' ``means`` as the
    network sees them (clipped to [0, 1] for ``loss="bce"``, as the rows
    are)."""
    fill = (means - scaling.center) / scaling.scale
    return np.clip(fill, 0, 1) if scaling.clip else fill


def filling(method, fill, loss):
    """``method(module, filled, observed)`` as ``method(module, x)`` on
    scaled batches ``x`` whose missing cells are filled first (see
    :func:`fill_passes`), starting from ``fill`` (scaled)."""
    fills = {}

    def filled_method(module, x):
        key = (x.dtype, x.device)
        if key not in fills:
            fills[key] = torch.as_tensor(fill, dtype=x.dtype, device=x.device)
        filled, observed = fill_passes(module, x, fills[key], loss)
        return method(module, filled, observed)

    return filled_method


def observed_means(X):
    """Mean of the observed (non-NaN) values of each column of ``X``, in
    float64, block by block."""
    total = np.zeros(X.shape[1])
    count = np.zeros(X.shape[1])
    for block in blocks(X, temporaries=1):
        observed = ~np.isnan(block)
        total += np.where(observed, block, 0).sum(axis=0, dtype=np.float64)
        count += observed.sum(axis=0)
    return total / np.maximum(count, 1)


def fill_passes(module, x, fill, loss, observed=None):
    """Scaled rows ``x`` with their NaN filled from ``module``.

    Parameters
    ----------
    module : skae._modules.Autoencoder
        The network; called through ``encode`` and ``decode`` only.
    x : torch.Tensor of shape (n_rows, n_features)
        Scaled rows, NaN where a cell is missing; not modified.
    fill : torch.Tensor of shape (n_features,)
        The first fill of each feature (its mean, in scaled units), of the
        dtype of ``x``.
    loss : {"mse", "bce"}
        The estimator's loss, which maps the network's output to data.
    observed : torch.Tensor of bool, default=None
        ``~isnan(x)``, when the caller has it.

    Returns
    -------
    filled : torch.Tensor
        ``x`` with each missing cell replaced by the reconstruction of the
        row after at most ``FILL_PASSES`` passes, fewer where a pass would
        move the fill more than the one before.
    observed : torch.Tensor of bool
        Where ``x`` was observed.
    """
    if observed is None:
        observed = ~torch.isnan(x)
    filled = torch.where(observed, x, fill)
    active = torch.ones(len(x), dtype=torch.bool, device=x.device)
    last_change = torch.full((len(x),), torch.inf, dtype=x.dtype, device=x.device)
    for _ in range(FILL_PASSES):
        output = output_to_data(module.decode(module.encode(filled)), loss)
        refilled = torch.where(observed, filled, output.to(filled.dtype))
        change = (refilled - filled).square().sum(dim=1)
        # A row whose fill moves more than at the pass before diverges: it
        # keeps its last fill and takes no more passes.
        active &= change < last_change
        filled = torch.where(active[:, None], refilled, filled)
        last_change = change
        if not active.any():
            break
    return filled, observed


def observed_row_means(values, observed):
    """Mean over the observed cells of each row of ``values``, in float64;
    cells not observed count for nothing, whatever their value."""
    values = values.to(torch.float64).masked_fill_(~observed, 0)
    return values.sum(dim=1) / observed.sum(dim=1)


def mask_missing(values, X):
    """``values`` of the cells of ``X`` (an array of its shape), NaN where
    ``X`` is: a missing cell has no error. ``values`` itself when ``X`` is
    complete."""
    if not has_missing(X):
        return values
    return np.where(np.isnan(X), np.nan, values)


def filled_for_start(X, scaling, n_components, principal_axes):
    """A float64 copy of ``X`` whose missing cells hold PCA's imputation.

    Missing cells start at their feature's mean; each of ``START_ROUNDS``
    rounds takes the principal axes of the filled rows and replaces the
    missing cells by their reconstruction, as iterative PCA imputation
    does. PCA's start of the residual network is then taken from the last
    fill, rather than from mean-filled rows, whose variance is too small
    along the directions where cells are missing.
    """
    missing = np.isnan(X)
    filled = np.where(missing, observed_means(X), X)
    for _ in range(START_ROUNDS):
        mean, components = principal_axes(filled, scaling, n_components)
        scaled = (filled - scaling.center) / scaling.scale - mean
        rebuilt = (scaled @ components.T @ components + mean) * scaling.scale
        rebuilt += scaling.center
        filled[missing] = rebuilt[missing]
    return filled
