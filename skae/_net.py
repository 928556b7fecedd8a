"""skorch glue: the net whose criterion compares the output with the input,
and the seeded run of its ``partial_fit``.

skorch is customised through the extension points its documentation names
(skorch's "Customization" guide): ``get_loss`` (the input is the target),
``train_step_single``, ``validation_step`` (masked, for the imputer), the
net's own ``on_train_begin`` / ``on_epoch_begin`` / ``on_train_end`` hooks
(which reset the masks) and ``get_default_callbacks``; an
``iterator_train`` / ``iterator_valid`` class
(:class:`skae._data.TensorBatches`); and callbacks
(:mod:`skae._callbacks`). ``partial_fit`` is overridden in one respect only:
a ``KeyboardInterrupt`` propagates.
"""

from contextlib import contextmanager, nullcontext

import torch
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch import nn

from skae._callbacks import EpochLoss, StopTraining


def run_training(net, dataset, *, seed, initialize, start=None):
    """Train ``net`` on ``dataset`` through ``net.partial_fit``, seeded.

    skorch's ``NeuralNet.fit`` is ``initialize`` then ``partial_fit``; here
    the starting weights are set in between (``start``). Only the generators
    training draws from are seeded, inside ``torch.random.fork_rng``, so the
    caller's random state is untouched. Networks with convolutions train
    with oneDNN switched off (see :func:`_thread_count_independent`).

    Parameters
    ----------
    net : AutoencoderNet
        The net; its validation rows, if any, are its ``train_split``.
    dataset : skae._data.ScaledRows
        The training rows.
    seed : int
        Seed of the weight initialisation, the shuffling and the noise.
    initialize : bool
        Whether to initialize the net first; ``False`` goes on training it.
    start : callable, default=None
        Called with the initialized module to set its starting weights (see
        :meth:`skae._modules.ResidualAutoencoder.start_at`); only when
        ``initialize``.
    """
    device = torch.device(dataset.X.device)
    cuda_devices = []
    if device.type == "cuda":
        cuda_devices = [
            torch.cuda.current_device() if device.index is None else device.index
        ]
    with torch.random.fork_rng(devices=cuda_devices):
        # torch.manual_seed would also reseed every CUDA device, which
        # fork_rng does not restore.
        torch.default_generator.manual_seed(seed)
        for index in cuda_devices:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        if initialize:
            net.initialize()
            if start is not None:
                start(net.trained_module())
        with _thread_count_independent(net.module_):
            net.partial_fit(dataset)
    net.module_.eval()


def _thread_count_independent(module):
    """Context in which training ``module`` gives the same weights whatever
    the number of torch threads.

    On the CPU, oneDNN's convolutions sum gradients in an order that depends
    on the number of threads (differences of about 1e-8), so a network with
    convolutions trained in a joblib worker, which runs one thread, would
    differ from one trained in the main process. torch's own convolutions,
    used when oneDNN is off, do not; on one thread they are as fast. Dense
    networks do not use oneDNN and are left alone. The switch is process
    wide; it is restored when training ends.
    """
    convolutions = (nn.modules.conv._ConvNd,)
    if not any(isinstance(layer, convolutions) for layer in module.modules()):
        return nullcontext()
    return _onednn_disabled()


@contextmanager
def _onednn_disabled():
    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = enabled


