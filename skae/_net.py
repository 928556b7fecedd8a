"""skorch glue: the net that trains an autoencoder, and its data loading.

Customised through skorch's public methods: ``get_loss`` (the input is the
target), and ``infer``, ``train_step``, ``train_step_single``, ``notify``,
``run_single_epoch`` and ``get_default_callbacks`` to keep the work per batch
and per epoch close to a plain PyTorch loop; an ``iterator_train`` /
``iterator_valid`` class; and callbacks. skorch's customization guide asks
that an override of ``run_single_epoch`` do the same bookkeeping as the
original (notifications, history): ``tests/test_net.py`` checks that these
overrides train the same model and write the same history as skorch's own
methods.
"""

import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor

# Events of skorch's callbacks, see ``skorch.callbacks.Callback``.
_EVENTS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_batch_begin",
    "on_batch_end",
    "on_grad_computed",
)


def _implements(callback, event):
    """Whether ``callback`` does something on ``event``.

    False for the no-op method inherited from skorch's ``Callback``, and for
    an object without that method; a method set on the instance, or any
    method of an object that is not a ``Callback``, counts.
    """
    method = getattr(callback, event, None)
    if method is None:
        return False
    return getattr(method, "__func__", None) is not getattr(Callback, event)


class AutoencoderNet(NeuralNet):
    """A ``NeuralNet`` whose criterion compares the output with the input.

    The criterion receives the whole forward output of
    :class:`skae._modules.Autoencoder` and the clean batch ``X`` as target, so
    ``fit(X)`` needs no ``y``.
    """

    def infer(self, x, **fit_params):
        """Forward pass of the module on a batch.

        skorch's version first passes ``x`` through ``to_tensor``, a chain of
        type checks; the batches of :class:`TensorBatches` are tensors (on the
        training device already), so they go straight to the module. Other
        input takes skorch's way.
        """
        if not isinstance(x, torch.Tensor):
            return super().infer(x, **fit_params)
        return self.module_(x.to(self.device), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if isinstance(X, torch.Tensor):
            X = X.to(self.device)
        else:
            X = to_tensor(X, device=self.device)
        return self.criterion_(y_pred, X)

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

    def notify(self, method_name, **cb_kwargs):
        """Call the method ``method_name`` of the net and of the callbacks.

        As skorch's ``notify``, but only for the callbacks that implement
        that method: most implement only some events, such as
        ``on_epoch_end``, and inherit no-op methods for the others, which
        skorch would call twice per batch. Which callbacks implement what is
        looked up when training begins and after the callbacks are
        (re)initialized, so callbacks replaced with ``set_params`` count.
        """
        if method_name == "on_train_begin" or not hasattr(self, "_listeners"):
            self._listeners = {
                event: [
                    getattr(cb, event)
                    for _, cb in self.callbacks_
                    if _implements(cb, event)
                ]
                for event in _EVENTS
            }
        getattr(self, method_name)(self, **cb_kwargs)
        for listener in self._listeners[method_name]:
            listener(self, **cb_kwargs)

    def initialize_callbacks(self):
        """Initialize the callbacks; :meth:`notify` then looks them up anew."""
        super().initialize_callbacks()
        self.__dict__.pop("_listeners", None)
        return self

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over ``iterator``: a training or a validation epoch.

        Records and notifies exactly what skorch's version does: for each
        batch, ``on_batch_begin``, the step, the batch's loss and size in the
        history, ``on_batch_end``; then the number of batches. skorch reads
        the size of a batch with a generic ``get_len`` that walks nested
        containers, about 10 us per batch; a batch of :class:`TensorBatches`
        is one tensor, whose length is its size.
        """
        if iterator is None:
            return
        history = self.history
        n_batches = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            history.record_batch(f"{prefix}_loss", step["loss"].item())
            history.record_batch(f"{prefix}_batch_size", len(batch[0]))
            self.notify("on_batch_end", batch=batch, training=training, **step)
            n_batches += 1
        history.record(f"{prefix}_batch_count", n_batches)

    def get_default_callbacks(self):
        """skorch's default callbacks, lighter, and no ``PrintLog`` when silent.

        - skorch's ``PassthroughScoring`` callbacks, which record the epoch's
          ``train_loss`` and ``valid_loss``, are replaced by
          :class:`EpochLoss`, which records the same values under the same
          names in a tenth of the time (about 100 us per epoch, as much as a
          training step of a small network).
        - ``PrintLog`` formats a table of the history at every epoch even
          when ``verbose=0`` and nothing is printed, which costs about a
          millisecond per epoch: as much as a whole epoch of a small tabular
          data set.
        """
        callbacks = []
        for name, cb in super().get_default_callbacks():
            if name in ("train_loss", "valid_loss"):
                cb = EpochLoss(name, on_train=name == "train_loss")
            elif name == "print_log" and not self.verbose:
                continue
            callbacks.append((name, cb))
        return callbacks


class EpochLoss(Callback):
    """Record an epoch's loss: the mean of its batch losses, weighted by size.

    Writes what skorch's ``PassthroughScoring`` writes to the history,
    ``name`` and ``name + "_best"`` (whether the loss is the lowest so far),
    with plain Python arithmetic on the few batches of an epoch.

    Parameters
    ----------
    name : {"train_loss", "valid_loss"}
        The key of the batch losses, and of the epoch's loss.
    on_train : bool, default=False
        Whether ``name`` is recorded by training batches (their sizes are
        under ``"train_batch_size"``) or by validation batches.
    """

    def __init__(self, name, on_train=False):
        self.name = name
        self.on_train = on_train

    def initialize(self):
        self.best_loss_ = math.inf
        return self

    def on_epoch_end(self, net, **kwargs):
        size_key = "train_batch_size" if self.on_train else "valid_batch_size"
        total = count = 0.0
        for batch in net.history[-1]["batches"]:
            if self.name in batch:
                total += batch[self.name] * batch[size_key]
                count += batch[size_key]
        if not count:
            # No such batches: no validation set, for "valid_loss".
            return
        loss = total / count
        is_best = loss < self.best_loss_
        if is_best:
            self.best_loss_ = loss
        net.history.record(self.name, loss)
        net.history.record(self.name + "_best", is_best)


class ScaledRows(torch.utils.data.Dataset):
    """Rows of a data tensor, scaled to the network's float32 input when read.

    The training and validation sets of a fit are two of these over one
    tensor, the data as given: no scaled copy of the data is made. Reading a
    batch applies ``(x - center) / scale`` in the data's precision, rounds to
    float32, and clips to [0, 1] if asked, the same arithmetic, value for
    value, as scaling the whole array first.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The data, float32 or float64, unscaled. It is never written to.
    rows : torch.Tensor of int64, default=None
        The rows of ``X`` that make up this set, in this order; all rows by
        default.
    center, scale : torch.Tensor of shape (n_features,), default=None
        The scaling, of ``X``'s dtype; ``None`` for none.
    clip : bool, default=False
        Whether to clip scaled values to [0, 1] (the targets of a binary
        cross-entropy must lie there).
    """

    def __init__(self, X, rows=None, center=None, scale=None, clip=False):
        self.X = X
        self.rows = rows
        self.center = center
        self.scale = scale
        self.clip = clip

    def __len__(self):
        return len(self.X) if self.rows is None else len(self.rows)

    def __getitem__(self, i):
        return self.take(slice(i, i + 1))[0]

    def take(self, index):
        """Scaled float32 rows at positions ``index`` (a slice or int tensor)."""
        batch = self.X[index if self.rows is None else self.rows[index]]
        # Indexing with a tensor gathers the rows into a new tensor, which can
        # be scaled in place; a slice is a view of X, which must not be.
        owned = batch._base is None
        if self.center is not None:
            batch = batch.sub_(self.center) if owned else batch - self.center
            batch.div_(self.scale)
            owned = True
        if batch.dtype != torch.float32:
            batch = batch.to(torch.float32)
            owned = True
        if self.clip:
            batch = batch.clamp_(0, 1) if owned else batch.clamp(0, 1)
            owned = True
        # A network may work in place on its input: never hand it X itself.
        return batch if owned else batch.clone()


class TensorBatches:
    """Mini-batches read from :class:`ScaledRows`, in place of a ``DataLoader``.

    A ``DataLoader`` over a per-sample ``Dataset`` indexes and collates every
    row on its own; here each batch is one indexing operation on a tensor that
    already lives on the training device.

    Parameters
    ----------
    dataset : ScaledRows or skorch.dataset.Dataset
        The rows; a skorch ``Dataset`` whose ``X`` is a 2-D float32 tensor is
        read as a :class:`ScaledRows` without scaling.
    batch_size : int
        Number of rows per batch; the last batch may be smaller.
    shuffle : bool, default=False
        Whether to draw a new permutation of the rows at each pass, from the
        global torch generator (which the estimators seed).
    """

    def __init__(self, dataset, batch_size, shuffle=False):
        if not isinstance(dataset, ScaledRows):
            dataset = ScaledRows(dataset.X)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        n_samples = len(self.dataset)
        step = self.batch_size
        if self.shuffle:
            order = torch.randperm(n_samples).to(self.dataset.X.device)
            for start in range(0, n_samples, step):
                yield self.dataset.take(order[start : start + step]), None
        else:
            for start in range(0, n_samples, step):
                yield self.dataset.take(slice(start, start + step)), None


class NonFiniteLossError(ArithmeticError):
    """Raised by :class:`StopOnNonFiniteLoss` when the loss is NaN or inf."""

    def __init__(self, epoch, loss):
        super().__init__(f"loss became {loss} at epoch {epoch}")
        self.epoch = epoch
        self.loss = loss


class StopOnNonFiniteLoss(Callback):
    """Stop training as soon as an epoch's training loss is not finite."""

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1]["train_loss"]
        if not math.isfinite(loss):
            raise NonFiniteLossError(len(net.history), loss)
