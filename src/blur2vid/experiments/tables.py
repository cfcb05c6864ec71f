"""Scoring shared by the trained notebooks: per-frame pPSNR rows, the baselines that learn nothing,
the premise margin, and the per-frame figures.

Tables are indexed by row id (``baseline_blur``, a variant's id, ...) and carry a ``label`` column
for people; code looks rows up by id.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch

from blur2vid.data.sample import Batch
from blur2vid.metrics import ppsnr
from blur2vid.tensors import batched

__all__ = ["BASELINES", "score_row", "baseline_rows", "table_from_rows", "premise_margin", "outer_gain",
           "ppsnr_table", "gain_over", "frame_labels", "OUTER"]

BASELINES = {
    "baseline_blur": "baseline: the blur as every frame",
    "baseline_middle": "baseline: the middle estimate as every frame",
}
"""Rows of predictions that learn nothing: a network whose non-middle frames do not beat them has
not learned to extract frames."""

OUTER = ["F1", "F2", "F6", "F7"]
"""The frames away from the middle, where an order matters most."""

Row = tuple[str, dict[str, float]]  # (label, scores)


def score_row(pred: torch.Tensor, target: torch.Tensor, level: str = "sequence") -> dict[str, float]:
    """Mean per-frame pPSNR (``level``: ``"sequence"`` or ``"pair"``, see :mod:`blur2vid.metrics`)
    and their mean, as a table row."""
    scores = ppsnr(pred, target, level).clamp(max=100).mean(0).tolist()
    return {**dict(zip(frame_labels(len(scores)), scores, strict=True)), "mean": sum(scores) / len(scores)}


def table_from_rows(rows: dict[str, Row]) -> pd.DataFrame:
    """``{id: (label, scores)}`` as a table indexed by id with the ``label`` column first."""
    df = pd.DataFrame({i: {"label": label, **scores} for i, (label, scores) in rows.items()}).T
    df.index.name = "id"
    return df.astype({c: float for c in df.columns if c != "label"})


@torch.no_grad()
def baseline_rows(test: Batch, middle: torch.nn.Module | None = None, level: str = "sequence") -> dict[str, Row]:
    """The :data:`BASELINES` rows: the blur repeated as every frame and, given a middle network,
    its estimate repeated."""
    t = test.frames.shape[1]
    rows = {"baseline_blur": (BASELINES["baseline_blur"],
                              score_row(test.blur.unsqueeze(1).expand(-1, t, -1, -1, -1).contiguous(), test.frames, level))}
    if middle is not None:
        est = batched(middle, test.blur, 32, clamp=True)
        rows["baseline_middle"] = (BASELINES["baseline_middle"],
                                   score_row(est.unsqueeze(1).expand(-1, t, -1, -1, -1).contiguous(), test.frames, level))
    return rows


def premise_margin(table: pd.DataFrame, rows: list[str], cols: list[str] = OUTER) -> float:
    """How far the best of ``rows`` is above the better baseline row, averaged over ``cols`` (dB)."""
    baselines = [b for b in BASELINES if b in table.index]
    return float(table.loc[rows, cols].mean(axis=1).max() - table.loc[baselines, cols].mean(axis=1).max())


def outer_gain(table: pd.DataFrame, row: str, over: str, cols: list[str] = OUTER) -> float:
    """Mean of ``cols`` of row ``row`` minus that of row ``over`` (dB)."""
    return float(table.loc[row, cols].mean() - table.loc[over, cols].mean())


def ppsnr_table(models: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]], test: Batch,
                middle: torch.nn.Module | None = None) -> pd.DataFrame:
    """Per-frame sequence-level pPSNR (F1..F7) and the mean of ``{id: (label, model)}``, one row per
    model (HyperCUT's table).  With ``middle`` (a middle-frame network) the baseline rows come first."""
    rows = baseline_rows(test, middle) if middle is not None else {}
    for row_id, (label, model) in models.items():
        rows[row_id] = (label, score_row(batched(model, test.blur, 64, clamp=True), test.frames))
    return table_from_rows(rows)


def gain_over(table: pd.DataFrame, row: str) -> pd.DataFrame:
    """Per-frame gain (dB) of every other row of a pPSNR table over ``row``: frames as rows, one
    column per model, named by its label (for a gain plot)."""
    frames = [c for c in table.columns if c.startswith("F")]
    others = [r for r in table.index if r != row]
    gain = table.loc[others, frames].astype(float) - table.loc[row, frames].astype(float)
    return gain.set_axis(table.loc[others, "label"], axis=0).T.rename_axis("frame")


def frame_labels(n: int) -> list[str]:
    """``["F1", ..., "Fn"]``: column labels of a sequence figure."""
    return [f"F{k + 1}" for k in range(n)]
