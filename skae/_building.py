"""Building the skorch net of a fit: its callbacks, optimizer, device and
accelerator."""

import copy
import functools

import torch
from skorch.callbacks import ProgressBar
from skorch.helper import predefined_split

from skae._callbacks import EarlyStopping, EpochLog, StopOnNonFiniteLoss
from skae._data import TensorBatches
from skae._losses import AutoencoderLoss
from skae._modules import Autoencoder

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}


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
