"""A user-defined torch module for tests: the protocol skae documents."""

from torch import nn


class TinyAutoencoder(nn.Module):
    """One hidden layer each way, following skae's encode/decode protocol."""

    def __init__(self, n_features, n_components, width=8):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_components)
        )
        self.decoder = nn.Sequential(
            nn.Linear(n_components, width), nn.Tanh(), nn.Linear(width, n_features)
        )

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)
