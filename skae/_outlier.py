"""Outlier detection by autoencoder reconstruction error."""

import math
from numbers import Real

import numpy as np
import torch
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from skae import _docs
from skae._base import (
    _BaseAutoencoder,
    _check_partial_fit,
    _Count,
    _init_with,
    _restore_on_failure,
)
from skae._blocks import take_rows
from skae._inference import NonFiniteOutputError
from skae._losses import feature_errors, output_to_data, row_means

_OWN_PARAMETERS = {
    "scaling": _docs.scaling_parameter(
        """\
``"standard"``: every feature counts the same in the score, whatever
its units."""
    ),
    "n_components": (
        "int or None",
        """\
Size of the code. ``None`` uses ``max(1, n_features // 2)``, the best
of the rules compared on the 17 ODDS benchmark datasets (``n_features
// 4``, ``// 2``, ``sqrt(n_features)``, 2; see ``benchmarks/``).""",
    ),
    "contamination": (
        '"auto" or float',
        """\
Expected proportion of outliers in the training data, which sets the
threshold ``offset_`` on the scores:

- a float in (0, 0.5]: ``offset_`` is that quantile of the training
  scores, so that fraction of the training data is predicted as
  outliers;
- ``"auto"``: Tukey's rule on the training scores, ``offset_ = Q1 -
  1.5 * (Q3 - Q1)`` (Q1, Q3: quartiles of the scores). A sample is an
  outlier when its reconstruction error lies further above the upper
  quartile of the training errors than 1.5 interquartile ranges,
  whatever the fraction of such samples.""",
    ),
}


