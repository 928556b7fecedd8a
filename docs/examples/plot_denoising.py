"""
==========================
Denoising noisy digits
==========================

A denoising autoencoder is trained to rebuild each *clean* training image from
a corrupted copy of it (``noise``: Gaussian noise of that standard deviation is
added to the input at every training step, never at prediction time). It
learns what digits look like, so it can also clean up noisy images it has
never seen. Here PCA, a plain autoencoder and a denoising autoencoder of the
same code size are given held-out digits covered in noise.
"""

# %%
# Data
# ----
# The pixels are divided by 16 so that they lie in [0, 1], and the estimators
# get ``scaling=None``: the images are then used as they are, and ``noise`` is
# in the same units as the pixels. (With the default standardisation,
# ``noise`` would be in standard deviations of each pixel, and the nearly
# constant border pixels would be drowned.)
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test = train_test_split(X, test_size=0.25, stratify=y, random_state=0)

rng = np.random.RandomState(0)
X_noisy = X_test + 0.3 * rng.normal(size=X_test.shape)

# %%
# Three models with a 16-number code
# ----------------------------------
# All three are fitted on clean images only.
common = {"n_components": 16, "scaling": None, "max_iter": 150, "random_state": 0}
models = {
    "PCA": PCA(n_components=16),
    "autoencoder": AutoencoderTransformer(**common),
    "denoising AE": AutoencoderTransformer(noise=0.3, **common),
}
denoised = {}
for name, model in models.items():
    model.fit(X_train)
    denoised[name] = model.inverse_transform(model.transform(X_noisy))
    mse = np.mean((denoised[name] - X_test) ** 2)
    print(f"{name:>13}: MSE to the clean digits = {mse:.4f}")
print(
    f"{'noisy input':>13}: MSE to the clean digits = "
    f"{np.mean((X_noisy - X_test) ** 2):.4f}"
)

# %%
# The first ten held-out digits, with noise, and as each model restores them:
rows = {"clean": X_test, "noisy input": X_noisy, **denoised}
fig, axes = plt.subplots(len(rows), 10, figsize=(8, 4.6))
for row, (name, images) in zip(axes, rows.items(), strict=True):
    for ax, image in zip(row, images, strict=False):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name, rotation=0, ha="right", va="center")
fig.suptitle("Held-out digits with Gaussian noise (sd 0.3), restored")
fig.tight_layout()
plt.show()

# %%
# Every model removes much of the noise, because a 16-number code cannot
# carry it. The plain autoencoder, which only ever saw clean digits, does
# worse than PCA here: noisy inputs lie away from the data it was trained on,
# where nothing constrains what its nonlinear encoder does with them. The
# denoising autoencoder has learnt during training to map corrupted images to
# clean ones, and its output is the closest to the clean digits.
# ``noise_type="masking"`` trains it on images with pixels dropped at random
# instead.
