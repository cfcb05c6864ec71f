"""``blur2vid train``: train a model from a named recipe or a JSON config file, resumably, and export a
model file that ``blur2vid predict --checkpoint`` reads.

A :class:`Recipe` is the training configuration it runs (a
:class:`~blur2vid.training.unet_schemes.UNetTrainConfig`, or a :class:`~blur2vid.training.denoiser.DenoiserTrainConfig`
for ``scheme="denoise"``) plus a budget, the held-out scenes its notes score and a model to start
from.  Its settings are one flat JSON object (:data:`SETTINGS`; ``data`` a nested object of
:class:`~blur2vid.data.config.DataConfig`'s): a config file, or a named recipe (:data:`RECIPES`,
``--preset NAME`` on the command line) with ``--set key=value`` overrides.  A budget is ``steps``,
or ``minutes``: then a few steps are timed once on this machine, converted to steps, and the
result is recorded in ``<out>/train_spec.json`` so that a resumed run keeps the same total (the
learning-rate schedule depends on it).  Checkpoints go to ``<out>/checkpoints/`` by steps and every
minute (:func:`blur2vid.training.loop.fit`); the model file is ``<out>/model.pt`` with its notes in
``<out>/model.json``.

It trains the all-frames U-Net (:mod:`blur2vid.training.unet_schemes`) with any of its schemes (the explicit
order of ``scheme="hypercut"`` is the hand-made order, ``ordering="motion_rule"``), or the
noise-level denoiser that ``blur2vid predict --noise`` holds the frames to
(:mod:`blur2vid.training.denoiser`; recipe ``denoiser``).
"""

from __future__ import annotations

import json
import os
import time
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from blur2vid.core.io import atomic_write_text
from blur2vid.data.config import DataConfig
from blur2vid.experiments.tables import OUTER, model_and_copy_ppsnr
from blur2vid.models.checkpoint import save_model
from blur2vid.models.match_blur import with_match_blur
from blur2vid.training import distributed
from blur2vid.training.cascade import hand_made_order
from blur2vid.training.denoiser import DenoiserTrainConfig, denoiser_notes, train_denoiser
from blur2vid.training.loop import PREFETCH, Workspace, plain
from blur2vid.training.unet_schemes import UNET_SCHEMES, UNetTrainConfig, train_unet

__all__ = ["Recipe", "RECIPES", "SETTINGS", "DENOISE", "load_recipe", "train_model", "auto_workers"]

DENOISE = "denoise"
"""The scheme that trains the noise-level denoiser instead of a frames network."""

HAND_MADE = "motion_rule"
"""The one explicit order ``blur2vid train`` knows: the hand-made order (:func:`~blur2vid.training.cascade.hand_made_order`)."""

SETTINGS = ("data", "scheme", "ordering", "width", "depth", "batch", "lr", "steps", "minutes", "seed", "n_test",
            "init", "match_blur")
"""The keys of a recipe's settings, in the order its record writes them."""

DEFAULTS: dict[str, Any] = dict(scheme="hypercut", ordering=HAND_MADE, batch=16, steps=1000, minutes=None,
                                n_test=64, init=None)
"""What a setting is when neither the recipe nor an override gives it (the network's and the
optimiser's others: the training configuration's own defaults)."""

_OWN = {"scheme": str, "ordering": str, "steps": int | None, "minutes": float | None, "n_test": int,
        "init": str | None}
"""The recipe's own settings and their types (the others are the training configuration's fields)."""


