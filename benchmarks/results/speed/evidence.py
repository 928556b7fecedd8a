"""One-off measurements behind the speed README, beside ``bench_speed.py``.

Two experiments, each interleaved within its repetitions, CPU time, 1 thread:

``net``
    skae's ``fit`` with the training glue of an earlier commit (``skae/_net.py``
    read from git) against the current one and a plain PyTorch loop, plus
    cProfile summaries of both. Shows the effect of the ``_net.py`` changes.
``patch``
    The change proposed for ``skae/_base.py`` (``proposed_base.patch``): Adam
    and AdamW built with ``fused=True``, and scaling blocks of 2**18 values
    rather than 4096 rows, applied here by swapping the optimizer classes and
    the block size skae reads, against the code as it is: fit time against
    plain loops with the default and the fused Adam, against PyOD, peak
    memory of fit, and refit reproducibility.

``loss``
    The squared-error training objective computed by one ``F.mse_loss``
    (proposed for ``skae/_losses.py``) against skae's mean of per-sample
    errors, against a plain loop with the same (fused) Adam.
``compile``
    A plain loop whose forward pass is ``torch.compile``-d against the same
    loop in eager mode: time of the first epoch (compilation included) and of
    later epochs. Decides whether skae should offer ``torch.compile``.

``patch``, ``net`` and ``loss`` measured changes that are now in skae; they
ran on the code of their time (commits in the speed README) and refuse to run
on today's, whose data loading the old ``_net.py`` does not know.

Usage: ``python benchmarks/results/speed/evidence.py compile [--quick]``;
writes ``evidence_<name>.json`` next to this file.
"""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_speed as bench  # noqa: E402

import skae._base as base  # noqa: E402

OLD_NET_COMMIT = "9637713"
SCALE_CHUNK_ROWS = 4096


# ----------------------------------------------------------------------
# The proposed _base.py change: fused Adam and AdamW
# ----------------------------------------------------------------------
class FusedAdam(torch.optim.Adam):
    """Adam with ``fused=True`` (one kernel for all parameters)."""

    def __init__(self, params, **kwargs):
        super().__init__(params, fused=True, **kwargs)


class FusedAdamW(torch.optim.AdamW):
    """AdamW with ``fused=True``."""

    def __init__(self, params, **kwargs):
        super().__init__(params, fused=True, **kwargs)


_ORIGINAL = dict(base._OPTIMIZERS)
# The patch was applied to skae in commit 74a34f3; before it, skae read this.
_ORIGINAL_BLOCK_ROWS = getattr(base, "_SCALING_BLOCK_ROWS", None)
SCALING_BLOCK_SIZE = 2**18


