"""``fit`` against a plain PyTorch loop of the same network.

skae trains with ``early_stopping=False``, ``tol=0`` and ``n_iter_no_change``
above ``max_iter``, so it runs exactly the loop's epochs, and with
``scaling=None`` on data already in [0, 1] (MNIST) or standardized
(tabular), so both train on the same numbers; ``skae_standard`` adds skae's
default per-feature standardization, applied to each batch as it is read.
"""

from functools import partial

from speed.plain import (
    interleaved,
    median,
    mnist_shaped,
    plain_fit,
    skae_adam_options,
    skae_estimator,
    tabular,
)


def cases(settings):
    """(name, X, data source, hidden widths, n_components, epochs, reps).

    The tabular fit takes a fraction of a second, so a burst of load from
    other jobs moves one timing by 20% or more: it gets more repetitions.
    """
    rows = [
        (
            f"mnist-shaped {n // 1000}k x 784",
            *mnist_shaped(n),
            (256,),
            32,
            epochs,
            settings["reps"],
        )
        for n, epochs in zip(
            settings["mnist_rows"], settings["mnist_epochs"], strict=True
        )
    ]
    rows.append(
        (
            "tabular 2k x 20",
            tabular(2_000, 20),
            "synthetic",
            (64,),
            5,
            settings["tabular_epochs"],
            settings["tabular_reps"],
        )
    )
    return rows


def bench_fit(settings, log):
    adam_options = skae_adam_options()
    rows = []
    for name, X, source, hidden, n_components, epochs, reps in cases(settings):
        # An untimed run of each warms up allocators and lazy imports.
        plain_fit(X[:512], hidden, n_components, 1)
        skae_estimator(hidden, n_components, 1).fit(X[:512])
        args = (hidden, n_components, epochs)
        methods = {
            "plain": partial(plain_fit, X, *args, adam_options=adam_options),
            "skae": partial(skae_estimator(*args).fit, X),
            "skae_standard": partial(skae_estimator(*args, scaling="standard").fit, X),
        }
        times = interleaved(methods, reps)
        row = {
            "case": name,
            "data": source,
            "n_samples": len(X),
            "n_features": X.shape[1],
            "hidden": str(hidden),
            "n_components": n_components,
            "epochs": epochs,
            "reps": reps,
        }
        for method, clocks in times.items():
            for clock, values in clocks.items():
                row[f"{method}_{clock}_s"] = median(values)
        plain = row["plain_cpu_s"]
        row["ratio_cpu"] = row["skae_cpu_s"] / plain
        row["ratio_wall"] = row["skae_wall_s"] / row["plain_wall_s"]
        paired = [
            s / p
            for s, p in zip(times["skae"]["cpu"], times["plain"]["cpu"], strict=True)
        ]
        row["ratio_cpu_min"], row["ratio_cpu_max"] = min(paired), max(paired)
        row["ratio_cpu_standard"] = row["skae_standard_cpu_s"] / plain
        rows.append(row)
        log(f"fit {name}: skae / plain = {row['ratio_cpu']:.3f} (CPU)")
    return rows


def bench_sweep(settings, log):
    """Seconds per epoch, skae and plain, against rows and against features."""
    epochs = 2
    adam_options = skae_adam_options()
    big, source = mnist_shaped(max(settings["sweep_rows"]))
    sweep = [("rows", n, big[:n], source) for n in settings["sweep_rows"]]
    sweep += [
        ("features", 5_000, tabular(5_000, d, seed=1), "synthetic")
        for d in settings["sweep_features"]
    ]
    rows = []
    for axis, n_samples, X, data in sweep:
        n_features = X.shape[1]
        hidden, code = ((256,), 32) if n_features >= 64 else ((64,), n_features // 4)
        methods = {
            "plain": partial(
                plain_fit, X, hidden, code, epochs, adam_options=adam_options
            ),
            "skae": partial(skae_estimator(hidden, code, epochs).fit, X),
        }
        times = interleaved(methods, settings["sweep_reps"])
        row = {
            "axis": axis,
            "n_samples": n_samples,
            "n_features": n_features,
            "data": data,
            "hidden": str(hidden),
            "n_components": code,
            "plain_cpu_s_per_epoch": median(times["plain"]["cpu"]) / epochs,
            "skae_cpu_s_per_epoch": median(times["skae"]["cpu"]) / epochs,
        }
        row["ratio_cpu"] = row["skae_cpu_s_per_epoch"] / row["plain_cpu_s_per_epoch"]
        rows.append(row)
        log(f"sweep {axis} n={n_samples} d={n_features}: ratio {row['ratio_cpu']:.3f}")
    return rows
