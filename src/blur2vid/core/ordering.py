"""The canonical order HyperCUT defines, and the metrics of the ordering network.

A "hypercut" below is anything with the methods of :class:`blur2vid.models.hypercut.HyperCUT` that
the function uses: ``score(frames) -> [B]`` (the signed distance that decides a sequence's order)
and, for :func:`con_at_k`, ``pair_scores(frames) -> [B, T // 2]`` (every symmetric pair, outermost
first).  Tests drive the metrics with a scripted stand-in.

Sides: a sequence is on the positive side when ``score >= 0`` and is then kept as given; on the
negative side (``score < 0``) it is reversed.  The metrics follow the public code: a Hit needs the
product of the two scores to be strictly negative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F

from blur2vid.core.precision import full_precision
from blur2vid.core.tensors import apply_crop_boxes, crop_boxes, reverse_where

__all__ = [
    "MotionDirectionOrder",
    "canonical_order",
    "hits",
    "fp32_score",
    "hit_rate",
    "con_at_k",
    "flip_fraction",
    "order_stability",
    "random_crop",
    "random_shift",
]


def _check(frames: torch.Tensor) -> None:
    if frames.ndim != 5:
        raise ValueError(f"expected frames [B, T, C, H, W], got {tuple(frames.shape)}")


@torch.no_grad()
def canonical_order(frames: torch.Tensor, hypercut, rule: Literal["sign", "compare"] = "sign"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Play each sequence in HyperCUT's canonical order: ``(frames_canonical, flipped)``, where
    ``flipped [B]`` (bool) marks the sequences that were reversed.

    ``rule="sign"`` (the paper's): reverse the sequences with ``h(s) < 0``.  It is idempotent and
    reverse-equivariant (``s`` and ``reverse(s)`` get the same canonical sequence) on every sequence
    whose reverse lies on the other side (a Hit: ``h(s) * h(rev s) < 0``).  With the antisymmetric
    embedding and ``b = 0`` that is every sequence with ``h(s) != 0`` -- and ``h(s) = 0`` happens for a
    palindrome (``s == reverse(s)``), for which both answers are the same tensor -- so both properties
    hold exactly.  With a generic embedding they fail on every miss: if ``h(s)`` and ``h(rev s)`` are
    both ``>= 0``, ``s`` and ``rev s`` both stay as they are (not equivariant); if both are ``< 0``,
    both are reversed, and canonicalising twice flips back (not idempotent).

    ``rule="compare"``: reverse when ``h(s) < h(rev s)``, i.e. take the side of the antisymmetrised
    score ``h(s) - h(rev s)``.  Idempotent and reverse-equivariant for any embedding (ties aside), at
    the price of a second forward; for the antisymmetric embedding with ``b = 0`` it agrees with
    ``"sign"``.
    """
    _check(frames)
    score = fp32_score(hypercut, frames)
    if rule == "sign":
        flipped = score < 0
    elif rule == "compare":
        flipped = score < fp32_score(hypercut, frames.flip(1))
    else:
        raise ValueError(f"rule must be 'sign' or 'compare', got {rule!r}")
    return reverse_where(frames, flipped), flipped


@torch.no_grad()
def hits(hypercut, frames: torch.Tensor) -> torch.Tensor:
    """Per sequence (``[B]``, bool): whether its order-deciding score and that of its reverse have
    strictly opposite signs (``h(s) * h(rev s) < 0``).  In pair mode that is the outermost pair
    ``(x_1, x_T)`` and its swap, as in the public code's validation."""
    _check(frames)
    return fp32_score(hypercut, frames) * fp32_score(hypercut, frames.flip(1)) < 0


def fp32_score(hypercut, frames: torch.Tensor) -> torch.Tensor:
    """``hypercut.score(frames)`` in fp32 whatever autocast is on: the side of the hyperplane decides
    an order, and bf16's 8-bit mantissa would move sequences near it to the other side."""
    with full_precision(frames):
        return hypercut.score(frames.float())