@dataclass(frozen=True)
class Recipe:
    """What ``blur2vid train`` runs: ``run``, the training configuration (whose ``steps`` is the
    budget, unless ``minutes`` gives it), ``scheme``, ``n_test`` held-out scenes scored into the
    model's notes, and ``init``, a model file to start from (``"default"``: the shipped one)."""

    run: UNetTrainConfig | DenoiserTrainConfig
    scheme: str = "hypercut"
    minutes: float | None = None
    n_test: int = 64
    init: str | None = None

    def __post_init__(self) -> None:
        if self.scheme not in UNET_SCHEMES and self.scheme != DENOISE:
            raise ValueError(f"scheme={self.scheme!r}: expected one of {sorted(UNET_SCHEMES) + [DENOISE]}")
        if not isinstance(self.run, DenoiserTrainConfig if self.scheme == DENOISE else UNetTrainConfig):
            raise ValueError(f"scheme={self.scheme!r} cannot run a {type(self.run).__name__}")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"minutes={self.minutes!r}: expected a positive number of minutes")
        if self.n_test < 1:
            raise ValueError(f"n_test={self.n_test!r}: expected a positive integer")
        if self.init is not None and self.init != "default":  # resolved, so that the record names one file
            object.__setattr__(self, "init", str(Path(self.init).expanduser().resolve()))

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Recipe:
        """The recipe of flat ``settings`` (:data:`SETTINGS`; missing ones take :data:`DEFAULTS` or
        the training configuration's defaults; ``data`` a :class:`DataConfig` or its dict).  A bad
        value is refused with its name and what it expects."""
        s = {**DEFAULTS, **settings}
        unknown = sorted(set(s) - set(SETTINGS))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; expected some of {sorted(SETTINGS)}")
        denoise = s["scheme"] == DENOISE
        config = DenoiserTrainConfig if denoise else UNetTrainConfig
        _check_types(_OWN, s)
        if s["ordering"] != HAND_MADE:
            raise ValueError(f"ordering={s['ordering']!r}: blur2vid train knows {HAND_MADE!r} (the hand-made order)")
        if (s["steps"] is None) == (s["minutes"] is None):
            raise ValueError(f"give exactly one budget: steps={s['steps']!r} or minutes={s['minutes']!r}")
        if s["steps"] is not None and s["steps"] < 1:
            raise ValueError(f"steps={s['steps']!r}: expected a positive number of steps")
        if denoise and s.get("match_blur"):
            raise ValueError("scheme='denoise' trains a denoiser: match_blur is for frames networks")
        own = {f.name for f in fields(config)} - {"data", "steps"}
        given = {k: v for k, v in s.items() if k in own}
        if isinstance(s.get("data"), dict):
            _check_types(typing.get_type_hints(DataConfig), s["data"], "data.")
            given["data"] = DataConfig(**s["data"])
        elif s.get("data") is not None:
            given["data"] = s["data"]
        _check_types(typing.get_type_hints(config), given)
        extra = sorted(k for k in set(s) - set(DEFAULTS) - own - {"data"} if s[k] not in (None, False))
        if extra:
            raise ValueError(f"{', '.join(extra)}: not a setting of scheme={s['scheme']!r}")
        run = config(**given, steps=s["steps"] or 1)  # with a budget in minutes, steps are set once measured
        return cls(run, scheme=s["scheme"], minutes=s["minutes"], n_test=s["n_test"], init=s["init"])

    def settings(self) -> dict[str, Any]:
        """The flat settings (:data:`SETTINGS`) as plain JSON values, without the switches left at
        their default (``init``, ``match_blur``): what ``train_spec.json`` and a model's notes
        record, and what :meth:`from_settings` reads back."""
        run = plain(self.run)
        flat = {"data": run["data"], "scheme": self.scheme, "ordering": HAND_MADE, **run,
                "steps": None if self.minutes is not None else self.run.steps, "minutes": self.minutes,
                "n_test": self.n_test, **({"init": self.init} if self.init is not None else {})}
        return json.loads(json.dumps({k: flat[k] for k in SETTINGS if k in flat}, default=str))

    @property
    def data(self) -> DataConfig:
        return self.run.data

    @property
    def batch(self) -> int:
        return self.run.batch

    @property
    def steps(self) -> int | None:
        """The budget in steps, or ``None`` for a budget in :attr:`minutes`."""
        return None if self.minutes is not None else self.run.steps

    @property
    def match_blur(self) -> bool:
        return getattr(self.run, "match_blur", False)

    def init_model(self):
        """The network to start from: ``init``'s model file (``"default"``: the shipped model, or
        the shipped denoiser for ``scheme="denoise"``), or None."""
        if self.init is None:
            return None
        from blur2vid.models.checkpoint import default_denoiser_path, default_model_path, load_model

        denoise = self.scheme == DENOISE
        path = Path(self.init) if self.init != "default" else default_denoiser_path() if denoise else default_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"init={self.init!r}: no such model file")
        model, _ = load_model(path, expect="NoiseLevelDenoiser" if denoise else "SequenceUNet")
        return model

    def train(self, steps: int, ws: Workspace, init=None):
        """Train the recipe's network for ``steps`` in ``ws``: ``(model, history)``."""
        run = replace(self.run, steps=steps)
        if self.scheme == DENOISE:
            return train_denoiser(run, ws, init=init)
        ordering = hand_made_order(self.data) if UNET_SCHEMES[self.scheme].needs_ordering else None
        return train_unet(self.scheme, run, ordering, ws, init=init)


