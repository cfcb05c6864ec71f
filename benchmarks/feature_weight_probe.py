"""Can the U-Net's own features say how much of the residual to put back?

``benchmarks/hold_weight_probe.py`` measured a separate head that sees only the photograph and the
residual (and their statistics): trained, it weighs noisy and clean photographs alike.  This probe
gives the weight the network's own decoder features instead: the U-Net's last convolution gets one
more output channel, a per-pixel logit ``z`` (zero-initialised, so the weight ``clamp(1 + z, 0, 1)``
starts as the full hold), and the frames are held by it (:func:`blur2vid.formation.match_blur`
with ``weigh``).  It fine-tunes the shipped model so for ``--minutes`` on the data of the shipped
model's last run (capture-like scenes of 64 px, a fifth still, 30% without noise or JPEG, the
hand-made order, HyperCUT's per-frame loss), in a plain loop (a probe: no checkpoints), then prints
the mean weight on noisy and noise-free held-out scenes, the real footage and the astronaut, and
the scores of :mod:`blur2vid.shipping`.  Tiles are not joined: every input it is measured on is one tile.

    python benchmarks/feature_weight_probe.py --minutes 25
"""

from __future__ import annotations

import argparse
import math
import time

import pandas as pd
import torch
from hold_weight_probe import measure  # the same measurements as the separate head's
from torch import nn

from blur2vid.benchmark import device_name
from blur2vid.formation import match_blur
from blur2vid.models.checkpoint import default_model_path, load_model
from blur2vid.models.unet import SequenceUNet
from blur2vid.seeding import derive_seed
from blur2vid.train_command import _ordering, load_spec
from blur2vid.train_unet import random_direction, unet_loss


class FeatureWeighed(nn.Module):
    """A :class:`SequenceUNet` whose last convolution also gives the hold weight's logit; its
    ``forward`` returns the frames held by that weight."""

    def __init__(self, net: SequenceUNet) -> None:
        super().__init__()
        self.net = net
        old = net.out
        out = nn.Conv2d(old.in_channels, old.out_channels + 1, 3, padding=1)
        with torch.no_grad():
            out.weight.zero_()
            out.bias.zero_()
            out.weight[:-1].copy_(old.weight)
            out.bias[:-1].copy_(old.bias)
        net.out = out

    def forward(self, blur: torch.Tensor) -> torch.Tensor:
        frames, weight = self.split(blur)
        return match_blur(frames.float(), blur.float(), weigh=lambda photo, r: weight)

    def split(self, blur: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The U-Net's frames and the weight ``[B, 1, H, W]``, from one pass."""
        c, (h, w) = self.net.config, blur.shape[-2:]
        out = self.net.out(self.net.features(blur))[..., :h, :w]
        frames = blur.unsqueeze(1) + out[:, :-1].reshape(blur.shape[0], c.n_frames, c.channels, h, w)
        return frames, (1 + out[:, -1:].float()).clamp(0, 1)


def train(model: FeatureWeighed, minutes: float, lr: float = 1.5e-4, batch: int = 16) -> int:
    spec = load_spec("unet-captures", overrides=["data.capture.still=0.2", "data.capture.clean=0.3",
                                                 "match_blur=true", "init=default"])
    source, ordering = spec.data.source(), _ordering(spec)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0, step = time.perf_counter(), 0
    model.train()
    while time.perf_counter() - t0 < minutes * 60:
        b = source.batch(batch, derive_seed(1, "train", step), "cpu")
        b = random_direction(b, torch.Generator().manual_seed(derive_seed(1, "flip", step)))
        for group in opt.param_groups:  # a cosine schedule over the budget
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (time.perf_counter() - t0) / (minutes * 60))))
        loss = unet_loss(spec.scheme, ordering, model(b.blur), b.frames)
        loss = loss[0] if isinstance(loss, tuple) else loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            print(f"step {step}, {time.perf_counter() - t0:.0f} s, loss {loss.item():.5f}", flush=True)
    return step


def mean_weight(model: FeatureWeighed, blur: torch.Tensor) -> float:
    return float(torch.cat([model.split(blur[i:i + 16].float())[1] for i in range(0, len(blur), 16)]).mean())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=25.0)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    net, _ = load_model(default_model_path(), expect="SequenceUNet")
    model = FeatureWeighed(net)
    steps = train(model, args.minutes)
    with torch.no_grad():
        row = measure(model.eval(), lambda blur: mean_weight(model, blur))
    print(f"# {device_name('cpu')}, {torch.get_num_threads()} threads; {steps} steps of 16 in {args.minutes:g} minutes")
    print(pd.Series(row).to_markdown())


if __name__ == "__main__":
    main()
