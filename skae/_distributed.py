"""Training with several processes through Hugging Face accelerate.

Every process (started by ``torchrun`` or ``accelerate launch``) calls
``fit`` with the same data; the estimators build an
:class:`AcceleratedAutoencoderNet` instead of an ``AutoencoderNet``. Each
step reads one *global* batch of ``batch_size * num_processes`` rows, the
rows one process with that batch size would read, and each process trains on
its share of it (:class:`ShardedTensorBatches`); DDP averages the gradients,
so the processes keep identical weights. The epoch losses are summed over
processes (:class:`SyncedEpochLoss`), so early stopping decides the same on
all of them. When training ends the net is turned back into a plain
``AutoencoderNet`` (:meth:`AcceleratedAutoencoderNet.detach`), which pickles
and predicts without accelerate.

This module imports accelerate only through the ``accelerator`` it is
given; ``skorch.hf`` itself does not import it.
"""

import math

import torch
from skorch import NeuralNet
from skorch.hf import AccelerateMixin

from skae._blocks import blocks
from skae._callbacks import EpochLoss
from skae._data import TensorBatches
from skae._net import AutoencoderNet


class ShardedTensorBatches(TensorBatches):
    """:class:`TensorBatches` split between processes, batch by batch.

    Each step takes the next ``batch_size * num_processes`` rows of the
    (shuffled) order, the *global batch*, and yields the rows
    ``process_index, process_index + num_processes, ...`` of it: the
    processes together read each row once per epoch, each about
    ``1 / num_processes`` of them, and every process makes the same number of
    steps, as DDP requires.

    Each batch is ``(rows, (observed, weight))``: ``observed`` is ``None``,
    or for data with missing cells the mask of the observed cells of the
    rows, which hold the fill there (see :meth:`skae._data.ScaledRows.batch`);
    ``weight = num_processes * n / m`` for a share of ``n`` rows of a global
    batch of ``m``. A process that multiplies its mean loss by the weight
    makes DDP's average of the gradients the gradient of the mean loss over
    the global batch, also for a last global batch that does not split
    evenly (then a share may be empty). The loss is a mean over rows with
    masks too (a row's error is the mean over its observed cells), so the
    weight is the same.

    Parameters
    ----------
    dataset, batch_size, shuffle
        As for :class:`TensorBatches`; ``batch_size`` is the rows per process.
    num_processes : int, default=1
    process_index : int, default=0
    generator : torch.Generator, default=None
        Draws the permutations; it must be in the same state in every
        process. ``None`` draws from the global torch generator.
    """

    def __init__(
        self,
        dataset,
        batch_size,
        shuffle=False,
        num_processes=1,
        process_index=0,
        generator=None,
    ):
        super().__init__(dataset, batch_size, shuffle)
        self.num_processes = num_processes
        self.process_index = process_index
        self.generator = generator

    def __len__(self):
        return math.ceil(len(self.dataset) / (self.batch_size * self.num_processes))

    def __iter__(self):
        n_samples = len(self.dataset)
        n_proc, rank = self.num_processes, self.process_index
        step = self.batch_size * n_proc
        order = None
        if self.shuffle:
            order = torch.randperm(n_samples, generator=self.generator)
            order = order.to(self.dataset.X.device)
        for start in range(0, n_samples, step):
            stop = min(start + step, n_samples)
            share = slice(start + rank, stop, n_proc)
            n_rows = len(range(start + rank, stop, n_proc))
            weight = (
                1.0
                if n_rows * n_proc == stop - start
                else (n_proc * n_rows / (stop - start))
            )
            index = share if order is None else order[share]
            rows, observed = self.dataset.batch(index)
            yield rows, (observed, weight)


class SyncedEpochLoss(EpochLoss):
    """:class:`EpochLoss` over the batches of all processes.

    Each process records the losses of its own shares; their weighted sums
    are added over processes (one all-reduce per epoch), so every process
    records the same epoch loss, the loss over all rows, and early stopping
    and the non-finite check decide the same everywhere.
    """

    def sums(self, net):
        return net.sum_over_processes(*super().sums(net))


