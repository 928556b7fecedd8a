"""
==========================================================
Choosing n_components and the architecture by grid search
==========================================================

:func:`skae.metrics.reconstruction_scorer` measures how well a transformer
rebuilds held-out data: minus the mean squared error of
``inverse_transform(transform(X))``, in the units of ``X``. Any transformer
with ``inverse_transform`` is measured the same way, so
:class:`~sklearn.model_selection.GridSearchCV` can compare
:class:`~sklearn.decomposition.PCA` and autoencoders without labels. Here it
chooses among code sizes, between PCA, a linear autoencoder (whose best
solution is PCA's subspace) and a nonlinear one.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skae import AutoencoderTransformer
from skae.metrics import reconstruction_scorer

X, _ = load_digits(return_X_y=True)

# %%
# PCA and the autoencoders are values of one pipeline step, each with its own
# grid; the scorer puts them on one scale. PCA's own ``score`` is a
# log-likelihood, and the autoencoder's a squared error: without
# ``scoring``, the search would compare the two and pick nonsense.
sizes = [2, 4, 8, 16]
param_grid = [
    {"reduce": [PCA()], "reduce__n_components": sizes},
    {
        "reduce": [AutoencoderTransformer(max_iter=60, random_state=0)],
        "reduce__n_components": sizes,
        "reduce__architecture": ["linear", "mlp"],
    },
]
search = GridSearchCV(
    Pipeline([("reduce", PCA())]), param_grid, scoring=reconstruction_scorer, cv=3
).fit(X)
print("best:", search.best_estimator_[0])
print(f"best score: {search.best_score_:.3f} (minus the squared error, pixels)")

# %%
# The results are in ``cv_results_``, as for any scikit-learn search:
results = pd.DataFrame(search.cv_results_)
results["model"] = [
    "PCA"
    if isinstance(params["reduce"], PCA)
    else f'architecture="{params["reduce__architecture"]}"'
    for params in search.cv_results_["params"]
]
results["n_components"] = results["param_reduce__n_components"].astype(int)
table = results.pivot(index="n_components", columns="model", values="mean_test_score")
print(table.round(3))

# %%
# A larger code reconstructs better, so the search picks the largest one
# offered: the score says how much each extra component buys, and the choice
# of where to stop is yours (or set it by a downstream task, searching over a
# whole pipeline with a classifier at its end). The nonlinear network beats
# PCA at every size here; the linear one, whose best solution spans PCA's
# subspace, ends within a few percent of PCA's error.
fig, ax = plt.subplots(figsize=(6, 4))
for (model, rows), marker in zip(results.groupby("model"), "o^s", strict=True):
    ax.errorbar(
        rows["n_components"],
        -rows["mean_test_score"],
        yerr=rows["std_test_score"],
        marker=marker,
        capsize=3,
        label=model,
    )
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(k) for k in sizes])
ax.set_xlabel("n_components")
ax.set_ylabel("squared error, pixels (-mean_test_score)")
ax.set_title("3-fold cross-validated reconstruction error on load_digits")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# The error is measured in the units of ``X`` for every candidate: the
# autoencoder's internal scaling (``scaling``) is undone before comparing,
# and a binary cross-entropy (``loss="bce"``) model is measured by its
# squared error too. So ``scaling`` and ``loss`` can be searched like any
# other parameter. :meth:`~skae.AutoencoderTransformer.score` gives the same
# value as the scorer, so a search over autoencoders alone needs no
# ``scoring``. To weigh features in different units alike, standardise ``X``
# before the search: the error is then measured in standard deviations.
