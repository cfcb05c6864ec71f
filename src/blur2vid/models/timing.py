"""Run time and size of the networks: Jin et al. (CVPR 2018), Table 3.

Table 3 of the paper ("Execution time comparison ... on three different resolutions on a Titan X
GPU") gives seconds per image and parameter counts; its numbers are in
:data:`blur2vid.core.published.JIN_TABLE3`.

**Resolutions.**  The paper names them only "320P", "480P" and "720P".  "720P" is the GoPro
frame size the paper trains from (1280 x 720, Sec. 7), a 16:9 frame, so all three are read as
16:9 frames of that height, the width rounded to an even number: 320P = 568 x 320, 480P = 854 x
480 (the usual FWVGA "480p"), 720P = 1280 x 720.  Sizes here are ``(height, width)``.  Other
readings (e.g. 4:3, 640 x 480) change the pixel count of 480P by 25%; pass ``resolutions=`` for
them.

:func:`time_forward` times one forward pass (``torch.inference_mode``, warm-up runs first,
``torch.cuda.synchronize`` around every timed run on CUDA); :func:`table3` builds the table for
any models, next to the paper's numbers; :func:`table3_models` makes the three networks of the
table.  ``benchmarks/bench_table3.py`` is the command-line front end.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from blur2vid.core.published import JIN_TABLE3, JIN_TABLE3_DEVICE
from blur2vid.models import JinCascade, JinConfig, MiddleNet, NahConfig, NahMultiScale, count_parameters

__all__ = [
    "RESOLUTIONS",
    "device_name",
    "time_forward",
    "table3",
    "table3_models",
]

RESOLUTIONS: dict[str, tuple[int, int]] = {"320P": (320, 568), "480P": (480, 854), "720P": (720, 1280)}
"""The resolutions of Table 3 as ``(height, width)``: 16:9 frames of 320, 480 and 720 rows."""

_PAPER_RESOLUTIONS = ("320P", "480P", "720P")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def device_name(device: torch.device | str) -> str:
    """A readable name of ``device``: the GPU's name for CUDA, the CPU model (and the number of
    threads torch uses) for CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"{_cpu_name()} ({torch.get_num_threads()} threads)"
    return str(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(
    model: nn.Module,
    size: tuple[int, int],
    device: torch.device | str = "cpu",
    warmup: int = 1,
    repeats: int = 3,
    batch: int = 1,
    channels: int = 3,
) -> dict:
    """Wall-clock time of ``model(x)`` for a random ``x`` of shape ``[batch, channels, *size]``.

    ``size`` is ``(height, width)``.  The model is moved to ``device`` (in place, as
    :meth:`nn.Module.to` does) and run in eval mode under :func:`torch.inference_mode`; its
    training flag is restored afterwards.  ``warmup`` untimed runs come first, then ``repeats``
    timed ones, each bracketed by :func:`torch.cuda.synchronize` on CUDA.

    Returns ``{"min_s", "median_s", "mean_s", "max_s", "times_s", "size", "batch", "warmup",
    "repeats", "device"}`` (seconds per forward pass of the whole batch).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be non-negative, got {warmup}")
    h, w = size
    device = torch.device(device)
    was_training = model.training
    model.to(device).eval()
    times: list[float] = []
    try:
        with torch.inference_mode():
            x = torch.rand(batch, channels, h, w, device=device)
            for _ in range(warmup):
                model(x)
            _sync(device)
            for _ in range(repeats):
                _sync(device)
                start = time.perf_counter()
                model(x)
                _sync(device)
                times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return {
        "min_s": min(times),
        "median_s": statistics.median(times),
        "mean_s": statistics.fmean(times),
        "max_s": max(times),
        "times_s": times,
        "size": (h, w),
        "batch": batch,
        "warmup": warmup,
        "repeats": repeats,
        "device": str(device),
    }


def table3_models(scale: str = "paper") -> dict[str, nn.Module]:
    """The three networks of Table 3: ``{"Nah": ..., "Middle": ..., "Full": ...}``.

    ``scale="paper"``: the paper's sizes (about 12M, 5M and 18M parameters); ``"cpu"`` and
    ``"smoke"``: the repository's small presets (:meth:`JinConfig.cpu`, :meth:`NahConfig.cpu`, ...).
    """
    jin, nah = JinConfig.preset(scale), NahConfig.preset(scale)
    return {"Nah": NahMultiScale(nah), "Middle": MiddleNet(jin), "Full": JinCascade(jin)}


def _paper_row(name: str) -> dict[str, float] | None:
    for key, row in JIN_TABLE3.items():
        if name.lower().startswith(key.lower()):
            return row
    return None


def table3(
    models: Mapping[str, nn.Module],
    resolutions: Mapping[str, tuple[int, int]] | Sequence[str] = RESOLUTIONS,
    device: torch.device | str = "cpu",
    repeats: int = 3,
    warmup: int = 1,
    stat: str = "median_s",
    progress: bool = False,
) -> pd.DataFrame:
    """Table 3 for ``models`` (``{name: module}``), one row per model, indexed by name.

    ``resolutions``: ``{label: (height, width)}`` or labels of :data:`RESOLUTIONS`.  Columns:

    * ``<label>_s`` for every resolution: the ``stat`` (default the median) of
      :func:`time_forward`, seconds per image;
    * ``params`` (exact count of distinct trainable parameters) and ``params_M`` (millions);
    * ``paper_320P_s``, ``paper_480P_s``, ``paper_720P_s``, ``paper_params_M``: Table 3 of the paper
      for the row whose name starts with ``Nah``, ``Middle`` or ``Full`` (case-insensitive), NaN for
      other names;
    * ``device`` (:func:`device_name`) and ``paper_device`` (the paper's Titan X).
    """
    if not isinstance(resolutions, Mapping):
        resolutions = {label: RESOLUTIONS[label] for label in resolutions}
    if stat not in ("min_s", "median_s", "mean_s", "max_s"):
        raise ValueError(f"stat must be one of min_s, median_s, mean_s, max_s, got {stat!r}")
    dev_name = device_name(device)
    rows = []
    for name, model in models.items():
        row: dict[str, object] = {"model": name}
        for label, size in resolutions.items():
            result = time_forward(model, tuple(size), device, warmup=warmup, repeats=repeats)
            row[f"{label}_s"] = result[stat]
            if progress:
                print(f"  {name} {label} {size[0]}x{size[1]}: {result[stat]:.3f} s", flush=True)
        n = count_parameters(model)
        row["params"] = n
        row["params_M"] = n / 1e6
        paper = _paper_row(name)
        for label in _PAPER_RESOLUTIONS:
            row[f"paper_{label}_s"] = paper[label] if paper else math.nan
        row["paper_params_M"] = paper["params_M"] if paper else math.nan
        row["device"] = dev_name
        row["paper_device"] = JIN_TABLE3_DEVICE
        rows.append(row)
    columns = (
        [f"{label}_s" for label in resolutions]
        + ["params", "params_M"]
        + [f"paper_{label}_s" for label in _PAPER_RESOLUTIONS]
        + ["paper_params_M", "device", "paper_device"]
    )
    return pd.DataFrame(rows, columns=["model", *columns]).set_index("model")
