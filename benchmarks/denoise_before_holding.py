"""Would the shipped model gain from holding its frames to a denoised photograph?

Notebook 07 shows that the shipped model, whose frames are held to the noisy photograph, would
score far higher on the held-out capture scenes if it were held to their noise-free blur (an
oracle).  This probe puts a learned denoiser where the oracle was: a one-frame
:class:`~blur2vid.models.unet.SequenceUNet` (the same U-Net, asked for one image, the noise-free
blur, instead of seven frames), trained for ``--minutes`` on the shipped model's training scenes
(``blur_clean`` of :func:`blur2vid.data.captures.render_captures` is its target).  Then the shipped
network's frames are held to the photograph and to the denoised photograph, and scored on

* the held-out capture scenes of :mod:`blur2vid.shipping` (moderate and full motion, 95% intervals
  over the 64 scenes), with how close the denoised photograph is to the noise-free one;
* the real footage (blurs made from ``no_time_for_that_tiny.gif``), which is clean;
* a clean photograph (scikit-image's astronaut, resized): how much the denoiser changes an image
  without noise, at several sizes.

It is a probe, not a shipped path: a denoiser that also changes clean photographs costs on real
footage what it gains on noisy scenes (see the closing note of issue 14).

    python benchmarks/denoise_before_holding.py --minutes 12 --weights results/denoiser.pt
    python benchmarks/denoise_before_holding.py --minutes 0.05 --weights /tmp/d.pt   # the wiring
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from blur2vid.benchmark import device_name
from blur2vid.data.config import CAPTURES, DataConfig
from blur2vid.experiments import real
from blur2vid.experiments.intervals import hierarchical_bootstrap
from blur2vid.formation import match_blur
from blur2vid.io import atomic_path
from blur2vid.metrics import ppsnr, psnr
from blur2vid.models.checkpoint import default_model_path, load_model
from blur2vid.models.unet import SequenceUNet
from blur2vid.seeding import derive_seed
from blur2vid.shipping import MOTIONS
from blur2vid.tensors import batched

TRAINING = DataConfig(family=CAPTURES, size=64, max_shift=24.0, capture=(("clean", 0.3), ("still", 0.2)))
"""The shipped model's last fine-tune's scenes (its card's data switches)."""


def train_denoiser(minutes: float, batch: int = 16, lr: float = 1e-3, seed: int = 7) -> tuple[SequenceUNet, int]:
    """A one-frame U-Net trained for ``minutes`` (cosine schedule over the time) to map each
    training scene's blurry photograph to its blur without noise and JPEG; returns it and its steps."""
    torch.manual_seed(0)
    source = TRAINING.source()
    net = SequenceUNet(n_frames=1, width=32, depth=2)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start, step = time.time(), 0
    while (done := (time.time() - start) / (minutes * 60)) < 1:
        b = source.batch(batch, derive_seed(seed, "denoiser", step), "cpu")
        loss = torch.mean((net(b.blur)[:, 0] - b.meta["blur_clean"]) ** 2)
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * done))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            print(f"step {step}, {time.time() - start:.0f} s, loss {loss.item():.2e}", flush=True)
    return net.eval(), step


def _interval(values: torch.Tensor) -> str:
    iv = hierarchical_bootstrap([values.double().numpy()])
    return f"{iv.estimate:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}]"


def measure(denoiser: SequenceUNet) -> pd.DataFrame:
    """Every number of the module's text, one row per measure."""
    net, _ = load_model(default_model_path())
    net.eval()

    def denoise(y: torch.Tensor) -> torch.Tensor:
        return batched(lambda x: denoiser(x)[:, 0], y, 16, clamp=True)

    rows = []
    for name, motion in MOTIONS.items():
        test = DataConfig(family=CAPTURES, size=64, max_shift=motion).test_set(64, "cpu", "shipping")
        raw = batched(net, test.blur, 16, clamp=True)
        frames, clean = test.frames.float(), test.meta["blur_clean"]
        copy = ppsnr(test.blur.unsqueeze(1).expand_as(frames), frames).clamp(max=100)[:, 3]
        for held, target in (("photograph", test.blur), ("denoised photograph", denoise(test.blur))):
            middle = ppsnr(match_blur(raw, target), frames).clamp(max=100)[:, 3]
            rows.append({"measure": f"held-out {name}: middle over blur (dB)", "held to": held,
                         "value": _interval(middle - copy),
                         "photograph vs noise-free (dB)": round(float(psnr(target, clean).clamp(max=100).mean()), 2)})
    clips = real.video_windows(real.real_video())
    raw = batched(net, clips.blur, 16, clamp=True)
    copy = ppsnr(clips.blur.unsqueeze(1).expand_as(clips.frames), clips.frames).clamp(max=100)
    for held, target in (("photograph", clips.blur), ("denoised photograph", denoise(clips.blur))):
        scores = ppsnr(match_blur(raw, target), clips.frames).clamp(max=100)
        rows.append({"measure": "real video: mean over blur copy (dB)", "held to": held,
                     "value": f"{float((scores - copy).mean()):+.2f}",
                     "photograph vs input (dB)": round(float(psnr(target, clips.blur).clamp(max=100).mean()), 2)})
        rows.append({"measure": "real video: middle over blur (dB)", "held to": held,
                     "value": f"{float((scores[:, 3] - copy[:, 3]).mean()):+.2f}"})
    import skimage.data

    astronaut = torch.from_numpy(skimage.data.astronaut()).permute(2, 0, 1).float()[None] / 255
    for size in (256, 64, 25):
        y = F.interpolate(astronaut, size=(size, size), mode="area")
        rows.append({"measure": f"clean astronaut {size} px: denoised vs input (dB)", "held to": "-",
                     "value": f"{float(psnr(denoise(y), y)):.2f}"})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=12.0, help="the denoiser's training time")
    parser.add_argument("--weights", type=Path, required=True,
                        help="the denoiser's weights: read when the file exists, else trained and written there")
    args = parser.parse_args(argv)
    denoiser = SequenceUNet(n_frames=1, width=32, depth=2)
    if args.weights.is_file():
        denoiser.load_state_dict(torch.load(args.weights, weights_only=True))
        print(f"denoiser read from {args.weights}")
    else:
        denoiser, steps = train_denoiser(args.minutes)
        with atomic_path(args.weights) as tmp:
            torch.save(denoiser.state_dict(), tmp)
        print(f"denoiser trained: {steps} steps x 16 in {args.minutes} min on {device_name('cpu')}, "
              f"written to {args.weights}")
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(measure(denoiser.eval()).astype(object).fillna("").to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