@torch.no_grad()
def hit_rate(hypercut, frames: torch.Tensor) -> float:
    """Hit: the fraction of sequences of :func:`hits` (a sequence and its reverse on opposite sides)."""
    return hits(hypercut, frames).float().mean().item()


@torch.no_grad()
def con_at_k(hypercut, frames: torch.Tensor, k: int) -> float:
    """Con@k: the fraction of sequences whose ``k`` outermost symmetric pairs all lie on the side of
    the outermost one.  For ``T = 7`` the pairs are ``(1, 7), (2, 6), (3, 5)``; Con@2 asks that
    ``(2, 6)`` lies on the side of ``(1, 7)``, Con@3 that ``(2, 6)`` and ``(3, 5)`` both do (the public
    code's ``consist`` / ``twice_consist``).  Sides are ``score >= 0``.  Needs per-pair scores: a
    pair-mode hypercut (``pair_scores``); ``2 <= k <= T // 2``."""
    _check(frames)
    t = frames.shape[1]
    if not 2 <= k <= t // 2:
        raise ValueError(f"k must be in 2..{t // 2} for T = {t} frames, got {k}")
    sides = hypercut.pair_scores(frames)[:, :k] >= 0
    same = (sides == sides[:, :1]).all(dim=1)
    return same.float().mean().item()


@torch.no_grad()
def flip_fraction(hypercut, frames: torch.Tensor) -> float:
    """The fraction of sequences :func:`canonical_order` (``rule="sign"``) reverses: ``h(s) < 0``.
    Near 1/2 on data whose directions are random; 0 or 1 would mean the order ignores the content."""
    _check(frames)
    return (hypercut.score(frames) < 0).float().mean().item()


