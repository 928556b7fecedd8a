"""skae's detector against PyOD's ``AutoEncoder`` with the same network.

The same layer widths, epochs, batch size and learning rate; PyOD's batch
normalization, dropout and weight decay are turned off, which skae's network
does not have. Fit time and test ROC-AUC on ODDS data sets, 60/40 splits.
"""

import _common as common
import numpy as np

from speed.plain import LEARNING_RATE, timed

BATCH_SIZE = 64


def pyod_scores(X_train, X_test, hidden, code, epochs, seed):
    """Test abnormality of PyOD's ``AutoEncoder`` (higher = more abnormal)."""
    from pyod.models.auto_encoder import AutoEncoder

    det = AutoEncoder(
        hidden_neuron_list=[hidden, code],
        epoch_num=epochs,
        batch_size=BATCH_SIZE,
        lr=LEARNING_RATE,
        batch_norm=False,
        dropout_rate=0.0,
        optimizer_params={"weight_decay": 0.0},
        preprocessing=True,
        device="cpu",
        random_state=seed,
        verbose=0,
    ).fit(X_train)
    return det.decision_function(X_test)


def skae_scores(X_train, X_test, hidden, code, epochs, seed):
    """Test abnormality of skae's detector with the same network."""
    from skae import AutoencoderOutlierDetector

    det = AutoencoderOutlierDetector(
        n_components=code,
        architecture="mlp",
        hidden_layer_sizes=(hidden,),
        max_iter=epochs,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        early_stopping=False,
        n_iter_no_change=epochs + 1,
        tol=0.0,
        scaling="standard",
        random_state=seed,
    ).fit(X_train)
    return -det.score_samples(X_test)


def bench_pyod(settings, log):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    epochs = settings["pyod_epochs"]
    rows = []
    for dataset in settings["pyod_datasets"]:
        if not common.has_data("odds", f"{dataset}.mat"):
            log(f"pyod: skipping {dataset}, not in the shared data folder")
            continue
        X, y = common.load_odds(dataset)
        X = X.astype(np.float32)
        hidden = 64 if X.shape[1] > 32 else 16
        code = max(2, min(32, X.shape[1] // 4))
        methods = {"skae": skae_scores, "pyod": pyod_scores}
        for run in methods.values():
            run(X[:200], X[:10], hidden, code, 1, 0)  # warm-up
        for rep in range(settings["pyod_reps"]):
            X_train, X_test, _, y_test = train_test_split(
                X, y, test_size=0.4, random_state=rep, stratify=y
            )
            args = (X_train, X_test, hidden, code, epochs, rep)
            row = {
                "dataset": dataset,
                "rep": rep,
                "layers": f"{X.shape[1]}-{hidden}-{code}-{hidden}-{X.shape[1]}",
                "epochs": epochs,
                "batch_size": BATCH_SIZE,
            }
            # Alternate which library goes first.
            for name in sorted(methods, reverse=rep % 2 == 1):
                scores, _, cpu = timed(methods[name], *args)
                row[f"{name}_cpu_s"] = cpu
                row[f"{name}_roc_auc"] = roc_auc_score(y_test, scores)
            row["pyod_over_skae_cpu"] = row["pyod_cpu_s"] / row["skae_cpu_s"]
            rows.append(row)
            log(
                f"pyod {dataset} rep {rep}: PyOD / skae time = "
                f"{row['pyod_over_skae_cpu']:.2f}"
            )
    return rows
