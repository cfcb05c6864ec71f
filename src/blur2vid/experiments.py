"""Each paper item's computation as a named function of a resolved configuration.

Notebooks call these and look at the result; the functions hold the logic and are unit-tested.
Trained weights are checkpointed under ``results/<profile>/checkpoints/`` keyed by the experiment
name and a hash of its configuration, so a re-run reuses them and a changed configuration retrains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from blur2vid.data.folders import DatasetError
from blur2vid.data.sample import Batch
from blur2vid.data.scenes import (
    SceneConfig,
    derive_seed,
    render_params,
    render_scenes,
    sample_params,
    scene_config,
    scene_set,
)
from blur2vid.data.source import open_source
from blur2vid.formation import frames_for_shift, synthesize_blur
from blur2vid.losses import naive_loss
from blur2vid.metrics import per_frame_psnr, ppsnr_sequence, psnr
from blur2vid.models.unet import SequenceUNet
from blur2vid.runs import repo_root
from blur2vid.train import config_key, fit, weights_digest

__all__ = [
    "config_key",
    "checkpoint_dir",
    "checkpoint_path",
    "formation_example",
    "blur_growth",
    "segment_blur",
    "naive_order_experiment",
    "NaiveOrderResult",
    "random_direction",
    "mean_prediction_claim",
]


def checkpoint_dir(profile: str) -> Path:
    """Where a profile's training checkpoints live: ``results/<profile>/checkpoints/``."""
    return repo_root() / "results" / profile / "checkpoints"


def checkpoint_path(profile: str, name: str, config: dict[str, Any]) -> Path:
    return checkpoint_dir(profile) / f"{config_key(name, config)}.pt"


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
                           progress: bool = True, data_root: str | None = None) -> NaiveOrderResult:
    """HyperCUT Eq. 2: train a network with the plain per-frame squared error on scenes whose time
    direction is random, then measure, per frame position k, the PSNR of its prediction against the
    true frame x_k, the mirrored frame x_{T+1-k}, and their mean (x_k + x_{T+1-k}) / 2.

    ``cfg`` keys: size, n_frames, width, steps, batch, lr, n_test, max_shift, and optionally scene_family
    (a family of :data:`~blur2vid.data.scenes.SCENE_FAMILIES`).  ``data_root``: a dataset folder to
    train and test on instead of the scenes (see :mod:`blur2vid.data.source`).  The training run is
    :func:`blur2vid_variant`'s ``"naive"`` run, which notebook 06 reuses."""
    device = torch.device(device)
    model, history, run_cfg = blur2vid_variant("naive", cfg, None, profile=profile, seed=seed, device=device,
                                               progress=progress, data_root=data_root, return_config=True)
    test = blur2vid_test_set(cfg, seed, device, data_root)
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


# ----------------------------------------------------------------------------------------------
# Notebook 03: Jin's losses (Sec. 5), no training
# ----------------------------------------------------------------------------------------------


