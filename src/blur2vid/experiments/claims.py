"""Claims: what a notebook concludes, each with a stable id, a measured value and whether it held.

A claim is computed once, here in the library, from the notebook's tables; the notebook saves the
claims table (``<topic>_claims.csv``) and the registry (:mod:`blur2vid.paper`) reads its verdicts
from those files by id.  Labels are for people; code finds a claim by its id only.

Kinds:

* ``claim``: something a paper says, measured here;
* ``premise``: what the claims of an item need (e.g. that the networks learned anything); where a
  premise fails, the item's claims are not evidence whatever their margins;
* ``fact``: an identity that holds by construction or mathematics (a loss's invariance); notebooks
  assert these at every profile (:func:`assert_facts`);
* ``reference``: a comparison of ours beside the paper's claims (not part of any verdict).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["Claim", "KINDS", "MIN_MARGIN_DB", "margin_claim", "threshold_claim", "fact", "claims_table",
           "assert_facts"]

MIN_MARGIN_DB = 0.1
"""A dB margin counts as a held claim when it exceeds this (smaller is within noise)."""

KINDS = ("claim", "premise", "fact", "reference")


@dataclass(frozen=True)
class Claim:
    id: str
    label: str
    value: float
    holds: bool
    kind: str = "claim"
    unit: str = "dB"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: unknown kind {self.kind!r}; expected one of {KINDS}")
        if not self.id or " " in self.id:
            raise ValueError(f"claim id {self.id!r} must be a non-empty dotted name without spaces")


def margin_claim(id: str, label: str, margin_db: float, kind: str = "claim") -> Claim:
    """A claim that one result beats another by more than :data:`MIN_MARGIN_DB` (a NaN margin,
    e.g. a comparison with no data, does not hold)."""
    margin = float(margin_db)
    return Claim(id, label, margin, bool(margin > MIN_MARGIN_DB), kind, "dB")


def threshold_claim(id: str, label: str, value: float, *, above: float | None = None, below: float | None = None,
                    at_least: float | None = None, unit: str = "", kind: str = "claim") -> Claim:
    """A claim that a measured ``value`` lies above ``above``, below ``below`` or at ``at_least`` or more."""
    if sum(x is not None for x in (above, below, at_least)) != 1:
        raise ValueError("threshold_claim needs exactly one of above=, below=, at_least=")
    value = float(value)
    holds = value > above if above is not None else value < below if below is not None else value >= at_least
    return Claim(id, label, value, bool(holds and not math.isnan(value)), kind, unit)


def fact(id: str, label: str, holds: bool, value: float = float("nan"), unit: str = "") -> Claim:
    """An identity that must hold (see :func:`assert_facts`)."""
    return Claim(id, label, float(value), bool(holds), "fact", unit)


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    """The claims as a table indexed by id: ``claim`` (label), ``kind``, ``value``, ``unit``, ``holds``."""
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claim ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    df = pd.DataFrame([{"id": c.id, "claim": c.label, "kind": c.kind, "value": c.value, "unit": c.unit,
                        "holds": c.holds} for c in claims],
                      columns=["id", "claim", "kind", "value", "unit", "holds"])
    return df.set_index("id")


def assert_facts(table: pd.DataFrame) -> pd.DataFrame:
    """Raise ``AssertionError`` naming every ``fact`` of ``table`` that does not hold; return the
    table (so a notebook can show it)."""
    facts = table[table["kind"] == "fact"]
    failed = facts[~facts["holds"].astype(bool)]
    if len(failed):
        raise AssertionError("identities that must hold do not: " + "; ".join(f"{i} ({r.claim})"
                                                                              for i, r in failed.iterrows()))
    return table
