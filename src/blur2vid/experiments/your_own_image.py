"""Notebook 07, your own photograph (Jin Fig. 1 and Fig. 6): a model extracts the frames of real
and synthetic blurry photographs; on the synthetic ones the truth is known and scored."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from blur2vid.core.io import load_image
from blur2vid.core.metrics import capped, ppsnr_sequence
from blur2vid.data.config import split_seed
from blur2vid.data.sample import Batch
from blur2vid.data.source import open_source
from blur2vid.experiments.jin_training import jin_cascade, jin_middle
from blur2vid.experiments.real import photo_check
from blur2vid.experiments.tables import blur_copy_ppsnr, frame_labels
from blur2vid.models.card import ModelCard
from blur2vid.models.checkpoint import default_model_path, load_model
from blur2vid.models.inference import predict_frames
from blur2vid.models.match_blur import MatchBlur, held_as_noted
from blur2vid.training.cascade import JinTrainConfig
from blur2vid.training.loop import Workspace

__all__ = ["COLUMN_LABELS", "PhotosConfig", "reader_model", "shipped_model", "shipped_denoiser", "card_summary",
           "clock_motion_photo", "photograph", "extract", "photo_checks", "synthetic_photos", "extract_photos",
           "with_blur", "cascade_on_photos", "reading"]

COLUMN_LABELS = ["blur", *(f"x[{k}]" for k in range(1, 8))]
"""Columns of notebook 07's figure: the photograph, then its seven frames."""


@dataclass(frozen=True)
class PhotosConfig:
    """Notebook 07: the synthetic photographs, ``n_synthetic`` scenes of ``synthetic_size`` pixels
    (larger than the training crops) of the training data's kind, and Jin's cascade (notebook 04's
    teacher-forced run, ``jin``), trained and compared only when the reader asks for it."""

    jin: JinTrainConfig = JinTrainConfig()
    synthetic_size: int = 96
    n_synthetic: int = 3


def shipped_model() -> tuple[torch.nn.Module, ModelCard]:
    """The model the package ships (``blur2vid predict`` without ``--checkpoint``), held to the
    photograph (:mod:`blur2vid.models.match_blur`) when its card says so, and its card."""
    model, notes = held_as_noted(*load_model(default_model_path()), name="the shipped model")
    return model, ModelCard.from_dict(notes, str(default_model_path()))


def shipped_denoiser() -> torch.nn.Module:
    """The noise-level denoiser the package ships (``blur2vid predict --noise``)."""
    from blur2vid.models.checkpoint import default_denoiser_path

    return load_model(default_denoiser_path(), expect="NoiseLevelDenoiser")[0]


def reader_model(checkpoint: str | None = None) -> tuple[torch.nn.Module, pd.Series]:
    """The model notebook 07 shows, as ``blur2vid predict`` runs it: the shipped one, or the model
    file ``checkpoint`` (held to the photograph when its notes say so); and what it is, in a few lines."""
    if checkpoint is None:
        model, card = shipped_model()
        return model, card_summary(card)
    model, notes = held_as_noted(*load_model(checkpoint), name=str(checkpoint))
    return model, pd.Series({"file": str(checkpoint), "trained by": notes.get("trained_by", "not recorded"),
                             "frames held to the photograph": "yes" if isinstance(model, MatchBlur) else "no"},
                            name="model")


def card_summary(card: ModelCard) -> pd.Series:
    """What the shipped model's card says in a few lines: how it was trained and what it scored
    (the whole card: ``docs/model_card.md``)."""
    budget = card.budget or {}
    spec = card.spec or {}
    data = spec.get("data", {})
    rows = {"architecture": f"U-Net of width {spec.get('width')}, depth {spec.get('depth')}",
            "data": f"{data.get('family')} scenes, {data.get('size')} px, motion up to {data.get('max_shift')} px",
            "steps x batch": f"{card.steps} x {spec.get('batch')} = {card.samples} samples",
            "budget": f"{budget.get('minutes')} min on {budget.get('processor')}" if "minutes" in budget else budget,
            "frames held to the photograph": "yes (match_blur: every frame moved alike until they re-blur to the "
                                             "input; re-blur PSNR is then no evidence)" if card.match_blur else "no"}
    for name, row in card.evaluation.get("held_out", {}).items():
        m = row["middle_over_blur_db"]
        rows[f"held-out {name} motion: middle over blur (dB)"] = f"{m['mean']:+.2f} [{m['low']:+.2f}, {m['high']:+.2f}]"
    rows["the whole card"] = "docs/model_card.md"
    return pd.Series(rows, name="shipped model")


def clock_motion_photo() -> torch.Tensor:
    """The real motion-blurred photograph scikit-image ships (``clock_motion.png``), ``[3, H, W]``."""
    from blur2vid.experiments.real import real_photos

    return real_photos(("clock_motion.png",))["clock_motion.png"]


