"""
=========================================
Reconstructing digits: autoencoder vs PCA
=========================================

PCA and :class:`~skae.AutoencoderTransformer` both compress each 8x8 image of
scikit-learn's ``load_digits`` into ``n_components`` numbers and map them back
to 64 pixels. PCA's map is linear; the autoencoder's is a small neural network,
so for the same code size it can follow the curved shape of the data and
reconstruct held-out digits more faithfully.
"""

# %%
# Data
# ----
# 1,797 images of 8x8 pixels with values from 0 to 16. A quarter is held out:
# every reconstruction below is of digits neither model saw while fitting.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer

X, y = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.25, stratify=y, random_state=0)

# %%
# Same code size, two models
# --------------------------
# The autoencoder standardises the pixels itself (``scaling="auto"``) and
# reconstructs in pixel units, so it is used exactly like PCA. ``max_iter`` is
# an upper bound: early stopping ends training when the held-out part of the
# training data stops improving.
n_components = 8
pca = PCA(n_components=n_components).fit(X_train)
ae = AutoencoderTransformer(
    n_components=n_components, max_iter=100, random_state=0
).fit(X_train)


def reconstruct(model, X):
    return model.inverse_transform(model.transform(X))


for name, model in [("PCA", pca), ("autoencoder", ae)]:
    mse = np.mean((reconstruct(model, X_test) - X_test) ** 2)
    print(f"{name:>12}: held-out reconstruction MSE = {mse:.2f} (pixel units²)")

# %%
# The first twelve held-out digits and their reconstructions:
rows = {
    "original": X_test,
    "PCA": reconstruct(pca, X_test),
    "autoencoder": reconstruct(ae, X_test),
}
fig, axes = plt.subplots(3, 12, figsize=(9, 2.9))
for row, (name, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(row, images, strict=False):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name, rotation=0, ha="right", va="center")
fig.suptitle(f"Held-out digits compressed to {n_components} numbers and back")
fig.tight_layout()

# %%
# Error against code size
# -----------------------
# The autoencoder's advantage is largest for small codes. As ``n_components``
# grows, PCA keeps more and more of the variance and the gap narrows: with a
# large code a linear map does most of the work, and PCA finds the best one
# exactly, in a fraction of the time. The default network starts from PCA's
# solution and keeps only the corrections that help on held-out rows, so its
# error stays below PCA's.
sizes = [2, 4, 8, 16, 32]
errors = {"PCA": [], "autoencoder": []}
for k in sizes:
    models = {
        "PCA": PCA(n_components=k),
        "autoencoder": AutoencoderTransformer(
            n_components=k, max_iter=100, random_state=0
        ),
    }
    for name, model in models.items():
        model.fit(X_train)
        errors[name].append(np.mean((reconstruct(model, X_test) - X_test) ** 2))

fig, ax = plt.subplots(figsize=(6, 4))
for (name, values), marker in zip(errors.items(), "os", strict=True):
    ax.plot(sizes, values, marker=marker, label=name)
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(k) for k in sizes])
ax.set_xlabel("n_components (size of the code)")
ax.set_ylabel("held-out reconstruction MSE (pixel units²)")
ax.set_title("Reconstruction error of held-out digits")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
