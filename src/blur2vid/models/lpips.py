"""LPIPS-VGG, the learnt perceptual distance of Zhang et al. (CVPR 2018), "The Unreasonable Effectiveness
of Deep Features as a Perceptual Metric" -- an optional evaluation metric.

What it computes, for two RGB images ``x0, x1`` in ``[0, 1]``:

1. ``x -> 2 x - 1`` (to ``[-1, 1]``), then the LPIPS "scaling layer" ``(x - shift) / scale`` per
   channel, with ``shift = (-0.030, -0.088, -0.188)`` and ``scale = (0.458, 0.448, 0.450)``;
2. the VGG16 feature maps after ``relu1_2, relu2_2, relu3_3, relu4_3, relu5_3`` (64, 128, 256, 512,
   512 channels), each unit-normalised along the channels, ``f / (||f||_2 + 1e-10)``;
3. per level ``l``, the squared difference of the two images' normalised features, weighted per
   channel by the learnt non-negative 1x1 linear layer ``w_l`` (no bias) and averaged over space;
4. the sum over the five levels: ``d(x0, x1) = sum_l mean_hw sum_c w_lc (f0_lchw - f1_lchw)^2``.

Why optional: the metric needs two pretrained weight files, and nothing is ever downloaded here (the
machines that run this project have no network access, and the published numbers must not depend on a
silent download).  The user points :func:`load_lpips` at

* the LPIPS linear weights of the VGG variant -- ``vgg.pth`` of the ``lpips`` package, version 0.1
  (``lpips/weights/v0.1/vgg.pth`` in richzhang/PerceptualSimilarity, ~7 KB): a plain state dict with
  the keys ``lin0.model.1.weight`` ... ``lin4.model.1.weight`` of shapes ``[1, C_l, 1, 1]``;
* torchvision's ImageNet VGG16 (e.g. ``vgg16-397923af.pth``), given as ``vgg16_path`` or through the
  environment variable ``BLUR2VID_VGG16`` -- the same file as the perceptual loss of
  :mod:`blur2vid.models.vgg` uses.

Without them there is no LPIPS (callers report it as absent); no substitute is computed.

The VGG16 trunk is :class:`VGG16LPIPSFeatures`, a :class:`~blur2vid.models.vgg.VGG16Features` whose
``features`` stack goes on past ``relu3_3`` to ``relu5_3`` (torchvision indices 16..29), so it loads
the same torchvision-format state dict.  The ImageNet normalisation inside ``VGG16Features.forward``
is not used: LPIPS has its own input scaling (step 1), and :class:`LPIPS` runs the layers itself.
Inputs smaller than 16x16 are refused: the four max-poolings before ``relu5_3`` halve the size each
time, and a 15-pixel side has no extent left at the deepest level.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from blur2vid.core.io import load_plain
from blur2vid.models.vgg import VGG16_ENV_VAR, VGG16_FEATURE_KEYS, VGG16Features, VGGWeightsError

__all__ = [
    "LPIPS",
    "LPIPS_CHANNELS",
    "LPIPS_LEVELS",
    "LPIPS_LIN_KEYS",
    "LPIPS_MIN_SIZE",
    "LPIPS_SCALE",
    "LPIPS_SHIFT",
    "LPIPSWeightsError",
    "VGG16_LPIPS_KEYS",
    "VGG16LPIPSFeatures",
    "load_lpips",
]

LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
LPIPS_LEVELS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
LPIPS_LIN_KEYS: dict[str, tuple[int, ...]] = {
    f"lin{level}.model.1.weight": (1, channels, 1, 1) for level, channels in enumerate(LPIPS_CHANNELS)
}
"""The keys and shapes of the lpips v0.1 ``vgg.pth`` file (``model.1``: ``model.0`` is a dropout)."""

LPIPS_MIN_SIZE = 16
"""The smallest image side: 16 -> 8 -> 4 -> 2 -> 1 through the four poolings before ``relu5_3``."""

_EPS = 1e-10

# torchvision vgg16 ``features`` past relu3_3: (index, in channels, out channels) of the convolutions,
# max-poolings at 16 and 23, ReLUs elsewhere; relu4_3 is index 22, relu5_3 index 29
_DEEP_CONVS: tuple[tuple[int, int, int], ...] = (
    (17, 256, 512),
    (19, 512, 512),
    (21, 512, 512),
    (24, 512, 512),
    (26, 512, 512),
    (28, 512, 512),
)
_DEEP_POOLS = (16, 23)
_FIRST_DEEP = 16
_N_LAYERS = 30
_TAPS = (3, 8, 15, 22, 29)  # indices in ``features`` of relu1_2 ... relu5_3

VGG16_LPIPS_KEYS: dict[str, tuple[int, ...]] = dict(VGG16_FEATURE_KEYS)
"""The torchvision ``vgg16`` state-dict keys LPIPS needs (up to ``relu5_3``) and their shapes."""
for _index, _cin, _cout in _DEEP_CONVS:
    VGG16_LPIPS_KEYS[f"features.{_index}.weight"] = (_cout, _cin, 3, 3)
    VGG16_LPIPS_KEYS[f"features.{_index}.bias"] = (_cout,)


class LPIPSWeightsError(ValueError):
    """An LPIPS weight file that is missing, unreadable, or not the lpips v0.1 VGG ``vgg.pth`` layout."""


def _shape(value: object) -> str:
    return str(tuple(value.shape)) if torch.is_tensor(value) else f"a {type(value).__name__}, not a tensor"


class VGG16LPIPSFeatures(VGG16Features):
    """:class:`VGG16Features` extended to ``relu5_3``: ``features`` holds torchvision's ``vgg16``
    layers 0..29 (the 13 convolutions, their ReLUs and the four max-poolings in between), so its
    ``state_dict`` keys are the torchvision ones and ``vgg16-397923af.pth`` loads into it.

    Frozen like its parent.  Its own ``forward`` is the parent's (ImageNet normalisation, returns
    ``relu2_2, relu3_3`` only); :class:`LPIPS` runs ``features`` itself.
    """

    KEYS = VGG16_LPIPS_KEYS
    NEEDS = " with the layers LPIPS needs (up to relu5_3, features.28)"

    def __init__(self) -> None:
        super().__init__()
        convs = {index: (cin, cout) for index, cin, cout in _DEEP_CONVS}
        for i in range(_FIRST_DEEP, _N_LAYERS):
            if i in convs:
                self.features.append(nn.Conv2d(*convs[i], kernel_size=3, padding=1))
            elif i in _DEEP_POOLS:
                self.features.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                self.features.append(nn.ReLU(inplace=False))
        self.freeze()
        self.freeze()


def _check_lin_weights(weights: object, source: str) -> dict[str, torch.Tensor]:
    """The five LPIPS linear weights as float32 tensors, or :class:`LPIPSWeightsError` naming
    ``source`` and the first offending key."""
    if not isinstance(weights, Mapping):
        raise LPIPSWeightsError(
            f"{source}: expected the lpips v0.1 VGG state dict (a mapping of names to tensors), "
            f"got {type(weights).__name__}"
        )
    hint = "; expected the VGG variant of lpips v0.1 (lpips/weights/v0.1/vgg.pth)"
    for key in LPIPS_LIN_KEYS:
        if key not in weights:
            raise LPIPSWeightsError(f"{source}: missing key {key!r} (it has {sorted(map(str, weights))}){hint}")
    extra = [k for k in weights if k not in LPIPS_LIN_KEYS]
    if extra:
        raise LPIPSWeightsError(f"{source}: unexpected key {str(extra[0])!r} (all extra keys: {extra}){hint}")
    out = {}
    for key, shape in LPIPS_LIN_KEYS.items():
        value = weights[key]
        if not torch.is_tensor(value) or tuple(value.shape) != shape:
            raise LPIPSWeightsError(f"{source}: key {key!r} has shape {_shape(value)}, expected {shape}{hint}")
        if not value.is_floating_point():
            raise LPIPSWeightsError(f"{source}: key {key!r} has dtype {value.dtype}, expected floating point")
        if not torch.isfinite(value).all():
            raise LPIPSWeightsError(f"{source}: key {key!r} has non-finite values")
        if (value < 0).any():
            raise LPIPSWeightsError(
                f"{source}: key {key!r} has negative weights (min {value.min().item():.4g}); the LPIPS "
                f"linear layers are non-negative"
            )
        out[key] = value.detach().to(device="cpu", dtype=torch.float32)
    return out


class LPIPS(nn.Module):
    """LPIPS-VGG distance (v0.1): ``forward(pred, target)`` -> one distance per image pair.

    ``vgg`` is a :class:`VGG16LPIPSFeatures` (a :class:`VGG16Features` reaching ``relu5_3``; a plain
    ``VGG16Features`` stops at ``relu3_3`` and is refused); ``lin_weights`` maps the keys of
    :data:`LPIPS_LIN_KEYS` (``lin0.model.1.weight`` ...) to non-negative ``[1, C_l, 1, 1]`` tensors.

    Inputs are ``[..., 3, H, W]`` (or ``[..., 1, H, W]``, repeated to RGB) in ``[0, 1]`` with
    ``H, W >= 16``; the output has shape ``[...]``.  The module stays in eval mode and its parameters
    never require gradients; ``forward`` runs under :func:`torch.no_grad` unless ``differentiable``
    is set (then gradients flow back to the inputs).
    """

    def __init__(self, vgg: VGG16Features, lin_weights: Mapping[str, torch.Tensor], differentiable: bool = False) -> None:
        super().__init__()
        if not isinstance(vgg, VGG16Features) or len(vgg.features) < _N_LAYERS:
            depth = len(vgg.features) if isinstance(vgg, VGG16Features) else None
            raise ValueError(
                f"LPIPS needs VGG16 up to relu5_3 ({_N_LAYERS} layers of torchvision's vgg16.features), "
                f"got {type(vgg).__name__}" + (f" with {depth} layers (up to relu3_3)" if depth else "")
                + "; build a VGG16LPIPSFeatures or use load_lpips()"
            )
        weights = _check_lin_weights(lin_weights, "LPIPS linear weights")
        self.vgg = vgg
        self.differentiable = differentiable
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(3, 1, 1), persistent=False)
        self.lins = nn.ParameterList(
            [nn.Parameter(weights[key].view(-1), requires_grad=False) for key in LPIPS_LIN_KEYS]
        )
        super().train(False)

    def train(self, mode: bool = True) -> LPIPS:
        """Always stays in eval mode (a fixed metric)."""
        return super().train(False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"LPIPS needs two images of the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
        if pred.ndim < 3 or pred.shape[-3] not in (1, 3):
            raise ValueError(f"LPIPS expects [..., 3, H, W] (or 1 channel), got shape {tuple(pred.shape)}")
        height, width = pred.shape[-2:]
        if min(height, width) < LPIPS_MIN_SIZE:
            raise ValueError(
                f"LPIPS-VGG needs images of at least {LPIPS_MIN_SIZE}x{LPIPS_MIN_SIZE}, got {height}x{width}: "
                f"the four max-poolings before relu5_3 halve each side, so the deepest level would have "
                f"no spatial extent"
            )
        lead = pred.shape[:-3]
        dtype = self.lins[0].dtype
        x = torch.cat([pred.reshape(-1, *pred.shape[-3:]), target.reshape(-1, *target.shape[-3:])])
        x = x.to(dtype).expand(-1, 3, -1, -1)
        n = x.shape[0] // 2
        grad = contextlib.nullcontext() if self.differentiable else torch.no_grad()
        with grad:
            h = (2 * x - 1 - self.shift.to(dtype)) / self.scale.to(dtype)
            total = x.new_zeros(n)
            level = 0
            for i, layer in enumerate(self.vgg.features[: _TAPS[-1] + 1]):
                h = layer(h)
                if i != _TAPS[level]:
                    continue
                f = h / (torch.linalg.vector_norm(h, dim=1, keepdim=True) + _EPS)
                diff = (f[:n] - f[n:]) ** 2
                weight = self.lins[level].view(1, -1, 1, 1)
                total = total + (diff * weight).sum(dim=1).mean(dim=(-2, -1))
                level += 1
        return total.reshape(lead)


def _resolve_vgg16_path(vgg16_path: str | Path | None) -> tuple[Path, str]:
    if vgg16_path is not None and str(vgg16_path).strip():
        return Path(vgg16_path).expanduser(), "vgg16_path argument"
    env = os.environ.get(VGG16_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser(), f"environment variable {VGG16_ENV_VAR}"
    raise ValueError(
        "LPIPS needs two weight files and no VGG16 file was given: the LPIPS linear weights (vgg.pth "
        "of the lpips package, v0.1) and torchvision's ImageNet VGG16 (vgg16-397923af.pth). Pass the "
        f"VGG16 file as vgg16_path or set the environment variable {VGG16_ENV_VAR}; nothing is downloaded."
    )


def _read(path: Path, what: str, error: type[ValueError], origin: str = ""):
    """A weight file's contents, read safely; a missing or unreadable file raises ``error`` naming it."""
    if not path.is_file():
        raise error(f"{what} {str(path)!r}{origin} does not exist")
    try:
        return load_plain(path, what=what)
    except ValueError as exc:
        raise error(str(exc)) from None