def photograph(path: str | None = None) -> torch.Tensor:
    """The photograph ``path`` (any image file), or scikit-image's ``clock_motion.png``: ``[3, H, W]``."""
    return clock_motion_photo() if path is None else load_image(path)


def extract(model: torch.nn.Module, photo: torch.Tensor, device="cpu") -> torch.Tensor:
    """The frames ``model`` extracts from ``photo``, as ``blur2vid predict`` runs it (its working
    size, tiles): ``[T, 3, H, W]``."""
    return predict_frames(model, photo, device=device, progress=False, scale="auto")


def photo_checks(model: torch.nn.Module, frames: torch.Tensor, photo: torch.Tensor) -> pd.Series:
    """What can be said of ``model``'s frames without their truth: the motion they show (the first
    against the last frame), how far they are from the photograph, and the re-blur PSNR, which is no
    evidence for a model held to the photograph (its frames re-blur to it by construction)."""
    check = photo_check(frames, photo)
    held = isinstance(model, MatchBlur)
    return pd.Series({"first/last difference (levels of 255)": check["first_last_difference"],
                      "frames against the photograph (dB)": check["frames_vs_photo_psnr_db"],
                      "re-blur PSNR (dB)" + (", no evidence: held" if held else ""): check["reblur_psnr_db"]},
                     name="frames")


def synthetic_photos(cfg: PhotosConfig) -> Batch:
    """Synthetic motion-blurred photographs with their true frames: procedural scenes of the
    training data's family at ``synthetic_size`` (their content moving up to a sixth of the side),
    or with a data folder, centre crops of that size of its test windows."""
    data = cfg.jin.data
    size = cfg.synthetic_size
    scenes = data.scenes(height=size, width=size, n_frames=7, max_shift=size / 6)
    return open_source(data.data_root, scenes).test_set(cfg.n_synthetic, split_seed("test", "photos"), "cpu")


def extract_photos(model: torch.nn.Module, photos: Batch, device="cpu", scale: float | str = "auto"
                   ) -> tuple[torch.Tensor, pd.DataFrame]:
    """Frames extracted from each photograph of ``photos`` (as ``blur2vid predict`` runs the model:
    ``scale`` ``"auto"``) and their per-frame pPSNR against the true frames, with the blur copied to
    every frame scored the same way (the baseline a model must beat): ``([N, T, C, H, W], table)``."""
    pred = torch.stack([predict_frames(model, photos.blur[i], device=device, progress=False, scale=scale)
                        for i in range(len(photos))])
    scores = capped(ppsnr_sequence(pred, photos.frames))
    table = pd.DataFrame(scores.numpy(), columns=frame_labels(pred.shape[1]),
                         index=[f"#{i}" for i in range(len(photos))])
    copy = blur_copy_ppsnr(photos.blur, photos.frames).mean(1).numpy()
    mean = table.mean(axis=1)
    return pred, table.assign(mean=mean, blur_copy=copy, over_blur_copy=mean - copy)


def with_blur(photos: Batch, sequences: torch.Tensor) -> torch.Tensor:
    """``sequences [N, T, C, H, W]`` with each photograph's blur as the first frame, for a figure."""
    return torch.cat([photos.blur[:, None], sequences], dim=1)


def cascade_on_photos(cfg: PhotosConfig, ws: Workspace, photos: Batch, train: bool = False, device="cpu"
                      ) -> pd.DataFrame | None:
    """Jin's cascade (notebook 04's teacher-forced run, from its checkpoints or trained at the
    profile's scale) on the synthetic ``photos``, scored as :func:`extract_photos` scores: only when
    ``train``; otherwise it says how to ask for it and returns None."""
    if not train:
        print("Jin's cascade not run: set train_cascade = True above (it reuses notebook 04's checkpoints, "
              "or trains them)")
        return None
    cascade, _ = jin_middle(cfg.jin, ws)
    model, _ = jin_cascade(cfg.jin, "teacher_forcing", cascade.middle.state_dict(), ws)
    return extract_photos(model.cpu().eval(), photos, device=device, scale=1)[1]


def reading(scores: pd.DataFrame, checks: pd.Series) -> str:
    """Two sentences on what the reader sees, from the numbers: the synthetic photographs against
    the blur copy, and the motion the frames of the real photograph show."""
    gain = scores["over_blur_copy"]
    verdict = ("above" if (gain > 0).all() else "below" if (gain < 0).all() else "on both sides of")
    motion = checks.iloc[0]
    return (f"On the {len(scores)} synthetic photographs the frames are {verdict} the blur copied to every frame "
            f"(mean pPSNR {gain.min():+.2f} to {gain.max():+.2f} dB over it): the model's frames differ from the "
            f"photograph where it sees motion. On the real photograph the first and last frame differ by "
            f"{motion:.1f} levels of 255 on average: "
            + ("little motion: most of the photograph looks still to the model." if motion < 2 else
               "the frames show motion; whether it is the true motion, nothing here can tell, since the truth is "
               "unknown.")
            + " The whole evaluation, with intervals, is in docs/model_card.md.")

