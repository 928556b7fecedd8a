"""One-off measurements behind the speed README, beside ``bench_speed.py``.

Two experiments, each interleaved within its repetitions, CPU time, 1 thread:

``net``
    skae's ``fit`` with the training glue of an earlier commit (``skae/_net.py``
    read from git) against the current one and a plain PyTorch loop, plus
    cProfile summaries of both. Shows the effect of the ``_net.py`` changes.
``patch``
    The changes proposed for ``skae/_base.py`` (float32 in-place scaling,
    fused Adam, a cached float64 module), applied here by replacing methods
    of ``_BaseAutoencoder`` at run time, against the code as it is: fit and
    inference times, peak memory, and refit reproducibility.

Usage: ``python benchmarks/results/speed/evidence.py net|patch [--quick]``;
writes ``evidence_<name>.json`` next to this file.
"""

import copy
import importlib.util
import json
import math
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
from skae._base import _check_random_state, _resolve_device  # noqa: E402
from skae._net import NonFiniteLossError  # noqa: E402

OLD_NET_COMMIT = "9637713"
SCALE_CHUNK_ROWS = 4096


# ----------------------------------------------------------------------
# The proposed _base.py changes, as replacement methods
# ----------------------------------------------------------------------
def _scale(self, X, dtype=None, rows=None):
    dtype = np.dtype(dtype or X.dtype)
    if rows is None and X.dtype == dtype:
        Xs = np.subtract(X, self.center_.astype(dtype))
        Xs /= self.scale_.astype(dtype)
    else:
        n = len(X) if rows is None else len(rows)
        Xs = np.empty((n, X.shape[1]), dtype=dtype)
        for start in range(0, n, SCALE_CHUNK_ROWS):
            stop = start + SCALE_CHUNK_ROWS
            chunk = X[start:stop] if rows is None else X[rows[start:stop]]
            np.divide(
                chunk - self.center_,
                self.scale_,
                out=Xs[start:stop],
                casting="same_kind",
            )
    if self.loss == "bce":
        np.clip(Xs, 0, 1, out=Xs)
    return Xs


def _fit_scaling(self, X):
    method = self._scaling_method()
    n_features = X.shape[1]
    if method is None:
        center, scale = np.zeros(n_features), np.ones(n_features)
    elif method == "standard":
        center = X.mean(axis=0, dtype=np.float64)
        squares = np.zeros(n_features)
        for start in range(0, len(X), SCALE_CHUNK_ROWS):
            deviation = X[start : start + SCALE_CHUNK_ROWS] - center
            squares += np.einsum("ij,ij->j", deviation, deviation)
        scale = np.sqrt(squares / len(X))
    else:
        center = X.min(axis=0).astype(np.float64)
        scale = X.max(axis=0).astype(np.float64) - center
    scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(1, abs(center))] = 1
    self.center_ = center
    self.scale_ = scale


def _float64_module(self):
    module = self.net_.module_
    cached = self.__dict__.get("_module_float64")
    if cached is None or cached[0] is not module:
        cached = (module, copy.deepcopy(module).to(torch.float64))
        self.__dict__["_module_float64"] = cached
    return cached[1]


def _run(self, Xs, method):
    module = self.net_.module_
    device = self.net_.device
    outputs = []
    with torch.inference_mode():
        if Xs.dtype == np.float64:
            module = self._float64_module()
        for start in range(0, max(len(Xs), 1), base._INFERENCE_BATCH_SIZE):
            batch = torch.from_numpy(Xs[start : start + base._INFERENCE_BATCH_SIZE])
            outputs.append(method(module, batch.to(device)).cpu())
    return torch.cat(outputs).numpy()


def _fit(self, X):  # noqa: C901 - a copy of _base._fit, two lines changed
    """Fit scaling and network on validated ``X``; set fitted attributes."""
    n_samples, n_features = X.shape
    network, network_kwargs = self._check_params(n_features)
    self._check_noise()
    device = _resolve_device(self.device)
    self._fit_scaling(X)
    self._check_bce_range(X)

    random_state = _check_random_state(self.random_state)
    seed = random_state.randint(np.iinfo(np.int32).max)
    if self.early_stopping:
        n_valid = math.ceil(self.validation_fraction * n_samples)
        if n_samples - n_valid < 1:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction} of the data, which leaves no "
                f"training sample out of n_samples={n_samples}. Use more "
                "samples, a smaller validation_fraction, or "
                "early_stopping=False."
            )
        # Scaled straight into permuted order: one float32 copy, and
        # the two parts are views of it.
        Xs = self._scale(X, np.float32, rows=random_state.permutation(n_samples))
        X_valid, X_train = Xs[:n_valid], Xs[n_valid:]
    else:
        Xs = self._scale(X, dtype=np.float32)
        X_train, X_valid = Xs, None

    net = self._build_net(network, network_kwargs, device, X_valid)
    cuda_devices = [torch.device(device).index or 0] if device != "cpu" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        try:
            net.fit(torch.from_numpy(X_train).to(device))
        except NonFiniteLossError as exc:
            raise ValueError(
                f"Training diverged: the {self.loss} loss became {exc.loss} "
                f"at epoch {exc.epoch}. Likely causes: a learning rate too "
                f"high for this data (learning_rate_init="
                f"{self.learning_rate_init}), inputs with extreme values "
                f"(scaling={self.scaling!r}), or a penalty weight too large "
                f"(sparsity={self.sparsity}, beta={self.beta})."
            ) from None
    net.module_.eval()

    history = net.history
    self.net_ = net
    self.n_components_ = self._resolve_n_components(n_features)
    self.n_iter_ = len(history)
    self.loss_curve_ = list(history[:, "train_loss"])
    self.best_loss_ = float(np.min(self.loss_curve_))
    if self.early_stopping:
        self.validation_scores_ = [-loss for loss in history[:, "valid_loss"]]
        self.best_validation_score_ = float(np.max(self.validation_scores_))
    else:
        self.validation_scores_ = None
        self.best_validation_score_ = None


