"""ipywidgets explorers for a person in JupyterLab.  Batch runs never depend on them."""

from __future__ import annotations

import functools

import matplotlib.pyplot as plt
import torch

from blur2vid.data.scenes import SceneConfig, render_scenes
from blur2vid.formation import synthesize_blur
from blur2vid.io import to_uint8

__all__ = ["blur_explorer", "sequence_scrubber"]


@functools.lru_cache(maxsize=16)
def _scene(size: int, t_max: int, speed: float, seed: int) -> torch.Tensor:
    cfg = SceneConfig(height=size, width=size, n_frames=t_max, subframes=1, max_shift=speed * t_max)
    return render_scenes(cfg, 1, seed).frames[0]


def blur_explorer(size: int = 96, max_frames: int = 15, seed: int = 0):
    """Sliders for the number of frames averaged (the exposure), the speed of the scene, and the
    camera response; shows the middle sharp frame beside the blur (Jin Eq. 1)."""
    import ipywidgets as W

    frames = W.IntSlider(value=7, min=1, max=max_frames, step=2, description="frames T")
    speed = W.FloatSlider(value=1.5, min=0.0, max=4.0, step=0.25, description="px / frame")
    crf = W.Dropdown(options=["gamma2.2", "srgb", "linear"], value="gamma2.2", description="CRF")
    scene = W.IntSlider(value=seed, min=0, max=20, description="scene")

    def show(frames: int, speed: float, crf: str, scene: int) -> None:
        seq = _scene(size, max_frames, float(speed), int(scene))
        mid = max_frames // 2
        blur = synthesize_blur(seq[mid - frames // 2: mid + frames // 2 + 1], crf)
        fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
        for ax, img, title in zip(axes, [seq[mid], blur], ["middle frame", f"blur of {frames} frames"], strict=True):
            ax.imshow(to_uint8(img))
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        plt.show()

    out = W.interactive_output(show, dict(frames=frames, speed=speed, crf=crf, scene=scene))
    return W.VBox([W.HBox([frames, speed]), W.HBox([crf, scene]), out])


def sequence_scrubber(frames: torch.Tensor, blur: torch.Tensor | None = None):
    """A slider over the frames of one sequence ``[T, C, H, W]``, the blur beside it."""
    import ipywidgets as W

    t = W.IntSlider(value=frames.shape[0] // 2, min=0, max=frames.shape[0] - 1, description="frame")

    def show(t: int) -> None:
        panels = ([blur] if blur is not None else []) + [frames[t]]
        fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3), squeeze=False)
        for ax, img in zip(axes[0], panels, strict=True):
            ax.imshow(to_uint8(img))
            ax.axis("off")
        axes[0][-1].set_title(f"x[{t + 1}]", fontsize=9)
        plt.show()

    return W.VBox([t, W.interactive_output(show, dict(t=t))])