@torch.no_grad()
def order_stability(hypercut, frames: torch.Tensor, perturb: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """The fraction of sequences whose side (``score >= 0``) is unchanged when ``perturb`` (e.g.
    ``lambda f: random_crop(f, 24, seed=0)``, :func:`random_shift`, or noise from
    :func:`blur2vid.core.formation.add_noise`) is applied to the frames: how robust the canonical order
    is to what should not change it."""
    _check(frames)
    before = hypercut.score(frames) >= 0
    after = hypercut.score(perturb(frames)) >= 0
    return (before == after).float().mean().item()


class MotionDirectionOrder(torch.nn.Module):
    """A hand-made ordering rule, the reference the learned ones are measured against: "the content
    moves along ``direction``" (default ``(1, 0)``: to the right).  No parameters, nothing learned.

    For a pair ``(a, b)`` (the first and the last frame of a sequence, or any symmetric pair) let
    ``m_ab(d)`` be the mean squared difference between ``b`` and ``a`` moved by ``d`` pixels along
    ``direction`` (``d = -D..D``, ``D = max_shift``, compared on the central region both cover).  If
    the content moved from ``a`` to ``b`` by ``+s`` along the direction, ``m_ab`` grows with
    ``|d - s|``, so ``sum_{d=1..D} m_ab(-d) - m_ab(d)`` is positive; moved by ``-s``, negative.  The
    score is that sum minus the same sum with ``a`` and ``b`` exchanged, so it is exactly odd
    (``score(b, a) = -score(a, b)``) and a sequence and its reverse always fall on opposite sides
    (Hit = 1 whenever the score is not 0), like HyperCUT's antisymmetric embedding.  Unlike a learned
    embedding, its side depends on the motion and hardly on the content, so it stays put under crops
    and shifts, and a network can infer it from the blur: the blur shows the axis of the streaks,
    and this rule names the end.  Motion perpendicular to ``direction`` gives a score near 0 (an
    unstable side); so does content with no texture along it.

    Same interface as :class:`~blur2vid.models.hypercut.HyperCUT` for what the metrics and the
    training code use: ``score(frames, pair=1)``, ``pair_scores(frames)``, ``mode == "pair"``,
    ``config_dict()``.
    """

    mode = "pair"

    def __init__(self, direction: tuple[float, float] = (1.0, 0.0), max_shift: int = 8) -> None:
        super().__init__()
        u = torch.tensor([float(direction[0]), float(direction[1])])
        if not torch.isfinite(u).all() or u.norm() == 0:
            raise ValueError(f"direction must be a non-zero (x, y) vector, got {direction!r}")
        if int(max_shift) < 1:
            raise ValueError(f"max_shift must be >= 1 pixel, got {max_shift!r}")
        self.direction = (u / u.norm()).tolist()
        self.max_shift = int(max_shift)

    def config_dict(self) -> dict:
        return {"arch": "MotionDirectionOrder", "direction": self.direction, "max_shift": self.max_shift}

    def _offsets(self, d: int) -> tuple[int, int]:
        return round(d * self.direction[1]), round(d * self.direction[0])  # (rows, columns)

    def _asymmetry(self, a: torch.Tensor, b: torch.Tensor, margin: int) -> torch.Tensor:
        """``sum_d m_ab(-d) - m_ab(d)``: positive when ``b`` looks like ``a`` moved along the direction."""
        h, w = a.shape[-2:]
        core = b[..., margin:h - margin, margin:w - margin]

        def m(d: int) -> torch.Tensor:
            dy, dx = self._offsets(d)  # ``a`` moved by +d: pixel (y, x) of the result is a[y - dy, x - dx]
            moved = a[..., margin - dy:h - margin - dy, margin - dx:w - margin - dx]
            return (core - moved).pow(2).flatten(1).mean(1)

        return sum(m(-d) - m(d) for d in range(1, margin + 1))

    def pair_score(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The score of pairs ``(a, b)``, each ``[B, C, H, W]``: ``[B]``."""
        margin = min(self.max_shift, (min(a.shape[-2:]) - 1) // 2)
        if margin < 1:
            raise ValueError(f"frames of {tuple(a.shape[-2:])} are too small to compare shifts")
        return self._asymmetry(a, b, margin) - self._asymmetry(b, a, margin)

    def score(self, frames: torch.Tensor, pair: int = 1) -> torch.Tensor:
        _check(frames)
        t = frames.shape[1]
        if not 1 <= pair <= t // 2:
            raise ValueError(f"pair must be in 1..{t // 2} for T = {t}, got {pair}")
        return self.pair_score(frames[:, pair - 1], frames[:, t - pair])

    def pair_scores(self, frames: torch.Tensor) -> torch.Tensor:
        _check(frames)
        t = frames.shape[1]
        return torch.stack([self.score(frames, k) for k in range(1, t // 2 + 1)], dim=1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.score(frames)


# ----------------------------------------------------------------------------------------------
# perturbations: one draw per sequence, the same for all of its frames (so no motion is added)
# ----------------------------------------------------------------------------------------------


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def random_crop(frames: torch.Tensor, size: int | tuple[int, int], seed: int = 0) -> torch.Tensor:
    """A random ``size`` crop of each sequence, at the same place in all of its frames:
    ``[B, T, C, H, W] -> [B, T, C, h, w]``.  Positions drawn on the CPU from ``seed``."""
    _check(frames)
    return apply_crop_boxes(frames, crop_boxes(frames.shape, size, seed))


def random_shift(frames: torch.Tensor, max_shift: int, seed: int = 0) -> torch.Tensor:
    """Translate each sequence by a random integer ``(dy, dx)`` in ``[-max_shift, max_shift]^2``
    (the same for all of its frames), filling the uncovered border by edge replication; the size
    is kept."""
    _check(frames)
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    m = int(max_shift)
    if m == 0:
        return frames.clone()
    b, t, c, h, w = frames.shape
    g = _generator(seed)
    shifts = torch.randint(-m, m + 1, (b, 2), generator=g).tolist()
    padded = F.pad(frames.reshape(b, t * c, h, w), (m, m, m, m), mode="replicate")
    out = torch.stack([padded[i, :, m - dy:m - dy + h, m - dx:m - dx + w] for i, (dy, dx) in enumerate(shifts)])
    return out.reshape(b, t, c, h, w)
