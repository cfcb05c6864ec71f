"""A frozen VGG16 feature extractor for the perceptual loss of Jin et al. (CVPR 2018), Eq. 3.

Jin Sec. 5: "For the perceptual loss, we use the relu2_2 and relu3_3 layers of vgg16 net [31]"; the
loss itself is the feature reconstruction loss of Johnson et al. [16] (see
:class:`blur2vid.losses.PerceptualLoss`).

:class:`VGG16Features` is our own definition of the first 16 layers of configuration D of Simonyan
and Zisserman (the 13-conv VGG16) -- the 7 convolutions up to ``relu3_3`` with their ReLUs and the
two max-poolings in between.  Its layers sit at the same positions of a ``features``
:class:`~torch.nn.Sequential` as in torchvision's ``vgg16``, so its ``state_dict`` keys are the
torchvision ones (``features.0.weight``, ``features.0.bias``, ``features.2.weight``, ...) and a
torchvision-format weight file (e.g. ``vgg16-397923af.pth``, a plain state dict) loads into it
directly.  torchvision itself is not needed, and nothing is downloaded: the user points
:func:`load_vgg16_features` at a file (or sets the environment variable ``BLUR2VID_VGG16``).

Layout (index in ``features``: layer)::

    0 conv 3->64    1 relu (relu1_1)   2 conv 64->64    3 relu (relu1_2)   4 maxpool
    5 conv 64->128  6 relu (relu2_1)   7 conv 128->128  8 relu (relu2_2)   9 maxpool
    10 conv 128->256  11 relu (relu3_1)  12 conv 256->256  13 relu (relu3_2)
    14 conv 256->256  15 relu (relu3_3)

The ImageNet normalisation (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225) is applied inside, so
inputs are RGB images in ``[0, 1]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

__all__ = [
    "VGG16_ENV_VAR",
    "VGG16_FEATURE_KEYS",
    "VGG16Features",
    "VGGFeatureMaps",
    "VGGWeightsError",
    "load_vgg16_features",
]

VGG16_ENV_VAR = "BLUR2VID_VGG16"
"""Environment variable read by :func:`load_vgg16_features` when no path is given."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (index in ``features``, input channels, output channels) of the 7 convolutions up to relu3_3
_CONVS: tuple[tuple[int, int, int], ...] = (
    (0, 3, 64),
    (2, 64, 64),
    (5, 64, 128),
    (7, 128, 128),
    (10, 128, 256),
    (12, 256, 256),
    (14, 256, 256),
)
_POOLS = (4, 9)
_RELU2_2 = 8
_RELU3_3 = 15
_N_LAYERS = 16

VGG16_FEATURE_KEYS: dict[str, tuple[int, ...]] = {}
"""The ``state_dict`` keys this extractor needs and their shapes (torchvision ``vgg16`` names)."""
for _index, _cin, _cout in _CONVS:
    VGG16_FEATURE_KEYS[f"features.{_index}.weight"] = (_cout, _cin, 3, 3)
    VGG16_FEATURE_KEYS[f"features.{_index}.bias"] = (_cout,)


class VGGWeightsError(ValueError):
    """A VGG16 weight file that is missing, unreadable, or not in torchvision's ``vgg16`` format."""


class VGGFeatureMaps(NamedTuple):
    """The two feature maps used by Jin Eq. 3: ``relu2_2`` (128 ch, 1/2 size), ``relu3_3`` (256 ch, 1/4)."""

    relu2_2: torch.Tensor
    relu3_3: torch.Tensor


def _build_features() -> nn.Sequential:
    convs = {index: (cin, cout) for index, cin, cout in _CONVS}
    layers: list[nn.Module] = []
    for i in range(_N_LAYERS):
        if i in convs:
            cin, cout = convs[i]
            layers.append(nn.Conv2d(cin, cout, kernel_size=3, padding=1))
        elif i in _POOLS:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.ReLU(inplace=False))
    return nn.Sequential(*layers)


