"""
=============================================
Why is this an outlier? Per-feature errors
=============================================

An autoencoder explains its own outlier scores: most of the score of a
sample is minus its reconstruction error averaged over features, and
:meth:`~skae.AutoencoderOutlierDetector.feature_errors` returns that error
feature by feature (the rest, how unlikely the sample's code is, belongs to no
feature). The features a sample's row is large in are those the
model could not rebuild from what it learned of normal data: the features
that make the sample an outlier.

The data are scikit-learn's breast cancer measurements, whose 30 features
have names: benign tumours as the normal class, with 20 malignant ones mixed
into the training data as unlabeled outliers, as happens in practice.
"""

# %%
# Fit a detector on contaminated data
# -----------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score

from skae import AutoencoderOutlierDetector

data = load_breast_cancer(as_frame=True)
X_all, malignant_all = data.data, data.target == 0
rng = np.random.RandomState(0)
planted = rng.choice(np.flatnonzero(malignant_all), size=20, replace=False)
rows = np.concatenate([np.flatnonzero(~malignant_all), planted])
X, malignant = X_all.iloc[rows], malignant_all.iloc[rows].to_numpy()
print(f"{len(X)} tumours, {malignant.sum()} malignant ({malignant.mean():.1%})")

detector = AutoencoderOutlierDetector(
    contamination=malignant.mean(), random_state=0
).fit(X)
scores = detector.score_samples(X)
print(
    f"ROC-AUC of the scores against the labels: {roc_auc_score(malignant, -scores):.3f}"
)

# %%
# The most abnormal tumours, feature by feature
# ---------------------------------------------
# ``feature_errors`` keeps the feature names of the DataFrame it is given.
# Each row averages to the tumour's reconstruction term; minus the score adds
# the code term. The rows of the ten most abnormal tumours, shown as shares of
# their total, say where each one's reconstruction error comes from.
errors = detector.feature_errors(X)
code_term = -scores - errors.mean(axis=1).to_numpy()
top = np.argsort(scores)[:10]
share = np.median(code_term[top] / -scores[top])
print(f"Code term in minus the score of the 10 most abnormal: {share:.0%} (median)")

shares = errors.iloc[top].div(errors.iloc[top].sum(axis=1), axis=0)
labels = [
    f"#{rank + 1} ({'malignant' if malignant[i] else 'benign'})"
    for rank, i in enumerate(top)
]

fig, ax = plt.subplots(figsize=(11, 5))
image = ax.imshow(shares.to_numpy(), cmap="viridis", aspect="auto")
ax.set_xticks(range(X.shape[1]), X.columns, rotation=90, fontsize=8)
ax.set_yticks(range(len(top)), labels, fontsize=8)
ax.set_xlabel("feature")
ax.set_ylabel("tumour, most abnormal first")
fig.colorbar(image, ax=ax, label="share of the tumour's reconstruction error")
ax.set_title("Where the error of the 10 most abnormal tumours comes from")
fig.tight_layout()
plt.show()

# %%
# Which features drive the outliers, and in which direction
# ---------------------------------------------------------
# Averaged over the flagged tumours, a few features carry most of the error.
# The bars also say whether these tumours measure above or below the median
# of the benign ones on each feature.
flagged = detector.predict(X) == -1
mean_share = (errors[flagged].T / errors[flagged].sum(axis=1)).T.mean()
leading = mean_share.sort_values(ascending=False).head(10)
benign_median = X[~malignant].median()
above = (X[flagged][leading.index].median() > benign_median[leading.index]).to_numpy()

fig, ax = plt.subplots(figsize=(8, 4.5))
ax.barh(
    leading.index[::-1],
    leading.to_numpy()[::-1],
    color=np.where(above[::-1], "tab:red", "tab:blue"),
)
ax.set_xlabel("mean share of the reconstruction error, flagged tumours")
ax.set_title(
    f"The 10 features that explain most of the {flagged.sum()} flagged tumours\n"
    "(red: flagged tumours measure above the benign median; blue: below)"
)
fig.tight_layout()
plt.show()

n_flagged, share_malignant = flagged.sum(), malignant[flagged].mean()
print(f"{n_flagged} tumours flagged, {share_malignant:.0%} of them malignant")
for name, share, high in zip(leading.index, leading, above, strict=True):
    print(
        f"  {name:<25} {share:5.1%} of the error, {'above' if high else 'below'} benign"
    )

# %%
# Does this match what is known?
# ------------------------------
# Malignant breast tumours are known to be larger and more irregular than
# benign ones: the dataset's own description, and the study it comes from
# (Street, Wolberg and Mangasarian, 1993), single out the size features
# (radius, perimeter, area), especially their largest ("worst") values, and
# the concavity of the contour (concavity, concave points). How many of the
# features the detector blames most are of these kinds, and do the flagged
# tumours measure above the benign ones there?
markers = ("radius", "perimeter", "area", "concav")
is_marker = np.array([any(word in name for word in markers) for name in leading.index])
print(
    f"{is_marker.sum()} of the {len(leading)} leading features are size or "
    f"concavity features; {(is_marker & above).sum()} of them with the flagged "
    "tumours above the benign median"
)
