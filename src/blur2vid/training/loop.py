"""One training loop for every model: progress bar, atomic checkpoints that carry their config, resume.

``fit`` takes a model, a function that returns the batch for a given step (so a resumed run sees
exactly the batches it would have seen), and a loss function of ``(model, batch)``.  A checkpoint is a
plain dictionary of tensors and JSON-like values, loadable with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from blur2vid import __version__
from blur2vid.core.io import atomic_path, load_plain
from blur2vid.core.precision import autocast, compiled, resolve_precision
from blur2vid.data.sample import Batch
from blur2vid.training import distributed

__all__ = ["fit", "learning_rate", "check_run", "SpikeClip", "save_checkpoint", "load_checkpoint", "config_key", "plain", "run_config", "weights_digest",
           "frozen_identity", "Workspace", "CHECKPOINT_FORMAT", "KEY_FORMAT", "DONE_BEFORE"]

CHECKPOINT_FORMAT = "blur2vid-checkpoint/1"
KEY_FORMAT = 3
"""Version of what a run's configuration holds.  Raise it when the meaning of a configuration
changes without its fields changing: every run then trains anew (old checkpoints are left alone,
under other names), instead of anyone preserving old keys by hand.  3: gradients clipped relative
to the run's own (:class:`SpikeClip`) by default."""
LossFn = Callable[[nn.Module, Batch], "torch.Tensor | tuple[torch.Tensor, dict[str, float | torch.Tensor]]"]
"""A loss function's logs may be 0-dim tensors (detached): :func:`fit` reads them on the steps it
logs, so a loss function that does not read them itself does not wait for the device every step."""


OMIT_DEFAULT = {"plain": "omit_default"}
"""Field metadata (``field(default=..., metadata=OMIT_DEFAULT)``): :func:`plain` leaves the field out
while it holds its default, so a setting added to a configuration later leaves the keys of every
run that does not use it, and so their checkpoints, as they were."""


def plain(value: Any) -> Any:
    """JSON-like form of a configuration: dataclasses become dicts (recursively, without the
    :data:`OMIT_DEFAULT` fields that hold their default), tuples lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("plain") == "omit_default" and getattr(value, f.name) == f.default)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def check_run(config: Any) -> None:
    """The checks every training configuration shares, on the fields it has: a positive ``width``
    and ``batch``, ``depth`` and ``steps`` >= 0, a positive learning rate ``lr``."""
    for name, low, what in (("width", 1, "a positive integer"), ("batch", 1, "a positive integer"),
                            ("depth", 0, "an integer >= 0"), ("steps", 0, "an integer >= 0")):
        value = getattr(config, name, low)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}={value!r}: expected {what}")
    lr = getattr(config, "lr", 1.0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr={lr!r}: expected a positive learning rate")


def run_config(config: Any, **extra: Any) -> dict[str, Any]:
    """What decides a run, as the plain dictionary a checkpoint stores: ``config`` (a dataclass or
    a dict) and ``extra`` (the step of a procedure, digests of frozen networks it depends on...),
    with :data:`KEY_FORMAT`.  This is the one place a run's identity is assembled."""
    return {"key_format": KEY_FORMAT, **plain({"config": config, **extra})}


