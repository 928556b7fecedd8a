"""Data, the plain PyTorch loop skae is compared with, and timing helpers."""

import time

import _common as common
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

BATCH_SIZE = 256
LEARNING_RATE = 1e-3


def mnist_shaped(n_samples, seed=0):
    """``n_samples`` MNIST-shaped float32 rows in [0, 1], and where they come from.

    The first 10,000 rows are the real MNIST test images when the shared data
    folder has them. Beyond that (only 10k real images exist here), rows are
    real images drawn again with Gaussian noise (standard deviation 0.1)
    added and clipped to [0, 1]. Without the shared data, all rows are
    uniform noise on a random sparse mask, of the same shape and range.
    """
    rng = np.random.RandomState(seed)
    if common.has_data("mnist"):
        real = common.load_mnist()[0].astype(np.float32)
        source = "mnist"
    else:
        real = rng.rand(10_000, 784).astype(np.float32)
        real *= rng.rand(10_000, 784) < 0.2
        source = "synthetic"
    if n_samples <= len(real):
        return np.ascontiguousarray(real[:n_samples]), source
    extra = real[rng.randint(len(real), size=n_samples - len(real))]
    extra += rng.normal(scale=0.1, size=extra.shape).astype(np.float32)
    np.clip(extra, 0, 1, out=extra)
    return np.concatenate([real, extra]), f"{source}+tiled-with-noise"


def tabular(n_samples, n_features, seed=0):
    """Standardized float32 rows from a low-rank Gaussian plus noise."""
    rng = np.random.RandomState(seed)
    rank = max(1, n_features // 4)
    X = rng.normal(size=(n_samples, rank)) @ rng.normal(size=(rank, n_features))
    X += 0.1 * rng.normal(size=X.shape)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X.astype(np.float32)


class PlainAutoencoder(nn.Module):
    """The dense autoencoder a PyTorch user writes: ReLU hidden layers, a
    linear code and a linear output, the decoder mirroring the encoder (the
    layers of skae's ``architecture="mlp"``)."""

    def __init__(self, n_features, n_components, hidden):
        super().__init__()
        widths = (n_features, *hidden)
        encoder = []
        for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
            encoder += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.encoder = nn.Sequential(*encoder, nn.Linear(widths[-1], n_components))
        decoder = []
        back = (n_components, *reversed(hidden))
        for n_in, n_out in zip(back[:-1], back[1:], strict=True):
            decoder += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.decoder = nn.Sequential(*decoder, nn.Linear(back[-1], n_features))

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)


def plain_fit(X, hidden, n_components, epochs, seed=0, adam_options=None):
    """Train :class:`PlainAutoencoder` with a plain PyTorch loop.

    One float32 tensor, a new permutation per epoch, batches by indexing,
    Adam, mean squared error, the loss read back every batch (as skorch
    records it). ``adam_options`` are extra keyword arguments of
    ``torch.optim.Adam``, such as ``{"fused": True}``.
    """
    torch.manual_seed(seed)
    model = PlainAutoencoder(X.shape[1], n_components, hidden)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=LEARNING_RATE, **(adam_options or {})
    )
    data = torch.from_numpy(X)
    n_samples = len(data)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(n_samples)
        total = 0.0
        for start in range(0, n_samples, BATCH_SIZE):
            batch = data[order[start : start + BATCH_SIZE]]
            optimizer.zero_grad()
            loss = F.mse_loss(model.decode(model.encode(batch)), batch)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / n_samples)
    return model.eval(), losses


def skae_estimator(hidden, n_components, epochs, seed=0, scaling=None):
    """An ``AutoencoderTransformer`` that trains exactly ``epochs`` epochs.

    ``scaling=None`` trains on ``X`` as the plain loop does; ``"standard"``
    also standardizes each batch as it is read.
    """
    from skae import AutoencoderTransformer

    return AutoencoderTransformer(
        n_components,
        architecture="mlp",
        hidden_layer_sizes=hidden,
        max_iter=epochs,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        early_stopping=False,
        n_iter_no_change=epochs + 1,
        tol=0.0,
        scaling=scaling,
        random_state=seed,
    )


def skae_adam_options():
    """The options of ``torch.optim.Adam`` that skae's fit uses, beyond ``lr``.

    Read from a fitted estimator's net, so that the plain loop uses the same
    optimizer whatever skae's choices are.
    """
    est = skae_estimator((4,), 2, 1).fit(np.random.RandomState(0).rand(20, 8))
    defaults = est.net_.optimizer_.defaults
    return {
        key: defaults[key]
        for key in ("fused", "foreach", "weight_decay", "amsgrad")
        if defaults.get(key)
    }


def timed(func, *args, **kwargs):
    """Call ``func``; return its result, wall seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def interleaved(methods, reps):
    """Time each of ``methods`` (name -> callable) ``reps`` times.

    Within each repetition every method runs once, and the method that goes
    first rotates, so that a burst of load from other jobs hits all alike.

    Returns
    -------
    times : dict
        ``name -> {"wall": [...], "cpu": [...]}``, seconds.
    """
    names = list(methods)
    times = {name: {"wall": [], "cpu": []} for name in names}
    for rep in range(reps):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            _, wall, cpu = timed(methods[name])
            times[name]["wall"].append(wall)
            times[name]["cpu"].append(cpu)
    return times


def median(values):
    return float(np.median(values))
