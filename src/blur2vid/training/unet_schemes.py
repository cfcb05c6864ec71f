"""The all-frames U-Net (:class:`~blur2vid.models.unet.SequenceUNet`) trained HyperCUT's four ways.

The second backbone of HyperCUT's pPSNR table (a stand-in for Purohit et al.'s network): one network
that predicts every frame from the blur, trained on sequences in a random time direction with

* ``naive``: the per-frame squared error in the data's order (HyperCUT Eq. 2; notebook 02's run);
* ``order_invariant``: Jin's middle MSE + pair loss (Eq. 5) on every symmetric pair;
* ``hypercut``: the per-frame squared error against the ordering network's canonical order;
* ``order_invariant_reg``: the order-invariant loss + HyperCUT's regulariser (the public code's).

Every scheme starts from the same weights and sees the same batches for the same budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from blur2vid.core.formation import match_blur
from blur2vid.core.metrics import capped, ppsnr
from blur2vid.core.ordering import canonical_order
from blur2vid.core.seeding import derive_seed
from blur2vid.core.tensors import batched, reverse_where
from blur2vid.data.config import DataConfig
from blur2vid.data.sample import Batch
from blur2vid.losses import hypercut_regulariser, naive_loss, pair_losses
from blur2vid.models.unet import SequenceUNet
from blur2vid.training.cascade import REGULARISED_PAIRS
from blur2vid.training.loop import OMIT_DEFAULT, Workspace, check_run, fit, frozen_identity, run_config

__all__ = ["UNetTrainConfig", "UNET_SCHEMES", "UNetScheme", "unet_scheme", "random_direction", "unet_loss",
           "train_unet", "validation_ppsnr", "unet_test_set"]


@dataclass(frozen=True)
class UNetTrainConfig:
    """Everything that decides a U-Net training run (and so its checkpoint key).  The defaults are
    the ``cpu`` profile's."""

    data: DataConfig = DataConfig()
    width: int = 32
    depth: int = 2
    steps: int = 1000
    batch: int = 32
    lr: float = 1e-3  # at 2e-3, 2 of 4 runs met a loss spike (train.SpikeClip); at 1e-3 neither rerun of those did
    seed: int = 0
    # train (and validate) the frames held to the blur (formation.match_blur, Jin Eq. 1), as
    # blur2vid predict --match-blur runs them: the network learns only what differs between frames
    match_blur: bool = field(default=False, metadata=OMIT_DEFAULT)

    def __post_init__(self) -> None:
        check_run(self)
        if not isinstance(self.match_blur, bool):
            raise ValueError(f"match_blur={self.match_blur!r}: expected true or false")

    def build(self) -> SequenceUNet:
        """The network, initialised from the global RNG (seeded by :func:`train_unet`)."""
        return SequenceUNet(n_frames=self.data.n_frames, width=self.width, depth=self.depth)


@dataclass(frozen=True)
class UNetScheme:
    id: str
    label: str
    needs_ordering: bool


UNET_SCHEMES: dict[str, UNetScheme] = {s.id: s for s in [
    UNetScheme("naive", "naive per-frame MSE, random direction (HyperCUT Eq. 2)", False),
    UNetScheme("order_invariant", "Jin order-invariant", False),
    UNetScheme("hypercut", "HyperCUT: per-frame MSE against the canonical order", True),
    UNetScheme("order_invariant_reg", "order-invariant + HyperCUT regulariser (public code)", True),
]}
"""HyperCUT's four training schemes (the rows of its pPSNR table), by id."""


def unet_scheme(scheme: str) -> UNetScheme:
    if scheme not in UNET_SCHEMES:
        raise ValueError(f"unknown U-Net scheme {scheme!r}; expected one of {list(UNET_SCHEMES)}")
    return UNET_SCHEMES[scheme]


def random_direction(batch: Batch, generator: torch.Generator) -> Batch:
    """Reverse each sequence of the batch with probability 1/2 (the blur is unchanged)."""
    flip = torch.rand(len(batch), generator=generator) < 0.5
    return Batch(batch.blur, reverse_where(batch.frames, flip), dict(batch.meta, reversed=flip))


