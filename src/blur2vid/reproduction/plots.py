"""Figure functions.  Each returns a matplotlib Figure and draws nothing it was not given."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use(matplotlib.get_backend())  # keep the notebook's backend; Agg when headless
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402

from blur2vid.core.io import to_uint8  # noqa: E402

__all__ = ["image_grid", "show_sequence", "figure2_grid", "line_plot", "projection_plot", "sequence_comparison",
           "formation_figure", "growth_figure", "rule_figure", "curves_figure", "learning_curve", "per_frame_figure",
           "gain_figure", "held_out_gain_figure", "scale_figure", "noise_figure", "seed_spread_figure", "seed_curves_figure",
           "ablation_figure", "ppsnr_gain_figure", "legend_outside", "motion_box", "MARKERS"]

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
"""One marker per curve, so that curves which coincide stay told apart (drawn hollow, largest first)."""
LINESTYLES = ("-", "--", "-.", ":")


def _wrap(text: str, width: int) -> str:
    return (textwrap.fill(str(text), width, break_long_words=False, break_on_hyphens=False) if len(str(text)) > width
            else str(text))


def legend_outside(ax: plt.Axes, handles=None, labels=None, *, title: str | None = None, note: str | None = None,
                   where: str = "right", width: int = 32, ncol: int = 1):
    """The legend off the data: to the right of the axes (``where="right"``) or under its x label
    (``"below"``, for panels side by side), its labels wrapped at ``width`` characters; ``note`` (an
    interval note, say) in small grey under the legend, also off the data.  Returns the legend."""
    from matplotlib.transforms import ScaledTranslation

    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    labels = [_wrap(label, width) for label in labels]
    if where == "right":
        legend = ax.legend(handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
                           fontsize=8, title_fontsize=8, frameon=False, ncol=ncol)
        legend._legend_box.align = "left"
        if note:
            ax.annotate(_wrap(note, width + 8), xy=(1.02, 0.0), xycoords="axes fraction", ha="left", va="bottom",
                        fontsize=7, color="0.4")
        return legend
    below = ax.transAxes + ScaledTranslation(0, -0.62, ax.figure.dpi_scale_trans)  # under the tick labels and x label
    legend = ax.legend(handles, labels, title=title, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
                       borderaxespad=0, fontsize=8, title_fontsize=8, frameon=False, ncol=ncol)
    if note:
        legend.set_title(_wrap(note, width * ncol), prop={"size": 7})
    return legend


def _note_below(ax: plt.Axes, note: str) -> None:
    """A small grey note under the x label, off the data."""
    from matplotlib.transforms import ScaledTranslation

    ax.text(0.0, 0.0, note, transform=ax.transAxes + ScaledTranslation(0, -0.55, ax.figure.dpi_scale_trans),
            ha="left", va="top", fontsize=7, color="0.4")


def _as_image(img: torch.Tensor | np.ndarray) -> np.ndarray:
    arr = to_uint8(img)
    return arr


Box = tuple[int, int, int, int]  # top, left, height, width


def motion_box(images: Sequence[torch.Tensor | np.ndarray], zoom: float = 2.0, min_side: int = 16) -> Box:
    """Where a set of same-sized images (a sequence's frames, or several versions of them) differ
    most: the window ``1 / zoom`` of their height and width (at least ``min_side`` pixels, so that a
    small scene keeps its context) whose pixels' range over the images (largest over channels) sums
    highest; the centre where nothing moves.  ``(top, left, h, w)``."""
    stack = np.stack([_as_image(img).astype(np.float32) for img in images])  # N, H, W[, C]
    spread = stack.max(axis=0) - stack.min(axis=0)
    if spread.ndim == 3:
        spread = spread.max(axis=-1)
    height, width = spread.shape
    h, w = (min(size, max(min_side, math.ceil(size / zoom))) for size in (height, width))
    total = np.pad(spread.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = total[h:, w:] - total[:-h, w:] - total[h:, :-w] + total[:-h, :-w]  # every window's sum
    if sums.max() <= 0:
        return (height - h) // 2, (width - w) // 2, h, w
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(top), int(left), h, w


def _crop(img: torch.Tensor | np.ndarray, box: Box | None) -> np.ndarray:
    arr = _as_image(img)
    if box is None:
        return arr
    top, left, h, w = box
    return arr[top:top + h, left:left + w]


def _zoom_note(box: Box, shape: tuple[int, ...], what: str) -> str:
    return (f"zoomed: {what} cropped to the {box[2]}×{box[3]} window (of {shape[0]}×{shape[1]}) where its images "
            "differ most (nearest-neighbour pixels)")


def image_grid(
    rows: Sequence[Sequence[torch.Tensor | np.ndarray | None]],
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell_size: float = 1.8,
    title: str | None = None,
    *,
    zoom: float | None = None,
    zoom_together: bool = False,
    crops: Sequence[Box | None] | None = None,
    caption: str | None = None,
    label_width: int = 24,
) -> plt.Figure:
    """A grid of ``[C, H, W]`` images (``None`` leaves a cell empty), labelled by row and column;
    each cell ``cell_size`` inches, every image pixel an even block (nearest-neighbour upsampling).

    ``zoom`` crops each row to the ``1 / zoom``-size window where its images differ most
    (:func:`motion_box`; the same window for every row with ``zoom_together``, for rows that show
    one scene several ways), and says so under the grid; ``crops`` gives each row's window
    ``(top, left, h, w)`` instead.  ``caption`` is printed under the grid."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    if zoom is not None and crops is None:
        if zoom_together:
            crops = [motion_box([img for row in rows for img in row if img is not None], zoom)] * n_rows
        else:
            crops = [motion_box([img for img in row if img is not None], zoom) for row in rows]
        shape = _as_image(next(i for i in rows[0] if i is not None)).shape
        if all(box[2:] == shape[:2] for box in crops):  # a scene too small to zoom into: shown whole, unremarked
            crops = None
        else:
            note = _zoom_note(crops[0], shape, "the grid" if zoom_together else "each row")
            caption = f"{caption}\n{note}" if caption else note
    crops = list(crops) if crops is not None else [None] * n_rows
    if row_labels is not None:
        row_labels = [_wrap(label, label_width) for label in row_labels]
    # the cells fill the figure (labels, title and caption lie outside it and are kept by a tight bounding
    # box, as a notebook and save_figure draw it), so that a cell is cell_size inches, not a share of margins
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell_size * n_cols, cell_size * n_rows), squeeze=False,
                             gridspec_kw=dict(wspace=0.04, hspace=0.08, left=0, right=1, bottom=0, top=1))
    cell_px = cell_size * fig.dpi * 2  # drawn at up to twice the screen's resolution
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            img = row[c] if c < len(row) else None
            if img is None:
                ax.axis("off")
                continue
            arr = _crop(img, crops[r])
            k = max(1, int(cell_px // max(arr.shape[:2])))  # whole blocks: every pixel as wide as the next
            arr = np.repeat(np.repeat(arr, k, axis=0), k, axis=1)
            ax.imshow(arr, interpolation="nearest", cmap="gray", vmin=0, vmax=255)
            if r == 0 and col_labels is not None:
                ax.set_title(_wrap(col_labels[c], 16), fontsize=9)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=8.5, rotation=0, ha="right", va="center", labelpad=6)
    if title:
        fig.suptitle(title, fontsize=11, va="bottom", y=1 + (0.4 if col_labels is not None else 0.1) / fig.get_figheight())
    if caption:  # just under the last row, across the grid
        bottom = min(ax.get_position().y0 for ax in axes[-1])
        fig.text(0.5, bottom - 0.08 / fig.get_figheight(),
                 "\n".join(_wrap(line, int(14 * cell_size * n_cols)) for line in caption.split("\n")),
                 ha="center", va="top", fontsize=8, color="0.25")
    return fig


def show_sequence(frames: torch.Tensor, blur: torch.Tensor | None = None, label: str | None = None,
                  cell_size: float = 1.6) -> plt.Figure:
    """One sequence ``[T, C, H, W]`` as a strip, with its blur first when given."""
    row = ([blur] if blur is not None else []) + list(frames)
    cols = (["blur"] if blur is not None else []) + [f"x[{t + 1}]" for t in range(len(frames))]
    return image_grid([row], row_labels=[label] if label else None, col_labels=cols, cell_size=cell_size)


def before_after(photo: torch.Tensor, frames: dict[str, torch.Tensor], motion_gain: float = 4.0,
                 cell_size: float = 2.2) -> plt.Figure:
    """A real photograph and what each model makes of it, one row per model (``{label: [T, C, H, W]}``):
    the photograph, the first, middle and last frame, and ``|x[1] - x[T]|`` amplified ``motion_gain``
    times (black where the frames show no motion)."""
    rows, labels = [], []
    for label, seq in frames.items():
        t = len(seq)
        motion = ((seq[0] - seq[-1]).abs() * motion_gain).clamp(0, 1)
        rows.append([photo, seq[0], seq[t // 2], seq[-1], motion])
        labels.append(label)
    t = len(next(iter(frames.values())))
    cols = ["photo", "x[1]", f"x[{t // 2 + 1}]", f"x[{t}]", f"|x[1] − x[{t}]| ×{motion_gain:g}"]
    return image_grid(rows, row_labels=labels, col_labels=cols, cell_size=cell_size)


def figure2_grid(columns: dict[str, torch.Tensor], directions: Sequence[Sequence[int]],
                 meanings: dict[str, str] | None = None) -> plt.Figure:
    """Jin Fig. 2: one row per motion scenario, one column per key of ``columns``."""
    keys = list(columns)
    arrows = {1: "→", -1: "←"}
    row_labels = [" ".join(arrows[d] for d in dirs) for dirs in directions]
    rows = [[columns[k][r] for k in keys] for r in range(len(directions))]
    col_labels = [f"({k})" for k in keys]
    caption = ";  ".join(f"({k}) {meanings[k]}" for k in keys) if meanings else None
    return image_grid(rows, row_labels=row_labels, col_labels=col_labels, cell_size=1.5, caption=caption)


def line_plot(df: pd.DataFrame, x: str, ys: Sequence[str], *, hue: str | None = None, xlabel: str | None = None,
              ylabel: str | None = None, title: str | None = None, ax: plt.Axes | None = None,
              markers: bool = True, logx: bool = False) -> plt.Figure:
    """Lines of ``ys`` against ``x``; with ``hue`` one line per value of that column for each y.
    Each line has its own marker and dash, hollow and drawn largest first, so that lines which
    coincide show as nested markers; one that repeats an earlier line exactly says so in the
    legend, which sits off the data (:func:`legend_outside`)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 3.4))
    else:
        fig = ax.figure
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=True))
    lines = [(y, key, part) for y in ys for key, part in groups]
    drawn: list[tuple[str, np.ndarray, np.ndarray]] = []
    for n, (y, key, part) in enumerate(lines):
        label = y if key is None else (f"{key}" if len(ys) == 1 else f"{y}, {hue}={key}")
        xs, values = part[x].to_numpy(), part[y].to_numpy(dtype=float)
        same = next((earlier for earlier, ex, ey in drawn if len(ex) == len(xs) and np.array_equal(ex, xs)
                     and np.allclose(ey, values, equal_nan=True)), None)
        drawn.append((label, xs, values))
        if same is not None:
            label += f" (same values as {same})"
        size = max(3.0, 8.5 - 1.6 * n) if len(lines) > 1 else 3.5
        ax.plot(xs, values, marker=MARKERS[n % len(MARKERS)] if markers else None, ms=size,
                mfc="none" if len(lines) > 1 else None, mew=1.1, ls=LINESTYLES[n % len(LINESTYLES)],
                lw=max(0.9, 2.2 - 0.35 * n) if len(lines) > 1 else 1.5, label=label, zorder=2 + n)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or (ys[0] if len(ys) == 1 else ""))
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(lines) > 1:
        legend_outside(ax, title=hue if hue is not None and len(ys) == 1 else None)
    fig.tight_layout()
    return fig


def projection_plot(df: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """HyperCUT Fig. 1: sequences (●) and their reverses (×) by signed distance to the hyperplane
    (x) and one other direction (y); a line joins each sequence to its reverse."""
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    fwd = df[df.direction == "forward"].set_index("sequence")
    rev = df[df.direction == "reversed"].set_index("sequence").loc[fwd.index]
    for i in fwd.index:
        ax.plot([fwd.signed_distance[i], rev.signed_distance[i]], [fwd.other_direction[i], rev.other_direction[i]],
                color="0.8", lw=0.6, zorder=1)
    ax.scatter(fwd.signed_distance, fwd.other_direction, s=14, label="sequence", zorder=2)
    ax.scatter(rev.signed_distance, rev.other_direction, s=18, marker="x", label="its reverse", zorder=2)
    ax.axvline(0.0, color="k", lw=1.2, label="hyperplane")
    ax.set_xlabel("signed distance to the hyperplane, h(s)")
    ax.set_ylabel("another direction")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def sequence_comparison(groups: dict[str, torch.Tensor], samples: Sequence[int], col_labels: Sequence[str] | None = None,
                        cell_size: float = 1.5, zoom: float | None = 2.0) -> plt.Figure:
    """Several versions of the same sequences, one row each: for every sample ``i`` a row per group
    (``{label: [N, T, C, H, W]}``), labelled ``#i label``.  With ``zoom`` each sample's rows show the
    same window, ``1 / zoom`` of the frame, where that sample's images (every version's) differ
    most: the motion, and where the versions part (:func:`motion_box`); the caption says so."""
    rows, labels, crops, boxes = [], [], [], []
    for i in samples:
        box = motion_box([f for seqs in groups.values() for f in seqs[i]], zoom) if zoom else None
        if box is not None and box[2:] == tuple(next(iter(groups.values())).shape[-2:]):
            box = None  # a scene too small to zoom into
        boxes.append(f"#{i} rows {box[0]}-{box[0] + box[2] - 1}, columns {box[1]}-{box[1] + box[3] - 1}" if box else "")
        for label, seqs in groups.items():
            rows.append(list(seqs[i]))
            labels.append(f"#{i} {label}")
            crops.append(box)
    caption = None
    if any(box is not None for box in crops):
        shape = tuple(next(iter(groups.values())).shape[-2:])
        caption = (_zoom_note(next(box for box in crops if box is not None), shape, "each sample (all its rows alike)")
                   + ": " + "; ".join(b for b in boxes if b))
    return image_grid(rows, row_labels=labels, col_labels=col_labels, cell_size=cell_size, crops=crops, caption=caption)


def formation_figure(example: dict[str, torch.Tensor]) -> plt.Figure:
    """Jin Eq. 1 on one scene: its frames, the blur, the naive mean and their difference (x4), from
    :func:`blur2vid.experiments.blur_formation.formation_example`."""
    frames = list(example["frames"])
    labels = [f"x[{t + 1}]" for t in range(len(frames))] + ["blur (Eq. 1)", "naive mean", "|diff| ×4"]
    return image_grid([[*frames, example["blur"], example["naive"], example["difference"] * 4]], col_labels=labels,
                      cell_size=1.5)


def growth_figure(growth: pd.DataFrame) -> plt.Figure:
    """PSNR of the blur against the middle frame as the exposure grows, one line per speed."""
    return line_plot(growth[growth.frames > 1], "frames", ["psnr_blur_vs_middle"], hue="speed_px_per_frame",
                     xlabel="frames averaged T (exposure)", ylabel="PSNR of blur vs middle frame (dB)",
                     title="Blur grows with exposure and speed")


def rule_figure(rule: pd.DataFrame) -> plt.Figure:
    """The residual blur inside each frame against the shift per frame, one line per Delta, with
    the rule T = Delta marked."""
    fig = line_plot(rule, "shift_per_frame_px", ["psnr_frame_vs_instant"], hue="delta_px", logx=True,
                    xlabel="largest shift within one frame, Δ / T (pixels)",
                    ylabel="PSNR frame vs its central instant (dB)", title="Residual blur inside each frame")
    fig.axes[0].axvline(1.0, color="k", ls="--", lw=1, label="T = Δ")
    legend_outside(fig.axes[0], title="delta_px")
    return fig


def curves_figure(histories: dict[str, list[dict]], y: str = "loss", ylabel: str | None = None,
                  title: str | None = None, x: str = "step") -> plt.Figure:
    """Training curves: ``y`` of each logged history against ``x`` (``step``, or ``samples`` seen),
    one line per name; only the entries that logged ``y`` (validation scores come about ten times
    a run)."""
    curves = pd.concat([pd.DataFrame(h).assign(run=name) for name, h in histories.items() if h])
    if y not in curves.columns:
        raise ValueError(f"the histories logged no {y!r} (logged: {sorted(curves.columns)}); a run trained "
                         "without a validation set (Workspace(validation=0)) has no validation curve")
    curves = curves.dropna(subset=[y])
    return line_plot(curves, x, [y], hue="run", markers=True, ylabel=ylabel or y, title=title,
                     xlabel="training samples seen" if x == "samples" else None)


def learning_curve(history: list[dict], y: str, ylabel: str, title: str) -> plt.Figure:
    """One run's validation score against the training samples it had seen."""
    return curves_figure({"validation": history}, y=y, ylabel=ylabel, title=title, x="samples")


def _interval_note(data: pd.DataFrame) -> str:
    seeds = data["seed"].nunique() if "seed" in data.columns else 1
    return (f"95% intervals: bootstrap over {seeds} training seeds, then test scenes" if seeds > 1
            else "95% intervals: bootstrap over test scenes (one training seed)")


def _pointplot(data: pd.DataFrame, x: str, y: str, hue: str, ylabel: str, title: str, zero_line: bool) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    units = "seed" if "seed" in data.columns and data["seed"].nunique() > 1 else None
    levels = data[hue].nunique()
    dodge = 0.4 if levels > 1 else False  # seaborn divides by (levels - 1)
    sns.pointplot(data=data, x=x, y=y, hue=hue, units=units, errorbar=("ci", 95), seed=0, dodge=dodge,
                  markers=[MARKERS[n % len(MARKERS)] for n in range(levels)],
                  linestyles=[LINESTYLES[n % len(LINESTYLES)] for n in range(levels)],
                  markersize=4, linewidth=1.2, err_kws={"linewidth": 1.0}, capsize=0.1, ax=ax)
    if zero_line:
        ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    legend_outside(ax, note=_interval_note(data))
    fig.tight_layout()
    return fig


def per_frame_figure(table: pd.DataFrame, ylabel: str, title: str, zero_line: bool = False) -> plt.Figure:
    """Per-frame scores of every row of a per-scene pPSNR table (index ``(id, scene)``, a ``label``
    and frames ``F1``...; a ``seed`` column when it pools several training runs), each frame's
    mean with its 95% interval (seaborn; a two-level bootstrap over seeds then scenes where there
    are several seeds)."""
    frames = [c for c in table.columns if c.startswith("F")]
    keep = ["label", *frames] + (["seed"] if "seed" in table.columns else [])
    long = table[keep].melt(id_vars=[c for c in ("label", "seed") if c in keep], var_name="frame", value_name="value")
    return _pointplot(long, "frame", "value", "label", ylabel, title, zero_line)


def gain_figure(gains: pd.DataFrame, ylabel: str, title: str) -> plt.Figure:
    """Per-frame gains with 95% intervals, from the long table of
    :func:`blur2vid.experiments.tables.gain_long` (``model``, ``frame``, ``gain``, maybe ``seed``)."""
    return _pointplot(gains, "frame", "gain", "model", ylabel, title, zero_line=True)


def held_out_gain_figure(scenes: pd.DataFrame, title: str = "Held-out scenes: the middle frame over the blurry input"
                         ) -> plt.Figure:
    """Each held-out scene's gain against how blurred it is, from
    :func:`blur2vid.app.shipping.held_out_scenes`: the model's frames (held to the noisy input when it
    ships held) and the same frames held to the noise-free blur (the oracle), one point each."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for column, label, marker in (("gain_db", "the model's frames", "o"),
                                  ("gain_noise_free_db", "held to the noise-free blur (oracle)", "^")):
        ax.scatter(scenes["blur_db"], scenes[column], s=14, marker=marker, alpha=0.75,
                   label=f"{label}: mean {scenes[column].mean():+.2f} dB")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("blur copied to every frame, middle-frame pPSNR (dB; left: more motion)")
    ax.set_ylabel("gain over the blurry input (dB)")
    ax.set_title(title, fontsize=10)
    legend_outside(ax)
    fig.tight_layout()
    return fig


def scale_figure(table: pd.DataFrame, title: str = "Larger held-out scenes, seen at several sizes") -> plt.Figure:
    """Gains over the blurry input per ``scale`` with 95% intervals over the scenes, from the
    per-scene table of :func:`blur2vid.app.shipping.held_out_at_scales` (columns ``middle s=K``,
    ``mean s=K``)."""
    names = {"middle": "middle frame over the blurry input", "mean": "mean pPSNR over the blur copy"}
    long = table.reset_index().melt(id_vars="scene", var_name="column", value_name="gain")
    long[["measure", "scale"]] = long["column"].str.split(" s=", n=1, expand=True)
    long["measure"] = long["measure"].map(names)
    return _pointplot(long, "scale", "gain", "measure", "gain (dB)", title, zero_line=True)


def noise_figure(table: pd.DataFrame, title: str = "Frames held to the photograph cleaned at a noise level") -> plt.Figure:
    """:func:`blur2vid.app.shipping.with_denoiser` drawn: on the left the noisy held-out scenes' middle
    frame over the blurry input against the noise level given to every scene (95% intervals over
    the scenes; dashed, each scene told its own level), on the right the clean real footage's
    margins over the blur copy against the same levels."""
    given = table.drop(index="own", errors="ignore")
    levels = given.index.astype(float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for (name, label), colour in zip({"moderate": "moderate motion", "full": "full motion"}.items(), ("C0", "C1"), strict=True):
        left.errorbar(levels, given[name], yerr=[given[name] - given[f"{name}_low"], given[f"{name}_high"] - given[name]],
                      marker="o", ms=4, lw=1.2, capsize=3, color=colour, label=f"held-out, {label}")
        if "own" in table.index:
            left.axhline(table.loc["own", name], color=colour, ls="--", lw=0.9, label=f"{label}, own level each")
    left.set_title("noisy held-out scenes (64 px)", fontsize=9)
    for column, label, marker in (("video_over_blur_copy", "mean pPSNR over the blur copy", "o"),
                                  ("video_middle_over_blur", "middle frame over the blur", "s")):
        right.plot(levels, given[column], marker=marker, ms=4, lw=1.2, label=label)
    right.set_title("clean real footage (no_time_for_that_tiny.gif)", fontsize=9)
    for ax in (left, right):
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("noise level given (8-bit levels; 0: no denoiser)")
        ax.set_ylabel("gain (dB)")
        legend_outside(ax, where="below", width=40)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def seed_spread_figure(table: pd.DataFrame, title: str) -> plt.Figure:
    """Each training seed's mean of a pPSNR scene table that pools seeds (``seed`` column), one dot per
    seed and row, the seeds side by side within a row: how far the runs of the same configuration
    land apart.  Long row labels are wrapped so that the data keeps the width."""
    means = table.groupby(["label", "seed"], sort=False)["mean"].mean().reset_index()
    labels = list(dict.fromkeys(means["label"]))
    wrapped = {label: _wrap(label, 34) for label in labels}
    means["label"] = means["label"].map(wrapped)
    lines = sum(w.count("\n") + 1 for w in wrapped.values())
    fig, ax = plt.subplots(figsize=(7.6, 0.17 * lines + 0.3 * len(labels) + 1.1))
    sns.stripplot(data=means, x="mean", y="label", hue="seed", size=7, jitter=False, dodge=True, ax=ax,
                  palette="deep", order=list(wrapped.values()))
    for n in range(1, len(labels)):
        ax.axhline(n - 0.5, color="0.88", lw=0.8, zorder=0)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel("mean pPSNR over the test scenes (dB)")
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize=8.5)
    ax.set_title(title, fontsize=10)
    legend_outside(ax, title="training seed")
    fig.tight_layout()
    return fig


def seed_curves_figure(curves: pd.DataFrame, title: str = "Learning curves") -> plt.Figure:
    """Learning curves pooled over training seeds (a curve table with a ``seed`` column): each run's
    validation score against the samples seen, the mean over seeds with its 95% interval."""
    y = next(c for c in curves.columns if c not in ("run", "stage", "samples", "seed"))
    seeds = curves["seed"].nunique() if "seed" in curves.columns else 1
    runs = list(dict.fromkeys(curves["run"]))
    fig, ax = plt.subplots(figsize=(6.8, 4.2))
    sns.lineplot(data=curves, x="samples", y=y, hue="run", style="run", markers=list(MARKERS[:len(runs)]),
                 dashes=False, markersize=5, linewidth=1.2, seed=0, hue_order=runs, style_order=runs,
                 errorbar=("ci", 95) if seeds > 1 else None, err_kws={"alpha": 0.12}, ax=ax)
    ax.set_xlabel("training samples seen")
    ax.set_ylabel(y)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    legend_outside(ax, note=f"mean over {seeds} training seed{'s' if seeds != 1 else ''}"
                   + (", 95% interval" if seeds > 1 else ""))
    fig.tight_layout()
    return fig


def ablation_figure(table: pd.DataFrame) -> plt.Figure:
    """Jin Fig. 4 as numbers: every scheme's per-frame pPSNR (the per-scene ``ablation_table``)."""
    return per_frame_figure(table, "pPSNR (dB)", "Fig. 4 as numbers: per-frame pPSNR of each scheme")


def ppsnr_gain_figure(table: pd.DataFrame, over: str = "naive") -> plt.Figure:
    """HyperCUT's table as gains: every row's per-frame pPSNR gain over row ``over`` (the naive
    loss), from a per-scene pPSNR table."""
    from blur2vid.experiments.tables import gain_long

    return gain_figure(gain_long(table, over), "pPSNR gain over naive (dB)", "Per-frame gain over the naive loss (U-Net)")


def side_figure(table: pd.DataFrame, column: str = "side from blur") -> plt.Figure:
    """Ours: how well a small network reads each ordering's side from the blur alone, from the
    per-scene table of :func:`blur2vid.experiments.hypercut_ordering.side_table` (a ``seed`` column when it
    pools several runs): the mean with its 95% interval; 0.5 is a coin, 1 a side the blur decides."""
    data = table.reset_index()
    data["label"] = data["label"].map(lambda label: _wrap(label, 30))
    units = "seed" if "seed" in data.columns and data["seed"].nunique() > 1 else None
    lines = sum(label.count("\n") + 1 for label in data["label"].unique())
    fig, ax = plt.subplots(figsize=(7.0, 0.3 * lines + 0.3 * data["label"].nunique() + 1.4))
    sns.pointplot(data=data, x=column, y="label", units=units, errorbar=("ci", 95), seed=0, linestyle="none",
                  markersize=5, capsize=0.2, err_kws={"linewidth": 1.0}, ax=ax)
    ax.axvline(0.5, color="0.3", lw=0.8, ls="--")
    ax.text(0.5, 0.99, " a coin", fontsize=7, color="0.3", va="top", transform=ax.get_xaxis_transform())
    ax.set_xlim(0.3, 1.02)
    ax.set_xlabel("side accuracy from the blur (held-out scenes)")
    ax.set_ylabel("")
    ax.set_title("Can a network read the ordering's side from the blur?", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="y", labelsize=8.5)
    _note_below(ax, _interval_note(data))
    fig.tight_layout()
    return fig


def evaluation_per_frame(summary: pd.DataFrame, title: str = "pPSNR per frame (sequence level)") -> plt.Figure:
    """``blur2vid evaluate``'s per-frame pPSNR of each model (a summary row per model: ``F1..FT``
    with ``_low`` / ``_high``), with its 95% interval as a band where there is one."""
    frames = [c for c in summary.columns if c.startswith("F") and c[1:].isdigit()]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    x = np.arange(1, len(frames) + 1)
    for name, row in summary.iterrows():
        y = row[frames].to_numpy(float)
        line, = ax.plot(x, y, marker="o", label=f"{name}")
        low = row[[f"{c}_low" for c in frames]].to_numpy(float)
        if np.isfinite(low).all():
            ax.fill_between(x, low, row[[f"{c}_high" for c in frames]].to_numpy(float), alpha=0.2, color=line.get_color())
    ax.set(xticks=x, xticklabels=frames, xlabel="frame", ylabel="pPSNR (dB)", title=title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return fig


def conventions_figure(summary: pd.DataFrame, conventions: dict[str, str],
                       title: str = "The same frames, scored by each convention") -> plt.Figure:
    """How much the choice of convention flatters a model: one row per convention (``conventions``:
    column -> what it is), one marker per model, with its 95% interval where there is one."""
    shown = [c for c in conventions if c in summary.columns]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(shown) + 1.2))
    offsets = np.linspace(-0.2, 0.2, len(summary)) if len(summary) > 1 else [0.0]
    for off, (name, row) in zip(offsets, summary.iterrows(), strict=True):
        y = np.arange(len(shown)) + off
        x = row[shown].to_numpy(float)
        low = row[[f"{c}_low" for c in shown]].to_numpy(float)
        high = row[[f"{c}_high" for c in shown]].to_numpy(float)
        err = np.where(np.isfinite(low), [x - low, high - x], 0.0)
        ax.errorbar(x, y, xerr=err, fmt="o", capsize=3, label=name)
    ax.set(yticks=range(len(shown)), yticklabels=[conventions[c] for c in shown], xlabel="dB", title=title)
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return fig
