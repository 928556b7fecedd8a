"""Scoring reconstructions: model selection without labels.

A transformer that maps its output back (``inverse_transform``) can be judged
by how well it rebuilds data it has not seen. The scorer here measures that in
the units of the data, the same way for any such transformer, so that a search
can compare PCA, kernel PCA and autoencoders on one scale: their own ``score``
methods measure different things (PCA's is a log-likelihood).
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import _safe_indexing, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils.validation import _num_samples, check_array

__all__ = ["reconstruction_scorer"]


def reconstruction_scorer(estimator, X, y=None):
    """Minus the mean squared reconstruction error of a fitted transformer.

    Computes ``estimator.inverse_transform(estimator.transform(X))`` and
    returns minus the mean, over all samples and features, of its squared
    difference from ``X``, in the units of ``X``. Higher is better, as
    scikit-learn's model selection expects: pass it as ``scoring`` to
    :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.cross_val_score` to compare transformers
    of any kind, :class:`~sklearn.decomposition.PCA` and
    :class:`~skae.AutoencoderTransformer` alike, by how well they rebuild
    held-out data, without labels.

    Parameters
    ----------
    estimator : object
        A fitted transformer with ``transform`` and ``inverse_transform``:
        :class:`~skae.AutoencoderTransformer`,
        :class:`~sklearn.decomposition.PCA`,
        :class:`~sklearn.decomposition.TruncatedSVD`,
        :class:`~sklearn.decomposition.KernelPCA` with
        ``fit_inverse_transform=True``, or a
        :class:`~sklearn.pipeline.Pipeline` whose steps all have
        ``inverse_transform``.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data to reconstruct, in the units the estimator was fitted on. It
        may hold NaN for missing cells if the estimator accepts them (as
        skae's estimators do); the error is then averaged over the observed
        cells only.

    y : Ignored
        Not used, present because scikit-learn calls scorers as
        ``scorer(estimator, X, y)``.

    Returns
    -------
    score : float
        Minus the mean squared error of the reconstruction, at most 0.

    See Also
    --------
    sklearn.metrics.mean_squared_error : The error, for a reconstruction
        computed by hand.
    skae.AutoencoderTransformer.score : The same value, for an autoencoder.

    Notes
    -----
    The error is the squared difference of each value from its
    reconstruction, averaged with equal weight over all features, as PCA
    minimises it. Features in different units then weigh by their size: to
    weigh them alike, put a :class:`~sklearn.preprocessing.StandardScaler`
    in the pipeline *before* a step that has ``inverse_transform``, and the
    error is measured on the standardised features it reconstructs. Rows are
    reconstructed in chunks sized by scikit-learn's ``working_memory``, so
    sparse and memory-mapped ``X`` are never densified at once.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import Pipeline
    >>> from skae import AutoencoderTransformer
    >>> from skae.metrics import reconstruction_scorer
    >>> X, _ = load_digits(return_X_y=True)
    >>> pca = PCA(n_components=8).fit(X)
    >>> round(reconstruction_scorer(pca, X), 2)
    -6.12
    >>> candidates = [PCA(8), AutoencoderTransformer(8, max_iter=5, random_state=0)]
    >>> search = GridSearchCV(
    ...     Pipeline([("reduce", PCA())]), {"reduce": candidates},
    ...     scoring=reconstruction_scorer, cv=2,
    ... ).fit(X)
    >>> search.cv_results_["mean_test_score"].shape
    (2,)
    """
    missing = [
        method
        for method in ("transform", "inverse_transform")
        if not hasattr(estimator, method)
    ]
    if missing:
        raise ValueError(
            f"reconstruction_scorer needs an estimator with transform and "
            f"inverse_transform, but {type(estimator).__name__} has no "
            f"{' or '.join(missing)}. A Pipeline has inverse_transform only "
            "when all its steps do."
        )
    if not hasattr(X, "shape"):
        # A list of rows: converted once, as the estimator would convert it.
        X = check_array(
            X, accept_sparse=True, dtype="numeric", ensure_all_finite="allow-nan"
        )
    n_samples = _num_samples(X)
    if n_samples == 0:
        # scikit-learn's message for empty input.
        check_array(X, accept_sparse=True)
    n_features = X.shape[1] if X.ndim == 2 else 1
    # Per row: the target and the reconstruction as float64, and their
    # difference.
    chunk_rows = get_chunk_n_rows(3 * 8 * n_features, max_n_rows=n_samples)
    squared_error, n_observed = 0.0, 0
    for rows in gen_batches(n_samples, chunk_rows):
        chunk = _safe_indexing(X, rows)
        target = check_array(
            chunk, accept_sparse=True, dtype=np.float64, ensure_all_finite="allow-nan"
        )
        target = target.toarray() if sp.issparse(target) else target
        reconstruction = estimator.inverse_transform(estimator.transform(chunk))
        if sp.issparse(reconstruction):
            reconstruction = reconstruction.toarray()
        reconstruction = np.asarray(reconstruction, dtype=np.float64)
        if reconstruction.shape != target.shape:
            raise ValueError(
                f"{type(estimator).__name__}.inverse_transform returned an "
                f"array of shape {reconstruction.shape} for X of shape "
                f"{target.shape}: it does not map back to the features of X."
            )
        difference = reconstruction - target
        missing = np.isnan(target)
        # A missing cell has nothing to be compared with: it counts neither
        # in the sum nor in the number of cells.
        difference[missing] = 0.0
        n_observed += target.size - np.count_nonzero(missing)
        squared_error += np.einsum("ij,ij->", difference, difference)
    if n_observed == 0:
        raise ValueError(
            "reconstruction_scorer needs at least one observed value, but "
            "every cell of X is missing (NaN)."
        )
    return -float(squared_error / n_observed)