def _check_types(types: dict[str, Any], values: dict[str, Any], prefix: str = "") -> None:
    """Refuse a value of ``values`` whose type is not its setting's (``types``: name -> a type or a
    union of ``int``, ``float``, ``bool``, ``str``, ``None``; others are left to the class)."""
    simple = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}
    for name, value in values.items():
        allowed = typing.get_args(types.get(name)) or (types.get(name),)
        if not set(allowed) <= set(simple):
            continue
        ok = any(value is None if t is type(None) else isinstance(value, bool) if t is bool
                 else isinstance(value, (int, float) if t is float else t) and not isinstance(value, bool)
                 for t in allowed)
        if not ok:
            raise ValueError(f"{prefix}{name}={value!r}: expected {' or '.join(simple[t] for t in allowed)}")


RECIPES: dict[str, dict[str, Any]] = {
    "smoke": dict(data=dict(family="captures", size=16, max_shift=4.0), width=4, depth=1, batch=2, steps=4, n_test=4),
    "unet-pans": dict(data=dict(family="pans", size=32, max_shift=8.0), batch=32, steps=1000),
    "unet-captures": dict(data=dict(family="captures", size=64, max_shift=24.0), width=32, depth=2, batch=16,
                          steps=None, minutes=60.0),
    "denoiser": dict(data=dict(family="captures", size=64, max_shift=24.0, capture=dict(clean=0.3, still=0.2)),
                     scheme=DENOISE, width=32, depth=2, batch=16, steps=None, minutes=50.0),
}
"""Named training starting points (``--preset NAME``; ``blur2vid train --help`` says what each is for)."""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def load_recipe(name: str | None = None, config: str | Path | None = None, overrides: list[str] = (),
                data_root: str | None = None) -> Recipe:
    """The :class:`Recipe` of a named recipe or a JSON file (not both), with ``key=value`` overrides
    (``data.size=64`` reaches into the data) and a data folder; a bad key or value is an error that
    names it (and the file)."""
    if name is not None and config is not None:
        raise ValueError("give a recipe (--preset) or a config file, not both")
    where = "the defaults"
    raw: dict[str, Any] = {}
    if name is not None:
        if name not in RECIPES:
            raise ValueError(f"unknown recipe {name!r}; expected one of {sorted(RECIPES)}")
        raw, where = json.loads(json.dumps(RECIPES[name])), f"recipe {name!r}"
    elif config is not None:
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a JSON object of settings")
        where = str(path)
    raw.setdefault("data", {})
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected key=value")
        if key.startswith("data.capture."):  # one capture switch: data.capture.minify=[1,8]
            switches = raw["data"].get("capture") or {}
            switches = dict(switches) if isinstance(switches, dict) else {k: v for k, v in switches}
            raw["data"]["capture"] = {**switches, key[len("data.capture."):]: _parse_value(value)}
        elif key.startswith("data."):
            raw["data"][key[5:]] = _parse_value(value)
        else:
            raw[key] = _parse_value(value)
        if key in ("steps", "minutes"):  # one budget replaces the other
            raw["minutes" if key == "steps" else "steps"] = None
    if raw.get("minutes") is not None and "steps" not in raw:
        raw["steps"] = None  # a budget in minutes alone
    if data_root is not None:
        raw["data"]["data_root"] = data_root
    data_known = {f.name for f in fields(DataConfig)}
    bad = sorted(set(raw["data"]) - data_known) if isinstance(raw["data"], dict) else []
    if bad:
        raise ValueError(f"{where}: unknown data setting(s) {bad}; expected some of {sorted(data_known)}")
    try:
        return Recipe.from_settings(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _measured_steps(recipe: Recipe, ws: Workspace, probe: int = 6) -> tuple[int, float]:
    """Steps that fit ``recipe.minutes`` on this machine: ``probe`` steps timed (after one warm-up
    step), not saved; with workers rendering ahead, ``PREFETCH`` more per worker, so that the rate
    is the one they sustain, not the first batches they had ready.  Returns ``(steps, seconds per step)``."""
    quiet = replace(ws, checkpoints=None, progress=False, validation=0, compile=False)  # a compiler's first
    # steps would be timed too: the budget is set from the uncompiled rate
    probe += PREFETCH * ws.workers
    recipe.train(1, replace(quiet, workers=0))
    t0 = time.perf_counter()
    recipe.train(probe, quiet)
    per_step = (time.perf_counter() - t0) / probe
    return max(1, int(recipe.minutes * 60 / per_step)), per_step


def train_model(recipe: Recipe, out: str | Path, device="cpu", precision: str = "auto", progress: bool = True,
                compile: bool | str = False, workers: int | str = 0,
                command: str = "") -> Path:
    """Train ``recipe`` into the folder ``out`` (resuming what is there) and export ``out/model.pt``.
    ``workers``: processes that render the batches ahead (:class:`~blur2vid.training.loop.Workspace`), or
    ``"auto"`` (:func:`auto_workers`)."""
    recipe.data.source()  # a bad data folder or a bad model to start from is refused here, before anything is written
    recipe.init_model()
    main = distributed.is_main()
    if recipe.batch % distributed.world_size():
        raise ValueError(f"batch={recipe.batch} cannot be split evenly over {distributed.world_size()} processes")
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    ws = Workspace(checkpoints=out / "checkpoints", device=device, precision=precision, progress=progress, compile=compile,
                   validation=min(64, recipe.n_test), workers=auto_workers(device) if workers == "auto" else workers)
    record_path = out / "train_spec.json"
    settings = recipe.settings()
    record = json.loads(record_path.read_text()) if record_path.is_file() else None
    if record is not None and record.get("spec") != settings:
        raise ValueError(f"{out}: holds a run of another configuration (train_spec.json); choose another --out")
    if record is not None:
        steps, budget = record["steps"], record["budget"]
    elif recipe.steps is not None:
        steps, budget = recipe.steps, {"steps": recipe.steps}
    else:  # every rank takes part in the timed steps; rank 0's measurement decides for all
        steps, per_step = distributed.broadcast_object(_measured_steps(recipe, ws))
        budget = {"minutes": recipe.minutes, "measured_s_per_step": round(per_step, 4), "steps": steps,
                  "processor": _processor(), **({"processes": distributed.world_size()}
                                                if distributed.is_distributed() else {})}
    if record is None and main:
        atomic_write_text(record_path, json.dumps({"spec": settings, "steps": steps, "budget": budget,
                                                   "command": command}, indent=2) + "\n")
    t0 = time.perf_counter()
    model, history = recipe.train(steps, ws, init=recipe.init_model())
    seconds = time.perf_counter() - t0
    if not main:  # rank 0 scores and exports the model
        distributed.barrier()
        return out / "model.pt"
    test = recipe.data.test_set(recipe.n_test, ws.device, "train-command")
    notes = {
        "trained_by": command or "blur2vid train", "spec": settings, "steps": steps, "budget": budget,
        "samples": steps * recipe.batch, "train_seconds_this_session": round(seconds, 1),
        "held_out": _held_out(recipe, model, test),
        "last_loss": history[-1]["loss"] if history else None,
        **({"match_blur": True} if recipe.match_blur else {}),  # so that predict holds its frames too
    }
    path = save_model(out / "model.pt", model, notes)
    atomic_write_text(out / "model.json", json.dumps({"file": "model.pt", **notes}, indent=2) + "\n")
    distributed.barrier()
    return path


def auto_workers(device) -> int:
    """How many processes render ahead under ``workers="auto"``: none on the CPU (they would take
    the cores the training step uses), else all the CPU's cores but one (at most 16) for a GPU's run."""
    if torch.device(device).type == "cpu":
        return 0
    return max(0, min(16, (os.cpu_count() or 1) - 1))


def _held_out(recipe: Recipe, model, test) -> dict[str, Any]:
    """The trained network's scores on the held-out scenes, for its notes."""
    if recipe.scheme == DENOISE:
        return denoiser_notes(model, test)
    scores, copy = model_and_copy_ppsnr(with_match_blur(model, recipe.match_blur), test)
    gain = scores - copy  # over_blur_copy of the same frames
    outer = [int(c[1:]) - 1 for c in OUTER if int(c[1:]) <= test.frames.shape[1]]
    return {"scenes": recipe.n_test, "mean_ppsnr_db": round(float(scores.mean()), 2),
            "mean_over_blur_copy_db": round(float(gain.mean()), 2),
            "middle_over_blur_db": round(float(gain[:, gain.shape[1] // 2].mean()), 2),
            "frames_1_2_6_7_over_blur_copy_db": round(float(gain[:, outer].mean()), 2)}


def _processor() -> str:
    from blur2vid.models.timing import device_name

    return device_name(torch.device("cpu"))
