"""Autoencoder networks.

This module depends on torch only. Every network follows one protocol:

- ``encode(x)`` maps a batch of flat rows ``(n, n_features)`` to codes
  ``(n, n_components)``, or to a pair ``(mean, log_var)`` of such tensors for a
  variational network;
- ``decode(z)`` maps codes back to flat rows ``(n, n_features)``. The output is
  the raw output of the last layer: for a binary cross-entropy loss these are
  logits.

:class:`Autoencoder` wraps such a network and adds what is the same for every
architecture: input noise while training (denoising), the reparameterisation
trick (variational), and a forward pass that returns everything a loss needs.
"""

import math

import torch
from torch import nn

ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
}

# Bounds of the log-variance of a variational code: exp(10) is a variance of
# about 2e4, exp(-10) one of about 5e-5; outside them exp() under- or
# overflows in float32 long before the network learns anything useful.
LOG_VAR_MIN, LOG_VAR_MAX = -10.0, 10.0


def _mlp(sizes, activation, activate_last):
    """Stack ``Linear`` layers through ``sizes``, with ``activation`` between."""
    layers = []
    n_layers = len(sizes) - 1
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < n_layers - 1 or activate_last:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class MLPAutoencoder(nn.Module):
    """Dense autoencoder whose decoder mirrors its encoder.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_components : int
        Size of the code (the bottleneck).
    hidden_layer_sizes : tuple of int, default=(128, 64)
        Widths of the encoder's hidden layers; the decoder uses them reversed.
        An empty tuple gives a single linear map each way.
    activation : str, default="relu"
        Name of the activation after each hidden layer, a key of
        ``ACTIVATIONS``. The code and the output are not activated.
    variational : bool, default=False
        Whether ``encode`` returns ``(mean, log_var)`` instead of a code.
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(128, 64),
        activation="relu",
        variational=False,
    ):
        super().__init__()
        hidden = tuple(hidden_layer_sizes)
        self.variational = variational
        self.encoder = _mlp((n_features, *hidden), activation, activate_last=True)
        code_width = hidden[-1] if hidden else n_features
        self.code = nn.Linear(code_width, n_components)
        if variational:
            self.log_var = nn.Linear(code_width, n_components)
        self.decoder = _mlp(
            (n_components, *reversed(hidden), n_features),
            activation,
            activate_last=False,
        )

    def encode(self, x):
        h = self.encoder(x)
        if self.variational:
            return self.code(h), self.log_var(h)
        return self.code(h)

    def decode(self, z):
        return self.decoder(z)


class ResidualAutoencoder(nn.Module):
    """A linear autoencoder plus dense residual branches, started at PCA.

    Encoder and decoder each add a linear map and a dense branch::

        encode(x) = x W + b + branch_e(x)
        decode(z) = z V + c + branch_d(z)

    The last layer of each branch starts at zero, so the untrained network is
    the linear autoencoder alone; :meth:`start_at` sets that one to principal
    component analysis, and training starts from PCA's reconstruction and
    learns only what PCA misses. The linear path carries all
    ``n_components`` directions whatever the widths of the branches.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_components : int
        Size of the code.
    hidden_layer_sizes : tuple of int, default=(128, 64)
        Widths of the encoder branch's hidden layers; the decoder branch uses
        them reversed. At least one.
    activation : str, default="relu"
        Name of the activation after each hidden layer, a key of
        ``ACTIVATIONS``.
    variational : bool, default=False
        Whether ``encode`` returns ``(mean, log_var)``; the log-variance is a
        linear function of the encoder branch's last hidden layer.
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(128, 64),
        activation="relu",
        variational=False,
    ):
        super().__init__()
        hidden = tuple(hidden_layer_sizes)
        if not hidden:
            raise ValueError("ResidualAutoencoder needs at least one hidden layer.")
        self.variational = variational
        self.encode_linear = nn.Linear(n_features, n_components)
        self.decode_linear = nn.Linear(n_components, n_features)
        self.encoder = _mlp((n_features, *hidden), activation, activate_last=True)
        self.code = nn.Linear(hidden[-1], n_components)
        if variational:
            self.log_var = nn.Linear(hidden[-1], n_components)
        self.decoder = _mlp(
            (n_components, *reversed(hidden)), activation, activate_last=True
        )
        self.output = nn.Linear(hidden[0], n_features)
        for last in (self.code, self.output):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    @torch.no_grad()
    def start_at(self, mean, components):
        """Set the linear path to the projection on ``components``.

        Parameters
        ----------
        mean : array-like of shape (n_features,)
            Centre of the data (as the network sees them).
        components : array-like of shape (n_components, n_features)
            Orthonormal rows (principal axes); the code of ``x`` is
            ``(x - mean) @ components.T`` and its reconstruction
            ``mean + code @ components``.
        """
        weight = self.encode_linear.weight
        components = torch.as_tensor(components, dtype=weight.dtype)
        mean = torch.as_tensor(mean, dtype=weight.dtype)
        self.encode_linear.weight.copy_(components)
        self.encode_linear.bias.copy_(-(components @ mean))
        self.decode_linear.weight.copy_(components.T)
        self.decode_linear.bias.copy_(mean)

    def encode(self, x):
        mean = self.encode_linear(x)
        h = self.encoder(x)
        mean = mean + self.code(h)
        if self.variational:
            return mean, self.log_var(h)
        return mean

    def decode(self, z):
        return self.decode_linear(z) + self.output(self.decoder(z))