class FusedAdam(torch.optim.Adam):
    """Adam with ``fused=True`` (one kernel for all parameters)."""

    def __init__(self, params, **kwargs):
        super().__init__(params, fused=True, **kwargs)


class FusedAdamW(torch.optim.AdamW):
    """AdamW with ``fused=True``."""

    def __init__(self, params, **kwargs):
        super().__init__(params, fused=True, **kwargs)


_ORIGINAL = {}


def apply_patch(enable=True):
    """Install (or remove) the proposed methods on ``_BaseAutoencoder``."""
    cls = base._BaseAutoencoder
    names = {
        "_fit": _fit,
        "_scale": _scale,
        "_fit_scaling": _fit_scaling,
        "_run": _run,
        "_float64_module": _float64_module,
    }
    if not _ORIGINAL:
        _ORIGINAL.update({n: cls.__dict__.get(n) for n in names})
        _ORIGINAL["adam"] = base._OPTIMIZERS["adam"]
        _ORIGINAL["adamw"] = base._OPTIMIZERS["adamw"]
    for name, func in names.items():
        if enable:
            setattr(cls, name, func)
        elif _ORIGINAL[name] is None:
            if name in cls.__dict__:
                delattr(cls, name)
        else:
            setattr(cls, name, _ORIGINAL[name])
    base._OPTIMIZERS["adam"] = FusedAdam if enable else _ORIGINAL["adam"]
    base._OPTIMIZERS["adamw"] = FusedAdamW if enable else _ORIGINAL["adamw"]


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


def _memory_child(n_samples, patched):
    if patched:
        apply_patch()
    torch.set_num_threads(1)
    from skae import AutoencoderTransformer

    X = np.random.default_rng(0).random((n_samples, 784), dtype=np.float32)
    AutoencoderTransformer(2, max_iter=1, early_stopping=False).fit(X[:300])

    def status(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        return 0

    Path("/proc/self/clear_refs").write_text("5")
    before = status("VmRSS")
    AutoencoderTransformer(
        32,
        hidden_layer_sizes=(256,),
        max_iter=1,
        early_stopping=False,
        random_state=0,
    ).fit(X)
    print(json.dumps({"extra": status("VmHWM") - before, "input": X.nbytes}))


def experiment_patch(quick):
    reps = 3 if quick else 5
    results = {"fit": [], "inference": [], "memory": [], "reproducible": None}
    for name, X, hidden, code, epochs in cases(quick):
        times = {"plain": [], "current": [], "patched": []}
        for rep in range(reps):
            order = ["plain", "current", "patched"]
            for method in order[rep % 3 :] + order[: rep % 3]:
                if method == "plain":
                    times[method].append(
                        cpu_time(partial(bench.plain_fit, X, hidden, code, epochs))
                    )
                    continue
                apply_patch(method == "patched")
                est = bench.skae_estimator(hidden, code, epochs)
                times[method].append(cpu_time(partial(est.fit, X)))
        apply_patch(False)
        medians = {k: float(np.median(v)) for k, v in times.items()}
        results["fit"].append(
            {
                "case": name,
                "epochs": epochs,
                "cpu_s": medians,
                "ratio_current": medians["current"] / medians["plain"],
                "ratio_patched": medians["patched"] / medians["plain"],
            }
        )
        print(json.dumps(results["fit"][-1]), flush=True)

    X = bench.mnist_shaped(20_000)[0]
    est = bench.skae_estimator((256,), 32, 1).fit(X[:2000])
    network = est.net_.module_.network
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        for method in ("transform", "score_samples"):
            row = {"method": method, "dtype": np.dtype(dtype).name}
            times = {"plain": [], "current": [], "patched": []}
            one = {"current": [], "patched": []}
            for _ in range(reps):
                times["plain"].append(
                    cpu_time(lambda m=method: bench._plain_forward(network, X, m))
                )
                for version in ("current", "patched"):
                    apply_patch(version == "patched")
                    call = getattr(est, method)
                    times[version].append(cpu_time(partial(call, Xd)))
                    one[version].append(
                        bench._median_call_seconds(partial(call, Xd[:1]), 200)
                    )
            apply_patch(False)
            for version in ("current", "patched"):
                row[f"ratio_{version}"] = float(
                    np.median(times[version]) / np.median(times["plain"])
                )
                row[f"one_row_us_{version}"] = 1e6 * float(np.median(one[version]))
            results["inference"].append(row)
            print(json.dumps(row), flush=True)

    for patched in (False, True):
        out = subprocess.run(
            [sys.executable, __file__, "memory-child", "20000", str(int(patched))],
            capture_output=True,
            text=True,
            check=True,
        )
        mem = json.loads(out.stdout.strip().splitlines()[-1])
        results["memory"].append(
            {
                "patched": patched,
                "peak_over_float32_input": 1 + mem["extra"] / mem["input"],
            }
        )
        print(json.dumps(results["memory"][-1]), flush=True)

    apply_patch(True)
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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[0] == "memory-child":
        _memory_child(int(argv[1]), bool(int(argv[2])))
        return
    quick = "--quick" in argv
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    if argv[0] == "net":
        results = experiment_net(quick)
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
