"""``transform`` and ``score_samples`` against a bare forward pass.

The baseline is a forward pass of the same trained module, in
``torch.inference_mode()``, in batches of 8192 rows: float32 for float32
input, and a float64 copy of the module (made once, outside the timing) for
float64 input. skae's own batches are sized from scikit-learn's
``working_memory``.
"""

import copy
import time
from functools import partial

import numpy as np
import torch
from torch.nn import functional as F

from speed.plain import interleaved, median, mnist_shaped, skae_estimator

PLAIN_BATCH = 8192


def _forward(module, X, method):
    outputs = []
    with torch.inference_mode():
        data = torch.from_numpy(X)
        for start in range(0, len(data), PLAIN_BATCH):
            batch = data[start : start + PLAIN_BATCH]
            if method == "transform":
                outputs.append(module.encode(batch))
            else:
                output = module.decode(module.encode(batch))
                outputs.append(-F.mse_loss(output, batch, reduction="none").mean(1))
    return torch.cat(outputs).numpy()


def _median_call_seconds(func, n_calls):
    seconds = []
    for _ in range(n_calls):
        start = time.perf_counter()
        func()
        seconds.append(time.perf_counter() - start)
    return median(seconds)


def bench_inference(settings, log):
    X, source = mnist_shaped(settings["inference_rows"])
    estimator = skae_estimator((256,), 32, 1).fit(X[:2000])
    module = estimator.net_.module_
    modules = {np.float32: module, np.float64: copy.deepcopy(module).double()}
    rows = []
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        for method in ("transform", "score_samples"):
            times = interleaved(
                {
                    "skae": partial(getattr(estimator, method), Xd),
                    "plain": partial(_forward, modules[dtype], Xd, method),
                },
                settings["reps"],
            )
            row = {
                "method": method,
                "input_dtype": np.dtype(dtype).name,
                "data": source,
                "n_samples": len(X),
                "skae_cpu_s": median(times["skae"]["cpu"]),
                "plain_cpu_s": median(times["plain"]["cpu"]),
            }
            row["ratio_cpu"] = row["skae_cpu_s"] / row["plain_cpu_s"]
            n_calls = settings["latency_calls"]
            row["skae_one_row_us"] = 1e6 * _median_call_seconds(
                partial(getattr(estimator, method), Xd[:1]), n_calls
            )
            row["plain_one_row_us"] = 1e6 * _median_call_seconds(
                partial(_forward, modules[dtype], Xd[:1], method), n_calls
            )
            row["one_row_overhead_us"] = (
                row["skae_one_row_us"] - row["plain_one_row_us"]
            )
            rows.append(row)
            log(
                f"inference {method} {row['input_dtype']}: skae / plain = "
                f"{row['ratio_cpu']:.3f}; one row +{row['one_row_overhead_us']:.0f} us"
            )
    return rows
