"""The notebook run: validated parameters, seeded RNGs, where outputs go, and the one helper that
saves them.

A notebook's second cell is ``run = start_run("02_order_ambiguity", profile=profile, ...)``; every
figure or table it keeps goes through ``run.save(obj, "paper_item_name")``, written atomically,
and ``manifest.json`` in the output folder records which notebook, profile, seed, device and
library version produced it.

**Only the reference run writes** ``figures/``.  The reference run is :func:`is_reference_batch`:
``blur2vid reproduce`` (or ``make reproduce``) at profile ``cpu`` or ``gpu`` with the training seeds
:data:`REFERENCE_SEEDS`, on the procedural scenes.  It runs the notebooks that train once per seed,
each into its own ``results/<profile>/outputs/seed-<k>/``, pools them into ``figures/``
(:mod:`blur2vid.reproduction.aggregate`), and runs the others once, at seed 0, marked with
``$BLUR2VID_REFERENCE_RUN=1`` so that they write ``figures/`` themselves (:func:`is_reference_run`
says which single notebook runs may).  Every other run (a notebook opened in JupyterLab, another
seed, another profile, a dataset folder) writes under the ignored ``results/<profile>/outputs/<run>/``
and says so, so that exploring never overwrites the committed reference.  ``$BLUR2VID_FIGURES``
overrides the folder (tests).
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
from blur2vid.core.io import atomic_path, atomic_write_json, atomic_write_text, repo_root, shown_path
from blur2vid.core.precision import PRECISIONS, resolve_precision
from blur2vid.reproduction.profiles import PROFILE_NAMES, Profile, get_profile
from blur2vid.training.loop import Workspace

__all__ = ["NotebookRun", "start_run", "output_dir", "results_root", "is_reference_run", "is_reference_batch",
           "REFERENCE_SEEDS", "run_name",
           "update_manifest", "read_manifest", "environment_info", "resolve_device", "check_parameters", "REFERENCE_ENV"]

ENV_OUTPUT_DIR = "BLUR2VID_FIGURES"
ENV_RESULTS = "BLUR2VID_RESULTS"
REFERENCE_ENV = "BLUR2VID_REFERENCE_RUN"
POOLED_ENV = "BLUR2VID_POOLED_INTO"
"""Set by ``blur2vid reproduce`` for the seeds of a batch: the folder their outputs are pooled into."""
REFERENCE_PROFILES = ("cpu", "gpu")
REFERENCE_SEEDS = (0, 1, 2)
"""The training seeds of the reference run: every trained claim is judged over these."""


def results_root() -> Path:
    """The ignored folder of checkpoints, exploration outputs and executed notebooks: ``results/``
    of the checkout (``$BLUR2VID_RESULTS`` overrides it)."""
    return Path(os.environ[ENV_RESULTS]) if os.environ.get(ENV_RESULTS) else repo_root() / "results"


def is_reference_batch(profile: str, seeds, data_root: str | os.PathLike | None) -> bool:
    """Whether a batch of runs is the reference run: profile ``cpu`` or ``gpu``, the training seeds
    :data:`REFERENCE_SEEDS` (in any order), the procedural scenes.  The one definition of the
    reference run."""
    return profile in REFERENCE_PROFILES and sorted(seeds) == list(REFERENCE_SEEDS) and data_root is None


def is_reference_run(profile: str, seed: int, data_root: str | os.PathLike | None) -> bool:
    """Whether one notebook run with these settings may write ``figures/`` when the reference run
    marks it: profile ``cpu`` or ``gpu``, seed 0, the procedural scenes."""
    return profile in REFERENCE_PROFILES and seed == 0 and data_root is None


def _marked_reference(profile: str, seed: int, data_root) -> bool:
    """Whether this process runs the reference run: marked by ``blur2vid reproduce``, and settings
    that are the reference run's."""
    return os.environ.get(REFERENCE_ENV) == "1" and is_reference_run(profile, seed, data_root)


def run_name(seed, data_root: str | os.PathLike | None) -> str:
    """The folder name of a non-reference run: ``seed-<k>`` (``seeds-0-1-2`` for the pooled outputs
    of several seeds, ``seed`` a list), and the dataset folder's name and a short hash of its path
    when there is one (``seed-0-gopro-1a2b3c``)."""
    name = f"seed-{seed}" if isinstance(seed, int) else "seeds-" + "-".join(str(s) for s in seed)
    if data_root is None:
        return name
    path = str(Path(data_root).resolve())
    return f"{name}-{Path(path).name}-{hashlib.sha1(path.encode()).hexdigest()[:6]}"


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


