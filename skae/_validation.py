"""Validation of the data given to the estimators: rows ``X``, checked out
of core when they are a memory map, and codes ``Z``."""

import numpy as np
from sklearn.utils.validation import check_array, validate_data

from skae._blocks import check_finite, is_mapped
from skae._utils import is_dataframe


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
    try:
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            # NaN marks a missing cell, which the estimators accept; inf does
            # not.
            ensure_all_finite=False if mapped else "allow-nan",
        )
    except ValueError as exc:
        hint = _encoding_hint(estimator, X)
        if hint is None:
            raise
        raise ValueError(f"{str(exc).rstrip('.')}. {hint}") from exc
    if mapped:
        check_finite(X, allow_nan=True)
    return X


def _encoding_hint(estimator, X):
    """What to do about the text columns of a DataFrame ``X`` (strings, or
    categories named by strings), or None when ``X`` has none."""
    if not is_dataframe(X):
        return None
    columns = [
        name
        for name, column in X.select_dtypes(exclude=["number", "bool"]).items()
        if _holds_text(column)
    ]
    if not columns:
        return None
    shown = ", ".join(repr(column) for column in columns[:5])
    if len(columns) > 5:
        shown += f" and {len(columns) - 5} more"
    if len(columns) > 1:
        which, them = f"the columns {shown} hold", "them"
    else:
        which, them = f"column {shown} holds", "it"
    return (
        f"{type(estimator).__name__} needs numbers, but {which} text: encode "
        f"{them} first, with a ColumnTransformer that applies a "
        "OneHotEncoder(sparse_output=False) (or an OrdinalEncoder) to "
        f"{them}, in a Pipeline before the estimator. "
        "skae.inspection.feature_errors_by_column then explains the "
        "pipeline's scores in the original columns."
    )


def _holds_text(column):
    # A categorical column's values are codes into its categories.
    values = column.cat.categories if hasattr(column, "cat") else column
    return any(isinstance(value, str) for value in values)


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
