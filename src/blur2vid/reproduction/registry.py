"""The registry: every equation, table and figure of both papers that the companion reproduces.

Each :class:`PaperItem` names the notebook that produces it, the output files (stems under the
profile's output folder), the data it was reproduced on, the paper's own numbers, and a ``verdict``
function that reads our saved outputs and says whether the paper's claim held here, and by which
rule (:mod:`blur2vid.experiments.claims`):

* items judged by **intervals** (trained claims): ``reproduced`` when every claim's 95% interval
  lies on the claimed side, ``contradicted`` when none does and one lies on the other side, ``not
  shown`` when none does otherwise, ``partly reproduced`` when some do; where a premise is not
  shown (the networks did not learn the task), ``not shown`` whatever the margins;
* items judged by **thresholds** (timings, the toys' measured identities): ``reproduced`` when every
  claim holds, ``direction only`` when some do, ``not reproduced`` when none does;
* ``not applicable here``: qualitative items and data we do not have.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from blur2vid.core import published

__all__ = ["PaperItem", "REGISTRY", "EXTRA_FILES", "CLAIM_FILES", "POOLED_SUFFIXES", "SEED_FIGURES", "load_claims",
           "from_claims", "judge", "rule_of", "item_files",
           "missing_outputs", "unregistered_files", "summary_table", "gallery_markdown", "update_readme_gallery",
           "FINDINGS", "findings_markdown", "FINDINGS_START", "FINDINGS_END"]

Verdict = tuple[str, str]  # (our value in words, verdict)

POOLED_SUFFIXES = ("_scenes", "_evidence", "_per_seed")
"""Files that belong to the table of the stem before the suffix (per-scene tables, claims'
evidence, per-seed means)."""
SEED_FIGURES = ("hypercut_seed_spread", "hypercut_seed_spread_jin", "jin_seed_spread")
"""Figures only a batch of seeds has (:data:`blur2vid.reproduction.aggregate.SPREAD_FIGURES`)."""

CLAIM_FILES = "*_claims.csv"
"""The claims tables the notebooks save (``<topic>_claims.csv``, see :mod:`blur2vid.experiments.claims`)."""


def load_claims(folder: Path) -> pd.DataFrame:
    """Every claims table in ``folder``, as one table indexed by claim id."""
    files = sorted(Path(folder).glob(CLAIM_FILES))
    if not files:
        raise FileNotFoundError(f"no claims tables ({CLAIM_FILES}) in {folder}")
    claims = pd.concat([pd.read_csv(f, index_col="id") for f in files])
    claims["holds"] = claims["holds"].astype(str).str.lower() == "true"
    if "rule" not in claims.columns:  # a claims table written before rules existed: thresholds
        claims["rule"] = "threshold"
    return claims


def _number(value: float, unit: str) -> str:
    if unit == "dB":
        return f"{value:+.2f} dB"
    return f"{value:.3g}{unit}" if unit in ("x", "") else f"{value:.3g} {unit}"


def _words(row) -> str:
    value = row["value"]
    if pd.isna(value):
        if row.get("rule") == "interval":
            return "no evidence (not shown)"
        return "held" if row["holds"] else "failed"
    unit = row["unit"] if isinstance(row["unit"], str) else ""
    if row.get("rule") == "interval":
        unit_ = "" if unit == "dB" else unit
        low, high = (f"{row['low']:+.2f}", f"{row['high']:+.2f}") if unit == "dB" else (f"{row['low']:.3g}",
                                                                                    f"{row['high']:.3g}")
        return f"{_number(value, unit)} [{low}, {high}{unit_}] ({row['verdict']})"
    return _number(value, unit)


def _rule(rows: pd.DataFrame) -> str:
    if "rule" in rows.columns and (rows["rule"] == "interval").any():
        iv = rows[rows["rule"] == "interval"]
        seeds, scenes = int(iv["seeds"].max()), int(iv["scenes"].max())
        per_seed = scenes // max(seeds, 1)
        return (f"95% interval, two-level bootstrap over {seeds} training seed{'s' if seeds != 1 else ''} "
                f"x {per_seed} test scenes")
    return "threshold" if "rule" not in rows.columns or (rows["rule"] == "threshold").any() else "identity"


def from_claims(*ids: str) -> Callable[[Path], Verdict]:
    """The verdict of an item judged by the claims ``ids``: ``reproduced`` when every claim and fact
    holds, ``direction only`` when some do, ``not reproduced`` when none do.  A ``premise`` among
    them is what the others need: where it fails, the item is not reproduced whatever their margins
    (they compare networks that did not learn the task).  ``reference`` claims never count."""
    def verdict(folder: Path) -> Verdict:
        return judge(load_claims(folder), ids)
    verdict.claim_ids = ids
    return verdict


def judge(claims: pd.DataFrame, ids: tuple[str, ...]) -> Verdict:
    """The verdict of the claims ``ids`` of ``claims`` (the rules of the module docstring)."""
    missing = [i for i in ids if i not in claims.index]
    if missing:
        raise KeyError(f"claims {missing} not found in the claims tables")
    rows = claims.loc[list(ids)]
    premise = rows[rows["kind"] == "premise"]
    judged = rows[rows["kind"].isin(["claim", "fact"])]
    ours = "; ".join(f"{r['claim'].split(': ', 1)[-1]}: {_words(r)}" for _, r in judged.iterrows())
    intervals = "rule" in rows.columns and (rows["rule"] == "interval").any()
    if len(premise) and not premise["holds"].all():
        first = premise.iloc[0]
        return (f"premise not shown ({first['claim'].split('premise: ', 1)[-1]}: {_words(first)}), so the "
                f"comparisons are untested here; {ours}"), "not shown" if intervals else "not reproduced"
    held = judged["holds"]
    if not intervals:
        return ours, "reproduced" if held.all() else ("direction only" if held.any() else "not reproduced")
    if held.all():
        return ours, "reproduced"
    if held.any():
        return ours, "partly reproduced"
    return ours, "contradicted" if (judged["verdict"] == "contradicted").any() else "not shown"


def rule_of(item: PaperItem, folder: Path) -> str:
    """Which rule judged ``item`` (an interval over seeds and scenes, a threshold, or none)."""
    ids = getattr(item.verdict, "claim_ids", None)
    if not ids:
        return "fixed (no measurement decides it)"
    claims = load_claims(folder)
    return _rule(claims.loc[[i for i in ids if i in claims.index]])


def _fixed(ours: str, verdict: str) -> Callable[[Path], Verdict]:
    return lambda folder: (ours, verdict)


@dataclass(frozen=True)
class PaperItem:
    key: str
    paper: str                      # "Jin 2018" | "HyperCUT 2023"
    name: str                       # as the paper names it
    shows: str
    notebook: str
    outputs: tuple[str, ...]        # file stems in the output folder
    data: str
    paper_value: str
    verdict: Callable[[Path], Verdict] = field(repr=False, default=_fixed("", "not applicable here"))


SCENES = "procedural scenes (data/scenes.py)"
_UNET = "hypercut.ppsnr.unet"
_JIN = "hypercut.ppsnr.jin"
REGISTRY: tuple[PaperItem, ...] = (
    PaperItem("jin_eq1", "Jin 2018", "Eq. 1 (and HyperCUT Eq. 1)", "blur = CRF of the mean of T frames",
              "01_blur_formation", ("jin_eq1_formation", "jin_eq1_blur_growth", "formation_claims"), SCENES,
              "a model, no numbers", from_claims("jin.eq1.blur_grows_with_frames")),
    PaperItem("jin_sec3", "Jin 2018", "Sec. 3, T = Δ", "cut a blur of Δ px into T = Δ frames", "01_blur_formation",
              ("jin_sec3_t_equals_delta", "formation_claims"), SCENES, "rule of thumb: one pixel of motion per frame",
              from_claims("jin.sec3.sharp_at_rule", "jin.sec3.depends_on_ratio")),
    PaperItem("jin_fig2", "Jin 2018", "Fig. 2", "order ambiguity: identical blur and pair statistics in 4 scenarios",
              "02_order_ambiguity", ("jin_fig2_ambiguity", "jin_fig2_identities", "ambiguity_claims"),
              "the two-ball toy (data/toy.py)", "columns f-j identical across the 4 rows",
              from_claims("jin.fig2.pair_columns_identical", "jin.fig2.only_middle_frame_identical")),
    PaperItem("hypercut_eq2", "HyperCUT 2023", "Eq. 2", "naive per-frame L2 predicts the mean of the symmetric pair",
              "02_order_ambiguity", ("hypercut_eq2_naive_psnr", "hypercut_eq2_naive_frames", "ambiguity_claims"), SCENES,
              "stated, not measured", from_claims("hypercut.eq2.closer_to_pair_mean", "hypercut.eq2.middle_best")),
    PaperItem("jin_eq4_eq5", "Jin 2018", "Eq. 4, Eq. 5", "order-invariant losses; the pair loss is blind to per-pixel swaps",
              "03_jin_losses", ("jin_eq4_eq5_invariance", "jin_eq5_pixel_swap", "losses_claims"), SCENES,
              "invariant to the order (Eq. 4) and within pairs (Eq. 5)",
              from_claims("jin.eq4.invariant_to_order", "jin.eq5.invariant_within_pairs", "jin.eq5.blind_to_pixel_swap",
                          "jin.sec5.per_frame_losses_see_order")),
    PaperItem("jin_tab1", "Jin 2018", "Table 1", "networks, losses, the 3-step training procedure", "03_jin_losses",
              ("jin_tab1_procedure",), "configuration", "3 steps: middle, pair (3,5), outer pairs",
              _fixed("rendered from the configuration that trains", "reproduced")),
    PaperItem("jin_tab2", "Jin 2018", "Table 2", "middle-frame PSNR, Nah vs Middle", "04_jin_training",
              ("jin_tab2_middle_psnr", "jin_step1_curves", "jin_claims"), SCENES + ", two blur strengths", published.jin_table2_text(),
              from_claims("jin.tab2.middle_beats_nah", "jin.tab2.nah_better_on_large_blur")),
    PaperItem("jin_fig3", "Jin 2018", "Fig. 3", "middle-frame comparisons", "04_jin_training", ("jin_fig3_middle",),
              SCENES, "qualitative", _fixed("image grid", "not applicable here")),
    PaperItem("jin_tab3", "Jin 2018", "Table 3", "run time at 320P/480P/720P and parameters", "04_jin_training",
              ("jin_tab3_runtime", "jin_claims"), "random inputs, paper-width networks", published.jin_table3_text(),
              from_claims("jin.tab3.middle_faster_than_full", "jin.tab3.middle_faster_than_nah",
                          "jin.tab3.middle_much_faster_than_nah")),
    PaperItem("jin_fig4", "Jin 2018", "Fig. 4", "ablation of losses", "04_jin_training",
              ("jin_fig4_ablation", "jin_fig4_ablation_ppsnr", "jin_fig4_curves", "jin_claims"), SCENES,
              "qualitative: sequential + teacher forcing best",
              from_claims("jin.fig4.premise", "jin.fig4.sequential_beats_independent", "jin.fig4.pair_beats_global",
                          "jin.fig4.middle_input_helps_pair", "jin.fig4.sequential_beats_pair",
                          "jin.fig4.teacher_forcing_beats_sequential")),
    PaperItem("jin_fig5", "Jin 2018", "Fig. 5", "non-middle frames need a good middle estimate", "04_jin_training",
              ("jin_fig5_middle_feed", "jin_claims"), SCENES, "qualitative: the ground-truth middle fixes the other frames",
              from_claims("jin.fig4.premise", "jin.fig5.gt_middle_helps")),
    PaperItem("jin_fig1", "Jin 2018", "Fig. 1, Fig. 6", "frames extracted from real blurry photographs",
              "07_your_own_image", ("jin_fig1_clock", "jin_fig6_synthetic", "shipped_clock", "real_photos"),
              "clock_motion.png (scikit-image) and synthetic photographs", "qualitative",
              _fixed("frames of the clock; synthetic pPSNR printed in the notebook", "not applicable here")),
    PaperItem("hypercut_fig1", "HyperCUT 2023", "Fig. 1", "sequences and their reverses on opposite sides",
              "05_hypercut_ordering", ("hypercut_fig1_antisymmetric", "hypercut_fig1_generic", "hypercut_ordering_training",
                                       "ordering_claims"),
              SCENES, "illustration", from_claims("hypercut.ordering.generic_hit", "hypercut.ordering.antisymmetric_hit")),
    PaperItem("hypercut_ordering", "HyperCUT 2023", "ordering table", "Hit, Con@2, Con@3 on held-out sequences",
              "05_hypercut_ordering", ("hypercut_ordering_table", "hypercut_ordering_side", "ordering_claims"), SCENES,
              "high Hit and consistency (RB2V)",
              from_claims("hypercut.ordering.generic_hit", "hypercut.ordering.antisymmetric_hit",
                          "hypercut.ordering.antisymmetric_crop_hit")),
    PaperItem("hypercut_ppsnr", "HyperCUT 2023", "pPSNR table", "the Jin backbone trained naive / order-invariant / "
              "with the order / with the regulariser", "06_hypercut_blur2vid", ("hypercut_tab_ppsnr_jin", "hypercut_claims"),
              SCENES + " (camera pans), Jin cascade backbone", published.hypercut_ppsnr_text("Jin"),
              from_claims(f"{_JIN}.premise", f"{_JIN}.order_beats_naive_outer", f"{_JIN}.order_beats_invariant_outer",
                          f"{_JIN}.order_beats_naive_mean", f"{_JIN}.regulariser_helps")),
    PaperItem("hypercut_ppsnr_purohit", "HyperCUT 2023", "pPSNR table, second backbone",
              "a second backbone: an all-frames U-Net stands in for Purohit et al.'s network", "06_hypercut_blur2vid",
              ("hypercut_tab_ppsnr", "hypercut_tab_ppsnr_gain", "hypercut_frames", "hypercut_claims"),
              SCENES + " (camera pans), all-frames U-Net", published.hypercut_ppsnr_text("Purohit"),
              from_claims(f"{_UNET}.order_beats_naive_outer", f"{_UNET}.order_beats_invariant_outer",
                          f"{_UNET}.order_beats_naive_mean", f"{_UNET}.regulariser_helps")),
    PaperItem("hypercut_datasets", "HyperCUT 2023", "dataset table", "RB2V street/face/hand counts", "-", (),
              "real data on disk (data/source.py)",
              ", ".join(f"{k} {a}/{b}" for k, (a, b) in published.RB2V_COUNTS.items()),
              _fixed("the loaders print this table for data a user points them to; none is on these machines",
                     "not applicable here")),
)

EXTRA_FILES = ("manifest.json", "paper_summary.csv", "paper_summary.md")


def item_files(folder: Path, item: PaperItem) -> list[Path]:
    """The item's files in ``folder``, in the order of its outputs (the gallery links the first)."""
    return [p for stem in item.outputs for p in sorted(Path(folder).glob(f"{stem}.*"))]


