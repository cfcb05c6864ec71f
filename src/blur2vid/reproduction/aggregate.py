"""Pool the outputs of one configuration trained with several seeds into one folder.

``blur2vid reproduce --seeds 0 1 2`` runs every notebook that trains once per seed, each into its own
folder (``results/<profile>/outputs/seed-<k>/``), then calls :func:`aggregate` to write what the
seeds show together (``figures/`` for the reference run):

* **claims** (``*_claims.csv``): every interval claim re-judged on the evidence of all seeds
  (:func:`blur2vid.experiments.claims.aggregate_claims`): its interval now carries the spread
  between training runs as well as between test scenes; the pooled evidence is written beside it;
* **per-scene tables** (``*_scenes.csv``): concatenated with their ``seed`` column; the summary
  (``<stem>.csv`` / ``.md``) is the mean over seeds and scenes, and ``<stem>_per_seed.csv`` holds each
  seed's means, so the spread between runs is in plain sight;
* **other tables**: the mean over seeds of their numeric columns, row by row, where their rows have
  ids (a table without unique row ids, or with no numeric column, is the first seed's);
* **figures drawn from per-scene tables** (:data:`REDRAWN`) are drawn again from the pooled table,
  with intervals over seeds and scenes; :data:`SPREAD_FIGURES` are new, one dot per seed;
* **learning curves** (``*_curves.csv``, :func:`blur2vid.experiments.curves.curve_table`): concatenated
  with a ``seed`` column, and their figure drawn again with every seed (the mean and its 95%
  interval over seeds at each point);
* **everything else** (image grids, GIFs, loss curves) is copied from the first seed, and the
  manifest says so.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from blur2vid.core.io import atomic_path, atomic_write_text
from blur2vid.experiments.claims import aggregate_claims
from blur2vid.experiments.tables import summary
from blur2vid.reproduction import plots
from blur2vid.reproduction.runs import read_manifest

__all__ = ["aggregate", "REDRAWN", "SPREAD_FIGURES", "read_scene_table", "read_curve_table"]

REDRAWN: dict[str, tuple[str, Callable[[pd.DataFrame], object]]] = {
    "jin_fig4_ablation_ppsnr": ("jin_fig4_ablation", plots.ablation_figure),
    "hypercut_tab_ppsnr_gain": ("hypercut_tab_ppsnr", plots.ppsnr_gain_figure),
    "hypercut_ordering_side": ("hypercut_ordering_side", plots.side_figure),
}
"""Figures a notebook draws from a per-scene table: ``{figure stem: (table stem, function)}``."""

SPREAD_FIGURES: dict[str, tuple[str, str]] = {  # their stems are paper.SEED_FIGURES
    "hypercut_seed_spread": ("hypercut_tab_ppsnr", "U-Net: each training seed's mean pPSNR (test set)"),
    "hypercut_seed_spread_jin": ("hypercut_tab_ppsnr_jin", "Jin cascade: each training seed's mean pPSNR (test set)"),
    "jin_seed_spread": ("jin_fig4_ablation", "Jin Fig. 4 schemes: each training seed's mean pPSNR (test set)"),
}
"""Figures only a batch of seeds has: ``{figure stem: (per-scene table stem, title)}``."""


def read_scene_table(path: Path) -> pd.DataFrame:
    """A saved per-scene table (``<stem>_scenes.csv``), index ``(id, scene)``."""
    return pd.read_csv(path, index_col=["id", "scene"])


def _save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def _write_table(table: pd.DataFrame, out: Path, stem: str) -> list[str]:
    atomic_write_text(out / f"{stem}.csv", table.to_csv(index=True))
    atomic_write_text(out / f"{stem}.md", table.to_markdown(floatfmt=".2f") + "\n")
    return [f"{stem}.csv", f"{stem}.md"]


def _pool_claims(folders: Sequence[Path], stem: str, out: Path) -> list[str]:
    tables, evidence = [], []
    for folder in folders:
        if (folder / f"{stem}.csv").is_file():
            tables.append(pd.read_csv(folder / f"{stem}.csv", index_col="id"))
        if (folder / f"{stem}_evidence.csv").is_file():
            evidence.append(pd.read_csv(folder / f"{stem}_evidence.csv"))
    pooled_evidence = (pd.concat(evidence, ignore_index=True) if evidence
                       else pd.DataFrame(columns=["claim", "seed", "scene", "value"]))
    claims = aggregate_claims(tables, pooled_evidence)
    written = _write_table(claims, out, stem)
    atomic_write_text(out / f"{stem}_evidence.csv", pooled_evidence.to_csv(index=False))
    return [*written, f"{stem}_evidence.csv"]


def _pool_scenes(folders: Sequence[Path], stem: str, out: Path) -> tuple[list[str], pd.DataFrame]:
    pooled = pd.concat([read_scene_table(f / f"{stem}_scenes.csv") for f in folders
                        if (f / f"{stem}_scenes.csv").is_file()])
    atomic_write_text(out / f"{stem}_scenes.csv", pooled.to_csv(index=True))
    numeric = [c for c in pooled.columns if c not in ("label", "seed")]
    per_seed = pooled.reset_index().groupby(["id", "seed"], sort=False)[numeric].mean()
    atomic_write_text(out / f"{stem}_per_seed.csv", per_seed.to_csv(index=True))
    return [*_write_table(summary(pooled), out, stem), f"{stem}_scenes.csv", f"{stem}_per_seed.csv"], pooled


def read_curve_table(path: Path) -> pd.DataFrame:
    """A saved learning-curve table (``<stem>_curves.csv``), without the row numbers
    :meth:`NotebookRun.save <blur2vid.reproduction.runs.NotebookRun.save>` writes as its first column."""
    table = pd.read_csv(path)
    return table.drop(columns=[c for c in table.columns if c == "" or c.startswith("Unnamed:")])


def _pool_curves(folders: Sequence[Path], seeds: Sequence[int], stem: str, out: Path) -> list[str]:
    pooled = pd.concat([read_curve_table(f / f"{stem}.csv").assign(seed=seed)
                        for f, seed in zip(folders, seeds, strict=True) if (f / f"{stem}.csv").is_file()],
                       ignore_index=True)
    atomic_write_text(out / f"{stem}.csv", pooled.to_csv(index=False))
    atomic_write_text(out / f"{stem}.md", pooled.to_markdown(index=False, floatfmt=".3f") + "\n")
    _save_figure(plots.seed_curves_figure(pooled), out / f"{stem}.png")
    return [f"{stem}.csv", f"{stem}.md", f"{stem}.png"]


def _pool_plain(folders: Sequence[Path], path: Path, out: Path) -> str:
    tables = [pd.read_csv(f / path.name, index_col=0) for f in folders if (f / path.name).is_file()]
    first = tables[0]
    numeric = first.select_dtypes("number").columns
    if first.index.is_unique and len(numeric) and all(t.index.equals(first.index) for t in tables):
        mean = sum(t[numeric] for t in tables) / len(tables)
        table = first.copy()
        table[numeric] = mean
    else:
        table = first
    _write_table(table, out, path.stem)
    return path.stem


def aggregate(folders: Sequence[Path], out: Path, seeds: Sequence[int],
              notebooks: Sequence[str] | None = None) -> dict[str, str]:
    """Pool the outputs of ``folders`` (one per training seed, in the order of ``seeds``) into
    ``out`` as the module docstring describes; returns ``{file name: how it was made}`` (for the
    manifest).  ``notebooks``: pool only the files their manifests say these notebooks wrote (so
    that older files of another run in the same folder are left out)."""
    folders = [Path(f) for f in folders]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise FileNotFoundError(f"no outputs to pool in {missing}: run the seeds first")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    how: dict[str, str] = {}
    names = list(dict.fromkeys(p.name for f in folders for p in sorted(f.iterdir()) if p.is_file()))
    if notebooks is not None:
        written = {name for f in folders for name, e in read_manifest(f).get("outputs", {}).items()
                   if e.get("notebook") in notebooks}
        names = [n for n in names if n in written]
    pooled_note = f"pooled over seeds {list(seeds)}"
    scene_tables: dict[str, pd.DataFrame] = {}
    done: set[str] = set()
    for name in names:
        stem = name.split(".")[0]
        if name in done or name == "manifest.json":
            continue
        if name.endswith("_claims.csv"):
            files = _pool_claims(folders, stem, out)
        elif name.endswith("_scenes.csv"):
            base = stem[: -len("_scenes")]
            files, scene_tables[base] = _pool_scenes(folders, base, out)
        elif name.endswith("_curves.csv"):
            files = _pool_curves(folders, seeds, stem, out)
        elif name.endswith("_evidence.csv") or name.endswith("_per_seed.csv"):
            continue  # written with their claims / scene table
        elif name.endswith(".csv") and not any(f"{stem}_scenes.csv" in n for n in names):
            _pool_plain(folders, Path(name), out)
            files = [f"{stem}.csv", f"{stem}.md"]
        else:
            continue
        for f in files:
            how[f] = pooled_note
        done.update(files)
    for stem, (table_stem, draw) in REDRAWN.items():
        if table_stem in scene_tables:
            _save_figure(draw(scene_tables[table_stem]), out / f"{stem}.png")
            how[f"{stem}.png"] = f"drawn from {table_stem}, " + pooled_note
    for stem, (table_stem, title) in SPREAD_FIGURES.items():
        if table_stem in scene_tables and len(seeds) > 1:
            _save_figure(plots.seed_spread_figure(scene_tables[table_stem], title), out / f"{stem}.png")
            how[f"{stem}.png"] = f"drawn from {table_stem}, " + pooled_note
    for name in names:  # the rest: the first seed's
        if name in how or name == "manifest.json" or name.endswith(".md") and name.replace(".md", ".csv") in how:
            continue
        source = next(f / name for f in folders if (f / name).is_file())
        with atomic_path(out / name) as tmp:
            shutil.copyfile(source, tmp)
        how[name] = f"copied from seed {seeds[folders.index(source.parent)]}"
    return how
