"""Where the book's notebooks come from: the reference run's executed copies, kept apart, and the
pages of a previous book that a partial source lacks.

:func:`keep_reference` copies a reference run's executed notebooks to
``results/executed/<profile>/reference/`` with ``book_source.json`` (commit, seeds, precision), so an
exploration run with the same seed does not overwrite them; a partial run (``reproduce --only 07``)
replaces only its notebooks.  A clone, though, holds the committed book but not the ignored executed
run, so :func:`carried` hands :func:`blur2vid.reproduction.book.build` the previous book's pages of the notebooks a
source lacks, byte for byte, rather than let it shrink the book to the pages it was given.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from blur2vid.reproduction.book_render import BookError

__all__ = ["REFERENCE", "SOURCE_INFO", "Carried", "carried", "keep_reference", "reference_source", "source_info",
           "swap_in"]

REFERENCE = "reference"
"""The folder, under ``results/executed/<profile>/``, that keeps the reference run's notebooks."""
SOURCE_INFO = "book_source.json"
"""What :func:`keep_reference` records beside the notebooks: commit, seeds, profile, date."""

def reference_source(profile: str = "cpu") -> Path:
    """The folder :func:`keep_reference` fills: ``results/executed/<profile>/reference/``."""
    from blur2vid.reproduction.runs import results_root

    return results_root() / "executed" / profile / REFERENCE


def keep_reference(executed: Path, profile: str, info: dict, notebooks: list[str] | None = None) -> Path:
    """Copy the executed notebooks in ``executed`` to :func:`reference_source`, with ``info``
    (commit, seeds, ...) as :data:`SOURCE_INFO`; the folder is replaced whole (a scratch copy renamed
    over the old one).  ``notebooks`` (stems): a run of only those, which replace their pages among
    the kept ones, and the info records which were run again, when."""
    executed = Path(executed)
    target = reference_source(profile)
    wanted = sorted(executed.glob("[0-9][0-9]_*.ipynb"))
    if notebooks is not None:
        wanted = [p for p in wanted if p.stem in notebooks]
    if not wanted:
        raise BookError(f"no executed notebooks (NN_topic.ipynb) in {executed}"
                        + (f" among {sorted(notebooks)}" if notebooks is not None else ""))
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".reference-", dir=target.parent))
    record = {"profile": profile, **info}
    if notebooks is not None and target.is_dir():  # a partial run: start from what is kept
        for path in target.iterdir():
            shutil.copy2(path, scratch / path.name)
        old = source_info(target)
        record = {**old, "rerun": {**old.get("rerun", {}), **{p.stem: info for p in wanted}}}
    try:
        for path in wanted:
            shutil.copy2(path, scratch / path.name)
        (scratch / SOURCE_INFO).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        swap_in(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return target


def swap_in(new: Path, target: Path) -> None:
    """Put the folder ``new`` where ``target`` is, replacing it; if that fails the old one is put back."""
    os.chmod(new, 0o755)  # mkdtemp's 0700 would hide a served site
    if not target.exists():
        new.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


@dataclass
class Carried:
    """The pages of the previous book whose notebooks the source lacks (see :func:`carried`)."""
    pages: dict[str, str] = field(default_factory=dict)  # stem -> the page's HTML, as it was
    titles: dict[str, str] = field(default_factory=dict)
    anchors: dict[str, str] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)  # the files under img/ those pages show
    source: dict = field(default_factory=dict)  # the previous book's source info

    def source_info(self, info: dict, stems: list[str]) -> dict:
        """The previous book's source with ``stems`` recorded as run again (``info``)."""
        again = {stem: info.get("rerun", {}).get(stem) or {k: v for k, v in info.items() if k != "rerun"}
                 for stem in stems}
        return {**self.source, "rerun": {**self.source.get("rerun", {}), **again}}


def carried(out: Path, have: set[str], notebooks: Path) -> Carried:
    """A rebuild from a source that lacks some notebooks (a clone holds the committed book but not
    the ignored executed run, and ``reproduce --only 07`` keeps just 07) keeps the previous book's
    pages of those notebooks, byte for byte with their images, instead of dropping them: only the
    pages of notebooks that still exist in ``notebooks/``."""
    manifest = out / "book.json"
    if not manifest.is_file():
        return Carried()
    try:
        old = json.loads(manifest.read_text())
    except ValueError:
        return Carried()
    titles = old.get("titles")
    if titles is None and (out / "index.html").is_file():  # books from before titles were recorded
        titles = {stem: html.unescape(title) for stem, title in
                  re.findall(r'<a href="(\d\d_[^"]+)\.html" title="([^"]*)"', (out / "index.html").read_text())}
    stems = [page.removesuffix(".html") for page in old.get("pages", []) if page != "index.html"]
    keep = sorted(stem for stem in stems if stem not in have and stem in (titles or {})
                  and (notebooks / f"{stem}.ipynb").is_file() and (out / f"{stem}.html").is_file())
    pages = {stem: (out / f"{stem}.html").read_text(encoding="utf-8") for stem in keep}
    images = {out / "img" / name for text in pages.values() for name in re.findall(r'"img/([^"/]+)"', text)}
    return Carried(pages=pages, titles={stem: titles[stem] for stem in keep},
                   anchors={k: v for k, v in old.get("anchors", {}).items() if v.split(".html", 1)[0] in keep},
                   images=sorted(path for path in images if path.is_file()), source=old.get("source", {}))


def source_info(source: Path, root: Path | None = None) -> dict:
    """What :func:`keep_reference` recorded beside the notebooks in ``source`` (or just the folder:
    its path relative to ``root``, the repository, where it lies inside, else its name, for the book
    shows no path of the machine that built it)."""
    path = source / SOURCE_INFO
    if not path.exists():
        folder = Path(os.path.abspath(source))
        try:
            shown = folder.relative_to(Path(os.path.abspath(root))).as_posix() if root is not None else folder.name
        except ValueError:
            shown = folder.name
        return {"folder": shown}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise BookError(f"{path}: not valid JSON ({exc})") from None
