"""skorch callbacks of skae's nets: early stopping, the epoch log, the
divergence check and the epoch losses."""

import math
import sys
import time
from copy import deepcopy

from skorch.callbacks import Callback
from skorch.callbacks import EarlyStopping as SkorchEarlyStopping


class StopTraining(Exception):
    """Raised by a callback to end training after the current epoch.

    skorch's own callbacks stop by raising ``KeyboardInterrupt``, which
    :meth:`skae._net.AutoencoderNet.partial_fit` lets through so that a real
    Ctrl-C stops ``fit``; this exception ends training quietly instead.
    """


class EarlyStopping(SkorchEarlyStopping):
    """skorch's ``EarlyStopping`` with an absolute threshold, that can count
    the starting weights as an epoch and stops without a ``KeyboardInterrupt``.

    An epoch improves when its loss is below the best so far minus
    ``threshold``; after ``patience`` epochs without improvement, training
    stops with :class:`StopTraining`, and when it ends the weights of the
    best epoch are restored if ``load_best``. The history records, for each
    epoch, whether it improved (``"<monitor>_improved"``): the epoch log
    marks those epochs, and the estimators read the best epoch from them,
    so what is printed, what is kept and what is reported agree.

    Parameters
    ----------
    monitor : {"valid_loss", "train_loss"}
        The history key to watch.
    patience : int
        Number of epochs without improvement before stopping.
    threshold : float
        Smallest decrease of the loss that counts as an improvement.
    load_best : bool
        Whether to restore the weights of the best epoch when training ends.
    sink : callable, default=print
        Called with the messages saying why training stopped, if the net is
        verbose.
    from_start : bool, default=False
        Whether the starting weights compete as epoch 0: their validation
        loss is the first to improve on, and they are kept if no epoch does.
        For a network that starts at a good solution (PCA's, for
        :class:`skae._modules.ResidualAutoencoder`), training then never
        ends worse than its start on the validation rows. Needs
        ``monitor="valid_loss"``.
    """

    def __init__(
        self, monitor, patience, threshold, load_best, sink=print, from_start=False
    ):
        super().__init__(
            monitor=monitor,
            patience=patience,
            threshold=threshold,
            threshold_mode="abs",
            load_best=load_best,
            sink=sink,
        )
        self.from_start = from_start

    def on_train_begin(self, net, X=None, **kwargs):
        super().on_train_begin(net, X=X, **kwargs)
        self.best_loss_ = math.inf
        if self.from_start and not len(net.history):
            self.best_loss_ = validation_loss(net, X)
            self.dynamic_threshold_ = self.best_loss_ - self.threshold
            if self.load_best:
                self.best_model_weights_ = deepcopy(net.trained_module().state_dict())

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, self.monitor]
        improved = loss < self.dynamic_threshold_
        net.history.record(self.monitor + "_improved", bool(improved))
        if improved:
            self.misses_ = 0
            self.dynamic_threshold_ = loss - self.threshold
            self.best_epoch_ = net.history[-1, "epoch"]
            self.best_loss_ = loss
            if self.load_best:
                self.best_model_weights_ = deepcopy(net.trained_module().state_dict())
        else:
            self.misses_ += 1
        if self.misses_ == self.patience:
            if net.verbose:
                self.sink(
                    f"Stopping early: {self.monitor} has not improved by more "
                    f"than tol={self.threshold:g} for {self.patience} epochs "
                    f"(n_iter_no_change); its best, {self.best_loss_:.6g}, was "
                    f"at {self._best_epoch_name()}."
                )
            raise StopTraining

    def on_train_end(self, net, **kwargs):
        if (
            self.best_model_weights_ is not None
            and self.best_epoch_ != net.history[-1, "epoch"]
        ):
            net.trained_module().load_state_dict(self.best_model_weights_)
            if net.verbose:
                self.sink(f"Restored the weights of {self._best_epoch_name()}.")

    def _best_epoch_name(self):
        if self.best_epoch_ == 0:
            return "the start (epoch 0), which no epoch improved on"
        return f"epoch {self.best_epoch_}"


