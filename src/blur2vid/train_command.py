"""``blur2vid train``: train a model from a named preset or a JSON config file, resumably, and export a
model file that ``blur2vid predict --checkpoint`` reads.

A config is a flat JSON object of the keys of :class:`TrainSpec` (``data`` a nested object of
:class:`~blur2vid.data.config.DataConfig`'s); a preset is one such object with a name
(:data:`PRESETS`), and ``--set key=value`` overrides either.  A budget is ``steps``, or ``minutes``:
then a few steps are timed once on this machine, converted to steps, and the result is recorded
in ``<out>/train_spec.json`` so that a resumed run keeps the same total (the learning-rate schedule
depends on it).  Checkpoints go to ``<out>/checkpoints/`` by steps and every minute
(:func:`blur2vid.train.fit`); the model file is ``<out>/model.pt`` with its notes in
``<out>/model.json``.

It trains the all-frames U-Net (:mod:`blur2vid.train_unet`) with any of its schemes (the
explicit order of ``scheme="hypercut"`` is the hand-made rule, ``ordering="motion_rule"``), or, with
``scheme="denoise"``, the noise-level denoiser that ``blur2vid predict --noise`` holds the frames to
(:mod:`blur2vid.train_denoise`; preset ``denoiser``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from blur2vid import distributed
from blur2vid.data.config import DataConfig
from blur2vid.experiments.tables import OUTER, model_and_copy_ppsnr
from blur2vid.io import atomic_write_text
from blur2vid.models.checkpoint import save_model
from blur2vid.models.consistency import with_match_blur
from blur2vid.train import OMIT_DEFAULT, PREFETCH, Workspace, plain
from blur2vid.train_denoise import DenoiserTrainConfig, denoiser_notes, train_denoiser
from blur2vid.train_jin import hand_made_order
from blur2vid.train_unet import UNET_SCHEMES, UNetTrainConfig, train_unet

__all__ = ["TrainSpec", "PRESETS", "DENOISE", "load_spec", "train_model", "auto_workers"]

DENOISE = "denoise"
"""The scheme that trains the noise-level denoiser instead of a frames network."""


@dataclass(frozen=True)
class TrainSpec:
    """Everything ``blur2vid train`` needs: the data, the network, the scheme, the budget."""

    data: DataConfig = DataConfig()
    scheme: str = "hypercut"          # a U-Net scheme (train_unet.UNET_SCHEMES), or "denoise"
    ordering: str = "motion_rule"     # the explicit order of the schemes that need one: the hand-made rule
    width: int = 32
    depth: int = 2
    batch: int = 16
    lr: float = 1e-3
    steps: int | None = 1000          # the budget, or None with minutes
    minutes: float | None = None      # a budget in minutes, converted once to steps and recorded
    seed: int = 0
    n_test: int = 64                  # held-out scenes scored into the model's notes
    init: str | None = field(default=None, metadata=OMIT_DEFAULT)  # a model file to start from (fine-tuning)
    match_blur: bool = field(default=False, metadata=OMIT_DEFAULT)  # train the frames held to the blur
    hold_weight: int = field(default=0, metadata=OMIT_DEFAULT)  # with match_blur: a learnt hold weight's width

    def __post_init__(self) -> None:
        if self.scheme not in UNET_SCHEMES and self.scheme != DENOISE:
            raise ValueError(f"scheme={self.scheme!r}: expected one of {sorted(UNET_SCHEMES) + [DENOISE]}")
        if self.ordering != "motion_rule":
            raise ValueError(f"ordering={self.ordering!r}: blur2vid train knows 'motion_rule' (the hand-made order)")
        if (self.steps is None) == (self.minutes is None):
            raise ValueError(f"give exactly one budget: steps={self.steps!r} or minutes={self.minutes!r}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps={self.steps!r}: expected a positive number of steps")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"minutes={self.minutes!r}: expected a positive number of minutes")
        for name in ("width", "depth", "batch", "n_test"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r}: expected a positive integer")
        if not isinstance(self.match_blur, bool):
            raise ValueError(f"match_blur={self.match_blur!r}: expected true or false")
        if isinstance(self.hold_weight, bool) or not isinstance(self.hold_weight, int) or self.hold_weight < 0:
            raise ValueError(f"hold_weight={self.hold_weight!r}: expected a width >= 0 (0: the full hold)")
        if self.scheme == DENOISE and (self.match_blur or self.hold_weight):
            raise ValueError("scheme='denoise' trains a denoiser: match_blur and hold_weight are for frames networks")
        self.config_for(1)  # the training run's own checks (a hold weight needs match_blur; a denoiser, captures)
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr!r}: expected a positive learning rate")
        if self.init is not None and self.init != "default":  # resolved, so that the record names one file
            object.__setattr__(self, "init", str(Path(self.init).expanduser().resolve()))

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

    def config_for(self, steps: int) -> UNetTrainConfig | DenoiserTrainConfig:
        """The training run's configuration for a budget of ``steps``."""
        if self.scheme == DENOISE:
            return DenoiserTrainConfig(data=self.data, width=self.width, depth=self.depth, steps=steps,
                                       batch=self.batch, lr=self.lr, seed=self.seed)
        return self.unet(steps)

    def train(self, steps: int, ws: Workspace, init=None):
        """Train the spec's network for ``steps`` in ``ws``: ``(model, history)``."""
        if self.scheme == DENOISE:
            return train_denoiser(self.config_for(steps), ws, init=init)
        return train_unet(self.scheme, self.unet(steps), _ordering(self), ws, init=init)

    def unet(self, steps: int) -> UNetTrainConfig:
        return UNetTrainConfig(data=self.data, width=self.width, depth=self.depth, steps=steps, batch=self.batch,
                               lr=self.lr, seed=self.seed, match_blur=self.match_blur, hold_weight=self.hold_weight)


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(data=dict(family="captures", size=16, max_shift=4.0), width=4, depth=1, batch=2, steps=4, n_test=4),
    "unet-pans": dict(data=dict(family="pans", size=32, max_shift=8.0), batch=32, steps=1000),
    "unet-captures": dict(data=dict(family="captures", size=64, max_shift=24.0), width=32, depth=2, batch=16,
                          steps=None, minutes=60.0),
    "denoiser": dict(data=dict(family="captures", size=64, max_shift=24.0, capture=dict(clean=0.3, still=0.2)),
                     scheme=DENOISE, width=32, depth=2, batch=16, steps=None, minutes=50.0),
}
"""Named starting points: ``smoke`` (seconds, for tests), ``unet-pans`` (notebook 06's U-Net on the
cpu profile's pans), ``unet-captures`` (the capture-like scenes, an hour), ``denoiser`` (the
noise-level denoiser on the shipped model's scenes, 50 minutes)."""


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def load_spec(preset: str | None = None, config: str | Path | None = None, overrides: list[str] = (),
              data_root: str | None = None) -> TrainSpec:
    """The :class:`TrainSpec` of a preset or a JSON file (not both), with ``key=value`` overrides
    (``data.size=64`` reaches into the data) and a data folder; a bad key or value is an error that
    names it (and the file)."""
    if preset is not None and config is not None:
        raise ValueError("give a preset or a config file, not both")
    where = "the defaults"
    raw: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
        raw, where = json.loads(json.dumps(PRESETS[preset])), f"preset {preset!r}"
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
    known = {f.name for f in fields(TrainSpec)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {unknown}; expected some of {sorted(known)}")
    data_known = {f.name for f in fields(DataConfig)}
    bad = sorted(set(raw["data"]) - data_known)
    if bad:
        raise ValueError(f"{where}: unknown data setting(s) {bad}; expected some of {sorted(data_known)}")
    try:
        data = DataConfig(**raw["data"])
        return TrainSpec(**{**raw, "data": data})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _ordering(spec: TrainSpec):
    """The explicit order of the spec's scheme (the hand-made rule), or ``None`` for a scheme without one."""
    return hand_made_order(spec.data) if UNET_SCHEMES[spec.scheme].needs_ordering else None


def _measured_steps(spec: TrainSpec, ws: Workspace, probe: int = 6) -> tuple[int, float]:
    """Steps that fit ``spec.minutes`` on this machine: ``probe`` steps timed (after one warm-up
    step), not saved; with workers rendering ahead, ``PREFETCH`` more per worker, so that the rate
    is the one they sustain, not the first batches they had ready.  Returns ``(steps, seconds per step)``."""
    quiet = replace(ws, checkpoints=None, progress=False, validation=0, compile=False)  # a compiler's first
    # steps would be timed too: the budget is set from the uncompiled rate
    probe += PREFETCH * ws.workers
    spec.train(1, replace(quiet, workers=0))
    t0 = time.perf_counter()
    spec.train(probe, quiet)
    per_step = (time.perf_counter() - t0) / probe
    return max(1, int(spec.minutes * 60 / per_step)), per_step


def train_model(spec: TrainSpec, out: str | Path, device="cpu", precision: str = "auto", progress: bool = True,
                compile: bool | str = False, workers: int | str = 0,
                command: str = "") -> Path:
    """Train ``spec`` into the folder ``out`` (resuming what is there) and export ``out/model.pt``.
    ``workers``: processes that render the batches ahead (:class:`~blur2vid.train.Workspace`), or
    ``"auto"`` (:func:`auto_workers`)."""
    spec.data.source()  # a bad data folder or a bad model to start from is refused here, before anything is written
    spec.init_model()
    main = distributed.is_main()
    if spec.batch % distributed.world_size():
        raise ValueError(f"batch={spec.batch} cannot be split evenly over {distributed.world_size()} processes")
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    ws = Workspace(checkpoints=out / "checkpoints", device=device, precision=precision, progress=progress, compile=compile,
                   validation=min(64, spec.n_test), workers=auto_workers(device) if workers == "auto" else workers)
    record_path = out / "train_spec.json"
    spec_dict = json.loads(json.dumps(plain(spec), default=str))  # without the switches left at their default
    record = json.loads(record_path.read_text()) if record_path.is_file() else None
    if record is not None and record.get("spec") != spec_dict:
        raise ValueError(f"{out}: holds a run of another configuration (train_spec.json); choose another --out")
    if record is not None:
        steps, budget = record["steps"], record["budget"]
    elif spec.steps is not None:
        steps, budget = spec.steps, {"steps": spec.steps}
    else:  # every rank takes part in the timed steps; rank 0's measurement decides for all
        steps, per_step = distributed.broadcast_object(_measured_steps(spec, ws))
        budget = {"minutes": spec.minutes, "measured_s_per_step": round(per_step, 4), "steps": steps,
                  "processor": _processor(), **({"processes": distributed.world_size()}
                                                if distributed.is_distributed() else {})}
    if record is None and main:
        atomic_write_text(record_path, json.dumps({"spec": spec_dict, "steps": steps, "budget": budget,
                                                   "command": command}, indent=2) + "\n")
    t0 = time.perf_counter()
    model, history = spec.train(steps, ws, init=spec.init_model())
    seconds = time.perf_counter() - t0
    if not main:  # rank 0 scores and exports the model
        distributed.barrier()
        return out / "model.pt"
    test = spec.data.test_set(spec.n_test, ws.device, "train-command")
    notes = {
        "trained_by": command or "blur2vid train", "spec": spec_dict, "steps": steps, "budget": budget,
        "samples": steps * spec.batch, "train_seconds_this_session": round(seconds, 1),
        "held_out": _held_out(spec, model, test),
        "last_loss": history[-1]["loss"] if history else None,
        **({"match_blur": True} if spec.match_blur else {}),  # so that predict holds its frames too
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


def _held_out(spec: TrainSpec, model, test) -> dict[str, Any]:
    """The trained network's scores on the held-out scenes, for its notes."""
    if spec.scheme == DENOISE:
        return denoiser_notes(model, test)
    scores, blur = model_and_copy_ppsnr(with_match_blur(model, spec.match_blur), test)
    mid = test.frames.shape[1] // 2
    outer = [int(c[1:]) - 1 for c in OUTER if int(c[1:]) <= test.frames.shape[1]]
    return {"scenes": spec.n_test, "mean_ppsnr_db": round(float(scores.mean()), 2),
            "mean_over_blur_copy_db": round(float((scores - blur).mean()), 2),
            "middle_over_blur_db": round(float((scores[:, mid] - blur[:, mid]).mean()), 2),
            "frames_1_2_6_7_over_blur_copy_db": round(float((scores[:, outer] - blur[:, outer]).mean()), 2)}


def _processor() -> str:
    from blur2vid.benchmark import device_name

    return device_name(torch.device("cpu"))