def read_manifest(folder: Path) -> dict[str, Any]:
    """``folder/manifest.json`` (empty when there is none, or it is not JSON)."""
    path = Path(folder) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def update_manifest(folder: Path, section: str, key: str, entry: dict[str, Any]) -> None:
    """Set ``manifest[section][key] = entry`` in ``folder/manifest.json``, atomically."""
    path = Path(folder) / "manifest.json"
    manifest = read_manifest(folder)
    manifest.setdefault(section, {})[key] = entry
    atomic_write_json(path, manifest)


def resolve_device(device: str = "auto", mps: bool = False) -> torch.device:
    """``"auto"`` picks CUDA when present, then (with ``mps=True``, as ``blur2vid predict`` does)
    Apple's MPS, else the CPU; a device that was asked for and is absent is a clear error."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps and has_mps else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but this machine has no CUDA GPU; use 'auto' or 'cpu'")
    if dev.type == "mps" and not has_mps:
        raise ValueError(f"device {device!r} was asked for but this machine has no Apple MPS device; use 'auto' or 'cpu'")
    return dev


_PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "profile": (str,),
    "device": (str,),
    "seed": (int,),
    "data_root": (str, os.PathLike, type(None)),
    "precision": (str,),
    "max_steps": (int, type(None)),
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
    if "precision" in params and params["precision"] not in PRECISIONS:
        raise ValueError(f"unknown precision {params['precision']!r}; expected one of {list(PRECISIONS)}")
    if params.get("max_steps") is not None and params["max_steps"] < 1:
        raise ValueError(f"parameter 'max_steps' must be None or >= 1, got {params['max_steps']!r}")
    if params.get("data_root") is not None and not os.path.isdir(params["data_root"]):
        raise FileNotFoundError(f"parameter 'data_root': {params['data_root']!s} is not a folder")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Saved(list):
    """The files :meth:`NotebookRun.save` wrote (a list of paths), shown by name only: a notebook
    cell that ends with a save prints what it saved, never a machine's paths."""

    def __repr__(self) -> str:
        return "saved " + ", ".join(p.name for p in self) if self else "nothing saved"

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows a list through its own printer
        printer.text(repr(self))


PERCEPTUAL_NOTEBOOKS = ("03_jin_losses", "04_jin_training", "06_hypercut_blur2vid", "07_your_own_image")
"""The notebooks whose Jin cascade uses the perceptual loss, whose stand-in they say once when no
VGG16 weights are given (:class:`~blur2vid.losses.perceptual.MissingVGGWeightsWarning`)."""


def _reader_display() -> None:
    """Tables a person can read in a notebook and the book: whole text, three significant decimals."""
    import pandas as pd

    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.precision", 3)
    pd.set_option("display.width", 200)


@dataclass
class NotebookRun:
    """What a notebook knows about its run: its profile's configuration (``cfg``: the notebook's
    section; ``profile_config``: every notebook's), device, seed, output folder, and the
    :class:`~blur2vid.training.loop.Workspace` its training runs use."""

    notebook: str
    profile: str
    device: torch.device
    seed: int
    cfg: Any
    profile_config: Profile
    out_dir: Path
    reference: bool
    data_root: str | None = None
    precision: str = "fp32"
    saved: list[Path] = field(default_factory=list)

    @property
    def workspace(self) -> Workspace:
        """Checkpoints in ``results/<profile>/checkpoints/`` (shared by every run of the profile:
        their keys name seed, data and precision), on this run's device and precision, with progress
        bars and the profile's validation set for the learning curves."""
        return Workspace(results_root() / self.profile / "checkpoints", self.device, progress=True,
                         precision=self.precision, validation=self.profile_config.validation)

    @property
    def models_dir(self) -> Path:
        """Where model files exported for ``blur2vid predict`` go (never ``figures/``)."""
        if self.reference:
            return results_root() / self.profile / "models"
        return self.out_dir / "models"

    def save(self, obj: Any, name: str, formats: tuple[str, ...] | None = None) -> Saved:
        """Save a matplotlib figure (PNG, and SVG when asked), a pandas DataFrame (CSV and Markdown)
        or a frame sequence ``[T, C, H, W]`` (GIF) under ``name`` (the paper item, e.g.
        ``"jin_fig2_ambiguity"``).

        Two kinds of table carry more than they show, and that is saved beside them:

        * a per-scene table (index ``(id, scene)``, :mod:`blur2vid.experiments.tables`) is saved
          whole as ``<name>_scenes.csv`` and as its summary (means over scenes) in ``<name>.csv``
          and ``.md``;
        * a claims table with evidence (``attrs["evidence"]``, :mod:`blur2vid.experiments.claims`)
          writes that evidence, tagged with this run's seed, as ``<name>_evidence.csv``.

        Both are what an aggregation over training seeds reads (:mod:`blur2vid.reproduction.aggregate`)."""
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
            from blur2vid.experiments.tables import is_scene_table, summary

            evidence = obj.attrs.get("evidence")
            if is_scene_table(obj):
                path = self.out_dir / f"{name}_scenes.csv"
                atomic_write_text(path, obj.assign(seed=self.seed).to_csv(index=True))
                paths.append(path)
                obj = summary(obj)
            if isinstance(evidence, pd.DataFrame) and len(evidence):
                path = self.out_dir / f"{name}_evidence.csv"
                atomic_write_text(path, evidence.assign(seed=self.seed).to_csv(index=False))
                paths.append(path)
            for fmt in formats or ("csv", "md"):
                path = self.out_dir / f"{name}.{fmt}"
                text = obj.to_csv(index=True) if fmt == "csv" else obj.to_markdown(floatfmt=".2f") + "\n"
                atomic_write_text(path, text)
                paths.append(path)
        elif isinstance(obj, torch.Tensor) and obj.ndim == 4:
            from blur2vid.core.io import save_gif

            path = self.out_dir / f"{name}.gif"
            save_gif(path, obj)
            paths.append(path)
        else:
            raise TypeError(f"run.save takes a matplotlib Figure, a pandas DataFrame or a sequence tensor "
                            f"[T, C, H, W] (saved as a GIF), got {type(obj).__name__}")
        for path in paths:
            update_manifest(self.out_dir, "outputs", path.name, {
                "notebook": self.notebook, "profile": self.profile, "seed": self.seed,
                "device": str(self.device), "precision": self.precision, "blur2vid": __version__,
                "written": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            })
        self.saved.extend(paths)
        return Saved(paths)


