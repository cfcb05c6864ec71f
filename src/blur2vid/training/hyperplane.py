"""Training HyperCUT's ordering network ``H`` on procedural scenes.

Every step renders ``batch`` fresh scenes (``render_scenes(..., derive_seed(seed, "hypercut",
step))``, so a resumed run sees exactly the batches it would have seen) and minimises

* pair mode: the mean over the symmetric pairs ``(x_k, x_{T+1-k})`` of the ordering loss (each pair
  and its swap on opposite sides) plus ``nested_weight`` times the mean over every two pairs of the
  nested-consistency loss (the pairs of one sequence on one side).  The public code weighs the two
  0.5 / 0.5, i.e. ``nested_weight = 1`` up to an overall factor 1/2;
* sequence mode: the ordering loss of the whole sequence (``nested_weight`` does not apply);
* ours, not the paper's, with ``crop_weight > 0``: the crop-consistency term
  (:func:`crop_consistency_loss`), asking that a random crop of a sequence (``crop_fraction`` of its
  side) lies on the side of the whole.  Hit cannot tell an order that follows the motion from one
  that follows the content; this term can, and only the former can be inferred from a blur;
* ours, with ``read_weight > 0``: the *readable* term (:func:`read_loss`).  An end reader
  (:class:`~blur2vid.training.inferability.EndReader`) trains beside ``H`` to predict, from the blur alone,
  the first and last frame of the order ``H`` currently gives; ``H`` is pulled toward the side the
  reader reads, ``softplus(-sigma h(s))`` with ``sigma = +-1`` the reader's side.  The reader can
  only learn what the blur shows, so the two settle on an order a blur2vid network can produce.
  Nothing here sees a motion label or the hand-made rule: only the frames and their blur, which the
  paper's method has too.  The reader is discarded after training (notebook 05 measures every
  ordering with a fresh one).

The optimiser is the public code's Adamax (lr ``5e-4``, constant), through
:func:`blur2vid.training.loop.fit` (checkpoints and resume as everywhere else).  The history logs, every ``log_every`` steps, the loss terms, the Hit rate on the
training batch, the mean ``|score|`` (watch it: a collapse toward the hyperplane shows as ``|score|``
shrinking while Hit stays low) and, in pair mode, Con@2 / Con@3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from blur2vid.core.ordering import hit_rate
from blur2vid.core.seeding import derive_seed
from blur2vid.core.tensors import apply_crop_boxes
from blur2vid.core.tensors import crop_boxes as tensor_crop_boxes
from blur2vid.data.config import DataConfig
from blur2vid.data.sample import Batch
from blur2vid.losses import nested_consistency_loss, ordering_loss, standardize_scores
from blur2vid.models.hypercut import HyperCUT, HyperCUTConfig
from blur2vid.training.inferability import EndReader, side_reads
from blur2vid.training.loop import Workspace, fit, run_config

__all__ = ["HyperCUTTrainConfig", "ordering_batches", "ordering_step_loss", "train_ordering", "crop_boxes",
           "crop_consistency_loss", "read_loss", "READ_FIELDS"]


@dataclass(frozen=True)
class HyperCUTTrainConfig:
    """Everything that decides a HyperCUT training run (and so its checkpoint key).

    ``normalize`` picks the ordering loss's standardised form (see
    :func:`blur2vid.losses.ordering_loss`); ``False`` is the paper's.  ``nested_weight`` applies in
    pair mode only.  The defaults are the paper's choices (generic embedding, plain loss, pair mode,
    Adamax lr 5e-4, batch 8) at the ``cpu`` profile's scale.
    """

    data: DataConfig = DataConfig()    # the sequences (scenes or a dataset folder)
    steps: int = 600
    batch: int = 8                 # the public code's
    lr: float = 5e-4               # the public code's (Adamax)
    dim: int = 64
    width: int = 32
    depth: int = 3
    mode: str = "pair"
    antisymmetric: bool = False
    nested_weight: float = 1.0
    normalize: bool = False
    temperature: float = 1.0
    crop_weight: float = 0.0       # ours, not the paper's: weight of the crop-consistency term
    crop_fraction: float = 0.75    # side of the crop the consistency term compares with the whole
    read_weight: float = 0.0       # ours: weight of the readable term (an end reader trained beside H)
    reader_width: int = 32         # the end reader of the readable term
    reader_depth: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.read_weight < 0:
            raise ValueError(f"read_weight must be >= 0, got {self.read_weight}")

    @property
    def n_frames(self) -> int:
        return self.data.n_frames

    def hypercut_config(self) -> HyperCUTConfig:
        return HyperCUTConfig(n_frames=self.n_frames, channels=3, mode=self.mode, width=self.width,
                              depth=self.depth, dim=self.dim, antisymmetric=self.antisymmetric,
                              plane_seed=derive_seed(self.seed, "hyperplane"))

    def build(self) -> HyperCUT:
        """The network this config describes, initialised from ``seed`` (the global RNG is left as
        it was)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, "hypercut-init"))
            return HyperCUT(self.hypercut_config())


