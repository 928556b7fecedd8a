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
    X, scaling, network, n_components, loss, *, missing=False, leave_out=None
):
    """The function that sets a network's starting weights to PCA's, or None.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Unscaled training rows.
    scaling : FeatureScaling
        The scaling the network sees the rows through.
    network : type
        The torch module class of the encoder and decoder.
    n_components : int
        Size of the code.
    loss : {"mse", "bce"}
        The estimator's ``loss``.
    missing : bool, default=False
        Whether ``X`` holds NaN: the axes are then those of the rows
        filled by iterative PCA imputation (see
        :func:`skae._missing.filled_for_start`), made in a float64 copy.
    leave_out : ndarray of int, default=None
        Sorted indices of rows of ``X`` the axes are not computed from (the
        detector's calibration rows); ``None`` for none.

    Returns
    -------
    start : callable or None
        Called with the initialized :class:`skae._modules.Autoencoder`, it
        sets the linear path of its network to the principal axes; ``None``
        for networks that have no PCA start.
    """
    # With "bce" the output is a logit, which PCA's reconstruction is not.
    if network is not ResidualAutoencoder or loss != "mse":
        return None
    if missing:
        X = filled_for_start(X, scaling, n_components, principal_axes, leave_out)
    mean, components = principal_axes(X, scaling, n_components, leave_out)

    def start(module):
        module.network.start_at(mean, components)

    return start


def principal_axes(X, scaling, n_components, leave_out=None):
    """Mean and principal axes of the rows of ``X`` as the network sees them.

    The start of :class:`skae._modules.ResidualAutoencoder`: its linear path
    is set to this projection, so that training starts from PCA. Computed in
    float64, the way scikit-learn's ``PCA`` chooses by default: from the
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
    n_components : int
        Number of axes. Beyond the rank of the data, the extra axes are
        zeros: those codes carry nothing until training uses them.
    leave_out : ndarray of int, default=None
        Sorted indices of rows of ``X`` left out of the computation.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    components : ndarray of shape (n_components, n_features)
        Orthonormal rows, in decreasing order of variance, each with the sign
        that makes its largest entry positive (as scikit-learn's ``PCA``).
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
        mean, axes = pca.mean_, pca.components_
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
        _, vectors = np.linalg.eigh(products / n_samples)
        axes = vectors[:, ::-1].T
    # scikit-learn's sign convention, as its PCA applies it.
    _, axes = svd_flip(None, axes[:n_components], u_based_decision=False)
    components = np.zeros((n_components, n_features))
    components[: len(axes)] = axes
    return mean, components


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