class AcceleratedAutoencoderNet(AccelerateMixin, AutoencoderNet):
    """An :class:`AutoencoderNet` trained through an ``accelerate.Accelerator``.

    skorch's ``AccelerateMixin`` runs each step inside the accelerator's
    ``accumulate`` and ``autocast`` contexts. Here:

    - ``initialize`` has the accelerator prepare the module and the optimizer
      (DDP, device placement, mixed precision), not the criterion: it has no
      parameters, and accelerate (older versions, on CPU) wraps every module
      it prepares in DDP, which DDP refuses for a module without parameters;
    - batches come from :class:`ShardedTensorBatches` (``get_iterator``);
    - the epoch losses are summed over processes (:class:`SyncedEpochLoss`);
    - the shuffling draws from its own generator, forked from the global one
      after the weights are drawn (the same in all processes), and the noise
      from the global one, reseeded per process (``initialize``).
    """

    def initialize(self):
        # skorch's NeuralNet.initialize, then the accelerator's prepare for
        # the module and the optimizer only (AccelerateMixin's initialize
        # prepares the criterion too). The criterion still runs inside
        # accelerator.autocast() (see train_step_single) and holds no tensors
        # to place. The module stays prepared until detach unwraps it.
        NeuralNet.initialize(self)
        self.module_ = self.accelerator.prepare(self.module_)
        self.optimizer_ = self.accelerator.prepare(self.optimizer_)
        # Permutations: a stream in the same state in every process, the one
        # a single process would shuffle with (with noise=0 it draws nothing
        # else). Noise and variational sampling: one stream per process, or
        # every process would corrupt its rows with the same noise.
        self._shuffle_state = torch.default_generator.get_state()
        seed = int(torch.randint(2**62, ())) + self.accelerator.process_index
        torch.default_generator.manual_seed(seed)
        if self.accelerator.device.type == "cuda":
            torch.cuda.manual_seed(seed)
        return self

    def get_default_callbacks(self):
        return [
            (name, SyncedEpochLoss(cb.name, cb.on_train))
            if isinstance(cb, EpochLoss)
            else (name, cb)
            for name, cb in super().get_default_callbacks()
        ]

    def get_iterator(self, dataset, training=False):
        # skorch builds the TensorBatches of the net's iterator parameters;
        # read it in shards instead. AccelerateMixin's get_iterator would
        # pass it to accelerator.prepare, which shards only DataLoaders (and
        # returns anything else unchanged): it is skipped.
        iterator = AutoencoderNet.get_iterator(self, dataset, training=training)
        generator = None
        if training and iterator.shuffle:
            generator = torch.Generator()
            generator.set_state(self._shuffle_state)
        return ShardedTensorBatches(
            iterator.dataset,
            iterator.batch_size,
            iterator.shuffle,
            num_processes=self.accelerator.num_processes,
            process_index=self.accelerator.process_index,
            generator=generator,
        )

    def trained_module(self):
        return self.accelerator.unwrap_model(self.module_, keep_fp32_wrapper=True)

    def train_step_single(self, batch, **fit_params):
        """Forward, loss and backward pass on this process's share of a batch.

        The loss recorded is the mean over the share; the loss
        backpropagated is it times the share's weight (see
        :class:`ShardedTensorBatches`). An empty share backpropagates zero
        through the whole network, so that DDP's all-reduce still happens.
        """
        if not (self.module_.training and self.criterion_.training):
            self.module_.train()
            self.criterion_.train()
        Xi, (observed, weight) = batch
        with self.accelerator.autocast():
            y_pred = self.infer(Xi, **fit_params)
            if len(Xi):
                loss = self.get_loss(y_pred, observed, X=Xi, training=True)
                objective = loss if weight == 1 else loss * weight
            else:
                loss = objective = y_pred[0].sum()
        self.accelerator.backward(objective)
        return {"loss": loss, "y_pred": y_pred}

    def sum_over_processes(self, *values):
        """``values`` summed over all processes (one all-reduce)."""
        accelerator = self.accelerator
        sums = torch.tensor(values, dtype=torch.float64, device=accelerator.device)
        return tuple(accelerator.reduce(sums, reduction="sum").tolist())

    def validation_step(self, batch, **fit_params):
        Xi, (observed, _) = batch
        if not len(Xi):
            return {"loss": torch.zeros(()), "y_pred": None}
        # A validation loss is the mean over the share, unweighted: the
        # epoch's is summed over processes (SyncedEpochLoss).
        return super().validation_step((Xi, observed), **fit_params)

    def detach(self, device):
        """This net, trained, as a plain :class:`AutoencoderNet` on ``device``.

        A new net, built by skorch from this one's parameters less the
        accelerator's, takes over what training learned: the unwrapped module
        (no DDP, no mixed-precision forward), the optimizer out of
        accelerate's wrapper, the criterion, the callbacks and the history.
        It holds no reference to the accelerator, so it pickles and loads
        without accelerate or a process group, like a net trained in one
        process.
        """
        module = self.accelerator.unwrap_model(self.module_, keep_fp32_wrapper=False)
        # accelerate's mark of a prepared module, and the bound forward it
        # leaves in place of its mixed-precision one.
        attributes = vars(module)
        attributes.pop("_is_accelerate_prepared", None)
        forward = attributes.get("forward")
        if getattr(forward, "__func__", None) is type(module).forward:
            del attributes["forward"]
        params = {
            name: value
            for name, value in self.get_params(deep=False).items()
            if not name.startswith("_") and name not in _ACCELERATOR_PARAMS
        }
        # Built without callbacks, which initialize would reset: this net's
        # callbacks, with their state (early stopping's best epoch), are
        # handed over after it. initialize builds a module that is replaced
        # at once; the weights it draws must not move the caller's RNG.
        net = AutoencoderNet(**{**params, "callbacks": [], "device": device})
        cuda = [torch.cuda.current_device()] if device == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            net.initialize()
        net.module_ = module
        net.criterion_ = self.criterion_
        net.optimizer_ = getattr(self.optimizer_, "optimizer", self.optimizer_)
        net.callbacks = self.callbacks
        net.callbacks_ = self.callbacks_
        net.history_ = self.history_
        return net


