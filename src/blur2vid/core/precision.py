"""Numeric precision of training and inference: ``fp32``, ``bf16`` (autocast to bfloat16), or
``auto`` (bf16 where the device computes it natively, else fp32).

On CPU, PyTorch's bfloat16 kernels are fast only on processors with AVX512-BF16 or AMX (``lscpu``
lists ``avx512_bf16`` / ``amx_bf16``); elsewhere they are emulated and slower than fp32, so
``auto`` picks fp32 there.  On CUDA, ``auto`` picks bf16 where ``torch.cuda.is_bf16_supported()``.
Weights, optimiser state and the loss's backward stay in fp32: autocast only runs the forward's
matrix products and convolutions in bfloat16.
"""

from __future__ import annotations

import contextlib
import functools

import torch

__all__ = ["PRECISIONS", "cpu_has_native_bf16", "resolve_precision", "autocast", "full_precision", "compiled"]

PRECISIONS = ("fp32", "bf16", "auto")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this processor computes bfloat16 natively (AVX512-BF16 or AMX-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``"fp32"`` or ``"bf16"``: what ``precision`` means on ``device`` (``"auto"`` decided there)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {list(PRECISIONS)}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


def autocast(precision: str, device: torch.device | str = "cpu"):
    """A context that runs the forward pass at ``precision`` on ``device`` (a no-op for fp32)."""
    resolved = resolve_precision(precision, device)
    if resolved == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def full_precision(x: torch.Tensor):
    """A context in which autocast is off on ``x``'s device: a frozen network's decision (which way a
    sequence plays, which side of the hyperplane it lies on) is taken in fp32 inside bf16 training,
    where a score near 0 would otherwise round to the other side.  Feed it ``x.float()``."""
    return torch.autocast(x.device.type, enabled=False)


def compiled(module: torch.nn.Module, compile: bool | str = False) -> torch.nn.Module:
    """``module`` through ``torch.compile`` when ``compile`` is ``True`` (the default backend,
    inductor) or a backend's name (``"eager"``, ``"aot_eager"``, ...); unchanged when it is ``False``.
    Shapes are static at first and made dynamic by torch on the first change (tiles and batches
    vary).  The compiled module shares the parameters."""
    if compile is False or compile is None:
        return module
    if not isinstance(compile, (bool, str)):
        raise ValueError(f"compile must be True, False or a backend name, got {compile!r}")
    backend = "inductor" if compile is True else compile
    return torch.compile(module, backend=backend)
