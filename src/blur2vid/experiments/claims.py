"""Claims: what a notebook concludes, each with a stable id, a measured value and a verdict.

A claim is computed once, here in the library, from the notebook's tables; the notebook saves the
claims table (``<topic>_claims.csv``) and the registry (:mod:`blur2vid.reproduction.registry`) reads its verdicts
from those files by id.  Labels are for people; code finds a claim by its id only.

Kinds:

* ``claim``: something a paper says, measured here;
* ``premise``: what the claims of an item need (e.g. that the networks learned anything); where a
  premise does not hold, the item's claims are not evidence whatever their margins;
* ``fact``: an identity that holds by construction or mathematics (a loss's invariance); notebooks
  assert these at every profile (:func:`assert_facts`);
* ``reference``: a comparison of ours beside the paper's claims (not part of any verdict).

Rules (the ``rule`` column), which decide a claim's ``verdict``:

* ``interval``: a trained claim.  Its *evidence* is one value per test scene (a margin in dB, or a
  per-sequence score), per training seed; the claim's value is their mean and its interval the 95%
  two-level bootstrap of :mod:`~blur2vid.experiments.intervals`.  Verdict ``reproduced`` when the
  interval lies on the claimed side of ``threshold`` (0 for a margin), ``contradicted`` when it lies
  on the other side, ``not shown`` when it straddles it.  The evidence comes from the frozen test
  set, the same scenes for every seed, so the bootstrap treats scenes and seeds as crossed
  (``paired``) wherever every seed has the same number of values.  One notebook run carries one seed, so its
  interval carries the test scenes only; :func:`aggregate_claims` pools the seeds of a batch of runs.
* ``threshold``: a measured value against a fixed threshold (a timing ratio, a toy's identity up to
  a tolerance); no interval applies.  Verdict ``holds`` or ``fails``.
* ``fact``: an identity.  Verdict ``holds`` or ``fails``.

A claims table keeps the evidence of its interval claims in ``table.attrs["evidence"]`` (a long
table ``claim, scene, value``); :meth:`blur2vid.reproduction.runs.NotebookRun.save` writes it beside the claims
as ``<stem>_evidence.csv`` with the run's seed, which is what :func:`aggregate_claims` reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from blur2vid.experiments.intervals import hierarchical_bootstrap, interval_verdict

__all__ = ["claims_view", "Claim", "KINDS", "RULES", "CLAIM_COLUMNS", "margin_claim", "threshold_claim", "fact", "claims_table",
           "evidence_table", "aggregate_claims", "assert_facts"]

KINDS = ("claim", "premise", "fact", "reference")
RULES = ("interval", "threshold", "fact")
CLAIM_COLUMNS = ["claim", "kind", "rule", "value", "low", "high", "threshold", "unit", "seeds", "scenes", "verdict",
                 "holds"]

Evidence = Mapping[int, Sequence[float]]  # training seed -> one value per test scene


@dataclass(frozen=True)
class Claim:
    id: str
    label: str
    value: float
    holds: bool
    kind: str = "claim"
    unit: str = "dB"
    rule: str = "threshold"
    verdict: str = ""
    low: float = float("nan")
    high: float = float("nan")
    threshold: float = float("nan")
    seeds: int = 1
    scenes: int = 0
    evidence: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: unknown kind {self.kind!r}; expected one of {KINDS}")
        if self.rule not in RULES:
            raise ValueError(f"claim {self.id!r}: unknown rule {self.rule!r}; expected one of {RULES}")
        if not self.id or " " in self.id:
            raise ValueError(f"claim id {self.id!r} must be a non-empty dotted name without spaces")
        if not self.verdict:
            object.__setattr__(self, "verdict", "holds" if self.holds else "fails")


def _as_evidence(evidence) -> dict[int, np.ndarray]:
    if evidence is None:
        return {}
    if isinstance(evidence, Mapping):
        groups = {int(k): np.asarray(v, dtype=float).ravel() for k, v in evidence.items()}
    else:
        groups = {0: np.asarray(evidence, dtype=float).ravel()}
    groups = {k: v[np.isfinite(v)] for k, v in groups.items()}  # a scene a comparison could not score
    return {k: v for k, v in groups.items() if v.size}


def margin_claim(id: str, label: str, evidence, *, threshold: float = 0.0, kind: str = "claim",
                 unit: str = "dB") -> Claim:
    """A trained claim judged by its interval (rule ``interval``): ``evidence`` holds one value per
    test scene (an array or Series, for one run) or ``{training seed: values}``; the claim is that
    their mean lies above ``threshold``.  No evidence (``None``, empty, or a NaN, e.g. a comparison a
    dataset cannot make) is ``not shown`` with a NaN value; NaN scenes are left out."""
    groups = _as_evidence(evidence)
    if not groups:
        return Claim(id, label, float("nan"), False, kind, unit, "interval", "not shown", threshold=threshold,
                     seeds=0, scenes=0)
    iv = hierarchical_bootstrap(groups, paired=len({v.size for v in groups.values()}) == 1)
    verdict = interval_verdict(iv, threshold)
    return Claim(id, label, iv.estimate, verdict == "reproduced", kind, unit, "interval", verdict, iv.low, iv.high,
                 threshold, iv.seeds, iv.scenes, groups)


def threshold_claim(id: str, label: str, value: float, *, above: float | None = None, below: float | None = None,
                    at_least: float | None = None, unit: str = "", kind: str = "claim") -> Claim:
    """A claim that a measured ``value`` lies above ``above``, below ``below`` or at ``at_least`` or more
    (rule ``threshold``: for values no interval applies to)."""
    if sum(x is not None for x in (above, below, at_least)) != 1:
        raise ValueError("threshold_claim needs exactly one of above=, below=, at_least=")
    value = float(value)
    holds = value > above if above is not None else value < below if below is not None else value >= at_least
    limit = next(x for x in (above, below, at_least) if x is not None)
    return Claim(id, label, value, bool(holds and not math.isnan(value)), kind, unit, "threshold", threshold=limit)


def fact(id: str, label: str, holds: bool, value: float = float("nan"), unit: str = "") -> Claim:
    """An identity that must hold (see :func:`assert_facts`)."""
    return Claim(id, label, float(value), bool(holds), "fact", unit, "fact")


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    """The claims as a table indexed by id, columns :data:`CLAIM_COLUMNS` (``claim`` is the label);
    the interval claims' evidence is in ``attrs["evidence"]`` (:func:`evidence_table`)."""
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claim ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    df = pd.DataFrame([{"id": c.id, "claim": c.label, "kind": c.kind, "rule": c.rule, "value": c.value, "low": c.low,
                        "high": c.high, "threshold": c.threshold, "unit": c.unit, "seeds": c.seeds,
                        "scenes": c.scenes, "verdict": c.verdict, "holds": c.holds} for c in claims],
                      columns=["id", *CLAIM_COLUMNS]).set_index("id")
    df.attrs["evidence"] = evidence_table(claims)
    return df


