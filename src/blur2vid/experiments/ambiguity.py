"""Notebook 02, the order ambiguity: Jin Fig. 2 (the two-ball toy) and HyperCUT Eq. 2 (a network
trained with the naive per-frame loss on sequences of random direction predicts the mean of each
symmetric pair)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from blur2vid.data import toy
from blur2vid.data.sample import Batch
from blur2vid.experiments.claims import claims_table, fact, threshold_claim
from blur2vid.experiments.tables import frame_labels
from blur2vid.metrics import per_frame_psnr, ppsnr_sequence
from blur2vid.tensors import batched
from blur2vid.train import Workspace
from blur2vid.train_unet import UNetTrainConfig, train_unet, unet_test_set

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
    test: Batch                  # held-out blurs and true frames
    prediction: torch.Tensor     # [N, T, C, H, W]
    history: list[dict] = field(default_factory=list)


def naive_order_experiment(cfg: AmbiguityConfig, ws: Workspace = Workspace()) -> NaiveOrderResult:
    """HyperCUT Eq. 2: train the U-Net with the plain per-frame squared error on sequences whose
    time direction is random, then measure, per frame position k, the PSNR of its prediction
    against the true frame x_k, the mirrored frame x_{T+1-k}, and their mean (x_k + x_{T+1-k}) / 2.
    The training run is :func:`~blur2vid.train_unet.train_unet`'s ``"naive"`` run, which notebook 06
    reuses."""
    model, history = train_unet("naive", cfg.unet, ws=ws)
    test = unet_test_set(cfg.unet, cfg.n_test, ws.device)
    pred = batched(model, test.blur, 64, clamp=True)
    frames = test.frames
    mirrored = frames.flip(1)
    pair_mean = (frames + mirrored) / 2
    blur = test.blur.unsqueeze(1).expand_as(frames)
    table = pd.DataFrame({
        "frame": frame_labels(frames.shape[1]),
        "vs_true_frame": per_frame_psnr(pred, frames).clamp(max=100).mean(0).numpy(),
        "vs_mirrored_frame": per_frame_psnr(pred, mirrored).clamp(max=100).mean(0).numpy(),
        "vs_pair_mean": per_frame_psnr(pred, pair_mean).clamp(max=100).mean(0).numpy(),
        "ppsnr_sequence": ppsnr_sequence(pred, frames).clamp(max=100).mean(0).numpy(),
        "blur_vs_true_frame": per_frame_psnr(blur, frames).clamp(max=100).mean(0).numpy(),
    }).set_index("frame")
    return NaiveOrderResult(table=table, test=test, prediction=pred, history=history)


def pair_mean_groups(result: NaiveOrderResult, n: int = 3) -> dict[str, torch.Tensor]:
    """The first ``n`` test sequences as the true frames, the symmetric pair means and the
    predictions, for :func:`blur2vid.plots.sequence_comparison`."""
    frames = result.test.frames[:n]
    return {"true": frames, "pair mean": (frames + frames.flip(1)) / 2, "predicted": result.prediction[:n]}


def claims(fig2: Figure2, table: pd.DataFrame) -> pd.DataFrame:
    """Notebook 02's claims: Fig. 2's identities (facts, bit for bit: f and g-j are the same image
    in all four rows; of the frames only the middle one, c, is), and HyperCUT Eq. 2 read off
    :func:`naive_order_experiment`'s table: away from the middle, the prediction is closer to the
    mean of the symmetric pair than to the true frame, and the middle frame is predicted best."""
    same = fig2.identical
    mid = len(table) // 2
    outer = [k for k in range(len(table)) if k != mid]
    margin = table["vs_pair_mean"].to_numpy() - table["vs_true_frame"].to_numpy()
    true_psnr = table["vs_true_frame"].to_numpy()
    others = max(true_psnr[k] for k in outer)
    return claims_table([
        fact("jin.fig2.pair_columns_identical", "columns f-j (blur and pair statistics) are identical in all 4 rows",
             all(same[k] for k in "fghij")),
        fact("jin.fig2.only_middle_frame_identical", "of the frames a-e only the middle one (c) is identical",
             same["c"] and not any(same[k] for k in "abde")),
        threshold_claim("hypercut.eq2.closer_to_pair_mean", "away from the middle, the naive prediction is closer to "
                        "the mean of the symmetric pair than to the true frame (smallest margin)",
                        min(margin[k] for k in outer), above=0.0, unit="dB"),
        threshold_claim("hypercut.eq2.middle_best", "the middle frame is the best predicted (margin over the best "
                        "other frame)", true_psnr[mid] - others, at_least=-1e-9, unit="dB"),
    ])
