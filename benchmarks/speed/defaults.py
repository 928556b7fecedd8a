"""How long ``fit`` takes with default parameters."""

import _common as common
from sklearn.datasets import load_digits

from speed.plain import timed


def bench_defaults(settings, log):
    from skae import AutoencoderOutlierDetector, AutoencoderTransformer

    rows = []
    for name in settings["defaults"]:
        if name == "digits":
            X = load_digits().data
        elif common.has_data("mnist"):
            X = common.load_mnist()[0]
        else:
            continue
        for estimator in (
            AutoencoderTransformer(random_state=0),
            AutoencoderOutlierDetector(random_state=0),
        ):
            _, wall, cpu = timed(estimator.fit, X)
            rows.append(
                {
                    "data": name,
                    "shape": f"{X.shape[0]}x{X.shape[1]}",
                    "estimator": type(estimator).__name__,
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "n_iter_": estimator.n_iter_,
                }
            )
            log(f"defaults {name} {type(estimator).__name__}: {cpu:.1f} s CPU")
    return rows
