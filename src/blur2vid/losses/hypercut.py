"""The losses of HyperCUT (Pham et al., CVPR 2023): the naive per-frame loss (Eq. 2), the ordering
losses of the network H and the regulariser on a blur2vid network's output."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from blur2vid.core.precision import full_precision
from blur2vid.losses._shapes import check_same

__all__ = [
    "naive_loss",
    "standardize_scores",
    "ordering_loss",
    "nested_consistency_loss",
    "hypercut_regulariser",
]


def naive_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """HyperCUT Eq. 2: the per-frame squared error ``sum_k ||f_k(y) - x_k||^2`` (averaged over pixels
    and frames), with the target taken in whatever order the data gives.  When the order is random,
    its minimiser for frame k is the mean of the frames that can sit at position k."""
    check_same(pred, target)
    return torch.mean((pred - target) ** 2)


def standardize_scores(score_fwd: torch.Tensor, score_rev: torch.Tensor, eps: float = 1e-12
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``((h_f - m) / sd, (h_r - m) / sd, m^2)``: the scores standardised by the mean ``m`` and
    standard deviation ``sd`` of all of them together (forward and reversed: a batch that holds
    every sequence both ways, so ``m`` is the mean of the even part), and the squared offset.
    Gradients flow through ``m`` and ``sd``; the standardised scores are invariant to rescaling."""
    if score_fwd.shape != score_rev.shape:
        raise ValueError(f"score shapes differ: {tuple(score_fwd.shape)} vs {tuple(score_rev.shape)}")
    both = torch.cat([score_fwd.reshape(-1), score_rev.reshape(-1)])
    m = both.mean()
    var = (both - m).square().mean() + eps
    sd = var.sqrt()
    return (score_fwd - m) / sd, (score_rev - m) / sd, m.square()


def ordering_loss(score_fwd: torch.Tensor, score_rev: torch.Tensor, *, normalize: bool = False,
                  temperature: float = 1.0) -> torch.Tensor:
    """HyperCUT's ordering loss: ``mean softplus(h(s) * h(reverse s))``, small when each sequence
    and its reverse lie on opposite sides of the hyperplane (product very negative).

    ``normalize=False`` (default) is the paper / public-code form.  It has a trap: ``h(s) = h(rev s)
    = 0`` is a stationary point (the gradient ``sigmoid(ab) * (b, a)`` vanishes there), and a generic
    embedding, which starts unable to tell ``s`` from its reverse (``h(s) ~ h(rev s)``, product
    ``> 0``), lowers the loss fastest by shrinking every score toward the plane.  Writing
    ``h(s) = e + o`` and ``h(rev s) = e - o`` (even and odd parts), the product is ``e^2 - o^2``: the
    loss wants ``|o|`` large and ``e`` small, and shrinking everything gets it most of the way to
    ``log 2``.  A prototype measured Hit ~ 0.1 with ``|h| ~ 0.05`` after 600 steps.  Rescaling by
    the RMS alone does not help (a constant output is stationary too), nor does a hinge with a
    margin (the loss is still flat at ``0``).

    ``normalize=True`` standardises the scores by the batch (:func:`standardize_scores`: minus their
    joint mean ``m``, over their joint standard deviation), takes ``softplus(temperature * z_f * z_r)``
    and adds ``m^2`` (the standardised product is blind to a common offset, but the sign of the raw
    score is what orders a sequence, so the offset must go).  The product term is invariant to the
    scale of the scores, so shrinking toward the plane no longer pays; the way down is to grow the
    odd part relative to the even one.

    Which to use: experiments should order with the **antisymmetric** embedding (``HyperCUTConfig(
    antisymmetric=True)``, plane offset ``b = 0``): Hit = 1 by construction, and either form of this
    loss then only widens the margin (the plain form is the paper's and the default).  A generic
    embedding (an ablation) should be trained with ``normalize=True``, which helps but does not
    solve it.  Measured with :func:`blur2vid.training.hyperplane.train_ordering` on 16 x 16 scenes (pair
    mode, width 8, depth 2, d = 16, batch 16, Adamax lr 5e-4, nested weight 1), held-out Hit over
    256 sequences, seeds 0 / 1: after 150 steps plain 0.03 / 0.00, normalised 0.00 / 0.70; after 600
    steps plain 0.00 / 0.60, normalised 0.42 / 0.70; antisymmetric 1.00 / 1.00 from step 0 with
    either form.
    """
    if normalize:
        z_f, z_r, offset = standardize_scores(score_fwd, score_rev)
        return F.softplus(temperature * z_f * z_r).mean() + offset
    if score_fwd.shape != score_rev.shape:
        raise ValueError(f"score shapes differ: {tuple(score_fwd.shape)} vs {tuple(score_rev.shape)}")
    return F.softplus(score_fwd * score_rev).mean()


