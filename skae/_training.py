"""Training: the skorch net, the batches it reads, its callbacks, and the
seeded training run.

skorch is customised through the extension points its documentation names
(skorch's "Customization" guide): ``get_loss`` (the input is the target),
``infer``, ``train_step``, ``train_step_single`` and
``get_default_callbacks``; an ``iterator_train`` / ``iterator_valid``
class; and callbacks. Nothing else of skorch's is overridden: ``notify``
and ``run_single_epoch``, which the guide asks to leave alone, were once
replaced to save time per batch, until the speed benchmark found skorch's
own as fast (``benchmarks/results/speed``).
"""

import math
import sys
import time
from contextlib import contextmanager, nullcontext
from copy import deepcopy

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor
from torch import nn

from skae._blocks import block_rows, release


def train(net, dataset, *, seed, epochs=None, initialize=True, start=None):
    """Train ``net`` on ``dataset``, seeded by ``seed``.

    What skorch's ``NeuralNet.fit`` (or ``partial_fit``, for
    ``initialize=False``) does, through the same public methods, except that
    a ``KeyboardInterrupt`` (Ctrl-C) propagates instead of ending training
    quietly: a scikit-learn user expects it to stop ``fit``, not to get a
    model trained for fewer epochs than asked. Callbacks end training early
    by raising :class:`StopTraining` instead.

    Only the generators training draws from are seeded, inside
    ``torch.random.fork_rng``, so the caller's random state is untouched.
    Networks with convolutions train with oneDNN switched off (see
    :func:`_thread_count_independent`).

    Parameters
    ----------
    net : AutoencoderNet
        The net; initialized here unless ``initialize=False``.
    dataset : ScaledRows
        The training rows; the validation rows, if any, are the net's
        ``train_split``.
    seed : int
        Seed of the weight initialisation, the shuffling and the noise.
    epochs : int, default=None
        Number of epochs; ``None`` means the net's ``max_epochs``. Callbacks
        are told which, as ``planned_epochs`` (``None`` for one pass of
        ``partial_fit``, whose total is not known).
    initialize : bool, default=True
        Whether to initialize the net first; ``False`` goes on training it.
    start : callable, default=None
        Called with the initialized module to set its starting weights (see
        :meth:`skae._modules.ResidualAutoencoder.start_at`); only when
        ``initialize``.

    Returns
    -------
    net : AutoencoderNet
        The trained net, its module in evaluation mode.
    """
    planned = net.max_epochs if epochs is None else None
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
            net.notify("on_train_begin", X=dataset, y=None, planned_epochs=planned)
            try:
                net.fit_loop(dataset, epochs=epochs)
            except StopTraining:
                pass
            net.notify("on_train_end", X=dataset, y=None)
    net.module_.eval()
    return net


@contextmanager
def restore_on_failure(net):
    """Put ``net`` back as it was if the block raises, Ctrl-C included.

    Restores the module's weights, the optimizer's state and the history,
    so that an interrupted pass of ``partial_fit`` leaves no trace.
    """
    module = deepcopy(net.module_.state_dict())
    optimizer = deepcopy(net.optimizer_.state_dict())
    n_epochs = len(net.history)
    try:
        yield
    except BaseException:
        net.module_.load_state_dict(module)
        net.optimizer_.load_state_dict(optimizer)
        del net.history[n_epochs:]
        net.module_.eval()
        raise


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

    def get_default_callbacks(self):
        """skorch's default callbacks, lighter, and without ``PrintLog``.

        - skorch's ``PassthroughScoring`` callbacks, which record the epoch's
          ``train_loss`` and ``valid_loss``, are replaced by
          :class:`EpochLoss`, which records the same values under the same
          names in a tenth of the time (about 100 us per epoch, as much as a
          training step of a small network).
        - ``PrintLog`` is left out: skae prints its own lines (:class:`EpochLog`)
          when ``verbose``, and ``PrintLog`` would format a table of the
          history at every epoch even when nothing is printed, about a
          millisecond per epoch.
        """
        callbacks = []
        for name, cb in super().get_default_callbacks():
            if name in ("train_loss", "valid_loss"):
                cb = EpochLoss(name, on_train=name == "train_loss")
            elif name == "print_log":
                continue
            callbacks.append((name, cb))
        return callbacks


