"""``blur2vid evaluate``: models on footage, scored by every convention of the field, with intervals
that respect sequences.

Footage (:func:`open_footage`): a dataset folder the loaders read (frame folders, videos, RB2V), a
video file, a folder of videos, or by name: ``real`` (the real video scikit-image ships),
``scenes`` (the procedural test scenes) and ``captures`` (the capture-like ones).  A window of
``frames`` consecutive frames is one sample; its blur is Jin Eq. 1 of its frames through ``crf``
(RB2V's blur is captured).  Windows cut from one video are not independent: every window carries
its sequence, and every interval resamples sequences, then windows within them
(:func:`~blur2vid.experiments.intervals.hierarchical_bootstrap`), so the reported mean is the mean
of the sequences' means.  With one sequence there is no interval.

Models run as ``blur2vid predict`` runs them (working scale, held to the photograph as their card
says) unless ``bare``: the network alone at full size.  The blur copied to every frame is always a
row.  Every batch's scores are added to ``windows.csv`` as they are made and flushed to disk, so a
killed run resumes without scoring a finished window again (a last line the kill cut short is
dropped and scored again).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from blur2vid.core import metrics
from blur2vid.core.formation import blur_from_linear, get_crf, linear_intensities
from blur2vid.core.io import atomic_write_text, save_figure, shown_path
from blur2vid.experiments.intervals import hierarchical_bootstrap

__all__ = ["FOOTAGE_NAMES", "EvalConfig", "Footage", "open_footage", "score_windows", "Evaluation", "evaluate",
           "summarise", "score_footage", "CONVENTIONS", "BLUR_COPY"]

BLUR_COPY = "blur copy"
"""The row of the prediction that learns nothing: the blur copied to every frame."""

FOOTAGE_NAMES = {"real": "the real video scikit-image ships (no_time_for_that_tiny.gif, 24 frames of 25x14)",
                 "scenes": "the procedural test scenes (camera pans, the cpu profile's data)",
                 "captures": "the capture-like test scenes (camera shake, objects, noise, JPEG)"}

CONVENTIONS = {
    "forward_db": "PSNR in the order predicted (no direction chosen)",
    "mean": "pPSNR, sequence level (HyperCUT; Animation-from-Blur for one output)",
    "pair_db": "pPSNR, pair level (HyperCUT's README)",
    "pwpsnr_db": "PWPSNR, pixel level (Tedla et al.)",
    "middle": "middle frame only (Jin et al.)",
    "reblur_db": "re-blur PSNR (no evidence for held frames)",
}
"""The column of each convention in ``windows.csv`` and what it is (:mod:`blur2vid.core.metrics`)."""


@dataclass(frozen=True)
class EvalConfig:
    """How windows are cut and scored: ``frames`` per blur, ``stride`` between window starts (None:
    windows do not overlap), at most ``max_windows`` (evenly spread over the footage; None: all),
    ``crop`` (a centre crop ``[height, width]``, or None for full frames), the camera response
    ``crf`` of the synthesised blur, the dataset ``split``, ``n_scenes`` and ``size`` of the named
    synthetic test sets, ``bare`` (the networks alone, at full size), ``ssim`` (SSIM, the slowest
    of the scores), ``batch`` windows through a network at a time, ``device`` and ``precision``."""

    frames: int = 7
    stride: int | None = None
    max_windows: int | None = None
    crop: tuple[int, int] | None = None
    crf: str = "srgb"
    split: str = "all"
    n_scenes: int = 64
    size: int = 64
    bare: bool = False
    ssim: bool = True
    batch: int = 16
    device: str = "cpu"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        for name in ("frames", "n_scenes", "size", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}: expected a positive integer")
        if self.frames < 3 or self.frames % 2 == 0:
            raise ValueError(f"frames={self.frames}: expected an odd number >= 3 (a middle frame and pairs around it)")
        for name in ("stride", "max_windows"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}={value!r}: expected a positive integer or None")
        if self.crop is not None:
            crop = tuple(self.crop) if not isinstance(self.crop, int) else (self.crop, self.crop)
            if len(crop) != 2 or any(isinstance(c, bool) or not isinstance(c, int) or c < 16 for c in crop):
                raise ValueError(f"crop={self.crop!r}: expected a size in pixels >= 16, or HEIGHTxWIDTH")
            object.__setattr__(self, "crop", crop)
        get_crf(self.crf)


@dataclass
class Footage:
    """Windows to score: ``windows`` lists ``(sequence, window)`` names, ``load(i)`` gives window
    ``i``'s ``(blur [C, H, W], frames [T, C, H, W])``; ``captured_blur`` where the blur is not Eq. 1
    of the frames (RB2V); ``skipped``: files that could not be read, with why."""

    name: str
    kind: str
    windows: list[tuple[str, str]]
    load: Any
    captured_blur: bool = False
    layout: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"footage": self.name, "kind": self.kind, "layout": self.layout, "windows": len(self.windows),
                "sequences": len({s for s, _ in self.windows}), "captured_blur": self.captured_blur,
                "skipped": self.skipped}


def _centre(image: torch.Tensor, crop: tuple[int, int] | None, where: str) -> torch.Tensor:
    if crop is None:
        return image
    h, w = image.shape[-2:]
    if h < crop[0] or w < crop[1]:
        raise ValueError(f"{where}: frames of {h}x{w} are smaller than the crop {crop[0]}x{crop[1]}; "
                         f"use a smaller --crop or --crop full")
    y, x = (h - crop[0]) // 2, (w - crop[1]) // 2
    return image[..., y:y + crop[0], x:x + crop[1]]


def _spread(n: int, most: int | None) -> list[int]:
    """``most`` indices spread evenly over ``range(n)`` (all of them when ``most`` is None)."""
    if most is None or most >= n:
        return list(range(n))
    return sorted({round(i * (n - 1) / max(1, most - 1)) for i in range(most)})


class _SharedBlur:
    """Jin Eq. 1 of windows whose frames are named by keys: each frame is taken to linear
    intensities once and kept while the next windows hold it too (windows one frame apart share all
    but one), the oldest let go beyond ``keep``.  The numbers of :func:`synthesize_blur`, to the bit."""

    def __init__(self, crf: str, keep: int) -> None:
        self.crf, self.keep, self.linear = get_crf(crf), keep, OrderedDict()

    def __call__(self, frames: torch.Tensor, keys: list) -> torch.Tensor:
        for frame, key in zip(frames, keys, strict=True):
            if key in self.linear:
                self.linear.move_to_end(key)
            else:
                self.linear[key] = linear_intensities(frame, self.crf)
        linear = torch.stack([self.linear[k] for k in keys])
        while len(self.linear) > self.keep:
            self.linear.popitem(last=False)
        return blur_from_linear(linear, self.crf)


def open_footage(spec: str | os.PathLike, cfg: EvalConfig = EvalConfig()) -> Footage:
    """The footage ``spec`` names (:data:`FOOTAGE_NAMES`, or a path), cut into windows by ``cfg``."""

    if str(spec) in FOOTAGE_NAMES:
        return _named(str(spec), cfg)
    from blur2vid.data.source import detect_kind
    from blur2vid.data.windows import DatasetError

    root = Path(spec)
    kind = detect_kind(root)
    options = dict(n_frames=cfg.frames, stride=cfg.stride, split=cfg.split, crf=cfg.crf)
    skipped: dict[str, str] = {}
    datasets = []
    if kind == "rb2v":
        from blur2vid.data.rb2v import RB2VDataset

        datasets.append(RB2VDataset(root, split=cfg.split))
        if datasets[0].n_frames != cfg.frames:
            raise ValueError(f"{root}: RB2V samples have {datasets[0].n_frames} frames; pass --frames "
                             f"{datasets[0].n_frames}")
    elif kind == "video":
        from blur2vid.data.video import VideoDataset, find_videos

        files = [root] if root.is_file() else find_videos(root)
        for path in files:
            try:
                datasets.append(VideoDataset(path, **options))
            except DatasetError as exc:
                if root.is_file():
                    raise
                skipped[str(path)] = str(exc)
        if not datasets:
            raise DatasetError(f"{root}: no readable video ({len(skipped)} skipped: {sorted(skipped)})")
    else:
        from blur2vid.data.frame_folders import FrameFolderDataset

        datasets.append(FrameFolderDataset(root, **options))
    index = [(d, i) for d in datasets for i in range(len(d))]
    if not index:
        raise DatasetError(f"{root}: no window of {cfg.frames} frames in split {cfg.split!r}")
    index = [index[i] for i in _spread(len(index), cfg.max_windows)]
    names = [(f"{Path(d.windows[i].path).name if kind == 'video' else d.windows[i].sequence}",
              f"{d.windows[i].id or d.windows[i].frames[0]}") for d, i in index]
    blur = _SharedBlur(cfg.crf, 2 * cfg.frames)  # one for all the videos: a finished one's frames are let go

    def load(j: int) -> tuple[torch.Tensor, torch.Tensor]:
        d, i = index[j]
        where = f"{d.windows[i].path} (window {names[j][1]})"
        if kind == "rb2v":  # a captured blur, cropped as its frames
            sample = d[i]
            return _centre(sample.blur, cfg.crop, where), _centre(sample.frames, cfg.crop, where)
        # the loaders' blur is Eq. 1 of their frames through cfg.crf; Eq. 1 is per pixel, so the
        # crop's blur is the blur's crop: only the crop is blurred
        frames = _centre(d.window_frames(i), cfg.crop, where)
        return blur(frames, [(id(d), d.windows[i].sequence, k) for k in d.windows[i].frames]), frames

    return Footage(str(root), kind, names, load, captured_blur=kind == "rb2v",
                   layout=getattr(datasets[0], "layout", kind), skipped=skipped)


def _named(name: str, cfg: EvalConfig) -> Footage:
    if name == "real":
        from blur2vid.experiments.real import REAL_VIDEO, real_video

        clip = real_video()
        if clip.shape[0] < cfg.frames:
            raise ValueError(f"{REAL_VIDEO} has {clip.shape[0]} frames, fewer than --frames {cfg.frames}")
        starts = list(range(0, clip.shape[0] - cfg.frames + 1, cfg.stride or cfg.frames))
        starts = [starts[i] for i in _spread(len(starts), cfg.max_windows)]
        blur = _SharedBlur(cfg.crf, 2 * cfg.frames)

        def load(j: int):
            frames = _centre(clip[starts[j]:starts[j] + cfg.frames], cfg.crop, REAL_VIDEO)
            return blur(frames, list(range(starts[j], starts[j] + cfg.frames))), frames

        return Footage("real", "video", [(REAL_VIDEO, str(s)) for s in starts], load, layout="skimage")
    from blur2vid.data.config import CAPTURES, DataConfig

    family = CAPTURES if name == "captures" else "pans"
    data = DataConfig(family=family, size=cfg.size, max_shift=cfg.size * 3 / 8, n_frames=cfg.frames)
    test = data.test_set(cfg.n_scenes, "cpu", "evaluate")

    def load(j: int):  # the scenes' own blur (their camera response, their noise)
        return test.blur[j].float(), test.frames[j].float()

    # every scene is its own sequence: independent, one window each
    return Footage(name, "scenes", [(f"scene {j}", "0") for j in range(len(test))], load, layout=family)


def score_windows(pred: torch.Tensor, frames: torch.Tensor, blur: torch.Tensor, crf: str,
                  lpips: torch.nn.Module | None = None, ssim: bool = True) -> pd.DataFrame:
    """Every convention on a batch of windows, one row each: per-frame pPSNR (sequence level)
    ``F1..FT``, its ``mean``, the ``middle`` frame, the ``outer`` frames (two from each end), and
    the whole-window numbers of :data:`CONVENTIONS`, SSIM in the sequence direction, and LPIPS (in
    that direction) when a model is given (SSIM unless ``ssim=False``: the slowest of the scores).
    PSNRs are :func:`~blur2vid.core.metrics.capped`."""
    cap = metrics.capped
    t = frames.shape[1]
    scores = metrics.conventions(pred, frames)
    per_frame = cap(scores["sequence"])
    table = pd.DataFrame(per_frame.numpy(), columns=[f"F{k}" for k in range(1, t + 1)])
    table["mean"] = per_frame.mean(1).numpy()
    table["middle"] = cap(scores["middle"]).numpy()
    table["outer"] = per_frame[:, [0, 1, t - 2, t - 1]].mean(1).numpy()
    table["forward_db"] = cap(scores["forward"]).mean(1).numpy()
    table["pair_db"] = cap(scores["pairs"]).mean(1).numpy()
    table["pwpsnr_db"] = cap(scores["pwpsnr"]).numpy()
    table["reblur_db"] = cap(metrics.reblur_psnr(pred, blur, crf)).numpy()
    reverse = scores["reversed"]
    if ssim:
        table["ssim"] = metrics.ssim_sequence(pred, frames, reverse=reverse).mean(1).numpy()
    if lpips is not None:
        table["lpips"] = lpips(metrics.in_sequence_direction(pred, reverse), frames).mean(1).cpu().numpy()
    return table


@dataclass
class _Group:
    """Windows of one size, stacked once for every row that scores them: ``indices`` into the
    footage's windows, ``blur [B, C, H, W]`` and ``frames [B, T, C, H, W]``."""

    indices: list[int]
    blur: torch.Tensor
    frames: torch.Tensor

    def only(self, keep: list[int]) -> _Group:
        """The windows ``keep`` of this group (a resumed run scores only what a row lacks)."""
        if keep == self.indices:
            return self
        rows = torch.tensor([self.indices.index(j) for j in keep])
        return _Group(keep, self.blur[rows], self.frames[rows])


