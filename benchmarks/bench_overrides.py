"""What each of AutoencoderNet's speed overrides is worth in fit time.

``skae._net.AutoencoderNet`` overrides two skorch methods where speed is at
stake: ``train_step_single`` switches the module to training mode only when
it is not in it, and ``get_default_callbacks`` records epoch losses with
:class:`skae._callbacks.EpochLoss` instead of skorch's
``PassthroughScoring``. An override kept for speed must save at least 5% of
the fit time of a small network. This script fits the same small dense
network (2,000 x 20 float32 rows, one hidden layer of 64 units, code of 8,
50 epochs, no early stopping) with ``AutoencoderNet`` and with nets that put
skorch's own behaviour back, one override at a time and all together,
interleaved, and reports each variant's median CPU time relative to skae's
(median over repetitions of the ratio to skae's fit of the same
repetition).

Run ``python benchmarks/bench_overrides.py --help`` for the options.
"""

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from skorch import NeuralNet

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

from skae import AutoencoderTransformer  # noqa: E402
from skae._net import AutoencoderNet  # noqa: E402

NAME = "overrides"
REPETITIONS = {"full": 25, "quick": 5, "smoke": 1}
EPOCHS = {"full": 50, "quick": 20, "smoke": 2}
#: Smallest share of fit time an override must save to stay.
WORTH = 0.05


class SkorchMode(AutoencoderNet):
    """Switches to training mode at every batch, as skorch does."""

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = batch
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, None, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}


class SkorchScoring(AutoencoderNet):
    """Records epoch losses with skorch's ``PassthroughScoring``."""

    def get_default_callbacks(self):
        return [
            (name, cb)
            for name, cb in NeuralNet.get_default_callbacks(self)
            if name != "print_log"
        ]


class SkorchBoth(SkorchMode, SkorchScoring):
    """Both of skorch's behaviours back."""


VARIANTS = {
    "skae": AutoencoderNet,
    "training mode at every batch": SkorchMode,
    "PassthroughScoring": SkorchScoring,
    "both of skorch's": SkorchBoth,
}


def fit_seconds(net_class, X, epochs):
    """CPU time of one fit of the small network trained by ``net_class``."""
    estimator_class = type(
        "Timed", (AutoencoderTransformer,), {"_net_class": net_class}
    )
    estimator = estimator_class(
        architecture="mlp",
        hidden_layer_sizes=(64,),
        n_components=8,
        max_iter=epochs,
        early_stopping=False,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )
    start = time.process_time()
    estimator.fit(X)
    seconds = time.process_time() - start
    assert estimator.n_iter_ == epochs
    return seconds


def main(argv=None):
    """Time the variants; return the per-repetition times."""
    parser = _common.make_parser(NAME, __doc__.splitlines()[0])
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    mode = _common.mode_name(args)
    progress = _common.Progress(NAME)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 8)) @ rng.normal(size=(8, 20))
    X = X.astype(np.float32)
    with _common.limit_threads(args.threads):
        started, git = _common.utc_now(), _common.git_state()
        args.out.mkdir(parents=True, exist_ok=True)
        rows = []
        for repetition in range(REPETITIONS[mode]):
            for name, net_class in VARIANTS.items():
                rows.append(
                    {
                        "repetition": repetition,
                        "variant": name,
                        "seconds": fit_seconds(net_class, X, EPOCHS[mode]),
                    }
                )
            progress(f"repetition {repetition} done")
        times = pd.DataFrame(rows)
        per_rep = times.pivot(index="repetition", columns="variant", values="seconds")
        summary = pd.DataFrame(
            {
                "variant": list(VARIANTS),
                "median fit (s)": [per_rep[v].median() for v in VARIANTS],
                "time relative to skae": [
                    float(np.median(per_rep[v] / per_rep["skae"])) for v in VARIANTS
                ],
            }
        )
        summary["override kept (saves >= 5%)"] = [
            "" if v == "skae" else ("yes" if r >= 1 + WORTH else "no")
            for v, r in zip(
                summary["variant"], summary["time relative to skae"], strict=True
            )
        ]
        times.to_csv(args.out / "runs.csv", index=False)
        summary.to_csv(args.out / "summary.csv", index=False)
        (args.out / "README.md").write_text(
            "# What AutoencoderNet's speed overrides are worth "
            f"({mode} mode)\n\n"
            f"Generated by `benchmarks/bench_overrides.py` on commit "
            f"{git['commit'][:7]}"
            f"{' (uncommitted changes)' if git['dirty'] else ' (clean tree)'}; "
            "see `meta.json`. CPU time of `fit` of a dense network (2,000 x 20 "
            f"float32 rows, 64 hidden units, code of 8, {EPOCHS[mode]} epochs), "
            "each variant putting back skorch's own behaviour; "
            f"{REPETITIONS[mode]} interleaved repetitions; the ratio is the "
            "median over repetitions of the variant's time over skae's in the "
            "same repetition.\n\n" + _common.markdown_table(summary) + "\n"
        )
        _common.write_meta(
            args.out,
            argv,
            started=started,
            git=git,
            seconds=progress.elapsed,
            settings={
                "mode": mode,
                "repetitions": REPETITIONS[mode],
                "epochs": EPOCHS[mode],
                "threads": args.threads,
                "worth": WORTH,
            },
        )
        print(_common.markdown_table(summary), flush=True)
        return times


if __name__ == "__main__":
    main()
