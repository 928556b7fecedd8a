"""
==========================================================
Choosing n_components and the architecture by grid search
==========================================================

:meth:`~skae.AutoencoderTransformer.score` returns minus the mean
reconstruction error, so :class:`~sklearn.model_selection.GridSearchCV` can
tune an autoencoder without a scorer or labels: it keeps the parameters that
reconstruct the held-out folds best. Here it chooses among code sizes and
between a linear autoencoder (whose best solution is PCA's subspace) and a
nonlinear one.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skae import AutoencoderTransformer

X, _ = load_digits(return_X_y=True)

param_grid = {
    "n_components": [2, 4, 8, 16],
    "architecture": ["linear", "mlp"],
}
search = GridSearchCV(
    AutoencoderTransformer(max_iter=60, random_state=0), param_grid, cv=3
).fit(X)
print("best parameters:", search.best_params_)
print(f"best score: {search.best_score_:.4f}")

# %%
# The results are in ``cv_results_``, as for any scikit-learn search:
results = pd.DataFrame(search.cv_results_)
table = results.pivot(
    index="param_n_components",
    columns="param_architecture",
    values="mean_test_score",
)
print(table.round(3))

# %%
# A larger code reconstructs better, so the search picks the largest
# one offered: the score says how much each extra component buys, and the
# choice of where to stop is yours (or set it by a downstream task, searching
# over a whole pipeline). The nonlinear network wins at every size here.
fig, ax = plt.subplots(figsize=(6, 4))
for architecture, marker in zip(param_grid["architecture"], "os", strict=True):
    rows = results[results["param_architecture"] == architecture]
    ax.errorbar(
        rows["param_n_components"].astype(int),
        -rows["mean_test_score"],
        yerr=rows["std_test_score"],
        marker=marker,
        capsize=3,
        label=f'architecture="{architecture}"',
    )
ax.set_xscale("log", base=2)
sizes = param_grid["n_components"]
ax.set_xticks(sizes, [str(k) for k in sizes])
ax.set_xlabel("n_components")
ax.set_ylabel("reconstruction error (-mean_test_score)")
ax.set_title("3-fold cross-validated reconstruction error on load_digits")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# ``score`` is measured after the estimator's internal scaling (in
# standardised units by default), whatever the units of ``X``. Scores are
# therefore comparable across parameters only for the same ``scaling`` and
# ``loss``: do not search over those two with the default scoring.
