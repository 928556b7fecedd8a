"""From an estimator's network parameters to the torch module that trains.

Default layer widths, the geometry of images, the checks of sizes given by
the user, and the check that a user's own module follows skae's protocol
(``encode``/``decode``, see :mod:`skae._modules`) live here. Nothing here
trains or runs a network on data.
"""

import math
from numbers import Integral

import numpy as np
import torch
from torch import nn

from skae._modules import ConvAutoencoder, MLPAutoencoder, ResidualAutoencoder

ARCHITECTURES = ("residual", "mlp", "linear", "conv")

#: Widths of the encoder's hidden layers (channels for "conv") when
#: ``hidden_layer_sizes=None``; the decoder mirrors them.
DEFAULT_HIDDEN_LAYER_SIZES = {
    "residual": (128, 64),
    "mlp": (128, 64),
    "conv": (32, 64),
    "linear": (),
}


def positive_ints(values, name):
    """``values`` as a tuple of positive Python ints, or a ``ValueError``.

    Booleans, floats (even integral ones such as ``4.0``) and strings are
    rejected rather than converted: ``True`` is not a size, and truncating
    ``4.7`` would silently build another network than the one asked for.
    """
    items = np.asarray(values, dtype=object).ravel().tolist()
    if not all(
        isinstance(v, Integral | np.integer) and not isinstance(v, bool | np.bool_)
        for v in items
    ) or any(v < 1 for v in items):
        raise ValueError(f"{name} must hold positive integers, got {values!r}.")
    return tuple(int(v) for v in items)