#: Parameters of ``AccelerateMixin`` that a plain net does not take.
_ACCELERATOR_PARAMS = (
    "accelerator",
    "unwrap_after_train",
    "callbacks__print_log__sink",
)


def shared_fit_setup(accelerator, X, random_state, seed_given):
    """Check that all processes fit the same data; agree on a seed source.

    Parameters
    ----------
    accelerator : accelerate.Accelerator
    X : ndarray
        This process's data.
    random_state : numpy.random.RandomState
        This process's random state.
    seed_given : bool
        Whether the user passed a ``random_state`` (then every process must
        draw the same seeds from it) or ``None`` (then the main process's
        fresh seed is used everywhere).

    Returns
    -------
    random_state : numpy.random.RandomState
        The same in every process.
    """
    import copy

    import numpy as np
    from accelerate.utils import gather_object

    probe = copy.deepcopy(random_state).randint(np.iinfo(np.int32).max)
    # The sum of the observed cells and the number of missing ones (NaN
    # would make any two sums differ). Only a block whose sum is NaN (X is
    # finite but for NaN) needs a mask; blocks keep it small.
    total, n_missing = 0.0, 0
    for block in blocks(X, temporaries=1):
        block_sum = np.sum(block, dtype=np.float64)
        if np.isnan(block_sum):
            missing = np.isnan(block)
            block_sum = np.sum(block, where=~missing, dtype=np.float64)
            n_missing += int(np.count_nonzero(missing))
        total += float(block_sum)
    data = (X.shape, total, n_missing)
    everyone = gather_object([(data, probe)])
    if any(f[0] != everyone[0][0] for f in everyone):
        raise ValueError(
            "Every process must call fit with the same data (each trains on "
            "its share of the rows); got shapes, sums and missing cells "
            f"{[f[0] for f in everyone]}."
        )
    if seed_given:
        if any(f[1] != everyone[0][1] for f in everyone):
            raise ValueError(
                "random_state draws different seeds in different processes; "
                "pass an int (or None) when training with an accelerator."
            )
        return random_state
    return np.random.RandomState(everyone[0][1])


def print_if(condition, *args, **kwargs):
    """``print`` if ``condition``: a sink that pickles, for the main process."""
    if condition:
        print(*args, **kwargs)
