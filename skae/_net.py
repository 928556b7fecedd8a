"""skorch glue: the net that trains an autoencoder, and its data loading.

Customised only through skorch's documented hooks: ``get_loss`` (the input is
the target), ``train_step``, ``train_step_single`` and
``get_default_callbacks`` (to keep the work per batch and per epoch close to a
plain PyTorch loop), an ``iterator_train``/``iterator_valid`` class, and
callbacks.
"""

import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor


class AutoencoderNet(NeuralNet):
    """A ``NeuralNet`` whose criterion compares the output with the input.

    The criterion receives the whole forward output of
    :class:`skae._modules.Autoencoder` and the clean batch ``X`` as target, so
    ``fit(X)`` needs no ``y``.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, to_tensor(X, device=self.device))

    def train_step(self, batch, **fit_params):
        """One optimization step: zero the gradients, forward, backward, update.

        skorch's version hands the optimizer a closure (for optimizers such as
        L-BFGS that evaluate the loss several times per step) and notifies the
        callbacks with ``on_grad_computed``. skae's optimizers (Adam, AdamW,
        SGD) take one gradient per step and its callbacks do not listen to that
        notification, so the step is the four calls of a plain PyTorch loop,
        in the same order as skorch's.
        """
        self.optimizer_.zero_grad()
        step = self.train_step_single(batch, **fit_params)
        self.optimizer_.step()
        return step

    def train_step_single(self, batch, **fit_params):
        """Forward, loss and backward pass on one batch.

        As skorch's, except that the module and criterion are switched to
        training mode only when they are not in it already: skorch does it on
        every batch, a walk over all submodules that costs as much as the
        forward pass of a small network. Only a validation pass, once per
        epoch, switches them to evaluation mode.
        """
        if not (self.module_.training and self.criterion_.training):
            self.module_.train()
            self.criterion_.train()
        Xi, _ = batch
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, None, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def get_default_callbacks(self):
        """skorch's default callbacks, without ``PrintLog`` when silent.

        ``PrintLog`` formats a table of the history at every epoch even when
        ``verbose=0`` and nothing is printed, which costs about a millisecond
        per epoch: as much as a whole epoch of a small tabular data set.
        """
        callbacks = super().get_default_callbacks()
        if self.verbose:
            return callbacks
        return [(name, cb) for name, cb in callbacks if name != "print_log"]


class TensorBatches:
    """Mini-batches sliced from one tensor, in place of a ``DataLoader``.

    A ``DataLoader`` over a per-sample ``Dataset`` indexes and collates every
    row on its own; here each batch is one indexing operation on a tensor that
    already lives on the training device.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        A dataset whose ``X`` is a 2-D tensor.
    batch_size : int
        Number of rows per batch; the last batch may be smaller.
    shuffle : bool, default=False
        Whether to draw a new permutation of the rows at each pass, from the
        global torch generator (which the estimators seed).
    """

    def __init__(self, dataset, batch_size, shuffle=False):
        self.X = dataset.X
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return math.ceil(len(self.X) / self.batch_size)

    def __iter__(self):
        n_samples = len(self.X)
        if self.shuffle:
            order = torch.randperm(n_samples).to(self.X.device)
            for start in range(0, n_samples, self.batch_size):
                yield self.X[order[start : start + self.batch_size]], None
        else:
            for start in range(0, n_samples, self.batch_size):
                yield self.X[start : start + self.batch_size], None


class NonFiniteLossError(ArithmeticError):
    """Raised by :class:`StopOnNonFiniteLoss` when the loss is NaN or inf."""

    def __init__(self, epoch, loss):
        super().__init__(f"loss became {loss} at epoch {epoch}")
        self.epoch = epoch
        self.loss = loss


class StopOnNonFiniteLoss(Callback):
    """Stop training as soon as an epoch's training loss is not finite."""

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        if not np.isfinite(loss):
            raise NonFiniteLossError(len(net.history), loss)
