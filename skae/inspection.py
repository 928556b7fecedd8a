"""Explanations in the columns of the data, before preprocessing.

A detector in a :class:`~sklearn.pipeline.Pipeline` sees the columns its
preprocessing makes: one column per category of a one-hot encoded feature,
scaled numbers, missing-value indicators. Its
:meth:`~skae.AutoencoderOutlierDetector.feature_errors` are in those columns.
The function here adds them back up into the columns the pipeline was given,
following what each fitted transformer records of where its outputs come
from.
"""

import numpy as np
from sklearn.base import OneToOneFeatureMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_is_fitted

from skae._base import _BaseAutoencoder

__all__ = ["feature_errors_by_column"]


def feature_errors_by_column(pipeline, X):
    """Per-feature errors of a pipeline's autoencoder, summed per input column.

    Transforms ``X`` with every step of ``pipeline`` but the last, asks the
    last step, an :class:`~skae.AutoencoderOutlierDetector` or an
    :class:`~skae.AutoencoderTransformer`, for its
    :meth:`~skae.AutoencoderOutlierDetector.feature_errors` on the result,
    and sums the errors of the columns that come from each column of ``X``:
    the one-hot columns of a category feature add up to one value, and a
    scaled numeric column stays as it is. The result names the columns the
    pipeline was fitted on, so that an explanation speaks of ``"colour"``
    rather than of ``"cat__colour_red"``.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted :class:`~sklearn.pipeline.Pipeline` whose last step is an
        :class:`~skae.AutoencoderOutlierDetector` or
        :class:`~skae.AutoencoderTransformer`. The steps before it may be
        :class:`~sklearn.compose.ColumnTransformer`,
        :class:`~sklearn.preprocessing.OneHotEncoder` (with ``drop`` and
        infrequent categories),
        :class:`~sklearn.impute.SimpleImputer` (with ``add_indicator``),
        :class:`~sklearn.pipeline.Pipeline`, ``"passthrough"``, ``"drop"``,
        a :class:`~sklearn.preprocessing.FunctionTransformer` with
        ``feature_names_out="one-to-one"``, and the transformers that map
        each column to one column (those that inherit
        :class:`~sklearn.base.OneToOneFeatureMixin`:
        :class:`~sklearn.preprocessing.OrdinalEncoder`,
        :class:`~sklearn.preprocessing.StandardScaler` and the other
        scalers), nested in any way.

    X : {array-like, DataFrame} of shape (n_samples, n_features)
        Data to explain, with the columns the pipeline was fitted on.

    Returns
    -------
    errors : DataFrame of shape (n_samples, n_columns)
        Non-negative float64 values. One column per column of ``X`` that
        reaches the autoencoder, named as in the pipeline's
        ``feature_names_in_`` (``x0``, ``x1``, ... when it was fitted on an
        array) and in that order; columns that the preprocessing drops are
        left out. The index is that of ``X`` when ``X`` is a DataFrame.

    Raises
    ------
    NotFittedError
        If ``pipeline`` is not fitted.
    ValueError
        If ``pipeline`` is not a Pipeline ending in a skae estimator, or if
        one of its steps is a transformer whose output columns cannot be
        traced back to its input columns (for example
        :class:`~sklearn.decomposition.PCA`, which mixes them all).

    See Also
    --------
    skae.AutoencoderOutlierDetector.feature_errors : The errors per column
        the detector sees, which this function adds up.

    Notes
    -----
    Every column the autoencoder sees comes from one input column, so each
    row sums to the sum of the row of ``feature_errors`` on the transformed
    data. A category feature collects the errors of all its one-hot
    columns, which makes its sum start higher than a number's on typical
    rows: to compare columns, compare each with its usual value (its median
    over the rows, for example). The mean of a row of
    ``feature_errors`` is minus the sample's score (for the detector, up to
    the code term, which belongs to no column), so dividing these sums by the
    number of transformed columns gives each column's share of minus the
    score.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> from skae import AutoencoderOutlierDetector
    >>> from skae.inspection import feature_errors_by_column
    >>> rng = np.random.RandomState(0)
    >>> X = pd.DataFrame(
    ...     {
    ...         "size": rng.normal(size=60),
    ...         "colour": rng.choice(["red", "green", "blue"], size=60),
    ...     }
    ... )
    >>> preprocess = ColumnTransformer(
    ...     [
    ...         ("number", StandardScaler(), ["size"]),
    ...         ("category", OneHotEncoder(sparse_output=False), ["colour"]),
    ...     ]
    ... )
    >>> pipeline = make_pipeline(
    ...     preprocess, AutoencoderOutlierDetector(max_iter=2, random_state=0)
    ... ).fit(X)
    >>> errors = feature_errors_by_column(pipeline, X)
    >>> list(errors.columns), errors.shape
    (['size', 'colour'], (60, 2))
    """
    if not isinstance(pipeline, Pipeline):
        raise ValueError(
            "feature_errors_by_column needs a Pipeline whose last step is an "
            "AutoencoderOutlierDetector or AutoencoderTransformer, got "
            f"{type(pipeline).__name__}. For the columns a skae estimator "
            "sees, call its feature_errors method."
        )
    autoencoder = pipeline.steps[-1][1]
    if not isinstance(autoencoder, _BaseAutoencoder):
        raise ValueError(
            "feature_errors_by_column needs a Pipeline whose last step is an "
            "AutoencoderOutlierDetector or AutoencoderTransformer, but its "
            f"last step is {_describe(autoencoder)}."
        )
    check_is_fitted(autoencoder)
    preprocessing = pipeline[:-1]
    for _, step in preprocessing.steps:
        if not _is_passthrough(step):
            check_is_fitted(step)

    n_features, names = _input_columns(pipeline)
    sources = _sources(preprocessing, n_features)
    if len(sources) != autoencoder.n_features_in_:
        raise ValueError(
            f"The preprocessing makes {len(sources)} columns out of "
            f"{n_features}, as its fitted transformers describe them, but "
            f"{type(autoencoder).__name__} was fitted on "
            f"{autoencoder.n_features_in_}."
        )

    errors = np.asarray(
        autoencoder.feature_errors(preprocessing.transform(X)), dtype=np.float64
    )
    kept = np.unique(sources)
    grouped = np.column_stack(
        [errors[:, sources == column].sum(axis=1) for column in kept]
    )
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "feature_errors_by_column returns a pandas DataFrame: install pandas."
        ) from exc
    index = X.index if hasattr(X, "columns") and hasattr(X, "iloc") else None
    return pd.DataFrame(grouped, columns=list(names[kept]), index=index)