def image_shape_of(image_shape, n_features):
    """``(channels, height, width)`` of the images in rows of ``n_features``.

    ``None`` means one square channel when ``n_features`` is a perfect square,
    and a one-row signal ``(1, 1, n_features)`` otherwise.
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side == n_features:
            return (1, side, side)
        return (1, 1, n_features)
    try:
        shape = positive_ints(image_shape, "image_shape")
    except ValueError:
        shape = ()
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ValueError(
            "image_shape must be (height, width) or (channels, height, width) "
            f"of positive integers, got {image_shape!r}."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={image_shape!r} has {math.prod(shape)} values per "
            f"image, but X has {n_features} features."
        )
    return shape


def network_spec(
    *,
    architecture,
    hidden_layer_sizes,
    activation,
    image_shape,
    module_kwargs,
    variational,
    n_features,
    n_components,
    sparsity=0.0,
):
    """The torch module class to build and its keyword arguments.

    Parameters
    ----------
    architecture : {"residual", "mlp", "linear", "conv"} or type
        The estimator's ``architecture``: a built-in name, or a subclass of
        ``torch.nn.Module``.
    hidden_layer_sizes, activation, image_shape, module_kwargs, variational
        The estimator's parameters of the same names.
    n_features, n_components : int
        Width of the data and of the code.
    sparsity : float, default=0.0
        The estimator's ``sparsity``, which ``architecture="residual"`` does
        not support.

    Returns
    -------
    network : type
        A subclass of ``torch.nn.Module`` following skae's protocol.
    kwargs : dict
        Its keyword arguments.

    Raises
    ------
    ValueError
        For combinations of parameters that do not make a network.
    """
    if isinstance(architecture, type):
        if not issubclass(architecture, nn.Module):
            raise ValueError(
                "architecture must be 'residual', 'mlp', 'linear', 'conv' or a "
                f"subclass of torch.nn.Module, got {architecture!r}."
            )
        if hidden_layer_sizes is not None or image_shape is not None:
            raise ValueError(
                "hidden_layer_sizes and image_shape apply to the built-in "
                "architectures; a custom module takes its own arguments "
                "through module_kwargs."
            )
        kwargs = {"n_features": n_features, "n_components": n_components}
        return architecture, {**kwargs, **(module_kwargs or {})}

    if module_kwargs:
        raise ValueError(
            "module_kwargs is only used with a custom module as architecture; "
            f"got architecture={architecture!r}."
        )
    if hidden_layer_sizes is None:
        hidden = DEFAULT_HIDDEN_LAYER_SIZES[architecture]
    else:
        hidden = positive_ints(hidden_layer_sizes, "hidden_layer_sizes")
    if architecture == "linear" and hidden:
        raise ValueError(
            "architecture='linear' has no hidden layers; leave "
            f"hidden_layer_sizes=None, got {hidden_layer_sizes!r}."
        )
    if architecture == "conv" and not hidden:
        raise ValueError(
            "architecture='conv' needs at least one convolution: "
            "hidden_layer_sizes gives the number of channels of each."
        )
    if architecture == "residual" and not hidden:
        raise ValueError(
            "architecture='residual' adds dense branches to a linear "
            "autoencoder and needs at least one hidden layer; for the linear "
            "autoencoder alone use architecture='linear'."
        )
    if architecture == "residual" and sparsity > 0:
        # Measured on digits at n_components=32: the Hoyer sparsity of test
        # codes is 0.37 with sparsity=0, 0.29 with 0.1, 0.32 with 1.0, while
        # the codes' mean magnitude falls from 0.96 to 0.04.
        raise ValueError(
            "sparsity does not make the codes of architecture='residual' "
            "sparser: the L1 penalty on the code is met by scaling the codes "
            "of its linear path down and its decoder up, which leaves them as "
            "dense. For a sparse autoencoder use architecture='mlp' (or "
            f"'linear'); got sparsity={sparsity}."
        )
    if architecture != "conv" and image_shape is not None:
        raise ValueError(
            f"image_shape is used by architecture='conv' only, got "
            f"architecture={architecture!r}."
        )
    common = {"n_components": n_components, "variational": variational}
    if architecture == "conv":
        return ConvAutoencoder, {
            **common,
            "image_shape": image_shape_of(image_shape, n_features),
            "channels": hidden,
            "activation": activation,
        }
    if architecture == "residual":
        return ResidualAutoencoder, {
            **common,
            "n_features": n_features,
            "hidden_layer_sizes": hidden,
            "activation": activation,
        }
    return MLPAutoencoder, {
        **common,
        "n_features": n_features,
        "hidden_layer_sizes": hidden,
        "activation": "identity" if architecture == "linear" else activation,
    }


def estimator_network(estimator, n_features, n_components):
    """The torch module class and arguments of an estimator's network.

    Checks, before training, what the parameter constraints cannot express:
    the combination of the network parameters (:func:`network_spec`), the
    masking probability, and a custom module's protocol
    (:func:`check_protocol`).

    Parameters
    ----------
    estimator : skae._base._BaseAutoencoder
        Its parameters describe the network; with ``hidden_layer_sizes=None``
        its ``_default_hidden_layer_sizes`` gives the widths.
    n_features, n_components : int
        Width of the data and of the code.

    Returns
    -------
    network : type
        A subclass of ``torch.nn.Module`` following skae's protocol.
    kwargs : dict
        Its keyword arguments.
    """
    hidden_layer_sizes = estimator.hidden_layer_sizes
    if hidden_layer_sizes is None:
        hidden_layer_sizes = estimator._default_hidden_layer_sizes(
            n_features, n_components
        )
    network, kwargs = network_spec(
        architecture=estimator.architecture,
        hidden_layer_sizes=hidden_layer_sizes,
        activation=estimator.activation,
        image_shape=estimator.image_shape,
        module_kwargs=estimator.module_kwargs,
        variational=estimator.variational,
        n_features=n_features,
        n_components=n_components,
        sparsity=estimator.sparsity,
    )
    if estimator.noise_type == "masking" and estimator.noise >= 1:
        raise ValueError(
            "With noise_type='masking', noise is the probability of zeroing "
            f"an input and must be below 1, got noise={estimator.noise}."
        )
    if isinstance(estimator.architecture, type):
        check_protocol(
            network,
            kwargs,
            n_features=n_features,
            n_components=n_components,
            variational=estimator.variational,
        )
    return network, kwargs


def check_protocol(network, kwargs, *, n_features, n_components, variational):
    """Build a user's module once and run two rows through it, or raise.

    Called before training, so that a module that cannot be built, lacks
    ``encode`` or ``decode``, returns tensors of the wrong shape or dtype, or
    has nothing to train (no parameters, all of them frozen, or a
    reconstruction that depends on none of them) is reported in terms of
    skae's protocol rather than as a torch or skorch traceback in the middle
    of training. The caller's random state is left as it was.

    Raises
    ------
    ValueError
        Saying what is missing or wrong.
    """
    name = getattr(network, "__name__", repr(network))
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    with torch.random.fork_rng(devices=[]):
        try:
            module = network(**kwargs)
        except Exception as exc:
            raise ValueError(
                f"architecture={name} could not be built as {name}({arguments}): "
                f"{type(exc).__name__}: {exc}. A custom module must accept "
                "n_features and n_components, plus the keys of module_kwargs."
            ) from exc
        missing = [
            method
            for method in ("encode", "decode")
            if not callable(getattr(module, method, None))
        ]
        if missing:
            raise ValueError(
                f"architecture={name} has no {' and no '.join(missing)} method: a "
                "custom module must provide encode(x), mapping rows to codes, "
                "and decode(z), mapping codes back to rows."
            )
        parameters = list(module.parameters())
        if not parameters:
            raise ValueError(
                f"architecture={name} has no parameters: {name}({arguments}) "
                "registers none, so there is nothing to train. Assign its layers "
                "(nn.Linear, nn.Parameter, ...) as attributes of the module; "
                "tensors, or layers kept in a plain list, are not registered."
            )
        if not any(parameter.requires_grad for parameter in parameters):
            raise ValueError(
                f"architecture={name} has {len(parameters)} parameter tensors, "
                "but all are frozen (requires_grad=False), so there is nothing "
                "to train. Leave at least the decoder's parameters trainable."
            )
        module.eval()
        x = torch.zeros(2, n_features)
        # With gradients on, as in training: the reconstruction must depend
        # on a parameter that trains.
        try:
            code = module.encode(x)
            if variational:
                if not (isinstance(code, tuple) and len(code) == 2):
                    raise TypeError(
                        "with variational=True, encode must return a pair "
                        f"(mean, log_var), got {type(code).__name__}"
                    )
                _check_shape(code[1], (2, n_components), "encode's log_var")
                code = code[0]
            _check_shape(code, (2, n_components), "encode")
            output = module.decode(code)
            _check_shape(output, (2, n_features), "decode")
        except Exception as exc:
            raise ValueError(
                f"architecture={name} does not follow skae's protocol on a "
                f"batch of 2 rows of {n_features} features with "
                f"n_components={n_components}: {type(exc).__name__}: {exc}"
            ) from exc
        if not output.requires_grad:
            raise ValueError(
                f"architecture={name}: decode(encode(x)) depends on none of the "
                "module's trainable parameters (the output does not require "
                "grad), so training cannot change it. Does decode detach its "
                "output, or compute it under torch.no_grad()?"
            )


def _check_shape(tensor, shape, what):
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{what} returned {type(tensor).__name__}, not a tensor")
    if not tensor.is_floating_point():
        raise TypeError(
            f"{what} returned a tensor of dtype {tensor.dtype}: codes and "
            "reconstructions must be floating point, for the loss to have "
            "gradients"
        )
    if tuple(tensor.shape) != shape:
        raise TypeError(
            f"{what} returned a tensor of shape {tuple(tensor.shape)}, expected {shape}"
        )