def evidence_table(claims: list[Claim]) -> pd.DataFrame:
    """The evidence of the interval claims as a long table: ``claim, seed, scene, value``."""
    rows = [(c.id, seed, scene, float(v)) for c in claims for seed, values in c.evidence.items()
            for scene, v in enumerate(values)]
    return pd.DataFrame(rows, columns=["claim", "seed", "scene", "value"])


def aggregate_claims(tables: Sequence[pd.DataFrame], evidence: pd.DataFrame) -> pd.DataFrame:
    """The claims of a batch of runs (one claims table per training seed, as saved) judged together:
    an ``interval`` claim's interval is re-made from every seed's ``evidence`` (the long tables of
    :func:`evidence_table`, concatenated, each with its run's ``seed``), so it carries the spread
    between seeds as well as between scenes; any other claim holds when it held in every run, with
    its mean value.  Claims missing from some runs are judged on the runs that have them."""
    if not tables:
        raise ValueError("aggregate_claims needs at least one claims table")
    order = list(dict.fromkeys(i for t in tables for i in t.index))
    out = []
    for cid in order:
        rows = pd.DataFrame([t.loc[cid] for t in tables if cid in t.index])
        first = rows.iloc[0]
        unit = first["unit"] if isinstance(first["unit"], str) else ""  # an empty unit reads back as NaN
        if first["rule"] == "interval":
            ev = evidence[evidence["claim"] == cid]
            groups = {int(s): g.sort_values("scene")["value"].to_numpy() for s, g in ev.groupby("seed")}
            out.append(margin_claim(cid, first["claim"], groups, threshold=float(first["threshold"]),
                                    kind=first["kind"], unit=unit))
        else:
            holds = bool(rows["holds"].astype(str).str.lower().eq("true").all())
            value = float(pd.to_numeric(rows["value"], errors="coerce").mean())
            out.append(Claim(cid, first["claim"], value, holds, first["kind"], unit, first["rule"],
                             threshold=float(first["threshold"]), seeds=len(rows)))
    return claims_table(out)


def assert_facts(table: pd.DataFrame) -> pd.DataFrame:
    """Raise ``AssertionError`` naming every ``fact`` of ``table`` that does not hold; return the
    table (so a notebook can show it)."""
    facts = table[table["kind"] == "fact"]
    failed = facts[~facts["holds"].astype(bool)]
    if len(failed):
        raise AssertionError("identities that must hold do not: " + "; ".join(f"{i} ({r.claim})"
                                                                              for i, r in failed.iterrows()))
    return table


def _value_text(row: pd.Series) -> str:
    """A claim's value as it reads: ``+5.99 [+5.81, +6.19] dB`` (an interval claim), ``0.96 (at least
    0.90)`` (a threshold), empty for a fact."""
    if pd.isna(row.get("value")):
        return ""
    unit = f" {row['unit']}" if isinstance(row.get("unit"), str) and row["unit"] else ""
    if pd.notna(row.get("low")) and pd.notna(row.get("high")):
        return f"{row['value']:+.2f} [{row['low']:+.2f}, {row['high']:+.2f}]{unit}"
    bar = f" (threshold {row['threshold']:.2f})" if pd.notna(row.get("threshold")) else ""
    return f"{row['value']:.2f}{unit}{bar}"


def claims_view(claims: pd.DataFrame) -> pd.DataFrame:
    """A claims table as a person reads it in a notebook or the book: the verdict first, the claim
    in full, its value with the interval and unit in one column, the rule, and how many seeds and
    scenes it rests on; a column that says nothing for these claims is left out.  (The saved table
    keeps every column for the code that reads it.)"""
    view = pd.DataFrame({
        "verdict": claims["verdict"],
        "claim": claims["claim"],
        "value": claims.apply(_value_text, axis=1),
        "rule": [rule if pd.isna(bar) or rule == "fact" else f"{rule}, against {bar:g}"
                 for rule, bar in zip(claims["rule"], claims["threshold"], strict=True)],
        "kind": claims["kind"],
        "evidence": [f"{int(se)} seed(s), {int(sc)} scene(s)" if pd.notna(sc) and sc else ""
                     for se, sc in zip(claims["seeds"], claims["scenes"], strict=True)],
    }, index=claims.index)
    empty = [c for c in view.columns if (view[c].astype(str).str.len() == 0).all()]
    return view.drop(columns=empty)
