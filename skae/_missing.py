"""Missing values (NaN): which cells are observed, what fills the others.

The estimators take the path of this module only when the rows given to
them hold NaN; complete data never reach it, so their models and scores do
not depend on it. Missing cells never enter a loss or a score: training
masks them out of the reconstruction error, and scores and per-feature
errors are computed on the observed cells of each row. The network still
needs a value in every cell of its input: a missing cell starts at the
feature's mean and is then replaced, pass after pass, by the network's own
reconstruction of it (an EM-like fill, which for a linear network is
iterative PCA imputation). How many passes help depends on the data, so
``fit`` counts them on held-out rows (:func:`choose_fill_passes`). For
multiple imputation, a variational network can encode each pass's row to
a code drawn from its posterior instead of the mean (:class:`PosteriorDraws`).
"""

import numpy as np
import torch
from sklearn.utils._chunking import get_chunk_n_rows

from skae._blocks import blocks
from skae._losses import output_to_data

#: Most passes of the network that refine the fill of missing cells, each
#: replacing them by the reconstruction of the row filled by the last. A
#: row also stops at the first pass that changes its fill more than the
#: pass before: such passes diverge.
MAX_FILL_PASSES = 10
#: The passes used when ``fit`` has no held-out rows to count them on
#: (``early_stopping=False``, ``partial_fit``). On real data a
#: few passes fill best: more drift away, since the network was trained on
#: rows whose missing cells hold the feature's mean, not its own fills. Mean
#: normalised RMSE of the filled cells over the 12 sets of
#: ``benchmarks/bench_imputation.py`` (1,500 rows, MCAR 10 / 30 / 50%):
#: 0.725 / 0.799 / 0.852 after one pass, 0.694 / 0.788 / 0.851 after two,
#: 0.692 / 0.803 / 0.879 after three, 0.731 / 0.934 / 1.047 after ten.
DEFAULT_FILL_PASSES = 2
#: Most held-out rows the fill passes are counted on (evenly spaced): a
#: few thousand hidden cells tell the counts apart, and counting costs
#: ten forward passes over these rows.
MAX_COUNTING_ROWS = 1_000
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


def check_missing(X, *, first_pass):
    """Whether rows ``X`` of a fit miss cells; raise if they cannot be
    trained on (a row or, on the first pass, a column without an observed
    cell)."""
    if not has_missing(X):
        return False
    check_observed(X, columns=first_pass)
    return True


def scaled_fill(scaling, means):
    """The first fill of missing cells: the features' ``means`` as the
    network sees them (clipped to [0, 1] for ``loss="bce"``, as the rows
    are)."""
    fill = (means - scaling.center) / scaling.scale
    return np.clip(fill, 0, 1) if scaling.clip else fill


class PosteriorDraws:
    """A variational network whose ``encode`` draws each code from the
    posterior, ``mean + exp(log_var / 2) * eps``, rather than giving its
    mean; ``decode`` is the network's.

    Parameters
    ----------
    module : skae._modules.Autoencoder
        A variational network (``module.variational`` true).
    generator : torch.Generator
        Draws ``eps``, on the device of the rows encoded.
    """

    def __init__(self, module, generator):
        self.module = module
        self.generator = generator

    def encode(self, x):
        mean, log_var = self.module.encode_distribution(x)
        return mean + torch.exp(0.5 * log_var) * normal_like(mean, self.generator)

    def decode(self, z):
        return self.module.decode(z)


def normal_like(tensor, generator):
    """Standard normal draws of the shape, dtype and device of ``tensor``."""
    return torch.randn(
        tensor.shape, generator=generator, dtype=tensor.dtype, device=tensor.device
    )


def filling(method, fill, loss, n_passes, draw_seed=None, noise_std=None):
    """``method(module, filled, observed)`` as ``method(module, x)`` on
    scaled batches ``x`` whose missing cells are filled first by
    ``n_passes`` passes (see :func:`refined_fills`), starting from ``fill``
    (scaled). With a ``draw_seed`` (an int), the passes run through
    :class:`PosteriorDraws` (at least one of them) and the filled cells
    then get Gaussian noise of ``noise_std`` (scaled, per feature; ``None``
    for none), each batch continuing the draws of the one before from a
    generator seeded with it."""
    fills, noise_stds, generators = {}, {}, {}
    if draw_seed is not None:
        n_passes = max(n_passes, 1)

    def filled_method(module, x):
        key = (x.dtype, x.device)
        if key not in fills:
            fills[key] = torch.as_tensor(fill, dtype=x.dtype, device=x.device)
            noise_stds[key] = (
                None
                if noise_std is None
                else torch.as_tensor(noise_std, dtype=x.dtype, device=x.device)
            )
        passes_through = module
        if draw_seed is not None:
            if x.device not in generators:
                generator = torch.Generator(device=x.device).manual_seed(draw_seed)
                generators[x.device] = generator
            passes_through = PosteriorDraws(module, generators[x.device])
        observed = ~torch.isnan(x)
        *_, filled = refined_fills(
            passes_through, x, fills[key], loss, observed, n_passes
        )
        if draw_seed is not None and noise_stds[key] is not None:
            noise = noise_stds[key] * normal_like(filled, generators[x.device])
            filled = torch.where(observed, filled, filled + noise)
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


