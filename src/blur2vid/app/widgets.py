"""ipywidgets explorers for a person in JupyterLab.  Batch runs never depend on them.

Pictures are shown as ``ipywidgets.Image`` (PNG bytes) updated in place by slider callbacks: no
matplotlib and no Output widget, so a headless run (papermill, nbmake) builds them without waiting
on a front end.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import torch
from PIL import Image

from blur2vid.core.formation import synthesize_blur
from blur2vid.core.io import to_uint8
from blur2vid.data.scenes import SceneConfig, render_scenes

__all__ = ["blur_explorer", "sequence_scrubber", "png_bytes", "upload_predictor"]


def png_bytes(images: list[torch.Tensor], scale: int = 3) -> bytes:
    """Images ``[C, H, W]`` side by side (with a 2-pixel gap), upscaled by ``scale``, as PNG bytes."""
    arrays = [to_uint8(im) for im in images]
    arrays = [a if a.ndim == 3 else np.repeat(a[..., None], 3, -1) for a in arrays]
    h = max(a.shape[0] for a in arrays)
    gap = np.full((h, 2, 3), 255, np.uint8)
    row = np.concatenate([x for a in arrays for x in (a, gap)][:-1], axis=1)
    img = Image.fromarray(row).resize((row.shape[1] * scale, row.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@functools.lru_cache(maxsize=16)
def _scene(size: int, t_max: int, speed: float, seed: int) -> torch.Tensor:
    cfg = SceneConfig(height=size, width=size, n_frames=t_max, subframes=1, max_shift=speed * t_max)
    return render_scenes(cfg, 1, seed).frames[0]


def _blur_view(size: int, max_frames: int, frames: int, speed: float, crf: str, scene: int) -> bytes:
    seq = _scene(size, max_frames, float(speed), int(scene))
    mid = max_frames // 2
    return png_bytes([seq[mid], synthesize_blur(seq[mid - frames // 2: mid + frames // 2 + 1], crf)])


def blur_explorer(size: int = 96, max_frames: int = 15, seed: int = 0):
    """Sliders for the number of frames averaged (the exposure), the speed of the scene, and the
    camera response; shows the middle sharp frame (left) beside the blur (right), Jin Eq. 1."""
    import ipywidgets as W

    if max_frames % 2 == 0:
        raise ValueError(f"max_frames must be odd so that a middle frame exists, got {max_frames}")
    controls = {
        "frames": W.IntSlider(value=7, min=1, max=max_frames, step=2, description="frames T"),
        "speed": W.FloatSlider(value=1.5, min=0.0, max=4.0, step=0.25, description="px / frame"),
        "crf": W.Dropdown(options=["gamma2.2", "srgb", "linear"], value="gamma2.2", description="CRF"),
        "scene": W.IntSlider(value=seed, min=0, max=20, description="scene"),
    }
    image = W.Image(format="png")

    def update(_=None) -> None:
        image.value = _blur_view(size, max_frames, **{k: c.value for k, c in controls.items()})

    for c in controls.values():
        c.observe(update, names="value")
    update()
    return W.VBox([W.HBox([controls["frames"], controls["speed"]]), W.HBox([controls["crf"], controls["scene"]]),
                   W.Label("middle frame | blur"), image])


def sequence_scrubber(frames: torch.Tensor, blur: torch.Tensor | None = None):
    """A slider over the frames of one sequence ``[T, C, H, W]``, the blur beside it."""
    import ipywidgets as W

    t = W.IntSlider(value=frames.shape[0] // 2, min=0, max=frames.shape[0] - 1, description="frame")
    image = W.Image(format="png")

    def update(_=None) -> None:
        image.value = png_bytes(([blur] if blur is not None else []) + [frames[t.value]])

    t.observe(update, names="value")
    update()
    return W.VBox([t, image])


def upload_predictor(model, device="cpu", max_side: int = 512, denoiser=None):
    """An upload box: drop a photograph and see the frames the model extracts from it (images larger
    than ``max_side`` are downscaled first, to keep it interactive), with a slider for the
    photograph's noise level (``blur2vid predict --noise``; ``denoiser``: default the shipped one,
    read when the slider first leaves 0)."""
    import tempfile
    from pathlib import Path

    import ipywidgets as W
    import torch.nn.functional as F

    from blur2vid.core.io import load_image
    from blur2vid.models.inference import predict_frames

    upload = W.FileUpload(accept="image/*", multiple=False, description="photo")
    noise = W.FloatSlider(value=0.0, min=0.0, max=10.0, step=0.5, description="noise",
                          tooltip="the photograph's grain, in 8-bit levels (0: none, no denoiser)")
    status = W.Label("upload a motion-blurred photograph")
    strip = W.Image(format="png")
    cleaner = {"net": denoiser}

    def on_upload(_=None) -> None:
        if not upload.value:
            return
        item = upload.value[0]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / item["name"]
            path.write_bytes(bytes(item["content"]))
            try:
                image = load_image(path)
            except (ValueError, OSError) as exc:
                status.value = str(exc)
                return
        scale = max_side / max(image.shape[-2:])
        if scale < 1:
            image = F.interpolate(image[None], scale_factor=scale, mode="bilinear", antialias=True)[0]
        if noise.value > 0 and cleaner["net"] is None:
            from blur2vid.app.predict import load_denoiser

            try:
                cleaner["net"] = load_denoiser()
            except (FileNotFoundError, ValueError) as exc:
                status.value = str(exc)
                return
        frames = predict_frames(model, image, device=device, progress=False, scale="auto", noise=noise.value / 255,
                                denoiser=cleaner["net"])
        strip.value = png_bytes([image, *frames], scale=1)
        status.value = f"{item['name']}: blur, then {len(frames)} frames" + (
            f" (held to it cleaned at noise level {noise.value:g})" if noise.value > 0 else "")

    upload.observe(on_upload, names="value")
    noise.observe(on_upload, names="value")
    return W.VBox([W.HBox([upload, noise]), status, strip])