class AutoencoderNet(NeuralNet):
    """A ``NeuralNet`` whose criterion compares the output with the input.

    The criterion receives the whole forward output of
    :class:`skae._modules.Autoencoder` and the clean batch ``X`` as target, so
    ``fit(X)`` needs no ``y``.

    Parameters
    ----------
    masked_validation : bool, default=False
        Whether the validation loss, which early stopping watches, is that
        of the training objective of masking noise: with a module trained
        with ``noise_type="masking"``, each validation row has a share
        ``noise`` of its inputs hidden (as the module's ``hide`` does) and
        the loss compares the
        output with the clean row. The same cells are hidden at every epoch
        (drawn from ``VALIDATION_MASK_SEED``), so that epochs are compared
        on one task. Without it, a network trained to restore hidden cells
        is judged on rebuilding whole rows, which the start at PCA does
        better, and training stops before it learns anything.
    **kwargs
        skorch's ``NeuralNet`` parameters.
    """

    #: Seed of the cells hidden in the validation rows (``masked_validation``).
    VALIDATION_MASK_SEED = 0

    def __init__(self, *args, masked_validation=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.masked_validation = masked_validation

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # Early stopping scores the starting weights before the first epoch.
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._reset_validation_masks()

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(
            net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs
        )
        self._reset_validation_masks()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # The masks are drawn again at the next training: a fitted net
        # keeps no generator.
        super().on_train_end(net, X=X, y=y, **kwargs)
        vars(self).pop("validation_masks_", None)

    def _reset_validation_masks(self):
        if self.masked_validation:
            self.validation_masks_ = torch.Generator().manual_seed(
                self.VALIDATION_MASK_SEED
            )

    def validation_step(self, batch, **fit_params):
        """skorch's validation step, or with ``masked_validation`` the loss of
        restoring the clean rows from rows with inputs hidden."""
        module = self.trained_module()
        if not (
            self.masked_validation
            and module.noise_type == "masking"
            and module.noise > 0
        ):
            return super().validation_step(batch, **fit_params)
        Xi, observed = batch
        # Drawn on the CPU, whatever the device, so that every device hides
        # the same cells.
        hidden = torch.rand(Xi.shape, generator=self.validation_masks_) < module.noise
        inputs = module.hide(Xi, hidden.to(Xi.device))
        self.module_.eval()
        self.criterion_.eval()
        with torch.no_grad():
            y_pred = self.infer(inputs, **fit_params)
            loss = self.get_loss(y_pred, observed, X=Xi, training=False)
        return {"loss": loss, "y_pred": y_pred}

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, except that Ctrl-C stops it.

        skorch ends training quietly on a ``KeyboardInterrupt``, which its
        own ``EarlyStopping`` raises to stop; a scikit-learn user expects
        Ctrl-C to stop ``fit`` instead of returning a model trained for fewer
        epochs than asked. skae's callbacks end training with
        :class:`skae._callbacks.StopTraining`, which is caught here.
        """
        if not self.initialized_:
            self.initialize()
        self.notify("on_train_begin", X=X, y=y)
        try:
            self.fit_loop(X, y, **fit_params)
        except StopTraining:
            pass
        self.notify("on_train_end", X=X, y=y)
        return self

    def trained_module(self):
        """The module being trained, outside any wrapper: its state dict has
        the keys of ``module_`` once training ends. A subclass that wraps the
        module for training (:class:`skae._distributed.AcceleratedAutoencoderNet`)
        unwraps it here."""
        return self.module_

    def sum_over_processes(self, *values):
        """``values`` summed over the processes that train together: here,
        one process, so ``values`` as they are."""
        return values

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion on the output and the input ``X``; ``y_true`` is
        ``None``, or for data with missing cells the mask of the observed
        cells of ``X`` (see :meth:`skae._data.ScaledRows.batch`)."""
        if isinstance(X, torch.Tensor):
            X = X.to(self.device)
        else:
            X = to_tensor(X, device=self.device)
        if y_true is not None:
            return self.criterion_(y_pred, X, y_true.to(self.device))
        return self.criterion_(y_pred, X)

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
        Xi, observed = batch
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, observed, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def get_default_callbacks(self):
        """skorch's default callbacks, lighter, and without ``PrintLog``.

        - skorch's ``PassthroughScoring`` callbacks, which record the epoch's
          ``train_loss`` and ``valid_loss``, are replaced by
          :class:`skae._callbacks.EpochLoss`, which records the same values
          under the same names with plain Python arithmetic.
        - ``PrintLog`` is left out: skae prints its own lines
          (:class:`skae._callbacks.EpochLog`) when ``verbose``.
        """
        callbacks = []
        for name, cb in super().get_default_callbacks():
            if name in ("train_loss", "valid_loss"):
                cb = EpochLoss(name, on_train=name == "train_loss")
            elif name == "print_log":
                continue
            callbacks.append((name, cb))
        return callbacks
