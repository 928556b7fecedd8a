"""PCA's solution as the starting weights of the residual network.

:class:`skae._modules.ResidualAutoencoder` is a linear autoencoder plus dense
branches whose output starts at zero; its linear path starts at the
principal axes of the training rows, as the network sees them, so that
training starts from PCA's reconstruction and learns what PCA misses.
"""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils.extmath import svd_flip

from skae._blocks import block_rows, blocks
from skae._missing import filled_for_start
from skae._modules import ResidualAutoencoder


def pca_start(
    X, scaling, n_components, decomposition, *, missing=False, leave_out=None
):
    """The function that sets a network's starting weights to PCA's.

    For the networks that have that start (see :func:`has_pca_start`).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Unscaled training rows.
    scaling : FeatureScaling
        The scaling the network sees the rows through.
    n_components : int
        Size of the code.
    decomposition : callable
        Returns :func:`principal_decomposition` of the rows (the caller
        caches it), so that it is computed once when the code size is
        chosen from it too; not used with ``missing``.
    missing : bool, default=False
        Whether ``X`` holds NaN: the axes are then those of the rows
        filled by iterative PCA imputation (see
        :func:`skae._missing.filled_for_start`), made in a float64 copy.
    leave_out : ndarray of int, default=None
        Sorted indices of rows of ``X`` the axes are not computed from (the
        detector's calibration rows); ``None`` for none.

    Returns
    -------
    start : callable
        Called with the initialized :class:`skae._modules.Autoencoder`, it
        sets the linear path of its network to the principal axes.
    """
    if missing:
        X = filled_for_start(X, scaling, n_components, principal_axes, leave_out)
        mean, components = principal_axes(X, scaling, n_components, leave_out)
    else:
        mean, components = leading_axes(decomposition(), n_components)

    def start(module):
        module.network.start_at(mean, components)

    return start


def has_pca_start(architecture, loss):
    """Whether the network of ``architecture`` trained with ``loss`` starts
    at PCA's solution: :class:`skae._modules.ResidualAutoencoder` does,
    unless the output is a logit (``loss="bce"``), which PCA's
    reconstruction is not."""
    return architecture in ("residual", ResidualAutoencoder) and loss == "mse"


def principal_axes(X, scaling, n_components, leave_out=None):
    """Mean and leading principal axes of the rows of ``X`` as the network
    sees them: :func:`leading_axes` of :func:`principal_decomposition`.

    ``X``, ``scaling`` and ``leave_out`` are those of
    :func:`principal_decomposition`; ``n_components`` is the number of axes
    (beyond the rank of the data, the extra axes are zeros: those codes
    carry nothing until training uses them). Returns ``mean`` of shape
    (n_features,) and ``components`` of shape (n_components, n_features).
    """
    decomposition = principal_decomposition(X, scaling, leave_out)
    return leading_axes(decomposition, n_components)


def principal_decomposition(X, scaling, leave_out=None):
    """Mean, principal axes and their variances of the rows of ``X`` as the
    network sees them.

    The start of :class:`skae._modules.ResidualAutoencoder`: its linear path
    is set to the leading axes, so that training starts from PCA. Computed
    in float64, the way scikit-learn's ``PCA`` chooses by default: from the
    eigenvectors of the covariance matrix, summed block by block, for tall
    data (at most 1,000 features and at least 10 rows per feature) and data
    larger than one block of ``working_memory``; otherwise by scikit-learn's
    ``PCA`` (``svd_solver="full"``) of the scaled rows. The covariance needs
    memory for one block and an ``n_features`` square; the decomposition,
    several float64 copies of the data.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Unscaled rows.
    scaling : FeatureScaling
        The scaling the network sees the rows through.
    leave_out : ndarray of int, default=None
        Sorted indices of rows of ``X`` left out of the computation.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    axes : ndarray of shape (n_axes, n_features)
        Every axis the decomposition finds (at most ``n_features``), in
        decreasing order of variance, each with the sign that makes its
        largest entry positive (as scikit-learn's ``PCA``).
    variances : ndarray of shape (n_axes,)
        The variance of the rows along each axis.
    """
    keep = None
    n_samples, n_features = X.shape
    if leave_out is not None:
        keep = np.ones(n_samples, dtype=bool)
        keep[leave_out] = False
        n_samples -= len(leave_out)
    tall = n_features <= 1_000 and n_samples >= 10 * n_features
    if not tall and n_samples <= block_rows(X, temporaries=2):
        rows = X if keep is None else X[keep]
        scaled = (np.asarray(rows, dtype=np.float64) - scaling.center) / scaling.scale
        pca = PCA(svd_solver="full", copy=False).fit(scaled)
        mean, axes, variances = pca.mean_, pca.components_, pca.explained_variance_
    else:
        # scikit-learn's PCA forms the covariance from X.T @ X in one pass,
        # which loses the variance of features far from zero, and needs all
        # rows in memory: two passes over blocks of rows instead, the mean,
        # then the products of centred rows.
        total = np.zeros(n_features)
        for block in _kept_blocks(X, keep):
            total += _scaled(block, scaling).sum(axis=0)
        mean = total / n_samples
        products = np.zeros((n_features, n_features))
        for block in _kept_blocks(X, keep):
            centred = _scaled(block, scaling)
            centred -= mean
            products += centred.T @ centred
        values, vectors = np.linalg.eigh(products / n_samples)
        axes, variances = vectors[:, ::-1].T, np.maximum(values[::-1], 0.0)
    # scikit-learn's sign convention, as its PCA applies it.
    _, axes = svd_flip(None, axes, u_based_decision=False)
    return mean, axes, variances


def leading_axes(decomposition, n_components):
    """The mean and the first ``n_components`` axes of a
    :func:`principal_decomposition`, zeros beyond its axes."""
    mean, axes, _ = decomposition
    components = np.zeros((n_components, len(mean)))
    kept = axes[:n_components]
    components[: len(kept)] = kept
    return mean, components


def components_keeping(decomposition, fraction):
    """Fewest leading axes of a :func:`principal_decomposition` that keep
    ``fraction`` of the variance, as ``PCA(n_components=fraction)`` picks
    them; 1 for rows without variance."""
    variances = decomposition[2]
    total = variances.sum()
    if not total > 0:
        return 1
    kept = np.cumsum(variances) / total
    return int(min(np.searchsorted(kept, fraction, side="right") + 1, len(kept)))


def _kept_blocks(X, keep):
    """Blocks of the rows of ``X`` where ``keep`` is true (all for ``None``)."""
    start = 0
    for block in blocks(X, temporaries=1):
        stop = start + len(block)
        yield block if keep is None else block[keep[start:stop]]
        start = stop


def _scaled(block, scaling):
    """Rows ``block`` as the network sees them, in a new float64 array."""
    scaled = block - scaling.center
    scaled /= scaling.scale
    return scaled