class ScaledRows(torch.utils.data.Dataset):
    """Rows of a data tensor, scaled to the network's float32 input when read.

    The training and validation sets of a fit are two of these over one
    tensor, the data as given: no scaled copy of the data is made. A batch is
    scaled by :class:`skae._scaling.FeatureScaling` in the data's precision,
    then rounded to float32: the same arithmetic, value for value, as
    inference.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        The data, float32 or float64, unscaled. It is never written to.
    rows : torch.Tensor of int64, default=None
        The rows of ``X`` that make up this set, in this order; all rows by
        default.
    scaling : FeatureScaling, default=None
        The scaling; ``None`` for none.
    array : ndarray, default=None
        The array ``X`` shares its memory with, on the CPU: when it is a
        memory map, epochs read it block by block and release the pages of
        each block (see :class:`TensorBatches`).
    """

    def __init__(self, X, rows=None, scaling=None, array=None):
        self.X = X
        self.rows = rows
        self.scaling = scaling
        self.array = array
        if scaling is not None:
            self._tensors = scaling.tensors(X.dtype, X.device)

    def __len__(self):
        return len(self.X) if self.rows is None else len(self.rows)

    def __getitem__(self, i):
        return self.take(slice(i, i + 1))[0]

    def take(self, index):
        """Scaled float32 rows at positions ``index`` (a slice or int tensor)."""
        rows = index if self.rows is None else self.rows[index]
        # index_select gathers rows in about half the time of indexing.
        batch = (
            self.X[rows] if isinstance(rows, slice) else self.X.index_select(0, rows)
        )
        # Indexing with a tensor gathers the rows into a new tensor, which can
        # be scaled in place; a slice is a view of X, which must not be.
        owned = batch._base is None
        if self.scaling is not None:
            batch = self.scaling.apply(
                batch, self._tensors, out=batch if owned else None
            )
            owned = True
        if batch.dtype != torch.float32:
            batch = batch.to(torch.float32)
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
        data, step = self.dataset, self.batch_size
        n_samples = len(data)
        if not self.shuffle:
            for start in range(0, n_samples, step):
                yield data.take(slice(start, start + step)), None
            return
        groups = self._groups()
        if len(groups) == 1:
            order = torch.randperm(n_samples).to(data.X.device)
            for start in range(0, n_samples, step):
                yield data.take(order[start : start + step]), None
            if data.array is not None:
                release(data.array)
            return
        # Data larger than one block of working_memory: blocks of rows in a
        # random order, the rows of each in a random order, and the pages of
        # a memory-mapped block released once it is done.
        for block in torch.randperm(len(groups)).tolist():
            first, stop, positions = groups[block]
            order = positions[torch.randperm(len(positions))].to(data.X.device)
            for start in range(0, len(order), step):
                yield data.take(order[start : start + step]), None
            if data.array is not None:
                release(data.array, first, stop)

    def _groups(self):
        """``(first row, stop row, positions)`` of the dataset's rows in each
        block of rows of ``X``; one group when ``X`` fits one block."""
        data = self.dataset
        size = block_rows(data.X, temporaries=0)
        if len(data.X) <= size:
            return [(0, len(data.X), None)]
        rows = torch.arange(len(data.X)) if data.rows is None else data.rows.cpu()
        blocks = rows // size
        groups = []
        for block in range(math.ceil(len(data.X) / size)):
            positions = torch.nonzero(blocks == block).flatten()
            if len(positions):
                groups.append((block * size, (block + 1) * size, positions))
        return groups


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch."""


class EarlyStopping(Callback):
    """Stop when the monitored loss stops improving; keep the best weights.

    The rule of skorch's ``EarlyStopping`` with ``threshold_mode="abs"``: an
    epoch improves when its loss is below the best so far minus ``tol``;
    after ``patience`` epochs without improvement, training stops with
    :class:`StopTraining`, and when it ends the weights of the best epoch are
    restored if ``load_best``. Passes of ``partial_fit`` are not watched.
    skorch's callback stops by raising
    ``KeyboardInterrupt``, which would make a real Ctrl-C indistinguishable
    from early stopping.

    Parameters
    ----------
    monitor : {"valid_loss", "train_loss"}
        The history key to watch.
    patience : int
        Number of epochs without improvement before stopping.
    tol : float
        Smallest decrease of the loss that counts as an improvement.
    load_best : bool
        Whether to restore the weights of the best epoch when training ends.
    sink : callable, default=print
        Called with the message saying why training stopped, if the net is
        verbose.
    from_start : bool, default=False
        Whether the starting weights compete as epoch 0: their validation
        loss is the first to improve on, and they are kept if no epoch does.
        For a network that starts at a good solution (PCA's, for
        :class:`skae._modules.ResidualAutoencoder`), training then never
        ends worse than its start on the validation rows. Needs
        ``monitor="valid_loss"``.
    """

    def __init__(self, monitor, patience, tol, load_best, sink=print, from_start=False):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.load_best = load_best
        self.sink = sink
        self.from_start = from_start

    def initialize(self):
        self.misses_ = 0
        self.threshold_ = math.inf
        self.best_epoch_ = 0
        self.best_loss_ = math.inf
        self.best_weights_ = None
        return self

    def on_train_begin(self, net, X=None, planned_epochs=None, **kwargs):
        # A pass of partial_fit (no planned number of epochs) is not watched:
        # a stream of chunks has no validation set and no epoch budget.
        self.active_ = planned_epochs is not None
        if self.active_ and self.from_start and not len(net.history):
            self.best_loss_ = validation_loss(net, X)
            self.threshold_ = self.best_loss_ - self.tol
            if self.load_best:
                self.best_weights_ = deepcopy(net.trained_module().state_dict())

    def on_epoch_end(self, net, **kwargs):
        if not self.active_:
            return
        loss = net.history[-1, self.monitor]
        if loss < self.threshold_:
            self.misses_ = 0
            self.threshold_ = loss - self.tol
            self.best_epoch_ = net.history[-1, "epoch"]
            self.best_loss_ = loss
            if self.load_best:
                self.best_weights_ = deepcopy(net.trained_module().state_dict())
        else:
            self.misses_ += 1
        if self.misses_ == self.patience:
            if net.verbose:
                self.sink(
                    f"Stopping early: {self.monitor} has not improved by more "
                    f"than tol={self.tol:g} for {self.patience} epochs "
                    f"(n_iter_no_change); its best, {self.best_loss_:.6g}, was "
                    f"at {self._best_epoch_name()}."
                )
            raise StopTraining

    def on_train_end(self, net, **kwargs):
        last_epoch = net.history[-1, "epoch"]
        if not self.active_:
            return
        if self.best_weights_ is not None and self.best_epoch_ != last_epoch:
            net.trained_module().load_state_dict(self.best_weights_)
            if net.verbose:
                self.sink(f"Restored the weights of {self._best_epoch_name()}.")

    def _best_epoch_name(self):
        if self.best_epoch_ == 0:
            return "the start (epoch 0), which no epoch improved on"
        return f"epoch {self.best_epoch_}"


def validation_loss(net, dataset):
    """The loss of ``net``'s module on its validation rows, as an epoch's
    ``valid_loss`` is computed (batch losses weighted by size)."""
    _, valid = net.get_split_datasets(dataset)
    total = count = 0.0
    for batch in net.get_iterator(valid, training=False):
        loss = net.validation_step(batch)["loss"].item()
        total += loss * len(batch[0])
        count += len(batch[0])
    total, count = net.sum_over_processes(total, count)
    return total / count


class EpochLog(Callback):
    """Print one line per epoch: progress, losses, best so far, elapsed time.

    For example ``epoch  12/200  train_loss 0.2061  valid_loss 0.2290 *  3.1s``,
    where ``*`` marks the lowest ``monitor`` loss so far. On a terminal the
    mark is in colour; written to a file or a pipe, the text is plain. A pass
    of ``partial_fit`` shows its epoch number alone.

    Parameters
    ----------
    monitor : {"valid_loss", "train_loss"}
        The loss whose best value is marked (the one early stopping watches).
    sink : callable, default=print
        Called with each line.
    stream : file-like, default=None
        Where ``sink`` writes, to tell a terminal from a file; ``None`` means
        ``sys.stdout``, at the time training begins.
    """

    def __init__(self, monitor, sink=print, stream=None):
        self.monitor = monitor
        self.sink = sink
        self.stream = stream

    def on_train_begin(self, net, planned_epochs=None, **kwargs):
        stream = sys.stdout if self.stream is None else self.stream
        self.colour_ = bool(getattr(stream, "isatty", lambda: False)())
        self.planned_epochs_ = planned_epochs
        self.start_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1]
        if self.planned_epochs_ is None:
            parts = [f"epoch {epoch['epoch']}"]
        else:
            width = len(str(self.planned_epochs_))
            parts = [f"epoch {epoch['epoch']:>{width}}/{self.planned_epochs_}"]
        for key in ("train_loss", "valid_loss"):
            if key in epoch:
                text = f"{key} {epoch[key]:.6g}"
                if key == self.monitor and epoch.get(f"{key}_best"):
                    text += " *"
                    if self.colour_:
                        text = f"\033[32m{text}\033[0m"
                parts.append(text)
        parts.append(f"{time.perf_counter() - self.start_:.1f}s")
        self.sink("  ".join(parts))

    def on_train_end(self, net, **kwargs):
        if (
            self.planned_epochs_ is not None
            and len(net.history) >= self.planned_epochs_
        ):
            self.sink(
                f"Stopped after max_iter={self.planned_epochs_} epochs; if the "
                "loss was still falling, a larger max_iter may fit better."
            )


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

    def sums(self, net):
        """Sum of the epoch's batch losses weighted by size, and of the sizes."""
        size_key = "train_batch_size" if self.on_train else "valid_batch_size"
        total = count = 0.0
        for batch in net.history[-1]["batches"]:
            if self.name in batch:
                total += batch[self.name] * batch[size_key]
                count += batch[size_key]
        return total, count

    def on_epoch_end(self, net, **kwargs):
        total, count = self.sums(net)
        if not count:
            # No such batches: no validation set, for "valid_loss".
            return
        loss = total / count
        is_best = loss < self.best_loss_
        if is_best:
            self.best_loss_ = loss
        net.history.record(self.name, loss)
        net.history.record(self.name + "_best", is_best)