def missing_outputs(folder: Path) -> dict[str, list[str]]:
    """Registry items whose output stems have no file in ``folder``."""
    out = {}
    for item in REGISTRY:
        gone = [s for s in item.outputs if not list(Path(folder).glob(f"{s}.*"))]
        if gone:
            out[item.key] = gone
    return out


def _owner(stem: str) -> str:
    for suffix in POOLED_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def unregistered_files(folder: Path) -> list[str]:
    """Files in ``folder`` (not in sub-folders) that no registry item claims (a table's per-scene,
    evidence and per-seed files belong to it; :data:`SEED_FIGURES` to the seed batch)."""
    stems = {s for item in REGISTRY for s in item.outputs} | set(SEED_FIGURES)
    return sorted(p.name for p in Path(folder).iterdir()
                  if p.is_file() and p.name not in EXTRA_FILES and _owner(p.name.split(".")[0]) not in stems)


def summary_table(folder: Path) -> pd.DataFrame:
    """One row per item: the paper's value, ours, and the verdict (from the saved outputs)."""
    rows = []
    for item in REGISTRY:
        try:
            ours, verdict = item.verdict(Path(folder))
            rule = rule_of(item, Path(folder))
        except (FileNotFoundError, KeyError, StopIteration, ValueError) as exc:
            ours, verdict, rule = f"no result ({type(exc).__name__}: {exc})", "not run", "-"
        rows.append({"item": f"{item.paper}: {item.name}", "shows": item.shows, "paper": item.paper_value,
                     "ours": ours, "verdict": verdict, "rule": rule, "data": item.data, "notebook": item.notebook})
    return pd.DataFrame(rows).set_index("item")


