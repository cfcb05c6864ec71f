"""Can a network read an ordering's side from the blur?  Ours, beyond both papers.

An ordering (HyperCUT's network, or the hand-made rule) names, for every sequence, which of its two
directions is the canonical one.  A blur2vid network trained against that order has to output frame 1
of the canonical direction from the blurry image alone.  The blur is the same for a sequence and its
reverse (Jin Sec. 4), so it can do that only where the canonical direction is a function of what
the blur shows (the axis of the streaks, the content along them) and not of something only the sharp
frames carry.  Hit and Con@k cannot tell the two apart: an ordering can separate every sequence from
its reverse and still put them on sides no network could guess.

The measure.  A small **end reader** (:class:`EndReader`: a few convolutions, a residual on the
blur) learns to predict the first and the last frame of the canonical direction from the blur, with
the per-frame L1 loss.  On held-out scenes it *reads the side* of a sequence when its prediction is
nearer (mean squared error) to the canonical ends than to the same two frames swapped; a tie counts
one half.  The **side accuracy** is the mean over scenes:

* near 1 when the side is a function of the blur (a rule a network can read);
* 0.5 when it is not: no reader does better than chance on a side the blur does not decide,
  because a sequence and its reverse give the same blur.  A reader that has learned nothing
  predicts the blur for both ends (its last layer starts at zero) and scores exactly 0.5.

The reader is deliberately small and briefly trained (``SideReaderConfig``): the figure compares
orderings under the same reader, it does not bound what a large network could learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from blur2vid.core.ordering import canonical_order
from blur2vid.core.seeding import derive_seed
from blur2vid.data.config import DataConfig
from blur2vid.data.sample import Batch
from blur2vid.training.loop import Workspace, fit, frozen_identity, run_config

__all__ = ["EndReader", "SideReaderConfig", "canonical_ends", "side_reads", "ordering_identity",
           "train_side_reader", "side_scores"]


class EndReader(nn.Module):
    """``blur [B, C, H, W] -> [B, 2, C, H, W]``: the first and the last frame, each the blur plus a
    residual.  A stem, ``depth`` residual blocks with dilations 1, 2, 4, ... (capped at 8) so the
    field of view covers a streak, and a head that starts at zero."""

    def __init__(self, channels: int = 3, width: int = 32, depth: int = 4) -> None:
        super().__init__()
        if width < 1 or depth < 0:
            raise ValueError(f"width must be >= 1 and depth >= 0, got width={width}, depth={depth}")
        self.channels = channels
        self.stem = nn.Conv2d(channels, width, 3, padding=1)
        self.blocks = nn.ModuleList()
        for i in range(depth):
            d = min(2 ** i, 8)
            self.blocks.append(nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 3, padding=d, dilation=d),
                                             nn.ReLU(), nn.Conv2d(width, width, 3, padding=1)))
        self.head = nn.Conv2d(width, 2 * channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, blur: torch.Tensor) -> torch.Tensor:
        if blur.dim() != 4 or blur.shape[1] != self.channels:
            raise ValueError(f"expected a blur of shape [B, {self.channels}, H, W], got {tuple(blur.shape)}")
        h = self.stem(blur)
        for block in self.blocks:
            h = h + block(h)
        out = self.head(torch.relu(h)).unflatten(1, (2, self.channels))
        return blur.unsqueeze(1) + out


@dataclass(frozen=True)
class SideReaderConfig:
    """The end reader and its training: everything that decides a run (and its checkpoint key)."""

    data: DataConfig = DataConfig()
    steps: int = 400
    batch: int = 16
    lr: float = 1e-3
    width: int = 32
    depth: int = 4
    seed: int = 0

    def build(self) -> EndReader:
        """The reader, initialised from ``seed`` (the global RNG is left as it was)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, "side-reader-init"))
            return EndReader(3, self.width, self.depth)


def canonical_ends(frames: torch.Tensor, ordering: nn.Module) -> torch.Tensor:
    """The first and the last frame of each sequence ``[B, T, C, H, W]`` played in ``ordering``'s
    canonical direction: ``[B, 2, C, H, W]``."""
    canon, _ = canonical_order(frames, ordering)
    return canon[:, [0, canon.shape[1] - 1]]


