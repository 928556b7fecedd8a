"""Building what a fit trains: the scaling, the rows and their validation
split, the start at PCA, and the skorch net with its callbacks, optimizer,
device and accelerator."""

import copy
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from skorch.callbacks import ProgressBar
from skorch.helper import predefined_split

from skae._callbacks import EarlyStopping, EpochLog, StopOnNonFiniteLoss
from skae._data import TensorBatches, rows_on_device, split_rows
from skae._losses import AutoencoderLoss
from skae._missing import observed_means, scaled_fill
from skae._modules import Autoencoder
from skae._network import estimator_network
from skae._scaling import FeatureScaling
from skae._start import has_pca_start, pca_start, principal_decomposition

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


@dataclass
class FitPlan:
    """What one ``fit``, or one ``partial_fit`` pass, trains and with what.

    Attributes
    ----------
    net : AutoencoderNet
        The net to train: new on a first pass, the fitted one after.
    scaling : FeatureScaling
        The scaling the network sees the rows through.
    fill : ndarray of shape (n_features,)
        The value a missing cell starts from, in scaled units.
    seed : int
        The seed of the pass's weights, shuffling and noise.
    train_rows, valid_rows : skae._data.ScaledRows
        The rows trained on, and those early stopping monitors (``None``
        without).
    index_valid : ndarray of int or None
        All rows held out from training (the monitored ones and those the
        estimator leaves out of it), in the order drawn; ``None`` without.
    start : callable or None
        Sets the starting weights to PCA's (see :func:`skae._start.pca_start`).
    """

    net: Any
    scaling: FeatureScaling
    fill: np.ndarray
    seed: int
    train_rows: Any
    valid_rows: Any = None
    index_valid: np.ndarray = None
    start: Any = None


def first_pass_plan(estimator, X, random_state, incremental, missing):
    """The :class:`FitPlan` of a ``fit``, or of the first ``partial_fit``.

    Draws the seed, then the validation split, from ``random_state``, in
    that order.
    """
    n_samples, n_features = X.shape
    device = training_device(estimator)
    loss = estimator.loss
    scaling = FeatureScaling.fit(
        X, estimator._scaling_method(), clip=loss == "bce", missing=missing
    )
    if loss == "bce":
        scaling.check_unit_interval(X, scaling_name=estimator.scaling)
    # What fills a missing cell first, in scaled units: the mean of the
    # feature's training values. Kept for new rows with missing cells,
    # whether or not the training rows had any.
    means = observed_means(X)
    fill = scaled_fill(scaling, means)
    seed = random_state.randint(np.iinfo(np.int32).max)
    index_train = index_valid = index_monitored = None
    if estimator.early_stopping and not incremental:
        index_train, index_valid = split_rows(
            n_samples, estimator.validation_fraction, random_state
        )
        index_monitored = index_valid
    left_out = estimator._rows_left_out(n_samples, index_valid)
    if left_out is not None:
        index_monitored = np.setdiff1d(index_valid, left_out)

    @functools.cache
    def decomposition():
        # Missing cells at their feature's mean: the PCA start refines them.
        rows = np.where(np.isnan(X), means, X) if missing else X
        return principal_decomposition(rows, scaling, left_out)

    # Only a network that starts at PCA's solution computes the
    # decomposition, once, for its start and for a code size chosen from it.
    starts_at_pca = has_pca_start(estimator.architecture, loss)
    n_components = estimator._resolve_n_components(
        n_features, decomposition if starts_at_pca else None
    )
    network, network_kwargs = estimator_network(estimator, n_features, n_components)
    start = None
    if starts_at_pca:
        start = pca_start(
            X, scaling, n_components, decomposition, missing=missing, leave_out=left_out
        )
    train_rows, valid_rows = rows_on_device(
        X, device, scaling, index_train, index_monitored, fill if missing else None
    )
    net = build_net(
        estimator,
        network,
        network_kwargs,
        device,
        valid_rows,
        from_start=start is not None,
        incremental=incremental,
        fill=fill,
    )
    return FitPlan(net, scaling, fill, seed, train_rows, valid_rows, index_valid, start)


def next_pass_plan(estimator, X, random_state, missing):
    """The :class:`FitPlan` of a ``partial_fit`` pass after the first: the
    fitted net, one epoch at a time, and the scaling and fill of the first."""
    net = one_pass_at_a_time(estimator.net_)
    scaling, fill = estimator._feature_scaling(), estimator._missing_fill
    seed = random_state.randint(np.iinfo(np.int32).max)
    train_rows, _ = rows_on_device(
        X, net.device, scaling, None, None, fill if missing else None
    )
    return FitPlan(net, scaling, fill, seed, train_rows)