def gallery_markdown(folder: Path, link_base: str = "figures") -> str:
    """The README gallery: one row per item, with links to our figure or table, and its verdict (the
    rule of each is in ``paper_summary.md`` and the book)."""
    lines = ["| paper item | ours | notebook | verdict |", "|---|---|---|---|"]
    summary = summary_table(folder)
    for item in REGISTRY:
        files = item_files(folder, item)
        pngs = [f for f in files if f.suffix in (".png", ".gif")]
        tables = [f for f in files if f.suffix == ".md"]
        links = " ".join(f"[{f.stem}]({link_base}/{f.name})" for f in (pngs[:1] + tables[:1])) or "-"
        row = summary.loc[f"{item.paper}: {item.name}"]
        lines.append(f"| {item.paper}: {item.name} | {links} | {item.notebook} | {row['verdict']} |")
    return "\n".join(lines) + "\n"


FINDINGS: tuple[tuple[str, str, str], ...] = (
    ("hypercut_eq2", "The order ambiguity (HyperCUT Eq. 2)",
     "away from the middle, the naive per-frame loss predicts a frame {hypercut.eq2.closer_to_pair_mean} closer "
     "to the mean of its symmetric pair than to the true frame"),
    ("jin_tab2", "Jin's middle network against a Nah-style baseline (Table 2)",
     "on blur like its training data, {jin.tab2.middle_beats_nah}"),
    ("jin_fig4", "Whether Jin's non-middle networks learn the frames (Fig. 4's premise)",
     "the best scheme's frames 1, 2, 6, 7 over the better of two copies that learn nothing: {jin.fig4.premise}"),
    ("jin_fig4", "Fig. 4's loss ordering",
     "pairwise over independent {jin.fig4.sequential_beats_independent}; pairwise over global "
     "{jin.fig4.pair_beats_global}; teacher forcing over sequential {jin.fig4.teacher_forcing_beats_sequential}"),
    ("jin_fig5", "Fig. 5, the ground-truth middle frame fed to the other networks",
     "their frames 1, 2, 6, 7 change by {jin.fig5.gt_middle_helps}"),
    ("jin_fig4", "Jin's cascade told the direction (ours)",
     "trained per frame against a hand-made order, its frames 1, 2, 6, 7 over the copies: {jin.fig4.oracle_learns}"),
    ("hypercut_ordering", "HyperCUT's ordering network (Fig. 1, ordering table)",
     "the paper's generic embedding separates sequences from their reverses (Hit) at {hypercut.ordering.generic_hit}; "
     "a small network reads its side from the blur at {hypercut.ordering.generic_side_readable}, and that of our "
     "readable ordering at {hypercut.ordering.readable_side_readable}"),
    ("hypercut_ppsnr_purohit", "HyperCUT's claim on an all-frames U-Net",
     "the learned order over the naive loss on frames 1, 2, 6, 7 {hypercut.ppsnr.unet.order_beats_naive_outer}, over "
     "the order-invariant loss {hypercut.ppsnr.unet.order_beats_invariant_outer}; the regulariser "
     "{hypercut.ppsnr.unet.regulariser_helps}"),
    ("hypercut_ppsnr", "HyperCUT's claim on Jin's cascade",
     "the order over the naive loss on frames 1, 2, 6, 7 {hypercut.ppsnr.jin.order_beats_naive_outer}, over the "
     "order-invariant loss {hypercut.ppsnr.jin.order_beats_invariant_outer}; the premise (the cascade's frames "
     "above the copies) {hypercut.ppsnr.jin.premise}"),
    ("jin_tab3", "Run time (Table 3)",
     "the middle network is faster than Nah's by {jin.tab3.middle_faster_than_nah}"),
)
"""The README's findings (at most ten): ``(registry key whose section shows it, headline, text)``,
where ``{claim id}`` stands for the claim's value, interval and verdict, read from the claims
tables, so the README cannot quote a number its files do not hold."""

