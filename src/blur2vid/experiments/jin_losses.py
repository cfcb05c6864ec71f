"""Notebook 03, Jin's losses: what each loss of Sec. 5 is invariant to (Eq. 4, Eq. 5), why the pair
loss leaves artifacts, and Table 1 (the training procedure) rendered from the configuration that
trains."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from blur2vid.data.scenes import SceneConfig, render_scenes
from blur2vid.experiments.claims import claims_table, fact
from blur2vid.losses import global_loss, independent_loss, naive_loss, pair_loss, pair_losses
from blur2vid.models.jin import JinCascade
from blur2vid.training.cascade import REGULARISER_WEIGHT, JinTrainConfig, jin_variant

__all__ = ["LossesConfig", "LOSSES", "pixel_swap", "loss_invariance_table", "pair_swap_example", "table1", "claims",
           "INVARIANCE_TOLERANCE"]


@dataclass(frozen=True)
class LossesConfig:
    """Notebook 03's sizes (no training)."""

    size: int = 64
    n: int = 16
    seed: int = 0


LOSSES = {
    "independent": ("independent (per-frame MSE)", independent_loss),
    "naive": ("naive (HyperCUT Eq. 2)", naive_loss),
    "global": ("global (Jin Eq. 4)", global_loss),
    "pair": ("pair (Jin Eq. 5, all pairs)", pair_losses),
}
"""The losses of Jin Sec. 5 (and HyperCUT's naive one) compared by :func:`loss_invariance_table`, by id."""

INVARIANCE_TOLERANCE = 1e-6
"""Two loss values this close count as the same (float rounding)."""


