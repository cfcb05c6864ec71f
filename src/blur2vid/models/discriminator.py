"""A PatchGAN-style discriminator and the adversarial losses for the non-middle frames of Jin et al.

Jin Sec. 5 and 5.3: "to make the network outputs more realistic and sharp, we use adversarial
training [9]" (Goodfellow et al. 2014); "Except for the network that generates the middle frame,
all other networks use the adversarial loss during training" (Table 1: ``L_adv^3 + L_adv^5`` in step
2, ``L_adv^1 + L_adv^2 + L_adv^6 + L_adv^7`` in step 3).  The paper does not describe its
discriminator; a convolutional patch discriminator (Isola et al. 2017, "PatchGAN") is the usual choice
for image restoration and is what :class:`PatchDiscriminator` is: it scores overlapping patches, so
it judges local sharpness and texture, which is what the adversarial term is there for.

:func:`adversarial_losses` uses the *non-saturating* form of Goodfellow et al. [9], the one the
paper cites (``mode="lsgan"`` gives the least-squares form of Mao et al. 2017 instead).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PatchDiscriminator", "adversarial_losses"]

Norm = Literal["instance", "batch", "none"]


def _norm(kind: Norm, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'instance', 'batch' or 'none', got {kind!r}")


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator: ``[..., C, H, W]`` -> a map of real/fake logits ``[..., 1, h, w]``.

    ``depth`` stride-2 4x4 convolutions (``width``, ``2*width``, ... channels, capped at
    ``max_width``), each followed by LeakyReLU(0.2) and -- except the first -- normalisation; then a
    stride-1 4x4 convolution with normalisation and LeakyReLU, and a stride-1 4x4 convolution to one
    logit per patch.  ``depth=3, width=64`` is the 70x70 PatchGAN of Isola et al.  For sides
    divisible by ``2**depth`` the map is ``H / 2**depth - 2`` by ``W / 2**depth - 2``; inputs smaller
    than :attr:`min_size` (``2**(depth+2)``) are first padded at the bottom/right (reflection) up to
    it, so the map is never empty.

    Outputs are raw logits (no sigmoid).  Leading dimensions beyond ``[N, C]`` (e.g. a sequence
    ``[B, T, C, H, W]``) are flattened and restored.
    """

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 64,
        depth: int = 3,
        max_width: int = 512,
        norm: Norm = "instance",
    ):
        super().__init__()
        if in_channels < 1 or width < 1 or depth < 1 or max_width < 1:
            raise ValueError(
                f"in_channels, width, depth and max_width must be >= 1, got {in_channels}, {width}, {depth}, {max_width}"
            )
        self.in_channels = in_channels
        self.depth = depth
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        channels = width
        for _ in range(1, depth):
            out = min(channels * 2, max_width)
            layers += [nn.Conv2d(channels, out, 4, stride=2, padding=1), _norm(norm, out), nn.LeakyReLU(0.2, True)]
            channels = out
        out = min(channels * 2, max_width)
        layers += [nn.Conv2d(channels, out, 4, stride=1, padding=1), _norm(norm, out), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(out, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    @property
    def min_size(self) -> int:
        """Smallest side that gives a map of at least 1x1 without padding."""
        return 2 ** (self.depth + 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 4:
            raise ValueError(f"expected [..., C, H, W], got shape {tuple(x.shape)}")
        if x.shape[-3] != self.in_channels:
            raise ValueError(f"expected {self.in_channels} channels, got {x.shape[-3]}")
        lead = x.shape[:-3]
        flat = x.reshape(-1, *x.shape[-3:])
        h, w = flat.shape[-2:]
        need = self.min_size
        if h < need or w < need:
            ph, pw = max(0, need - h), max(0, need - w)
            mode = "reflect" if ph < h and pw < w else "replicate"
            flat = F.pad(flat, (0, pw, 0, ph), mode=mode)
        out = self.net(flat)
        return out.reshape(*lead, *out.shape[-3:])


def adversarial_losses(
    disc: nn.Module,
    fake: torch.Tensor,
    real: torch.Tensor,
    mode: Literal["nonsaturating", "lsgan"] = "nonsaturating",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(generator loss, discriminator loss)`` for one batch (Jin Table 1's ``L_adv``).

    ``mode="nonsaturating"`` (default; Goodfellow et al. [9], the paper Jin cites), with ``D`` the
    patch logits and ``s`` the sigmoid::

        L_G = -mean log s(D(fake))                                   # = softplus(-D(fake))
        L_D = 1/2 [ -mean log s(D(real)) - mean log(1 - s(D(fake))) ]

    ``mode="lsgan"`` (Mao et al. 2017): ``L_G = mean (D(fake) - 1)^2``,
    ``L_D = 1/2 [mean (D(real) - 1)^2 + mean D(fake)^2]``.

    The discriminator loss sees ``fake.detach()`` (no gradient reaches the generator through it);
    the generator loss keeps the graph to ``fake`` -- it also produces gradients for ``disc``'s
    parameters, so step only the generator's optimiser with it (or freeze ``disc`` meanwhile).
    A real frame scored high and a fake frame scored low lower ``L_D``; a fake scored high lowers
    ``L_G``.
    """
    if mode not in ("nonsaturating", "lsgan"):
        raise ValueError(f"mode must be 'nonsaturating' or 'lsgan', got {mode!r}")
    fake_for_g = disc(fake)
    fake_for_d = disc(fake.detach())
    real_score = disc(real)
    if mode == "nonsaturating":
        g = F.softplus(-fake_for_g).mean()
        d = 0.5 * (F.softplus(-real_score).mean() + F.softplus(fake_for_d).mean())
    else:
        g = ((fake_for_g - 1) ** 2).mean()
        d = 0.5 * (((real_score - 1) ** 2).mean() + (fake_for_d**2).mean())
    return g, d
