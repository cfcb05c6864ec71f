"""Each paper item's computation as a named function of a resolved configuration.

Notebooks call these and look at the result; the functions hold the logic and are unit-tested.
Trained weights are checkpointed under ``results/<profile>/checkpoints/`` keyed by the experiment
name and a hash of its configuration, so a re-run reuses them and a changed configuration retrains.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from blur2vid.data.sample import Batch
from blur2vid.data.scenes import (
    SceneConfig,
    derive_seed,
    render_params,
    render_scenes,
    sample_params,
    scene_set,
)
from blur2vid.formation import frames_for_shift, synthesize_blur
from blur2vid.losses import naive_loss
from blur2vid.metrics import per_frame_psnr, ppsnr_sequence, psnr
from blur2vid.models.unet import SequenceUNet
from blur2vid.runs import repo_root
from blur2vid.train import fit

__all__ = [
    "config_key",
    "checkpoint_path",
    "formation_example",
    "blur_growth",
    "segment_blur",
    "naive_order_experiment",
    "NaiveOrderResult",
    "random_direction",
    "mean_prediction_claim",
]


def config_key(name: str, config: dict[str, Any]) -> str:
    """``name-<10 hex digits>``: a stable key for an experiment and its configuration."""
    digest = hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{name}-{digest}"


def checkpoint_path(profile: str, name: str, config: dict[str, Any]) -> Path:
    return repo_root() / "results" / profile / "checkpoints" / f"{config_key(name, config)}.pt"


# ----------------------------------------------------------------------------------------------
# Notebook 01: blur formation (Jin Eq. 1, Sec. 3)
# ----------------------------------------------------------------------------------------------


def formation_example(size: int, n_frames: int = 7, max_shift: float = 16.0, seed: int = 0,
                      crf: str = "gamma2.2") -> dict[str, torch.Tensor]:
    """One scene, its blur through the camera response (Eq. 1), and the naive average of the
    intensities (what you get if you forget ``g``).  Tensors are ``[C, H, W]`` / ``[T, C, H, W]``."""
    cfg = SceneConfig(height=size, width=size, n_frames=n_frames, max_shift=max_shift, crf=crf)
    batch = render_scenes(cfg, 1, seed)
    frames = batch.frames[0]
    naive = frames.mean(0)
    return {"frames": frames, "blur": batch.blur[0], "naive": naive, "difference": (batch.blur[0] - naive).abs()}


def blur_growth(size: int, frame_counts: list[int], speeds: list[float], n_scenes: int, seed: int = 0,
                crf: str = "gamma2.2", device: str | torch.device = "cpu") -> pd.DataFrame:
    """How blur grows with the exposure: for each speed (largest motion in pixels per frame) one set
    of scenes is rendered with ``max(frame_counts)`` frames; a blur of ``T`` frames averages the
    central ``T`` of them (a longer exposure at the same frame rate).  Reports, averaged over scenes,
    the PSNR of the blur against the middle sharp frame, and the PSNR between the blur made through
    the camera response and the naive intensity average."""
    t_max = max(frame_counts)
    if any(t % 2 == 0 for t in frame_counts):
        raise ValueError(f"frame counts must be odd so that a middle frame exists, got {frame_counts}")
    rows = []
    for speed in speeds:
        cfg = SceneConfig(height=size, width=size, n_frames=t_max, subframes=1, max_shift=float(speed) * t_max, crf=crf)
        frames = render_scenes(cfg, n_scenes, seed, device).frames
        mid = t_max // 2
        for t in frame_counts:
            clip = frames[:, mid - t // 2: mid + t // 2 + 1]
            blur = synthesize_blur(clip, crf)
            rows.append({
                "speed_px_per_frame": float(speed), "frames": t, "max_shift_px": float(speed) * t,
                "psnr_blur_vs_middle": psnr(blur, frames[:, mid]).clamp(max=100).mean().item(),
                "psnr_crf_vs_naive": psnr(blur, clip.mean(1)).clamp(max=100).mean().item(),
            })
    return pd.DataFrame(rows)


def segment_blur(size: int, shifts: list[float], segments: list[int], fine: int, n_scenes: int, seed: int = 0,
                 crf: str = "gamma2.2", device: str | torch.device = "cpu") -> pd.DataFrame:
    """Jin Sec. 3, the rule T = Delta, measured.  A scene whose content moves up to ``Delta`` pixels
    over the exposure is cut into ``T`` frames; each frame integrates its segment (Jin Eq. 2, here
    with ``fine / T`` instants, at least 8) and is compared with the instant at the segment's centre.
    Returns the mean PSNR of that comparison (how blurry each frame still is) per ``(Delta, T)``,
    with the shift per frame ``Delta / T`` and whether ``T`` meets the rule ``T >= frames_for_shift(Delta)``."""
    rows = []
    for delta in shifts:
        base = SceneConfig(height=size, width=size, n_frames=1, subframes=1, max_shift=float(delta), crf=crf)
        params = sample_params(base, [derive_seed(seed, j) for j in range(n_scenes)])
        for t in segments:
            sub = max(8, fine // t)
            _, integrated = render_params(replace(base, n_frames=t, subframes=sub), params, device)
            _, instant = render_params(replace(base, n_frames=t, subframes=1), params, device)
            rows.append({
                "delta_px": float(delta), "frames": t, "shift_per_frame_px": float(delta) / t,
                "psnr_frame_vs_instant": per_frame_psnr(integrated, instant).clamp(max=100).mean().item(),
                "meets_rule": t >= frames_for_shift(float(delta)),
            })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Notebook 02: the order ambiguity (Jin Sec. 4, HyperCUT Eq. 2)
# ----------------------------------------------------------------------------------------------


@dataclass
class NaiveOrderResult:
    """What the naive per-frame L2 network predicts, measured on held-out scenes."""

    table: pd.DataFrame          # one row per frame position
    test: Batch                  # held-out blurs and true frames
    prediction: torch.Tensor     # [N, T, C, H, W]
    history: list[dict] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def random_direction(batch: Batch, generator: torch.Generator) -> Batch:
    """Reverse each sequence of the batch with probability 1/2 (the blur is unchanged)."""
    flip = torch.rand(len(batch), generator=generator) < 0.5
    frames = torch.where(flip.view(-1, 1, 1, 1, 1).to(batch.frames.device), batch.frames.flip(1), batch.frames)
    return Batch(batch.blur, frames, dict(batch.meta, reversed=flip))


def naive_order_experiment(cfg: dict[str, Any], *, profile: str, seed: int = 0, device: str | torch.device = "cpu",
                           progress: bool = True) -> NaiveOrderResult:
    """HyperCUT Eq. 2: train a network with the plain per-frame squared error on scenes whose time
    direction is random, then measure, per frame position k, the PSNR of its prediction against the
    true frame x_k, the mirrored frame x_{T+1-k}, and their mean (x_k + x_{T+1-k}) / 2.

    ``cfg`` keys: size, n_frames, width, steps, batch, lr, n_test, max_shift."""
    device = torch.device(device)
    scenes = SceneConfig(height=cfg["size"], width=cfg["size"], n_frames=cfg["n_frames"], max_shift=cfg["max_shift"])
    run_cfg = {"experiment": "naive_order", "scenes": {k: v for k, v in scenes.__dict__.items()},
               "width": cfg["width"], "steps": cfg["steps"], "batch": cfg["batch"], "lr": cfg["lr"], "seed": seed}
    torch.manual_seed(seed)
    model = SequenceUNet(n_frames=cfg["n_frames"], width=cfg["width"], depth=2)

    def batch_at(step: int) -> Batch:
        batch = render_scenes(scenes, cfg["batch"], derive_seed(seed, "train", step), device)
        return random_direction(batch, torch.Generator().manual_seed(derive_seed(seed, "flip", step)))

    history = fit(model, batch_at, lambda m, b: naive_loss(m(b.blur), b.frames), steps=cfg["steps"], lr=cfg["lr"],
                  device=device, config=run_cfg, checkpoint=checkpoint_path(profile, "naive_order", run_cfg),
                  progress=progress, desc="naive per-frame L2")
    test = scene_set(scenes, cfg["n_test"], derive_seed(seed, "test"), device)
    with torch.no_grad():
        pred = torch.cat([model(test.blur[i:i + 64]).clamp(0, 1) for i in range(0, len(test), 64)])
    frames = test.frames
    mirrored = frames.flip(1)
    pair_mean = (frames + mirrored) / 2
    t = cfg["n_frames"]
    table = pd.DataFrame({
        "frame": [f"F{k + 1}" for k in range(t)],
        "vs_true_frame": per_frame_psnr(pred, frames).clamp(max=100).mean(0).numpy(),
        "vs_mirrored_frame": per_frame_psnr(pred, mirrored).clamp(max=100).mean(0).numpy(),
        "vs_pair_mean": per_frame_psnr(pred, pair_mean).clamp(max=100).mean(0).numpy(),
        "ppsnr_sequence": ppsnr_sequence(pred, frames).clamp(max=100).mean(0).numpy(),
        "blur_vs_true_frame": per_frame_psnr(test.blur.unsqueeze(1).expand_as(frames), frames).clamp(max=100).mean(0).numpy(),
    }).set_index("frame")
    return NaiveOrderResult(table=table, test=test, prediction=pred, history=history, config=run_cfg)


def mean_prediction_claim(table: pd.DataFrame) -> dict[str, Any]:
    """Read the claim behind HyperCUT Eq. 2 off a :class:`NaiveOrderResult` table: away from the
    middle, the prediction is closer to the mean of the symmetric pair than to the true frame, and
    the middle frame (where the pair is the frame itself) is predicted best."""
    t = len(table)
    mid = t // 2
    outer = [k for k in range(t) if k != mid]
    margin = table["vs_pair_mean"].to_numpy() - table["vs_true_frame"].to_numpy()
    true_psnr = table["vs_true_frame"].to_numpy()
    return {
        "closer_to_pair_mean": {table.index[k]: bool(margin[k] > 0) for k in outer},
        "margin_db": {table.index[k]: round(float(margin[k]), 2) for k in outer},
        "min_outer_margin_db": round(float(min(margin[k] for k in outer)), 2),
        "middle_is_best_frame": bool(true_psnr[mid] >= true_psnr.max() - 1e-9),
        "holds": bool(all(margin[k] > 0 for k in outer) and true_psnr[mid] >= true_psnr.max() - 1e-9),
    }
