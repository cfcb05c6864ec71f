"""Blur formation: Eq. 1 of Jin et al. (2018) and of HyperCUT (2023).

A motion-blurred photograph is the camera response ``g`` applied to the *mean irradiance* over the
exposure.  Discretised into ``T`` frames (Jin Eq. 1)::

    y = g( (1/T) * sum_i x[i] )

where the frames ``x[i]`` are linear irradiance.  Datasets store frames as camera *intensities*
(``g`` already applied), so a faithful synthesis linearises each frame with ``g^-1``, averages, and
re-applies ``g``: :func:`synthesize_blur`.

Tensors follow one convention throughout the library: a sequence is ``[..., T, C, H, W]`` with
values in ``[0, 1]``; time is dimension ``-4``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "CameraResponse",
    "get_crf",
    "CRF_NAMES",
    "synthesize_blur",
    "linear_intensities",
    "blur_from_linear",
    "match_blur",
    "average_subframes",
    "frames_for_shift",
    "add_noise",
]

TIME_DIM = -4
_EPS = 1e-6  # below this irradiance the gamma curve is a straight line through 0
GAMMAS = (0.25, 10.0)
"""The gammas a camera response may have: beyond them float32 overflows near 0 (real cameras: 1.8-2.6)."""


def _power(x: torch.Tensor, p: float) -> torch.Tensor:
    """``x ** p`` for ``x > 0`` as ``exp(p log x)``: within a few float32 roundings of ``pow``, whose
    non-integer powers a CPU computes one element at a time (several times slower); the camera
    curves below take every power this way, on every path of Eq. 1."""
    return x.log().mul_(p).exp_()


@dataclass(frozen=True)
class CameraResponse:
    """A camera response function ``g`` (irradiance -> intensity) and its inverse.

    ``kind`` is ``"linear"``, ``"gamma"`` (``g(x) = x**(1/gamma)``) or ``"srgb"`` (the piecewise
    sRGB curve of IEC 61966-2-1).
    """

    kind: str = "gamma"
    gamma: float = 2.2

    @property
    def name(self) -> str:
        return f"gamma{self.gamma:g}" if self.kind == "gamma" else self.kind

    def __call__(self, irradiance: torch.Tensor) -> torch.Tensor:
        x = irradiance.clamp(0.0, 1.0)
        if self.kind == "linear":
            return x
        if self.kind == "gamma":
            # a linear toe below _EPS keeps the curve exact at 0 and its gradient finite
            slope = _EPS ** (1.0 / self.gamma - 1.0)
            return torch.where(x < _EPS, x * slope, _power(x.clamp_min(_EPS), 1.0 / self.gamma))
        # srgb
        return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * _power(x.clamp_min(0.0031308), 1 / 2.4) - 0.055)

    def inverse(self, intensity: torch.Tensor) -> torch.Tensor:
        y = intensity.clamp(0.0, 1.0)
        if self.kind == "linear":
            return y
        if self.kind == "gamma":
            knee = _EPS ** (1.0 / self.gamma)
            return torch.where(y < knee, y * (_EPS / knee), _power(y.clamp_min(knee), self.gamma))
        return torch.where(y <= 0.04045, y / 12.92, _power((y + 0.055) / 1.055, 2.4))


CRF_NAMES = ("linear", "srgb", "gamma<g> (e.g. gamma2.2)")


def get_crf(crf: str | float | CameraResponse = "gamma2.2") -> CameraResponse:
    """Resolve a camera response from a name (``"linear"``, ``"srgb"``, ``"gamma2.2"``), a gamma
    value, or an existing :class:`CameraResponse`."""
    if isinstance(crf, CameraResponse):
        return crf
    if isinstance(crf, bool):
        raise TypeError(f"crf must be a name or a gamma value, got {crf!r}")
    if isinstance(crf, (int, float)):
        gamma = float(crf)
    elif isinstance(crf, str) and crf in ("linear", "srgb"):
        return CameraResponse(kind=crf)
    elif isinstance(crf, str) and crf.startswith("gamma"):
        try:
            gamma = float(crf[5:] or 2.2)
        except ValueError:
            raise ValueError(f"unknown camera response {crf!r}; expected one of {CRF_NAMES}") from None
    else:
        raise ValueError(f"unknown camera response {crf!r}; expected one of {CRF_NAMES}")
    if not GAMMAS[0] <= gamma <= GAMMAS[1]:  # also refuses nan
        raise ValueError(f"gamma of the camera response must be between {GAMMAS[0]} and {GAMMAS[1]}, got {gamma!r}")
    return CameraResponse(kind="gamma", gamma=gamma)


def _check_sequence(frames: torch.Tensor, name: str = "frames") -> None:
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [..., T, C, H, W], got {type(frames).__name__}")
    if frames.ndim < 4:
        raise ValueError(f"{name} must have shape [..., T, C, H, W], got {tuple(frames.shape)}")
    if frames.shape[TIME_DIM] < 1:
        raise ValueError(f"{name} has zero frames (shape {tuple(frames.shape)}); a blur needs at least one")


def synthesize_blur(frames: torch.Tensor, crf: str | float | CameraResponse = "gamma2.2") -> torch.Tensor:
    """Jin Eq. 1: ``g(mean_i g^-1(x[i]))`` over the time dimension of ``[..., T, C, H, W]``.

    ``frames`` are camera intensities in ``[0, 1]``; the result has shape ``[..., C, H, W]``.
    With ``crf="linear"`` this is the plain average.
    """
    _check_sequence(frames)
    g = get_crf(crf)
    if torch.is_grad_enabled() and frames.requires_grad:
        return g(g.inverse(frames).mean(dim=TIME_DIM))
    # without a gradient, the same arithmetic in bands of rows, its steps in place (as match_blur)
    out = torch.empty_like(frames.select(TIME_DIM, 0))
    for y in range(0, frames.shape[-2], 16):
        b = (..., slice(y, y + 16), slice(None))
        blur_from_linear(linear_intensities(frames[b], g), g, out=out[b])
    return out


@torch.no_grad()
def linear_intensities(frames: torch.Tensor, crf: str | float | CameraResponse = "gamma2.2") -> torch.Tensor:
    """``g^-1`` of ``frames`` clamped to ``[0, 1]``, without a gradient: what Eq. 1 averages, for a
    caller that keeps them (windows that share frames take each to linear intensities once)."""
    return _inverse_(get_crf(crf), frames.clamp(0, 1))


@torch.no_grad()
def blur_from_linear(linear: torch.Tensor, crf: str | float | CameraResponse = "gamma2.2",
                     out: torch.Tensor | None = None) -> torch.Tensor:
    """Jin Eq. 1 from the frames' :func:`linear_intensities` ``[..., T, C, H, W]``: ``g`` of their
    mean over time (into ``out`` where given), without a gradient; :func:`synthesize_blur`'s numbers.
    The mean is summed frame by frame, element by element, so that it comes out the same to the bit
    however the pixels are laid out or cut into bands (a reduction's rounding depends on both)."""
    n = linear.shape[TIME_DIM]
    mean = linear.select(TIME_DIM, 0).clone()
    for t in range(1, n):
        mean.add_(linear.select(TIME_DIM, t))
    mean.div_(n).clamp_(0, 1)
    return _forward_(get_crf(crf), mean, out=torch.empty_like(mean) if out is None else out)


def match_blur(frames: torch.Tensor, blur: torch.Tensor, crf: str | float | CameraResponse = "srgb") -> torch.Tensor:
    """The frames ``[..., T, C, H, W]`` moved, all by the same amount per pixel in linear units, so
    that Jin Eq. 1 gives back ``blur [..., C, H, W]`` (up to clipping to ``[0, 1]``): what a
    network changed in every frame alike (its smoothing of detail it took for noise, a tint) is
    undone, what differs between the frames (the motion) is kept.  A projection onto the frames
    the blur allows (the re-blur projection); its re-blur PSNR is then no evidence of anything."""
    _check_sequence(frames)
    g = get_crf(crf)
    if torch.is_grad_enabled() and (frames.requires_grad or blur.requires_grad):
        linear = g.inverse(frames.clamp(0, 1))
        residual = g.inverse(blur.clamp(0, 1)) - linear.mean(dim=TIME_DIM)
        return g((linear + residual.unsqueeze(TIME_DIM)).clamp(0, 1))
    return _match_blur_banded(frames, blur, g)


def _match_blur_banded(frames: torch.Tensor, blur: torch.Tensor, g: CameraResponse) -> torch.Tensor:
    """:func:`match_blur` without a gradient, in bands of 16 rows that stay in the cache, each band's
    steps done in place (every step is per pixel and the arithmetic is the same, so the result is
    too, up to the last bit of a sum's rounding): far faster on a CPU for a photograph's frames
    than the whole tensors at once."""
    out = torch.empty_like(frames)
    for y in range(0, frames.shape[-2], 16):
        b = (..., slice(y, y + 16), slice(None))
        linear = _inverse_(g, frames[b].clamp(0, 1))
        residual = _inverse_(g, blur[b].clamp(0, 1)).sub_(linear.mean(dim=TIME_DIM))
        _forward_(g, linear.add_(residual.unsqueeze(TIME_DIM)).clamp_(0, 1), out=out[b])
    return out


def _inverse_(g: CameraResponse, y: torch.Tensor) -> torch.Tensor:
    """``g.inverse(y)`` for ``y`` already in ``[0, 1]``, which it consumes: the sRGB curve's steps
    in place (the same arithmetic), any other response as it is."""
    if g.kind != "srgb":
        return g.inverse(y)
    linear = y.add(0.055).div_(1.055).log_().mul_(2.4).exp_()  # as _power, in place
    return torch.where(y <= 0.04045, y.div_(12.92), linear, out=linear)


def _forward_(g: CameraResponse, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``g(x)`` for ``x`` already in ``[0, 1]``, which it consumes (as :func:`_inverse_`), written
    into ``out`` (a band of the result; the sRGB curve writes it directly, without a copy)."""
    if g.kind != "srgb":
        return out.copy_(g(x))
    curve = x.clamp_min(0.0031308).log_().mul_(1 / 2.4).exp_().mul_(1.055).sub_(0.055)  # as _power
    return torch.where(x <= 0.0031308, x.mul_(12.92), curve, out=out)


def average_subframes(instants: torch.Tensor, factor: int, crf: str | float | CameraResponse = "gamma2.2") -> torch.Tensor:
    """Jin Eq. 2: each frame integrates the irradiance over its segment of the exposure.

    ``instants`` is ``[..., T*factor, C, H, W]`` rendered at sub-frame time resolution; consecutive
    groups of ``factor`` instants are averaged in linear space, giving ``[..., T, C, H, W]``.
    """
    _check_sequence(instants, "instants")
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    n = instants.shape[TIME_DIM]
    if n % factor:
        raise ValueError(f"{n} instants cannot be grouped into frames of {factor} instants each")
    if factor == 1:
        return instants
    g = get_crf(crf)
    shape = instants.shape
    grouped = g.inverse(instants).reshape(*shape[:-4], n // factor, factor, *shape[-3:])
    return g(grouped.mean(dim=-4))


def frames_for_shift(max_shift: float) -> int:
    """Jin Sec. 3, the rule T = Delta: to keep each frame free of blur (at most a 1-pixel shift per
    frame), a blur of at most ``max_shift`` pixels is split into ``ceil(max_shift)`` frames (at least 1)."""
    if not isinstance(max_shift, (int, float)) or isinstance(max_shift, bool) or not math.isfinite(max_shift):
        raise ValueError(f"max_shift must be a finite number of pixels, got {max_shift!r}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be non-negative, got {max_shift!r}")
    return max(1, math.ceil(max_shift))


def add_noise(image: torch.Tensor, sigma: float, generator: torch.Generator | None = None, *,
              clamp: bool = True) -> torch.Tensor:
    """Additive Gaussian noise of standard deviation ``sigma`` (Jin augments with sigma = 0.01),
    independent per value, clamped to ``[0, 1]`` unless ``clamp=False``.  The noise is drawn on
    ``generator``'s device (a CPU generator gives the same numbers on any device), or from the
    global generator on the image's device, then moved to the image.  ``sigma = 0`` returns
    ``image`` itself."""
    if sigma < 0:
        raise ValueError(f"noise sigma must be non-negative, got {sigma!r}")
    if sigma == 0:
        return image
    device = image.device if generator is None else generator.device
    noise = torch.randn(image.shape, generator=generator, device=device, dtype=image.dtype)
    noisy = image + sigma * noise.to(image.device)
    return noisy.clamp(0.0, 1.0) if clamp else noisy
