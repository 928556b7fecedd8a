"""Peak resident memory of ``fit``, each in a fresh process (Linux).

A process reports the high-water mark of its resident set (``VmHWM``) after
fitting, reset just before the fit, so that imports and warm-up do not count.
A plain PyTorch loop on the same data is measured the same way, for the
memory any training loop needs (model, gradients, optimizer state,
activations, the allocator's slack).
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from speed.plain import BATCH_SIZE, plain_fit

BENCH_SPEED = Path(__file__).resolve().parents[1] / "bench_speed.py"


def proc_status(field):
    """A memory field of /proc/self/status, in bytes; 0 if absent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def child(n_samples, dtype, early_stopping, method):
    """Fit in this (fresh) process; print peak memory figures as JSON."""
    import torch

    from skae import AutoencoderTransformer

    torch.set_num_threads(1)
    X = np.random.default_rng(0).random((n_samples, 784), dtype=np.float32)
    X = X.astype(dtype, copy=False)
    # Warm up torch and skorch on tiny data so that their one-off
    # allocations do not count.
    AutoencoderTransformer(2, max_iter=1, early_stopping=False).fit(X[:300])
    plain_fit(X[:300].astype(np.float32), (256,), 32, 1, adam_options={"fused": True})

    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    before = proc_status("VmRSS")
    if method == "plain":
        module, _ = plain_fit(X, (256,), 32, 2, adam_options={"fused": True})
    else:
        module = (
            AutoencoderTransformer(
                32,
                architecture="mlp",
                hidden_layer_sizes=(256,),
                max_iter=2,
                batch_size=BATCH_SIZE,
                early_stopping=early_stopping,
                random_state=0,
            )
            .fit(X)
            .net_.module_
        )
    n_params = sum(p.numel() for p in module.parameters())
    print(
        json.dumps(
            {
                "rss_before_fit": before,
                "peak_rss_during_fit": proc_status("VmHWM"),
                "input_bytes": X.nbytes,
                "model_bytes": 4 * n_params,
            }
        )
    )


def bench_memory(settings, log):
    rows = []
    for n_samples in settings["memory_rows"]:
        cases = [("skae", dtype, es) for dtype, es in settings["memory_cases"]]
        cases.append(("plain", "float32", False))
        for method, dtype, early_stopping in cases:
            out = subprocess.run(
                [
                    sys.executable,
                    str(BENCH_SPEED),
                    "--memory-child",
                    str(n_samples),
                    dtype,
                    str(int(early_stopping)),
                    method,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            float32_bytes = n_samples * 784 * 4
            extra = result["peak_rss_during_fit"] - result["rss_before_fit"]
            rows.append(
                {
                    "method": method,
                    "n_samples": n_samples,
                    "input_dtype": dtype,
                    "early_stopping": early_stopping if method == "skae" else None,
                    "input_mb": result["input_bytes"] / 2**20,
                    "model_mb": result["model_bytes"] / 2**20,
                    "extra_peak_mb": extra / 2**20,
                    # The input as passed plus what fit adds, in units of
                    # the float32 input.
                    "peak_over_float32_input": (result["input_bytes"] + extra)
                    / float32_bytes,
                    # Input twice, plus model, gradients and Adam's moments.
                    "target_over_float32_input": 2
                    + 4 * result["model_bytes"] / float32_bytes,
                }
            )
            log(
                f"memory {method} {n_samples} rows {dtype} early_stopping="
                f"{early_stopping}: peak {rows[-1]['peak_over_float32_input']:.2f}x"
                " the float32 input"
            )
    return rows
