"""
=====================================
A two-dimensional map of the digits
=====================================

With ``n_components=2`` a reducer draws the data on a plane. PCA's plane is the
one that keeps the most variance; an autoencoder's plane is whatever code
lets its decoder rebuild the images best, and may bend the data to get there.
Neither sees the labels: the colours are added afterwards to show how well
each map keeps the ten digits apart.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from skae import AutoencoderTransformer

X, y = load_digits(return_X_y=True)

pca_codes = PCA(n_components=2).fit_transform(X)
ae = AutoencoderTransformer(n_components=2, max_iter=150, random_state=0)
ae_codes = ae.fit_transform(X)
print(f"autoencoder: {ae.n_iter_} epochs")

# %%
# How well do the two codes separate the classes? The 5-fold accuracy of a
# 5-nearest-neighbour classifier that sees only the two numbers of each code
# puts a figure on it.
knn = KNeighborsClassifier(n_neighbors=5)
accuracy = {
    name: cross_val_score(knn, codes, y, cv=5).mean()
    for name, codes in [("PCA", pca_codes), ("autoencoder", ae_codes)]
}
for name, value in accuracy.items():
    print(f"{name:>12}: 5-NN accuracy on the 2-D code = {value:.2f}")

# %%
# The two maps, one colour per digit:
fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), layout="constrained")
for ax, (name, codes) in zip(
    axes, [("PCA", pca_codes), ("autoencoder", ae_codes)], strict=True
):
    points = ax.scatter(
        codes[:, 0], codes[:, 1], c=y, cmap="tab10", s=8, vmin=-0.5, vmax=9.5
    )
    # A few points lie far out; frame the central 99% of each code.
    low, high = np.percentile(codes, [0.5, 99.5], axis=0)
    margin = 0.05 * (high - low)
    ax.set_xlim(low[0] - margin[0], high[0] + margin[0])
    ax.set_ylim(low[1] - margin[1], high[1] + margin[1])
    ax.set_title(f"{name} (5-NN accuracy {accuracy[name]:.2f})")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
colorbar = fig.colorbar(points, ax=axes, ticks=range(10))
colorbar.set_label("digit")
fig.suptitle("load_digits projected to two dimensions")
plt.show()

# %%
# PCA's two directions of largest variance leave most digits on top of each
# other. The autoencoder spends its two numbers on what distinguishes the
# images, which mostly is which digit they show, so the classes come apart.
# (Each panel frames the central 99% of its points: the autoencoder places a
# few unusual digits far out.) Its axes have no meaning of their own: another
# ``random_state`` gives a rotated or mirrored map of much the same quality.
