"""Notebook 05, HyperCUT's ordering network: the orderings trained (the paper's generic embedding,
our antisymmetric one with and without the crop-consistency term) beside the hand-made rule, the
ordering table on held-out sequences, HyperCUT Fig. 1 from the learned embeddings, and the claims."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import torch

from blur2vid.core.formation import add_noise
from blur2vid.core.ordering import (
    con_at_k,
    flip_fraction,
    hit_rate,
    hits,
    order_stability,
    random_crop,
    random_shift,
)
from blur2vid.data.sample import Batch
from blur2vid.experiments.claims import claims_table, fact, margin_claim
from blur2vid.experiments.tables import rows_of, scene_table
from blur2vid.training.cascade import hand_made_order
from blur2vid.training.hyperplane import HyperCUTTrainConfig, train_ordering
from blur2vid.training.inferability import SideReaderConfig, side_scores, train_side_reader
from blur2vid.training.loop import Workspace

__all__ = ["Ordering", "ORDERINGS", "OrderingExperimentConfig", "train_orderings", "ordering_test_set",
           "ordering_table", "hit_table", "side_table", "training_histories", "embedding_projection", "claims",
           "GENERIC_HIT", "SIDE_COLUMN"]


@dataclass(frozen=True)
class Ordering:
    """One way to order a sequence: an ordering network trained with ``embedding`` settings over the
    training config, or (``embedding=None``) the hand-made rule."""

    id: str
    label: str
    embedding: dict[str, Any] | None

    @property
    def learned(self) -> bool:
        return self.embedding is not None


ORDERINGS: dict[str, Ordering] = {o.id: o for o in [
    Ordering("generic", "generic (paper)", dict(antisymmetric=False, normalize=False)),
    Ordering("antisymmetric", "antisymmetric (ours)", dict(antisymmetric=True, normalize=False)),
    Ordering("antisymmetric_crop", "antisymmetric + crop consistency (ours)",
             dict(antisymmetric=True, normalize=False, crop_weight=1.0)),
    Ordering("readable", "antisymmetric + crop + readable from the blur (ours)",
             dict(antisymmetric=True, normalize=False, crop_weight=1.0, read_weight=1.0)),
    Ordering("motion_rule", "motion rule (hand-made)", None),
]}
"""The orderings, by id: the paper's generic embedding with its loss, the antisymmetric embedding,
the antisymmetric embedding with the crop-consistency term
(:func:`blur2vid.training.hyperplane.crop_consistency_loss`), the same trained to be readable from the
blur (:func:`blur2vid.training.hyperplane.read_loss`, ours), and the hand-made reference
(:class:`~blur2vid.core.ordering.MotionDirectionOrder`: "the content moves right").  (The ordering loss's
standardised form, ``normalize=True``, stays in the library: it rescued a generic embedding that
collapsed onto the hyperplane on the sprite scenes, Hit 0.1; on camera pans the paper's loss
reaches Hit 0.96 and the standardised one collapsed instead, Hit 0.13.)"""


def _check_ids(ids) -> None:
    unknown = [i for i in ids if i not in ORDERINGS]
    if unknown:
        raise ValueError(f"unknown orderings {unknown}; expected some of {list(ORDERINGS)}")


@dataclass(frozen=True)
class OrderingExperimentConfig:
    """Notebook 05: the ordering network's training configuration (the embedding settings of each
    :data:`ORDERINGS` entry go on top), the orderings to compare, and the test-set size."""

    train: HyperCUTTrainConfig = HyperCUTTrainConfig()
    orderings: tuple[str, ...] = tuple(ORDERINGS)
    n_test: int = 256
    reader: SideReaderConfig = SideReaderConfig()  # the end reader of the side-accuracy column

    def __post_init__(self) -> None:
        _check_ids(self.orderings)


def train_orderings(cfg: HyperCUTTrainConfig, ids, ws: Workspace) -> tuple[dict[str, torch.nn.Module], dict[str, list]]:
    """Train one ordering network per learned id of ``ids`` (:data:`ORDERINGS`) and build the
    hand-made rule (nothing to train: an empty history); returns ``({id: ordering}, {id: history})``,
    every ordering frozen, in eval mode.  The hand-made rule compares shifts up to the data's
    ``max_shift``; on footage that is only a guess at how far its content moves over a window."""
    _check_ids(ids)
    models, histories = {}, {}
    for oid in ids:
        spec = ORDERINGS[oid]
        if not spec.learned:
            models[oid], histories[oid] = hand_made_order(cfg.data), []
            continue
        train = replace(cfg, **spec.embedding)
        hc = train.build()
        histories[oid] = train_ordering(hc, train, ws)
        models[oid] = hc.eval().requires_grad_(False)
    return models, histories


def ordering_test_set(cfg: HyperCUTTrainConfig, n: int, device="cpu") -> Batch:
    """Held-out sequences for the ordering metrics (scenes the ordering networks never saw, or the
    test split of the data folder)."""
    return cfg.data.test_set(n, device, "ordering")


@torch.no_grad()
def ordering_table(orderings: dict[str, torch.nn.Module], frames: torch.Tensor, seed: int = 0,
                   sides: pd.DataFrame | None = None) -> pd.DataFrame:
    """HyperCUT's ordering table on held-out sequences, one row per ordering id: Hit, Con@2, Con@3,
    the fraction flipped, the mean |score|, and how often the side survives a crop (7/8 of the
    side), a 2-pixel shift and 2% noise; with ``sides`` (:func:`side_table`, ours), the side
    accuracy from the blur."""
    size = frames.shape[-1]
    rows = {}
    for oid, hc in orderings.items():
        row: dict[str, Any] = {"label": ORDERINGS[oid].label if oid in ORDERINGS else oid, "Hit": hit_rate(hc, frames)}
        if hc.mode == "pair":
            row["Con@2"] = con_at_k(hc, frames, 2)
            row["Con@3"] = con_at_k(hc, frames, 3)
        row["flipped"] = flip_fraction(hc, frames)
        row["mean |score|"] = hc.score(frames).abs().mean().item()
        row["stable: crop"] = order_stability(hc, frames, lambda f: random_crop(f, size - size // 8, seed=seed))
        row["stable: shift 2px"] = order_stability(hc, frames, lambda f: random_shift(f, 2, seed=seed))
        row["stable: noise 2%"] = order_stability(hc, frames, lambda f: add_noise(f, 0.02, _generator(seed), clamp=False))
        if sides is not None:
            row[SIDE_COLUMN] = float(rows_of(sides, oid)[SIDE_COLUMN].mean())
        rows[oid] = row
    df = pd.DataFrame(rows).T.rename_axis("id")
    return df.astype({c: float for c in df.columns if c != "label"})


@torch.no_grad()
def embedding_projection(hypercut: torch.nn.Module, frames: torch.Tensor, seed: int = 0) -> pd.DataFrame:
    """HyperCUT Fig. 1 from learned embeddings: each sequence and its reverse, projected on the
    hyperplane's normal (the signed distance, bias included) and on one random direction orthogonal
    to it."""
    x = frames if hypercut.mode == "sequence" else frames[:, [0, frames.shape[1] - 1]]
    emb_f, emb_r = hypercut.embedding(x), hypercut.embedding(x.flip(1))
    normal = hypercut.hyperplane.normal
    other = torch.randn(normal.shape, generator=torch.Generator().manual_seed(seed)).to(normal)
    other = other - (other @ normal) * normal
    other = other / other.norm()
    rows = []
    for label, e in (("forward", emb_f), ("reversed", emb_r)):
        dist = hypercut.hyperplane(e).tolist()  # read from the device once, not twice per sequence
        along = torch.stack([e[i] @ other for i in range(len(e))]).tolist()
        for i in range(len(e)):
            rows.append({"sequence": i, "direction": label, "signed_distance": dist[i], "other_direction": along[i]})
    return pd.DataFrame(rows)


SIDE_COLUMN = "side from blur"


def side_table(orderings: dict[str, torch.nn.Module], cfg: SideReaderConfig, test: Batch, ws: Workspace
               ) -> tuple[pd.DataFrame, dict[str, list]]:
    """Ours: per held-out sequence and ordering, whether a small network reads the ordering's side
    from the blurry image alone (1, 0, or 0.5 on a tie; :mod:`blur2vid.training.inferability`), one end
    reader trained per ordering with ``cfg``; a scene table (column :data:`SIDE_COLUMN`), and the
    readers' histories by ordering id."""
    rows, histories = {}, {}
    for oid, ordering in orderings.items():
        reader, histories[oid] = train_side_reader(ordering, cfg, ws, name=f"side_reader_{oid}")
        label = ORDERINGS[oid].label if oid in ORDERINGS else oid
        rows[oid] = (label, side_scores(reader, ordering, test)[:, None])
    return scene_table(rows, columns=[SIDE_COLUMN], mean=False), histories


