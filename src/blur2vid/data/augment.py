"""Training augmentation of Jin et al. (CVPR 2018), Sec. 7, "Training Dataset and Implementation Details":

    "Data augmentation is applied to avoid overfitting by randomly shuffling color channels,
    rotating images, and adding 1% white gaussian noise."

:func:`augment` does exactly these three things to a :class:`~blur2vid.data.sample.Batch`:

* **colour-channel shuffle**: one random permutation of the ``C`` channels per sample, the same for
  the blurry image and every frame of that sample;
* **rotation** by a random multiple of 90 degrees per sample, the same for the blurry image and
  every frame (rotation moves pixels only, so it commutes with the blur model of Eq. 1 and with
  the temporal order of the frames);
* **noise**: white Gaussian noise of standard deviation ``noise`` (default 0.01, "1%" of the
  ``[0, 1]`` range) on the blurry image only -- the targets stay clean -- clamped to ``[0, 1]``
  (:func:`~blur2vid.core.formation.add_noise`).

Choices the paper leaves open, and what this module does:

* **Flips.**  The paper says "rotating images", not flipping, so flips are off by default;
  ``flip=True`` adds a random horizontal flip per sample (with the four rotations, all eight
  symmetries of the square).  Like rotations, flips preserve Eq. 1.
* **Non-square images** (``H != W``).  A 90-degree rotation would turn ``[H, W]`` into ``[W, H]``,
  and the samples of one batch could then no longer be stacked.  Rather than refusing such
  batches, rotations of a non-square batch are drawn from ``{0, 180}`` degrees only (the rotations
  that map the rectangle onto itself); a square batch draws from ``{0, 90, 180, 270}``.  The
  paper's training crops are 320 x 320, so the paper's setting is the square one.

Random numbers come from ``generator`` only (never from the global RNG), in a fixed order
(permutations, then rotations, then flips, then noise), on the generator's device -- pass a CPU
generator and a CPU batch and a CUDA batch get the same augmentation.  The applied parameters are
recorded in ``meta["augment"]`` of the returned batch (the input's ``meta`` is not modified).
"""

from __future__ import annotations

import torch

from blur2vid.core.formation import add_noise
from blur2vid.data.sample import Batch

__all__ = ["augment", "rotation_choices"]


def rotation_choices(height: int, width: int) -> tuple[int, ...]:
    """The quarter turns ``k`` (rotation by ``90*k`` degrees) :func:`augment` draws from for an
    ``height x width`` image: all four for a square, ``(0, 2)`` otherwise (see the module notes)."""
    return (0, 1, 2, 3) if height == width else (0, 2)


def _per_sample_rot90(x: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Rotate sample ``i`` of ``x`` (``[B, ..., H, W]``) by ``quarter_turns[i] * 90`` degrees."""
    out = x.clone()
    for k in quarter_turns.unique().tolist():
        if k % 4 == 0:
            continue
        idx = (quarter_turns == k).nonzero().flatten().to(x.device)
        out[idx] = torch.rot90(x[idx], k, dims=(-2, -1))
    return out


def _per_sample_hflip(x: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    if not bool(flips.any()):
        return x
    out = x.clone()
    idx = flips.nonzero().flatten().to(x.device)
    out[idx] = x[idx].flip(-1)
    return out


def augment(
    batch: Batch,
    generator: torch.Generator,
    *,
    shuffle_channels: bool = True,
    rotate: bool = True,
    flip: bool = False,
    noise: float = 0.01,
) -> Batch:
    """Jin et al.'s training augmentation (Sec. 7): returns a new :class:`Batch`.

    Per sample, one random channel permutation (``shuffle_channels``) and one random rotation by a
    multiple of 90 degrees (``rotate``; only 0 or 180 degrees when ``H != W``), optionally a random
    horizontal flip (``flip``, not in the paper), all applied identically to ``batch.blur`` and to
    every frame of ``batch.frames``; then Gaussian noise of std ``noise`` on ``blur`` only, clamped
    to ``[0, 1]``.  Every random draw comes from ``generator``, so a seeded generator reproduces
    the result; the draws do not depend on the batch's device.

    ``meta["augment"]`` of the result holds the draws: ``perm`` (``[B, C]``, output channel ``j``
    of sample ``i`` is input channel ``perm[i, j]``), ``quarter_turns`` (``[B]``, counter-clockwise
    as :func:`torch.rot90`), ``hflip`` (``[B]`` bool; applied before the rotation) and ``noise``.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise!r}")
    b, c, h, w = batch.blur.shape
    gdev = generator.device

    if shuffle_channels:
        perm = torch.rand(b, c, generator=generator, device=gdev).argsort(dim=1).cpu()
    else:
        perm = torch.arange(c).expand(b, c).clone()
    if rotate:
        choices = torch.tensor(rotation_choices(h, w))
        draw = torch.randint(len(choices), (b,), generator=generator, device=gdev).cpu()
        quarter_turns = choices[draw]
    else:
        quarter_turns = torch.zeros(b, dtype=torch.long)
    if flip:
        hflip = torch.rand(b, generator=generator, device=gdev).cpu() < 0.5
    else:
        hflip = torch.zeros(b, dtype=torch.bool)

    blur, frames = batch.blur, batch.frames
    if shuffle_channels:
        p = perm.to(blur.device)
        rows = torch.arange(b, device=blur.device)[:, None]
        blur = blur[rows, p]  # [B, C, H, W]
        frames = frames.transpose(1, 2)[rows, p].transpose(1, 2)  # [B, T, C, H, W]
    if flip:
        blur = _per_sample_hflip(blur, hflip)
        frames = _per_sample_hflip(frames, hflip)
    if rotate:
        blur = _per_sample_rot90(blur, quarter_turns)
        frames = _per_sample_rot90(frames, quarter_turns)
    if noise > 0:
        blur = add_noise(blur, noise, generator=generator)

    meta = dict(batch.meta)
    meta["augment"] = {"perm": perm, "quarter_turns": quarter_turns, "hflip": hflip, "noise": float(noise)}
    return Batch(blur.contiguous(), frames.contiguous(), meta)
