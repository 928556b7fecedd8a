"""Validation of the data given to the estimators: rows ``X``, checked out
of core when they are a memory map, and codes ``Z``."""

import numpy as np
from sklearn.utils.validation import check_array, validate_data

from skae._blocks import check_finite, is_mapped


def check_data(estimator, X, *, reset):
    """scikit-learn's validation of ``X``, out of core for memory maps.

    A memory-mapped ``X`` is checked for infinity block by block,
    releasing each block's pages, instead of in one pass that would bring
    the whole file into the process's memory.

    Parameters
    ----------
    estimator : skae._base._BaseAutoencoder
        The estimator ``X`` is given to.
    X : array-like of shape (n_samples, n_features)
        The rows.
    reset : bool
        Whether to set ``n_features_in_`` and ``feature_names_in_`` (in
        ``fit``) rather than check ``X`` against them.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        float64 or float32 rows, NaN where a cell is missing, otherwise
        finite.
    """
    mapped = is_mapped(X)
    X = validate_data(
        estimator,
        X,
        reset=reset,
        dtype=[np.float64, np.float32],
        # NaN marks a missing cell, which the estimators accept; inf does not.
        ensure_all_finite=False if mapped else "allow-nan",
    )
    if mapped:
        check_finite(X, allow_nan=True)
    return X


def check_codes(estimator, Z):
    """Validate codes ``Z`` for a fitted ``estimator``'s decoder.

    Returns
    -------
    Z : ndarray of shape (n_samples, n_components_)
        Float64 or float32 codes.
    """
    Z = check_array(Z, dtype=[np.float64, np.float32])
    n_components = estimator.n_components_
    if Z.shape[1] != n_components:
        raise ValueError(
            f"Z has {Z.shape[1]} features, but {type(estimator).__name__} has "
            f"{n_components} components."
        )
    return Z
