"""Learning curves: the validation score of every trained network against the training samples it
had seen (logged by :func:`blur2vid.training.loop.fit` about ten times a run, on the validation set), as a
table a notebook saves and plots, and each curve's final slope, which says whether a run had
converged when its budget ran out."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["curve_table", "final_slopes", "SLOPE_SAMPLES"]

SLOPE_SAMPLES = 10_000
"""Final slopes are given in score units per this many training samples."""


def curve_table(histories: dict[str, list[dict]], y: str) -> pd.DataFrame:
    """``{run: history}`` -> one row per validation point: ``run``, ``stage`` (where the history has
    stages, else empty), ``samples`` and ``y``.  Runs that logged no ``y`` are left out; a table with
    no run at all is an error that says so."""
    rows = []
    for run, history in histories.items():
        for h in history:
            if y in h and h[y] == h[y]:
                rows.append({"run": run, "stage": h.get("stage", ""), "samples": int(h["samples"]), y: float(h[y])})
    if not rows:
        raise ValueError(f"no history logged {y!r} (runs: {list(histories)}); a run trained without a validation "
                         "set (Workspace(validation=0)) has no learning curve")
    return pd.DataFrame(rows)


def final_slopes(curves: pd.DataFrame, y: str) -> pd.DataFrame:
    """Per run of a :func:`curve_table`: the first and the final score, the best, and the slope of
    the last stretch of the curve (a least-squares line through its last three points, in units of
    ``y`` per :data:`SLOPE_SAMPLES` samples; the last stage only, for a staged run).  A slope near 0
    says the run had levelled off; a large positive one, that more samples would still have paid."""
    out = {}
    for run, group in curves.groupby("run", sort=False):
        group = group.sort_values("samples")
        stage = group["stage"].astype(object).fillna("")  # a table read back from CSV has NaN for "no stage"
        last = group[stage == stage.iloc[-1]].tail(3)
        x, v = last["samples"].to_numpy(float), last[y].to_numpy(float)
        slope = float(np.polyfit(x, v, 1)[0]) * SLOPE_SAMPLES if len(last) > 1 and np.ptp(x) > 0 else float("nan")
        out[run] = {"samples": int(group["samples"].iloc[-1]), "first": float(group[y].iloc[0]),
                    "final": float(group[y].iloc[-1]), "best": float(group[y].max()),
                    f"slope per {SLOPE_SAMPLES // 1000}k samples": slope}
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("run")