def ordering_batches(cfg: HyperCUTTrainConfig, device: torch.device | str = "cpu"):
    """``step -> Batch``: ``cfg.batch`` scenes (or windows of ``cfg.data.data_root``) seeded by
    ``(seed, "hypercut", step)``.  With ``crop_weight > 0`` each batch also carries, in
    ``meta["crop_boxes"]``, one crop box ``(top, left, height, width)`` per sequence for the
    crop-consistency term, drawn from ``(seed, "crop", step)`` (so a resumed run sees the same)."""
    source = cfg.data.source()

    def batch_at(step: int) -> Batch:
        batch = source.batch(cfg.batch, derive_seed(cfg.seed, "hypercut", step), device)
        if cfg.crop_weight > 0:
            batch.meta = {**batch.meta, "crop_boxes": crop_boxes(batch.frames.shape, cfg.crop_fraction,
                                                                 derive_seed(cfg.seed, "crop", step))}
        return batch

    return batch_at


def crop_boxes(shape: torch.Size | tuple[int, ...], fraction: float, seed: int) -> list[tuple[int, int, int, int]]:
    """One random crop box ``(top, left, height, width)`` per sequence of a ``[B, T, C, H, W]``
    batch, of sides ``round(fraction * H)`` x ``round(fraction * W)``, drawn from ``seed``
    (:func:`blur2vid.core.tensors.crop_boxes`)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1], got {fraction}")
    h, w = shape[-2], shape[-1]
    return tensor_crop_boxes(shape, (max(1, round(fraction * h)), max(1, round(fraction * w))), seed)


def crop_consistency_loss(hypercut: HyperCUT, frames: torch.Tensor, boxes: list[tuple[int, int, int, int]],
                          score_whole: torch.Tensor) -> torch.Tensor:
    """Ours, not the paper's: ``mean softplus(-h(s) * h(crop s))``, small when a crop of a sequence
    lies on the side of the whole sequence.  The ordering loss alone lets the side depend on the
    content (a learned order then flips when the view moves by a few pixels, and a blur2vid network
    cannot infer it from the blur); this term asks that it depend on what a crop keeps: the motion.
    Same form as the nested-pair consistency term."""
    return nested_consistency_loss(score_whole, hypercut.score(apply_crop_boxes(frames, boxes)))


def ordering_step_loss(hypercut: HyperCUT, frames: torch.Tensor, nested_weight: float = 1.0,
                       normalize: bool = False, temperature: float = 1.0, crop_weight: float = 0.0,
                       boxes: list[tuple[int, int, int, int]] | None = None
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The training loss of one batch of sequences ``[B, T, C, H, W]`` and its logs (``hit`` and
    ``score_abs`` of the order-deciding score; ``con2`` / ``con3`` in pair mode; ``crop_loss`` with
    ``crop_weight > 0``, which needs the batch's crop ``boxes``).  The logs are detached 0-dim
    tensors, read by :func:`~blur2vid.training.loop.fit` on the steps it logs only: reading them here would
    make every step wait for the device."""
    logs: dict[str, torch.Tensor] = {}
    if hypercut.mode == "pair":
        pairs = hypercut.pairs(frames)                      # [B, K, 2, C, H, W]
        b, k = pairs.shape[:2]
        fwd, rev = hypercut.score_both(pairs.flatten(0, 1))
        fwd, rev = fwd.view(b, k), rev.view(b, k)
        order = ordering_loss(fwd, rev, normalize=normalize, temperature=temperature)
        # the nested term sees the scores the ordering term sees (standardised when normalising)
        same = standardize_scores(fwd, rev)[0] * math.sqrt(temperature) if normalize else fwd
        nested = fwd.new_zeros(())
        combos = [(i, j) for i in range(k) for j in range(i + 1, k)]
        if combos:
            nested = sum(nested_consistency_loss(same[:, i], same[:, j]) for i, j in combos) / len(combos)
        loss = order + nested_weight * nested
        logs["nested_loss"] = nested.detach()
        with torch.no_grad():
            sides = fwd >= 0
            for kk in (2, 3):
                if kk <= k:
                    logs[f"con{kk}"] = (sides[:, :kk] == sides[:, :1]).all(dim=1).float().mean()
        outer_f, outer_r = fwd[:, 0], rev[:, 0]
    else:
        outer_f, outer_r = hypercut.score_both(frames)
        order = ordering_loss(outer_f, outer_r, normalize=normalize, temperature=temperature)
        loss = order
    if crop_weight > 0:
        if boxes is None:
            raise ValueError("crop_weight > 0 needs the batch's crop boxes (see ordering_batches)")
        crop = crop_consistency_loss(hypercut, frames, boxes, outer_f)
        loss = loss + crop_weight * crop
        logs["crop_loss"] = crop.detach()
    logs["order_loss"] = order.detach()
    with torch.no_grad():
        logs["hit"] = (outer_f * outer_r < 0).float().mean()
        logs["score_abs"] = outer_f.abs().mean()
    return loss, logs


