"""PyOD's AutoEncoder against skae at issue 5's own configuration.

784-256-32-256-784, 20,000 MNIST-shaped rows (the 10k real test images, then
the same images with Gaussian noise of sd 0.1, clipped to [0, 1]), 3 epochs,
batch 256, Adam at lr 1e-3, one thread, CPU time of the process, 3 interleaved
repetitions, medians. PyOD runs twice: with batch norm and dropout off (the
same network as skae's) and with its defaults. Writes ``pyod_issue_config.json``
beside this file. Run from the repository root::

    python benchmarks/results/speed/pyod_issue_config.py
"""

import gzip
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from pyod.models.auto_encoder import AutoEncoder
from threadpoolctl import threadpool_limits

from skae import AutoencoderOutlierDetector

MNIST = Path("../shared/data/mnist/t10k-images-idx3-ubyte.gz")
EPOCHS, BATCH_SIZE, LEARNING_RATE = 3, 256, 1e-3


def load_rows():
    with gzip.open(MNIST) as f:
        pixels = np.frombuffer(f.read(), np.uint8, offset=16)
    X = pixels.reshape(-1, 784).astype(np.float32) / 255
    noise = np.random.default_rng(0).normal(0, 0.1, X.shape).astype(np.float32)
    return np.vstack([X, np.clip(X + noise, 0, 1)])


def fit_skae(X):
    AutoencoderOutlierDetector(
        32,
        hidden_layer_sizes=(256,),
        max_iter=EPOCHS,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        early_stopping=False,
        tol=0,
        n_iter_no_change=EPOCHS + 1,
        random_state=0,
    ).fit(X)


def fit_pyod(X, **params):
    AutoEncoder(
        hidden_neuron_list=[256, 32],
        epoch_num=EPOCHS,
        batch_size=BATCH_SIZE,
        lr=LEARNING_RATE,
        verbose=0,
        device="cpu",
        random_state=0,
        **params,
    ).fit(X)


def main():
    torch.set_num_threads(1)
    X = load_rows()
    methods = {
        "skae": lambda: fit_skae(X),
        "pyod_matched": lambda: fit_pyod(X, batch_norm=False, dropout_rate=0.0),
        "pyod_defaults": lambda: fit_pyod(X),
    }
    times = {name: [] for name in methods}
    with threadpool_limits(1):
        for rep in range(3):
            names = list(methods)
            for name in names[rep % 3 :] + names[: rep % 3]:
                start = time.process_time()
                methods[name]()
                times[name].append(time.process_time() - start)
    median = {name: float(np.median(t)) for name, t in times.items()}
    result = {
        "cpu_s_median": median,
        "cpu_s": times,
        "loadavg": os.getloadavg(),
        "pyod_matched_over_skae": median["pyod_matched"] / median["skae"],
        "pyod_defaults_over_skae": median["pyod_defaults"] / median["skae"],
    }
    out = Path(__file__).with_name("pyod_issue_config.json")
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
