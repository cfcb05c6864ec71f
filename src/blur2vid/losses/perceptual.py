"""The perceptual term of Jin Eq. 3 (Johnson et al. [16]) and its stand-in without VGG16 weights."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from blur2vid.losses._shapes import check_same
from blur2vid.models.vgg import VGG16_ENV_VAR, VGG16Features, load_vgg16_features

__all__ = ["MissingVGGWeightsWarning", "PerceptualLoss", "gradient_loss"]


class MissingVGGWeightsWarning(UserWarning):
    """No VGG16 weights were given: :class:`PerceptualLoss` uses its fallback."""


_WARNED_NO_VGG = False
"""Set once the missing-weights warning has been given (it is given once per process)."""

Fallback = Literal["gradient", "none"]
_FALLBACKS = ("gradient", "none")


def _warn_no_vgg(fallback: str) -> None:
    global _WARNED_NO_VGG
    if _WARNED_NO_VGG:
        return
    _WARNED_NO_VGG = True
    what = (
        "a squared loss on image gradients (an edge-sharpness surrogate)"
        if fallback == "gradient"
        else "nothing (the perceptual term is 0)"
    )
    warnings.warn(
        "PerceptualLoss: no VGG16 weights, so the perceptual term of Jin Eq. 3 is replaced by "
        f"{what} (fallback={fallback!r}). To use the real perceptual loss, pass weights_path= a "
        f"torchvision-format vgg16 state dict (e.g. vgg16-397923af.pth) or set the environment "
        f"variable {VGG16_ENV_VAR}. This warning is shown once per process.",
        MissingVGGWeightsWarning,
        stacklevel=3,
    )


def _flatten_images(x: torch.Tensor) -> torch.Tensor:
    if x.ndim < 3:
        raise ValueError(f"expected images [..., C, H, W], got shape {tuple(x.shape)}")
    if x.ndim == 3:
        return x.unsqueeze(0)
    return x.reshape(-1, *x.shape[-3:])


def gradient_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The feature-reconstruction loss of Johnson et al. with the finite-difference image gradients
    as the (fixed, linear) feature map::

        mean (d_x pred - d_x target)^2 + mean (d_y pred - d_y target)^2

    with ``d_x u = u[..., :, 1:] - u[..., :, :-1]`` (and ``d_y`` along rows).  Not in the paper: it is
    the stand-in for the VGG16 term used by :class:`PerceptualLoss` when no VGG16 weights are
    available.  Like the perceptual term it is a squared L2 distance of features normalised by their
    size, so it has the scale of the pixel MSE beside it in Eq. 3, and like VGG features it penalises
    blurred or displaced edges more than the pixel MSE does.  (An L1 form of this term would outweigh
    the MSE by an order of magnitude.)  Zero iff the two images differ by a constant (per channel).
    """
    check_same(pred, target)
    d = pred - target
    dx = d[..., :, 1:] - d[..., :, :-1]
    dy = d[..., 1:, :] - d[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


class PerceptualLoss(nn.Module):
    """The perceptual loss of Jin Eq. 3: Johnson et al.'s [16] feature reconstruction loss on the
    ``relu2_2`` and ``relu3_3`` layers of VGG16 (Jin Sec. 5)::

        L_perceptual(x_hat, x) = sum_{j in {relu2_2, relu3_3}} ||phi_j(x_hat) - phi_j(x)||_2^2 / (C_j H_j W_j)

    i.e. the squared L2 distance of the feature maps normalised by their size (a mean squared error
    per layer; Johnson et al. Sec. 3.2), the two layers summed with equal weights, averaged over the
    batch.  Inputs are images ``[..., C, H, W]`` in ``[0, 1]`` (any leading dimensions).

    Weights: ``vgg=`` an already built :class:`~blur2vid.models.vgg.VGG16Features`, else
    ``weights_path=`` a torchvision-format ``vgg16`` state dict, else the file named by the
    environment variable ``BLUR2VID_VGG16``.  An explicit path or variable that does not hold valid
    weights is an error (:class:`~blur2vid.models.vgg.VGGWeightsError`).

    Without any weights it warns once per process (:class:`MissingVGGWeightsWarning`) and uses
    ``fallback``:

    * ``"gradient"`` (default): :func:`gradient_loss`, a squared loss on image gradients -- keeps a term
      that rewards sharp, well-placed edges, which is what the perceptual term is for;
    * ``"none"``: the term is 0 and Eq. 3 reduces to the MSE.

    :attr:`mode` says which one is in use (``"vgg"``, ``"gradient"`` or ``"none"``).
    """

    def __init__(
        self,
        weights_path: str | Path | None = None,
        fallback: Fallback = "gradient",
        *,
        vgg: VGG16Features | None = None,
    ):
        super().__init__()
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be one of {_FALLBACKS}, got {fallback!r}")
        self.fallback = fallback
        if vgg is None:
            vgg = load_vgg16_features(weights_path)
        self.vgg: VGG16Features | None = vgg.freeze() if vgg is not None else None
        if self.vgg is None:
            _warn_no_vgg(fallback)

    @property
    def mode(self) -> str:
        return "vgg" if self.vgg is not None else self.fallback

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_same(pred, target)
        if self.vgg is None:
            if self.fallback == "gradient":
                return gradient_loss(pred, target)
            return pred.new_zeros(())
        p, t = _flatten_images(pred), _flatten_images(target)
        first = next(self.vgg.parameters())
        if first.device != p.device:
            self.vgg.to(p.device)
        fp = self.vgg(p)
        with torch.no_grad():
            ft = self.vgg(t)
        return sum((F.mse_loss(a, b) for a, b in zip(fp, ft, strict=True)), pred.new_zeros(()))
