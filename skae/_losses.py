"""Reconstruction errors and the training objective.

This module depends on torch only. The per-sample reconstruction error defined
here is the one both training and scoring use: the estimators' ``score_samples``
is its negative, and the training objective is its mean plus penalties.
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def feature_errors(output, target, loss):
    """Reconstruction error of each feature of each sample.

    Parameters
    ----------
    output : torch.Tensor of shape (n_samples, n_features)
        Raw decoder output: the reconstruction for ``"mse"``, logits for
        ``"bce"``.
    target : torch.Tensor of shape (n_samples, n_features)
        The clean input.
    loss : {"mse", "bce"}
        Squared error, or binary cross-entropy on ``sigmoid(output)``.

    Returns
    -------
    errors : torch.Tensor of shape (n_samples, n_features)
        Zero for a perfect reconstruction, for both losses: the binary
        cross-entropy is reported minus the entropy of the target, which
        makes it the KL divergence between target and reconstruction. That
        constant does not change the gradient, but without it a feature's
        error would depend on how far its value is from 0 and 1.
    """
    if loss == "mse":
        return F.mse_loss(output, target, reduction="none")
    cross_entropy = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    entropy = -(torch.xlogy(target, target) + torch.xlogy(1 - target, 1 - target))
    # The difference is a KL divergence, never negative but for rounding.
    return (cross_entropy - entropy).clamp_(min=0)


def reconstruction_error(output, target, loss, reduction="none"):
    """Per-sample reconstruction error: :func:`feature_errors` averaged over
    features.

    Parameters
    ----------
    output, target, loss
        As for :func:`feature_errors`.
    reduction : {"none", "mean"}, default="none"
        Return the error of each sample, or their mean over samples (the same
        value; for ``"mse"`` one fused kernel forward and backward).

    Returns
    -------
    error : torch.Tensor of shape (n_samples,), or a scalar for ``"mean"``
    """
    if loss == "mse" and reduction == "mean":
        return F.mse_loss(output, target)
    error = feature_errors(output, target, loss).mean(dim=1)
    return error.mean() if reduction == "mean" else error


def row_means(values):
    """Mean of each row of ``values``, accumulated in float64.

    On the CPU the mean is numpy's: its float64 reduction of float32 values
    takes a fraction of the time of torch's, which would cost as much as the
    forward pass of a small network.
    """
    if values.device.type == "cpu":
        return torch.from_numpy(values.numpy().mean(axis=1, dtype=np.float64))
    return values.mean(dim=1, dtype=torch.float64)


def output_to_data(output, loss):
    """Map raw decoder output to the data space: the identity, or a sigmoid."""
    return torch.sigmoid(output) if loss == "bce" else output


def kl_divergence(mean, log_var):
    """Per-sample KL divergence of N(mean, exp(log_var)) from N(0, I)."""
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(dim=1)


class AutoencoderLoss(nn.Module):
    """Training objective of every skae autoencoder.

    The mean over the batch of::

        reconstruction_error + sparsity * mean(|code|) + beta * KL / n_features

    For rows with missing cells, the reconstruction error of a row is the
    mean over its observed cells only: a missing cell contributes nothing,
    and a row weighs the same in the batch however many cells it misses,
    as its score does.

    The KL term of a variational code is divided by the number of features
    because the reconstruction error is a mean over features: the objective is
    then the negative evidence lower bound divided by ``n_features`` (for
    ``beta=1`` and a Gaussian or Bernoulli decoder, up to constants), on the
    same scale as a plain autoencoder's, so the same learning rate suits both.

    Parameters
    ----------
    loss : {"mse", "bce"}, default="mse"
        Reconstruction error, see :func:`reconstruction_error`.
    sparsity : float, default=0.0
        Weight of the L1 penalty on the (mean) code.
    beta : float, default=1.0
        Weight of the KL term; used only when the forward pass returns a
        log-variance.
    """

    def __init__(self, loss="mse", sparsity=0.0, beta=1.0):
        super().__init__()
        self.loss = loss
        self.sparsity = sparsity
        self.beta = beta

    def forward(self, y_pred, target, observed=None):
        output, _, mean, log_var = y_pred
        if observed is None:
            objective = reconstruction_error(output, target, self.loss, "mean")
        else:
            errors = feature_errors(output, target, self.loss) * observed
            objective = (errors.sum(dim=1) / observed.sum(dim=1)).mean()
        if self.sparsity:
            objective = objective + self.sparsity * mean.abs().mean()
        if log_var is not None:
            kl = kl_divergence(mean, log_var).mean()
            objective = objective + self.beta * kl / target.shape[1]
        return objective