_CLAIM = re.compile(r"\{([a-z0-9_.]+)\}")


def _quoted(row: pd.Series) -> str:
    """A claim as the README quotes it: the value with its interval and unit, and its verdict."""
    unit = row.get("unit")
    unit = "" if pd.isna(unit) else str(unit)
    if unit == "x":
        return f"{row['value']:.1f}x ({row['verdict']})"
    sign, gap = ("+", " ") if unit == "dB" else ("", "")
    text = f"{row['value']:{sign}.2f}{gap}{unit}"
    if pd.notna(row.get("low")) and pd.notna(row.get("high")):
        text += f" [{row['low']:{sign}.2f}, {row['high']:{sign}.2f}]"
    bar = row.get("threshold")
    against = f", against {bar:{sign}.2f}{gap}{unit}" if pd.notna(bar) and bar != 0 else ""
    return f"{text} ({row['verdict']}{against})"


def findings_markdown(folder: Path, link_base: str = "docs/book") -> str:
    """The README's findings from the claims tables of ``folder``, one bullet each, linked to the
    book's section of the item that shows it; a claim missing from the tables is an error."""
    claims = load_claims(Path(folder))
    items = {item.key: item for item in REGISTRY}
    lines = []
    for key, headline, text in FINDINGS:
        missing = sorted(set(_CLAIM.findall(text)) - set(claims.index))
        if missing:
            raise KeyError(f"{folder}: no claim {missing} for the README finding {headline!r}")
        body = _CLAIM.sub(lambda m: _quoted(claims.loc[m.group(1)]), text)
        lines.append(f"- **[{headline}]({link_base}/{items[key].notebook}.html#item-{key})**: {body}.")
    return "\n".join(lines) + "\n"


GALLERY_START, GALLERY_END = "<!-- gallery:start -->", "<!-- gallery:end -->"
FINDINGS_START, FINDINGS_END = "<!-- findings:start -->", "<!-- findings:end -->"


def _between(text: str, start: str, end: str, block: str) -> str:
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{block}{end}{rest.split(end, 1)[1]}"


def update_readme_gallery(readme: Path, folder: Path, link_base: str = "figures") -> bool:
    """Replace the text between the gallery markers of ``readme`` with :func:`gallery_markdown`, and
    between the findings markers with :func:`findings_markdown`; returns whether the file changed.
    Markers that are absent are left alone."""
    from blur2vid.core.io import atomic_write_text

    text = Path(readme).read_text(encoding="utf-8")
    new = text
    if GALLERY_START in text and GALLERY_END in text:
        new = _between(new, GALLERY_START, GALLERY_END, gallery_markdown(folder, link_base))
    if FINDINGS_START in text and FINDINGS_END in text:
        new = _between(new, FINDINGS_START, FINDINGS_END, findings_markdown(folder))
    if new != text:
        atomic_write_text(readme, new)
    return new != text