@_docs.document(own=_OWN_PARAMETERS)
class AutoencoderOutlierDetector(OutlierMixin, _BaseAutoencoder):
    """Outlier detection by the reconstruction error of an autoencoder.

    An autoencoder trained on (mostly normal) data reconstructs normal samples
    well and unusual ones badly. The score of a sample is minus its
    reconstruction error, feature by feature relative to its typical size on
    held-out rows, plus how unusual its reconstruction is (see
    :meth:`score_samples`), so, as for
    :class:`~sklearn.ensemble.IsolationForest`, higher scores are more normal,
    :meth:`decision_function` is negative for outliers and :meth:`predict`
    returns -1 for outliers and +1 for inliers.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function =
        score_samples - offset_``.

    error_scale_ : ndarray of shape (`n_features_in_`,)
        Typical reconstruction error of each feature on held-out normal rows,
        which the score divides it by.

    output_center_ : ndarray of shape (`n_features_in_`,)
        Mean reconstruction of each feature on held-out normal rows.

    output_scale_ : ndarray of shape (`n_features_in_`,)
        Variance of each feature's reconstruction on those rows.

    {fitted_attributes}

    See Also
    --------
    AutoencoderTransformer : Dimensionality reduction with an autoencoder.
    sklearn.ensemble.IsolationForest : Isolation-based outlier detection.
    sklearn.neighbors.LocalOutlierFactor : Density-based outlier detection.

    Notes
    -----
    With ``variational=True`` the score is computed from the mean of the code
    (not the evidence lower bound), so scores are deterministic.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import AutoencoderOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> t = rng.uniform(-3, 3, size=(300, 1))
    >>> X = np.hstack([t, np.sin(t), np.cos(t)]) + 0.05 * rng.normal(size=(300, 3))
    >>> X_outliers = rng.uniform(-3, 3, size=(5, 3))
    >>> det = AutoencoderOutlierDetector(n_components=1, contamination=0.05,
    ...                                  random_state=0).fit(X)
    >>> det.predict(X_outliers)
    array([-1, -1, -1, -1, -1])
    >>> bool(det.score_samples(X[:5]).mean() > det.score_samples(X_outliers).mean())
    True

    Every network of :class:`AutoencoderTransformer` works here too, e.g. a
    denoising variational one:

    >>> vae = AutoencoderOutlierDetector(n_components=1, variational=True,
    ...                                  noise=0.1, max_iter=20,
    ...                                  random_state=0).fit(X)
    >>> vae.predict(X_outliers[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **_BaseAutoencoder._parameter_constraints,
        "n_components": [_Count(1), None],
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
    }

    __init__ = _init_with(
        _BaseAutoencoder.__init__,
        n_components=None,
        max_iter=50,
        batch_size=64,
        contamination="auto",
    )

    @_fit_context(prefer_skip_nested_validation=True)
    @_docs.sections
    def fit(self, X, y=None):
        """Fit the autoencoder and the outlier threshold on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, possibly holding a fraction ``contamination`` of
            outliers.

        {y_ignored}

        {returns_self}
        """
        with _restore_on_failure(self):
            X = self._check_data(X, reset=True)
            held_out = self._fit(X)
            self._fit_score_scales(_reference_rows(X, held_out))
            self._set_offset(X)
        return self

    @available_if(lambda estimator: _check_partial_fit(estimator))
    @_fit_context(prefer_skip_nested_validation=True)
    @_docs.sections
    def partial_fit(self, X, y=None):
        """Train on ``X`` for one pass, going on from the current model.

        As :meth:`AutoencoderTransformer.partial_fit`: one epoch over the
        rows given, the network kept between calls, the scaling fixed by the
        first call; available with ``early_stopping=False`` only. After each
        call, ``offset_`` is set from the scores of the rows of that call
        under the updated model, by the rule of ``contamination``: it follows
        the model as it trains. Pass chunks of a few hundred rows or more, so
        that their quantile is a stable threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, possibly holding a fraction ``contamination`` of
            outliers. The first call fixes ``n_features_in_``.

        {y_ignored}

        {returns_partial}
        """
        with _restore_on_failure(self):
            X = self._validate_partial(X)
            self._partial_fit(X)
            self._fit_score_scales(_reference_rows(X, None))
            self._set_offset(X)
        return self

    def _fit_score_scales(self, X):
        """Learn the typical size of each term of the score from rows ``X``.

        ``X`` are rows the network did not train on when there are any (the
        validation rows of early stopping), so that the scales are those of
        new normal data, not of rows the network may have memorised. A
        fraction ``contamination`` of the rows (0.1 for ``"auto"``), which
        may be outliers, is left out: those with the largest reconstruction
        errors, then those that score worst. Each scale gets a floor of 1%
        of its mean over features, so that a feature that is always rebuilt
        perfectly (a constant one) does not dominate the score.
        """
        loss = self.loss
        n_features = self.n_features_in_

        def terms(module, x):
            output = module.decode(module.encode(x))
            return torch.cat(
                [feature_errors(output, x, loss), output_to_data(output, loss)], dim=1
            ).to(torch.float64)

        values = self._predict(X, terms)
        errors, outputs = values[:, :n_features], values[:, n_features:]
        fraction = 0.1 if self.contamination == "auto" else self.contamination
        n_kept = max(1, len(X) - math.ceil(fraction * len(X)))
        # First without the rows rebuilt worst, then without the rows that
        # score worst by those scales: outliers that the network rebuilds
        # well (a cluster of them, say) have unusual reconstructions.
        abnormality = errors.mean(axis=1)
        for _ in range(2):
            kept = np.argsort(abnormality, kind="stable")[:n_kept]
            error_scale = _with_floor(errors[kept].mean(axis=0))
            output_center = outputs[kept].mean(axis=0)
            output_scale = _with_floor(outputs[kept].var(axis=0))
            abnormality = (
                errors / error_scale + (outputs - output_center) ** 2 / output_scale
            ).mean(axis=1)
        self.error_scale_ = error_scale
        self.output_center_ = output_center
        self.output_scale_ = output_scale

    def score_samples(self, X):
        """Compute the score of each sample: lower is more abnormal.

        Minus the mean over features of two terms: the feature's
        reconstruction error divided by its typical size
        (``error_scale_``), and the squared distance of its reconstruction
        from its typical value (``output_center_``) divided by its variance
        (``output_scale_``), both learned on held-out normal rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher is more normal.
        """
        return super().score_samples(X)

    @_docs.sections
    def feature_errors(self, X):
        """The score's terms, feature by feature: why a sample is an outlier.

        For each feature, the two terms :meth:`score_samples` averages: the
        reconstruction error relative to its typical size, plus how unusual
        the reconstruction is. The mean of a row equals minus the sample's
        score (to float64 rounding); large values point at the features that
        make a sample an outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to explain.

        {returns_feature_errors}
        """
        return super().feature_errors(X)

    def _feature_errors(self, X):
        """The score's terms, feature by feature (float64): the squared
        reconstruction error relative to its typical size, plus the squared
        distance of the reconstruction from its typical value relative to its
        spread."""
        return self._predict(X, self._score_terms()).astype(np.float64, copy=False)

    def _score_samples(self, X):
        terms = self._score_terms()
        return -self._predict(X, lambda module, x: row_means(terms(module, x)))

    def _score_terms(self):
        """``terms(module, x)``: the score's term for each feature of each
        scaled row of ``x``, in the precision of ``x`` (their means over
        features are taken in float64)."""
        loss = self.loss
        scales = {
            dtype: [
                torch.as_tensor(values, dtype=dtype, device=self.net_.device)
                for values in (
                    self.error_scale_,
                    self.output_center_,
                    self.output_scale_,
                )
            ]
            for dtype in (torch.float32, torch.float64)
        }

        def terms(module, x):
            error_scale, output_center, output_scale = scales[x.dtype]
            output = module.decode(module.encode(x))
            errors = feature_errors(output, x, loss).div_(error_scale)
            outputs = output_to_data(output, loss)
            return errors.add_((outputs - output_center).square_().div_(output_scale))

        return terms

    def _set_offset(self, X):
        """``offset_`` from the scores of the training rows ``X``."""
        try:
            scores = self._score_samples(X)
        except NonFiniteOutputError:
            raise self._diverged(
                "the trained network outputs inf or NaN on training rows"
            ) from None
        if self.contamination == "auto":
            q1, q3 = np.percentile(scores, [25, 75])
            self.offset_ = float(q1 - 1.5 * (q3 - q1))
        else:
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))

    def decision_function(self, X):
        """Score shifted by the threshold: negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Predict whether each sample is an outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to classify.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            -1 for outliers, +1 for inliers.
        """
        check_is_fitted(self)
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _default_hidden_layer_sizes(self, n_features, n_components):
        if self.architecture == "residual":
            # Small branches for small tabular data: about twice as wide as
            # the data, never narrower than the code.
            return (max(n_components, 16, min(128, 2 * n_features)),)
        return None

    def _resolve_n_components(self, n_features):
        if self.n_components is None:
            return max(1, n_features // 2)
        return self.n_components


def _with_floor(scales):
    """``scales`` raised to at least 1% of their mean (and above zero)."""
    floor = 0.01 * scales.mean()
    if not floor > 0:
        # All zero: nothing to scale by.
        return np.ones_like(scales)
    return np.maximum(scales, floor)


#: Fewest and most rows the scales of the score are estimated from.
_MIN_REFERENCE_ROWS, _MAX_REFERENCE_ROWS = 20, 10_000


def _reference_rows(X, held_out):
    """The rows to learn the scales of the score from: those held out, or
    all when fewer than ``_MIN_REFERENCE_ROWS`` were, evenly thinned to at
    most ``_MAX_REFERENCE_ROWS``."""
    if held_out is None or len(held_out) < _MIN_REFERENCE_ROWS:
        rows = np.arange(len(X))
    else:
        rows = held_out
    if len(rows) > _MAX_REFERENCE_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, _MAX_REFERENCE_ROWS).astype(int)]
    return take_rows(X, rows)
