"""
=================================
Loss curve and early stopping
=================================

An autoencoder trains for up to ``max_iter`` epochs. With
``early_stopping=True`` (the default) it holds out ``validation_fraction`` of
the training data, measures the reconstruction loss on it after every epoch,
and stops once that loss has not improved by ``tol`` for ``n_iter_no_change``
epochs. The weights of the best epoch are restored. The fitted estimator
keeps the whole history, in the attributes scikit-learn's
:class:`~sklearn.neural_network.MLPRegressor` uses.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skae import AutoencoderTransformer

X, _ = load_digits(return_X_y=True)

# %%
# A wide network on a small dataset: it will start to fit the noise of its
# training rows before ``max_iter`` is reached.
ae = AutoencoderTransformer(
    n_components=16,
    hidden_layer_sizes=(256, 128),
    max_iter=300,
    n_iter_no_change=15,
    random_state=0,
).fit(X)

train_loss = np.asarray(ae.loss_curve_)
valid_loss = -np.asarray(ae.validation_scores_)  # scores are negative losses
best_epoch = int(np.argmax(ae.validation_scores_)) + 1
print(f"epochs run (n_iter_):         {ae.n_iter_}")
print(f"best validation epoch:        {best_epoch}")
print(f"best_validation_score_:       {ae.best_validation_score_:.4f}")
print(f"lowest training loss (best_loss_): {ae.best_loss_:.4f}")

# %%
# Reading the curve
# -----------------
# Both losses are the mean squared error per feature in the network's scaled
# units (the loss it minimises): with the default ``scaling="global"``, the
# pixels centred and divided by one common scale, so that a loss of 1 is the
# mean variance of the non-constant pixels. The training loss keeps falling,
# while the validation loss levels off: the widening gap is what the network learns
# about its own training rows that does not carry over to new ones. Training
# stopped ``n_iter_no_change`` epochs after the best validation epoch, and the
# model kept is the one from that epoch.
epochs = np.arange(1, ae.n_iter_ + 1)
fig, ax = plt.subplots(figsize=(7, 4.2))
ax.plot(epochs, train_loss, label="training loss (loss_curve_)")
ax.plot(epochs, valid_loss, label="validation loss (-validation_scores_)")
ax.axvline(best_epoch, color="k", ls="--", lw=1, label=f"best epoch ({best_epoch})")
ax.axvspan(best_epoch, ae.n_iter_, color="0.9", label="patience (n_iter_no_change)")
ax.set_ylim(0, None)
ax.set_xlabel("epoch")
ax.set_ylabel("reconstruction loss (MSE, scaled units)")
ax.set_title("Training an autoencoder on load_digits with early stopping")
ax.legend(loc="upper right")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# What to do with the curve
# -------------------------
# - If training stops at ``max_iter`` with the validation loss still falling,
#   raise ``max_iter`` (or ``learning_rate_init``).
# - If the validation loss is noisy and training stops too early, raise
#   ``n_iter_no_change`` or ``batch_size``.
# - A validation loss far above the training loss means the network is too
#   large for the data: shrink ``hidden_layer_sizes``, or add ``noise`` or
#   ``weight_decay``.
