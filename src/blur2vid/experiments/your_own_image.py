"""Notebook 07, your own photograph (Jin Fig. 1 and Fig. 6): a model extracts the frames of real
and synthetic blurry photographs; on the synthetic ones the truth is known and scored."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from blur2vid.core.metrics import capped, ppsnr_sequence
from blur2vid.data.config import split_seed
from blur2vid.data.sample import Batch
from blur2vid.data.source import open_source
from blur2vid.experiments.jin_training import jin_cascade, jin_middle
from blur2vid.experiments.tables import frame_labels
from blur2vid.models.card import ModelCard
from blur2vid.models.checkpoint import default_model_path, load_model
from blur2vid.models.inference import predict_frames
from blur2vid.models.match_blur import MatchBlur, held_as_noted
from blur2vid.training.cascade import JinTrainConfig
from blur2vid.training.loop import Workspace, plain

__all__ = ["COLUMN_LABELS", "PhotosConfig", "image_to_video_model", "shipped_model", "shipped_denoiser", "models_to_compare", "PREDICT_SCALES", "card_summary",
           "clock_motion_photo", "synthetic_photos", "extract_photos", "with_blur"]

COLUMN_LABELS = ["blur", *(f"x[{k}]" for k in range(1, 8))]
"""Columns of notebook 07's figure: the photograph, then its seven frames."""


@dataclass(frozen=True)
class PhotosConfig:
    """Notebook 07: the model trained when no model file is given (notebook 04's teacher-forced
    cascade, from its checkpoints), the synthetic photographs: ``n_synthetic`` scenes of
    ``synthetic_size`` pixels (larger than the training crops) of the training data's kind, and
    the ``n_held_out`` held-out capture scenes the shipped model is read on scene by scene
    (:func:`blur2vid.app.shipping.held_out_scenes`, at the size it was trained on)."""

    jin: JinTrainConfig = JinTrainConfig()
    synthetic_size: int = 96
    n_synthetic: int = 3
    n_held_out: int = 64


def image_to_video_model(cfg: PhotosConfig, ws: Workspace, checkpoint: str | None = None):
    """The model to predict with: the model file ``checkpoint`` when given, else Jin's cascade
    trained with teacher forcing (notebook 04's runs, reused from their checkpoints).  Returns
    ``(model, notes)``."""
    if checkpoint is not None:
        return load_model(checkpoint)
    cascade, _ = jin_middle(cfg.jin, ws)
    model, _ = jin_cascade(cfg.jin, "teacher_forcing", cascade.middle.state_dict(), ws)
    return model.cpu().eval(), {"trained": "Jin cascade, teacher forcing (notebook 04's run)",
                                "config": plain(cfg.jin)}


def shipped_model() -> tuple[torch.nn.Module, ModelCard]:
    """The model the package ships (``blur2vid predict`` without ``--checkpoint``), held to the
    photograph (:mod:`blur2vid.models.match_blur`) when its card says so, and its card."""
    model, notes = held_as_noted(*load_model(default_model_path()), name="the shipped model")
    return model, ModelCard.from_dict(notes, str(default_model_path()))


def shipped_denoiser() -> torch.nn.Module:
    """The noise-level denoiser the package ships (``blur2vid predict --noise``)."""
    from blur2vid.models.checkpoint import default_denoiser_path

    return load_model(default_denoiser_path(), expect="NoiseLevelDenoiser")[0]


PREDICT_SCALES = {"shipped": "auto"}
"""How notebook 07 runs its models on a photograph (``scale`` of :func:`predict_frames`, by name):
the shipped model as ``blur2vid predict`` does by default; the others, and ``"shipped, full
size"``, at full size."""


def models_to_compare(shipped: torch.nn.Module, cascade: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """Notebook 07's models by name: the shipped model (run as :data:`PREDICT_SCALES` says), the
    same at full size, its network alone when it ships held to the photograph (so that what
    ``match_blur`` adds is seen), and the profile's Jin cascade."""
    alone = {"shipped, network alone": shipped.net} if isinstance(shipped, MatchBlur) else {}
    return {"shipped": shipped, "shipped, full size": shipped, **alone, "Jin cascade": cascade}


def card_summary(card: ModelCard) -> pd.Series:
    """What the shipped model's card says in a few lines: how it was trained and what it scored."""
    budget = card.budget or {}
    spec = card.spec or {}
    data = spec.get("data", {})
    rows = {"trained by": card.trained_by, "retrain": card.retrain,
            "architecture": f"U-Net of width {spec.get('width')}, depth {spec.get('depth')}",
            "data": f"{data.get('family')} scenes, {data.get('size')} px, motion up to {data.get('max_shift')} px",
            "steps x batch": f"{card.steps} x {spec.get('batch')} = {card.samples} samples",
            "budget": f"{budget.get('minutes')} min on {budget.get('processor')}" if "minutes" in budget else budget,
            "frames held to the photograph": "yes (match_blur: every frame moved alike until they re-blur to the "
                                             "input; re-blur PSNR is then no evidence)" if card.match_blur else "no"}
    for name, row in card.evaluation.get("held_out", {}).items():
        m = row["middle_over_blur_db"]
        rows[f"held-out {name} motion: middle over blur (dB)"] = f"{m['mean']:+.2f} [{m['low']:+.2f}, {m['high']:+.2f}]"
    return pd.Series(rows, name="shipped model")


def clock_motion_photo() -> torch.Tensor:
    """The real motion-blurred photograph scikit-image ships (``clock_motion.png``), ``[3, H, W]``."""
    from blur2vid.experiments.real import real_photos

    return real_photos(("clock_motion.png",))["clock_motion.png"]


def synthetic_photos(cfg: PhotosConfig) -> Batch:
    """Synthetic motion-blurred photographs with their true frames: procedural scenes of the
    training data's family at ``synthetic_size`` (their content moving up to a sixth of the side),
    or with a data folder, centre crops of that size of its test windows."""
    data = cfg.jin.data
    size = cfg.synthetic_size
    scenes = data.scenes(height=size, width=size, n_frames=7, max_shift=size / 6)
    return open_source(data.data_root, scenes).test_set(cfg.n_synthetic, split_seed("test", "photos"), "cpu")


def extract_photos(model: torch.nn.Module, photos: Batch, device="cpu") -> tuple[torch.Tensor, pd.DataFrame]:
    """Frames extracted from each photograph of ``photos`` (any size, tiled as ``blur2vid predict``
    does) and their per-frame pPSNR against the true frames: ``([N, T, C, H, W], table)``."""
    pred = torch.stack([predict_frames(model, photos.blur[i], device=device, progress=False) for i in range(len(photos))])
    scores = capped(ppsnr_sequence(pred, photos.frames))
    table = pd.DataFrame(scores.numpy(), columns=frame_labels(pred.shape[1]),
                         index=[f"#{i}" for i in range(len(photos))])
    return pred, table.assign(mean=table.mean(axis=1))


def with_blur(photos: Batch, sequences: torch.Tensor) -> torch.Tensor:
    """``sequences [N, T, C, H, W]`` with each photograph's blur as the first frame, for a figure."""
    return torch.cat([photos.blur[:, None], sequences], dim=1)