def _input_columns(pipeline):
    """The number and the names of the columns ``pipeline`` was fitted on."""
    first = next(
        (step for _, step in pipeline.steps if not _is_passthrough(step)), None
    )
    n_features = first.n_features_in_
    names = getattr(first, "feature_names_in_", None)
    if names is None:
        names = np.array([f"x{i}" for i in range(n_features)], dtype=object)
    return n_features, np.asarray(names, dtype=object)


def _sources(transformer, n_features):
    """For each output column of a fitted ``transformer`` given
    ``n_features`` columns, the index of the input column it comes from."""
    if _is_passthrough(transformer):
        return np.arange(n_features)
    if isinstance(transformer, Pipeline):
        sources = np.arange(n_features)
        for _, step in transformer.steps:
            # Each step's outputs come from its inputs, which come from the
            # pipeline's: composing the two maps traces them back.
            sources = sources[_sources(step, len(sources))]
        return sources
    if isinstance(transformer, ColumnTransformer):
        return _column_transformer_sources(transformer)
    if isinstance(transformer, OneHotEncoder):
        return _one_hot_sources(transformer)
    if isinstance(transformer, SimpleImputer):
        return _imputer_sources(transformer)
    if isinstance(transformer, OneToOneFeatureMixin) or (
        isinstance(transformer, FunctionTransformer)
        and transformer.feature_names_out == "one-to-one"
    ):
        return np.arange(n_features)
    raise ValueError(
        f"feature_errors_by_column cannot trace the output columns of "
        f"{_describe(transformer)} back to its input columns. Supported "
        "steps: ColumnTransformer, Pipeline, OneHotEncoder, SimpleImputer, "
        "'passthrough', 'drop', FunctionTransformer with "
        "feature_names_out='one-to-one', and transformers that map each "
        "column to one column (OrdinalEncoder, StandardScaler and the other "
        "scalers)."
    )


def _column_transformer_sources(column_transformer):
    n_features = column_transformer.n_features_in_
    # The positions of the input columns, indexed as the ColumnTransformer
    # indexes X, resolve every kind of column selection (names, integers,
    # slices, masks) the way it does.
    positions = np.arange(n_features)[np.newaxis, :]
    names = getattr(column_transformer, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        positions = pd.DataFrame(positions, columns=names)
    parts = []
    for name, transformer, columns in column_transformer.transformers_:
        outputs = column_transformer.output_indices_[name]
        n_outputs = outputs.stop - outputs.start
        if n_outputs == 0:
            # "drop", or a selection of no columns.
            continue
        selected = np.asarray(
            _safe_indexing(positions, columns, axis=1), dtype=np.intp
        ).ravel()
        sources = selected[_sources(transformer, len(selected))]
        if len(sources) != n_outputs:
            raise ValueError(
                f"{_describe(transformer)} in the ColumnTransformer's "
                f"{name!r} made {n_outputs} columns, but its fitted "
                f"attributes describe {len(sources)}."
            )
        parts.append(sources)
    # output_indices_ follows the order of transformers_, one run after the
    # other.
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
    return sources


def _one_hot_sources(encoder):
    """One run of columns per feature: one per category, less the dropped
    one, with the infrequent categories sharing one column."""
    infrequent = getattr(encoder, "infrequent_categories_", None)
    counts = []
    for feature, categories in enumerate(encoder.categories_):
        count = len(categories)
        if infrequent is not None and infrequent[feature] is not None:
            count -= len(infrequent[feature]) - 1
        if encoder.drop_idx_ is not None and encoder.drop_idx_[feature] is not None:
            count -= 1
        counts.append(count)
    return np.repeat(np.arange(len(counts)), counts)


def _imputer_sources(imputer):
    """The columns kept (those with a statistic), then their indicators."""
    statistics = imputer.statistics_
    # A column with no statistic (NaN, which differs from itself) was
    # entirely missing in fit and is dropped.
    kept = np.flatnonzero(statistics == statistics)
    if imputer.add_indicator:
        kept = np.concatenate([kept, imputer.indicator_.features_])
    return kept


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


def _describe(step):
    return repr(step) if isinstance(step, str) else type(step).__name__
