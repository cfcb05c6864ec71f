"""The scores of :mod:`blur2vid.core.metrics` on a CPU, each in one pass over the images.

Kernels that numba compiles once (cached on disk), run on torch's threads
(``torch.get_num_threads()``, the images spread over them; the kernels hold no GIL).  torch's
versions of the same formulas write and re-read maps the size of the images; they go on serving
other devices, and tests hold the two to each other and to the definitions.

* :func:`ssim_cpu`: the definition :func:`~blur2vid.core.metrics.ssim` states (scikit-image's
  default), image by image: the sums of ``x``, ``y``, ``x^2 + y^2`` and ``xy`` over each column
  of 7 rows are kept in float64 and moved down one row at a time, and each window's SSIM is formed
  from seven of them and added to the image's total, so no map of sums is ever written.
* :func:`squared_errors`: what :func:`~blur2vid.core.metrics.conventions` needs of a window, its
  squared errors summed per frame in both directions and per pixel, in float64.

A prediction repeated over time (the blur copy, an expanded tensor) is read once per frame,
not copied.  Imported on first use: numba takes about a second to import.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

from blur2vid.core.tensors import one_image_over_time

__all__ = ["ssim_cpu", "squared_errors"]


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _ssim_images(x, y, flip, k1, k2, out, start, stop):  # pragma: no cover - compiled
    """``out[p]`` for images ``p`` in ``[start, stop)`` of the pairs ``(x[n, t', c], y[n, t, c])``,
    ``x [N, 1 or T, C, H, W]`` and ``y [N, T, C, H, W]`` float32, ``t'`` being ``t``, or ``T - 1 - t``
    where ``flip[n]`` (0 for one image over time): the mean SSIM of the pair, with ``k1, k2`` the
    constants times ``49^2`` (the sums, not the means, enter the ratio)."""
    _, frames, channels, h, w = y.shape
    repeated = x.shape[1] == 1
    norm = 49.0 / 48.0
    cx, cy, cq, cxy = np.empty(w), np.empty(w), np.empty(w), np.empty(w)
    for p in range(start, stop):
        n, t, c = p // (frames * channels), (p // channels) % frames, p % channels
        xi, yi = x[n, 0 if repeated else frames - 1 - t if flip[n] else t, c], y[n, t, c]
        cx[:], cy[:], cq[:], cxy[:] = 0.0, 0.0, 0.0, 0.0
        for r in range(6):  # the first six rows of the first window
            for j in range(w):
                a, b = np.float64(xi[r, j]), np.float64(yi[r, j])
                cx[j] += a
                cy[j] += b
                cq[j] += a * a + b * b
                cxy[j] += a * b
        total = 0.0
        for r in range(h - 6):
            for j in range(w):  # row r + 6 enters the columns
                a, b = np.float64(xi[r + 6, j]), np.float64(yi[r + 6, j])
                cx[j] += a
                cy[j] += b
                cq[j] += a * a + b * b
                cxy[j] += a * b
            for j in range(w - 6):
                sx = cx[j] + cx[j + 1] + cx[j + 2] + cx[j + 3] + cx[j + 4] + cx[j + 5] + cx[j + 6]
                sy = cy[j] + cy[j + 1] + cy[j + 2] + cy[j + 3] + cy[j + 4] + cy[j + 5] + cy[j + 6]
                sq = cq[j] + cq[j + 1] + cq[j + 2] + cq[j + 3] + cq[j + 4] + cq[j + 5] + cq[j + 6]
                sxy = cxy[j] + cxy[j + 1] + cxy[j + 2] + cxy[j + 3] + cxy[j + 4] + cxy[j + 5] + cxy[j + 6]
                # 49^2 times (var x + var y + C2) and (2 cov + C2), sample covariances (49/48)
                var = norm * (49.0 * sq - sx * sx - sy * sy) + k2
                cov = 2.0 * norm * (49.0 * sxy - sx * sy) + k2
                total += (2.0 * sx * sy + k1) * cov / ((sx * sx + sy * sy + k1) * var)
            for j in range(w):  # row r leaves them
                a, b = np.float64(xi[r, j]), np.float64(yi[r, j])
                cx[j] -= a
                cy[j] -= b
                cq[j] -= a * a + b * b
                cxy[j] -= a * b
        out[p] = total / ((h - 6) * (w - 6))


def _windows(pred: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``pred, target [..., T, C, H, W]`` as float32 arrays ``x [N, 1 or T, C, H, W]`` and
    ``y [N, T, C, H, W]``: a prediction expanded over ``T`` is kept as its one image."""
    t, c, h, w = target.shape[-4:]
    if one_image_over_time(pred):
        x = pred.select(-4, 0).reshape(-1, 1, c, h, w)
    else:
        x = pred.reshape(-1, t, c, h, w)
    y = target.reshape(-1, t, c, h, w)
    return tuple(z.detach().float().contiguous().numpy() for z in (x, y))


def _spread(kernel, n: int, *args) -> None:
    """``kernel(*args, start, stop)`` over ``[0, n)``, in as many even parts as torch has threads."""
    workers = max(1, min(torch.get_num_threads(), n))
    cuts = [n * i // workers for i in range(workers + 1)]
    if workers == 1:
        kernel(*args, 0, n)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: kernel(*args, cuts[i], cuts[i + 1]), range(workers)))


def ssim_cpu(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0,
             reverse: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM of each channel of ``pred, target [..., C, H, W]`` (same shape, CPU, at least 7x7):
    ``[..., C]`` float64.  A ``pred`` of ``[..., T, C, H, W]`` expanded over ``T`` is not copied;
    ``reverse [...]`` (bool) reads the sequences where it is True backwards in time, without a copy."""
    lead = target.shape[:-2]
    x, y = _windows(pred, target) if pred.ndim >= 4 else _windows(pred[None], target[None])
    if reverse is not None and tuple(reverse.shape) != tuple(pred.shape[:-4]):
        raise ValueError(f"reverse {tuple(reverse.shape)} must have the shape of the sequences {tuple(pred.shape[:-4])}")
    flip = np.zeros(y.shape[0], dtype=np.bool_) if reverse is None else reverse.reshape(-1).bool().cpu().numpy()
    out = np.empty(y.shape[0] * y.shape[1] * y.shape[2])
    k1, k2 = (0.01 * data_range) ** 2 * 49**2, (0.03 * data_range) ** 2 * 49**2
    _spread(_ssim_images, len(out), x, y, flip, k1, k2, out)
    return torch.from_numpy(out).reshape(lead)


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _errors(x, y, forward, backward, per_pixel, start, stop):  # pragma: no cover - compiled
    """For windows ``n`` in ``[start, stop)`` of ``x [N, 1 or T, C, H, W]`` against
    ``y [N, T, C, H, W]`` (float32): ``forward[n, t]`` and ``backward[n, t]``, frame ``t``'s squared
    error summed over its channels and pixels against predicted frame ``t`` and ``T - 1 - t``;
    ``per_pixel[n]``, the sum over pixels of the smaller of the two directions' errors summed over
    frames and channels."""
    _, frames, channels, h, w = y.shape
    repeated = x.shape[1] == 1
    acc_f, acc_b = np.empty((h, w)), np.empty((h, w))
    for n in range(start, stop):
        acc_f[:], acc_b[:] = 0.0, 0.0
        for t in range(frames):
            tf, tb = (0, 0) if repeated else (t, frames - 1 - t)
            sf, sb = 0.0, 0.0
            for c in range(channels):
                pf, pb, yt = x[n, tf, c], x[n, tb, c], y[n, t, c]
                for r in range(h):
                    for j in range(w):
                        a = np.float64(yt[r, j])
                        df, db = np.float64(pf[r, j]) - a, np.float64(pb[r, j]) - a
                        sf += df * df
                        sb += db * db
                        acc_f[r, j] += df * df
                        acc_b[r, j] += db * db
            forward[n, t], backward[n, t] = sf, sb
        per_pixel[n] = np.minimum(acc_f, acc_b).sum()


def squared_errors(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``pred, target [N, T, C, H, W]`` (CPU) -> ``(forward [N, T], backward [N, T], per_pixel [N])``
    float64: each frame's squared error summed over channels and pixels, the prediction read as it
    is and reversed, and the sum over pixels of the smaller direction's error summed over frames and
    channels (the numerators of :func:`~blur2vid.core.metrics.conventions`)."""
    x, y = _windows(pred, target)
    n, t = y.shape[:2]
    forward, backward, per_pixel = np.empty((n, t)), np.empty((n, t)), np.empty(n)
    _spread(_errors, n, x, y, forward, backward, per_pixel)
    return torch.from_numpy(forward), torch.from_numpy(backward), torch.from_numpy(per_pixel)
