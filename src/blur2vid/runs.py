"""The notebook run: validated parameters, seeded RNGs, where outputs go, and the one helper that
saves them.

A notebook's second cell is ``run = start_run("02_order_ambiguity", profile=profile, ...)``; every
figure or table it keeps goes through ``run.save(obj, "paper_item_name")``, written atomically,
and ``manifest.json`` in the output folder records which notebook, profile, seed, device and
library version produced it.

**Only the reference run writes** ``figures/``.  The reference run is :func:`is_reference_run`:
``blur2vid reproduce`` (or ``make reproduce``) at profile ``cpu`` or ``gpu``, seed 0, on the
procedural scenes; it marks the notebooks it executes with ``$BLUR2VID_REFERENCE_RUN=1``.  Every
other run (a notebook opened in JupyterLab, another seed, another profile, a dataset folder)
writes under the ignored ``results/<profile>/outputs/<run>/`` and says so, so that exploring
never overwrites the committed reference.  ``$BLUR2VID_FIGURES`` overrides the folder (tests).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blur2vid import __version__
from blur2vid.io import atomic_path, atomic_write_json, atomic_write_text, repo_root
from blur2vid.profiles import PROFILE_NAMES, Profile, get_profile
from blur2vid.train import Workspace

__all__ = ["NotebookRun", "start_run", "output_dir", "results_root", "is_reference_run", "run_name",
           "update_manifest", "environment_info", "resolve_device", "check_parameters", "REFERENCE_ENV"]

ENV_OUTPUT_DIR = "BLUR2VID_FIGURES"
ENV_RESULTS = "BLUR2VID_RESULTS"
REFERENCE_ENV = "BLUR2VID_REFERENCE_RUN"
REFERENCE_PROFILES = ("cpu", "gpu")


def results_root() -> Path:
    """The ignored folder of checkpoints, exploration outputs and executed notebooks: ``results/``
    of the checkout (``$BLUR2VID_RESULTS`` overrides it)."""
    return Path(os.environ[ENV_RESULTS]) if os.environ.get(ENV_RESULTS) else repo_root() / "results"


def is_reference_run(profile: str, seed: int, data_root: str | os.PathLike | None) -> bool:
    """Whether these settings are the reference run's: profile ``cpu`` or ``gpu``, seed 0, the
    procedural scenes.  The one definition of the reference run."""
    return profile in REFERENCE_PROFILES and seed == 0 and data_root is None


def _marked_reference(profile: str, seed: int, data_root) -> bool:
    """Whether this process runs the reference run: marked by ``blur2vid reproduce``, and settings
    that are the reference run's."""
    return os.environ.get(REFERENCE_ENV) == "1" and is_reference_run(profile, seed, data_root)


def run_name(seed: int, data_root: str | os.PathLike | None) -> str:
    """The folder name of a non-reference run: ``seed-<k>``, and the dataset folder's name and a
    short hash of its path when there is one (``seed-0-gopro-1a2b3c``)."""
    if data_root is None:
        return f"seed-{seed}"
    path = str(Path(data_root).resolve())
    return f"seed-{seed}-{Path(path).name}-{hashlib.sha1(path.encode()).hexdigest()[:6]}"


def output_dir(profile: str, seed: int = 0, data_root: str | os.PathLike | None = None,
               reference: bool | None = None) -> Path:
    """Where a run's outputs go: ``figures/`` (``figures/gpu/`` for ``gpu``) for the reference run,
    else ``results/<profile>/outputs/<run_name>/``.  ``reference=None`` reads the mark that
    ``blur2vid reproduce`` sets; ``$BLUR2VID_FIGURES`` overrides everything."""
    if os.environ.get(ENV_OUTPUT_DIR):
        return Path(os.environ[ENV_OUTPUT_DIR])
    if reference is None:
        reference = _marked_reference(profile, seed, data_root)
    if reference and is_reference_run(profile, seed, data_root):
        root = repo_root() / "figures"
        return root if profile == "cpu" else root / profile
    return results_root() / profile / "outputs" / run_name(seed, data_root)