def apply_patch(enable=True, n_features=784):
    """Install the proposed patch (``enable``) or restore skae as it is.

    The patch: fused Adam/AdamW, and scaling blocks of ``2**18`` values
    (``2**18 // n_features`` rows) instead of 4096 rows.
    """
    base._OPTIMIZERS["adam"] = FusedAdam if enable else _ORIGINAL["adam"]
    base._OPTIMIZERS["adamw"] = FusedAdamW if enable else _ORIGINAL["adamw"]
    base._SCALING_BLOCK_ROWS = (
        max(1, SCALING_BLOCK_SIZE // n_features) if enable else _ORIGINAL_BLOCK_ROWS
    )


# ----------------------------------------------------------------------
# Experiments
# ----------------------------------------------------------------------
def cpu_time(func):
    start = time.process_time()
    func()
    return time.process_time() - start


def load_old_net():
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{OLD_NET_COMMIT}:skae/_net.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_net.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_net", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cases(quick):
    epochs_mnist, epochs_tab = (1, 20) if quick else (3, 50)
    return [
        (
            "mnist-shaped 10k x 784",
            bench.mnist_shaped(10_000)[0],
            (256,),
            32,
            epochs_mnist,
        ),
        ("tabular 2k x 20", bench.tabular(2_000, 20), (64,), 5, epochs_tab),
    ]


def experiment_net(quick):
    import skae._net as new_net

    old_net = load_old_net()
    versions = {
        "before": (old_net.AutoencoderNet, old_net.TensorBatches),
        "after": (new_net.AutoencoderNet, new_net.TensorBatches),
    }

    def use(version):
        base.AutoencoderNet, base.TensorBatches = versions[version]

    reps = 3 if quick else 7
    results = []
    for name, X, hidden, code, epochs in cases(quick):
        times = {"plain": [], "before": [], "after": []}
        fits = {}
        for rep in range(reps):
            order = ["plain", "before", "after"]
            for method in order[rep % 3 :] + order[: rep % 3]:
                if method == "plain":
                    times[method].append(
                        cpu_time(partial(bench.plain_fit, X, hidden, code, epochs))
                    )
                    continue
                use(method)
                est = bench.skae_estimator(hidden, code, epochs)
                times[method].append(cpu_time(partial(est.fit, X)))
                fits[method] = est.transform(X[:500])
        use("after")
        medians = {k: float(np.median(v)) for k, v in times.items()}
        results.append(
            {
                "case": name,
                "epochs": epochs,
                "reps": reps,
                "cpu_s": medians,
                "ratio_before": medians["before"] / medians["plain"],
                "ratio_after": medians["after"] / medians["plain"],
                "identical_results": bool(
                    np.array_equal(fits["before"], fits["after"])
                ),
                "all_cpu_s": times,
            }
        )
        print(json.dumps(results[-1]), flush=True)
    for version in ("before", "after"):
        use(version)
        out = HERE / f"profile_{version}_net"
        out.mkdir(exist_ok=True)
        settings = dict(bench.SETTINGS["quick" if quick else "full"])
        settings["mnist_rows"] = (10_000,)
        rows = bench.bench_profiles(settings, out, print)
        results.append({"profile": version, "rows": rows})
    use("after")
    return results


def experiment_patch(quick):
    reps = 3 if quick else 5
    results = {"fit": [], "pyod": [], "memory": [], "reproducible": None}
    for name, X, hidden, code, epochs in cases(quick):
        args = (X, hidden, code, epochs)
        methods = {
            "plain": partial(bench.plain_fit, *args),
            "plain_fused": partial(
                bench.plain_fit, *args, adam_options={"fused": True}
            ),
            "skae": partial(bench.fit_skae, *args),
            "skae_fused": partial(bench.fit_skae, *args),
        }
        times = {method: [] for method in methods}
        for rep in range(reps):
            names = list(methods)
            for method in names[rep % 4 :] + names[: rep % 4]:
                apply_patch(method == "skae_fused", X.shape[1])
                times[method].append(cpu_time(methods[method]))
        apply_patch(False)
        medians = {k: float(np.median(v)) for k, v in times.items()}
        results["fit"].append(
            {
                "case": name,
                "epochs": epochs,
                "cpu_s": medians,
                "skae_over_plain": medians["skae"] / medians["plain"],
                "skae_fused_over_plain": medians["skae_fused"] / medians["plain"],
                "skae_fused_over_plain_fused": medians["skae_fused"]
                / medians["plain_fused"],
            }
        )
        print(json.dumps(results["fit"][-1]), flush=True)

    epochs = 10 if quick else 20
    for dataset in ("cardio", "mnist"):
        X, y = bench.common.load_odds(dataset)
        X = X.astype(np.float32)
        hidden = 64 if X.shape[1] > 32 else 16
        code = max(2, min(32, X.shape[1] // 4))
        args = (X, X[:10], hidden, code, epochs, 0)
        methods = {
            "pyod": partial(bench.pyod_scores, *args),
            "skae": partial(bench.skae_scores, *args),
            "skae_fused": partial(bench.skae_scores, *args),
        }
        times = {method: [] for method in methods}
        for rep in range(reps):
            names = list(methods)
            for method in names[rep % 3 :] + names[: rep % 3]:
                apply_patch(method == "skae_fused", X.shape[1])
                times[method].append(cpu_time(methods[method]))
        apply_patch(False)
        medians = {k: float(np.median(v)) for k, v in times.items()}
        results["pyod"].append(
            {
                "dataset": dataset,
                "batch_size": bench.PYOD_BATCH_SIZE,
                "epochs": epochs,
                "cpu_s": medians,
                "pyod_over_skae": medians["pyod"] / medians["skae"],
                "pyod_over_skae_fused": medians["pyod"] / medians["skae_fused"],
            }
        )
        print(json.dumps(results["pyod"][-1]), flush=True)

    for n_samples in (10_000, 60_000):
        for early_stopping in (False, True):
            for patched in (False, True):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "memory-child",
                        str(n_samples),
                        str(int(early_stopping)),
                        str(int(patched)),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results["memory"].append(json.loads(out.stdout.splitlines()[-1]))
                print(json.dumps(results["memory"][-1]), flush=True)

    apply_patch(True, 20)
    from skae import AutoencoderOutlierDetector

    X = bench.tabular(1_000, 20)
    first = AutoencoderOutlierDetector(max_iter=20, random_state=0).fit(X)
    second = AutoencoderOutlierDetector(max_iter=20, random_state=0).fit(X)
    results["reproducible"] = bool(
        np.array_equal(first.score_samples(X), second.score_samples(X))
    )
    apply_patch(False)
    print("reproducible refits with the patch:", results["reproducible"])
    return results


def _mse_loss_forward(self, y_pred, target):
    """``AutoencoderLoss.forward`` with ``F.mse_loss`` for the squared error."""
    from torch.nn import functional as F

    from skae._losses import kl_divergence, reconstruction_error

    output, _, mean, log_var = y_pred
    if self.loss == "mse":
        objective = F.mse_loss(output, target)
    else:
        objective = reconstruction_error(output, target, self.loss).mean()
    if self.sparsity:
        objective = objective + self.sparsity * mean.abs().mean()
    if log_var is not None:
        kl = kl_divergence(mean, log_var).mean()
        objective = objective + self.beta * kl / target.shape[1]
    return objective


def experiment_loss(quick):
    """The training loss as one ``F.mse_loss`` against skae's per-sample mean."""
    import skae._losses as losses

    original = losses.AutoencoderLoss.forward
    reps = 3 if quick else 5
    results = []
    for name, X, hidden, code, epochs in cases(quick):
        args = (X, hidden, code, epochs)
        methods = {
            "plain_fused": partial(
                bench.plain_fit, *args, adam_options={"fused": True}
            ),
            "skae": partial(bench.fit_skae, *args),
            "skae_mse_loss": partial(bench.fit_skae, *args),
        }
        times = {method: [] for method in methods}
        for rep in range(reps):
            names = list(methods)
            for method in names[rep % 3 :] + names[: rep % 3]:
                losses.AutoencoderLoss.forward = (
                    _mse_loss_forward if method == "skae_mse_loss" else original
                )
                times[method].append(cpu_time(methods[method]))
        losses.AutoencoderLoss.forward = original
        medians = {k: float(np.median(v)) for k, v in times.items()}
        results.append(
            {
                "case": name,
                "epochs": epochs,
                "cpu_s": medians,
                "skae_over_plain": medians["skae"] / medians["plain_fused"],
                "patched_over_plain": medians["skae_mse_loss"] / medians["plain_fused"],
            }
        )
        print(json.dumps(results[-1]), flush=True)
    return results


def experiment_compile(quick):
    """``torch.compile`` of the forward pass against eager mode, plain loops."""
    from torch.nn import functional as F

    from skae._modules import MLPAutoencoder

    def loop(X, hidden, code, epochs, compiled):
        torch.manual_seed(0)
        model = MLPAutoencoder(X.shape[1], code, hidden)

        def forward(x):
            return model.decode(model.encode(x))

        if compiled:
            forward = torch.compile(forward)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        data = torch.from_numpy(X)
        seconds, first_wall = [], time.perf_counter()
        for _ in range(epochs):
            start = time.process_time()
            order = torch.randperm(len(data))
            for first in range(0, len(data), bench.BATCH_SIZE):
                batch = data[order[first : first + bench.BATCH_SIZE]]
                optimizer.zero_grad()
                F.mse_loss(forward(batch), batch).backward()
                optimizer.step()
            seconds.append(time.process_time() - start)
            if len(seconds) == 1:
                # Compilation runs partly in worker processes: wall time.
                first_wall = time.perf_counter() - first_wall
        return seconds, first_wall

    epochs = 3 if quick else 6
    results = []
    for name, X, hidden, code, _ in cases(quick):
        row = {"case": name, "epochs": epochs}
        for compiled in (False, True):
            seconds, first_wall = loop(X, hidden, code, epochs, compiled)
            mode = "compiled" if compiled else "eager"
            row[f"{mode}_first_epoch_cpu_s"] = seconds[0]
            row[f"{mode}_first_epoch_wall_s"] = first_wall
            row[f"{mode}_later_epoch_cpu_s"] = float(np.median(seconds[1:]))
        row["later_epochs_compiled_over_eager"] = (
            row["compiled_later_epoch_cpu_s"] / row["eager_later_epoch_cpu_s"]
        )
        results.append(row)
        print(json.dumps(row), flush=True)
    return results


def memory_child(n_samples, early_stopping, patched):
    """Peak resident memory of one fit, in this fresh process, as JSON."""
    torch.set_num_threads(1)
    apply_patch(patched)
    from skae import AutoencoderTransformer

    X = np.random.default_rng(0).random((n_samples, 784), dtype=np.float32)
    AutoencoderTransformer(2, max_iter=1, early_stopping=False).fit(X[:300])

    Path("/proc/self/clear_refs").write_text("5")
    before = bench.proc_status("VmRSS")
    AutoencoderTransformer(
        32,
        hidden_layer_sizes=(256,),
        max_iter=2,
        early_stopping=early_stopping,
        random_state=0,
    ).fit(X)
    extra = bench.proc_status("VmHWM") - before
    print(
        json.dumps(
            {
                "n_samples": n_samples,
                "early_stopping": early_stopping,
                "patched": patched,
                "peak_over_input": 1 + extra / X.nbytes,
            }
        )
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[0] == "memory-child":
        memory_child(int(argv[1]), bool(int(argv[2])), bool(int(argv[3])))
        return
    quick = "--quick" in argv
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    if argv[0] == "compile":
        results = experiment_compile(quick)
    elif argv[0] in ("net", "loss"):
        sys.exit(
            f"evidence_{argv[0]}.json holds this measurement, made on the code "
            "of its time; today's skae reads its data through ScaledRows, which "
            "the _net.py and _losses.py of that time do not know."
        )
    elif _ORIGINAL_BLOCK_ROWS is None:
        sys.exit(
            "The patch is already in skae/_base.py (commit 74a34f3); "
            "evidence_patch.json holds the measurement made before it."
        )
    else:
        results = experiment_patch(quick)
    payload = {
        "experiment": argv[0],
        "quick": quick,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "results": results,
    }
    (HERE / f"evidence_{argv[0]}.json").write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
