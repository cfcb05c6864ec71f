"""Would holding only the coarse part of the residual keep the network's denoising?

The shipped model's frames are held to the photograph (:func:`blur2vid.formation.match_blur`):
every frame is moved, alike per pixel in linear units, by the residual between the photograph and
the mean of the frames.  The residual holds the network's smoothing of fine detail (which holding
should undo on clean photographs) and the photograph's sensor noise and JPEG (which holding puts
back into every frame: notebook 07 measures that this is what limits the shipped model on the
held-out capture scenes).  Noise is fine-grained, so this probe holds only a Gaussian low-pass of
the residual (``sigma`` pixels; 0 is the full hold) and asks, for the network of each model file,

* the held-out capture scenes of :mod:`blur2vid.shipping` (moderate and full motion): the middle
  frame over the blurry input, 95% intervals over the 64 scenes;
* the real footage (blurs made from ``no_time_for_that_tiny.gif``, which is clean): mean and middle
  frame over copying the blur.

A network trained held (the shipped one) never learnt the mean of its frames, so it is measured as
it is and is expected to lose; a network trained alone is the fair test.  Measured (Intel Xeon,
2 threads) on the fine-tune trained alone (the default model of commit 1a01ebe): held-out moderate
+0.66 dB held fully, +0.98 [+0.75, +1.24] at sigma 1, +0.92 at 8 (alone +1.16); real footage -0.19
held fully, -3.23 at sigma 1, -3.50 at 8 (alone -3.18).  What the network gets wrong on the clean
footage is as fine as the noise, so the low-pass hold is not a path.

    python benchmarks/lowpass_hold.py --checkpoint MODEL.pt [--checkpoint OTHER.pt] --sigmas 0 1 2 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from blur2vid.benchmark import device_name
from blur2vid.experiments import real
from blur2vid.formation import get_crf
from blur2vid.models.checkpoint import default_model_path, load_model
from blur2vid.models.consistency import MatchBlur
from blur2vid.shipping import MOTIONS, held_out


def gaussian_lowpass(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x [..., H, W]`` blurred by a separable Gaussian of ``sigma`` pixels (reflected borders)."""
    if sigma <= 0:
        return x
    r = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    shape = x.shape
    y = x.reshape(-1, 1, *shape[-2:])
    r_h, r_w = min(r, shape[-2] - 1), min(r, shape[-1] - 1)
    y = F.pad(y, (r_w, r_w, r_h, r_h), mode="reflect")
    k_w, k_h = k[r - r_w: r + r_w + 1], k[r - r_h: r + r_h + 1]  # cut to what a small image allows
    y = F.conv2d(y, (k_w / k_w.sum()).view(1, 1, 1, -1))
    y = F.conv2d(y, (k_h / k_h.sum()).view(1, 1, -1, 1))
    return y.reshape(shape)


class LowpassHold(MatchBlur):
    """:class:`MatchBlur` moving the frames by the low-pass of its residual only, so that the
    project's own evaluation (:func:`blur2vid.shipping.held_out`, :func:`real.score_on_video`)
    scores it like any held model."""

    def __init__(self, net: torch.nn.Module, sigma: float, crf: str = "srgb") -> None:
        super().__init__(net, crf)
        self.sigma = sigma

    def hold(self, frames: torch.Tensor, blur: torch.Tensor) -> torch.Tensor:
        g = get_crf(self.crf)  # the steps of formation.match_blur, with the residual smoothed
        linear = g.inverse(frames.float().clamp(0, 1))
        residual = g.inverse(blur.float().clamp(0, 1)) - linear.mean(dim=-4)
        return g((linear + gaussian_lowpass(residual, self.sigma).unsqueeze(-4)).clamp(0, 1)).to(frames.dtype)


def holds(net: torch.nn.Module, sigmas: list[float]) -> dict[str, torch.nn.Module]:
    """The network alone, then one model per ``sigma`` (0: the full hold of :class:`MatchBlur`)."""
    return {"none (network alone)": net,
            **{f"low-pass sigma={s:g}" if s else "full": LowpassHold(net, s) if s else MatchBlur(net) for s in sigmas}}


def measure(net: torch.nn.Module, sigmas: list[float]) -> list[dict]:
    clips = real.video_windows(real.real_video())
    rows = []
    for label, model in holds(net.eval(), sigmas).items():
        row = {"hold": label}
        for name, motion in MOTIONS.items():
            iv = held_out(model.eval(), motion=motion)["middle_over_blur_db"]
            row[f"held-out {name}, middle over blur"] = f"{iv['mean']:+.2f} [{iv['low']:+.2f}, {iv['high']:+.2f}]"
        video = real.score_on_video(model, clips)
        row["real video, mean over copy"] = round(float(video["over_blur_copy"].mean()), 2)
        row["real video, middle over copy"] = round(float(video["middle_over_blur"].mean()), 2)
        rows.append(row)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", action="append", type=Path,
                    help="a model file (repeatable; default: the shipped model)")
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0, 1, 2, 4])
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    tables = []
    for path in args.checkpoint or [default_model_path()]:
        net, _ = load_model(path)
        table = pd.DataFrame(measure(net, args.sigmas)).set_index("hold")
        tables.append(table.assign(model=path.name).set_index("model", append=True))
    print(f"# {device_name('cpu')}, {torch.get_num_threads()} threads")
    print(pd.concat(tables).to_markdown())


if __name__ == "__main__":
    main()