def unet_loss(scheme: str, ordering, pred: torch.Tensor, frames: torch.Tensor):
    """The training loss of ``scheme`` for predictions ``pred`` of ``frames`` (``[B, T, C, H, W]``)."""
    unet_scheme(scheme)
    mid = frames.shape[1] // 2
    if scheme == "naive":
        return naive_loss(pred, frames)
    if scheme == "hypercut":
        with torch.no_grad():
            canonical, flipped = canonical_order(frames, ordering)
        return naive_loss(pred, canonical), {"flipped": flipped.float().mean()}  # fit reads logs when it logs
    invariant = torch.mean((pred[:, mid] - frames[:, mid]) ** 2) + pair_losses(pred, frames)
    if scheme == "order_invariant":
        return invariant
    reg = hypercut_regulariser(ordering, pred, pairs=REGULARISED_PAIRS)  # as on the Jin cascade
    return invariant + reg, {"regulariser": reg.detach()}


def train_unet(scheme: str, cfg: UNetTrainConfig, ordering: torch.nn.Module | None = None,
               ws: Workspace = Workspace(), init: SequenceUNet | None = None) -> tuple[SequenceUNet, list[dict]]:
    """Train the U-Net with ``scheme`` of :data:`UNET_SCHEMES`; ``ordering`` is the frozen ordering
    of the schemes that need one (a :class:`~blur2vid.models.hypercut.HyperCUT` or the hand-made
    :class:`~blur2vid.core.ordering.MotionDirectionOrder`), and its weights are part of the run's key.
    ``init``: a trained U-Net of the same architecture to start from (fine-tuning) instead of a
    random initialisation; its weights are part of the key too.  Returns ``(model in eval mode,
    history)``."""
    s = unet_scheme(scheme)
    depends = {"data": cfg.data.identity()}
    if init is not None:
        theirs, ours = init.config_dict(), cfg.build().config_dict()
        if theirs != ours:
            raise ValueError(f"cannot start from a {theirs}: this run trains a {ours}")
        depends["init"] = frozen_identity(init)
    if s.needs_ordering:
        if ordering is None:
            raise ValueError(f"U-Net scheme {scheme!r} needs an ordering network (ordering=)")
        ordering = ordering.to(ws.device).requires_grad_(False)
        depends["ordering"] = frozen_identity(ordering)
        if scheme == "order_invariant_reg":
            depends["regularised_pairs"] = REGULARISED_PAIRS
    else:
        ordering = None
    run_cfg = run_config(cfg, scheme=scheme, **depends)
    source = cfg.data.source()
    torch.manual_seed(cfg.seed)
    model = cfg.build()
    if init is not None:
        model.load_state_dict(init.state_dict())

    def batch_at(step: int) -> Batch:
        batch = source.batch(cfg.batch, derive_seed(cfg.seed, "train", step), ws.render_device)
        return random_direction(batch, torch.Generator().manual_seed(derive_seed(cfg.seed, "flip", step)))

    def frames(m: torch.nn.Module, blur: torch.Tensor) -> torch.Tensor:
        pred = m(blur)
        return match_blur(pred.float(), blur.float()) if cfg.match_blur else pred

    history = fit(model, batch_at, lambda m, b: unet_loss(scheme, ordering, frames(m, b.blur), b.frames),
                  steps=cfg.steps, lr=cfg.lr, device=ws.device, config=run_cfg,
                  validate=ws.validator(cfg.data, lambda m, val: validation_ppsnr(m, val, cfg.match_blur)),
                  checkpoint=ws.checkpoint(f"unet_{scheme}", run_cfg), progress=ws.progress, precision=ws.precision, compile=ws.compile, desc=f"U-Net {scheme}",
                  workers=ws.workers)
    return model.eval(), history


def validation_ppsnr(model: torch.nn.Module, val: Batch, hold: bool = False) -> dict[str, float]:
    """A sequence network's learning-curve score: its mean pPSNR on the validation batch (its frames
    held to the blur first when ``hold``)."""
    pred = batched(model, val.blur, 64, clamp=True)
    if hold:
        pred = match_blur(pred.float(), val.blur.float())
    return {"val_ppsnr": capped(ppsnr(pred.float(), val.frames)).mean().item()}


def unet_test_set(cfg: UNetTrainConfig, n: int, device="cpu") -> Batch:
    """The frozen test set of notebooks 02 and 06 (the same scenes for every training seed), or the
    test windows of the data folder."""
    return cfg.data.test_set(n, device)
