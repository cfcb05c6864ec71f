"""The notebook run: validated parameters, seeded RNGs, and the one helper that saves outputs.

A notebook's second cell is ``run = start_run("02_order_ambiguity", profile=profile, ...)``; every
figure or table it keeps goes through ``run.save(obj, "paper_item_name")``.  The file lands in the
profile's output folder (``figures/`` for ``cpu``, ``figures/gpu/`` for ``gpu``, an ignored
``results/smoke/figures/`` for ``smoke`` so that tests never touch the committed reference run),
written atomically, and ``manifest.json`` in that folder records which notebook, profile, seed,
device and library version produced it.
"""

from __future__ import annotations

import datetime as _dt
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
from blur2vid.io import atomic_path, atomic_write_json, atomic_write_text
from blur2vid.profiles import check_parameters, get_profile, resolve_device

__all__ = ["NotebookRun", "start_run", "repo_root", "output_dir", "update_manifest", "environment_info"]

ENV_OUTPUT_DIR = "BLUR2VID_FIGURES"


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The checkout's root (the folder whose pyproject.toml names blur2vid), else the current folder."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        toml = folder / "pyproject.toml"
        if toml.is_file() and 'name = "blur2vid"' in toml.read_text(encoding="utf-8"):
            return folder
    return Path.cwd()


def output_dir(profile: str) -> Path:
    """Where a profile's outputs go; ``$BLUR2VID_FIGURES`` overrides it."""
    if os.environ.get(ENV_OUTPUT_DIR):
        return Path(os.environ[ENV_OUTPUT_DIR])
    root = repo_root()
    return {"cpu": root / "figures", "gpu": root / "figures" / "gpu"}.get(profile, root / "results" / profile / "figures")


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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class NotebookRun:
    """What a notebook knows about its run: the resolved profile settings, device, seed, output folder."""

    notebook: str
    profile: str
    device: torch.device
    seed: int
    cfg: dict[str, Any]
    out_dir: Path
    data_root: str | None = None
    saved: list[Path] = field(default_factory=list)

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
              data_root: str | None = None) -> NotebookRun:
    """Validate a notebook's parameters, seed every RNG, and resolve its profile settings."""
    check_parameters(profile=profile, device=device, seed=seed, data_root=data_root)
    cfg = get_profile(profile, notebook)
    dev = resolve_device(device)
    seed_everything(seed)
    out = output_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    return NotebookRun(notebook=notebook, profile=profile, device=dev, seed=seed, cfg=cfg, out_dir=out,
                       data_root=None if data_root is None else str(data_root))
