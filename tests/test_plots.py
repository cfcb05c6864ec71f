"""Figures a person can read: legends off the data, image cells large enough, zooms that find the motion."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from blur2vid.reproduction import plots  # noqa: E402


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _legend_off_the_data(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    checked = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        assert not _overlaps(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
        checked += 1
    assert checked
    matplotlib.pyplot.close(fig)


def _scene_table(labels, seeds=(0, 1, 2), scenes=4, frames=7):
    rng = np.random.default_rng(0)
    rows = []
    for i, label in enumerate(labels):
        for seed in seeds:
            for scene in range(scenes):
                values = rng.normal(25 + i, 0.5, frames)
                rows.append({"id": f"r{i}", "scene": scene, "label": label, "seed": seed,
                             **{f"F{t + 1}": v for t, v in enumerate(values)}, "mean": values.mean()})
    return pd.DataFrame(rows).set_index(["id", "scene"])


LONG = [f"scheme {k}: order-invariant + regulariser [antisymmetric + crop + readable from the blur (ours)]"
        for k in range(9)]


@pytest.mark.parametrize("draw", [
    lambda: plots.per_frame_figure(_scene_table(LONG), "pPSNR (dB)", "nine curves"),
    lambda: plots.seed_spread_figure(_scene_table(LONG), "seeds"),
    lambda: plots.line_plot(pd.DataFrame({"x": list(range(5)) * 4, "y": [1.0] * 15 + [0, 0, 1, 1, 1],
                                          "run": np.repeat(list("abcd"), 5)}), "x", ["y"], hue="run"),
    lambda: plots.seed_curves_figure(pd.DataFrame({"run": np.repeat(list("abcdefg"), 6), "samples": list(range(6)) * 7,
                                                   "val_ppsnr": np.linspace(25, 27, 42), "seed": [0, 1] * 21})),
])
def test_legends_sit_off_the_data_area(draw):
    _legend_off_the_data(draw())


def test_curves_that_coincide_are_told_apart():
    data = pd.DataFrame({"x": list(range(5)) * 3, "y": [1.0] * 10 + [0, 0, 1, 1, 1], "run": np.repeat(list("abc"), 5)})
    fig = plots.line_plot(data, "x", ["y"], hue="run")
    lines = fig.axes[0].get_lines()
    assert len({line.get_marker() for line in lines}) == 3 and lines[0].get_markersize() > lines[1].get_markersize()
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][1] == "b (same values as a)"
    matplotlib.pyplot.close(fig)


def test_motion_box_finds_what_moves_and_grids_show_it_large():
    frames = torch.zeros(5, 3, 32, 32)
    for t in range(5):
        frames[t, :, 20:24, 2 + t:6 + t] = 1.0  # a small square moving right, low in the frame
    top, left, h, w = plots.motion_box(list(frames), zoom=2)
    assert (h, w) == (16, 16) and top <= 20 and top + h >= 24 and left <= 2 and left + w >= 10
    assert plots.motion_box([frames[0]] * 3, zoom=2) == (8, 8, 16, 16)  # nothing moves: the centre

    fig = plots.sequence_comparison({"truth": frames[None], "copy": frames[None]}, [0])
    fig.canvas.draw()
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 10 and all(im.get_array().shape[:2] == images[0].get_array().shape[:2] for im in images)
    assert images[0].get_array().shape[0] % 16 == 0  # 16 cropped pixels, each an even block
    cell = fig.axes[0].get_window_extent()
    assert min(cell.width, cell.height) >= 140  # display pixels per cell, at the figure's dpi
    assert any("zoomed" in t.get_text() and "16×16 window (of 32×32)" in t.get_text() for t in fig.texts)
    matplotlib.pyplot.close(fig)


def test_a_scene_too_small_to_zoom_is_shown_whole_without_a_zoom_note():
    frames = torch.rand(3, 3, 16, 16)
    fig = plots.sequence_comparison({"truth": frames[None]}, [0])
    assert not any("zoomed" in t.get_text() for t in fig.texts)
    assert fig.axes[0].get_images()[0].get_array().shape[0] % 16 == 0
    matplotlib.pyplot.close(fig)
    fig = plots.image_grid([list(frames)], zoom=2)
    assert not fig.texts
    matplotlib.pyplot.close(fig)