def _batches(footage: Footage, indices: list[int], batch: int):
    """The windows ``indices`` of ``footage``, ``batch`` at a time: ``(chunk, groups)``, each
    :class:`_Group` of windows of one size (full frames of several sizes go one by one)."""
    for start in range(0, len(indices), batch):
        chunk = indices[start:start + batch]
        loaded = [(j, *footage.load(j)) for j in chunk]
        same = len({tuple(b.shape) for _, b, _ in loaded}) == 1
        yield chunk, [_Group([j for j, _, _ in part], _stacked([b for _, b, _ in part]), _stacked([f for _, _, f in part]))
                      for part in ([loaded] if same else [[x] for x in loaded])]


def _stacked(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack`` written straight into a contiguous tensor (a stack of crops, which are views,
    would otherwise keep their layout and be copied again by the scoring)."""
    return torch.stack(tensors, out=torch.empty((len(tensors), *tensors[0].shape), dtype=tensors[0].dtype))


def _scored(name: str, model: torch.nn.Module | None, group: _Group, footage: Footage, cfg: EvalConfig,
            lpips: torch.nn.Module | None = None, noise: float = 0.0, denoiser: torch.nn.Module | None = None
            ) -> pd.DataFrame:
    """The rows of :func:`score_windows` for one group of :func:`_batches` and one model (None: the
    blur copy), run as ``predict`` runs it unless ``cfg.bare``, keyed by model, sequence and window."""
    from blur2vid.models.inference import predict_batch

    blur, frames = group.blur, group.frames
    if model is None:
        pred = blur[:, None].expand_as(frames)
    else:
        pred = predict_batch(model, blur, device=cfg.device, precision=cfg.precision, scale=1 if cfg.bare else "auto",
                             batch_size=cfg.batch, noise=noise, denoiser=denoiser)
    scores = score_windows(pred, frames, blur, cfg.crf, lpips, ssim=cfg.ssim)
    keys = [footage.windows[j] for j in group.indices]
    scores.insert(0, "window", [w for _, w in keys])
    scores.insert(0, "sequence", [s for s, _ in keys])
    scores.insert(0, "model", BLUR_COPY if model is None else name)
    return scores


def score_footage(footage: Footage, models: dict[str, torch.nn.Module], cfg: EvalConfig = EvalConfig(),
                  noise: float = 0.0, denoiser: torch.nn.Module | None = None) -> pd.DataFrame:
    """Every window of ``footage`` scored for the blur copy and each of ``models`` (run as ``predict``
    runs them, or, ``cfg.bare``, as passed at full size; held to the photograph as ``denoiser``
    cleans it at ``noise`` where that is > 0), in memory: the rows :func:`evaluate` writes to
    ``windows.csv`` (without LPIPS), without its files, resume or summary (for a caller that wants
    the rows, such as ``blur2vid ship``)."""
    if BLUR_COPY in models:
        raise ValueError(f"a model may not be named {BLUR_COPY!r}: that row is always there")
    rows = [_scored(name, model, group, footage, cfg, noise=noise, denoiser=denoiser)
            for _, groups in _batches(footage, list(range(len(footage.windows))), cfg.batch) for group in groups
            for name, model in [(BLUR_COPY, None), *models.items()]]
    return pd.concat(rows, ignore_index=True)


def _append_rows(path: Path, rows: pd.DataFrame) -> None:
    """``rows`` added to the end of ``path`` (the header first where it is empty) and flushed to
    disk: each batch costs its own rows, not the whole table again, and a kill can cut short only
    the last line, which the next run drops."""
    new = not path.is_file() or path.stat().st_size == 0
    if not new:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline().rstrip("\n").split(",")
        if sorted(header) != sorted(rows.columns):
            raise ValueError(f"{path}: holds the columns {header}, not this run's {list(rows.columns)}; "
                             "choose another --out")
        rows = rows[header]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(rows.to_csv(index=False, header=new))
        handle.flush()
        os.fsync(handle.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(path.glob("*")) if path.is_dir() else [path]
    for f in files:
        with open(f, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@dataclass
class Evaluation:
    """What :func:`evaluate` made: the per-window scores, the summary, and where they were written."""

    windows: pd.DataFrame
    summary: pd.DataFrame
    paired: pd.DataFrame
    info: dict[str, Any]
    out: Path


def _load_models(specs: list[str], bare: bool) -> dict[str, tuple[torch.nn.Module, dict[str, Any]]]:
    from blur2vid.app.predict import load_predictor
    from blur2vid.models.checkpoint import default_model_path

    models = {}
    for spec in specs:
        path = None if spec in ("default", "shipped") else Path(spec)
        name = "shipped" if path is None else path.stem if path.is_file() else path.name
        if name in models or name == BLUR_COPY:
            raise ValueError(f"two models named {name!r}: give distinct files")
        model, notes = load_predictor(path, match_blur=False if bare else None)
        file = default_model_path() if path is None else path
        models[name] = (model, {"file": shown_path(file), "sha256": _sha256(file), "held": bool(notes.get("match_blur"))})
    return models


def evaluate(footage_spec: str, model_specs: list[str], out: str | os.PathLike, cfg: EvalConfig = EvalConfig(),
             lpips_weights: str | None = None, vgg16: str | None = None, command: str = "",
             progress: bool = True) -> Evaluation:
    """Score every model of ``model_specs`` (``"default"``: the shipped model; a model file; a folder
    of Jin et al.'s weights) and the blur copy on ``footage_spec`` (:func:`open_footage`), into
    ``out``: ``windows.csv`` (every window's scores, resumable), ``summary.csv`` / ``.md``,
    ``paired.csv`` (differences with their own intervals), ``evaluation.json``, and the figures
    ``per_frame.png`` and ``conventions.png``.  LPIPS is computed only with ``lpips_weights`` (and a
    VGG16 file: ``vgg16`` or ``$BLUR2VID_VGG16``); otherwise its column is absent and the summary
    says why."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    footage = open_footage(footage_spec, cfg)
    models = _load_models(model_specs, cfg.bare)
    lpips, lpips_note = None, "absent: no LPIPS weights given (--lpips FILE, with a VGG16 file: --vgg16 or $BLUR2VID_VGG16)"
    if lpips_weights is not None:
        from blur2vid.models.lpips import load_lpips

        lpips = load_lpips(lpips_weights, vgg16).to(cfg.device)
        lpips_note = f"LPIPS (VGG) from {lpips_weights}"
    info = {"command": command, "config": {k: v for k, v in asdict(cfg).items()}, **footage.describe(),
            "models": {name: meta for name, (_, meta) in models.items()}, "lpips": lpips_note,
            "mean": "the mean of the sequences' means (each sequence's windows averaged first)"}
    path = out / "windows.csv"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    whole = text[:text.rfind("\n") + 1]  # without a last line a kill cut short
    done = pd.read_csv(io.StringIO(whole), dtype={"sequence": str, "window": str}) if whole else pd.DataFrame()
    info = json.loads(json.dumps(info, default=str))  # as evaluation.json holds it (lists for tuples)
    if not done.empty and json.loads((out / "evaluation.json").read_text()).get("config") != info["config"]:
        raise ValueError(f"{out}: holds an evaluation with other settings (evaluation.json); choose another --out")
    if whole != text:
        atomic_write_text(path, whole)
    finished = set(zip(done.get("model", []), done.get("sequence", []), done.get("window", []), strict=True))
    atomic_write_text(out / "evaluation.json", json.dumps(info, indent=2, default=str) + "\n")
    names = [BLUR_COPY, *models]
    todo = [j for j, (s, w) in enumerate(footage.windows) if any((m, s, w) not in finished for m in names)]
    rows = [done] if not done.empty else []
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc="evaluate", unit="window", disable=not progress)
    for chunk, groups in _batches(footage, todo, cfg.batch):
        scored = [_scored(name, models[name][0] if name in models else None, group.only(need), footage, cfg, lpips)
                  for group in groups for name in names  # only the windows this model has not scored yet
                  if (need := [j for j in group.indices if (name, *footage.windows[j]) not in finished])]
        if scored:
            rows.append(pd.concat(scored, ignore_index=True))
            _append_rows(path, rows[-1])
        bar.update(len(chunk))
    bar.close()
    seconds = time.perf_counter() - t0
    table = pd.concat(rows, ignore_index=True) if rows else done
    wanted = {(s, w) for s, w in footage.windows}
    table = table[[(s, w) in wanted for s, w in zip(table["sequence"], table["window"], strict=True)]]
    info["windows_per_second_this_run"] = round(len(todo) / seconds, 2) if todo and seconds > 0 else None
    summary, paired = summarise(table, names)
    info["intervals"] = ("none: one sequence, whose windows are not independent" if info["sequences"] < 2 else
                         "95%, a bootstrap over sequences, then windows within them")
    _write(out, table, summary, paired, info, footage)
    return Evaluation(table, summary, paired, info, out)


SUMMARY_COLUMNS = ("mean", "middle", "outer", "pair_db", "pwpsnr_db", "forward_db", "ssim", "reblur_db", "lpips")


def _by_sequence(table: pd.DataFrame, column: str) -> list[np.ndarray]:
    return [g[column].to_numpy(float) for _, g in table.groupby("sequence", sort=True)]


def _interval(groups: list[np.ndarray]) -> tuple[float, float, float]:
    estimate = float(np.mean([g.mean() for g in groups]))
    if len(groups) < 2:
        return estimate, math.nan, math.nan
    iv = hierarchical_bootstrap(groups)
    return estimate, iv.low, iv.high


def summarise(table: pd.DataFrame, models: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per model and column: the mean of the sequences' means with its 95% interval (sequences,
    then windows; none with one sequence), and the numbers of sequences and windows; and the paired
    differences (per window, then the same interval) of every model against the blur copy and
    against the first model."""
    models = models or list(dict.fromkeys(table["model"]))
    columns = [c for c in table.columns if c.startswith("F") and c[1:].isdigit()] + \
        [c for c in SUMMARY_COLUMNS if c in table.columns]
    rows, pairs = [], []
    for name in models:
        part = table[table["model"] == name]
        if part.empty:
            continue
        row = {"model": name, "sequences": part["sequence"].nunique(), "windows": len(part)}
        for c in columns:
            row[c], row[f"{c}_low"], row[f"{c}_high"] = _interval(_by_sequence(part, c))
        rows.append(row)
    keyed = table.set_index(["model", "sequence", "window"])
    references = [BLUR_COPY] + [m for m in models if m != BLUR_COPY][:1]
    for ref in references:
        for name in models:
            if name == ref or name == BLUR_COPY:
                continue
            a, b = keyed.loc[name], keyed.loc[ref]
            common = a.index.intersection(b.index)
            diff = (a.loc[common] - b.loc[common]).reset_index()
            row = {"model": name, "minus": ref, "sequences": diff["sequence"].nunique(), "windows": len(diff)}
            for c in ("mean", "middle", "outer", "pwpsnr_db", "ssim"):
                if c in diff.columns:
                    row[c], row[f"{c}_low"], row[f"{c}_high"] = _interval(_by_sequence(diff, c))
            pairs.append(row)
    return pd.DataFrame(rows).set_index("model"), pd.DataFrame(pairs)


def _cell(row: pd.Series, c: str, digits: int = 2) -> str:
    value, low, high = row.get(c), row.get(f"{c}_low"), row.get(f"{c}_high")
    if value is None or pd.isna(value):
        return ""
    text = f"{value:.{digits}f}"
    return text + (f" [{low:.{digits}f}, {high:.{digits}f}]" if pd.notna(low) else "")


def _published(footage: Footage) -> str:
    from blur2vid.core import published

    if footage.layout == "reds":
        return ("HyperCUT's README, REDS, per-frame pPSNR (their test windows, their crops; not ours):\n\n"
                + published.HYPERCUT_PPSNR.round(2).to_markdown() + "\n")
    if footage.layout == "gopro":
        return ("Jin et al. Table 2, GoPro, middle frame PSNR (their test set):\n\n"
                + published.JIN_TABLE2.to_markdown() + "\n")
    return ""


def _write(out: Path, table: pd.DataFrame, summary: pd.DataFrame, paired: pd.DataFrame, info: dict, footage) -> None:
    from blur2vid.reproduction import plots

    atomic_write_text(out / "summary.csv", summary.to_csv())
    atomic_write_text(out / "paired.csv", paired.to_csv(index=False))
    atomic_write_text(out / "evaluation.json", json.dumps(info, indent=2, default=str) + "\n")
    frames = [c for c in summary.columns if c.startswith("F") and c[1:].isdigit() and not c.endswith(("_low", "_high"))]
    shown = [c for c in ("mean", "middle", "outer", "pair_db", "pwpsnr_db", "forward_db", "ssim", "reblur_db", "lpips")
             if c in summary.columns]
    lines = [f"# blur2vid evaluate: {info['footage']}", "",
             f"`{info['command']}`" if info.get("command") else "", "",
             f"{info['sequences']} sequence(s), {info['windows']} window(s) of {info['config']['frames']} frames; "
             f"every number is {info['mean']}, in dB (SSIM, LPIPS: unitless); intervals: {info['intervals']}.",
             "Re-blur PSNR is no evidence for a model held to its photograph (it re-blurs to it by construction).",
             f"LPIPS: {info['lpips']}.", ""]
    if footage.skipped:
        lines += [f"Skipped {len(footage.skipped)} unreadable file(s): " + "; ".join(footage.skipped), ""]
    head = pd.DataFrame({"sequences": summary["sequences"], "windows": summary["windows"],
                         **{c: summary.apply(_cell, axis=1, c=c, digits=3 if c in ("ssim", "lpips") else 2)
                            for c in shown}})
    lines += ["## Every convention", "", head.to_markdown(), "",
              "## Per frame (pPSNR, sequence level)", "",
              summary[frames].round(2).to_markdown(), ""]
    if not paired.empty:
        diff = paired[["model", "minus", "sequences", "windows"]].copy()
        for c in ("mean", "middle", "outer", "pwpsnr_db"):
            if c in paired.columns:
                diff[c] = paired.apply(_cell, axis=1, c=c)
        lines += ["## Paired differences (per window, then the same interval)", "", diff.to_markdown(index=False), ""]
    published = _published(footage)
    if published:
        lines += ["## The papers' numbers", "", published]
    atomic_write_text(out / "summary.md", "\n".join(lines) + "\n")
    for name, fig in (("per_frame", plots.evaluation_per_frame(summary)),
                      ("conventions", plots.conventions_figure(  # re-blur PSNR scores no frame: the tables have it
                          summary, {k: v for k, v in CONVENTIONS.items() if k != "reblur_db"}))):
        save_figure(fig, out / f"{name}.png")

