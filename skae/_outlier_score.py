"""The detector's score: the terms it adds up, and its threshold.

:class:`~skae.AutoencoderOutlierDetector` scores a row by minus the sum of
two terms, each learned on normal rows once the network is trained:

- :class:`ReconstructionTerm`: how badly, and how unusually, each feature of
  the row is rebuilt, relative to the typical sizes of both;
- :class:`CodeTerm`: how rare the row's code is under a mixture of Gaussians
  (scikit-learn's :class:`~sklearn.mixture.GaussianMixture`) fitted to the
  codes of the training rows.

:class:`Threshold` turns the scores of the training rows into the detector's
``offset_``. Each object has ``fit`` and a method that scores; none of them
trains or holds a network: the detector runs the network and hands them its
errors, reconstructions and codes.
"""

import math
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skae._blocks import blocks
from skae._losses import feature_errors, output_to_data
from skae._missing import has_missing

#: Weight of the code term, relative to the reconstruction term: both are
#: measured in units of their interquartile range over the training rows.
CODE_WEIGHT = 1.5
#: Variance added to each component of the code density, in units of the
#: codes' standard deviation: it keeps components broad.
CODE_REG_COVAR = 0.1
#: Most rows the code density is fitted on (evenly spaced among the
#: reference rows).
CODE_MAX_FIT_ROWS = 2_000
#: Spread of scores, relative to their size, below which they are tied: far
#: above rounding errors of float32 scores (about 1e-6), far below the
#: spread of the scores of a model of varied data.
TIE_MARGIN = 1e-4
#: Smallest variance the score divides by, relative to the variance of what
#: it measures: a standard deviation of 1e-5 of the data's. float32 rounding
#: errors of values of the data's size are about 1e-7 of it, so their
#: squares add at most 1e-4 to a feature's term; the variance of the
#: outputs of a model that has barely begun to train can be 1e-7 of the
#: data's, and is not rounding.
RELATIVE_FLOOR = 1e-10
#: Fewest and most rows the scales of the score are estimated from.
MIN_REFERENCE_ROWS, MAX_REFERENCE_ROWS = 20, 10_000


class ReconstructionTerm:
    """The reconstruction term of the score, feature by feature.

    For each feature of a row (in the units the network sees): its
    reconstruction error divided by its typical size (``error_scale_``),
    plus the squared distance of its reconstruction from its typical value
    (``output_center_``) divided by that value's variance
    (``output_scale_``). The second part finds outliers that the network
    rebuilds well, a cluster of them in the training data say, because they
    are rebuilt to values that normal rows do not take.

    Parameters
    ----------
    loss : {"mse", "bce"}
        The detector's loss, which defines the errors.
    """

    def __init__(self, loss):
        self.loss = loss

    def fit(self, errors, outputs, variance, fraction):
        """Learn the typical sizes from reference rows.

        Parameters
        ----------
        errors, outputs : ndarray of shape (n_rows, n_features)
            Per-feature errors and reconstructions of the reference rows
            (float64, in the units the network sees); NaN where a cell is
            missing, which the scales then leave out.
        variance : float
            Mean variance of the reference rows as the network sees them:
            the reference of the floors (see :func:`with_floor`).
        fraction : float
            Share of the rows, which may be outliers, left out: those with
            the largest errors, then those that score worst by the scales
            learned without them (outliers that the network rebuilds well
            have unusual reconstructions).

        Returns
        -------
        self : ReconstructionTerm
        """
        n_kept = max(1, len(errors) - math.ceil(fraction * len(errors)))
        if np.isnan(errors).any():
            return self._fit_observed(errors, outputs, variance, n_kept)
        abnormality = errors.mean(axis=1)
        for _ in range(2):
            kept = np.argsort(abnormality, kind="stable")[:n_kept]
            self.error_scale_ = with_floor(
                column_statistic(np.mean, errors, kept), variance
            )
            self.output_center_ = column_statistic(np.mean, outputs, kept)
            self.output_scale_ = with_floor(
                column_statistic(np.var, outputs, kept), variance
            )
            abnormality = self._row_statistic(np.mean, errors, outputs)
        return self

    def _fit_observed(self, errors, outputs, variance, n_kept):
        """:meth:`fit` on the observed cells (not NaN) of each feature; a
        feature missing from all kept rows takes the mean of the others."""
        with warnings.catch_warnings():
            # A feature missing from every kept row: filled below.
            warnings.simplefilter("ignore", RuntimeWarning)
            abnormality = np.concatenate(
                [np.nanmean(e, axis=1) for e in blocks(errors, 2)]
            )
            for _ in range(2):
                kept = np.argsort(abnormality, kind="stable")[:n_kept]
                error_scale = _observed(column_statistic(np.nanmean, errors, kept))
                output_center = _observed(column_statistic(np.nanmean, outputs, kept))
                output_scale = _observed(column_statistic(np.nanvar, outputs, kept))
                self.error_scale_ = with_floor(error_scale, variance)
                self.output_center_ = output_center
                self.output_scale_ = with_floor(output_scale, variance)
                abnormality = self._row_statistic(np.nanmean, errors, outputs)
        return self

    def _row_statistic(self, statistic, errors, outputs):
        """``statistic(self.score(errors, outputs), axis=1)``, block by
        block of rows: the temporaries of the score stay within
        ``working_memory``, not a few times the size of ``errors``."""
        return np.concatenate(
            [
                statistic(self.score(e, o), axis=1)
                for e, o in zip(blocks(errors, 3), blocks(outputs, 3), strict=True)
            ]
        )

    def score(self, errors, outputs):
        """The term of each feature, from numpy errors and reconstructions."""
        return (
            errors / self.error_scale_
            + (outputs - self.output_center_) ** 2 / self.output_scale_
        )

    def per_feature(self, device):
        """``terms(module, x, code=None)``: the term of each feature of each
        scaled row of ``x``, computed on ``device`` in the precision of
        ``x``; ``code`` is the code of ``x`` when it is already computed."""
        loss = self.loss
        scales = {
            dtype: [
                torch.as_tensor(values, dtype=dtype, device=device)
                for values in (
                    self.error_scale_,
                    self.output_center_,
                    self.output_scale_,
                )
            ]
            for dtype in (torch.float32, torch.float64)
        }

        def terms(module, x, code=None):
            error_scale, output_center, output_scale = scales[x.dtype]
            output = module.decode(module.encode(x) if code is None else code)
            errors = feature_errors(output, x, loss).div_(error_scale)
            outputs = output_to_data(output, loss)
            return errors.add_((outputs - output_center).square_().div_(output_scale))

        return terms