def validation_scores(net):
    """The validation scores of a trained net, as the estimators report them.

    Returns
    -------
    scores : list of float or None
        Minus the validation loss of each epoch; ``None`` when the net had
        no validation rows.
    best : float or None
        The score of the weights kept: :class:`EarlyStopping`'s best epoch,
        or the start (epoch 0) when no epoch improved on it.
    """
    history = net.history
    if "valid_loss" not in history[-1]:
        return None, None
    scores = [-loss for loss in history[:, "valid_loss"]]
    stopping = dict(net.callbacks_)["early_stopping"]
    if stopping.best_epoch_ == 0:
        return scores, -stopping.best_loss_
    return scores, float(scores[stopping.best_epoch_ - 1])


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
    """Print one line per epoch: progress, losses, improvement, elapsed time.

    For example ``epoch  12/200  train_loss 0.2061  valid_loss 0.2290 *  3.1s``,
    where ``*`` marks an epoch that early stopping counts as an improvement
    of ``monitor`` (the lowest loss so far, without early stopping). On a terminal
    the mark is in colour; written to a file or a pipe, the text is plain.

    Parameters
    ----------
    monitor : {"valid_loss", "train_loss"}
        The loss whose improvements are marked.
    max_epochs : int or None, default=None
        The planned number of epochs, shown after each epoch's number;
        ``None`` (a pass of ``partial_fit``) shows the number alone.
    sink : callable, default=print
        Called with each line.
    stream : file-like, default=None
        Where ``sink`` writes, to tell a terminal from a file; ``None`` means
        ``sys.stdout``, at the time training begins.
    """

    def __init__(self, monitor, max_epochs=None, sink=print, stream=None):
        self.monitor = monitor
        self.max_epochs = max_epochs
        self.sink = sink
        self.stream = stream

    def on_train_begin(self, net, **kwargs):
        stream = sys.stdout if self.stream is None else self.stream
        self.colour_ = bool(getattr(stream, "isatty", lambda: False)())
        self.start_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        epoch = net.history[-1]
        if self.max_epochs is None:
            parts = [f"epoch {epoch['epoch']}"]
        else:
            width = len(str(self.max_epochs))
            parts = [f"epoch {epoch['epoch']:>{width}}/{self.max_epochs}"]
        # This log runs before early stopping records the epoch: the mark
        # is early stopping's test, or without it (partial_fit), the lowest
        # loss so far.
        stopping = dict(net.callbacks_).get("early_stopping")
        for key in ("train_loss", "valid_loss"):
            if key in epoch:
                text = f"{key} {epoch[key]:.6g}"
                if stopping is None:
                    improved = epoch.get(f"{key}_best")
                else:
                    improved = epoch[key] < stopping.dynamic_threshold_
                if key == self.monitor and improved:
                    text += " *"
                    if self.colour_:
                        text = f"\033[32m{text}\033[0m"
                parts.append(text)
        parts.append(f"{time.perf_counter() - self.start_:.1f}s")
        self.sink("  ".join(parts))

    def on_train_end(self, net, **kwargs):
        if self.max_epochs is not None and len(net.history) >= self.max_epochs:
            self.sink(
                f"Stopped after max_iter={self.max_epochs} epochs; if the "
                "loss was still falling, a larger max_iter may fit better."
            )


class NonFiniteLossError(ArithmeticError):
    """Raised by :class:`StopOnNonFiniteLoss` when the loss is NaN or inf."""

    def __init__(self, epoch, loss):
        super().__init__(f"loss became {loss} at epoch {epoch}")
        self.epoch = epoch
        self.loss = loss


def diverged(estimator, what):
    """The error for a training run of ``estimator`` whose loss or outputs
    are not finite; ``what`` says which."""
    return ValueError(
        f"Training diverged: {what}. Likely causes: a learning rate too "
        f"high for this data (learning_rate_init={estimator.learning_rate_init}), "
        f"inputs with extreme values (scaling={estimator.scaling!r}), or a "
        f"penalty weight too large (sparsity={estimator.sparsity}, "
        f"beta={estimator.beta})."
    )


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
