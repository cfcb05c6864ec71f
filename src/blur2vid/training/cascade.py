"""The training procedure of Jin et al. (CVPR 2018), Table 1, and the variants of its ablation (Fig. 4).

Table 1 trains the cascade in three steps:

1. the middle network ``phi_4`` with ``L_middle`` (Eq. 3: MSE + perceptual);
2. ``phi_3`` and ``phi_5`` with the pair loss of the core pair (Eq. 5) (+ adversarial terms);
3. the outer networks (frames 2/6 and 1/7, each shared by its two sides) with losses that follow the
   temporal order chosen by step 2 (+ adversarial terms).

With *teacher forcing* (Sec. 7, the paper's default and ours) steps 2 and 3 receive the ground-truth
middle frame instead of ``phi_4(y)``; otherwise they receive the frozen middle network's estimate.

The ablation variants (Fig. 4) differ in the loss of the non-middle networks and in what they see:

============================  ===================  ==================  ========
variant                       loss                 middle input        schedule
============================  ===================  ==================  ========
``independent``               per-frame MSE        none (the blur)     joint
``global``                    Eq. 4                none (the blur)     joint
``pair_no_middle``            Eq. 5, every pair    none (the blur)     staged
``pair``                      Eq. 5, every pair    estimated middle    staged
``sequential``                Table 1              estimated middle    staged
``teacher_forcing``           Table 1              ground truth        staged
``naive_order``               per-frame MSE        ground truth        staged
``hypercut_order``            per-frame MSE,       ground truth        staged
                              canonical order
``table1_regulariser``        Table 1 + HyperCUT   ground truth        staged
                              regulariser
``hand_made_order``           per-frame MSE,       ground truth        staged
                              hand-made order
============================  ===================  ==================  ========

The last three are HyperCUT's schemes on this backbone (its pPSNR table; Jin's own scheme there is
``teacher_forcing``): the data's (random) order, an ordering network's canonical order
(:func:`~blur2vid.core.ordering.canonical_order`), and Table 1 plus ``0.2 softplus(-h(prediction))``.
They need the ordering network (``ordering=`` of :func:`train_frames`).  ``hand_made_order`` is ours,
beyond both papers: the oracle reference, per-frame MSE against the hand-made rule's order ("the
content moves right", :func:`hand_made_order`), trained exactly like the others.

"none" feeds the blurry image where the middle estimate would go, so every variant uses the same
networks.  A joint variant trains all four non-middle networks together for the steps of steps 2
and 3 combined; a staged one trains step 2 (frames 3 and 5), freezes it, then trains step 3 (frames
1, 2, 6, 7).  Jin's staged variants use Eq. 5 on the pair 3/5 in step 2, then the pairwise ones Eq. 5
on the pairs 2/6 and 1/7, the sequential ones per-frame L1 against the order step 2 chose; HyperCUT's
use their own loss in both steps (below).  So ``pair`` and ``sequential`` differ only at frames 1, 2, 6, 7, as
in the paper; their step 2 is the same run, trained once and shared through its checkpoint.  One difference from the paper's pairwise scheme remains: our outer networks take the
core pair's frames as inputs (the cascade of Sec. 5.3), where Sec. 5.2 feeds each pair only the
blur, the middle and its partner.  Every variant starts from the same initial weights and sees the
same batch sequence (step 3 continues the stream where step 2 stopped), and every sequence comes in
a random direction.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from blur2vid.core.metrics import capped, ppsnr, psnr
from blur2vid.core.ordering import MotionDirectionOrder, canonical_order
from blur2vid.core.seeding import derive_seed
from blur2vid.core.tensors import batched, reverse_where
from blur2vid.data.augment import augment
from blur2vid.data.config import DataConfig
from blur2vid.data.sample import Batch
from blur2vid.data.scenes import SceneConfig
from blur2vid.losses import (
    PerceptualLoss,
    adversarial_losses,
    best_order_pair_loss,
    global_loss,
    hypercut_regulariser,
    independent_loss,
    middle_loss,
    pair_losses,
    sequential_loss,
)
from blur2vid.models.discriminator import PatchDiscriminator
from blur2vid.models.jin import JinCascade, JinConfig
from blur2vid.training import distributed
from blur2vid.training.loop import Workspace, fit, frozen_identity, run_config, weights_digest

__all__ = [
    "JIN_VARIANTS",
    "JinVariant",
    "JinTrainConfig",
    "training_batches",
    "train_middle",
    "train_frames",
    "predict_variant",
    "jin_variant",
    "middle_run_config",
    "REGULARISER_WEIGHT",
    "REGULARISED_PAIRS",
    "hand_made_order",
]


@dataclass(frozen=True)
class JinVariant:
    name: str
    label: str
    loss: str            # "independent" | "global" | "pair" | "table1" | "naive" | "hypercut" | "table1_reg"
                         # | "hand_made"
    middle_input: str    # "none" | "estimated" | "ground_truth"
    staged: bool
    panel: str           # where it appears in the paper

    @property
    def needs_ordering(self) -> bool:
        """Whether training needs an ordering network (HyperCUT's canonical order or regulariser)."""
        return self.loss in ("hypercut", "table1_reg")


JIN_VARIANTS: dict[str, JinVariant] = {v.name: v for v in [
    JinVariant("independent", "independent (per-frame MSE)", "independent", "none", False, "Fig. 4 (a), (g)"),
    JinVariant("global", "global (Eq. 4)", "global", "none", False, "Fig. 4 (b), (h)"),
    JinVariant("pair_no_middle", "pairwise, no middle input", "pair", "none", True, "Fig. 4 (c), (i)"),
    JinVariant("pair", "pairwise + middle input", "pair", "estimated", True, "Fig. 4 (d), (j)"),
    JinVariant("sequential", "sequential pairwise", "table1", "estimated", True, "Fig. 4 (e), (k)"),
    JinVariant("teacher_forcing", "sequential + teacher forcing", "table1", "ground_truth", True, "Fig. 4 (l)"),
    # HyperCUT's pPSNR table with the Jin backbone: Jin's own method is ``teacher_forcing``; these three
    # train the same networks on the same schedule (staged, teacher forcing) with other losses
    JinVariant("naive_order", "naive per-frame MSE, random direction", "naive", "ground_truth", True,
               "HyperCUT Eq. 2"),
    JinVariant("hypercut_order", "per-frame MSE against HyperCUT's canonical order", "hypercut", "ground_truth",
               True, "HyperCUT pPSNR table"),
    JinVariant("table1_regulariser", "Table 1 + HyperCUT regulariser", "table1_reg", "ground_truth", True,
               "HyperCUT public code"),
    # ours: the frames' true order up to the one rule "the content moves right", per-frame loss; it
    # tells "can this backbone learn the frames at all" from "can it choose a direction"
    JinVariant("hand_made_order", "per-frame MSE against the hand-made order (oracle)", "hand_made",
               "ground_truth", True, "ours: oracle reference"),
]}



def jin_variant(name: str) -> JinVariant:
    """The variant ``name`` of :data:`JIN_VARIANTS`, with a clear error for another name."""
    if name not in JIN_VARIANTS:
        raise ValueError(f"unknown Jin variant {name!r}; expected one of {list(JIN_VARIANTS)}")
    return JIN_VARIANTS[name]

REGULARISER_WEIGHT = 0.2
"""Weight of HyperCUT's regulariser on the predicted frames (the public code's)."""

REGULARISED_PAIRS = "outer"
"""Which predicted pairs HyperCUT's regulariser scores (:func:`~blur2vid.losses.hypercut_regulariser`):
the order-deciding outermost pair.  Scoring all three pairs of 7 frames made the all-frames U-Net's
regularised run 2.1x slower than the order-invariant one (259 s against 107 s at the ``cpu`` profile)."""


@dataclass(frozen=True)
class JinTrainConfig:
    """Everything that decides a Jin training run (and so its checkpoint key).  The defaults are
    the ``cpu`` profile's.

    ``core_warmup`` (ours; 0 is the paper's procedure): for that fraction of step 2's steps, the
    core pair of the schemes whose step 2 is Eq. 5 trains with :func:`~blur2vid.losses.best_order_pair_loss`
    instead (the per-frame MSE in the order nearer to the pair, chosen per image), then with Eq. 5.
    At zero initialisation ``x3 = x5`` and Eq. 5's ``|x3 - x5|`` term has no gradient; with it alone
    the frame-3 and frame-5 networks (cpu preset, 40 px, 16k samples, validation set) ended 1.1 to
    2.0 dB below copying the middle frame to both, with the warm-up +1.77 dB above it
    (``benchmarks/jin_design.py --stage core``)."""

    data: DataConfig = DataConfig(size=40)  # the 7-frame sequences (scenes or a dataset folder), in crops that
    # suit the resampling factors 4 and 5
    model: str = "cpu"                 # JinConfig preset: smoke | cpu | paper
    zero_init: bool = True             # every network starts as its global skip (JinConfig.zero_init_residual)
    batch_middle: int = 16             # Jin Sec. 7 uses 32 for the middle network
    batch_frames: int = 16             # ... and 24 for the others
    steps_middle: int = 1600
    steps_core: int = 500
    steps_outer: int = 250
    steps_joint: int | None = 500      # the joint schemes' steps 2-3 (None: steps_core + steps_outer)
    lr: float = 1e-3
    core_warmup: float = 0.25          # ours: this fraction of step 2 chooses the order per image first
    adv_weight: float = 0.0            # weight of L_adv in steps 2-3 (0 turns it off)
    augment: bool = True               # channel shuffle, rotation, 1% noise (Jin Sec. 7)
    vgg_weights: str | None = None     # torchvision-format VGG16 file for the perceptual loss
    seed: int = 0

    def __post_init__(self) -> None:
        if self.data.n_frames != 7:
            raise ValueError(f"Jin's cascade extracts 7 frames; the data has {self.data.n_frames}")
        if not 0.0 <= self.core_warmup < 1.0:
            raise ValueError(f"core_warmup is a fraction of step 2 in [0, 1), got {self.core_warmup!r}")
        if self.model not in JinConfig.PRESETS:
            raise ValueError(f"unknown Jin model preset {self.model!r}; expected one of {sorted(JinConfig.PRESETS)}")

    def scenes(self) -> SceneConfig:
        return self.data.scenes()

    @property
    def joint_steps(self) -> int:
        """Steps of a joint scheme, where steps 2 and 3 train together (``independent``, ``global``)."""
        return self.steps_core + self.steps_outer if self.steps_joint is None else self.steps_joint

    def jin_config(self) -> JinConfig:
        return JinConfig.preset(self.model, zero_init_residual=self.zero_init)


def training_batches(cfg: JinTrainConfig, batch_size: int, stream: str, device: torch.device):
    """``step -> Batch``: scenes (or windows of ``cfg.data.data_root``) seeded by (seed, stream, step),
    augmented, in random direction, so a resumed run and every variant see exactly the same data."""
    source = cfg.data.source()

    def batch_at(step: int) -> Batch:
        batch = source.batch(batch_size, derive_seed(cfg.seed, stream, step), device)
        g = torch.Generator().manual_seed(derive_seed(cfg.seed, stream, "aug", step))
        if cfg.augment:
            batch = augment(batch, g)
        flip = torch.rand(len(batch), generator=g) < 0.5
        return Batch(batch.blur, reverse_where(batch.frames, flip), batch.meta)

    return batch_at


MIDDLE_UNUSED = ("steps_core", "steps_outer", "steps_joint", "adv_weight", "batch_frames")
CORE_UNUSED = ("steps_outer", "steps_joint")
"""Fields that do not affect step 2 of a staged scheme: its key leaves them out, so a change of the
outer budget reuses the core networks."""
"""Fields of :class:`JinTrainConfig` that do not affect step 1: the middle network's run leaves them
out of its key, so configurations that differ only there share one middle network."""


def middle_run_config(cfg: JinTrainConfig, unused: tuple[str, ...] = MIDDLE_UNUSED, **extra) -> dict[str, Any]:
    """The run configuration of step 1, and of baselines trained like it on the same batches
    (``extra`` says which; ``unused``: the fields that do not affect them)."""
    return run_config(_fields_except(cfg, unused), data=cfg.data.identity(), **extra)


def _fields_except(cfg: JinTrainConfig, unused: tuple[str, ...]) -> dict[str, Any]:
    """``cfg``'s fields without those a step does not use (its key leaves them out)."""
    return {k: v for k, v in asdict(cfg).items() if k not in unused}


def train_middle(cascade: JinCascade, cfg: JinTrainConfig, ws: Workspace = Workspace()) -> list[dict]:
    """Table 1 step 1: ``phi_4`` with ``L_middle`` (Eq. 3)."""
    perceptual = PerceptualLoss(cfg.vgg_weights).to(ws.device)
    run_cfg = middle_run_config(cfg, step="middle", network=cfg.jin_config().middle_identity())

    def loss_fn(net: nn.Module, batch: Batch):
        return middle_loss(net(batch.blur), batch.frames[:, 3], perceptual)

    return fit(cascade.middle, training_batches(cfg, cfg.batch_middle, "middle", ws.device), loss_fn,
               steps=cfg.steps_middle, lr=cfg.lr, device=ws.device, config=run_cfg,
               validate=ws.validator(cfg.data, validation_middle_psnr),
               checkpoint=ws.checkpoint("jin_middle", run_cfg), progress=ws.progress, precision=ws.precision, compile=ws.compile, desc="step 1: middle")


def validation_middle_psnr(net: nn.Module, val: Batch) -> dict[str, float]:
    """A middle-frame network's learning-curve score: PSNR of its estimate of frame 4 on the
    validation batch."""
    est = batched(net, val.blur, 32, clamp=True)
    return {"val_psnr": capped(psnr(est.float(), val.frames[:, val.frames.shape[1] // 2])).mean().item()}


def _middle_input(cascade: JinCascade, variant: JinVariant, batch: Batch) -> torch.Tensor:
    if variant.middle_input == "ground_truth":
        return batch.frames[:, 3]
    if variant.middle_input == "none":
        return batch.blur
    with torch.no_grad():
        return cascade.middle(batch.blur)


class _FrameNets(nn.Module):
    """The trainable part of a step: some of the cascade's non-middle networks, plus discriminators."""

    ddp_ignore = ("disc",)  # the loss steps the discriminator itself (its gradients averaged there)

    def __init__(self, cascade: JinCascade, names: list[str], adv: bool, width: int, seed: int = 0):
        super().__init__()
        self.nets = nn.ModuleDict({n: getattr(cascade, n) for n in names})
        self.disc = None
        if adv:  # its own seed: the same discriminator whatever ran before in this process
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.disc = PatchDiscriminator(width=width, depth=3)


def _adversarial(module: _FrameNets, d_opt: torch.optim.Optimizer | None, fake: torch.Tensor,
                 real: torch.Tensor) -> torch.Tensor:
    """One discriminator update, then the generator's adversarial term (no gradient into D)."""
    disc = module.disc
    _, d_loss = adversarial_losses(disc, fake.detach(), real)
    d_opt.zero_grad(set_to_none=True)
    d_loss.backward()
    distributed.average_gradients(disc.parameters())  # one discriminator on every rank
    d_opt.step()
    disc.requires_grad_(False)
    g_loss, _ = adversarial_losses(disc, fake, real)
    disc.requires_grad_(True)
    for p in disc.parameters():
        p.grad = None
    return g_loss


def _per_frame_mse(pred: torch.Tensor, target: torch.Tensor, frames: list[int]) -> torch.Tensor:
    """Sum over the (1-based) ``frames`` of the per-frame MSE: ``pred`` holds those frames in order."""
    return ((pred - target[:, [i - 1 for i in frames]]) ** 2).mean(dim=(0, 2, 3, 4)).sum()


def _stage_loss(cascade: JinCascade, variant: JinVariant, stage: str, module: _FrameNets,
                d_opt, cfg: JinTrainConfig, batch: Batch, ordering: nn.Module | None = None):
    x4 = _middle_input(cascade, variant, batch)
    y, target = batch.blur, batch.frames
    logs: dict[str, torch.Tensor] = {}  # detached tensors: fit reads them on the steps it logs only
    if variant.loss in ("hypercut", "hand_made"):  # every target in the ordering's canonical order
        target, flipped = canonical_order(target, ordering)
        logs["flipped"] = flipped.float().mean()
    per_frame = variant.loss in ("naive", "hypercut", "hand_made")
    if stage == "outer":  # step 3 of a staged variant: the core pair is frozen
        with torch.no_grad():
            x3, x5 = cascade.predict_3_5(y, x4)
        x2, x6 = cascade.predict_2_6(y, x3, x4, x5)
        x1, x7 = cascade.predict_1_7(y, x2, x3, x5, x6)
        if per_frame:
            loss = _per_frame_mse(torch.stack([x1, x2, x6, x7], 1), target, [1, 2, 6, 7])
        else:
            preds = {"3_5": torch.stack([x3, x5], 1), "2_6": torch.stack([x2, x6], 1), "1_7": torch.stack([x1, x7], 1)}
            result = sequential_loss(preds, target, outer="pair" if variant.loss == "pair" else "ordered")
            loss = result.terms["2_6"] + result.terms["1_7"]
        fake = torch.cat([x1, x2, x6, x7])
        predicted = torch.stack([x1, x2, x3, x4, x5, x6, x7], 1)
    else:
        x3, x5 = cascade.predict_3_5(y, x4)
        if stage == "core":
            if per_frame:
                loss = _per_frame_mse(torch.stack([x3, x5], 1), target, [3, 5])
            elif batch.meta.get("stage_step", cfg.steps_core) < round(cfg.core_warmup * cfg.steps_core):
                loss = best_order_pair_loss(x3, x5, target)  # the order chosen per image first
            else:
                loss = sequential_loss({"3_5": torch.stack([x3, x5], 1)}, target).terms["3_5"]
            fake = torch.cat([x3, x5])
            predicted = torch.stack([x3, x5], 1)
        else:  # joint: all six non-middle frames
            x2, x6 = cascade.predict_2_6(y, x3, x4, x5)
            x1, x7 = cascade.predict_1_7(y, x2, x3, x5, x6)
            pred = torch.stack([x1, x2, x3, x4, x5, x6, x7], 1)
            keep = [0, 1, 2, 4, 5, 6]
            if variant.loss == "independent":
                loss = independent_loss(pred, target, frames=[1, 2, 3, 5, 6, 7])
            elif variant.loss == "global":
                loss = global_loss(pred, target)
            else:
                loss = pair_losses(pred, target)
            fake = pred[:, keep].flatten(0, 1)
            predicted = pred
    logs["reconstruction"] = loss.detach()
    if variant.loss == "table1_reg":  # the public code's variant: predictions pushed to one side
        reg = hypercut_regulariser(ordering, predicted, weight=REGULARISER_WEIGHT, pairs=REGULARISED_PAIRS)
        logs["regulariser"] = reg.detach()
        loss = loss + reg
    if module.disc is not None and cfg.adv_weight > 0:
        real = target[:, [0, 1, 2, 4, 5, 6]].flatten(0, 1)
        pick = torch.randperm(len(real), generator=torch.Generator().manual_seed(int(batch.meta.get("seed", 0))))
        real = real[pick.to(real.device)[: len(fake)]]
        adv = _adversarial(module, d_opt, fake, real)
        logs["adversarial"] = adv.detach()
        loss = loss + cfg.adv_weight * adv
    return loss, logs


def hand_made_order(data: DataConfig) -> MotionDirectionOrder:
    """The oracle's order: "the content moves right", comparing shifts up to the data's ``max_shift``
    (the hand-made rule of notebook 05)."""
    return MotionDirectionOrder(max_shift=max(1, math.ceil(data.max_shift)))


def _core_kind(v: JinVariant) -> str:
    """What decides step 2 of a staged variant: ``pair`` and ``sequential`` share it (Eq. 5 on the
    pair 3/5, estimated middle), so they share its checkpoint and differ at frames 1, 2, 6, 7 only."""
    return "pair" if v.loss in ("pair", "table1") else v.loss


def train_frames(cascade: JinCascade, variant: str, cfg: JinTrainConfig, ws: Workspace = Workspace(),
                 ordering: nn.Module | None = None) -> list[dict]:
    """Steps 2-3 of Table 1 (staged variants) or their joint counterpart, for one ablation variant.
    The middle network must already be trained (step 1); it stays frozen.  ``ordering``: the
    (frozen) ordering network of the variants that need one (:attr:`JinVariant.needs_ordering`);
    its weights are part of the checkpoint key."""
    v = jin_variant(variant)
    if v.needs_ordering and ordering is None:
        raise ValueError(f"Jin variant {variant!r} needs an ordering network: pass ordering=")
    depends: dict[str, Any] = {"data": cfg.data.identity(), "network": cfg.jin_config()}
    if v.needs_ordering:
        ordering = ordering.to(ws.device).eval().requires_grad_(False)
        depends["ordering"] = frozen_identity(ordering)
        if v.loss == "table1_reg":
            depends["regularised_pairs"] = REGULARISED_PAIRS
    elif v.loss == "hand_made":  # nothing trained: the rule's settings are its identity
        ordering = hand_made_order(cfg.data)
        depends["ordering"] = ordering.config_dict()
    else:
        ordering = None
    if v.middle_input == "estimated":  # the middle network's weights decide what steps 2-3 see
        depends["middle"] = weights_digest(cascade.middle)
    cascade.middle.requires_grad_(False).eval()
    history: list[dict] = []
    schedule = ([("core", ["net3", "net5"], cfg.steps_core), ("outer", ["net26", "net17"], cfg.steps_outer)]
                if v.staged else [("joint", ["net3", "net5", "net26", "net17"], cfg.joint_steps)])
    width = max(8, cascade.config.frame_colour_features)
    for stage, names, steps in schedule:
        module = _FrameNets(cascade, names, cfg.adv_weight > 0, width, derive_seed(cfg.seed, "discriminator", stage)).to(ws.device)
        d_opt = torch.optim.Adam(module.disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) if module.disc else None
        if stage == "core":
            run_cfg = run_config(_fields_except(cfg, CORE_UNUSED), step=stage, core=_core_kind(v), middle_input=v.middle_input, **depends)
            name = f"jin_core_{_core_kind(v)}_{v.middle_input}"
        else:
            run_cfg = run_config(cfg, step=stage, variant=variant, **depends)
            name = f"jin_{variant}_{stage}"
        batches = training_batches(cfg, cfg.batch_frames, "frames", ws.device)
        offset = cfg.steps_core if stage == "outer" else 0  # step 3 continues the stream of step 2

        def loss_fn(m, batch, stage=stage, module=module, d_opt=d_opt):
            return _stage_loss(cascade, v, stage, module, d_opt, cfg, batch, ordering)

        if stage == "outer":
            cascade.net3.requires_grad_(False).eval()
            cascade.net5.requires_grad_(False).eval()
        seen = history[-1]["samples"] if history else 0  # a staged variant's curve runs on through its stages
        def batch_at(step, b=batches, o=offset):  # the stage's own step travels with the batch (warm-up)
            batch = b(step + o)
            return Batch(batch.blur, batch.frames, {**batch.meta, "stage_step": step})

        history += [dict(h, stage=stage, samples=h["samples"] + seen) for h in fit(
            module, batch_at, loss_fn, steps=steps, lr=cfg.lr,
            validate=ws.validator(cfg.data, lambda m, val: _validation_ppsnr(cascade, variant, val)),
            device=ws.device, config=run_cfg, checkpoint=ws.checkpoint(name, run_cfg), progress=ws.progress, precision=ws.precision, compile=ws.compile,
            desc=f"{variant}: {stage}", extra_state={"discriminator_optimizer": d_opt} if d_opt else None)]
    cascade.requires_grad_(True)
    cascade.eval()
    return history


def _validation_ppsnr(cascade: JinCascade, variant: str, val: Batch) -> dict[str, float]:
    """A frame stage's learning-curve score: the whole cascade's mean pPSNR on the validation batch
    (during step 2 the outer networks are still at their initial weights)."""
    pred = predict_variant(cascade, variant, val.blur)
    return {"val_ppsnr": capped(ppsnr(pred.float(), val.frames)).mean().item()}


@torch.no_grad()
def predict_variant(cascade: JinCascade, variant: str, blur: torch.Tensor, middle: str = "estimated",
                   gt_middle: torch.Tensor | None = None, batch_size: int = 32) -> torch.Tensor:
    """All 7 frames from the blur.  Frame 4 is always the middle network's estimate, except with
    ``middle="ground_truth"`` (Fig. 5), where the given ground truth is fed to (and shown for) frame 4.
    With ``middle="estimated"``, variants trained without a middle input get the blur in its place,
    as in training; ``"ground_truth"`` feeds the ground truth to every variant."""
    v = jin_variant(variant)
    if middle not in ("estimated", "ground_truth"):
        raise ValueError(f"middle must be 'estimated' or 'ground_truth', got {middle!r}")
    cascade.eval()
    out = []
    for i in range(0, len(blur), batch_size):
        y = blur[i:i + batch_size]
        est = cascade.middle(y)
        if middle == "ground_truth":
            if gt_middle is None:
                raise ValueError("middle='ground_truth' needs gt_middle")
            fed = gt_middle[i:i + batch_size]
        else:
            fed = y if v.middle_input == "none" else est
        frames = cascade(y, middle=fed)
        if middle != "ground_truth":
            frames[:, 3] = est
        out.append(frames.clamp(0, 1))
    return torch.cat(out)