def config_key(name: str, config: dict[str, Any]) -> str:
    """``name-<10 hex digits>``: a stable key for a run and its configuration (the checkpoint's file
    stem, so that a changed configuration trains anew instead of resuming another run)."""
    digest = hashlib.sha1(json.dumps(plain(config), sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{name}-{digest}"


@dataclass(frozen=True)
class Workspace:
    """Where a training run keeps its checkpoints, the device it runs on, its numeric precision
    (:mod:`blur2vid.core.precision`; ``"auto"`` is resolved for the device here), and whether it shows a
    progress bar.  Every training function of the library takes one; ``checkpoints=None`` trains
    without saving (tests)."""

    checkpoints: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    progress: bool = True
    precision: str = "fp32"
    compile: bool | str = False
    """``torch.compile`` the training step (``True``: the default backend, or a backend's name);
    it changes speed, not what is computed, so it is not part of any key."""
    validation: int = 0
    """Scenes of the validation set (:meth:`DataConfig.validation_set`) each training run scores
    itself on, about ten times through the run (its learning curve, in the history); 0: none.  It
    does not change training, so it is not part of any key."""
    workers: int = 0
    """Processes that render the training batches ahead of the step, on the CPU (:func:`fit`'s
    ``workers``): on a GPU the one training process otherwise spends most of its time rendering
    scenes one by one.  The batches are the same whatever the number (each is a function of its
    step), so it is not part of any key; 0: rendered in the training process, on its device."""

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise ValueError(f"workers={self.workers!r}: expected a number of processes >= 0")
        object.__setattr__(self, "device", torch.device(self.device))
        object.__setattr__(self, "precision", resolve_precision(self.precision, self.device))
        if self.checkpoints is not None:
            object.__setattr__(self, "checkpoints", Path(self.checkpoints))

    @property
    def render_device(self) -> torch.device:
        """Where a trainer's ``batch_at`` renders: the CPU when workers render ahead (they must not
        touch the GPU), else the training device."""
        return torch.device("cpu") if self.workers else self.device

    def validator(self, data, score: Callable[[nn.Module, Batch], dict[str, float]]
                  ) -> Callable[[nn.Module], dict[str, float]] | None:
        """``fit``'s ``validate`` for a run on ``data`` (a :class:`~blur2vid.data.config.DataConfig`):
        ``score(model, validation batch)`` on :attr:`validation` scenes, or ``None`` when that is 0."""
        if not self.validation:
            return None
        val = data.validation_set(self.validation, self.device)
        return lambda model: score(model, val)

    def checkpoint(self, name: str, config: dict[str, Any]) -> Path | None:
        """The checkpoint file of the run ``name`` with ``config`` at this precision (another
        precision is another run; ``None`` without a folder)."""
        if self.checkpoints is None:
            return None
        at = {"precision": self.precision}
        if self.precision == "bf16":  # since frozen networks decide in fp32 (core.ordering.fp32_score)
            at["frozen_decisions"] = "fp32"
        return self.checkpoints / f"{config_key(name, {**config, **at})}.pt"


def weights_digest(module: nn.Module) -> str:
    """16 hex digits of a SHA-1 over a module's state (parameters and buffers): part of the key of a
    run whose result depends on another, frozen network (an ordering network, say)."""
    digest = hashlib.sha1()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def frozen_identity(module: nn.Module) -> dict[str, Any]:
    """What a frozen network contributes to the key of a run that depends on it: its architecture
    (``config_dict()`` where it has one) and :func:`weights_digest`."""
    arch = module.config_dict() if hasattr(module, "config_dict") else {"class": type(module).__name__}
    return {**arch, "weights": weights_digest(module)}


PREFETCH = 4
"""Batches each of :func:`fit`'s workers renders ahead of the step."""


class _StepBatches(torch.utils.data.Dataset):
    """``batch_at`` as a dataset indexed by step (what :func:`prefetched`'s loader asks its workers for)."""

    def __init__(self, batch_at: Callable[[int], Batch]) -> None:
        self.batch_at = batch_at

    def __getitem__(self, step: int) -> Batch:
        return self.batch_at(step)


def _render_worker(_: int) -> None:
    from blur2vid.data.source import BATCH_CACHE_ENV

    os.environ[BATCH_CACHE_ENV] = "0"  # each batch is asked for once: caching it would only fill memory


def prefetched(batch_at: Callable[[int], Batch], start: int, steps: int, workers: int):
    """An iterator over ``batch_at(step)`` for ``step`` in ``start..steps-1``, in order, rendered
    ahead by ``workers`` forked processes; ``None`` for ``workers=0`` (or nothing to render)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be an integer >= 0, got {workers!r}")
    if workers == 0 or start >= steps:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        raise ValueError("workers > 0 needs processes started by fork (Linux, macOS); use workers=0 here")
    loader = torch.utils.data.DataLoader(_StepBatches(batch_at), batch_size=None, sampler=range(start, steps),
                                         num_workers=workers, prefetch_factor=PREFETCH, worker_init_fn=_render_worker,
                                         multiprocessing_context="fork")
    return iter(loader)


def save_checkpoint(path: str | Path, *, model: nn.Module, config: dict[str, Any], step: int,
                    optimizer: torch.optim.Optimizer | None = None, history: list[dict] | None = None,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically: an interrupted save leaves the previous one intact.  ``extra``:
    more objects with a ``state_dict()`` (a second optimiser, say), saved under their names."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "blur2vid": __version__,
        "config": config,
        "step": int(step),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "history": history or [],
        "extra": {name: obj.state_dict() for name, obj in (extra or {}).items()},
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; a file holding arbitrary Python objects, or not a
    blur2vid checkpoint at all, is refused with a message naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    state = load_plain(path, "blur2vid checkpoint")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a blur2vid checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    return state


class SpikeClip:
    """Gradient clipping relative to the run's own recent gradients: a step's gradient norm is
    clipped to ``factor`` times the median of the last ``window`` (clipped) norms, after ``warmup``
    steps at the fixed ``limit``.

    Why: without normalisation layers a network trained with Adam at a few 1e-3 can meet a batch
    whose gradient is 100x its usual size; Adam's update then jumps, the next gradients grow, and
    the run falls back to copying its input (measured: the hand-made-order U-Net of notebook 06, cpu
    profile, lr 2e-3: at step 210 of 1000 a gradient norm of 0.87 against a running 0.005, then
    1013 at step 219; validation pPSNR from 26.2 dB to 25.1 dB, and 1.05 dB lower at the end than the
    same seed whose arithmetic happened to miss it).  A fixed clip at 1.0 never acts on gradients
    of 0.005; one relative to the run's median does, whatever the scale of the loss.  Its state
    (the recent norms) is checkpointed, so a resumed run clips as the uninterrupted one would."""

    def __init__(self, factor: float = 5.0, window: int = 100, warmup: int = 20, limit: float = 1.0):
        self.factor, self.window, self.warmup, self.limit = factor, window, warmup, limit
        self.norms: list[float] = []
        self.clipped = 0

    def threshold(self) -> float:
        if len(self.norms) < self.warmup:
            return self.limit
        return min(self.limit, self.factor * float(torch.tensor(self.norms[-self.window:]).median()))

    def __call__(self, parameters) -> float:
        limit = self.threshold()
        norm = float(nn.utils.clip_grad_norm_(parameters, limit))
        self.clipped += norm > limit
        self.norms = (self.norms + [min(norm, limit)])[-self.window:]
        return norm

    def state_dict(self) -> dict[str, Any]:
        return {"norms": torch.tensor(self.norms, dtype=torch.float64), "clipped": self.clipped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.norms = [float(v) for v in state["norms"]]
        self.clipped = int(state["clipped"])


SCHEDULES = ("cosine", "constant")


def learning_rate(step: int, steps: int, lr: float, schedule: str = "cosine") -> float:
    """The learning rate of step ``step`` (0-based) of ``steps``: ``"constant"``, or ``"cosine"``: a
    linear warm-up over the first ``min(100, steps // 20)`` steps, then a half cosine from ``lr`` down
    to 0 at the last step.  A function of the step alone, so a resumed run needs no scheduler state.
    The decay is what makes short runs comparable: at a constant rate a run can end on a loss spike
    (measured on the U-Net at lr 2e-3: a last logged loss 4x its running level, and that run's
    held-out pPSNR 5 dB down)."""
    if schedule == "constant":
        return lr
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {SCHEDULES}")
    warmup = min(100, steps // 20)
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    span = max(1, steps - 1 - warmup)
    return lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / span)))


class _LossModule(nn.Module):
    """The model and its loss as one module, so that DistributedDataParallel sees every parameter
    the loss uses go through its ``forward``, whatever the loss function calls inside the model."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Batch):
        return self.loss_fn(self.model, batch)


def _data_parallel(model: nn.Module, loss_fn: LossFn, device: torch.device) -> nn.Module:
    """``model`` with its loss, wrapped in DistributedDataParallel when this is one of several
    processes (rank 0's weights are broadcast to all here).  Parameters under the prefixes a model
    lists in ``ddp_ignore`` (a discriminator that the loss steps itself) are left to the model; a
    model whose loss skips some trainable parameters on some steps sets
    ``ddp_find_unused_parameters = True``."""
    runner = _LossModule(model, loss_fn)
    if not distributed.is_distributed():
        return runner
    from torch.nn.parallel import DistributedDataParallel

    prefixes = tuple(getattr(model, "ddp_ignore", ()))
    ignored = [f"model.{name}" for name, _ in model.named_parameters() if name.startswith(prefixes)] if prefixes else []
    if ignored:
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(runner, ignored)
    return DistributedDataParallel(runner, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=bool(getattr(model, "ddp_find_unused_parameters", False)))


DONE_BEFORE = "trained before"
"""What :func:`fit` says (``"<desc>: <steps> steps trained before at <rate> samples/s, read from <file>"``)
instead of a progress bar for a run its checkpoint holds finished."""


def fit(
    model: nn.Module,
    batch_at: Callable[[int], Batch],
    loss_fn: LossFn,
    *,
    steps: int,
    lr: float = 1e-3,
    device: torch.device | str = "cpu",
    config: dict[str, Any] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
    checkpoint_seconds: float | None = 60.0,
    grad_clip: float | str | None = "spike",
    optimizer: str = "adam",
    progress: bool = True,
    desc: str = "train",
    log_every: int = 10,
    extra_state: dict[str, Any] | None = None,
    schedule: str = "cosine",
    precision: str = "fp32",
    validate: Callable[[nn.Module], dict[str, float]] | None = None,
    validate_every: int | None = None,
    compile: bool | str = False,
    workers: int = 0,
) -> list[dict[str, float]]:
    """Train ``model`` with Adam (or ``optimizer="adamax"``, HyperCUT's choice) for ``steps`` steps and
    return the logged history.

    With ``checkpoint`` set, the run resumes from it when its config matches ``config`` (a finished
    run trains no further), saves every ``checkpoint_every`` steps, and whenever
    ``checkpoint_seconds`` have passed since the last save (so a kill loses about a minute of work
    at most; ``None``: by steps only), and at the end, atomically.  When a run is saved does not
    change what it computes, so neither setting is part of ``config``.
    ``config`` must hold everything that decides the run, ``steps`` and ``lr`` included (the
    learning rate of a step depends on both); every caller in the library passes its full
    training configuration, which does.
    ``extra_state``: more objects with ``state_dict``/``load_state_dict`` that the loss function
    updates itself (a discriminator's optimiser), checkpointed and restored with the model.
    ``grad_clip``: ``"spike"`` (default) clips each step's gradient norm relative to the run's
    recent ones (:class:`SpikeClip`); a number clips at that fixed norm; ``None`` does not clip.
    It is recorded in the checkpoint's config.
    ``schedule``: the learning-rate schedule of :func:`learning_rate` (recorded in the checkpoint's
    config, so a run of another schedule does not resume this one).
    ``precision``: ``fp32``, ``bf16`` or ``auto`` (:mod:`blur2vid.core.precision`): the loss function
    runs under autocast; recorded in the checkpoint's config like the schedule.
    ``validate``: a function of the model (in eval mode, without gradients, under the same autocast)
    returning scores on a validation set (e.g. ``{"val_psnr": ...}``), logged every
    ``validate_every`` steps (default: a tenth of the run; a run under 20 steps only at its end)
    and at the last step, in the history with
    the samples seen so far: the learning curve.  It does not change training (it must not draw
    from the global random generator), so it is not part of the config.  Every entry of the history
    has ``samples`` (training samples seen after that step).

    Under ``torchrun`` (:mod:`blur2vid.training.distributed`) the same call trains with N processes: the
    model is wrapped in DistributedDataParallel, each rank takes its slice of ``batch_at(step)``
    (the global batch), and only rank 0 writes the checkpoint and shows progress; ``samples`` counts
    the global batch.
    ``compile``: run the model and its loss through ``torch.compile`` (:func:`blur2vid.core.precision.compiled`;
    ``True`` for the default backend, or a backend's name).  Speed only: not part of ``config``.
    ``workers``: processes (forked, one thread each, no batch cache) that call ``batch_at`` for the
    coming steps while this one trains, :data:`PREFETCH` batches each ahead; ``batch_at`` must then
    render on the CPU.  The batches and their order are those of ``workers=0``.  Speed only.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    learning_rate(0, max(steps, 1), lr, schedule)  # rejects an unknown schedule before any work
    device = torch.device(device)
    precision = resolve_precision(precision, device)
    if not (grad_clip is None or grad_clip == "spike" or (isinstance(grad_clip, (int, float)) and grad_clip > 0)):
        raise ValueError(f"grad_clip must be 'spike', a positive number or None, got {grad_clip!r}")
    config = {**(config or {}), "lr_schedule": schedule, "precision": precision}
    if grad_clip != 1.0:  # the fixed clip of the first runs is left out, so their keys stand
        config["grad_clip"] = grad_clip
    spike = SpikeClip() if grad_clip == "spike" else None
    extra_state = {**(extra_state or {}), **({"spike_clip": spike} if spike else {})}
    model.to(device)
    optimizers = {"adam": torch.optim.Adam, "adamax": torch.optim.Adamax}
    if optimizer not in optimizers:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {sorted(optimizers)}")
    optimizer = optimizers[optimizer]([p for p in model.parameters() if p.requires_grad], lr=lr)
    start, history = 0, []
    if checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint)
        if state["config"] != config:
            raise ValueError(f"{checkpoint}: holds a run of another configuration; delete it or choose "
                             f"another path (saved {state['config']}, asked {config})")
        model.load_state_dict(state["model"])
        if state["optimizer"] is not None:
            optimizer.load_state_dict(state["optimizer"])
        for name, obj in (extra_state or {}).items():
            if name not in state.get("extra", {}):
                raise ValueError(f"{checkpoint}: has no saved state for {name!r}; delete it to train anew")
            obj.load_state_dict(state["extra"][name])
        start, history = state["step"], list(state["history"])
    runner = compiled(_data_parallel(model, loss_fn, device), compile)  # after the resume: rank 0's weights on all
    world, main = distributed.world_size(), distributed.is_main()
    model.train()
    every = validate_every or (steps // 10 if steps >= 20 else max(steps, 1))  # a short run: at its end only
    show = progress and main
    if show and start >= steps:  # trained before: a bar at 100% in no time would say nothing true
        rate = history[-1].get("samples_per_s") if history else None
        print(f"{desc}: {steps} steps {DONE_BEFORE}" + (f" at {rate:.0f} samples/s" if rate else "")
              + f", read from {Path(checkpoint).name}", file=sys.stderr, flush=True)
    bar = tqdm(range(start, steps), initial=start, total=steps, desc=desc, disable=not show or start >= steps,
               leave=False)
    t0 = last_save = time.perf_counter()
    if checkpoint_seconds is not None and checkpoint_seconds < 0:
        raise ValueError(f"checkpoint_seconds must be >= 0 or None, got {checkpoint_seconds}")
    ahead = prefetched(batch_at, start, steps, workers)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, lr, schedule)
        batch = distributed.shard(next(ahead) if ahead is not None else batch_at(step)).to(device)
        with autocast(precision, device):
            out = runner(batch)
        loss, logs = out if isinstance(out, tuple) else (out, {})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if spike is not None:
            spike(model.parameters())  # reads the gradient norm: the step's one wait for the device
        elif grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        # checked after the backward (not between it and the forward, which would stall the device
        # there) and before the update: a non-finite loss never reaches the weights
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: loss became {loss.item()} at step {step}; lower the learning rate")
        optimizer.step()
        validating = validate is not None and ((step + 1) % every == 0 or step == steps - 1)
        if step % log_every == 0 or step == steps - 1 or validating:
            entry = {"step": step, "samples": (step + 1) * len(batch) * world, "loss": float(loss.detach()),
                     "lr": optimizer.param_groups[0]["lr"], **{k: float(v) for k, v in logs.items()}}
            if spike is not None:
                entry["clipped_steps"] = spike.clipped
            entry["samples_per_s"] = (step + 1 - start) * len(batch) * world / max(time.perf_counter() - t0, 1e-9)
            if validating:
                model.eval()
                with torch.no_grad(), autocast(precision, device):
                    entry.update({k: float(v) for k, v in validate(model).items()})
                model.train()
            history.append(entry)
            bar.set_postfix(loss=f"{entry['loss']:.4g}")
        due = (step + 1) % checkpoint_every == 0 or (
            checkpoint_seconds is not None and time.perf_counter() - last_save >= checkpoint_seconds)
        if checkpoint is not None and due and step + 1 < steps and main:
            save_checkpoint(checkpoint, model=model, config=config, step=step + 1, optimizer=optimizer, history=history,
                            extra=extra_state)
            last_save = time.perf_counter()
    if checkpoint is not None and main and (start < steps or not Path(checkpoint).is_file()):
        save_checkpoint(checkpoint, model=model, config=config, step=steps, optimizer=optimizer, history=history,
                        extra=extra_state)
    distributed.barrier()  # no rank reads this checkpoint back before rank 0 has written it
    model.eval()
    if history and not math.isfinite(history[-1]["loss"]):
        raise FloatingPointError(f"{desc}: training diverged")
    return history
