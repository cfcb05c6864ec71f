"""Profiles: one switch that scales every notebook from a CI smoke test to paper scale.

``smoke`` checks the wiring in seconds, ``cpu`` is the committed reference run on a laptop, and
``gpu`` approaches the papers' scale.  Each notebook reads its own section of the chosen profile.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch

__all__ = ["PROFILES", "get_profile", "resolve_device", "check_parameters"]

# Notebooks 02, 04, 05 and 06 share their scenes in each profile (camera pans: one motion per frame,
# see data.scenes.SCENE_FAMILIES), so that 06 reuses the runs of 02 (the naive U-Net), 04 (the Jin
# middle network and the teacher-forced cascade) and 05 (the ordering networks) from their checkpoints.
_ORDERINGS = ["antisymmetric + crop consistency (ours)", "antisymmetric (ours)", "motion rule (hand-made)"]

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        "01_blur_formation": dict(size=32, frame_counts=[1, 3, 5, 7], speeds=[1.0, 2.0], n_scenes=4,
                                  rule_shifts=[4.0, 8.0], rule_segments=[1, 2, 4, 8], fine_subframes=8),
        "02_order_ambiguity": dict(toy_size=32, size=16, n_frames=7, width=8, steps=20, batch=8, lr=2e-3,
                                   n_test=16, max_shift=4.0, scene_family="pans"),
        "03_jin_losses": dict(size=24, n=4),
        "04_jin_training": dict(
            train=dict(size=16, max_shift=4.0, scene_family="pans", model="smoke", batch_middle=4, batch_frames=4,
                       steps_middle=4, steps_core=3, steps_outer=3, lr=1e-3, adv_weight=0.0),
            nah="smoke", n_test=8, variants=["independent", "global", "pair_no_middle", "pair", "sequential",
                                             "teacher_forcing"],
            bench_scale="smoke", bench_resolutions={"32x56": [32, 56], "48x84": [48, 84]}, bench_repeats=1),
        "05_hypercut_ordering": dict(ordering=dict(size=16, max_shift=4.0, scene_family="pans", steps=6, batch=4, dim=8,
                                                   width=4, depth=2, mode="pair"), n_test=16),
        "06_hypercut_blur2vid": dict(size=16, n_frames=7, width=8, steps=20, batch=8, lr=2e-3, n_test=16, max_shift=4.0,
                                     scene_family="pans", orderings=_ORDERINGS),
        "07_your_own_image": dict(synthetic_size=48, n_synthetic=2, scene_family="pans"),
        "08_paper_tables_and_figures": dict(),
    },
    "cpu": {
        "01_blur_formation": dict(size=64, frame_counts=[1, 3, 5, 7, 9, 11, 15], speeds=[0.5, 1.0, 2.0, 4.0],
                                  n_scenes=16, rule_shifts=[4.0, 8.0, 16.0], rule_segments=[1, 2, 4, 8, 16],
                                  fine_subframes=32),
        "02_order_ambiguity": dict(toy_size=64, size=32, n_frames=7, width=32, steps=1000, batch=32, lr=2e-3,
                                   n_test=256, max_shift=8.0, scene_family="pans"),
        "03_jin_losses": dict(size=64, n=16),
        "04_jin_training": dict(
            train=dict(size=32, max_shift=8.0, scene_family="pans", model="cpu", batch_middle=16, batch_frames=8,
                       steps_middle=800, steps_core=250, steps_outer=250, lr=1e-3, adv_weight=0.0),
            nah="cpu", n_test=256, variants=["independent", "global", "pair_no_middle", "pair", "sequential",
                                             "teacher_forcing"],
            bench_scale="paper", bench_resolutions={"320P": [320, 568]}, bench_repeats=1),
        "05_hypercut_ordering": dict(ordering=dict(size=32, max_shift=8.0, scene_family="pans", steps=600, batch=8, dim=64,
                                                   width=32, depth=3, mode="pair"), n_test=256),
        "06_hypercut_blur2vid": dict(size=32, n_frames=7, width=32, steps=1000, batch=32, lr=2e-3, n_test=256,
                                     max_shift=8.0, scene_family="pans", orderings=_ORDERINGS),
        "07_your_own_image": dict(synthetic_size=96, n_synthetic=3, scene_family="pans"),
        "08_paper_tables_and_figures": dict(),
    },
    "gpu": {
        "01_blur_formation": dict(size=256, frame_counts=[1, 3, 5, 7, 9, 11, 15, 21, 31],
                                  speeds=[0.5, 1.0, 2.0, 4.0, 8.0], n_scenes=128, rule_shifts=[8.0, 16.0, 32.0],
                                  rule_segments=[1, 2, 4, 8, 16, 32, 64], fine_subframes=128),
        "02_order_ambiguity": dict(toy_size=64, size=64, n_frames=7, width=64, steps=20000, batch=64, lr=1e-3,
                                   n_test=1024, max_shift=16.0, scene_family="pans"),
        "03_jin_losses": dict(size=128, n=64),
        "04_jin_training": dict(
            train=dict(size=128, max_shift=16.0, scene_family="pans", model="paper", batch_middle=32, batch_frames=24,
                       steps_middle=20000, steps_core=15000, steps_outer=15000, lr=1e-4, adv_weight=1e-3),
            nah="paper", n_test=512, variants=["independent", "global", "pair_no_middle", "pair", "sequential",
                                               "teacher_forcing"],
            bench_scale="paper", bench_resolutions={"320P": [320, 568], "480P": [480, 854], "720P": [720, 1280]},
            bench_repeats=5),
        "05_hypercut_ordering": dict(ordering=dict(size=64, max_shift=16.0, scene_family="pans", steps=5000, batch=32,
                                                   dim=128, width=64, depth=4, mode="pair"), n_test=1024),
        "06_hypercut_blur2vid": dict(size=64, n_frames=7, width=64, steps=20000, batch=64, lr=1e-3, n_test=1024,
                                     max_shift=16.0, scene_family="pans", orderings=_ORDERINGS),
        "07_your_own_image": dict(synthetic_size=256, n_synthetic=3, scene_family="pans"),
        "08_paper_tables_and_figures": dict(),
    },
}


def get_profile(profile: str, notebook: str) -> dict[str, Any]:
    """The settings of ``notebook`` under ``profile`` (a copy: changing it changes nothing else)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    if notebook not in PROFILES[profile]:
        raise KeyError(f"profile {profile!r} has no settings for notebook {notebook!r}; known: {sorted(PROFILES[profile])}")
    return copy.deepcopy(PROFILES[profile][notebook])


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else CPU; ``"cuda"`` without a GPU is a clear error."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but this machine has no CUDA GPU; use 'auto' or 'cpu'")
    return dev


_PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "profile": (str,),
    "device": (str,),
    "seed": (int,),
    "data_root": (str, os.PathLike, type(None)),
}


def check_parameters(**params: Any) -> None:
    """Validate the standard notebook parameters; a wrong type or value names the parameter."""
    for name, value in params.items():
        expected = _PARAMETER_TYPES.get(name)
        if expected is None:
            continue
        if isinstance(value, bool) or not isinstance(value, expected):
            names = " or ".join("None" if t is type(None) else t.__name__ for t in expected)
            raise TypeError(f"parameter {name!r} must be {names}, got {value!r} ({type(value).__name__})")
    if "profile" in params and params["profile"] not in PROFILES:
        raise ValueError(f"unknown profile {params['profile']!r}; expected one of {sorted(PROFILES)}")
    if "seed" in params and params["seed"] < 0:
        raise ValueError(f"parameter 'seed' must be non-negative, got {params['seed']!r}")
    if params.get("data_root") is not None and not os.path.isdir(params["data_root"]):
        raise FileNotFoundError(f"parameter 'data_root': {params['data_root']!s} is not a folder")