def environment_info(device: torch.device | None = None) -> dict[str, Any]:
    """Versions and hardware, for the manifest."""
    import matplotlib
    import skimage

    info = {
        "blur2vid": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-image": skimage.__version__,
        "matplotlib": matplotlib.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
    }
    if device is not None and device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def update_manifest(folder: Path, section: str, key: str, entry: dict[str, Any]) -> None:
    """Set ``manifest[section][key] = entry`` in ``folder/manifest.json``, atomically."""
    path = Path(folder) / "manifest.json"
    manifest: dict[str, Any] = {}
    if path.is_file():
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            manifest = {}
    manifest.setdefault(section, {})[key] = entry
    atomic_write_json(path, manifest)


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
    if "profile" in params and params["profile"] not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {params['profile']!r}; expected one of {list(PROFILE_NAMES)}")
    if "seed" in params and params["seed"] < 0:
        raise ValueError(f"parameter 'seed' must be non-negative, got {params['seed']!r}")
    if params.get("data_root") is not None and not os.path.isdir(params["data_root"]):
        raise FileNotFoundError(f"parameter 'data_root': {params['data_root']!s} is not a folder")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class NotebookRun:
    """What a notebook knows about its run: its profile's configuration (``cfg``: the notebook's
    section; ``profile_config``: every notebook's), device, seed, output folder, and the
    :class:`~blur2vid.train.Workspace` its training runs use."""

    notebook: str
    profile: str
    device: torch.device
    seed: int
    cfg: Any
    profile_config: Profile
    out_dir: Path
    reference: bool
    data_root: str | None = None
    saved: list[Path] = field(default_factory=list)

    @property
    def workspace(self) -> Workspace:
        """Checkpoints in ``results/<profile>/checkpoints/`` (shared by every run of the profile:
        their keys name seed and data), on this run's device, with progress bars."""
        return Workspace(results_root() / self.profile / "checkpoints", self.device, progress=True)

    @property
    def models_dir(self) -> Path:
        """Where model files exported for ``blur2vid predict`` go (never ``figures/``)."""
        if self.reference:
            return results_root() / self.profile / "models"
        return self.out_dir / "models"

    def save(self, obj: Any, name: str, formats: tuple[str, ...] | None = None) -> list[Path]:
        """Save a matplotlib figure (PNG, and SVG when asked), a pandas DataFrame (CSV and Markdown)
        or a frame sequence ``[T, C, H, W]`` (GIF) under ``name`` (the paper item, e.g.
        ``"jin_fig2_ambiguity"``)."""
        import matplotlib.figure
        import pandas as pd

        if not name or any(c in name for c in "/\\ ") or name.startswith("."):
            raise ValueError(f"output name {name!r} must be a plain file stem such as 'jin_fig2_ambiguity'")
        paths: list[Path] = []
        if isinstance(obj, matplotlib.figure.Figure):
            for fmt in formats or ("png",):
                path = self.out_dir / f"{name}.{fmt}"
                with atomic_path(path) as tmp:
                    obj.savefig(tmp, format=fmt, dpi=120, bbox_inches="tight",
                                metadata=None if fmt != "png" else {"Software": f"blur2vid {__version__}"})
                paths.append(path)
        elif isinstance(obj, pd.DataFrame):
            for fmt in formats or ("csv", "md"):
                path = self.out_dir / f"{name}.{fmt}"
                text = obj.to_csv(index=True) if fmt == "csv" else obj.to_markdown(floatfmt=".2f") + "\n"
                atomic_write_text(path, text)
                paths.append(path)
        elif isinstance(obj, torch.Tensor) and obj.ndim == 4:
            from blur2vid.io import save_gif

            path = self.out_dir / f"{name}.gif"
            save_gif(path, obj)
            paths.append(path)
        else:
            raise TypeError(f"run.save takes a matplotlib Figure, a pandas DataFrame or a sequence tensor "
                            f"[T, C, H, W] (saved as a GIF), got {type(obj).__name__}")
        for path in paths:
            update_manifest(self.out_dir, "outputs", path.name, {
                "notebook": self.notebook, "profile": self.profile, "seed": self.seed,
                "device": str(self.device), "blur2vid": __version__,
                "written": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            })
        self.saved.extend(paths)
        return paths


def start_run(notebook: str, profile: str = "cpu", device: str = "auto", seed: int = 0,
              data_root: str | None = None, vgg_weights: str | None = None, quiet: bool = False) -> NotebookRun:
    """Validate a notebook's parameters, seed every RNG, build its profile's configuration, and say
    where its outputs go."""
    check_parameters(profile=profile, device=device, seed=seed, data_root=data_root)
    data_root = None if data_root is None else str(Path(data_root).resolve())
    config = get_profile(profile, seed=seed, data_root=data_root, vgg_weights=vgg_weights)
    cfg = config.section(notebook)
    dev = resolve_device(device)
    seed_everything(seed)
    out = output_dir(profile, seed, data_root)
    reference = _marked_reference(profile, seed, data_root)
    out.mkdir(parents=True, exist_ok=True)
    if not quiet:
        what = "the reference run" if reference else "an exploration run: figures/ is left alone"
        print(f"[blur2vid] {notebook}: profile {profile}, seed {seed}, {dev}; outputs in {out} ({what})")
    return NotebookRun(notebook=notebook, profile=profile, device=dev, seed=seed, cfg=cfg, profile_config=config,
                       out_dir=out, reference=reference, data_root=data_root)
