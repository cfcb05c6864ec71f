"""Training the noise-level denoiser (:class:`~blur2vid.models.denoise.NoiseLevelDenoiser`).

Each training scene's blurry photograph, with its own noise level (the standard deviation of the
photograph minus its blur without sensor noise and JPEG, :func:`~blur2vid.models.denoise.noise_level`;
0 for the scenes of the ``clean`` share), is mapped to that noise-free blur, by the mean squared
error.  Only the capture-like scenes (:mod:`blur2vid.data.captures`) know their noise-free blur,
so only they can teach it; a data folder cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from blur2vid.core.metrics import psnr
from blur2vid.core.seeding import derive_seed
from blur2vid.data.config import CAPTURES, DataConfig
from blur2vid.data.sample import Batch
from blur2vid.models.denoise import NoiseLevelDenoiser, denoise_batched, noise_level
from blur2vid.training.loop import Workspace, check_run, fit, frozen_identity, run_config

__all__ = ["DenoiserTrainConfig", "train_denoiser", "denoiser_scores", "denoiser_notes"]


@dataclass(frozen=True)
class DenoiserTrainConfig:
    """Everything that decides a denoiser's training run (and so its checkpoint key)."""

    data: DataConfig = DataConfig(family=CAPTURES, size=64, max_shift=24.0)
    width: int = 32
    depth: int = 2
    steps: int = 1000
    batch: int = 16
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        check_run(self)
        if self.data.family != CAPTURES or self.data.data_root is not None:
            raise ValueError("the denoiser learns from scenes whose noise-free blur is known: the capture-like "
                             f"scenes (data.family={CAPTURES!r}, no data_root), got family={self.data.family!r}"
                             + (f", data_root={self.data.data_root!r}" if self.data.data_root else ""))

    def build(self) -> NoiseLevelDenoiser:
        return NoiseLevelDenoiser(width=self.width, depth=self.depth)


def _loss(model: NoiseLevelDenoiser, batch: Batch) -> torch.Tensor:
    clean = batch.meta["blur_clean"]
    return torch.mean((model(batch.blur, noise_level(batch.blur, clean)).float() - clean.float()) ** 2)


@torch.no_grad()
def denoiser_scores(model: NoiseLevelDenoiser, scenes: Batch, chunk: int = 64) -> dict[str, float | int | None]:
    """Over the scenes that have noise (not those of the ``clean`` share, whose level is 0 and which
    :func:`~blur2vid.models.inference.predict_frames` would not denoise): how many (``noisy_scenes``), and
    the mean PSNR (dB) against the noise-free blur of their photographs as they are (``input_db``)
    and denoised at their own noise level (``denoised_db``); None where no scene has noise."""
    clean, blur = scenes.meta["blur_clean"].float(), scenes.blur.float()
    level = noise_level(blur, clean)
    noisy = level > 0
    if not noisy.any():
        return {"noisy_scenes": 0, "input_db": None, "denoised_db": None}
    clean, blur, level = clean[noisy], blur[noisy], level[noisy]
    out = denoise_batched(model, blur, level, chunk)
    return {"noisy_scenes": int(noisy.sum()), "input_db": psnr(blur, clean).mean().item(),
            "denoised_db": psnr(out, clean).mean().item()}


def denoiser_notes(model: NoiseLevelDenoiser, scenes: Batch) -> dict[str, float | int | None]:
    """:func:`denoiser_scores` rounded, with the number of scenes: what a model file's notes and the
    shipped denoiser's card hold as ``held_out``."""
    scores = denoiser_scores(model, scenes)
    return {"scenes": len(scenes), **{k: round(v, 2) if isinstance(v, float) else v for k, v in scores.items()}}


def _validation(model: NoiseLevelDenoiser, val: Batch) -> dict[str, float]:
    score = denoiser_scores(model, val)["denoised_db"]
    return {"val_denoised_db": float("nan") if score is None else score}


def train_denoiser(cfg: DenoiserTrainConfig, ws: Workspace = Workspace(),
                   init: NoiseLevelDenoiser | None = None) -> tuple[NoiseLevelDenoiser, list[dict]]:
    """Train the denoiser of ``cfg`` (from ``init``'s weights when given, else from the seed);
    resumable from ``ws``'s checkpoints.  Returns ``(model in eval mode, history)``."""
    depends = {"data": cfg.data.identity()}
    torch.manual_seed(cfg.seed)
    model = cfg.build()
    if init is not None:
        if init.config != model.config:
            raise ValueError(f"cannot start from a denoiser of {init.config}: this run trains one of {model.config}")
        model.load_state_dict(init.state_dict())
        depends["init"] = frozen_identity(init)
    run_cfg = run_config(cfg, task="denoise", **depends)
    source = cfg.data.source()

    def batch_at(step: int) -> Batch:
        return source.batch(cfg.batch, derive_seed(cfg.seed, "denoise", step), ws.render_device)

    history = fit(model, batch_at, _loss, steps=cfg.steps, lr=cfg.lr, device=ws.device, config=run_cfg,
                  validate=ws.validator(cfg.data, _validation),
                  checkpoint=ws.checkpoint("denoiser", run_cfg), progress=ws.progress, precision=ws.precision,
                  compile=ws.compile, desc="denoiser", workers=ws.workers)
    return model.eval(), history
