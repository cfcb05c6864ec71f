"""Notebook 01, blur formation: Jin Eq. 1 (the blur is the camera response of the mean of the
linear frames) and Sec. 3 (the rule T = Delta), measured on procedural scenes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import torch

from blur2vid.core.formation import frames_for_shift, synthesize_blur
from blur2vid.core.metrics import capped, per_frame_psnr, psnr
from blur2vid.core.seeding import derive_seed
from blur2vid.data.scenes import SceneConfig, render_params, render_scenes, sample_params
from blur2vid.experiments.claims import claims_table, fact, threshold_claim

__all__ = ["FormationConfig", "formation_example", "blur_growth", "segment_blur", "claims",
           "SHARP_DB", "RULE_SPREAD_DB"]


@dataclass(frozen=True)
class FormationConfig:
    """Notebook 01's sizes (the defaults are the ``cpu`` profile's)."""

    size: int = 64
    frame_counts: tuple[int, ...] = (1, 3, 5, 7, 9, 11, 15)
    speeds: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)        # largest motion, pixels per frame
    n_scenes: int = 16
    rule_shifts: tuple[float, ...] = (4.0, 8.0, 16.0)       # Delta: pixels over the exposure
    rule_segments: tuple[int, ...] = (1, 2, 4, 8, 16)       # T: frames the exposure is cut into
    fine_subframes: int = 32
    seed: int = 0


def formation_example(cfg: FormationConfig, n_frames: int = 7, max_shift: float = 16.0,
                      crf: str = "gamma2.2") -> dict[str, torch.Tensor]:
    """One scene, its blur through the camera response (Eq. 1), and the naive average of the
    intensities (what you get if you forget ``g``).  Tensors are ``[C, H, W]`` / ``[T, C, H, W]``."""
    scenes = SceneConfig(height=cfg.size, width=cfg.size, n_frames=n_frames, max_shift=max_shift, crf=crf)
    batch = render_scenes(scenes, 1, cfg.seed)
    frames = batch.frames[0]
    naive = frames.mean(0)
    return {"frames": frames, "blur": batch.blur[0], "naive": naive, "difference": (batch.blur[0] - naive).abs()}


def blur_growth(cfg: FormationConfig, crf: str = "gamma2.2", device: str | torch.device = "cpu") -> pd.DataFrame:
    """How blur grows with the exposure: for each speed (largest motion in pixels per frame) one set
    of scenes is rendered with ``max(frame_counts)`` frames; a blur of ``T`` frames averages the
    central ``T`` of them (a longer exposure at the same frame rate).  Reports, averaged over scenes,
    the PSNR of the blur against the middle sharp frame, and the PSNR between the blur made through
    the camera response and the naive intensity average."""
    size, frame_counts, speeds, n_scenes, seed = cfg.size, cfg.frame_counts, cfg.speeds, cfg.n_scenes, cfg.seed
    t_max = max(frame_counts)
    if any(t % 2 == 0 for t in frame_counts):
        raise ValueError(f"frame counts must be odd so that a middle frame exists, got {frame_counts}")
    rows = []
    for speed in speeds:
        scenes = SceneConfig(height=size, width=size, n_frames=t_max, subframes=1, max_shift=float(speed) * t_max, crf=crf)
        frames = render_scenes(scenes, n_scenes, seed, device).frames
        mid = t_max // 2
        for t in frame_counts:
            clip = frames[:, mid - t // 2: mid + t // 2 + 1]
            blur = synthesize_blur(clip, crf)
            rows.append({
                "speed_px_per_frame": float(speed), "frames": t, "max_shift_px": float(speed) * t,
                "psnr_blur_vs_middle": capped(psnr(blur, frames[:, mid])).mean().item(),
                "psnr_crf_vs_naive": capped(psnr(blur, clip.mean(1))).mean().item(),
            })
    return pd.DataFrame(rows)


def segment_blur(cfg: FormationConfig, crf: str = "gamma2.2", device: str | torch.device = "cpu") -> pd.DataFrame:
    """Jin Sec. 3, the rule T = Delta, measured.  A scene whose content moves up to ``Delta`` pixels
    over the exposure is cut into ``T`` frames; each frame integrates its segment (Jin Eq. 2, here
    with ``fine / T`` instants, at least 8) and is compared with the instant at the segment's centre.
    Returns the mean PSNR of that comparison (how blurry each frame still is) per ``(Delta, T)``,
    with the shift per frame ``Delta / T`` and whether ``T`` meets the rule ``T >= frames_for_shift(Delta)``
    (``Delta`` from ``cfg.rule_shifts``, ``T`` from ``cfg.rule_segments``, ``fine``: ``cfg.fine_subframes``)."""
    size, shifts, segments, fine, n_scenes, seed = (cfg.size, cfg.rule_shifts, cfg.rule_segments, cfg.fine_subframes,
                                                    cfg.n_scenes, cfg.seed)
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
                "psnr_frame_vs_instant": capped(per_frame_psnr(integrated, instant)).mean().item(),
                "meets_rule": t >= frames_for_shift(float(delta)),
            })
    return pd.DataFrame(rows)


SHARP_DB = 40.0
"""At one pixel of motion per frame a frame counts as sharp when it is this close (PSNR) to its
central instant."""

RULE_SPREAD_DB = 1.5
"""The curves of different Delta agree when, at every shift per frame, they lie within this."""


def claims(growth: pd.DataFrame, rule: pd.DataFrame) -> pd.DataFrame:
    """Notebook 01's claims: the blur moves further from the sharp middle frame with every frame
    added (Eq. 1, at every speed: a fact of averaging moving content, asserted); at T = Delta each
    frame is sharp; and the residual blur of a frame depends on Delta / T only (the curves of every
    Delta agree)."""
    steps = growth[growth.frames > 1].sort_values("frames").groupby("speed_px_per_frame")["psnr_blur_vs_middle"]
    worst = float(steps.apply(lambda s: s.diff().dropna().max()).max())
    at_rule = float(rule[rule.shift_per_frame_px == 1.0]["psnr_frame_vs_instant"].mean())
    spread = float(rule.groupby("shift_per_frame_px")["psnr_frame_vs_instant"].agg(lambda s: s.max() - s.min()).max())
    return claims_table([
        fact("jin.eq1.blur_grows_with_frames",
             "PSNR(blur, middle frame) falls with every added frame, at every speed (largest step)", worst < 0, worst,
             unit="dB"),
        threshold_claim("jin.sec3.sharp_at_rule", "at T = Δ each frame is sharp (PSNR to its central instant)",
                        at_rule, at_least=SHARP_DB, unit="dB"),
        threshold_claim("jin.sec3.depends_on_ratio", "the residual blur depends on Δ / T only (largest spread "
                        "between the curves of different Δ)", spread, below=RULE_SPREAD_DB, unit="dB"),
    ])