def pixel_swap(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Swap the two frames of a pair pixel by pixel under a random mask: two chimeric frames that
    the pair loss (Eq. 5) cannot tell from the true pair."""
    mask = torch.rand(a.shape[-2:], generator=generator) < 0.5
    mask = mask.to(a.device)
    return torch.where(mask, b, a), torch.where(mask, a, b)


def loss_invariance_table(size: int = 32, n: int = 8, seed: int = 0, noise: float = 0.05) -> pd.DataFrame:
    """Each loss of Jin Sec. 5 on a noisy prediction, against the target as given, reversed, with the
    non-middle frames shuffled, and with every symmetric pair swapped pixel by pixel."""
    from blur2vid.losses import global_loss, independent_loss, pair_losses

    scenes = render_scenes(SceneConfig(height=size, width=size, n_frames=7), n, seed)
    target = scenes.frames
    g = torch.Generator().manual_seed(seed)
    pred = (target + noise * torch.randn(target.shape, generator=g)).clamp(0, 1)
    perm = torch.tensor([5, 0, 6, 3, 1, 2, 4])  # non-middle frames permuted, middle kept
    swapped = target.clone()
    for i, j in ((0, 6), (1, 5), (2, 4)):
        swapped[:, i], swapped[:, j] = pixel_swap(target[:, i], target[:, j], g)
    losses = {
        "independent (per-frame MSE)": lambda p, t: independent_loss(p, t),
        "naive (HyperCUT Eq. 2)": naive_loss,
        "global (Jin Eq. 4)": global_loss,
        "pair (Jin Eq. 5, all pairs)": pair_losses,
    }
    targets = {"as given": target, "reversed": target.flip(1), "non-middle shuffled": target[:, perm],
               "pairs swapped pixel by pixel": swapped}
    rows = {name: {k: float(fn(pred, t)) for k, t in targets.items()} for name, fn in losses.items()}
    return pd.DataFrame(rows).T


def pair_swap_example(size: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """One scene's outer pair (x1, x7) and its pixel-by-pixel swap, with the pair loss of both."""
    from blur2vid.losses import pair_loss

    frames = render_scenes(SceneConfig(height=size, width=size, n_frames=7, max_shift=size / 4), 1, seed).frames[0]
    a, b = frames[0], frames[6]
    sa, sb = pixel_swap(a, b, torch.Generator().manual_seed(seed))
    return {"x1": a, "x7": b, "swapped_1": sa, "swapped_7": sb,
            "pair_loss_true": pair_loss(a, b, a, b), "pair_loss_swapped": pair_loss(sa, sb, a, b)}


# ----------------------------------------------------------------------------------------------
# Notebook 04: Jin's training, ablation (Fig. 4, 5) and middle-frame comparison (Table 2, Fig. 3)
# ----------------------------------------------------------------------------------------------


def jin_middle(train_cfg, *, profile: str, device, progress: bool = True):
    """Table 1 step 1, trained once per configuration and shared by every ablation variant."""
    from blur2vid.models.jin import JinCascade
    from blur2vid.train_jin import train_middle

    torch.manual_seed(train_cfg.seed)
    cascade = JinCascade(train_cfg.jin_config())
    history = train_middle(cascade, train_cfg, torch.device(device), checkpoint_dir(profile), progress)
    return cascade, history


def nah_baseline(train_cfg, nah_config, *, profile: str, device, progress: bool = True):
    """The Nah-style multi-scale network trained on the same batches and budget as the middle network,
    with Nah's multi-scale loss."""
    from blur2vid.losses import multiscale_loss
    from blur2vid.models.blocks import pad_to_multiple
    from blur2vid.models.nah import NahMultiScale
    from blur2vid.train_jin import training_batches

    torch.manual_seed(train_cfg.seed)
    net = NahMultiScale(nah_config)
    unused = ("steps_core", "steps_outer", "adv_weight", "batch_frames", "vgg_weights", "model", "zero_init")
    run_cfg = {**{k: v for k, v in train_cfg.as_dict().items() if k not in unused}, "model": "nah",
               "nah": nah_config.__dict__}

    def loss_fn(m, batch):
        estimates, _ = m(batch.blur, return_all=True)
        sharp, _ = pad_to_multiple(batch.frames[:, 3], 2 ** (nah_config.scales - 1))
        targets = m.pyramid(sharp)
        targets[-1] = batch.frames[:, 3]
        return multiscale_loss(estimates, targets)

    history = fit(net, training_batches(train_cfg, train_cfg.batch_middle, "middle", torch.device(device)), loss_fn,
                  steps=train_cfg.steps_middle, lr=train_cfg.lr, device=device, config=run_cfg,
                  checkpoint=checkpoint_path(profile, "nah", run_cfg), progress=progress,
                  desc="Nah baseline")
    return net, history


def jin_test_set(train_cfg, n: int, device) -> Batch:
    """The first of :func:`jin_test_sets`: held-out scenes (or test windows) like the training data."""
    return open_source(train_cfg.data_root, train_cfg.scenes()).test_set(n, derive_seed(train_cfg.seed, "test"), device)


def jin_test_sets(train_cfg, n: int, device) -> dict[str, Batch]:
    """Held-out scenes at the training blur strength and at twice it (Jin Table 2's two regimes:
    blur like the training data, and larger blur).

    With ``train_cfg.data_root``: the test split's windows, and windows of every second frame (twice
    the motion over the same 7 frames).  RB2V's blur is captured, and sequences may be too short for
    windows of every second frame: then the first set only, its name saying why."""
    scenes = train_cfg.scenes()
    test = jin_test_set(train_cfg, n, device)
    if train_cfg.data_root is not None:
        source = open_source(train_cfg.data_root, scenes)
        if source.kind == "rb2v":
            return {"test split (captured blur: no larger-blur set)": test}
        try:
            large = open_source(train_cfg.data_root, scenes, frame_step=2, skip_short=True)
        except DatasetError:  # no sequence is long enough for a window of every second frame
            large = None
        if large is None or not large.indices["test"]:
            return {"test split (sequences too short for a larger-blur set)": test}
        return {"test split": test, "test split, every 2nd frame (2x motion)":
                large.test_set(n, derive_seed(train_cfg.seed, "test-large"), device)}
    return {
        f"moderate (≤{scenes.max_shift:g} px)": test,
        f"large (≤{2 * scenes.max_shift:g} px)": scene_set(replace(scenes, max_shift=2 * scenes.max_shift), n,
                                                          derive_seed(train_cfg.seed, "test-large"), device),
    }


@torch.no_grad()
def middle_psnr_table(models: dict[str, torch.nn.Module], test_sets: dict[str, Batch]) -> pd.DataFrame:
    """Jin Table 2: PSNR of each model's middle frame on each test set (the blur itself as a floor)."""
    rows = {}
    for name, model in [("blurry input", None), *models.items()]:
        row = {}
        for set_name, test in test_sets.items():
            pred = test.blur if model is None else torch.cat([model(test.blur[i:i + 32]).clamp(0, 1)
                                                              for i in range(0, len(test), 32)])
            row[set_name] = psnr(pred, test.frames[:, 3]).clamp(max=100).mean().item()
        rows[name] = row
    return pd.DataFrame(rows).T


def jin_variant(train_cfg, variant: str, middle_state: dict, *, profile: str, device, progress: bool = True,
                hypercut=None):
    """One ablation variant's cascade: the shared middle network, and its own non-middle networks
    (``hypercut``: the ordering network of the variants that need one)."""
    from blur2vid.models.jin import JinCascade
    from blur2vid.train_jin import train_frames

    torch.manual_seed(derive_seed(train_cfg.seed, "frames"))  # every variant starts from the same weights
    cascade = JinCascade(train_cfg.jin_config())
    cascade.middle.load_state_dict(middle_state)
    history = train_frames(cascade, variant, train_cfg, torch.device(device), checkpoint_dir(profile), progress,
                           hypercut=hypercut)
    return cascade, history


BLUR_BASELINE = "baseline: the blur as every frame"
COPY_BASELINE = "baseline: the middle estimate as every frame"


def _score_row(pred: torch.Tensor, target: torch.Tensor, level: str = "sequence") -> dict[str, float]:
    """Mean per-frame pPSNR (``level``: ``"sequence"`` or ``"pair"``) and their mean, as a table row."""
    from blur2vid.metrics import ppsnr_pairs

    score = {"sequence": ppsnr_sequence, "pair": ppsnr_pairs}[level]
    scores = score(pred, target).clamp(max=100).mean(0).tolist()
    return {**{f"F{k + 1}": s for k, s in enumerate(scores)}, "mean": sum(scores) / len(scores)}


@torch.no_grad()
def baseline_rows(test: Batch, middle: torch.nn.Module | None = None, level: str = "sequence") -> dict[str, dict]:
    """Rows of per-frame pPSNR for predictions that learn nothing: the blur repeated as every frame
    and, given a middle network, its estimate repeated.  A network whose non-middle frames do not
    beat them has not learned to extract frames."""
    t = test.frames.shape[1]
    rows = {BLUR_BASELINE: _score_row(test.blur.unsqueeze(1).expand(-1, t, -1, -1, -1).contiguous(), test.frames, level)}
    if middle is not None:
        est = torch.cat([middle(test.blur[i:i + 32]).clamp(0, 1) for i in range(0, len(test), 32)])
        rows[COPY_BASELINE] = _score_row(est.unsqueeze(1).expand(-1, t, -1, -1, -1).contiguous(), test.frames, level)
    return rows


def _premise_margin(table: pd.DataFrame, rows: list[str], cols: list[str]) -> float:
    """How far the best of ``rows`` is above the better baseline row, averaged over ``cols`` (dB)."""
    baselines = [b for b in (BLUR_BASELINE, COPY_BASELINE) if b in table.index]
    return float(table.loc[rows, cols].mean(axis=1).max() - table.loc[baselines, cols].mean(axis=1).max())


def ablation_table(cascades: dict[str, torch.nn.Module], test: Batch, level: str = "sequence",
                   baselines: bool = True) -> pd.DataFrame:
    """Jin Fig. 4 as numbers: per-frame order-invariant PSNR of each variant, and the mean.

    With ``baselines`` the rows of :func:`baseline_rows` come first (the blur, and the shared middle
    network's estimate, as every frame): a variant that does not beat them has not learned to
    extract frames, and then its ranking says nothing about the losses (see :func:`jin_claims`)."""
    from blur2vid.train_jin import JIN_VARIANTS, predict_frames

    rows = {}
    if baselines and cascades:
        rows.update(baseline_rows(test, next(iter(cascades.values())).middle, level))
    for name, cascade in cascades.items():
        rows[JIN_VARIANTS[name].label] = _score_row(predict_frames(cascade, name, test.blur), test.frames, level)
    return pd.DataFrame(rows).T


@torch.no_grad()
def middle_grid(models: dict[str, torch.nn.Module], test: Batch, n: int = 4) -> tuple[list[list[torch.Tensor]], list[str]]:
    """Jin Fig. 3's grid: for the first ``n`` test scenes, the blur, each middle-frame model's
    estimate and the true middle frame.  Returns ``(rows, column labels)`` for :func:`plots.image_grid`."""
    rows = [[test.blur[i], *(m(test.blur[i:i + 1])[0].clamp(0, 1) for m in models.values()), test.frames[i, 3]]
            for i in range(min(n, len(test)))]
    return rows, ["blurry input", *models, "ground truth x[4]"]


def middle_feed_grid(cascade: torch.nn.Module, variant: str, test: Batch, n: int = 2
                     ) -> tuple[list[list[torch.Tensor]], list[str]]:
    """Jin Fig. 5's grid: frames 1, 4, 7 of the first ``n`` test scenes with the estimated middle fed,
    then with the ground truth fed.  Returns ``(rows, column labels)`` for :func:`plots.image_grid`."""
    from blur2vid.train_jin import predict_frames

    est = predict_frames(cascade, variant, test.blur[:n])
    gt = predict_frames(cascade, variant, test.blur[:n], middle="ground_truth", gt_middle=test.frames[:n, 3])
    rows = [[est[i, 0], est[i, 3], est[i, 6], gt[i, 0], gt[i, 3], gt[i, 6]] for i in range(len(est))]
    return rows, ["x1 (est. middle)", "x4 estimated", "x7 (est. middle)", "x1 (GT middle)", "x4 ground truth",
                  "x7 (GT middle)"]


def middle_feed_table(cascade: torch.nn.Module, variant: str, test: Batch) -> pd.DataFrame:
    """Jin Fig. 5 as numbers: per-frame pPSNR when the non-middle networks are fed the estimated
    middle frame vs the ground-truth one."""
    from blur2vid.train_jin import predict_frames

    return pd.DataFrame({
        label: _score_row(predict_frames(cascade, variant, test.blur, middle=middle, gt_middle=test.frames[:, 3]),
                          test.frames)
        for label, middle in (("estimated middle fed", "estimated"), ("ground-truth middle fed", "ground_truth"))
    }).T


def jin_train_config(profile: str, seed: int = 0, vgg_weights: str | None = None, data_root: str | None = None):
    """The Jin training configuration of a profile (notebook 04's ``train`` settings), on the scenes
    or on the dataset folder ``data_root``."""
    import os

    from blur2vid.models.vgg import VGG16_ENV_VAR
    from blur2vid.profiles import get_profile
    from blur2vid.train_jin import JinTrainConfig

    # resolve the environment variable here, so that it is part of the configuration (and its key)
    vgg_weights = vgg_weights or os.environ.get(VGG16_ENV_VAR) or None
    return JinTrainConfig(**get_profile(profile, "04_jin_training")["train"], seed=seed, vgg_weights=vgg_weights,
                          data_root=data_root)


def nah_config(preset: str):
    """The Nah-style baseline at a size preset, with a global skip (see notebook 04)."""
    from blur2vid.models.nah import NahConfig

    presets = {"smoke": NahConfig.smoke, "cpu": NahConfig.cpu, "paper": NahConfig}
    if preset not in presets:
        raise ValueError(f"unknown Nah preset {preset!r}; expected one of {sorted(presets)}")
    return presets[preset](global_skip=True)


JIN_TABLE2_PAPER = pd.DataFrame(
    {"GoPro 45% (dB)": [30.52, 32.20], "Jin test set (dB)": [28.19, 29.02], "GoPro original (dB)": [28.48, 26.98]},
    index=["Nah [21]", "Middle"],
)


MIN_MARGIN_DB = 0.1
"""A claim counts as reproduced when its measured margin exceeds this (smaller is within noise)."""


def jin_claims(table2: pd.DataFrame, ablation: pd.DataFrame, feed: pd.DataFrame) -> pd.DataFrame:
    """The claims of Jin Sec. 7 read off our tables, each with its measured margin (dB).

    The first Fig. 4 row is the premise of the others: the best variant's frames 1, 2, 6, 7 against
    the better of the two baselines of :func:`ablation_table` (the blur, or the middle estimate,
    copied to every frame).  Where it fails, the networks have not learned to extract frames and the
    rankings below it are noise around that baseline."""
    from blur2vid.train_jin import JIN_VARIANTS

    if len(table2.columns) < 2:  # one test set (RB2V's captured blur has no larger-blur set): margin NaN
        table2 = table2.assign(**{"no larger-blur set": float("nan")})
    moderate, large = table2.columns[:2]
    outer = ["F1", "F2", "F6", "F7"]
    lab = {name: v.label for name, v in JIN_VARIANTS.items()}
    indep, glob, pair0, pair, seq, tf = (lab[n] for n in ("independent", "global", "pair_no_middle", "pair",
                                                           "sequential", "teacher_forcing"))
    variants = [n for n in ablation.index if n not in (BLUR_BASELINE, COPY_BASELINE)]
    rows = [
        ("Table 2: Middle beats Nah on blur like the training data", table2.loc["Middle (Jin)", moderate]
         - table2.loc["Nah-style multi-scale", moderate]),
        ("Table 2: Nah does better on larger blur than on moderate, relative to Middle",
         (table2.loc["Nah-style multi-scale", large] - table2.loc["Middle (Jin)", large])
         - (table2.loc["Nah-style multi-scale", moderate] - table2.loc["Middle (Jin)", moderate])),
        ("Fig. 4 premise: the non-middle networks beat the better baseline (best variant, frames 1, 2, 6, 7)",
         _premise_margin(ablation, variants, outer)),
        ("Fig. 4: sequential pairwise beats independent on outer frames",
         ablation.loc[seq, outer].mean() - ablation.loc[indep, outer].mean()),
        ("Fig. 4: pairwise beats global on outer frames", ablation.loc[pair, outer].mean() - ablation.loc[glob, outer].mean()),
        ("Fig. 4: feeding the middle estimate helps the pairwise loss", ablation.loc[pair, "mean"] - ablation.loc[pair0, "mean"]),
        ("Fig. 4: sequential beats pairwise on frames 1, 2, 6, 7", ablation.loc[seq, outer].mean() - ablation.loc[pair, outer].mean()),
        ("Fig. 4: teacher forcing beats sequential", ablation.loc[tf, "mean"] - ablation.loc[seq, "mean"]),
        ("Fig. 5: the ground-truth middle helps the other frames",
         feed.loc["ground-truth middle fed", outer].mean() - feed.loc["estimated middle fed", outer].mean()),
    ]
    df = pd.DataFrame(rows, columns=["claim", "margin_db"]).set_index("claim")
    df["reproduced"] = df["margin_db"] > MIN_MARGIN_DB
    return df


# ----------------------------------------------------------------------------------------------
# Notebook 07: your own photograph (Jin Fig. 1 and 6)
# ----------------------------------------------------------------------------------------------


def image_to_video_model(profile: str, *, seed: int = 0, device="cpu", checkpoint: str | None = None,
                         progress: bool = True, data_root: str | None = None):
    """The model a notebook predicts with: ``checkpoint`` when given, else Jin's cascade trained with
    teacher forcing at the profile's scale (reusing notebook 04's checkpoints when they exist), on
    the scenes or on ``data_root``.  Returns ``(model, notes)``."""
    from blur2vid.models.checkpoint import load_model

    if checkpoint is not None:
        return load_model(checkpoint)
    train_cfg = jin_train_config(profile, seed=seed, data_root=data_root)
    cascade, _ = jin_middle(train_cfg, profile=profile, device=device, progress=progress)
    model, _ = jin_variant(train_cfg, "teacher_forcing", cascade.middle.state_dict(), profile=profile,
                           device=device, progress=progress)
    return model.cpu().eval(), {"trained": f"Jin cascade, teacher forcing, profile {profile}",
                                "config": train_cfg.as_dict()}


def export_model(model: torch.nn.Module, notes: dict[str, Any], path: str | Path) -> Path:
    """Save a trained model with its training notes as a model file (see ``blur2vid predict``)."""
    from blur2vid.models.checkpoint import save_model

    return save_model(path, model, notes)


def clock_motion_photo() -> torch.Tensor:
    """The real motion-blurred photograph scikit-image ships (``clock_motion.png``), ``[3, H, W]``."""
    import skimage.data

    from blur2vid.io import load_image

    return load_image(Path(skimage.data.__file__).parent / "clock_motion.png")


# ----------------------------------------------------------------------------------------------
# Notebooks 05-06: HyperCUT (ordering, then blur2vid trained against the order)
# ----------------------------------------------------------------------------------------------

HYPERCUT_EMBEDDINGS = {
    "generic (paper)": dict(antisymmetric=False, normalize=False),
    "antisymmetric (ours)": dict(antisymmetric=True, normalize=False),
    "antisymmetric + crop consistency (ours)": dict(antisymmetric=True, normalize=False, crop_weight=1.0),
}
"""The ordering networks notebook 05 trains: the paper's generic embedding with its loss, the
antisymmetric embedding, and the antisymmetric embedding with the crop-consistency term
(:func:`blur2vid.train_hypercut.crop_consistency_loss`).  (The ordering loss's standardised form,
``normalize=True``, stays in the library: it rescued a generic embedding that collapsed onto the
hyperplane on the sprite scenes, Hit 0.1; on camera pans the paper's loss reaches Hit 0.96 and the
standardised one collapsed instead, Hit 0.13.)"""

MOTION_RULE = "motion rule (hand-made)"
"""The name of the hand-made reference order (:class:`~blur2vid.ordering.MotionDirectionOrder`)."""


def hypercut_train_config(profile: str, seed: int = 0, data_root: str | None = None, **overrides):
    """The ordering network's training configuration of a profile (notebook 05's ``ordering``), on
    the scenes or on the dataset folder ``data_root``."""
    from blur2vid.profiles import get_profile
    from blur2vid.train_hypercut import HyperCUTTrainConfig

    return HyperCUTTrainConfig(**{**get_profile(profile, "05_hypercut_ordering")["ordering"], "seed": seed,
                                  "data_root": data_root, **overrides})


def hypercut_orderings(profile: str, *, seed: int = 0, device="cpu", names=None, progress: bool = True,
                       data_root: str | None = None):
    """Train one ordering network per embedding of :data:`HYPERCUT_EMBEDDINGS`, and add the hand-made
    :data:`MOTION_RULE` (nothing to train: an empty history), or just the orderings ``names``; returns
    ``({name: ordering}, {name: history})``.  The hand-made rule compares shifts up to the profile's
    ``max_shift`` (how far the scenes move); on ``data_root`` footage that is only a guess at how far
    its content moves between the first and the last frame of a window."""
    from blur2vid.ordering import MotionDirectionOrder
    from blur2vid.train_hypercut import train_ordering

    models, histories = {}, {}
    for name in names or [*HYPERCUT_EMBEDDINGS, MOTION_RULE]:
        if name == MOTION_RULE:
            shift = hypercut_train_config(profile, seed, data_root).max_shift
            models[name], histories[name] = MotionDirectionOrder(max_shift=max(1, math.ceil(shift))), []
            continue
        if name not in HYPERCUT_EMBEDDINGS:
            raise ValueError(f"unknown ordering {name!r}; expected {MOTION_RULE!r} or one of {list(HYPERCUT_EMBEDDINGS)}")
        cfg = hypercut_train_config(profile, seed, data_root, **HYPERCUT_EMBEDDINGS[name])
        hc = cfg.build()
        key = {"train": cfg.as_dict(), "model": hc.config_dict()}
        histories[name] = train_ordering(hc, cfg, device, checkpoint_path(profile, "hypercut", key),
                                         progress=progress)
        models[name] = hc.eval().requires_grad_(False)
    return models, histories


def ordering_test_set(profile: str, n: int, seed: int = 0, device="cpu", data_root: str | None = None) -> Batch:
    """Held-out sequences for the ordering metrics (scenes the ordering networks never saw, or the
    test split of ``data_root``)."""
    source = open_source(data_root, hypercut_train_config(profile, seed).scenes())
    return source.test_set(n, derive_seed(seed, "ordering-test"), device)


@torch.no_grad()
def ordering_table(hypercuts: dict[str, torch.nn.Module], frames: torch.Tensor, seed: int = 0) -> pd.DataFrame:
    """HyperCUT's ordering table on held-out sequences: Hit, Con@2, Con@3, the fraction flipped,
    the mean |score|, and how often the side survives a crop, a 2-pixel shift and 2% noise."""
    from blur2vid.ordering import (
        add_noise,
        con_at_k,
        flip_fraction,
        hit_rate,
        order_stability,
        random_crop,
        random_shift,
    )

    size = frames.shape[-1]
    rows = {}
    for name, hc in hypercuts.items():
        row = {"Hit": hit_rate(hc, frames)}
        if hc.mode == "pair":
            row["Con@2"] = con_at_k(hc, frames, 2)
            row["Con@3"] = con_at_k(hc, frames, 3)
        row["flipped"] = flip_fraction(hc, frames)
        row["mean |score|"] = hc.score(frames).abs().mean().item()
        row["stable: crop"] = order_stability(hc, frames, lambda f: random_crop(f, size - size // 8, seed=seed))
        row["stable: shift 2px"] = order_stability(hc, frames, lambda f: random_shift(f, 2, seed=seed))
        row["stable: noise 2%"] = order_stability(hc, frames, lambda f: add_noise(f, 0.02, seed=seed))
        rows[name] = row
    return pd.DataFrame(rows).T


@torch.no_grad()
def embedding_projection(hypercut: torch.nn.Module, frames: torch.Tensor, seed: int = 0) -> pd.DataFrame:
    """HyperCUT Fig. 1 from learned embeddings: each sequence and its reverse, projected on the
    hyperplane's normal (the signed distance, bias included) and on one random direction orthogonal
    to it."""
    x = frames if hypercut.mode == "sequence" else frames[:, [0, frames.shape[1] - 1]]
    emb_f, emb_r = hypercut.embedding(x), hypercut.embedding(x.flip(1))
    normal = hypercut.hyperplane.normal
    other = torch.randn(normal.shape, generator=torch.Generator().manual_seed(seed)).to(normal)
    other = other - (other @ normal) * normal
    other = other / other.norm()
    rows = []
    for label, e in (("forward", emb_f), ("reversed", emb_r)):
        dist = hypercut.hyperplane(e)
        for i in range(len(e)):
            rows.append({"sequence": i, "direction": label, "signed_distance": dist[i].item(),
                         "other_direction": (e[i] @ other).item()})
    return pd.DataFrame(rows)


HYPERCUT_VARIANTS = {
    "naive": "naive per-frame MSE, random direction (HyperCUT Eq. 2)",
    "order_invariant": "Jin order-invariant",
    "hypercut": "HyperCUT: per-frame MSE against the canonical order",
    "order_invariant_reg": "order-invariant + HyperCUT regulariser (public code)",
}
"""HyperCUT's four training schemes (the rows of its pPSNR table)."""


def hypercut_label(variant: str, ordering: str | None = None) -> str:
    """A row label of the pPSNR table: the scheme, and for the schemes that use one, the ordering."""
    if variant in NEEDS_HYPERCUT:
        head = "HyperCUT order" if variant == "hypercut" else "order-invariant + regulariser"
        return f"{head} [{ordering}]"
    return HYPERCUT_VARIANTS[variant]


HYPERCUT_PAPER_PPSNR = pd.DataFrame(
    [[20.65, 22.63, 24.20, 23.50, 24.20, 22.63, 20.65], [22.87, 24.88, 26.29, 25.10, 26.29, 24.88, 22.86],
     [22.78, 24.47, 26.14, 31.50, 26.12, 24.49, 22.83], [26.75, 28.30, 29.42, 29.97, 29.41, 28.30, 26.76]],
    index=["Jin (REDS)", "Jin + HyperCUT (REDS)", "Purohit (REDS)", "Purohit + HyperCUT (REDS)"],
    columns=[f"F{k}" for k in range(1, 8)],
).assign(mean=lambda d: d.mean(axis=1))


HYPERCUT_JIN_VARIANTS = {
    "naive": "naive_order",
    "order_invariant": "teacher_forcing",
    "hypercut": "hypercut_order",
    "order_invariant_reg": "table1_regulariser",
}
"""HyperCUT's four training schemes on the Jin backbone, as variants of :mod:`blur2vid.train_jin`:
all staged with teacher forcing on notebook 04's middle network and configuration, so Jin's own
scheme (``teacher_forcing``) is notebook 04's run, reused from its checkpoint."""


def hypercut_jin_backbone(hypercut, *, profile: str, seed: int = 0, device="cpu", data_root: str | None = None,
                          progress: bool = True) -> dict[str, torch.nn.Module]:
    """The Jin cascade trained HyperCUT's four ways (:data:`HYPERCUT_JIN_VARIANTS`) on notebook 04's
    configuration: ``{variant: cascade}``, each predicting all 7 frames from the blur with its own
    middle estimate."""
    train_cfg = jin_train_config(profile, seed=seed, data_root=data_root)
    cascade, _ = jin_middle(train_cfg, profile=profile, device=device, progress=progress)
    middle = cascade.middle.state_dict()
    return {name: jin_variant(train_cfg, variant, middle, profile=profile, device=device, progress=progress,
                              hypercut=hypercut)[0].eval()
            for name, variant in HYPERCUT_JIN_VARIANTS.items()}


NEEDS_HYPERCUT = ("hypercut", "order_invariant_reg")
"""The blur2vid variants that need an ordering network."""

def _blur2vid_loss(variant: str, hypercut, pred: torch.Tensor, frames: torch.Tensor):
    from blur2vid.losses import hypercut_regulariser, pair_losses
    from blur2vid.ordering import canonical_order
    from blur2vid.train_jin import REGULARISED_PAIRS

    mid = frames.shape[1] // 2
    if variant == "naive":
        return naive_loss(pred, frames)
    if variant == "hypercut":
        with torch.no_grad():
            canonical, flipped = canonical_order(frames, hypercut)
        return naive_loss(pred, canonical), {"flipped": flipped.float().mean().item()}
    invariant = torch.mean((pred[:, mid] - frames[:, mid]) ** 2) + pair_losses(pred, frames)
    if variant == "order_invariant":
        return invariant
    if variant == "order_invariant_reg":
        reg = hypercut_regulariser(hypercut, pred, pairs=REGULARISED_PAIRS)  # as on the Jin cascade
        return invariant + reg, {"regulariser": reg.item()}
    raise ValueError(f"unknown blur2vid variant {variant!r}; expected one of {list(HYPERCUT_VARIANTS)}")


def blur2vid_scenes(cfg: dict[str, Any]) -> SceneConfig:
    """The scenes of notebooks 02 and 06 from their settings (size, n_frames, max_shift, scene_family)."""
    return scene_config(cfg.get("scene_family", "sprites"), height=cfg["size"], width=cfg["size"], n_frames=cfg["n_frames"],
                        max_shift=cfg["max_shift"])


def blur2vid_variant(variant: str, cfg: dict[str, Any], hypercut, *, profile: str, seed: int = 0, device="cpu",
                     progress: bool = True, data_root: str | None = None, return_config: bool = False):
    """The all-frames U-Net trained one of the ways of :data:`HYPERCUT_VARIANTS` (all on the same
    batches, from the same initial weights, for the same budget); ``hypercut`` is the ordering of the
    variants that need one (a :class:`~blur2vid.models.hypercut.HyperCUT` or the hand-made
    :class:`~blur2vid.ordering.MotionDirectionOrder`), and its weights are part of the run's key.
    The ``naive`` run is notebook 02's (:func:`naive_order_experiment`), reused from its checkpoint.
    ``cfg`` as notebook 02's (size, n_frames, width, steps, batch, lr, max_shift, scene_family);
    ``data_root`` a dataset folder instead of the scenes.  Returns ``(model, history)``, and the
    run's configuration too with ``return_config``."""
    device = torch.device(device)
    scenes = blur2vid_scenes(cfg)
    run_cfg = {"experiment": "naive_order" if variant == "naive" else f"blur2vid_{variant}",
               "scenes": dict(scenes.__dict__), "width": cfg["width"], "steps": cfg["steps"], "batch": cfg["batch"],
               "lr": cfg["lr"], "seed": seed}
    source = open_source(data_root, scenes)
    if data_root is not None:  # another dataset, another run (synthetic runs keep their keys)
        run_cfg["data"] = source.describe()
    if variant in NEEDS_HYPERCUT:  # the ordering network's weights decide the result
        if hypercut is None:
            raise ValueError(f"blur2vid variant {variant!r} needs an ordering network (hypercut=)")
        run_cfg["hypercut"] = {**hypercut.config_dict(), "weights_sha1": weights_digest(hypercut)}
        if variant == "order_invariant_reg":
            from blur2vid.train_jin import REGULARISED_PAIRS

            run_cfg["regularised_pairs"] = REGULARISED_PAIRS
        hypercut = hypercut.to(device).requires_grad_(False)
    torch.manual_seed(seed)
    model = SequenceUNet(n_frames=cfg["n_frames"], width=cfg["width"], depth=2)

    def batch_at(step: int) -> Batch:
        batch = source.batch(cfg["batch"], derive_seed(seed, "train", step), device)
        return random_direction(batch, torch.Generator().manual_seed(derive_seed(seed, "flip", step)))

    history = fit(model, batch_at, lambda m, b: _blur2vid_loss(variant, hypercut, m(b.blur), b.frames),
                  steps=cfg["steps"], lr=cfg["lr"], device=device, config=run_cfg,
                  checkpoint=checkpoint_path(profile, run_cfg["experiment"], run_cfg), progress=progress,
                  desc=variant)
    return (model.eval(), history, run_cfg) if return_config else (model.eval(), history)


@torch.no_grad()
def ppsnr_table(models: dict[str, torch.nn.Module], test: Batch, labels: dict[str, str] | None = None,
                middle: torch.nn.Module | None = None) -> pd.DataFrame:
    """Per-frame sequence-level pPSNR (F1..F7) and the mean, one row per model (HyperCUT's table).
    With ``middle`` (a middle-frame network), the rows of :func:`baseline_rows` come first."""
    rows = baseline_rows(test, middle) if middle is not None else {}
    for name, model in models.items():
        pred = torch.cat([model(test.blur[i:i + 64]).clamp(0, 1) for i in range(0, len(test), 64)])
        rows[(labels or {}).get(name, name)] = _score_row(pred, test.frames)
    return pd.DataFrame(rows).T


def hypercut_unet_models(cfg: dict[str, Any], orderings: dict[str, torch.nn.Module], main: str, *, profile: str,
                         seed: int = 0, device="cpu", progress: bool = True,
                         data_root: str | None = None) -> dict[str, torch.nn.Module]:
    """The all-frames U-Net trained HyperCUT's four ways, the orderings' schemes with the ordering
    ``main``; every other ordering of ``orderings`` adds one more "HyperCUT order" run (a reference,
    e.g. the hand-made order or an ablation of the ordering network).  ``{row label: model}``."""
    models = {}
    for variant in HYPERCUT_VARIANTS:
        ordering = main if variant in NEEDS_HYPERCUT else None
        models[hypercut_label(variant, ordering)] = blur2vid_variant(
            variant, cfg, orderings.get(ordering), profile=profile, seed=seed, device=device, progress=progress,
            data_root=data_root)[0]
    for name, ordering in orderings.items():
        if name != main:
            models[hypercut_label("hypercut", name)] = blur2vid_variant(
                "hypercut", cfg, ordering, profile=profile, seed=seed, device=device, progress=progress,
                data_root=data_root)[0]
    return models


def hypercut_jin_models(ordering: torch.nn.Module, name: str, *, profile: str, seed: int = 0, device="cpu",
                        progress: bool = True, data_root: str | None = None) -> dict[str, torch.nn.Module]:
    """:func:`hypercut_jin_backbone` with the rows labelled as :func:`hypercut_unet_models`'s."""
    cascades = hypercut_jin_backbone(ordering, profile=profile, seed=seed, device=device, data_root=data_root,
                                     progress=progress)
    return {hypercut_label(v, name if v in NEEDS_HYPERCUT else None): c for v, c in cascades.items()}


def gain_over(table: pd.DataFrame, row: str) -> pd.DataFrame:
    """Per-frame gain (dB) of every other row of a pPSNR table over ``row``: frames as rows, one column
    per model (for a gain plot)."""
    frames = [c for c in table.columns if c != "mean"]
    others = [r for r in table.index if r != row]
    return (table.loc[others, frames] - table.loc[row, frames]).T.rename_axis("frame")


def hypercut_jin_table(jin_models: dict[str, torch.nn.Module], *, profile: str, seed: int = 0, n: int = 256,
                       device="cpu", data_root: str | None = None) -> pd.DataFrame:
    """The pPSNR table of :func:`hypercut_jin_models` on notebook 04's held-out scenes (or test
    windows), with the baseline rows of the shared middle network first."""
    test = jin_test_set(jin_train_config(profile, seed, data_root=data_root), n, device)
    return ppsnr_table(jin_models, test, middle=next(iter(jin_models.values())).middle)


def hypercut_claims(table: pd.DataFrame, main: str, prefix: str = "") -> pd.DataFrame:
    """HyperCUT's claims read off a pPSNR table whose rows are labelled by :func:`hypercut_label`
    (the ordering ``main`` in the scheme rows), each with its margin (dB): the explicit order beats
    the naive and the order-invariant losses on the frames away from the middle, and the
    regulariser helps the order-invariant loss.  Other "HyperCUT order [...]" rows add a
    ``reference:`` row each (the same comparison with that ordering).  With the baseline rows of
    :func:`baseline_rows` (the Jin backbone), a ``premise:`` row first: whether any scheme's frames
    1, 2, 6, 7 beat the better of the blur and the middle estimate copied there.  ``prefix`` starts every claim."""
    outer = ["F1", "F2", "F6", "F7"]
    naive, inv = hypercut_label("naive"), hypercut_label("order_invariant")
    hc, reg = hypercut_label("hypercut", main), hypercut_label("order_invariant_reg", main)

    def gain(row: str, over: str, cols=outer) -> float:
        return float(table.loc[row, cols].mean() - table.loc[over, cols].mean())

    rows = []
    if COPY_BASELINE in table.index:
        schemes = [r for r in table.index if r not in (BLUR_BASELINE, COPY_BASELINE)]
        rows.append(("premise: some scheme beats the better baseline (frames 1, 2, 6, 7)",
                     _premise_margin(table, schemes, outer)))
    rows += [
        ("HyperCUT order beats the naive loss on frames 1, 2, 6, 7", gain(hc, naive)),
        ("HyperCUT order beats the order-invariant loss on frames 1, 2, 6, 7", gain(hc, inv)),
        ("HyperCUT order beats the naive loss on average", gain(hc, naive, ["mean"])),
        ("the regulariser improves the order-invariant loss", gain(reg, inv, ["mean"])),
    ]
    for row in table.index:
        if row.startswith("HyperCUT order [") and row != hc:
            rows.append((f"reference: {row[len('HyperCUT order '):]} beats the naive loss on frames 1, 2, 6, 7",
                         gain(row, naive)))
    df = pd.DataFrame([(prefix + c, m) for c, m in rows], columns=["claim", "margin_db"]).set_index("claim")
    df["reproduced"] = df["margin_db"] > MIN_MARGIN_DB
    return df


def hypercut_claims_table(tables: dict[str, pd.DataFrame], main: str) -> pd.DataFrame:
    """:func:`hypercut_claims` of several backbones' tables, each claim prefixed by its backbone."""
    return pd.concat([hypercut_claims(table, main, prefix=f"{name}: ") for name, table in tables.items()])


def blur2vid_test_set(cfg: dict[str, Any], seed: int = 0, device="cpu", data_root: str | None = None) -> Batch:
    """The held-out scenes of notebooks 02 and 06 (the same scenes for the same ``cfg`` and seed), or
    the test windows of ``data_root``."""
    return open_source(data_root, blur2vid_scenes(cfg)).test_set(cfg["n_test"], derive_seed(seed, "test"), device)


def synthetic_photos(size: int, n: int, seed: int = 0, max_shift: float | None = None,
                     data_root: str | None = None, scene_family: str = "sprites") -> Batch:
    """Synthetic motion-blurred photographs with their true frames (procedural scenes of
    ``scene_family``, larger than the training crops), to compare against what the model extracts;
    with ``data_root``, centre crops of ``size`` of the dataset's test windows instead."""
    scenes = scene_config(scene_family, height=size, width=size, n_frames=7,
                          max_shift=max_shift if max_shift is not None else size / 6)
    return open_source(data_root, scenes).test_set(n, derive_seed(seed, "photos"), "cpu")


def export_jin_model(cascade: torch.nn.Module, train_cfg, profile: str) -> Path:
    """Save notebook 04's teacher-forced cascade as a model file for ``blur2vid predict``, under
    ``results/<profile>/models/``.  The model shipped with the package is this file from the
    ``cpu`` reference run."""
    notes = {
        "trained_by": f"notebook 04_jin_training, profile {profile}: Jin Table 1 with teacher forcing on procedural scenes",
        "train_config": train_cfg.as_dict(),
        "retrain": f"make reproduce PROFILE={profile} && cp results/{profile}/models/jin_teacher_forcing.pt "
                   "src/blur2vid/assets/default_model.pt",
    }
    return export_model(cascade, notes, repo_root() / "results" / profile / "models" / "jin_teacher_forcing.pt")


def export_unet_model(models: dict[str, torch.nn.Module], table: pd.DataFrame, cfg: dict[str, Any], ordering: str,
                      profile: str, data_root: str | None = None) -> Path | None:
    """Save notebook 06's all-frames U-Net trained against the order ``ordering`` (its row of the
    pPSNR ``table``, scores included in the notes) as a model file for ``blur2vid predict``, with
    its notes as JSON beside it, under ``results/<profile>/models/``; ``None`` when no such row was
    trained.  The model shipped with the package is the ``cpu`` run's, trained against the hand-made
    order: the best frames our CPU budget gives, played with the content moving to the right."""
    import json

    from blur2vid.io import atomic_write_text

    label = hypercut_label("hypercut", ordering)
    if label not in models:
        return None
    data = f"the folder {data_root}" if data_root is not None else f"procedural scenes ({cfg.get('scene_family', 'sprites')})"
    path = repo_root() / "results" / profile / "models" / "unet_default.pt"
    notes = {
        "trained_by": f"notebook 06_hypercut_blur2vid, profile {profile}: all-frames U-Net, per-frame MSE against "
                      f"the order [{ordering}] on {data}",
        "train_config": {**{k: v for k, v in cfg.items() if k != "orderings"}, "data_root": data_root},
        "retrain": f"make reproduce PROFILE={profile} && for x in pt json; do cp results/{profile}/models/unet_default.$x "
                   "src/blur2vid/assets/default_model.$x; done",
        "held_out_ppsnr_db": {k: round(float(v), 2) for k, v in table.loc[label].items()},
    }
    export_model(models[label], notes, path)
    atomic_write_text(path.with_suffix(".json"), json.dumps({"file": "default_model.pt", **notes}, indent=2) + "\n")
    return path


@torch.no_grad()
def predict_with(models: dict[str, torch.nn.Module], blur: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every model's frames ``[N, T, C, H, W]`` (clamped to ``[0, 1]``) for the same blurry inputs."""
    return {name: model(blur).clamp(0, 1) for name, model in models.items()}


def extract_photos(model: torch.nn.Module, photos: Batch, device="cpu") -> tuple[torch.Tensor, pd.DataFrame]:
    """Frames extracted from each photograph of ``photos`` (any size, tiled as ``blur2vid predict``
    does) and their per-frame pPSNR against the true frames: ``([N, T, C, H, W], table)``."""
    from blur2vid.predict import predict_frames

    pred = torch.stack([predict_frames(model, photos.blur[i], device=device, progress=False) for i in range(len(photos))])
    scores = ppsnr_sequence(pred, photos.frames).clamp(max=100)
    table = pd.DataFrame(scores.numpy(), columns=[f"F{k + 1}" for k in range(pred.shape[1])],
                         index=[f"#{i}" for i in range(len(photos))])
    return pred, table.assign(mean=table.mean(axis=1))