def start_run(notebook: str, profile: str = "cpu", device: str = "auto", seed: int = 0,
              data_root: str | None = None, vgg_weights: str | None = None, precision: str = "auto",
              quiet: bool = False, max_steps: int | None = None) -> NotebookRun:
    """Validate a notebook's parameters, seed every RNG, build its profile's configuration, and say
    where its outputs go.  ``precision`` (``fp32``, ``bf16``, ``auto``: :mod:`blur2vid.core.precision`)
    is resolved for the device here; it is part of every checkpoint's key.  ``max_steps`` caps every
    loop of the profile (:func:`blur2vid.reproduction.profiles.capped_scale`: a wiring check, say of the ``gpu``
    profile before renting a GPU); such a run is never the reference run and writes under
    ``results/<profile>/outputs/<run>-capped-<max_steps>/``."""
    check_parameters(profile=profile, device=device, seed=seed, data_root=data_root, precision=precision,
                     max_steps=max_steps)
    data_root = None if data_root is None else str(Path(data_root).resolve())
    config = get_profile(profile, seed=seed, data_root=data_root, vgg_weights=vgg_weights, max_steps=max_steps)
    cfg = config.section(notebook)
    dev = resolve_device(device)
    precision = resolve_precision(precision, dev)
    seed_everything(seed)
    out = output_dir(profile, seed, data_root)
    reference = _marked_reference(profile, seed, data_root)
    if max_steps is not None:
        out = results_root() / profile / "outputs" / f"{run_name(seed, data_root)}-capped-{max_steps}"
        reference = False
    out.mkdir(parents=True, exist_ok=True)
    _reader_display()
    if not quiet:
        pooled = os.environ.get(POOLED_ENV)
        what = ("the reference run" if reference else f"one seed of a batch pooled into {pooled}" if pooled
                else "an exploration run: figures/ is left alone")
        print(f"[blur2vid] {notebook}: profile {profile}, seed {seed}, {dev}, {precision}; outputs in "
              f"{shown_path(out)} ({what})")
    if notebook in PERCEPTUAL_NOTEBOOKS and config.jin.train.vgg_weights is None:
        import warnings

        from blur2vid.losses.perceptual import MissingVGGWeightsWarning

        warnings.simplefilter("ignore", MissingVGGWeightsWarning)  # said here once, as a note
        if not quiet:
            print("[blur2vid] note: no VGG16 weights, so the perceptual term of Jin Eq. 3 is its documented "
                  "stand-in, a squared loss on image gradients (set BLUR2VID_VGG16 to a torchvision vgg16 file "
                  "for the real one)")
    return NotebookRun(notebook=notebook, profile=profile, device=dev, seed=seed, cfg=cfg, profile_config=config,
                       out_dir=out, reference=reference, data_root=data_root, precision=precision)