def pixel_swap(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Swap the two frames of a pair pixel by pixel under a random mask: two chimeric frames that
    the pair loss (Eq. 5) cannot tell from the true pair."""
    mask = torch.rand(a.shape[-2:], generator=generator) < 0.5
    mask = mask.to(a.device)
    return torch.where(mask, b, a), torch.where(mask, a, b)


def loss_invariance_table(cfg: LossesConfig, noise: float = 0.05) -> pd.DataFrame:
    """Each loss of Jin Sec. 5 on a noisy prediction, against the target as given, reversed, with the
    non-middle frames shuffled, and with every symmetric pair swapped pixel by pixel."""
    seed = cfg.seed
    scenes = render_scenes(SceneConfig(height=cfg.size, width=cfg.size, n_frames=7), cfg.n, seed)
    target = scenes.frames
    g = torch.Generator().manual_seed(seed)
    pred = (target + noise * torch.randn(target.shape, generator=g)).clamp(0, 1)
    perm = torch.tensor([5, 0, 6, 3, 1, 2, 4])  # non-middle frames permuted, middle kept
    swapped = target.clone()
    for i, j in ((0, 6), (1, 5), (2, 4)):
        swapped[:, i], swapped[:, j] = pixel_swap(target[:, i], target[:, j], g)
    targets = {"as given": target, "reversed": target.flip(1), "non-middle shuffled": target[:, perm],
               "pairs swapped pixel by pixel": swapped}
    rows = {name: {"label": label, **{k: float(fn(pred, t)) for k, t in targets.items()}}
            for name, (label, fn) in LOSSES.items()}
    df = pd.DataFrame(rows).T.rename_axis("id")
    return df.astype({k: float for k in targets})


def pair_swap_example(cfg: LossesConfig) -> dict[str, torch.Tensor]:
    """One scene's outer pair (x1, x7) and its pixel-by-pixel swap, with the pair loss of both."""
    size = cfg.size
    frames = render_scenes(SceneConfig(height=size, width=size, n_frames=7, max_shift=size / 4), 1, cfg.seed).frames[0]
    a, b = frames[0], frames[6]
    sa, sb = pixel_swap(a, b, torch.Generator().manual_seed(cfg.seed))
    return {"x1": a, "x7": b, "swapped_1": sa, "swapped_7": sb,
            "pair_loss_true": pair_loss(a, b, a, b), "pair_loss_swapped": pair_loss(sa, sb, a, b)}


def table1(cfg: JinTrainConfig, variant: str = "teacher_forcing") -> pd.DataFrame:
    """Jin Table 1 rendered from the configuration that trains (networks, inputs, losses, budget)."""
    v = jin_variant(variant)
    jin = cfg.jin_config()
    cascade = JinCascade(jin)
    counts = cascade.parameter_counts()
    middle_in = {"ground_truth": "x[4] (ground truth: teacher forcing)", "estimated": "x̂[4] = φ4(y)",
                 "none": "y (no middle input)"}[v.middle_input]
    adv = f" + {cfg.adv_weight:g}·L_adv" if cfg.adv_weight > 0 else ""
    reg = f" + {REGULARISER_WEIGHT:g}·softplus(−h(prediction))"
    outer_loss = {"table1": "per-frame L1 in the order chosen by step 2", "pair": "L_pair on (2,6) and (1,7) (Eq. 5)",
                  "naive": "per-frame MSE in the data's order", "hypercut": "per-frame MSE in the canonical order",
                  "hand_made": "per-frame MSE in the hand-made order", "table1_reg": f"per-frame L1 in the order chosen by step 2{reg}",
                  "independent": "per-frame MSE in the data's order", "global": "Eq. 4 on all six frames"}[v.loss]
    warm = (f"per-frame MSE in the order chosen per image for the first {round(cfg.core_warmup * cfg.steps_core)} "
            "steps (ours), then " if cfg.core_warmup > 0 else "")
    core_loss = {"table1": f"{warm}L_pair^(3,5) (Eq. 5)", "pair": f"{warm}L_pair^(3,5) (Eq. 5)",
                 "table1_reg": f"{warm}L_pair^(3,5) (Eq. 5){reg}",
                 "naive": "per-frame MSE in the data's order", "hypercut": "per-frame MSE in the canonical order",
                 "hand_made": "per-frame MSE in the hand-made order", "independent": "(trained with step 3, jointly)", "global": "(trained with step 3, jointly)"}[v.loss]
    outer_params = counts.get("net26", 0) + (counts.get("net17", 0) if cascade.net17 is not cascade.net26 else 0)
    rows = [
        {"step": 1, "networks": "φ4", "inputs": "y", "loss": "L_middle = |x̂4 − x4|² + L_perceptual (Eq. 3)",
         "steps": cfg.steps_middle, "batch": cfg.batch_middle, "parameters": counts.get("middle")},
        {"step": 2, "networks": "φ3, φ5", "inputs": f"y, {middle_in}; φ5 also x̂[3]",
         "loss": f"{core_loss}{adv}", "steps": cfg.steps_core if v.staged else 0, "batch": cfg.batch_frames,
         "parameters": counts.get("net3", 0) + counts.get("net5", 0)},
        {"step": 3, "networks": "φ2=φ6, φ1=φ7 (shared)", "inputs": "y and the two nearer estimates",
         "loss": f"{outer_loss}{adv}", "steps": cfg.steps_outer if v.staged else cfg.joint_steps,
         "batch": cfg.batch_frames, "parameters": outer_params},
    ]
    df = pd.DataFrame(rows).set_index("step")
    df.attrs["model"] = cfg.model
    df.attrs["total_parameters"] = counts.get("total")
    return df


def claims(invariance: pd.DataFrame, swap: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Notebook 03's facts, read off :func:`loss_invariance_table` and :func:`pair_swap_example`:
    Eq. 4 ignores the order entirely, Eq. 5 ignores the order within each pair (even pixel by
    pixel), the per-frame losses do not."""
    def same(row: str, col: str) -> bool:
        return abs(float(invariance.loc[row, "as given"]) - float(invariance.loc[row, col])) < INVARIANCE_TOLERANCE

    return claims_table([
        fact("jin.eq4.invariant_to_order", "the global loss (Eq. 4) is unchanged by reversing or shuffling the frames",
             same("global", "reversed") and same("global", "non-middle shuffled")),
        fact("jin.eq5.invariant_within_pairs", "the pair loss (Eq. 5) is unchanged by reversing, and by swapping each "
             "pair pixel by pixel", same("pair", "reversed") and same("pair", "pairs swapped pixel by pixel")),
        fact("jin.eq5.blind_to_pixel_swap", "the pair loss of a pixel-swapped pair is zero",
             float(swap["pair_loss_swapped"]) < INVARIANCE_TOLERANCE, float(swap["pair_loss_swapped"])),
        fact("jin.sec5.per_frame_losses_see_order", "the per-frame losses (independent, naive) change when the "
             "frames are reversed", not same("independent", "reversed") and not same("naive", "reversed")),
    ])