def load_lpips(lpips_path: str | Path, vgg16_path: str | Path | None = None, *, differentiable: bool = False) -> LPIPS:
    """An :class:`LPIPS` metric from the two weight files (read with ``torch.load(weights_only=True)``).

    ``lpips_path`` is the lpips v0.1 ``vgg.pth`` (keys ``lin0.model.1.weight`` ... ``lin4...``);
    ``vgg16_path`` a torchvision-format VGG16 state dict, or ``None`` for the environment variable
    ``BLUR2VID_VGG16``.  With neither, a :class:`ValueError` says how to give it.  A missing,
    unreadable or wrongly laid-out LPIPS file raises :class:`LPIPSWeightsError` naming the file and the
    offending key; the same for the VGG16 file raises :class:`~blur2vid.models.vgg.VGGWeightsError`.
    ``differentiable`` is passed to :class:`LPIPS` (gradients to the inputs; off for evaluation).
    """
    vgg_file, origin = _resolve_vgg16_path(vgg16_path)
    if lpips_path is None or not str(lpips_path).strip():
        raise ValueError(
            "LPIPS needs two weight files and no LPIPS file was given: pass lpips_path, the vgg.pth of the "
            "lpips package (v0.1, lpips/weights/v0.1/vgg.pth); nothing is downloaded."
        )
    lpips_file = Path(lpips_path).expanduser()
    source = f"LPIPS weight file {str(lpips_file)!r}"
    lin_weights = _check_lin_weights(_read(lpips_file, "LPIPS weight file", LPIPSWeightsError), source)
    vgg_state = _read(vgg_file, "VGG16 weight file", VGGWeightsError, f" (from the {origin})")
    vgg = VGG16LPIPSFeatures()
    vgg.load_torchvision_state_dict(vgg_state, source=f"VGG16 weight file {str(vgg_file)!r}")
    return LPIPS(vgg, lin_weights, differentiable=differentiable)
