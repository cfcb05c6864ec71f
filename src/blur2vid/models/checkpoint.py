"""Model files: the weights of a trained image-to-video network with the configuration that builds it.

A model file is a plain dictionary (tensors, numbers, strings, lists, dicts), readable with
``torch.load(..., weights_only=True)``: a file holding arbitrary Python objects is refused.  It
records the architecture name, its configuration, the library version and free-form training notes
(the command that retrains it, the data, the budget), so ``load_model`` rebuilds the network without
the user knowing how it was made.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from blur2vid import __version__
from blur2vid.core.io import atomic_path, load_plain

__all__ = ["MODEL_FORMAT", "ARCHITECTURES", "default_model_path", "default_denoiser_path", "save_model", "load_model",
           "read_model_file"]

MODEL_FORMAT = "blur2vid-model/1"


def _jin(config: dict) -> nn.Module:
    from blur2vid.models.jin import JinCascade, JinConfig

    fields = {f.name for f in dataclasses.fields(JinConfig)}
    cfg = {k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
           for k, v in config.items() if k in fields}
    cfg.setdefault("frame_colour_block", "residual")  # files written before the field existed
    return JinCascade(JinConfig(**cfg))


def _unet(config: dict) -> nn.Module:
    from blur2vid.models.unet import SequenceUNet, UNetConfig

    config = {k: v for k, v in config.items() if k != "arch"}
    if config.pop("hold_weight", 0):  # files written while the learnt hold weight existed store 0 without one
        raise ValueError("this SequenceUNet carries a learnt hold-weight head, a probe that did not ship and "
                         "that this version of blur2vid no longer builds (docs/probes.md says which commit does)")
    return SequenceUNet(UNetConfig(**config))


def _denoiser(config: dict) -> nn.Module:
    from blur2vid.models.denoise import DenoiserConfig, NoiseLevelDenoiser

    return NoiseLevelDenoiser(DenoiserConfig(**config))


ARCHITECTURES = {"JinCascade": _jin, "SequenceUNet": _unet, "NoiseLevelDenoiser": _denoiser}


def _arch_and_config(model: nn.Module) -> tuple[str, dict]:
    name = type(model).__name__
    if name not in ARCHITECTURES:
        raise TypeError(f"cannot save a {name}: known architectures are {sorted(ARCHITECTURES)}")
    return name, {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(model.config).items()}


def default_model_path() -> Path:
    """The model shipped with the package (``assets/default_model.pt``; its card, how it was trained
    and what it scored, is ``assets/default_model.json``, written by :mod:`blur2vid.app.shipping`)."""
    from importlib import resources

    return Path(str(resources.files("blur2vid") / "assets" / "default_model.pt"))


def default_denoiser_path() -> Path:
    """The noise-level denoiser shipped with the package (``assets/default_denoiser.pt``, its card
    ``assets/default_denoiser.json``), which ``blur2vid predict --noise`` holds the frames to."""
    return default_model_path().with_name("default_denoiser.pt")


def save_model(path: str | Path, model: nn.Module, notes: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (one of :data:`ARCHITECTURES`) with its configuration, atomically."""
    arch, config = _arch_and_config(model)
    state = {"format": MODEL_FORMAT, "blur2vid": __version__, "arch": arch, "config": config,
             "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "notes": notes or {}}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The raw dictionary of a model file, checked: safe to load, and a blur2vid model."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    state = load_plain(path, "blur2vid model")
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        hint = " (a training checkpoint? export it with save_model)" if isinstance(state, dict) and "step" in state else ""
        raise ValueError(f"{path}: not a blur2vid model file (expected format {MODEL_FORMAT!r}){hint}")
    return state


def load_model(path: str | Path, expect: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network of a model file and load its weights; returns ``(model, notes)``.

    ``expect``: the architecture the caller needs; a file of another architecture is refused with a
    message that names both."""
    state = read_model_file(path)
    arch = state.get("arch")
    if arch not in ARCHITECTURES:
        raise ValueError(f"{path}: architecture {arch!r} is unknown to this version of blur2vid "
                         f"(known: {sorted(ARCHITECTURES)})")
    if expect is not None and arch != expect:
        raise ValueError(f"{path}: holds a {arch}, but a {expect} was asked for")
    try:
        model = ARCHITECTURES[arch](state["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not fit a {arch} of the stored configuration: {exc}") from exc
    model.eval()
    return model, dict(state.get("notes", {}), arch=arch, blur2vid=state.get("blur2vid"))
