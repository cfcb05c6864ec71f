"""Scoring shared by the trained notebooks: per-scene pPSNR tables, their summaries, the baselines
that learn nothing, the premise and the gains (per scene: the evidence of a claim's interval).

A *scene table* has one row per (row id, test scene), index ``(id, scene)``, a ``label`` column for
people and the score columns (``F1``...``F7`` and ``mean`` for a pPSNR table); its :func:`summary`
is the table a paper shows, indexed by row id, with the means over scenes.  Code looks rows up by id.
:meth:`blur2vid.reproduction.runs.NotebookRun.save` writes a scene table as ``<stem>_scenes.csv`` and its summary
as ``<stem>.csv`` / ``.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from blur2vid.core.metrics import capped, ppsnr
from blur2vid.core.tensors import batched
from blur2vid.data.sample import Batch

__all__ = ["BASELINES", "OUTER", "blur_copy_ppsnr", "over_blur_copy", "model_and_copy_ppsnr", "scene_scores", "scene_table", "is_scene_table", "summary", "baseline_rows",
           "rows_of", "premise_margin", "outer_gain", "ppsnr_table", "gain_long", "frame_labels"]

BASELINES = {
    "baseline_blur": "baseline: the blur as every frame",
    "baseline_middle": "baseline: the middle estimate as every frame",
}
"""Rows of predictions that learn nothing: a network whose non-middle frames do not beat them has
not learned to extract frames."""

OUTER = ["F1", "F2", "F6", "F7"]
"""The frames away from the middle, where an order matters most."""

Row = tuple[str, np.ndarray]  # (label, scores [scenes, columns])


def blur_copy_ppsnr(blur: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Per scene and frame ``[N, T]``: the (capped) pPSNR of the blur ``[N, C, H, W]`` copied to
    every frame of ``frames [N, T, C, H, W]``, the prediction that learns nothing."""
    frames = frames.float()
    return capped(ppsnr(blur.unsqueeze(1).expand_as(frames).float(), frames))


def over_blur_copy(pred: torch.Tensor, frames: torch.Tensor, blur: torch.Tensor) -> torch.Tensor:
    """Per scene and frame ``[N, T]``: the (capped) pPSNR of ``pred`` over that of the blur copied to
    every frame, in dB: what a model gains over learning nothing.  Its middle column ``[:, T // 2]``
    is "the middle frame over the blurry input" (the middle frame has no order)."""
    return capped(ppsnr(pred.float(), frames.float())) - blur_copy_ppsnr(blur, frames)