def nested_consistency_loss(score_pair_a: torch.Tensor, score_pair_b: torch.Tensor) -> torch.Tensor:
    """The public code's second HyperCUT term: ``mean softplus(-h(p_a) * h(p_b))`` for two nested
    symmetric pairs ``p_a = (x_i, x_{T+1-i})``, ``p_b = (x_j, x_{T+1-j})`` of the same sequence,
    small when both lie on the same side (so the pairs of one sequence agree on its order).

    It rewards large same-side scores without bound, so next to a normalised ordering loss it must
    see the same standardised scores (the ``z`` of :func:`standardize_scores`, times
    ``sqrt(temperature)``), or it wins by putting every sequence, and its reverse, on one side."""
    if score_pair_a.shape != score_pair_b.shape:
        raise ValueError(f"score shapes differ: {tuple(score_pair_a.shape)} vs {tuple(score_pair_b.shape)}")
    return F.softplus(-score_pair_a * score_pair_b).mean()


def hypercut_regulariser(hypercut: nn.Module, pred_pair: torch.Tensor, weight: float = 0.2,
                         side: int = 1, pairs: Literal["all", "outer"] = "all") -> torch.Tensor:
    """HyperCUT's regulariser on a blur2vid network's output: ``weight * softplus(-side * h(pred))``,
    pushing the predicted sequence to the ``side`` of the hyperplane that the targets were ordered to.

    ``pred_pair``: ``[B, T, C, H, W]`` predicted frames.  With a pair-mode ``hypercut`` the term is
    summed over every symmetric pair (``pairs="all"``; the whole input if ``T = 2``), as in the public
    code, whose networks predict one pair at a time and regularise each; ``pairs="outer"`` takes the
    outermost pair alone, the one whose side defines the canonical order
    (:func:`blur2vid.core.ordering.canonical_order`), for a third of the cost on 7 frames.  With a
    sequence-mode ``hypercut`` it is the score of the whole sequence.  Averaged over the batch.

    Sign convention: :func:`blur2vid.core.ordering.canonical_order` keeps sequences with ``h >= 0`` and
    reverses the others, so canonical targets lie on the positive side and the default ``side=+1``
    gives ``softplus(-h)``.  The public code writes ``softplus(+h)`` next to its order-invariant loss
    (no target reversal there), pushing predictions to the negative side: ``side=-1`` here.  Which
    side is immaterial to the idea (predictions made to fall on one side consistently); with the
    antisymmetric embedding and ``b = 0`` the two are mirror images.  ``hypercut``'s own
    parameters are the caller's to freeze (``requires_grad_(False)``); gradients reach ``pred_pair``.
    """
    if side not in (1, -1):
        raise ValueError(f"side must be +1 or -1, got {side!r}")
    if pairs not in ("all", "outer"):
        raise ValueError(f"pairs must be 'all' or 'outer', got {pairs!r}")
    with full_precision(pred_pair):  # the side in fp32 inside bf16 training, as canonical_order takes it
        pred_pair = pred_pair.float()
        if getattr(hypercut, "mode", "sequence") == "pair" and pairs == "all":
            scores = hypercut.pair_scores(pred_pair)  # [B, T // 2]
            term = F.softplus(-side * scores).sum(dim=1)
        else:
            term = F.softplus(-side * hypercut.score(pred_pair))
    return weight * term.mean()