class CodeTerm:
    """The code term of the score: how rare a row's code is.

    The codes are standardised feature by feature (``center_``, ``scale_``)
    and a mixture of ``n_components`` Gaussians with diagonal covariances is
    fitted to them (``density_``). Components that hold less than ``0.5 /
    n_components`` of the rows are left out of the density (``kept_``), so
    that a small cluster of outliers in the training data does not make
    itself normal; the largest is always kept. The negative log-density
    under the kept components is then centred on its median over the
    reference rows (``nll_center_``) and put on the scale of the
    reconstruction term (``factor_``).

    Parameters
    ----------
    n_components : int
        Number of Gaussians in the mixture.
    random_state : int
        Seed of the mixture's initialisation.
    """

    def __init__(self, n_components, random_state):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, codes, reconstruction):
        """Fit the density and the weight of the term on reference rows.

        Parameters
        ----------
        codes : ndarray of shape (n_rows, n_code)
            Codes of the reference rows, float64.
        reconstruction : ndarray of shape (n_rows,)
            The reconstruction term of the same rows (its mean over
            features): the code term is weighted ``CODE_WEIGHT`` times its
            interquartile range, in units of its own.

        Returns
        -------
        self : CodeTerm
        """
        self.center_ = codes.mean(axis=0)
        # By hand rather than with StandardScaler, for the floor: a code
        # feature that barely varies would otherwise dominate the density.
        self.scale_ = np.sqrt(with_floor(codes.var(axis=0), np.mean(codes**2)))
        standardized = self._standardize(codes)
        fit_rows = standardized
        if len(fit_rows) > CODE_MAX_FIT_ROWS:
            every = np.linspace(0, len(fit_rows) - 1, CODE_MAX_FIT_ROWS)
            fit_rows = fit_rows[every.astype(int)]
        self.density_ = GaussianMixture(
            n_components=min(self.n_components, len(fit_rows)),
            covariance_type="diag",
            reg_covar=CODE_REG_COVAR,
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            # Too few EM steps still give a usable density for a score.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.density_.fit(fit_rows)
        weights = self.density_.weights_
        self.kept_ = weights >= 0.5 / self.n_components
        self.kept_[np.argmax(weights)] = True
        nll = self._negative_log_density(standardized)
        self.nll_center_ = float(np.median(nll))
        nll_spread = np.subtract(*np.percentile(nll, [75, 25]))
        spread = np.subtract(*np.percentile(reconstruction, [75, 25]))
        self.factor_ = (
            float(CODE_WEIGHT * spread / nll_spread) if nll_spread > 0 else 0.0
        )
        return self

    def score(self, codes):
        """The code term of each code (float64 ndarray of shape (n_rows,))."""
        nll = self._negative_log_density(self._standardize(codes))
        return self.factor_ * (nll - self.nll_center_)

    def _standardize(self, codes):
        return (codes - self.center_) / self.scale_

    def _negative_log_density(self, standardized):
        """Minus the log of the density of the kept components (with their
        weights in the mixture, not renormalised)."""
        log_density = self.density_.score_samples(standardized)
        if self.kept_.all():
            return -log_density
        # The kept components' share of the density is their share of the
        # responsibilities. It underflows to zero only for codes dozens of
        # standard deviations from every kept component, which get the
        # largest finite term instead of an infinite one.
        share = self.density_.predict_proba(standardized)[:, self.kept_].sum(axis=1)
        return -(log_density + np.log(np.maximum(share, np.finfo(np.float64).tiny)))


class Threshold:
    """The threshold on scores, and p-values of new scores.

    The threshold comes from the scores of the training rows by the rule of
    ``contamination``, or, with ``false_positive_rate``, from the scores of
    calibration rows: normal rows the network did not train on, whose
    scores are those of new normal rows. Conformal p-values compare a new
    score with the calibration scores.

    Parameters
    ----------
    contamination : "auto" or float
        As the detector's: the share of training rows below the threshold,
        or ``"auto"`` for Tukey's rule, ``Q1 - 1.5 * (Q3 - Q1)``.
    false_positive_rate : float or None
        As the detector's: the largest share of new normal rows the
        threshold may flag; ``None`` uses ``contamination``.
    """

    def __init__(self, contamination, false_positive_rate=None):
        self.contamination = contamination
        self.false_positive_rate = false_positive_rate

    def fit(self, scores, calibration_scores):
        """Set ``offset_`` and ``calibration_scores_``.

        Parameters
        ----------
        scores : ndarray of shape (n_rows,)
            Scores of the training rows.
        calibration_scores : ndarray of shape (n_calibration,)
            Scores of the calibration rows.

        Returns
        -------
        self : Threshold
        """
        self.calibration_scores_ = np.sort(calibration_scores)
        if self.false_positive_rate is not None:
            self.offset_ = self._conformal_offset()
            return self
        q1, q3 = np.percentile(scores, [25, 75])
        if self.contamination == "auto":
            offset = q1 - 1.5 * (q3 - q1)
        else:
            offset = np.percentile(scores, 100.0 * self.contamination)
        # Half the training rows or more score the same but for rounding
        # errors (constant data): the offset would fall among their scores,
        # and rounding, which changes with the rows scored together and
        # their dtype, would decide which of them are outliers. It goes
        # below them by more than rounding errors.
        margin = TIE_MARGIN * max(1.0, abs(offset))
        if q3 - q1 <= margin:
            offset = min(offset, q1 - margin)
        self.offset_ = float(offset)
        return self

    def _conformal_offset(self):
        """The offset that flags a new row exactly when its p-value is at
        most ``false_positive_rate``.

        A p-value is at most ``a`` when at most ``k = floor(a * (n + 1)) -
        1`` of the ``n`` calibration scores are at or below the row's score,
        that is when the score is below the ``(k + 1)``-th smallest
        calibration score. With fewer than ``1 / a - 1`` calibration rows no
        p-value can be that small, and nothing is flagged.
        """
        n = len(self.calibration_scores_)
        k = math.floor(self.false_positive_rate * (n + 1)) - 1
        if k < 0:
            warnings.warn(
                f"{n} calibration rows cannot certify a false-positive rate of "
                f"{self.false_positive_rate}: the smallest p-value they allow is "
                f"1 / {n + 1}. No row will be predicted an outlier; fit on more "
                "rows, raise validation_fraction or false_positive_rate.",
                UserWarning,
                stacklevel=2,
            )
            return -math.inf
        return float(self.calibration_scores_[k])


def conformal_pvalues(scores, calibration_scores):
    """Conformal p-value of each score: ``(1 + m) / (n + 1)``, where ``m``
    of the ``n`` sorted ``calibration_scores`` are at or below it (lower
    scores are more abnormal)."""
    at_or_below = np.searchsorted(calibration_scores, scores, side="right")
    return (1.0 + at_or_below) / (len(calibration_scores) + 1.0)


def with_floor(scales, reference):
    """``scales`` (variances, or squared errors) raised to at least 1% of
    their mean, and to at least ``RELATIVE_FLOOR`` times ``reference``.

    ``reference`` is a variance the scales are small or large relative to:
    the mean variance of the data as the network sees them, or the mean
    square of the codes. It keeps the floor above rounding errors where all
    scales are themselves at the level of rounding errors (constant data
    rebuilt exactly): relative to those alone, a row's score would depend
    on the other rows of its batch, whose number changes how matrix
    products round. Where ``reference`` is zero too (every feature
    constant, every code zero), the floor is ``RELATIVE_FLOOR`` in the
    units the network sees, those of the data for the unscaled constant
    features.
    """
    if not reference > 0:
        reference = 1.0
    floor = max(0.01 * scales.mean(), RELATIVE_FLOOR * reference)
    return np.maximum(scales, floor)


def reference_rows(n_samples, held_out):
    """Which rows each part of the score learns from, as sorted indices.

    Returns ``(scale_rows, calibration_rows, density_rows)``. With at least
    ``2 * MIN_REFERENCE_ROWS`` rows held out for early stopping, which the
    network did not train on, they are split in two disjoint halves: one
    for the scales of the reconstruction term, the other for calibration;
    the code term is fitted on the rows the network trained on. No row
    that calibrates the p-values was used to fit the score, nor (see
    :meth:`AutoencoderOutlierDetector._rows_left_out`) the network's PCA
    start or its early stopping, so their scores are those of new rows:
    anything fitted on the calibration rows would fit them better than new
    rows, most with many features, and more new normal rows would be
    flagged than ``false_positive_rate`` asks. With between
    ``MIN_REFERENCE_ROWS`` and twice that held out, too few to halve, all of
    them give both the scales and the calibration: scales learned on rows
    the network trained on would be those of rows it may have memorised
    (with more features than rows, it can), and new normal rows would score
    far worse than the training rows that set ``offset_``. With fewer rows
    held out (or none), all three are all the rows. Each is evenly thinned
    to at most ``MAX_REFERENCE_ROWS``.
    """
    everything = np.arange(n_samples)
    if held_out is None or len(held_out) < MIN_REFERENCE_ROWS:
        rows = (everything, everything, everything)
    else:
        trained = np.setdiff1d(everything, held_out, assume_unique=True)
        if calibrates_apart(held_out):
            # held_out is a random subset: alternate rows split it at random.
            rows = (held_out[0::2], held_out[1::2], trained)
        else:
            rows = (held_out, held_out, trained)
    return tuple(_thinned(r) for r in rows)


def calibrates_apart(held_out):
    """Whether enough rows are held out for :func:`reference_rows` to keep
    the calibration rows apart from every row the score is fitted on."""
    return held_out is not None and len(held_out) >= 2 * MIN_REFERENCE_ROWS


def column_statistic(statistic, values, rows):
    """``statistic(values[rows], axis=0)``, a few columns at a time.

    The copy of the rows then stays a fraction of ``values``. Columns go in
    groups of at least 8: the reduction over rows adds them in the same order
    as over all columns at once, so the result is the same to the bit.
    """
    return np.concatenate(
        [statistic(values[rows, g], axis=0) for g in _column_groups(values.shape[1])]
    )


def scaled_variance(X, center, scale):
    """Mean over features of the variance of ``(X - center) / scale`` in
    float64, what the network sees; of the observed cells where ``X`` has
    NaN. Computed a few columns at a time (see :func:`column_statistic`)."""
    center = np.broadcast_to(center, X.shape[1:])
    scale = np.broadcast_to(scale, X.shape[1:])
    if has_missing(X):
        mean, variance = np.nanmean, np.nanvar
    else:
        mean, variance = np.mean, np.var
    return mean(
        np.concatenate(
            [
                variance((X[:, g] - center[g]) / scale[g], axis=0)
                for g in _column_groups(X.shape[1])
            ]
        )
    )


def _column_groups(n_columns):
    """Consecutive slices of at least 8 columns (all of them when there are
    fewer than 16) covering ``n_columns``."""
    edges = np.linspace(0, n_columns, max(1, n_columns // 8) + 1).astype(int)
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _thinned(rows):
    if len(rows) > MAX_REFERENCE_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_REFERENCE_ROWS).astype(int)]
    return rows


def _observed(values):
    """``values`` with NaN (statistics of features without an observed
    cell) replaced by the mean of the others."""
    return np.where(np.isnan(values), np.nanmean(values), values)