def side_reads(pred: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Per sequence: 1 where the predicted ends ``pred [B, 2, C, H, W]`` are nearer to ``ends`` than
    to ``ends`` swapped, 0 where they are farther, 0.5 on a tie.  ``[B]``, float."""
    if pred.shape != ends.shape or pred.dim() != 5 or pred.shape[1] != 2:
        raise ValueError(f"expected predicted and true ends of one shape [B, 2, C, H, W], got "
                         f"{tuple(pred.shape)} and {tuple(ends.shape)}")
    pred, ends = pred.float(), ends.float()
    # MSE to the ends swapped minus MSE to the ends, halved: exactly 0 when both predictions agree
    margin = ((pred[:, 0] - pred[:, 1]) * (ends[:, 0] - ends[:, 1])).flatten(1).mean(1)
    return (margin > 0).float() + 0.5 * (margin == 0).float()


def ordering_identity(ordering: nn.Module) -> dict:
    """What identifies an ordering in a checkpoint key: its settings for a rule with nothing
    learned (``config_dict`` and no parameters), its architecture and weights otherwise."""
    if not any(True for _ in ordering.parameters()) and hasattr(ordering, "config_dict"):
        return ordering.config_dict()
    return frozen_identity(ordering)


def train_side_reader(ordering: nn.Module, cfg: SideReaderConfig, ws: Workspace = Workspace(),
                      name: str = "side_reader", batches: Callable[[int], Batch] | None = None
                      ) -> tuple[EndReader, list[dict[str, float]]]:
    """Train an end reader against ``ordering``'s canonical direction (the ordering is frozen) on
    ``cfg.batch`` fresh sequences per step, seeded by ``(seed, "side-reader", step)``; returns the
    reader (eval mode) and its history, whose validation entries hold ``val_side`` (the side
    accuracy on the validation scenes).  Resumable through ``ws``'s checkpoints like every run.
    ``batches``: ``step -> Batch`` in place of ``cfg.data``'s sequences (a test's own world; then
    ``cfg.data`` still names the validation scenes, and no checkpoint should be asked for)."""
    if cfg.steps < 0:
        raise ValueError(f"steps must be >= 0, got {cfg.steps}")
    ordering = ordering.to(ws.device).eval().requires_grad_(False)
    reader = cfg.build()
    source = cfg.data.source() if batches is None else None
    config = run_config(cfg, data=cfg.data.identity(), ordering=ordering_identity(ordering))

    def batch_at(step: int) -> Batch:
        if batches is not None:
            return batches(step)
        return source.batch(cfg.batch, derive_seed(cfg.seed, "side-reader", step), ws.device)

    def loss_fn(model: EndReader, batch: Batch):
        with torch.no_grad():
            ends = canonical_ends(batch.frames.float(), ordering)
        loss = (model(batch.blur) - ends).abs().mean()
        return loss, {"l1": loss.detach()}  # read by fit on the steps it logs only

    def validation(model: EndReader, val: Batch) -> dict[str, float]:
        return {"val_side": float(side_scores(model, ordering, val).mean())}

    history = fit(reader, batch_at, loss_fn, steps=cfg.steps, lr=cfg.lr, device=ws.device, config=config,
                  checkpoint=ws.checkpoint(name, config), validate=ws.validator(cfg.data, validation),
                  progress=ws.progress, precision=ws.precision, compile=ws.compile, desc=f"side reader: {name}")
    return reader.eval().requires_grad_(False), history


@torch.no_grad()
def side_scores(reader: EndReader, ordering: nn.Module, test: Batch, batch_size: int = 64) -> np.ndarray:
    """Per held-out sequence, whether ``reader`` reads ``ordering``'s side from the blur alone
    (1, 0, or 0.5 on a tie: :func:`side_reads`): ``[N]``; its mean is the side accuracy."""
    reader.eval()
    scores = []
    for i in range(0, len(test.blur), batch_size):
        frames = test.frames[i:i + batch_size].float()
        scores.append(side_reads(reader(test.blur[i:i + batch_size].float()), canonical_ends(frames, ordering)))
    return torch.cat(scores).cpu().numpy()
