"""HyperCUT (Pham et al., CVPR 2023): an explicit temporal order for each frame sequence.

A network ``H`` maps a frame sequence ``s`` to a vector in ``R^d``; a fixed, random hyperplane
``{v : w.v + b = 0}`` cuts that space in two.  ``H`` is trained (:func:`blur2vid.losses.ordering_loss`)
so that ``s`` and its reverse land on opposite sides, and the side of ``s`` then names its order:
:func:`blur2vid.core.ordering.canonical_order` plays every sequence on the negative side backwards.

What is embedded (``mode``)
---------------------------
* ``"sequence"``: the whole sequence ``[B, T, C, H, W]``, frames stacked on the channels (the
  abstract's "video sequence").
* ``"pair"``: a symmetric pair ``(x_k, x_{T+1-k})`` ``[B, 2, C, H, W]`` (what the public code
  embeds, ``d = 128``).  The order of a whole sequence is the side of its outermost pair
  ``(x_1, x_T)``; the inner pairs give the nested-consistency loss and the Con@k metrics.

In both modes "reverse" is ``x.flip(1)``: the reversed sequence, or the swapped pair.

Antisymmetric embedding
-----------------------
With ``antisymmetric=True``, ``H(s) = g(s) - g(reverse s)`` for a generic encoder ``g``, so
``H(reverse s) = -H(s)`` exactly (bit for bit: :meth:`OrderEmbedding.forward` computes ``g(s)`` and
``g(reverse s)`` in two calls of the same shape, and ``a - b == -(b - a)`` in IEEE arithmetic).  With
the hyperplane through the origin (``b = 0``, the default) every non-palindromic sequence and its
reverse then fall on opposite sides from the first step (Hit = 1 at initialisation), and the ordering
loss only has to *widen* the margin.  A generic embedding must instead learn to tell a sequence
from its reverse, and with the plain loss it tends to collapse onto the hyperplane (see
:func:`blur2vid.losses.ordering_loss`).

Experiments should use ``antisymmetric=True`` (and ``b = 0``); a generic embedding is the paper's
choice and is kept for ablations (train it with the ordering loss's ``normalize=True``).

Two defects of the public code are not copied: its ``LeakyReLU(True)`` has negative slope 1 (the
identity: the "network" is linear), and its hyperplane bias is added to the normal vector instead of
to the product.  Here the activations are ``LeakyReLU(0.2)`` and ``h(s) = w . H(s) + b``.

The offset ``b`` is a configured constant (``0`` by default).  For a generic embedding it is
immaterial (the bias of ``H``'s linear head can absorb any shift along ``w``); for the antisymmetric
one, ``b != 0`` breaks the exact symmetry: ``h(s) + h(reverse s) = 2 b``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn

__all__ = ["HyperCUTConfig", "OrderEmbedding", "Hyperplane", "HyperCUT", "LEAKY_SLOPE"]

#: Negative slope of every activation of the embedding (the public code's ``LeakyReLU(True)`` is 1).
LEAKY_SLOPE = 0.2

Mode = Literal["sequence", "pair"]


@dataclass(frozen=True)
class HyperCUTConfig:
    """The ordering network ``H`` and its hyperplane.

    ``n_frames`` frames of ``channels`` channels per sequence; ``width`` features after the first
    convolution, doubled (up to ``8 * width``) at each of the ``depth`` stride-2 levels; ``dim`` the
    embedding size (128 in the paper's code).  ``plane_seed`` seeds the hyperplane's normal,
    ``plane_bias`` is its offset ``b``.
    """

    n_frames: int = 7
    channels: int = 3
    mode: Mode = "pair"
    width: int = 32
    depth: int = 3
    dim: int = 128
    antisymmetric: bool = False
    plane_seed: int = 0
    plane_bias: float = 0.0

    def __post_init__(self) -> None:
        for name in ("n_frames", "channels", "width", "dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"HyperCUTConfig.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.depth, int) or self.depth < 0:
            raise ValueError(f"HyperCUTConfig.depth must be an integer >= 0, got {self.depth!r}")
        if self.mode not in ("sequence", "pair"):
            raise ValueError(f"HyperCUTConfig.mode must be 'sequence' or 'pair', got {self.mode!r}")
        if self.n_frames < 2:
            raise ValueError(f"HyperCUTConfig.n_frames must be >= 2 (a sequence has a direction), got {self.n_frames}")

    @property
    def in_frames(self) -> int:
        """Frames stacked on the channels of one input: ``n_frames`` (sequence) or 2 (pair)."""
        return self.n_frames if self.mode == "sequence" else 2

    @classmethod
    def paper(cls, **overrides) -> HyperCUTConfig:
        """The public code's scale: pair mode, ``d = 128``."""
        return cls(**{"mode": "pair", "width": 64, "depth": 4, "dim": 128, **overrides})

    @classmethod
    def cpu(cls, **overrides) -> HyperCUTConfig:
        return cls(**{"width": 32, "depth": 3, "dim": 64, **overrides})

    @classmethod
    def smoke(cls, **overrides) -> HyperCUTConfig:
        return cls(**{"width": 8, "depth": 2, "dim": 16, **overrides})


def _act() -> nn.LeakyReLU:
    return nn.LeakyReLU(LEAKY_SLOPE)


class OrderEmbedding(nn.Module):
    """``H``: ``[B, K, C, H, W]`` (``K = n_frames`` in sequence mode, 2 in pair mode) -> ``[B, dim]``.

    The ``K`` frames are stacked on the channels; a 3x3 convolution, then ``depth`` levels of
    (stride-2 3x3 convolution, 3x3 convolution), each followed by ``LeakyReLU(0.2)``; global average
    pooling (so any image size works) and a linear head.  With ``antisymmetric`` the output is
    ``g(x) - g(x.flip(1))``.
    """

    def __init__(self, config: HyperCUTConfig | None = None, **overrides) -> None:
        super().__init__()
        self.config = config or HyperCUTConfig(**overrides)
        c = self.config
        ch = c.width
        layers: list[nn.Module] = [nn.Conv2d(c.in_frames * c.channels, ch, 3, padding=1), _act()]
        for _ in range(c.depth):
            nxt = min(2 * ch, 8 * c.width)
            layers += [nn.Conv2d(ch, nxt, 3, stride=2, padding=1), _act(), nn.Conv2d(nxt, nxt, 3, padding=1), _act()]
            ch = nxt
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch, c.dim)

    def _check(self, x: torch.Tensor) -> None:
        c = self.config
        if x.ndim != 5 or x.shape[1] != c.in_frames or x.shape[2] != c.channels:
            what = "a sequence" if c.mode == "sequence" else "a symmetric pair"
            raise ValueError(f"OrderEmbedding ({c.mode} mode) expects {what} [B, {c.in_frames}, {c.channels}, H, W], "
                             f"got {tuple(x.shape)}")

    def g(self, x: torch.Tensor) -> torch.Tensor:
        """The plain encoder: ``[B, K, C, H, W] -> [B, dim]``."""
        self._check(x)
        y = self.features(x.flatten(1, 2))
        return self.head(y.mean(dim=(-2, -1)))

    def forward_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(H(x), H(x.flip(1)))`` for the price of one antisymmetric forward (two calls of ``g``)."""
        a, b = self.g(x), self.g(x.flip(1))
        if self.config.antisymmetric:
            return a - b, b - a
        return a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.antisymmetric:
            return self.forward_both(x)[0]
        return self.g(x)


class Hyperplane(nn.Module):
    """A fixed hyperplane ``{v : w . v + b = 0}`` of ``R^dim``: unit normal ``w`` drawn from a
    Gaussian with its own generator seeded by ``seed`` (the same seed gives the same plane whatever
    the global RNG), offset ``b`` given.  Both are buffers, not parameters: never trained, but saved
    in the state dict and moved with ``.to()``.  ``forward(v) = v @ w + b`` is the signed distance
    of ``v`` to the plane (``[B, dim] -> [B]``)."""

    def __init__(self, dim: int, seed: int = 0, bias: float = 0.0) -> None:
        super().__init__()
        w = torch.randn(dim, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64)
        self.register_buffer("normal", (w / w.norm()).to(torch.float32))
        self.register_buffer("bias", torch.tensor(float(bias), dtype=torch.float32))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        if v.shape[-1] != self.normal.shape[0]:
            raise ValueError(f"Hyperplane of R^{self.normal.shape[0]} got vectors of size {v.shape[-1]}")
        return v @ self.normal + self.bias


class HyperCUT(nn.Module):
    """``H`` and the hyperplane: the signed distance ``h(s) = w . H(s) + b`` of a sequence.

    * :meth:`score` ``[B, T, C, H, W] -> [B]``: the score that decides a sequence's order (the whole
      sequence in sequence mode; the pair ``(x_k, x_{T+1-k})``, outermost by default, in pair mode).
    * :meth:`side`: ``score >= 0`` (``True``: the sequence is already in canonical order).
    * :meth:`pair_scores` (pair mode): the score of every symmetric pair, outermost first.
    * :meth:`score_input` / :meth:`score_both`: the score of one model input (a sequence or a pair)
      and of its reverse.
    """

    def __init__(self, config: HyperCUTConfig | None = None, **overrides) -> None:
        super().__init__()
        self.config = config or HyperCUTConfig(**overrides)
        self.embedding = OrderEmbedding(self.config)
        self.hyperplane = Hyperplane(self.config.dim, self.config.plane_seed, self.config.plane_bias)

    def config_dict(self) -> dict:
        return {"arch": "HyperCUT", **asdict(self.config)}

    @property
    def mode(self) -> Mode:
        return self.config.mode

    def score_input(self, x: torch.Tensor) -> torch.Tensor:
        """``h`` of model inputs ``[B, K, C, H, W]`` (``K`` as :class:`OrderEmbedding`): ``[B]``."""
        return self.hyperplane(self.embedding(x))

    def score_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(h(x), h(x.flip(1)))`` for model inputs ``x``."""
        fwd, rev = self.embedding.forward_both(x)
        return self.hyperplane(fwd), self.hyperplane(rev)

    def _check_frames(self, frames: torch.Tensor) -> int:
        if frames.ndim != 5:
            raise ValueError(f"expected frames [B, T, C, H, W], got {tuple(frames.shape)}")
        t = frames.shape[1]
        if self.mode == "sequence" and t != self.config.n_frames:
            raise ValueError(f"HyperCUT (sequence mode) embeds {self.config.n_frames} frames, got T = {t}")
        if self.mode == "pair" and t < 2:
            raise ValueError(f"HyperCUT (pair mode) needs T >= 2 frames, got T = {t}")
        return t

    def pairs(self, frames: torch.Tensor) -> torch.Tensor:
        """The symmetric pairs ``(x_k, x_{T+1-k})``, ``k = 1 .. T // 2``: ``[B, T // 2, 2, C, H, W]``."""
        t = self._check_frames(frames)
        k = t // 2  # x_1..x_K beside x_T..x_{T+1-K}, sliced: an index tensor would be copied to the device every step
        return torch.stack([frames[:, :k], frames.flip(1)[:, :k]], 2)

    def score(self, frames: torch.Tensor, pair: int = 1) -> torch.Tensor:
        """The order-deciding score of each sequence ``[B, T, C, H, W] -> [B]``.  In pair mode it is
        the score of the pair ``(x_pair, x_{T+1-pair})`` (1-based; 1 is the outermost)."""
        t = self._check_frames(frames)
        if self.mode == "sequence":
            return self.score_input(frames)
        if not 1 <= pair <= t // 2:
            raise ValueError(f"pair must be in 1..{t // 2} for T = {t}, got {pair}")
        return self.score_input(frames[:, [pair - 1, t - pair]])

    def side(self, frames: torch.Tensor, pair: int = 1) -> torch.Tensor:
        """``score >= 0``: ``True`` where the sequence is kept as given by the canonical order."""
        return self.score(frames, pair) >= 0

    def pair_scores(self, frames: torch.Tensor) -> torch.Tensor:
        """Pair mode only: the score of every symmetric pair, ``[B, T // 2]``, outermost first (one
        forward over all pairs at once)."""
        if self.mode != "pair":
            raise ValueError("pair_scores needs a pair-mode HyperCUT (mode='pair'); a sequence-mode "
                             "embedding has no per-pair score")
        p = self.pairs(frames)
        b, k = p.shape[:2]
        return self.score_input(p.flatten(0, 1)).view(b, k)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.score(frames)