def build_net(
    estimator,
    network,
    network_kwargs,
    device,
    valid,
    *,
    from_start,
    incremental,
    fill=None,
):
    """The skorch net that trains ``estimator``'s network, not initialized.

    Parameters
    ----------
    estimator : skae._base._BaseAutoencoder
        Its parameters set the training; its ``_net_class`` is the net
        built without an accelerator.
    network : type
        The torch module of the encoder and decoder.
    network_kwargs : dict
        Its arguments.
    device : str
        The device, when no accelerator is given.
    valid : skae._data.ScaledRows or None
        The validation rows of early stopping; ``None`` for none.
    from_start : bool
        Whether the starting weights are a solution that the epochs of early
        stopping must improve on (PCA's start).
    incremental : bool
        Whether the net trains pass by pass (``partial_fit``): one epoch per
        call, not watched by early stopping.
    fill : ndarray of shape (n_features,), default=None
        The value a missing cell starts from, in scaled units: what masking
        noise writes in a hidden input when the estimator trains to impute.

    Returns
    -------
    net : AutoencoderNet
    """
    monitor = "valid_loss" if valid is not None else "train_loss"
    accelerator = estimator.accelerator
    net_class, net_kwargs, sink = estimator._net_class, {"device": device}, print
    if accelerator is not None:
        from skae._distributed import AcceleratedAutoencoderNet, print_if

        if accelerator.gradient_accumulation_steps != 1:
            # accumulate() ends a cycle at the end of a DataLoader that
            # accelerate prepared; skae's batches are not one.
            raise ValueError(
                "skae does not support gradient accumulation; got an "
                "Accelerator with gradient_accumulation_steps="
                f"{accelerator.gradient_accumulation_steps}."
            )
        # accelerate places the module (device=None, as AccelerateMixin
        # asks); only the main process prints.
        net_class = AcceleratedAutoencoderNet
        net_kwargs = {"device": None, "accelerator": accelerator}
        sink = functools.partial(print_if, accelerator.is_main_process)
    max_epochs = 1 if incremental else estimator.max_iter
    verbose = estimator.verbose
    callbacks = [("stop_on_non_finite_loss", StopOnNonFiniteLoss())]
    if verbose >= 2 and (accelerator is None or accelerator.is_main_process):
        # Before the epoch's line, so that the bar is closed when it prints.
        callbacks.append(("progress_bar", ProgressBar()))
    if verbose:
        planned = None if incremental else max_epochs
        callbacks.append(("epoch_log", EpochLog(monitor, planned, sink=sink)))
    if not incremental:
        callbacks.append(
            (
                "early_stopping",
                EarlyStopping(
                    monitor=monitor,
                    patience=estimator.n_iter_no_change,
                    threshold=estimator.tol,
                    load_best=valid is not None,
                    sink=sink,
                    # The starting weights compete when they are a solution
                    # (PCA's) and validation rows judge.
                    from_start=from_start and valid is not None,
                ),
            )
        )
    # The user's callbacks, copied: fitting must not change the estimator's
    # parameters, and a callback keeps state between epochs.
    callbacks.extend(copy.deepcopy(list(estimator.callbacks or [])))
    optimizer_kwargs = {"weight_decay": estimator.weight_decay}
    if estimator.optimizer == "sgd":
        optimizer_kwargs["momentum"] = 0.9
    else:
        # One fused kernel per step instead of about ten operations per
        # parameter tensor: 10-25% of a CPU fit of a small network.
        optimizer_kwargs["fused"] = True
    return net_class(
        module=Autoencoder,
        module__network=network,
        module__network_kwargs=network_kwargs,
        module__variational=estimator.variational,
        module__noise=estimator.noise,
        module__noise_type=estimator.noise_type,
        module__mask_value=fill if estimator._trains_to_impute else None,
        criterion=AutoencoderLoss,
        criterion__loss=estimator.loss,
        criterion__sparsity=estimator.sparsity,
        criterion__beta=estimator.beta,
        optimizer=OPTIMIZERS[estimator.optimizer],
        lr=estimator.learning_rate_init,
        **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
        max_epochs=max_epochs,
        batch_size=estimator.batch_size,
        iterator_train=TensorBatches,
        iterator_train__shuffle=True,
        iterator_valid=TensorBatches,
        train_split=None if valid is None else predefined_split(valid),
        callbacks=callbacks,
        verbose=int(verbose),
        masked_validation=estimator._trains_to_impute,
        **net_kwargs,
    )


def one_pass_at_a_time(net):
    """``net``, trained by an earlier call, set up for one more pass.

    A net built by ``fit`` goes on one pass at a time, unwatched by early
    stopping (a ``None`` callback is skorch's way to disable one); a net
    built by ``partial_fit`` already does.
    """
    if net.max_epochs != 1 or "early_stopping" in dict(net.callbacks_):
        net.set_params(max_epochs=1, callbacks__early_stopping=None)
        net.initialize_callbacks()
    return net


def training_device(estimator):
    """The device ``estimator`` trains on: its accelerator's, or the one its
    ``device`` parameter names."""
    if estimator.accelerator is not None:
        return estimator.accelerator.device
    return resolve_device(estimator.device)


def resolve_device(device):
    """Map the ``device`` parameter to a torch device name, or raise."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was requested but CUDA is not available: this torch "
            f"build ({torch.__version__}) sees no GPU. Use device='cpu', or "
            "device='auto' to use a GPU only when there is one."
        )
    return device


def device_name(device):
    """``"cpu"`` or ``"cuda"`` for the device a net was trained on, as the
    ``device`` of a net trained in one process: accelerate makes each
    process's GPU its current device."""
    return torch.device(device).type
