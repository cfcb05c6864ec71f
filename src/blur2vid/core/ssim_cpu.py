"""SSIM on a CPU in one pass over each image: :func:`blur2vid.core.metrics.ssim` for CPU tensors.

The definition is the one :func:`~blur2vid.core.metrics.ssim` states (scikit-image's default); here
it is computed image by image by a kernel that numba compiles once (cached on disk): the sums of
``x``, ``y``, ``x^2 + y^2`` and ``xy`` over each column of 7 rows are kept in float64 and moved down
one row at a time, and each window's SSIM is formed from seven of them and added to the image's
total, so no map of sums is ever written.  torch's version of the same formula spends most of its
time writing and re-reading such maps, and goes on serving other devices.  Images are spread over
torch's threads (``torch.get_num_threads()``); the kernel runs without the GIL.

A prediction repeated over time (the blur copy, an ``expand``\\ ed tensor) is read once per frame,
not copied.  Imported on first use: numba takes about a second to import.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch

__all__ = ["ssim_cpu"]


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _ssim_images(x, y, k1, k2, start, stop, out):  # pragma: no cover - compiled
    """``out[p]`` for images ``p`` in ``[start, stop)`` of the pairs ``(x[n, t or 0, c], y[n, t, c])``,
    ``x [N, 1 or T, C, H, W]`` and ``y [N, T, C, H, W]`` float32: the mean SSIM of the pair, with
    ``k1, k2`` the constants times ``49^2`` (the sums, not the means, enter the ratio)."""
    _, frames, channels, h, w = y.shape
    repeated = x.shape[1] == 1
    norm = 49.0 / 48.0
    cx, cy, cq, cxy = np.empty(w), np.empty(w), np.empty(w), np.empty(w)
    for p in range(start, stop):
        n, t, c = p // (frames * channels), (p // channels) % frames, p % channels
        xi, yi = x[n, 0 if repeated else t, c], y[n, t, c]
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


def ssim_cpu(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of each channel of ``pred, target [..., C, H, W]`` (same shape, CPU, at least 7x7):
    ``[..., C]`` float64.  A ``pred`` of ``[..., T, C, H, W]`` expanded over ``T`` is not copied."""
    c, h, w = target.shape[-3:]
    if pred.ndim >= 4 and pred.shape[-4] > 1 and pred.stride(-4) == 0:  # one image over time
        frames = target.shape[-4]
        x = pred.select(-4, 0).reshape(-1, 1, c, h, w)
        y = target.reshape(-1, frames, c, h, w)
    else:
        x, y = pred.reshape(-1, 1, c, h, w), target.reshape(-1, 1, c, h, w)
    x, y = (z.detach().float().contiguous().numpy() for z in (x, y))
    n = y.shape[0] * y.shape[1] * c
    out = np.empty(n)
    k1, k2 = (0.01 * data_range) ** 2 * 49**2, (0.03 * data_range) ** 2 * 49**2
    workers = max(1, min(torch.get_num_threads(), n))
    cuts = [n * i // workers for i in range(workers + 1)]
    if workers == 1:
        _ssim_images(x, y, k1, k2, 0, n, out)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda i: _ssim_images(x, y, k1, k2, cuts[i], cuts[i + 1], out), range(workers)))
    return torch.from_numpy(out).reshape(*target.shape[:-2])
