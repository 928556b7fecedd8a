"""Running fitted skae estimators over the blocks of a dask array.

Training over blocks needs nothing from skae but ``partial_fit``: wrap the
estimator in ``dask_ml.wrappers.Incremental``. Predicting is where dask-ml's
``ParallelPostFit`` falls short for autoencoders: it has no
``score_samples`` or ``inverse_transform``, and declares the output of
``transform`` as wide as the input. :func:`map_blocks` runs any of these
methods block by block with the output's true shape, chunks and dtype.

This module needs dask (``pip install "skae[distributed]"``); importing it
without dask raises an ``ImportError`` that says so.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

try:
    import dask.array as da
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skae.dask needs dask: install it with pip install 'skae[distributed]' "
        "(or pip install 'dask[array]')."
    ) from exc

__all__ = ["map_blocks"]

# method name -> (output width, output dtype), from the estimator and X.
_OUTPUTS = {
    "transform": (lambda est: est.n_components_, None),
    "inverse_transform": (lambda est: est.n_features_in_, None),
    "feature_errors": (lambda est: est.n_features_in_, np.float64),
    "score_samples": (None, np.float64),
    "decision_function": (None, np.float64),
    "predict": (None, np.int64),
}


def map_blocks(method, X):
    """Apply a fitted estimator's method to each block of rows of ``X``.

    Parameters
    ----------
    method : bound method
        ``transform``, ``inverse_transform``, ``feature_errors``,
        ``score_samples``, ``decision_function`` or ``predict`` of a fitted
        :class:`~skae.AutoencoderTransformer` or
        :class:`~skae.AutoencoderOutlierDetector`, such as ``ae.transform``.
    X : dask.array.Array of shape (n_samples, n_columns)
        The rows; blocks may split the rows in any way, and are rechunked to
        hold whole rows. Empty blocks give empty outputs.

    Returns
    -------
    result : dask.array.Array
        Lazy; the same row chunks as ``X``, and one column chunk as wide as
        the method's output (no column axis for scores and labels). Outputs
        of the estimator's float dtype follow ``X``'s, as the method does.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skae import AutoencoderTransformer
    >>> from skae.dask import map_blocks
    >>> X = np.random.RandomState(0).normal(size=(300, 6))
    >>> ae = AutoencoderTransformer(n_components=2, max_iter=5).fit(X)
    >>> Z = map_blocks(ae.transform, da.from_array(X, chunks=100))
    >>> Z.shape, Z.chunks
    ((300, 2), ((100, 100, 100), (2,)))
    >>> map_blocks(ae.score_samples, da.from_array(X, chunks=100)).chunks
    ((100, 100, 100),)
    """
    estimator = getattr(method, "__self__", None)
    name = getattr(method, "__name__", None)
    if estimator is None or name not in _OUTPUTS:
        raise ValueError(
            f"method must be one of {', '.join(_OUTPUTS)}, bound to a fitted "
            f"skae estimator (for example ae.transform), got {method!r}."
        )
    check_is_fitted(estimator)
    X = da.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array, got {X.ndim} dimension(s).")
    X = X.rechunk({1: -1})
    width_of, dtype = _OUTPUTS[name]
    if dtype is None:
        # Float input keeps its precision; anything else is computed in float64.
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    width = None if width_of is None else width_of(estimator)
    empty = np.empty((0,) if width is None else (0, width), dtype=dtype)

    def apply(block):
        if len(block) == 0:
            return empty
        return np.asarray(method(block), dtype=dtype)

    if width is None:
        return X.map_blocks(apply, drop_axis=1, dtype=dtype, meta=empty)
    return X.map_blocks(apply, chunks=(X.chunks[0], (width,)), dtype=dtype, meta=empty)