def refined_fills(module, x, fill, loss, observed, n_passes):
    """Scaled rows ``x`` with their NaN filled, after each pass in turn.

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
    observed : torch.Tensor of bool
        ``~isnan(x)``.
    n_passes : int
        Number of passes; ``0`` gives the first fill only.

    Yields
    ------
    filled : torch.Tensor
        ``x`` with each missing cell replaced by the network's
        reconstruction of the row as filled by the pass before (the first
        fill before the first pass), once before the passes and once after
        each. A row whose fill moves more than at the pass before keeps its
        last fill from then on.
    """
    filled = torch.where(observed, x, fill)
    yield filled
    active = torch.ones(len(x), dtype=torch.bool, device=x.device)
    last_change = torch.full((len(x),), torch.inf, dtype=x.dtype, device=x.device)
    for _ in range(n_passes):
        if active.any():
            output = output_to_data(module.decode(module.encode(filled)), loss)
            refilled = torch.where(observed, filled, output.to(filled.dtype))
            change = (refilled - filled).square().sum(dim=1)
            active &= change < last_change
            filled = torch.where(active[:, None], refilled, filled)
            last_change = change
        yield filled


def choose_fill_passes(module, valid_rows, fill, loss, random_state):
    """The number of fill passes that best restores cells hidden in the
    held-out rows.

    Cells observed in at most ``MAX_COUNTING_ROWS`` of the held-out rows
    (evenly spaced) are hidden at random, as often as cells are missing in
    them (at least 10%, at most half: 10% in complete rows); each number of
    passes from 0 (the features' means alone) to :data:`MAX_FILL_PASSES`
    fills them, and the one with the lowest squared error on the hidden
    cells, in scaled units, wins (the fewest passes among equals).

    Parameters
    ----------
    module : skae._modules.Autoencoder
        The trained network.
    valid_rows : skae._data.ScaledRows
        The held-out rows the network did not train on, as it read them:
        scaled float32 rows, NaN where a cell is missing, on its device.
        They are read again from there, not from the data.
    fill : ndarray of shape (n_features,)
        The first fill of each feature, scaled (see :func:`scaled_fill`).
    loss : {"mse", "bce"}
        The estimator's loss.
    random_state : numpy.random.RandomState
        Draws the hidden cells.

    Returns
    -------
    n_passes : int
        :data:`DEFAULT_FILL_PASSES` when no cell can be hidden (every row
        has a single observed cell).
    """
    n_rows = len(valid_rows)
    positions = np.arange(n_rows)
    if n_rows > MAX_COUNTING_ROWS:
        positions = positions[np.linspace(0, n_rows - 1, MAX_COUNTING_ROWS).astype(int)]
    device = valid_rows.X.device
    rows = valid_rows.take(torch.from_numpy(positions).to(device))
    observed = ~torch.isnan(rows).cpu().numpy()
    rate = np.clip(1 - observed.mean(), 0.1, 0.5)
    hidden = observed & (random_state.uniform(size=observed.shape) < rate)
    # A row keeps one observed cell, chosen among its observed ones.
    keep = random_state.uniform(size=observed.shape) * observed
    hidden[np.arange(len(hidden)), np.argmax(keep, axis=1)] = False
    if not hidden.any():
        return DEFAULT_FILL_PASSES
    fill = torch.as_tensor(fill, dtype=rows.dtype, device=device)
    errors = np.zeros(MAX_FILL_PASSES + 1)
    batch_rows = get_chunk_n_rows(
        rows.element_size() * rows.shape[1] * (MAX_FILL_PASSES + 4),
        max_n_rows=len(rows),
    )
    with torch.inference_mode():
        for start in range(0, len(rows), batch_rows):
            truth = rows[start : start + batch_rows]
            mask = torch.as_tensor(hidden[start : start + batch_rows], device=device)
            x = truth.masked_fill(mask, torch.nan)
            passes = refined_fills(
                module, x, fill, loss, ~torch.isnan(x), MAX_FILL_PASSES
            )
            for k, filled in enumerate(passes):
                error = (filled - truth).square().masked_fill(~mask, 0).sum()
                errors[k] += float(error)
    return int(np.argmin(errors))


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


def filled_for_start(X, scaling, n_components, principal_axes, leave_out=None):
    """A float64 copy of ``X`` whose missing cells hold PCA's imputation.

    Missing cells start at their feature's mean; each of ``START_ROUNDS``
    rounds takes the principal axes of the filled rows and replaces the
    missing cells by their reconstruction, as iterative PCA imputation
    does. PCA's start of the residual network is then taken from the last
    fill, rather than from mean-filled rows, whose variance is too small
    along the directions where cells are missing. The axes of every round
    leave out the rows ``leave_out`` (see :func:`skae._start.pca_start`).
    """
    missing = np.isnan(X)
    filled = np.where(missing, observed_means(X), X)
    for _ in range(START_ROUNDS):
        mean, components = principal_axes(filled, scaling, n_components, leave_out)
        scaled = (filled - scaling.center) / scaling.scale - mean
        rebuilt = (scaled @ components.T @ components + mean) * scaling.scale
        rebuilt += scaling.center
        filled[missing] = rebuilt[missing]
    return filled