def read_loss(hypercut: HyperCUT, reader: EndReader, frames: torch.Tensor, blur: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Ours: the readable term of one batch, ``(reader_loss, agreement, logs)``.

    ``reader_loss``: the per-frame L1 of the reader's two ends, from ``blur``, against the first
    and last frame of ``hypercut``'s current canonical order (no gradient into ``hypercut``).
    ``agreement``: ``mean softplus(-sigma h(s))`` over the sequences the reader reads a side of,
    where ``sigma = +1`` when its ends are nearer to ``(x_1, x_T)`` than to ``(x_T, x_1)``
    (:func:`~blur2vid.training.inferability.side_reads`), ``-1`` when farther; a tie pulls nowhere.  Logs:
    ``read_agree``, the fraction of sequences whose side the reader reads as ``H`` puts it (detached
    tensors, as :func:`ordering_step_loss`'s)."""
    score = hypercut.score(frames)
    ends = frames[:, [0, frames.shape[1] - 1]]
    with torch.no_grad():
        canon = torch.where((score < 0).view(-1, 1, 1, 1, 1), ends.flip(1), ends)
    pred = reader(blur)
    reader_loss = (pred - canon).abs().mean()
    with torch.no_grad():
        sigma = 2 * side_reads(pred.detach(), ends) - 1          # +1, -1, or 0 on a tie
    agreement = (torch.nn.functional.softplus(-sigma * score) * sigma.abs()).sum() / sigma.abs().sum().clamp_min(1)
    logs = {"reader_loss": reader_loss.detach(), "read_agree": ((sigma * score) > 0).float().mean()}
    return reader_loss, agreement, logs


class _Readable(torch.nn.Module):
    """What the readable term trains: the ordering network and its end reader, one optimiser."""

    def __init__(self, hypercut: HyperCUT, reader: EndReader) -> None:
        super().__init__()
        self.hypercut, self.reader = hypercut, reader


READ_FIELDS = ("read_weight", "reader_width", "reader_depth")
"""Fields of :class:`HyperCUTTrainConfig` left out of a run's key when ``read_weight == 0``, so the
runs made before the readable term existed keep their checkpoints."""


ORDERING_PRECISION = "fp32"
"""The ordering networks train in this precision whatever the run's (see :func:`train_ordering`)."""


def train_ordering(hypercut: HyperCUT, cfg: HyperCUTTrainConfig, ws: Workspace = Workspace(),
                   checkpoint_every: int = 500, log_every: int = 10) -> list[dict[str, float]]:
    """Train ``hypercut``'s embedding (the hyperplane is fixed) for ``cfg.steps`` steps with Adamax
    and return the logged history.  With a checkpoint folder in ``ws``, the run resumes when its
    configuration (``cfg`` and the network's) matches, and saves atomically every
    ``checkpoint_every`` steps and at the end.

    Always in fp32, whatever ``ws.precision``: under bf16 autocast the paper's generic embedding
    collapses to scoring a sequence and its reverse alike (measured at the cpu profile, seed 0: Hit
    0.00 and mean |score| 0.02 on the test set, against Hit 0.96 in fp32), because what decides the
    order is a small difference between the embeddings of ``(x1, x7)`` and ``(x7, x1)``, below bf16's
    resolution.  Its networks are small, so fp32 costs little (:data:`ORDERING_PRECISION`)."""
    if cfg.steps < 0:
        raise ValueError(f"steps must be >= 0, got {cfg.steps}")
    if hypercut.config.n_frames != cfg.n_frames:
        raise ValueError(f"the network embeds {hypercut.config.n_frames} frames, the config renders {cfg.n_frames}")
    ws = replace(ws, precision=ORDERING_PRECISION)
    config = run_config(cfg, model=hypercut.config_dict(), data=cfg.data.identity())
    if cfg.read_weight == 0:
        for name in READ_FIELDS:
            config["config"].pop(name)
    reading = cfg.read_weight > 0

    def loss_fn(model, batch):
        net = model.hypercut if reading else model
        loss, logs = ordering_step_loss(net, batch.frames, cfg.nested_weight, cfg.normalize, cfg.temperature,
                                        cfg.crop_weight, batch.meta.get("crop_boxes"))
        if reading:
            reader_loss, agreement, read_logs = read_loss(net, model.reader, batch.frames, batch.blur)
            loss = loss + reader_loss + cfg.read_weight * agreement
            logs = {**logs, **read_logs}
        return loss, logs

    def validation_hit(model, val) -> dict[str, float]:
        return {"val_hit": hit_rate(model.hypercut if reading else model, val.frames)}

    if reading:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(cfg.seed, "hypercut-reader-init"))
            model = _Readable(hypercut, EndReader(hypercut.config.channels, cfg.reader_width, cfg.reader_depth))
    else:
        model = hypercut
    return fit(model, ordering_batches(cfg, ws.device), loss_fn, steps=cfg.steps, lr=cfg.lr,
               device=ws.device, config=config, checkpoint=ws.checkpoint("hypercut", config),
               validate=ws.validator(cfg.data, validation_hit),
               checkpoint_every=checkpoint_every, grad_clip=None, optimizer="adamax", progress=ws.progress, precision=ws.precision, compile=ws.compile,
               desc="HyperCUT ordering", log_every=log_every, schedule="constant")
