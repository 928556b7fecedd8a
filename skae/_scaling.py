"""Feature scaling: learned from the training data, applied to every batch
the network sees, in training and in inference, and undone on its output.

This is the only place where data are scaled. The statistics are computed in
float64 with numpy; batches are scaled with torch, in the precision of the
data, so that training and inference scale every value the same way.
"""

import numpy as np
import torch

_BLOCK_VALUES = 2**18


class FeatureScaling:
    """Per-feature affine scaling ``(x - center) / scale``.

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
    def fit(cls, X, method, *, clip=False):
        """Learn the scaling of ``X``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Finite float32 or float64 data. It is read in blocks sized by
            scikit-learn's ``working_memory``; no scaled copy is made.
        method : {"standard", "minmax"} or None
            ``"standard"`` centres on the mean and divides by the standard
            deviation, ``"minmax"`` maps the range to [0, 1], ``None`` leaves
            the data as they are.
        clip : bool, default=False
            See the class parameters.

        Returns
        -------
        scaling : FeatureScaling

        Notes
        -----
        Each feature is first divided by its largest magnitude, so that the
        statistics neither overflow for values near the float64 limit nor
        lose precision for tiny ones: a feature is treated as constant (scale
        1) only when its spread is at the level of rounding errors relative
        to its own magnitude, as in scikit-learn's ``StandardScaler``.
        """
        n_samples, n_features = X.shape
        if method is None:
            return cls(np.zeros(n_features), np.ones(n_features), clip)
        if method == "standard":
            center = X.mean(axis=0, dtype=np.float64)
            squares = np.zeros(n_features)
            block_rows = max(1, _BLOCK_VALUES // n_features)
            for start in range(0, n_samples, block_rows):
                block = X[start : start + block_rows] - center
                squares += np.einsum("ij,ij->j", block, block)
            scale = np.sqrt(squares / n_samples)
        else:
            center = X.min(axis=0).astype(np.float64)
            scale = X.max(axis=0).astype(np.float64) - center
        constant = scale < 10 * np.finfo(np.float64).eps * np.maximum(1, abs(center))
        scale[constant] = 1
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
        low = ((X.min(axis=0) - self.center) / self.scale).min()
        high = ((X.max(axis=0) - self.center) / self.scale).max()
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
        """Map scaled rows back to the units of the data, as ``dtype``."""
        return (X_scaled * self.scale + self.center).astype(dtype, copy=False)