def _conv_sizes(size, n_layers):
    """Spatial sizes after each stride-2, padding-1, kernel-3 convolution."""
    sizes = [size]
    for _ in range(n_layers):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder for images given as flat rows.

    Each encoder layer is a 3x3 convolution with stride 2 (halving height and
    width) followed by the activation; a linear layer maps the last feature map
    to the code. The decoder mirrors this with transposed convolutions whose
    output padding restores the exact input size, odd sizes included.

    Parameters
    ----------
    image_shape : tuple of int
        ``(channels, height, width)`` of one image; rows are reshaped to it.
    n_components : int
        Size of the code.
    channels : tuple of int, default=(32, 64)
        Number of channels of each encoder convolution.
    activation : str, default="relu"
        Name of the activation, a key of ``ACTIVATIONS``.
    variational : bool, default=False
        Whether ``encode`` returns ``(mean, log_var)``.
    """

    def __init__(
        self,
        image_shape,
        n_components,
        channels=(32, 64),
        activation="relu",
        variational=False,
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.variational = variational
        n_channels, height, width = self.image_shape
        channels = tuple(channels)
        heights = _conv_sizes(height, len(channels))
        widths = _conv_sizes(width, len(channels))
        self._feature_shape = (channels[-1], heights[-1], widths[-1])
        n_flat = math.prod(self._feature_shape)

        encoder = []
        for c_in, c_out in zip((n_channels, *channels[:-1]), channels, strict=True):
            encoder += [
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                ACTIVATIONS[activation](),
            ]
        self.encoder = nn.Sequential(*encoder, nn.Flatten())
        self.code = nn.Linear(n_flat, n_components)
        if variational:
            self.log_var = nn.Linear(n_flat, n_components)

        self.expand = nn.Sequential(
            nn.Linear(n_components, n_flat), ACTIVATIONS[activation]()
        )
        decoder = []
        c_outs = (*reversed(channels[:-1]), n_channels)
        for i, (c_in, c_out) in enumerate(zip(reversed(channels), c_outs, strict=True)):
            # Layer i upsamples from encoder level L-i to level L-i-1.
            level = len(channels) - i
            padding = (
                heights[level - 1] - (2 * heights[level] - 1),
                widths[level - 1] - (2 * widths[level] - 1),
            )
            decoder.append(
                nn.ConvTranspose2d(
                    c_in, c_out, 3, stride=2, padding=1, output_padding=padding
                )
            )
            if c_out != n_channels:
                decoder.append(ACTIVATIONS[activation]())
        self.decoder = nn.Sequential(*decoder, nn.Flatten())

    def encode(self, x):
        h = self.encoder(x.reshape(-1, *self.image_shape))
        if self.variational:
            return self.code(h), self.log_var(h)
        return self.code(h)

    def decode(self, z):
        h = self.expand(z).reshape(-1, *self._feature_shape)
        return self.decoder(h)


class Autoencoder(nn.Module):
    """Add noise and the variational code to an encoder/decoder network.

    Parameters
    ----------
    network : type
        A subclass of ``nn.Module`` with ``encode`` and ``decode`` as described
        in this module's docstring. It is built here, from a class rather than
        an instance, so that a whole net pickles as one unit.
    network_kwargs : dict, default=None
        Keyword arguments to build ``network`` with.
    variational : bool, default=False
        Whether ``network.encode`` returns ``(mean, log_var)``. While training,
        the code is sampled as ``mean + exp(log_var / 2) * eps``; in evaluation
        mode it is the mean, so inference is deterministic.
    noise : float, default=0.0
        Strength of the input corruption applied in training mode only: the
        standard deviation of added Gaussian noise, or the probability of
        hiding each input for masking noise.
    noise_type : {"gaussian", "masking"}, default="gaussian"
        Kind of input corruption.
    mask_value : array-like of shape (n_features,), default=None
        What masking noise writes in a hidden input: zero for ``None``, or
        each feature's value (for the imputer, the value a missing cell
        starts from, in the units the network sees). Kept as a buffer that
        moves with the module and is not part of its ``state_dict``.

    Notes
    -----
    ``forward`` returns ``(reconstruction, code, mean, log_var)``; ``mean``
    and ``log_var`` are ``None`` for a deterministic network, and ``code`` is
    the (sampled) code that was decoded.
    """

    def __init__(
        self,
        network,
        network_kwargs=None,
        variational=False,
        noise=0.0,
        noise_type="gaussian",
        mask_value=None,
    ):
        super().__init__()
        self.network = network(**(network_kwargs or {}))
        self.variational = variational
        self.noise = noise
        self.noise_type = noise_type
        if mask_value is not None:
            mask_value = torch.as_tensor(mask_value, dtype=torch.float32)
        self.register_buffer("mask_value", mask_value, persistent=False)

    def corrupt(self, x):
        """Return ``x`` with training noise; the identity in evaluation mode."""
        if not self.training or self.noise == 0:
            return x
        if self.noise_type == "gaussian":
            return x + self.noise * torch.randn_like(x)
        return self.hide(x, torch.rand_like(x) < self.noise)

    def hide(self, x, hidden):
        """``x`` with the inputs where ``hidden`` is true replaced by
        ``mask_value`` (zero when it is ``None``)."""
        if self.mask_value is None:
            return x * ~hidden
        return torch.where(hidden, self.mask_value.to(x.dtype), x)

    def encode_distribution(self, x):
        """Return ``(mean, log_var)``; ``log_var`` is ``None`` unless variational."""
        out = self.network.encode(x)
        if not self.variational:
            return out, None
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                "A variational network's encode must return a tuple "
                f"(mean, log_var), got {type(out).__name__}."
            )
        mean, log_var = out
        return mean, log_var.clamp(LOG_VAR_MIN, LOG_VAR_MAX)

    def encode(self, x):
        """Deterministic code: the mean for a variational network."""
        return self.encode_distribution(x)[0]

    def decode(self, z):
        return self.network.decode(z)

    def forward(self, x):
        mean, log_var = self.encode_distribution(self.corrupt(x))
        if self.variational and self.training:
            z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        else:
            z = mean
        return self.decode(z), z, mean, log_var