def training_histories(histories: dict[str, list]) -> dict[str, list]:
    """The learned orderings' training histories, keyed by label (for :func:`plots.curves_figure`)."""
    return {ORDERINGS[o].label: h for o, h in histories.items() if h}


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


GENERIC_HIT = 0.95
"""The paper's ordering network counts as separating sequences from their reverses at this Hit."""


@torch.no_grad()
def hit_table(orderings: dict[str, torch.nn.Module], frames: torch.Tensor) -> pd.DataFrame:
    """Per held-out sequence and ordering: 1 when the sequence and its reverse fall on opposite sides
    (the scenes behind the table's ``Hit``; a scene table of :mod:`~blur2vid.experiments.tables`)."""
    return scene_table({oid: (ORDERINGS[oid].label if oid in ORDERINGS else oid,
                              hits(hc, frames).float().cpu().numpy()[:, None]) for oid, hc in orderings.items()},
                       columns=["Hit"], mean=False)


def claims(table: pd.DataFrame, hit_scenes: pd.DataFrame, sides: pd.DataFrame | None = None) -> pd.DataFrame:
    """Notebook 05's claims: the paper's generic embedding separates held-out sequences from their
    reverses (its Hit per sequence, judged by its interval against :data:`GENERIC_HIT`), and, by
    construction, every antisymmetric one does (facts, from the ordering ``table``).  With
    ``sides`` (:func:`side_table`), ours: for every ordering, a reference row on whether its side
    can be read from the blur better than a coin (the side accuracy's interval against 0.5)."""
    rows = [margin_claim("hypercut.ordering.generic_hit", "the paper's generic ordering network puts held-out "
                         "sequences and their reverses on opposite sides (Hit)",
                         rows_of(hit_scenes, "generic")["Hit"].to_numpy(), threshold=GENERIC_HIT, unit="")]
    for oid in table.index:
        if ORDERINGS.get(oid) and (ORDERINGS[oid].embedding or {}).get("antisymmetric"):
            rows.append(fact(f"hypercut.ordering.{oid}_hit", f"Hit = 1 by construction for {ORDERINGS[oid].label}",
                             table.loc[oid, "Hit"] == 1.0, table.loc[oid, "Hit"]))
    if sides is not None:
        for oid in dict.fromkeys(sides.index.get_level_values("id")):
            label = ORDERINGS[oid].label if oid in ORDERINGS else oid
            rows.append(margin_claim(f"hypercut.ordering.{oid}_side_readable",
                                     f"ours: a small network reads the side of {label} from the blur alone, "
                                     "better than a coin (side accuracy)",
                                     rows_of(sides, oid)[SIDE_COLUMN].to_numpy(), threshold=0.5, kind="reference",
                                     unit=""))
    return claims_table(rows)
