"""Feature scaling: learned from the training data, applied to every batch
the network sees, in training and in inference, and undone on its output.

This is the only place where data are scaled. The statistics are computed in
float64 with numpy; batches are scaled with torch, in the precision of the
data, so that training and inference scale every value the same way.
"""

import numpy as np
import torch

from skae._blocks import blocks


class FeatureScaling:
    """Affine scaling of each feature, ``(x - center) / scale``.

    Build it with :meth:`fit`; an estimator keeps ``center`` and ``scale`` as
    its ``center_`` and ``scale_`` and rebuilds the object from them.

    Parameters
    ----------
    center : ndarray of shape (n_features,)
        Value subtracted from each feature (float64).
    scale : ndarray of shape (n_features,)
        Positive divisor of each feature after centring (float64).
    clip : bool, default=False
        Whether scaled values are clipped to [0, 1]: the targets of a binary
        cross-entropy must lie there, and new data may fall outside the range
        of the training data.
    """

    def __init__(self, center, scale, clip=False):
        self.center = center
        self.scale = scale
        self.clip = clip

    @classmethod
    def fit(cls, X, method, *, clip=False, missing=False):
        """Learn the scaling of ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Finite float32 or float64 data. No scaled copy of it is made.
        method : {"standard", "global", "minmax"} or None
            ``"standard"`` centres each feature on its mean and divides it by
            its standard deviation; ``"global"`` centres each feature on its
            mean and divides all by one scale, the root of the mean variance
            of the features, which keeps their relative sizes (what PCA sees);
            ``"minmax"`` maps each feature's range to [0, 1]; ``None`` leaves
            the data as they are.
        clip : bool, default=False
            See the class parameters.
        missing : bool, default=False
            Whether ``X`` holds NaN: the statistics are then those of the
            observed values of each feature (which must have one).

        Returns
        -------
        scaling : FeatureScaling

        Notes
        -----
        Statistics are computed in float64 on each feature divided by a
        power of two of its magnitude, so they neither overflow for values
        near the float64 limit nor underflow for tiny ones. A feature is
        treated as constant only when its spread is at the level of rounding
        errors relative to its own magnitude, as in scikit-learn's
        ``StandardScaler``: features of 1e-20 are scaled like any other. A
        constant feature is centred on its value and left unscaled (scale
        1), so it reaches the network as zeros.
        """
        n_samples, n_features = X.shape
        if method is None:
            return cls(np.zeros(n_features), np.ones(n_features), clip)
        low, high, magnitude, total, count = _ranges_and_sums(X, missing)
        if missing:
            n_samples = count
        with np.errstate(over="ignore", invalid="ignore"):
            # A power of two at least as large as each feature's magnitude:
            # dividing by it is exact, so statistics of the divided values
            # are those of the data, rounding included, without overflow or
            # underflow.
            exponent = np.frexp(np.where(magnitude > 0, magnitude, 0.5))[1]
            power = np.ldexp(1.0, exponent)
            if method in ("standard", "global"):
                center, spread = _mean_and_std(X, total, power, count)
                # Rounding errors of the two-pass variance, as in
                # scikit-learn's StandardScaler, relative to the magnitude.
                rounding = n_samples * np.finfo(np.float64).eps
            else:
                center = low
                spread = high / power - low / power
                rounding = 4 * np.finfo(np.float64).eps
            # A constant feature is centred on its smallest value, which its
            # mean can miss by rounding errors that are huge in absolute
            # terms (1e184 for values of 1e200), and is left unscaled: a
            # feature whose values are all equal reaches the network as
            # exact zeros.
            constant = spread <= rounding
            center = np.where(constant, low, center)
            scale = np.where(constant, 1.0, spread * power)
            if method == "global":
                scale = _common_scale(scale, constant)
        if not (np.isfinite(scale).all() and np.isfinite(center).all()):
            features = np.flatnonzero(~np.isfinite(scale + center)).tolist()
            raise ValueError(
                f"The spread of feature(s) {features[:5]} exceeds the largest "
                "float64 number: scale them down before fitting."
            )
        return cls(center, scale, clip)

    @property
    def is_identity(self):
        """Whether scaling changes no value (no scaling and no clipping)."""
        return not self.clip and not self.center.any() and (self.scale == 1).all()

    def check_unit_interval(self, X, *, scaling_name):
        """Raise if scaled ``X`` leaves [0, 1] (the range ``clip`` assumes).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Training data, unscaled.
        scaling_name : str
            The value of the estimator's ``scaling`` parameter, for the message.
        """
        # fmin and fmax skip NaN (missing cells) and equal min and max
        # on complete data.
        low = ((np.fmin.reduce(X, axis=0) - self.center) / self.scale).min()
        high = ((np.fmax.reduce(X, axis=0) - self.center) / self.scale).max()
        if low < -1e-6 or high > 1 + 1e-6:
            raise ValueError(
                "loss='bce' needs inputs in [0, 1] after scaling, but with "
                f"scaling={scaling_name!r} they span [{low:.3g}, {high:.3g}]. "
                "Use scaling='minmax' (or 'auto'), or rescale X to [0, 1]."
            )

    def tensors(self, dtype, device):
        """``center`` and ``scale`` as tensors of ``dtype`` on ``device``."""
        return tuple(
            torch.as_tensor(values, dtype=dtype, device=device)
            for values in (self.center, self.scale)
        )

    def apply(self, batch, tensors, out=None):
        """Scale a batch of rows, in the batch's precision.

        Parameters
        ----------
        batch : torch.Tensor of shape (n_rows, n_features)
            Unscaled rows; not modified unless it is ``out``.
        tensors : tuple of torch.Tensor
            ``self.tensors(batch.dtype, batch.device)``, computed once by the
            caller for all batches.
        out : torch.Tensor, default=None
            Where to write the result; it may be ``batch`` itself (a batch of
            rows gathered for this purpose). ``None`` allocates a new tensor.

        Returns
        -------
        scaled : torch.Tensor
            ``out``, or a new tensor; never a view of ``batch`` unless ``out``
            is ``batch``.
        """
        center, scale = tensors
        scaled = torch.sub(batch, center, out=out)
        scaled.div_(scale)
        if self.clip:
            scaled.clamp_(0, 1)
        return scaled

    def inverse(self, X_scaled, dtype):
        """Map scaled rows back to the units of the data, as ``dtype``.

        Parameters
        ----------
        X_scaled : ndarray of shape (n_samples, n_features)
            Finite rows as the network outputs them (decoded codes).
        dtype : numpy dtype
            The dtype of the result.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)

        Raises
        ------
        ValueError
            If a value overflows ``dtype`` once unscaled. The network's output
            is finite, but for data whose scale nears the largest number of
            their dtype, an output a little outside the range of the training
            data is not representable in the data's units: an infinite value
            returned in its place would pass for a reconstruction.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            X = (X_scaled * self.scale + self.center).astype(dtype, copy=False)
        finite = np.isfinite(X)
        if not finite.all():
            dtype = np.dtype(dtype)
            n_rows = np.count_nonzero(~finite.all(axis=1))
            largest = np.abs(self.center) + np.abs(self.scale)
            raise ValueError(
                f"Undoing the feature scaling overflows {dtype.name} for "
                f"{n_rows} of {len(X)} rows: their values exceed "
                f"{np.finfo(dtype).max:.3g} in the units of the data. The "
                f"training data's scale (centre plus scale up to "
                f"{largest.max():.3g}) is so close to the {dtype.name} limit "
                "that outputs a little outside their range cannot be "
                "represented. Divide the data by a power of ten before "
                "fitting, and multiply the results back in float64."
            )
        return X


def feature_range(X, previous=None):
    """Smallest and largest value of each feature of ``X``, in float64.

    One pass over blocks of rows (see :mod:`skae._blocks`); no copy of ``X``
    is made.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite data.
    previous : ndarray of shape (2, n_features), default=None
        A range to widen, that of the rows seen before (``partial_fit``).

    Returns
    -------
    feature_range : ndarray of shape (2, n_features)
        The smallest values in the first row, the largest in the second.
    """
    if previous is None:
        previous = np.array([[np.inf], [-np.inf]]).repeat(X.shape[1], axis=1)
    low, high = previous.copy()
    for block in blocks(X, temporaries=0):
        np.minimum(low, block.min(axis=0), out=low)
        np.maximum(high, block.max(axis=0), out=high)
    return np.array([low, high])


def _common_scale(scale, constant):
    """One scale for all features: the root mean square of the standard
    deviations ``scale`` of the features that are not ``constant``, computed
    relative to the largest so that it does not overflow."""
    spread = scale[~constant]
    largest = spread.max() if spread.size else 0.0
    if largest == 0:
        return np.ones_like(scale)
    common = largest * np.sqrt(np.mean((spread / largest) ** 2))
    return np.full_like(scale, common)


def _ranges_and_sums(X, missing=False):
    """Smallest and largest value, largest magnitude, sum and number of
    values of each column.

    One pass over blocks of rows (see :mod:`skae._blocks`), in float64.
    With ``missing``, NaN cells are skipped: the statistics and the counts
    are those of the observed values. Without, the count is ``None``.
    """
    if missing:
        return _observed_ranges_and_sums(X)
    n_features = X.shape[1]
    low = np.full(n_features, np.inf)
    high = np.full(n_features, -np.inf)
    total = np.zeros(n_features)
    # Sums past the float64 limit become inf, or NaN where both signs
    # overflow: _mean_and_std then sums the values scaled down instead.
    with np.errstate(over="ignore", invalid="ignore"):
        for block in blocks(X):
            np.minimum(low, block.min(axis=0), out=low)
            np.maximum(high, block.max(axis=0), out=high)
            total += block.sum(axis=0, dtype=np.float64)
    magnitude = np.maximum(np.abs(low), np.abs(high))
    return low, high, magnitude, total, None


def _observed_ranges_and_sums(X):
    """:func:`_ranges_and_sums` of the observed values of each column."""
    n_features = X.shape[1]
    low = np.full(n_features, np.inf)
    high = np.full(n_features, -np.inf)
    total = np.zeros(n_features)
    count = np.zeros(n_features)
    with np.errstate(over="ignore", invalid="ignore"):
        for block in blocks(X):
            observed = ~np.isnan(block)
            np.fmin(low, np.fmin.reduce(block, axis=0), out=low)
            np.fmax(high, np.fmax.reduce(block, axis=0), out=high)
            total += np.where(observed, block, 0).sum(axis=0, dtype=np.float64)
            count += observed.sum(axis=0)
    magnitude = np.maximum(np.abs(low), np.abs(high))
    return low, high, magnitude, total, count


def _mean_and_std(X, total, power, count=None):
    """Mean and standard deviation (relative to ``power``) of each column.

    ``total`` is the sum of each column. The squared deviations are summed
    over blocks of rows: no copy of ``X`` is made. ``count``, when given,
    is the number of observed values of each column: NaN cells are then
    skipped.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    spread : ndarray of shape (n_features,)
        The standard deviation divided by ``power``.
    """
    n_samples, n_features = X.shape
    if count is not None:
        n_samples = count
    if not np.isfinite(total).all():
        # The sum overflowed: values near the float64 limit.
        total = np.zeros(n_features)
        for block in blocks(X):
            scaled = block / power
            total += scaled.sum(axis=0) if count is None else np.nansum(scaled, 0)
        mean = total / n_samples * power
    else:
        mean = total / n_samples
    squares = np.zeros(n_features)
    for block in blocks(X):
        deviations = block - mean
        deviations /= power
        if count is not None:
            deviations[np.isnan(deviations)] = 0
        squares += np.einsum("ij,ij->j", deviations, deviations)
    return mean, np.sqrt(squares / n_samples)
