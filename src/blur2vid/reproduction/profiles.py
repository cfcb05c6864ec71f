"""Profiles: one switch that scales every notebook from a CI smoke test to paper scale.

``smoke`` checks the wiring in seconds, ``cpu`` is the committed reference run on a laptop, and
``gpu`` approaches the papers' scale.  A :class:`Profile` holds one typed configuration per
notebook, built from one :class:`~blur2vid.data.config.DataConfig`: notebooks 02, 05 and the U-Net of 06
train on the same data object, and Jin's cascade (04, the Jin backbone of 06, 07) on the same data
cropped to ``jin_size`` (a multiple of both of its resampling factors, 4 and 5: the paper's crops
are 320 px); 06 and 07 hold the very configurations of 02, 04 and 05, so a later notebook reuses the
earlier runs from their checkpoints by construction.

:func:`get_profile` builds a profile for a seed and a dataset folder; :data:`SCALES` is the only
place the sizes are written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from blur2vid.data.config import DataConfig
from blur2vid.experiments.blur_formation import FormationConfig
from blur2vid.experiments.hypercut_blur2vid import HyperCUTExperimentConfig
from blur2vid.experiments.hypercut_ordering import OrderingExperimentConfig
from blur2vid.experiments.jin_losses import LossesConfig
from blur2vid.experiments.jin_training import JinExperimentConfig
from blur2vid.experiments.order_ambiguity import AmbiguityConfig
from blur2vid.experiments.your_own_image import PhotosConfig
from blur2vid.models.vgg import VGG16_ENV_VAR
from blur2vid.training.cascade import JinTrainConfig
from blur2vid.training.hyperplane import HyperCUTTrainConfig
from blur2vid.training.inferability import SideReaderConfig
from blur2vid.training.loop import plain
from blur2vid.training.unet_schemes import UNetTrainConfig

__all__ = ["PROFILE_NAMES", "SCALES", "NOTEBOOK_SECTIONS", "Profile", "get_profile", "capped_scale", "resolved"]

PROFILE_NAMES = ("smoke", "cpu", "gpu")

SCALES: dict[str, dict[str, Any]] = {
    "smoke": dict(
        data=dict(family="pans", size=16, max_shift=4.0), jin_size=20, validation=8,
        formation=dict(size=32, frame_counts=(1, 3, 5, 7), speeds=(1.0, 2.0), n_scenes=4, rule_shifts=(4.0, 8.0),
                       rule_segments=(1, 2, 4, 8), fine_subframes=8),
        toy_size=32,
        unet=dict(width=8, steps=20, batch=8, lr=2e-3), unet_test=16,
        losses=dict(size=24, n=4),
        jin=dict(model="smoke", batch_middle=4, batch_frames=4, steps_middle=4, steps_core=3, steps_outer=3,
                 steps_joint=3, lr=1e-3, adv_weight=0.0),
        jin_experiment=dict(nah="smoke", n_test=8, bench_scale="smoke", bench_resolutions={"32x56": (32, 56),
                            "48x84": (48, 84)}, bench_repeats=1),
        ordering=dict(steps=6, batch=4, dim=8, width=4, depth=2, mode="pair"), ordering_test=16,
        reader=dict(steps=6, batch=4, width=4, depth=1),
        photos=dict(synthetic_size=48, n_synthetic=2),
    ),
    "cpu": dict(
        data=dict(family="pans", size=32, max_shift=8.0), jin_size=40, validation=64,
        formation=dict(size=64, frame_counts=(1, 3, 5, 7, 9, 11, 15), speeds=(0.5, 1.0, 2.0, 4.0), n_scenes=16,
                       rule_shifts=(4.0, 8.0, 16.0), rule_segments=(1, 2, 4, 8, 16), fine_subframes=32),
        toy_size=64,
        unet=dict(width=32, steps=1000, batch=32, lr=1e-3), unet_test=256,
        losses=dict(size=64, n=16),
        jin=dict(model="cpu", batch_middle=16, batch_frames=16, steps_middle=1600, steps_core=500, steps_outer=250,
                 steps_joint=500, lr=1e-3, core_warmup=0.25, adv_weight=0.0),
        jin_experiment=dict(nah="cpu", n_test=256, bench_scale="paper", bench_resolutions={"320P": (320, 568)},
                            bench_repeats=1),
        ordering=dict(steps=600, batch=8, dim=64, width=32, depth=3, mode="pair"), ordering_test=256,
        reader=dict(steps=400, batch=16, width=32, depth=4),
        photos=dict(synthetic_size=96, n_synthetic=3),
    ),
    "gpu": dict(
        data=dict(family="pans", size=128, max_shift=16.0), jin_size=160, validation=256,
        formation=dict(size=256, frame_counts=(1, 3, 5, 7, 9, 11, 15, 21, 31), speeds=(0.5, 1.0, 2.0, 4.0, 8.0),
                       n_scenes=128, rule_shifts=(8.0, 16.0, 32.0), rule_segments=(1, 2, 4, 8, 16, 32, 64),
                       fine_subframes=128),
        toy_size=64,
        unet=dict(width=64, steps=20000, batch=64, lr=1e-3), unet_test=1024,
        losses=dict(size=128, n=64),
        jin=dict(model="paper", batch_middle=32, batch_frames=24, steps_middle=20000, steps_core=15000,
                 steps_outer=15000, steps_joint=None, lr=1e-4, core_warmup=0.0, adv_weight=1e-3),
        jin_experiment=dict(nah="paper", n_test=512, bench_scale="paper", bench_resolutions={
            "320P": (320, 568), "480P": (480, 854), "720P": (720, 1280)}, bench_repeats=5),
        ordering=dict(steps=5000, batch=32, dim=128, width=64, depth=4, mode="pair"), ordering_test=1024,
        reader=dict(steps=3000, batch=32, width=64, depth=5),
        photos=dict(synthetic_size=256, n_synthetic=3),
    ),
}
"""Every size of every profile, in one place (the dataclass defaults are the ``cpu`` profile's)."""


@dataclass(frozen=True)
class Profile:
    """Every notebook's configuration at one scale, for one seed and one data source."""

    name: str
    data: DataConfig
    jin_data: DataConfig  # the same data in crops that suit Jin's resampling factors
    validation: int  # scenes of the validation set every training run logs its learning curve on
    formation: FormationConfig
    ambiguity: AmbiguityConfig
    losses: LossesConfig
    jin: JinExperimentConfig
    ordering: OrderingExperimentConfig
    hypercut: HyperCUTExperimentConfig
    photos: PhotosConfig

    def section(self, notebook: str):
        """The configuration of ``notebook`` (``None`` for a notebook that has no settings)."""
        if notebook not in NOTEBOOK_SECTIONS:
            raise KeyError(f"profile {self.name!r} has no settings for notebook {notebook!r}; "
                           f"known: {sorted(NOTEBOOK_SECTIONS)}")
        attr = NOTEBOOK_SECTIONS[notebook]
        return None if attr is None else getattr(self, attr)


NOTEBOOK_SECTIONS: dict[str, str | None] = {
    "01_blur_formation": "formation",
    "02_order_ambiguity": "ambiguity",
    "03_jin_losses": "losses",
    "04_jin_training": "jin",
    "05_hypercut_ordering": "ordering",
    "06_hypercut_blur2vid": "hypercut",
    "07_your_own_image": "photos",
    "08_paper_tables_and_figures": None,
}
"""Which :class:`Profile` field each notebook reads."""


_COUNTS = ("n_test", "unet_test", "ordering_test", "validation", "n_scenes", "n", "n_synthetic")
"""Scale entries that count test scenes: a cap bounds them like the training steps."""


def capped_scale(scale: dict[str, Any], max_steps: int, max_size: int | None = None) -> dict[str, Any]:
    """``scale`` (an entry of :data:`SCALES`) with every loop bounded, for a wiring check of a
    profile in seconds: training steps and test-set sizes at most ``max_steps`` (test sets at least
    4: the notebooks show their first few), batches at most 2, one timing repeat at the smallest resolution; with ``max_size``, the
    training and test crops at most that many pixels (Jin's crops a multiple of 20, its resampling
    factors' multiple).  The networks, losses, optimisers and schedules stay the profile's."""
    if max_steps < 1 or (max_size is not None and max_size < 20):
        raise ValueError(f"max_steps must be >= 1 and max_size >= 20, got {max_steps}, {max_size}")

    def cap(key: str, value: Any) -> Any:
        if isinstance(value, dict) and key != "bench_resolutions":
            return {k: cap(k, v) for k, v in value.items()}
        if isinstance(value, bool) or not isinstance(value, int):
            if key == "bench_resolutions":
                h, w = min(value.values())
                if max_size is not None:
                    h, w = min(h, max_size), min(w, 2 * max_size)
                return {f"{h}x{w}": (h, w)}
            return value
        if key.startswith("steps"):
            return min(value, max_steps)
        if key in _COUNTS:
            return min(value, max(max_steps, 4))
        if key.startswith("batch"):
            return min(value, 2)
        if key == "bench_repeats":
            return 1
        if max_size is not None and key == "jin_size":
            return max(20, min(value, max_size) // 20 * 20)
        if max_size is not None and key in ("size", "synthetic_size"):
            return min(value, max_size)
        return value

    out = {k: cap(k, v) for k, v in scale.items()}
    out["formation"] = {**out["formation"], "size": scale["formation"]["size"]}  # its shifts need its size
    return out


def get_profile(name: str, seed: int = 0, data_root: str | os.PathLike | None = None,
                vgg_weights: str | None = None, max_steps: int | None = None, max_size: int | None = None) -> Profile:
    """The profile ``name`` for ``seed``, on the procedural scenes or the dataset folder
    ``data_root``; ``vgg_weights`` (else ``$BLUR2VID_VGG16``, else none: the documented fallback)
    is the VGG16 file of Jin's perceptual loss.  ``max_steps`` (and ``max_size``) bound every loop
    of the profile (:func:`capped_scale`): the ``gpu`` profile's wiring, checked on a CPU."""
    if name not in SCALES:
        raise ValueError(f"unknown profile {name!r}; expected one of {list(PROFILE_NAMES)}")
    s = SCALES[name] if max_steps is None else capped_scale(SCALES[name], max_steps, max_size)
    data = DataConfig(**s["data"], data_root=None if data_root is None else str(data_root))
    # the environment variable is resolved here, so that it is part of the configuration (and its key)
    vgg_weights = vgg_weights or os.environ.get(VGG16_ENV_VAR) or None
    unet = UNetTrainConfig(data=data, seed=seed, **s["unet"])
    jin_data = replace(data, size=s["jin_size"])
    jin = JinTrainConfig(data=jin_data, seed=seed, vgg_weights=vgg_weights, **s["jin"])
    ordering = HyperCUTTrainConfig(data=data, seed=seed, **s["ordering"])
    return Profile(
        name=name,
        data=data,
        jin_data=jin_data,
        validation=s["validation"],
        formation=FormationConfig(seed=seed, **s["formation"]),
        ambiguity=AmbiguityConfig(toy_size=s["toy_size"], unet=unet, n_test=s["unet_test"]),
        losses=LossesConfig(seed=seed, **s["losses"]),
        jin=JinExperimentConfig(train=jin, **s["jin_experiment"]),
        ordering=OrderingExperimentConfig(train=ordering, n_test=s["ordering_test"],
                                          reader=SideReaderConfig(data=data, seed=seed, **s["reader"])),
        hypercut=HyperCUTExperimentConfig(unet=unet, jin=jin, ordering=ordering, n_test=s["unet_test"]),
        photos=PhotosConfig(jin=jin, **s["photos"]),
    )


def resolved(profile: Profile) -> dict[str, Any]:
    """Every notebook's configuration as plain JSON-like values (for the golden file of the tests and
    for a person to read)."""
    return {f.name: plain(getattr(profile, f.name)) for f in fields(profile) if f.name != "name"}

