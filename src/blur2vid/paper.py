"""The registry: every equation, table and figure of both papers that the companion reproduces.

Each :class:`PaperItem` names the notebook that produces it, the output files (stems under the
profile's output folder), the data it was reproduced on, the paper's own numbers, and a ``verdict``
function that reads our saved outputs and says whether the paper's claim held here:
``reproduced``, ``direction only``, ``not reproduced``, or ``not applicable here``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["PaperItem", "REGISTRY", "EXTRA_FILES", "item_files", "missing_outputs", "unregistered_files",
           "summary_table", "gallery_markdown", "update_readme_gallery"]

Verdict = tuple[str, str]  # (our value in words, verdict)


def _csv(folder: Path, stem: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{stem}.csv", index_col=0)


def _claim_rows(stem: str, needles: list[str]) -> Callable[[Path], Verdict]:
    """The verdict of the claims whose names contain one of ``needles``.  A claim named
    ``"... premise: ..."`` is what the others need: where it fails, they are not reproduced whatever
    their margins (they compare networks that did not learn the task)."""
    def verdict(folder: Path) -> Verdict:
        from blur2vid.experiments import MIN_MARGIN_DB

        claims = _csv(folder, stem)
        rows = claims[[any(n in c for n in needles) for c in claims.index]]
        if rows.empty:
            raise KeyError(f"no claim matching {needles} in {stem}.csv")
        premise = rows[rows.index.str.contains("premise:")]
        rows = rows.drop(premise.index)
        ours = "; ".join(f"{c.split(': ', 1)[-1]}: {m:+.2f} dB" for c, m in rows["margin_db"].items())
        if not premise.empty and not (premise["margin_db"] > MIN_MARGIN_DB).all():
            what = premise.index[0].split("premise: ", 1)[-1]
            return (f"premise failed ({what}: {premise['margin_db'].iloc[0]:+.2f} dB), so the comparisons are "
                    f"untested here; {ours}"), "not reproduced"
        held = rows["margin_db"] > MIN_MARGIN_DB
        return ours, "reproduced" if held.all() else ("direction only" if held.any() else "not reproduced")
    return verdict


def _growth(folder: Path) -> Verdict:
    df = _csv(folder, "jin_eq1_blur_growth").sort_values("frames")
    df = df[df.frames > 1]
    drops = df.groupby("speed_px_per_frame")["psnr_blur_vs_middle"].apply(lambda s: s.diff().dropna().max())
    worst = float(drops.max())
    return f"PSNR(blur, middle) falls with every added frame (largest step {worst:+.2f} dB)", (
        "reproduced" if worst < 0 else "not reproduced")


def _rule(folder: Path) -> Verdict:
    df = _csv(folder, "jin_sec3_t_equals_delta")
    at = df[df.shift_per_frame_px == 1.0]["psnr_frame_vs_instant"]
    spread = df.groupby("shift_per_frame_px")["psnr_frame_vs_instant"].agg(lambda s: s.max() - s.min()).max()
    sharp = at.mean() >= 40.0  # at one pixel of motion per frame, a frame is visually sharp
    ours = f"at T = Δ frames are {at.mean():.1f} dB from their central instant; curves for all Δ agree within {spread:.2f} dB"
    return ours, "reproduced" if sharp and spread < 1.5 else ("direction only" if sharp or spread < 1.5 else "not reproduced")


def _fig2(folder: Path) -> Verdict:
    df = _csv(folder, "jin_fig2_identities")
    row = df.iloc[0].astype(str).str.lower() == "true"
    ok = all(row[k] for k in "fghij") and row["c"] and not any(row[k] for k in "abde")
    return "f and g-j identical bit for bit in all 4 rows; only the middle frame c is", (
        "reproduced" if ok else "not reproduced")


def _eq2(folder: Path) -> Verdict:
    from blur2vid.experiments import mean_prediction_claim

    claim = mean_prediction_claim(_csv(folder, "hypercut_eq2_naive_psnr"))
    return (f"outer frames {claim['min_outer_margin_db']:+.2f} dB or more closer to the pair mean than to the true frame",
            "reproduced" if claim["holds"] else "not reproduced")


def _table3(folder: Path) -> Verdict:
    df = _csv(folder, "jin_tab3_runtime")
    cols = [c for c in df.columns if c.endswith("_s") and not c.startswith("paper_")]
    col = cols[0]
    nah, mid, full = (float(df.loc[m, col]) for m in ("Nah", "Middle", "Full"))
    params = ", ".join(f"{m} {df.loc[m, 'params_M']:.2f}M" for m in ("Nah", "Middle", "Full"))
    ours = f"{col[:-2]} on {df['device'].iloc[0]}: Nah {nah:.2f} s, Middle {mid:.2f} s, Full {full:.2f} s; {params}"
    ordered = mid < full and mid < nah
    return ours, "direction only" if ordered and nah / mid < 5 else ("reproduced" if ordered else "not reproduced")


def _ordering(folder: Path) -> Verdict:
    df = _csv(folder, "hypercut_ordering_table")
    generic = df.loc["generic (paper)"]
    ours = (f"generic (paper): Hit {generic['Hit']:.2f}, Con@2 {generic['Con@2']:.2f}, Con@3 {generic['Con@3']:.2f}, "
            f"side kept under a crop {generic['stable: crop']:.2f}")
    best = "antisymmetric + crop consistency (ours)"
    if best in df.index:
        ours += f"; {best}: Hit {df.loc[best, 'Hit']:.2f}, crop {df.loc[best, 'stable: crop']:.2f}"
    anti = float(df.loc["antisymmetric (ours)", "Hit"])
    return ours, "reproduced" if generic["Hit"] >= 0.95 else ("direction only" if anti >= 0.95 else "not reproduced")


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
REGISTRY: tuple[PaperItem, ...] = (
    PaperItem("jin_eq1", "Jin 2018", "Eq. 1 (and HyperCUT Eq. 1)", "blur = CRF of the mean of T frames",
              "01_blur_formation", ("jin_eq1_formation", "jin_eq1_blur_growth"), SCENES,
              "a model, no numbers", _growth),
    PaperItem("jin_sec3", "Jin 2018", "Sec. 3, T = Δ", "cut a blur of Δ px into T = Δ frames", "01_blur_formation",
              ("jin_sec3_t_equals_delta",), SCENES, "rule of thumb: one pixel of motion per frame", _rule),
    PaperItem("jin_fig2", "Jin 2018", "Fig. 2", "order ambiguity: identical blur and pair statistics in 4 scenarios",
              "02_order_ambiguity", ("jin_fig2_ambiguity", "jin_fig2_identities"), "the two-ball toy (data/toy.py)",
              "columns f-j identical across the 4 rows", _fig2),
    PaperItem("hypercut_eq2", "HyperCUT 2023", "Eq. 2", "naive per-frame L2 predicts the mean of the symmetric pair",
              "02_order_ambiguity", ("hypercut_eq2_naive_psnr", "hypercut_eq2_naive_frames"), SCENES,
              "stated, not measured", _eq2),
    PaperItem("jin_eq4_eq5", "Jin 2018", "Eq. 4, Eq. 5", "order-invariant losses; the pair loss is blind to per-pixel swaps",
              "03_jin_losses", ("jin_eq4_eq5_invariance", "jin_eq5_pixel_swap"), SCENES,
              "invariant to the order (Eq. 4) and within pairs (Eq. 5)",
              _fixed("invariances asserted in the notebook (loss unchanged to 1e-6)", "reproduced")),
    PaperItem("jin_tab1", "Jin 2018", "Table 1", "networks, losses, the 3-step training procedure", "03_jin_losses",
              ("jin_tab1_procedure",), "configuration", "3 steps: middle, pair (3,5), outer pairs",
              _fixed("rendered from the configuration that trains", "reproduced")),
    PaperItem("jin_tab2", "Jin 2018", "Table 2", "middle-frame PSNR, Nah vs Middle", "04_jin_training",
              ("jin_tab2_middle_psnr",), SCENES + ", two blur strengths",
              "Nah 30.52/28.19/28.48, Middle 32.20/29.02/26.98 dB", _claim_rows("jin_claims", ["Table 2"])),
    PaperItem("jin_fig3", "Jin 2018", "Fig. 3", "middle-frame comparisons", "04_jin_training", ("jin_fig3_middle",),
              SCENES, "qualitative", _fixed("image grid", "not applicable here")),
    PaperItem("jin_tab3", "Jin 2018", "Table 3", "run time at 320P/480P/720P and parameters", "04_jin_training",
              ("jin_tab3_runtime",), "random inputs, paper-width networks",
              "Titan X: Nah 2.43/3.52/4.80 s 12M; Middle 0.24/0.30/0.45 s 5M; Full 0.61/0.74/1.10 s 17M", _table3),
    PaperItem("jin_fig4", "Jin 2018", "Fig. 4", "ablation of losses", "04_jin_training",
              ("jin_fig4_ablation", "jin_fig4_ablation_ppsnr", "jin_claims"), SCENES,
              "qualitative: sequential + teacher forcing best", _claim_rows("jin_claims", ["Fig. 4"])),
    PaperItem("jin_fig5", "Jin 2018", "Fig. 5", "non-middle frames need a good middle estimate", "04_jin_training",
              ("jin_fig5_middle_feed",), SCENES, "qualitative: the ground-truth middle fixes the other frames",
              _claim_rows("jin_claims", ["Fig. 5", "Fig. 4 premise"])),
    PaperItem("jin_fig1", "Jin 2018", "Fig. 1, Fig. 6", "frames extracted from real blurry photographs",
              "07_your_own_image", ("jin_fig1_clock", "jin_fig6_synthetic"),
              "clock_motion.png (scikit-image) and synthetic photographs", "qualitative",
              _fixed("frames of the clock; synthetic pPSNR printed in the notebook", "not applicable here")),
    PaperItem("hypercut_fig1", "HyperCUT 2023", "Fig. 1", "sequences and their reverses on opposite sides",
              "05_hypercut_ordering", ("hypercut_fig1_antisymmetric", "hypercut_fig1_generic", "hypercut_ordering_training"),
              SCENES, "illustration", _ordering),
    PaperItem("hypercut_ordering", "HyperCUT 2023", "ordering table", "Hit, Con@2, Con@3 on held-out sequences",
              "05_hypercut_ordering", ("hypercut_ordering_table",), SCENES, "high Hit and consistency (RB2V)", _ordering),
    PaperItem("hypercut_ppsnr", "HyperCUT 2023", "pPSNR table", "the Jin backbone trained naive / order-invariant / "
              "with the order / with the regulariser", "06_hypercut_blur2vid", ("hypercut_tab_ppsnr_jin", "hypercut_claims"),
              SCENES + " (camera pans), Jin cascade backbone", "REDS, Jin backbone: mean 22.64 -> 24.74 dB with HyperCUT",
              _claim_rows("hypercut_claims", ["Jin cascade: "])),
    PaperItem("hypercut_ppsnr_purohit", "HyperCUT 2023", "pPSNR table, second backbone",
              "a second backbone: an all-frames U-Net stands in for Purohit et al.'s network", "06_hypercut_blur2vid",
              ("hypercut_tab_ppsnr", "hypercut_tab_ppsnr_gain", "hypercut_frames"),
              SCENES + " (camera pans), all-frames U-Net", "REDS, Purohit backbone: mean 26.61 -> 28.42 dB with HyperCUT",
              _claim_rows("hypercut_claims", ["U-Net: HyperCUT order beats", "U-Net: the regulariser"])),
    PaperItem("hypercut_datasets", "HyperCUT 2023", "dataset table", "RB2V street/face/hand counts", "-", (),
              "real data on disk (data/folders.py)", "street 9000/2053, face 8000/2157, hand 12000/4722",
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


def unregistered_files(folder: Path) -> list[str]:
    """Files in ``folder`` (not in sub-folders) that no registry item claims."""
    stems = {s for item in REGISTRY for s in item.outputs}
    return sorted(p.name for p in Path(folder).iterdir()
                  if p.is_file() and p.name not in EXTRA_FILES and p.name.split(".")[0] not in stems)


def summary_table(folder: Path) -> pd.DataFrame:
    """One row per item: the paper's value, ours, and the verdict (from the saved outputs)."""
    rows = []
    for item in REGISTRY:
        try:
            ours, verdict = item.verdict(Path(folder))
        except (FileNotFoundError, KeyError, StopIteration, ValueError) as exc:
            ours, verdict = f"no result ({type(exc).__name__}: {exc})", "not run"
        rows.append({"item": f"{item.paper}: {item.name}", "shows": item.shows, "paper": item.paper_value,
                     "ours": ours, "verdict": verdict, "data": item.data, "notebook": item.notebook})
    return pd.DataFrame(rows).set_index("item")


def gallery_markdown(folder: Path, link_base: str = "figures") -> str:
    """The README gallery: one row per item, with links to our figure or table."""
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


GALLERY_START, GALLERY_END = "<!-- gallery:start -->", "<!-- gallery:end -->"


def update_readme_gallery(readme: Path, folder: Path, link_base: str = "figures") -> bool:
    """Replace the text between the gallery markers of ``readme`` with :func:`gallery_markdown`;
    returns whether the file changed.  A README without the markers is left alone."""
    from blur2vid.io import atomic_write_text

    text = Path(readme).read_text(encoding="utf-8")
    if GALLERY_START not in text or GALLERY_END not in text:
        return False
    head, rest = text.split(GALLERY_START, 1)
    _, tail = rest.split(GALLERY_END, 1)
    new = f"{head}{GALLERY_START}\n{gallery_markdown(folder, link_base)}{GALLERY_END}{tail}"
    if new != text:
        atomic_write_text(readme, new)
    return new != text
