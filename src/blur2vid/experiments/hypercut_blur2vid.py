"""Notebook 06, blur2vid trained against HyperCUT's order: the pPSNR table on two backbones (the
all-frames U-Net and Jin's cascade), each trained naive / order-invariant / against an order /
order-invariant + regulariser, and the claims read off them.

Every run that notebooks 02 (the naive U-Net), 04 (the middle network and Jin's own
``teacher_forcing`` scheme) and 05 (the ordering networks) trained is reused from its checkpoint:
the configurations here are the same objects as theirs in a profile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from blur2vid.core.io import atomic_write_text, shown_path
from blur2vid.core.tensors import batched
from blur2vid.data.sample import Batch
from blur2vid.experiments.claims import claims_table, margin_claim
from blur2vid.experiments.hypercut_ordering import ORDERINGS, OrderingExperimentConfig
from blur2vid.experiments.jin_training import ORACLE, jin_cascade, jin_middle, jin_test_set
from blur2vid.experiments.tables import BASELINES, outer_gain, ppsnr_table, premise_margin, summary
from blur2vid.models.checkpoint import save_model
from blur2vid.training.cascade import JinTrainConfig
from blur2vid.training.hyperplane import HyperCUTTrainConfig
from blur2vid.training.loop import Workspace, plain
from blur2vid.training.unet_schemes import UNET_SCHEMES, UNetTrainConfig, train_unet, unet_test_set

__all__ = ["HyperCUTExperimentConfig", "JIN_SCHEMES", "row_id", "row_label", "unet_models", "jin_models",
           "unet_test", "unet_table", "jin_table", "predictions", "comparison_groups", "claims", "export_unet_model"]


@dataclass(frozen=True)
class HyperCUTExperimentConfig:
    """Notebook 06: the U-Net run of notebook 02, the Jin training of notebook 04 and the ordering
    training of notebook 05 (the same objects in a profile), the orderings to train against (``main``
    is the ordering of the order-invariant + regulariser scheme; every other one adds a "HyperCUT
    order" row), and the test-set size."""

    unet: UNetTrainConfig = UNetTrainConfig()
    jin: JinTrainConfig = JinTrainConfig()
    ordering: HyperCUTTrainConfig = HyperCUTTrainConfig()
    orderings: tuple[str, ...] = ("readable", "antisymmetric_crop", "antisymmetric", "motion_rule")
    main: str = "readable"                # the learned order the claims judge (ours: readable from the blur)
    n_test: int = 256
    export: str = "motion_rule"          # the ordering whose U-Net is exported as a model file

    def __post_init__(self) -> None:
        OrderingExperimentConfig(self.ordering, self.orderings)  # checks the ids
        for name in (self.main, self.export):
            if name not in self.orderings:
                raise ValueError(f"ordering {name!r} is not among the orderings trained against: {self.orderings}")


JIN_SCHEMES = {"naive": "naive_order", "order_invariant": "teacher_forcing", "hypercut": "hypercut_order",
               "order_invariant_reg": "table1_regulariser"}
"""HyperCUT's four schemes on the Jin backbone, as variants of :mod:`blur2vid.training.cascade`: all staged
with teacher forcing on notebook 04's middle network, so Jin's own scheme (``teacher_forcing``) is
notebook 04's run, reused from its checkpoint."""


def row_id(scheme: str, ordering: str | None = None) -> str:
    """The id of a pPSNR-table row: the scheme, and ``:<ordering id>`` for the schemes that use one."""
    return f"{scheme}:{ordering}" if UNET_SCHEMES[scheme].needs_ordering else scheme


def row_label(scheme: str, ordering: str | None = None) -> str:
    """A row's label for people: the scheme, and for the schemes that use one, the ordering."""
    if not UNET_SCHEMES[scheme].needs_ordering:
        return UNET_SCHEMES[scheme].label
    head = "HyperCUT order" if scheme == "hypercut" else "order-invariant + regulariser"
    return f"{head} [{ORDERINGS[ordering].label}]"


def _rows(cfg: HyperCUTExperimentConfig) -> list[tuple[str, str | None]]:
    """(scheme, ordering) of every row: the four schemes with ``main``, then the other orderings."""
    rows = [(s, cfg.main if UNET_SCHEMES[s].needs_ordering else None) for s in UNET_SCHEMES]
    return rows + [("hypercut", o) for o in cfg.orderings if o != cfg.main]


def unet_models(cfg: HyperCUTExperimentConfig, orderings: dict[str, torch.nn.Module], ws: Workspace
                ) -> dict[str, tuple[str, torch.nn.Module]]:
    """The all-frames U-Net trained every way of :func:`_rows`: ``{row id: (label, model)}``."""
    return {row_id(s, o): (row_label(s, o), train_unet(s, cfg.unet, orderings.get(o), ws)[0]) for s, o in _rows(cfg)}


def jin_models(cfg: HyperCUTExperimentConfig, orderings: dict[str, torch.nn.Module], ws: Workspace
               ) -> dict[str, tuple[str, torch.nn.Module]]:
    """Jin's cascade trained HyperCUT's four ways (:data:`JIN_SCHEMES`, the ordering ``main``) on
    notebook 04's configuration: ``{row id: (label, cascade)}``, each predicting all 7 frames from the
    blur with its own middle estimate.  With the hand-made rule among ``cfg.orderings``, its row
    too: notebook 04's oracle (``hand_made_order``), trained exactly like the HyperCUT order, reused
    from its checkpoint."""
    cascade, _ = jin_middle(cfg.jin, ws)
    middle = cascade.middle.state_dict()
    ordering = orderings[cfg.main]
    models = {row_id(s, cfg.main): (row_label(s, cfg.main), jin_cascade(cfg.jin, v, middle, ws, ordering=ordering)[0])
              for s, v in JIN_SCHEMES.items()}
    if HAND_MADE in cfg.orderings and cfg.main != HAND_MADE:
        models[row_id("hypercut", HAND_MADE)] = (row_label("hypercut", HAND_MADE),
                                                 jin_cascade(cfg.jin, ORACLE, middle, ws)[0])
    return models


def unet_test(cfg: HyperCUTExperimentConfig, device="cpu") -> Batch:
    """Notebook 02's held-out scenes (or test windows), ``cfg.n_test`` of them."""
    return unet_test_set(cfg.unet, cfg.n_test, device)


def unet_table(models: dict[str, tuple[str, torch.nn.Module]], test: Batch) -> pd.DataFrame:
    """The U-Net's per-scene pPSNR table on ``test`` (:func:`unet_test`; a scene table of
    :mod:`~blur2vid.experiments.tables`, HyperCUT's table is its summary)."""
    return ppsnr_table(models, test)


def jin_table(cfg: HyperCUTExperimentConfig, models: dict[str, tuple[str, torch.nn.Module]], device="cpu"):
    """The Jin cascade's per-scene pPSNR table on notebook 04's held-out scenes (or test windows),
    with the baseline rows of the shared middle network first."""
    middle = next(iter(models.values()))[1].middle
    return ppsnr_table(models, jin_test_set(cfg.jin, cfg.n_test, device), middle=middle)


def predictions(models: dict[str, tuple[str, torch.nn.Module]], blur: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every model's frames ``[N, T, C, H, W]`` for the same blurry inputs, keyed by label."""
    return {label: batched(model, blur, 64, clamp=True) for label, model in models.values()}


def comparison_groups(models: dict[str, tuple[str, torch.nn.Module]], test: Batch, n: int = 2) -> dict[str, torch.Tensor]:
    """The ground truth and every model's frames for the first ``n`` blurs of ``test``, keyed by
    label (for :func:`plots.sequence_comparison`)."""
    return {"ground truth": test.frames[:n], **predictions(models, test.blur[:n])}


def _backbone_claims(table: pd.DataFrame, backbone: str, name: str, main: str) -> list:
    naive, inv = row_id("naive"), row_id("order_invariant")
    hc, reg = row_id("hypercut", main), row_id("order_invariant_reg", main)
    prefix = f"hypercut.ppsnr.{backbone}"
    rows = []
    if "baseline_middle" in table.index:
        schemes = [r for r in dict.fromkeys(table.index.get_level_values("id")) if r not in BASELINES]
        rows.append(margin_claim(f"{prefix}.premise", f"{name}: premise: some scheme beats the better baseline "
                                 "(frames 1, 2, 6, 7)", premise_margin(table, schemes), kind="premise"))
    rows += [
        margin_claim(f"{prefix}.order_beats_naive_outer", f"{name}: HyperCUT order beats the naive loss on frames "
                     "1, 2, 6, 7", outer_gain(table, hc, naive)),
        margin_claim(f"{prefix}.order_beats_invariant_outer", f"{name}: HyperCUT order beats the order-invariant loss "
                     "on frames 1, 2, 6, 7", outer_gain(table, hc, inv)),
        margin_claim(f"{prefix}.order_beats_naive_mean", f"{name}: HyperCUT order beats the naive loss on average",
                     outer_gain(table, hc, naive, ["mean"])),
        margin_claim(f"{prefix}.regulariser_helps", f"{name}: the regulariser improves the order-invariant loss",
                     outer_gain(table, reg, inv, ["mean"])),
    ]
    for row in dict.fromkeys(table.index.get_level_values("id")):
        if row.startswith("hypercut:") and row != hc:
            other = row.split(":", 1)[1]
            rows.append(margin_claim(f"{prefix}.reference.{other}", f"{name}: reference: [{ORDERINGS[other].label}] "
                                     "beats the naive loss on frames 1, 2, 6, 7", outer_gain(table, row, naive),
                                     kind="reference"))
    hand = row_id("hypercut", HAND_MADE)
    if hand in table.index and hand != hc:
        # per scene: (learned - naive) - share * (hand-made - naive); its mean > 0 iff the learned order
        # keeps more than ``share`` of the hand-made order's mean gain
        kept = outer_gain(table, hc, naive) - HAND_MADE_SHARE * outer_gain(table, hand, naive)
        rows.append(margin_claim(f"{prefix}.order_keeps_hand_made_gain",
                                 f"{name}: ours: the learned order keeps {HAND_MADE_SHARE:.0%} of the hand-made "
                                 "order's gain over the naive loss (frames 1, 2, 6, 7)", kept, kind="reference"))
    return rows


HAND_MADE = "motion_rule"
"""The hand-made ordering the learned one is measured against."""

HAND_MADE_SHARE = 0.7
"""The share of the hand-made order's gain a learned order should keep (issue 13's goal)."""


def claims(unet: pd.DataFrame, jin: pd.DataFrame, main: str) -> pd.DataFrame:
    """HyperCUT's claims on each backbone (from the per-scene tables of :func:`unet_table` and
    :func:`jin_table`), each with its margin (dB) per test scene: the explicit order (``main``)
    beats the naive and the order-invariant losses on the frames away from the middle, and the
    regulariser helps the order-invariant loss.  Every other ordering's row adds a ``reference``
    claim.  On the Jin backbone (whose table has the baseline rows) a ``premise`` comes first:
    whether any scheme's frames 1, 2, 6, 7 beat the better of the blur and the middle estimate."""
    return claims_table(_backbone_claims(unet, "unet", "U-Net", main) + _backbone_claims(jin, "jin", "Jin cascade", main))


def export_unet_model(cfg: HyperCUTExperimentConfig, models: dict[str, tuple[str, torch.nn.Module]],
                      table: pd.DataFrame, folder: str | Path, profile: str) -> Path:
    """Save the U-Net trained against the order ``cfg.export`` (its row of the pPSNR ``table``,
    scores included in the notes) as a model file for ``blur2vid predict``, with its notes as JSON
    beside it: ``folder/unet_default.pt`` and ``.json``.  The model shipped with the package is the
    ``cpu`` reference run's, trained against the hand-made order."""
    rid = row_id("hypercut", cfg.export)
    data = cfg.unet.data
    where = f"the folder {data.data_root}" if data.data_root else f"procedural scenes ({data.family})"
    path = Path(folder) / "unet_default.pt"
    notes = {
        "trained_by": f"notebook 06_hypercut_blur2vid, profile {profile}: all-frames U-Net, per-frame MSE against "
                      f"the order [{ORDERINGS[cfg.export].label}] on {where}",
        "train_config": plain(cfg.unet),
        "retrain": f"make reproduce PROFILE={profile} (notebook 06's model; the package ships the model of "
                   "blur2vid.app.shipping, trained by blur2vid train on capture-like scenes)",
        "held_out_ppsnr_db": {k: round(float(v), 2) for k, v in summary(table).loc[rid].drop("label").items()},
    }
    save_model(path, models[rid][1], notes)
    atomic_write_text(path.with_suffix(".json"), json.dumps({"file": path.name, **notes}, indent=2) + "\n")
    print(f"model file: blur2vid predict PHOTO --checkpoint {shown_path(path)}")
    return path
