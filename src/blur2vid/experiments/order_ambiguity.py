"""Notebook 02, the order ambiguity: Jin Fig. 2 (the two-ball toy) and HyperCUT Eq. 2 (a network
trained with the naive per-frame loss on sequences of random direction predicts the mean of each
symmetric pair)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from blur2vid.core.metrics import capped, per_frame_psnr, ppsnr_sequence
from blur2vid.core.tensors import batched
from blur2vid.data import toy
from blur2vid.data.sample import Batch
from blur2vid.experiments.claims import claims_table, fact, margin_claim
from blur2vid.experiments.tables import rows_of, scene_table, summary
from blur2vid.training.loop import Workspace
from blur2vid.training.unet_schemes import UNetTrainConfig, train_unet, unet_test_set

__all__ = ["AmbiguityConfig", "Figure2", "figure2", "NaiveOrderResult", "naive_order_experiment", "pair_mean_groups",
           "claims"]


@dataclass(frozen=True)
class AmbiguityConfig:
    """Notebook 02: the toy's size, and the naive U-Net run (notebook 06 reuses it)."""

    toy_size: int = 64
    toy_frames: int = 5
    unet: UNetTrainConfig = UNetTrainConfig()
    n_test: int = 256


@dataclass
class Figure2:
    """Jin Fig. 2: the columns (a)-(j) of the four motion scenarios, and which are identical."""

    columns: dict[str, torch.Tensor]
    directions: list
    meanings: dict[str, str]
    identical: dict[str, bool]

    def table(self) -> pd.DataFrame:
        return pd.Series(self.identical, name="identical in all 4 rows").to_frame().T


def figure2(cfg: AmbiguityConfig) -> Figure2:
    """The two-ball toy in its four motion scenarios, its Fig. 2 columns and their identities."""
    sequences, directions = toy.ambiguity_scenarios(n_objects=2, n_frames=cfg.toy_frames, size=cfg.toy_size)
    columns = toy.figure2_columns(sequences)
    return Figure2(columns, directions, toy.column_meanings(cfg.toy_frames), toy.identical_across_rows(columns))


@dataclass
class NaiveOrderResult:
    """What the naive per-frame L2 network predicts, measured on held-out scenes."""

    table: pd.DataFrame          # one row per frame position
    scenes: pd.DataFrame         # the same per test scene (a scene table: measure x scene, F1..F7)
    test: Batch                  # held-out blurs and true frames
    prediction: torch.Tensor     # [N, T, C, H, W]
    history: list[dict] = field(default_factory=list)


def naive_order_experiment(cfg: AmbiguityConfig, ws: Workspace = Workspace()) -> NaiveOrderResult:
    """HyperCUT Eq. 2: train the U-Net with the plain per-frame squared error on sequences whose
    time direction is random, then measure, per frame position k, the PSNR of its prediction
    against the true frame x_k, the mirrored frame x_{T+1-k}, and their mean (x_k + x_{T+1-k}) / 2.
    The training run is :func:`~blur2vid.training.unet_schemes.train_unet`'s ``"naive"`` run, which notebook 06
    reuses."""
    model, history = train_unet("naive", cfg.unet, ws=ws)
    test = unet_test_set(cfg.unet, cfg.n_test, ws.device)
    pred = batched(model, test.blur, 64, clamp=True)
    frames = test.frames
    mirrored = frames.flip(1)
    blur = test.blur.unsqueeze(1).expand_as(frames)

    def scores(p, t):
        return capped(per_frame_psnr(p, t)).cpu().numpy()

    scenes = scene_table({
        "vs_true_frame": ("prediction vs the true frame x_k", scores(pred, frames)),
        "vs_mirrored_frame": ("prediction vs the mirrored frame x_{T+1-k}", scores(pred, mirrored)),
        "vs_pair_mean": ("prediction vs the pair mean", scores(pred, (frames + mirrored) / 2)),
        "ppsnr_sequence": ("pPSNR (sequence level)", capped(ppsnr_sequence(pred, frames)).cpu().numpy()),
        "blur_vs_true_frame": ("the blur vs the true frame", scores(blur, frames)),
    }, mean=False)
    table = summary(scenes).drop(columns="label").T.rename_axis("frame")
    return NaiveOrderResult(table=table, scenes=scenes, test=test, prediction=pred, history=history)


def pair_mean_groups(result: NaiveOrderResult, n: int = 3) -> dict[str, torch.Tensor]:
    """The first ``n`` test sequences as the true frames, the symmetric pair means and the
    predictions, for :func:`blur2vid.reproduction.plots.sequence_comparison`."""
    frames = result.test.frames[:n]
    return {"true": frames, "pair mean": (frames + frames.flip(1)) / 2, "predicted": result.prediction[:n]}


def claims(fig2: Figure2, scenes: pd.DataFrame) -> pd.DataFrame:
    """Notebook 02's claims: Fig. 2's identities (facts, bit for bit: f and g-j are the same image
    in all four rows; of the frames only the middle one, c, is), and HyperCUT Eq. 2 read off
    :func:`naive_order_experiment`'s per-scene table (``result.scenes``): away from the middle, the
    prediction is closer to the mean of the symmetric pair than to the true frame (judged on the
    frame where that is least so), and the middle frame is predicted best (against the best other
    frame); each margin with its evidence per test scene."""
    same = fig2.identical
    true = rows_of(scenes, "vs_true_frame").drop(columns="label").to_numpy(dtype=float)
    pair = rows_of(scenes, "vs_pair_mean").drop(columns="label").to_numpy(dtype=float)
    mid = true.shape[1] // 2
    outer = [k for k in range(true.shape[1]) if k != mid]
    closer = pair - true
    worst = min(outer, key=lambda k: closer[:, k].mean())
    best_other = max(outer, key=lambda k: true[:, k].mean())
    return claims_table([
        fact("jin.fig2.pair_columns_identical", "columns f-j (blur and pair statistics) are identical in all 4 rows",
             all(same[k] for k in "fghij")),
        fact("jin.fig2.only_middle_frame_identical", "of the frames a-e only the middle one (c) is identical",
             same["c"] and not any(same[k] for k in "abde")),
        margin_claim("hypercut.eq2.closer_to_pair_mean", "away from the middle, the naive prediction is closer to "
                     f"the mean of the symmetric pair than to the true frame (F{worst + 1}, the frame where it is "
                     "least so)", closer[:, worst]),
        margin_claim("hypercut.eq2.middle_best", "the middle frame is the best predicted (margin over the best "
                     f"other frame, F{best_other + 1})", true[:, mid] - true[:, best_other]),
    ])