class VGG16Features(nn.Module):
    """VGG16 (configuration D) up to ``relu3_3``, frozen, with the ImageNet normalisation inside.

    ``forward(x)`` takes ``[N, 3, H, W]`` RGB (or ``[N, 1, H, W]`` grayscale, repeated to 3
    channels) in ``[0, 1]`` and returns :class:`VGGFeatureMaps` ``(relu2_2, relu3_3)``.

    A fresh instance has random weights (PyTorch's default initialisation) -- useful for tests only;
    use :func:`load_vgg16_features` or :meth:`load_torchvision_state_dict` for ImageNet weights.
    The parameters never require gradients and the module stays in eval mode (``train()`` is a
    no-op), but gradients do flow back to the input.
    """

    KEYS = VGG16_FEATURE_KEYS
    """The ``features.*`` tensors it loads, with their shapes."""
    NEEDS = ""
    """What a refused file lacked, said in the error (a subclass that needs deeper layers says so)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = _build_features()
        # non-persistent: the state dict holds the torchvision keys only
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.freeze()

    def freeze(self) -> VGG16Features:
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)
        return self

    def train(self, mode: bool = True) -> VGG16Features:
        """Always stays in eval mode (the extractor is frozen)."""
        return super().train(False)

    def load_torchvision_state_dict(self, state: Mapping[str, torch.Tensor], source: str = "state dict") -> None:
        """Load the ``features.*`` tensors this extractor needs from a torchvision ``vgg16`` state dict.

        Other keys (deeper layers, ``classifier.*``) are ignored.  Missing keys or wrong shapes raise
        :class:`VGGWeightsError` naming ``source`` and the offending keys.
        """
        if not isinstance(state, Mapping):
            raise VGGWeightsError(
                f"{source}: expected a torchvision vgg16 state dict (a mapping of names to tensors), "
                f"got {type(state).__name__}"
            )
        keys = self.KEYS
        missing = [k for k in keys if k not in state]
        mismatched = [
            f"{k}: expected {keys[k]}, got {tuple(state[k].shape) if torch.is_tensor(state[k]) else type(state[k]).__name__}"
            for k in keys
            if k in state and (not torch.is_tensor(state[k]) or tuple(state[k].shape) != keys[k])
        ]
        if missing or mismatched:
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if mismatched:
                parts.append(f"mismatched shapes [{'; '.join(mismatched)}]")
            some = sorted(state)[:6]
            raise VGGWeightsError(
                f"{source} is not a torchvision-format vgg16 state dict{self.NEEDS}: {', '.join(parts)} "
                f"(it has {len(state)} keys, e.g. {some}; expected keys like 'features.0.weight')"
            )
        wanted = {k: state[k] for k in keys}
        self.load_state_dict(wanted, strict=True)
        self.freeze()

    def forward(self, x: torch.Tensor) -> VGGFeatureMaps:
        if x.ndim != 4:
            raise ValueError(f"expected [N, C, H, W], got shape {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(f"VGG16 needs 1 or 3 channels, got {x.shape[1]}")
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        relu2_2 = h
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i == _RELU2_2:
                relu2_2 = h
        return VGGFeatureMaps(relu2_2, h)


def load_vgg16_features(path: str | Path | None = None) -> VGG16Features | None:
    """A :class:`VGG16Features` with the weights of a torchvision-format VGG16 file, or ``None``.

    ``path=None`` reads the environment variable ``BLUR2VID_VGG16``; when that is unset or empty too,
    returns ``None`` (the caller decides on a fallback).  The file is a plain state dict such as
    torchvision's ``vgg16-397923af.pth`` and is read with ``torch.load(..., weights_only=True)``;
    only the ``features.*`` tensors up to ``relu3_3`` are kept.  A missing file, an unreadable file
    or one without the expected keys/shapes raises :class:`VGGWeightsError` naming the file.
    """
    origin = "argument"
    if path is None:
        env = os.environ.get(VGG16_ENV_VAR, "").strip()
        if not env:
            return None
        path, origin = env, f"environment variable {VGG16_ENV_VAR}"
    path = Path(path).expanduser()
    if not path.is_file():
        raise VGGWeightsError(f"VGG16 weight file {str(path)!r} (from the {origin}) does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # re-raised with the file name
        raise VGGWeightsError(f"could not read VGG16 weight file {str(path)!r}: {exc}") from exc
    model = VGG16Features()
    model.load_torchvision_state_dict(state, source=f"VGG16 weight file {str(path)!r}")
    return model