def model_and_copy_ppsnr(model: Callable[[torch.Tensor], torch.Tensor], test: Batch, batch_size: int = 32
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per scene and frame ``[N, T]``: the pPSNR of ``model``'s frames and of the blur copied to
    every frame, both capped (the margins a trained model is judged by)."""
    frames = test.frames.float()
    return capped(ppsnr(batched(model, test.blur, batch_size, clamp=True).float(), frames)), \
        blur_copy_ppsnr(test.blur, frames)


def scene_scores(pred: torch.Tensor, target: torch.Tensor, level: str = "sequence") -> np.ndarray:
    """Per-scene, per-frame pPSNR ``[N, T]`` (``level``: ``"sequence"`` or ``"pair"``, see
    :mod:`blur2vid.core.metrics`), capped at 100 dB (an exact frame)."""
    return capped(ppsnr(pred, target, level)).cpu().numpy()


def scene_table(rows: dict[str, Row], columns: Sequence[str] | None = None, mean: bool = True) -> pd.DataFrame:
    """``{id: (label, scores [N, K])}`` as a scene table: index ``(id, scene)``, ``label`` first, then
    the K score columns (``F1``... unless ``columns`` names them) and, with ``mean``, their mean."""
    parts = []
    for row_id, (label, scores) in rows.items():
        scores = np.asarray(scores, dtype=float).reshape(len(scores), -1)
        names = list(columns) if columns is not None else frame_labels(scores.shape[1])
        part = pd.DataFrame(scores, columns=names)
        if mean:
            part["mean"] = scores.mean(axis=1)
        part.insert(0, "label", label)
        part.index = pd.MultiIndex.from_product([[row_id], range(len(part))], names=["id", "scene"])
        parts.append(part)
    return pd.concat(parts)


def is_scene_table(table: pd.DataFrame) -> bool:
    return list(table.index.names) == ["id", "scene"]


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """A scene table's means over scenes (and seeds, if it has a ``seed`` column), one row per id in
    the order of the table, ``label`` first."""
    numeric = [c for c in table.columns if c not in ("label", "seed")]
    ids = list(dict.fromkeys(table.index.get_level_values("id")))
    grouped = table.groupby(level="id", sort=False)
    out = grouped[numeric].mean().loc[ids]
    out.insert(0, "label", grouped["label"].first().loc[ids])
    return out


@torch.no_grad()
def baseline_rows(test: Batch, middle: torch.nn.Module | None = None, level: str = "sequence") -> dict[str, Row]:
    """The :data:`BASELINES` rows: the blur repeated as every frame and, given a middle network,
    its estimate repeated."""
    t = test.frames.shape[1]
    rows = {"baseline_blur": (BASELINES["baseline_blur"],
                              scene_scores(test.blur.unsqueeze(1).expand(-1, t, -1, -1, -1).contiguous(), test.frames,
                                           level))}
    if middle is not None:
        est = batched(middle, test.blur, 32, clamp=True)
        rows["baseline_middle"] = (BASELINES["baseline_middle"],
                                   scene_scores(est.unsqueeze(1).expand(-1, t, -1, -1, -1).contiguous(), test.frames,
                                                level))
    return rows


def rows_of(table: pd.DataFrame, row: str) -> pd.DataFrame:
    """The scenes of row ``row`` of a scene table (``scene`` as the index)."""
    return table.xs(row, level="id")


def _per_scene(table: pd.DataFrame, row: str, cols: Sequence[str]) -> np.ndarray:
    return rows_of(table, row)[list(cols)].to_numpy(dtype=float).mean(axis=1)


def outer_gain(table: pd.DataFrame, row: str, over: str, cols: Sequence[str] = OUTER) -> np.ndarray:
    """Per scene: the mean of ``cols`` of row ``row`` minus that of row ``over`` (dB), on the same
    scenes (the evidence of a margin claim)."""
    return _per_scene(table, row, cols) - _per_scene(table, over, cols)


def premise_margin(table: pd.DataFrame, rows: Sequence[str], cols: Sequence[str] = OUTER) -> np.ndarray:
    """Per scene: the best of ``rows`` (best by its mean over scenes) minus the better baseline row,
    on ``cols`` (dB)."""
    means = summary(table)[list(cols)].mean(axis=1)
    best = means.loc[list(rows)].idxmax()
    baseline = means.loc[[b for b in BASELINES if b in means.index]].idxmax()
    return outer_gain(table, best, baseline, cols)


def ppsnr_table(models: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]], test: Batch,
                middle: torch.nn.Module | None = None) -> pd.DataFrame:
    """Per-scene sequence-level pPSNR (F1..F7, mean) of ``{id: (label, model)}`` on ``test``, a scene
    table (HyperCUT's table is its :func:`summary`).  With ``middle`` (a middle-frame network) the
    baseline rows come first."""
    rows = baseline_rows(test, middle) if middle is not None else {}
    for row_id, (label, model) in models.items():
        rows[row_id] = (label, scene_scores(batched(model, test.blur, 64, clamp=True), test.frames))
    return scene_table(rows)


def gain_long(table: pd.DataFrame, row: str) -> pd.DataFrame:
    """Per-scene, per-frame gain (dB) of every other row of a pPSNR scene table over ``row``, long:
    columns ``model`` (the label), ``frame``, ``gain`` (and ``seed`` if the table has one): the data of
    :func:`blur2vid.reproduction.plots.gain_figure`."""
    frames = [c for c in table.columns if c.startswith("F")]
    base = rows_of(table, row)[frames].to_numpy(dtype=float)
    parts = []
    for other in dict.fromkeys(table.index.get_level_values("id")):
        if other == row:
            continue
        sub = rows_of(table, other)
        gain = pd.DataFrame(sub[frames].to_numpy(dtype=float) - base, columns=frames)
        gain["model"] = sub["label"].iloc[0]
        if "seed" in sub.columns:
            gain["seed"] = sub["seed"].to_numpy()
        parts.append(gain.melt(id_vars=[c for c in ("model", "seed") if c in gain.columns], var_name="frame",
                               value_name="gain"))
    return pd.concat(parts, ignore_index=True)


def frame_labels(n: int) -> list[str]:
    """``["F1", ..., "Fn"]``: column labels of a sequence figure."""
    return [f"F{k + 1}" for k in range(n)]
