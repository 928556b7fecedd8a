"""
==============================================
New digits from a variational autoencoder
==============================================

With ``variational=True`` the encoder gives, for each image, a Gaussian
distribution over codes instead of a single code, and training pulls these
distributions towards a standard normal prior (weighted by ``beta``). Any code
drawn from that prior then decodes to a plausible image, so the model can
*generate* data with :meth:`~skae.AutoencoderTransformer.sample`, and the
space between two codes is filled with images that morph from one into the
other.
"""

# %%
# A variational autoencoder on the digits
# ---------------------------------------
# The images are reconstructed with a binary cross-entropy (``loss="bce"``),
# the usual choice for pixel intensities; the estimator then min-max scales
# each pixel to [0, 1] itself (``scaling="auto"``), and the decoder's sigmoid
# keeps its output in each pixel's range. A two-number code keeps the model
# small and lets us draw the whole code space at the end.
#
# ``beta=0.5`` weighs the prior less than the reconstruction: the decoded
# images are sharper, and codes drawn from the prior still fall where the
# training codes are. The validation loss of a variational autoencoder is
# noisy (its codes are drawn at random while training), so early stopping
# waits 40 epochs for an improvement rather than the default 10. With
# ``beta=1`` and a patience of 20, a logistic regression trained on the
# digits is at least 80 % sure of the class of half to two thirds of the
# samples (over three seeds); with these settings, of three quarters, and
# of 87 % of the real digits.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skae import AutoencoderTransformer

X, y = load_digits(return_X_y=True)
vae = AutoencoderTransformer(
    n_components=2,
    variational=True,
    beta=0.5,
    loss="bce",
    hidden_layer_sizes=(256, 128),
    max_iter=300,
    n_iter_no_change=40,
    random_state=0,
).fit(X)
print(f"trained for {vae.n_iter_} epochs")


def show(images, axes):
    for ax, image in zip(np.ravel(axes), images, strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ax.set_xticks([])
        ax.set_yticks([])


# %%
# Sampling
# --------
# :meth:`~skae.AutoencoderTransformer.sample` draws codes from the prior and
# decodes them, in the units of the training data, each pixel within its
# training range (0 to 16 at most here). These digits are new: none of them
# is in ``load_digits``.
fig, axes = plt.subplots(3, 10, figsize=(8, 2.7))
show(vae.sample(30, random_state=0), axes)
fig.suptitle("30 digits sampled from the variational autoencoder")
fig.tight_layout()

# %%
# Interpolating between two digits
# --------------------------------
# :meth:`~skae.AutoencoderTransformer.transform` gives the mean code of each
# image. Codes on the segment between a "0" and a "6" decode, through
# :meth:`~skae.AutoencoderTransformer.inverse_transform`, to a gradual change.
start, end = X[y == 0][0], X[y == 6][0]
codes = vae.transform(np.vstack([start, end]))
weights = np.linspace(0, 1, 10)[:, np.newaxis]
path = (1 - weights) * codes[0] + weights * codes[1]

fig, axes = plt.subplots(2, 10, figsize=(8, 2))
show(vae.inverse_transform(path), axes[1])
show([start], axes[0, :1])
show([end], axes[0, -1:])
for ax in axes[0, 1:-1]:
    ax.set_axis_off()
axes[0, 0].set_ylabel("input", rotation=0, ha="right", va="center")
axes[1, 0].set_ylabel("decoded", rotation=0, ha="right", va="center")
fig.suptitle('From a "0" to a "6" in code space')
fig.tight_layout()

# %%
# The whole code space
# --------------------
# With two components the decoder can be drawn on a grid of codes. The grid
# spans two standard deviations of the prior either way, where nearly all
# sampled codes fall.
n = 12
grid = np.linspace(-2, 2, n)
z1, z2 = np.meshgrid(grid, grid[::-1])
images = vae.inverse_transform(np.column_stack([z1.ravel(), z2.ravel()]))
# Tile the 8x8 images on one canvas, with a blank border of 1 pixel each.
tiles = np.pad(images.reshape(n, n, 8, 8), ((0, 0), (0, 0), (1, 1), (1, 1)))
canvas = tiles.transpose(0, 2, 1, 3).reshape(10 * n, 10 * n)
half_step = (grid[1] - grid[0]) / 2

fig, ax = plt.subplots(figsize=(6, 6))
ax.imshow(
    canvas,
    cmap="gray_r",
    vmin=0,
    vmax=16,
    extent=(
        grid[0] - half_step,
        grid[-1] + half_step,
        grid[0] - half_step,
        grid[-1] + half_step,
    ),
)
ax.set_xlabel("code component 1")
ax.set_ylabel("code component 2")
ax.set_title("Decoded digits over the two-dimensional code space")
plt.show()
