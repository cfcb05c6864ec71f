"""The coloured-balls world of Jin et al. Fig. 2: why the frame order of a blur is ambiguous.

Each ball translates horizontally at constant speed in its own band of the image.  A ball moving
left-to-right and the same ball moving right-to-left visit the same positions, only in reverse
order, so the average of the frames (the blur, column f) is the same for every one of the ``2**n``
combinations of directions.  So are the mean and the absolute difference of every symmetric pair of
frames (columns g-j).  Only the middle frame of an odd-length sequence is the same in every row.

Balls are rendered with 4x4 supersampling, so every pixel value is a multiple of 1/16 times a
colour channel value of 0 or 1: exact in floating point, and the identities above hold bit for bit.
"""

from __future__ import annotations

import itertools
import string

import torch

from blur2vid.core.formation import synthesize_blur

__all__ = ["BALL_COLOURS", "direction_combinations", "ambiguity_scenarios", "figure2_columns", "column_meanings", "identical_across_rows"]

BALL_COLOURS = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 1.0))
_SUPERSAMPLE = 4


def direction_combinations(n_objects: int) -> list[tuple[int, ...]]:
    """All ``2**n`` assignments of a direction (+1 rightwards, -1 leftwards) to ``n`` objects, the
    all-forward one first (Jin Sec. 4: the ambiguity applies to each object independently)."""
    if not isinstance(n_objects, int) or n_objects < 1:
        raise ValueError(f"n_objects must be a positive integer, got {n_objects!r}")
    return [tuple(d) for d in itertools.product((1, -1), repeat=n_objects)]


def _disc(height: int, width: int, cy: float, cx: float, radius: float) -> torch.Tensor:
    s = _SUPERSAMPLE
    ys = (torch.arange(height * s, dtype=torch.float64) + 0.5) / s
    xs = (torch.arange(width * s, dtype=torch.float64) + 0.5) / s
    inside = ((ys[:, None] - cy) ** 2 + (xs[None, :] - cx) ** 2 <= radius**2).to(torch.float64)
    return inside.reshape(height, s, width, s).mean(dim=(1, 3))


def ambiguity_scenarios(
    n_objects: int = 2,
    n_frames: int = 5,
    size: int = 32,
    radius: float | None = None,
    step: float | None = None,
) -> tuple[torch.Tensor, list[tuple[int, ...]]]:
    """Render every motion scenario of Jin Fig. 2.

    Returns ``(sequences, directions)``: ``sequences`` is ``[2**n, T, 3, H, W]`` (float64, one row
    per scenario, linear intensities in ``[0, 1]``, black background); ``directions[r]`` gives the
    direction of each ball in row ``r``.  Ball ``k`` lives in the ``k``-th horizontal band and moves
    ``step`` pixels per frame.
    """
    if not isinstance(n_frames, int) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames!r}")
    if n_objects > len(BALL_COLOURS):
        raise ValueError(f"at most {len(BALL_COLOURS)} balls are drawn, got n_objects={n_objects}")
    directions = direction_combinations(n_objects)
    band = size / n_objects
    radius = radius if radius is not None else 0.3 * band
    step = step if step is not None else min(0.6 * radius, (size - 2.5 * radius) / max(n_frames - 1, 1))
    if radius <= 0 or 2 * radius > band:
        raise ValueError(f"ball radius {radius!r} does not fit in a band of {band:g} pixels")
    travel = step * (n_frames - 1)
    if travel + 2 * radius > size:
        raise ValueError(f"balls travelling {travel:g} pixels with radius {radius:g} leave a {size}-pixel frame")
    x0 = (size - travel) / 2
    seqs = torch.zeros(len(directions), n_frames, 3, size, size, dtype=torch.float64)
    colours = torch.tensor(BALL_COLOURS[:n_objects], dtype=torch.float64)
    for r, dirs in enumerate(directions):
        for t in range(n_frames):
            for k, d in enumerate(dirs):
                pos = t if d > 0 else n_frames - 1 - t
                disc = _disc(size, size, (k + 0.5) * band, x0 + pos * step, radius)
                seqs[r, t] += colours[k][:, None, None] * disc
    return seqs, directions


def figure2_columns(sequences: torch.Tensor) -> dict[str, torch.Tensor]:
    """Columns of Jin Fig. 2 for sequences ``[R, T, C, H, W]``.

    Keys: one letter per frame (``a``-``e`` for T = 5), then the blur (linear average, Jin Eq. 1
    without a camera response), then for each symmetric pair from the inside out the mean and the
    absolute difference.  For T = 5 this is exactly the paper's a-j: f blur; g mean(b, d);
    h mean(a, e); i |b - d|; j |a - e|.  Each value is ``[R, C, H, W]``.
    """
    n_frames = sequences.shape[1]
    letters = iter(string.ascii_lowercase)
    cols = {next(letters): sequences[:, t] for t in range(n_frames)}
    cols[next(letters)] = synthesize_blur(sequences, crf="linear")
    pairs = [(i, n_frames - 1 - i) for i in reversed(range(n_frames // 2))]  # inside out: (b,d), (a,e)
    means = {next(letters): (sequences[:, i] + sequences[:, j]) / 2 for i, j in pairs}
    diffs = {next(letters): (sequences[:, i] - sequences[:, j]).abs() for i, j in pairs}
    cols.update(means)
    cols.update(diffs)
    return cols


def column_meanings(n_frames: int) -> dict[str, str]:
    """Human-readable description of each key of :func:`figure2_columns`."""
    letters = string.ascii_lowercase
    out = {letters[t]: f"frame {t + 1}" for t in range(n_frames)}
    k = n_frames
    out[letters[k]] = "blur (mean of all frames)"
    pairs = [(i, n_frames - 1 - i) for i in reversed(range(n_frames // 2))]
    for i, j in pairs:
        k += 1
        out[letters[k]] = f"mean of ({letters[i]}, {letters[j]})"
    for i, j in pairs:
        k += 1
        out[letters[k]] = f"|{letters[i]} - {letters[j]}|"
    return out


def identical_across_rows(columns: dict[str, torch.Tensor]) -> dict[str, bool]:
    """For each column of :func:`figure2_columns`, whether it is the same image (bit for bit) in
    every motion scenario."""
    return {k: all(torch.equal(v[0], v[r]) for r in range(1, v.shape[0])) for k, v in columns.items()}
