"""The book: a static HTML site of the reference run's executed notebooks, read without Python.

A reader who finds the project online sees notebooks committed without outputs (the contract of
``docs/DESIGN.md``); the executed reference run lives in the ignored ``results/``.  The book turns
those executed notebooks into plain pages, one per notebook, with a front page made of the README's
findings and a table of every paper item, each linked to the section of its notebook that makes it.

It never executes anything.  It reads the executed copies that :func:`blur2vid.reproduction.reproduce.reproduce`
keeps for the reference run (:func:`keep_reference`: ``results/executed/<profile>/reference/``, a
copy of the first seed's executed notebooks, so a later exploration run with the same seed does not
overwrite them) and the run's output folder (``figures/``) for the verdicts.  The cells become
HTML in :mod:`blur2vid.reproduction.book_render` (Markdown with its TeX drawn as MathML at build time,
Pygments, images re-encoded as WebP and stored once under ``img/`` by content hash, progress bars as
their last state); this module makes the pages, the anchors and the front page, and the pages share
one stylesheet.

The book reads offline and shows nothing of the machine that built it: no page loads a script or a
stylesheet from the network (the mathematics is MathML, which browsers draw natively), and a page
that would show an absolute path of the building machine (:func:`machine_paths`: the repository, the
home and temporary folders, the run's folders, Python's own) or a printed path object
(``PosixPath(...)``) is refused, naming the notebook and the cell, rather than published.

We render ourselves rather than through Jupyter Book or nbconvert: both would add tens of packages to
the pinned environment for one page template, nbconvert embeds every image in base64 into its page
(no sharing, no re-encoding) and Jupyter Book needs Sphinx; the anchors per paper item, which tie the
registry to the notebooks, are ours either way.

``make book`` (``blur2vid book``) builds ``docs/book/`` from the last reference run at
``cpu``; the site is built in a scratch folder beside the target and swapped in whole, so a failed
build leaves the previous book as it was.  A source that lacks some notebooks (a clone has the
committed book but not the ignored executed run) replaces only its own pages: the others are kept
from the previous book (:func:`blur2vid.reproduction.book_sources.carried`).
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

from blur2vid.reproduction.book_render import (
    BookError,
    Images,
    Markdown,
    cell_outputs,
    highlight_code,
    notebook_title,
    read_notebook,
    slug,
    widget_states,
)
from blur2vid.reproduction.book_sources import (
    REFERENCE,
    SOURCE_INFO,
    carried,
    keep_reference,
    reference_source,
    source_info,
    swap_in,
)

__all__ = ["BookError", "Book", "build", "check_builder", "keep_reference", "reference_source", "notebook_items",
           "machine_paths", "REFERENCE", "SOURCE_INFO"]


@dataclass
class Book:
    """What :func:`build` wrote: the site's folder, its pages, images and size, and the TeX that
    could not be drawn as MathML (each "notebook, cell: TeX (why)"; shown as TeX on its page)."""
    out: Path
    pages: list[str]
    images: int
    bytes: int
    anchors: dict[str, str] = field(default_factory=dict)  # registry key -> "page.html#item-key"
    math_failures: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"book: {len(self.pages)} pages, {self.images} images, {self.bytes / 2**20:.2f} MiB in {self.out}"
        if self.math_failures:
            text += (f"\nwarning: {len(self.math_failures)} TeX expression(s) could not be drawn as MathML and show "
                     "as TeX:" + "".join(f"\n  {failure}" for failure in self.math_failures))
        return text


# ---------------------------------------------------------------------------------------------
# where the sources are


def notebook_items(nb, stem: str) -> dict[str, int]:
    """Where each registry item of notebook ``stem`` is made: item key -> index of the first code
    cell whose source names one of the item's output files (as a quoted stem), or -1 if none does."""
    from blur2vid.reproduction.registry import REGISTRY

    where = {}
    for item in (i for i in REGISTRY if i.notebook == stem):
        where[item.key] = -1
        for k, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and any(f'"{s}"' in cell.source or f"'{s}'" in cell.source
                                                for s in item.outputs):
                where[item.key] = k
                break
    return where


def _section_start(nb, index: int) -> int:
    """The markdown cell that opens the section of code cell ``index`` (or the cell itself)."""
    for k in range(index, -1, -1):
        if nb.cells[k].cell_type == "markdown":
            return k
    return index


# ---------------------------------------------------------------------------------------------
# pages


_CSS = """
:root { --fg: #1d2125; --muted: #5c6670; --line: #d8dde2; --soft: #f5f7f9; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header.top { border-bottom: 1px solid var(--line); background: var(--soft); padding: .5rem 1rem;
             display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: baseline; font-size: .92rem; }
header.top a.home { font-weight: 600; }
main { max-width: 62rem; margin: 0 auto; padding: 1rem 1.25rem 4rem; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
h1, h2, h3 { line-height: 1.25; } h1 { font-size: 1.8rem; }
a.pilcrow { visibility: hidden; margin-left: .35em; color: var(--muted); font-weight: 400; }
h1:hover a.pilcrow, h2:hover a.pilcrow, h3:hover a.pilcrow { visibility: visible; }
img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
pre, code { font: .86rem/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: .55rem .75rem;
      overflow-x: auto; }
pre.stream { white-space: pre-wrap; overflow-wrap: anywhere; }  /* a run's messages wrap; code scrolls */
pre.stream.stderr { background: #fff8e6; border-color: #f0dca8; }
pre.stream.progress { background: none; border: none; padding: 0 .75rem; margin: .15rem 0; color: var(--muted);
                      font-size: .78rem; }
pre.result { background: #fff; }
.cell { margin: 1rem 0; }
.cell.code .highlight pre { background: #f3f6fa; border-left: 3px solid #9bb7d6; }
.cell .label { color: var(--muted); font-size: .78rem; margin-bottom: -.35rem; }
.output { margin: .25rem 0 0 0; overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .86rem; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--soft); } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { white-space: nowrap; font-weight: 600; }
.v-reproduced { color: #17753a; } .v-contradicted { color: #a3262b; } .v-partly-reproduced,
.v-direction-only { color: #8a5a00; } .v-not-shown, .v-not-reproduced { color: #6b4fa3; }
aside.items { border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem; background: var(--soft); }
aside.items ul { margin: .25rem 0; padding-left: 1.2rem; }
.anchor-item { scroll-margin-top: 1rem; }
.note, footer { color: var(--muted); font-size: .9rem; }
nav.pager { display: flex; justify-content: space-between; border-top: 1px solid var(--line); margin-top: 2rem;
            padding-top: .75rem; }
math { font-family: "STIX Two Math", "Cambria Math", "Latin Modern Math", math; }
math[display="block"] { margin: .5rem 0; overflow-x: auto; overflow-y: hidden; }
code.math-error { color: #a3262b; } code.math-error.display { display: block; text-align: center; margin: .5rem 0; }
"""


def _page(title: str, body: str, nav: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{html.escape(title)} · blur2vid</title>\n<link rel="stylesheet" href="style.css">\n'
            f'</head>\n<body>\n<header class="top">{nav}</header>\n<main>\n{body}\n</main>\n</body>\n</html>\n')


def _verdict_class(verdict: str) -> str:
    return "v-" + slug(verdict)


def _summary(outputs: Path | None):
    """The registry's verdicts from ``outputs`` (None where there is no such folder)."""
    if outputs is None or not Path(outputs).is_dir():
        return None
    from blur2vid.reproduction.registry import summary_table

    return summary_table(Path(outputs))


BUILDER_PACKAGES = ("markdown_it", "pygments", "latex2mathml")
"""What the builder needs beyond the library: the optional extra ``blur2vid[book]`` (``make install``
installs it; ``pip install blur2vid`` for predict or train does not)."""


def check_builder() -> None:
    """Refuse, saying how to install it, when the builder's packages are missing."""
    import importlib.util

    missing = [name for name in BUILDER_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise BookError(f"building the book needs {', '.join(missing)}: pip install 'blur2vid[book]' "
                        "(make install has them)")


# ---------------------------------------------------------------------------------------------
# what a published page must not hold


_ANY_MACHINE = (r"/tmp", r"/var/tmp", r"/var/folders", r"/private/var", r"/private/tmp", r"/root",
                r"/home/[^/\s\"'<>]+", r"/Users/[^/\s\"'<>]+", r"[A-Za-z]:[\\/](?:Users|Temp|Windows)\b")
"""Folders that are one machine's wherever a run happened: temporary ones (a kernel's warnings name
``/tmp/ipykernel_<pid>/<hash>.py``) and the users' homes."""

_PATH_ADVICE = ("; the book is published and shows nothing of the machine that ran it: the notebook should print "
                "paths relative to the repository or the run's output folder (and end a cell that saves with `;` or "
                "an assignment), then run again (`make reproduce`)")
_PATH_OBJECT = re.compile(r"\b(?:Pure)?(?:Posix|Windows)Path\(")
_EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?\s*(?:[a-z][a-z0-9+.-]*:|//)", re.I)


def machine_paths(*folders: Path | str | None) -> re.Pattern:
    """What an absolute path of the building machine looks like in a page: one under ``folders``
    (the build passes the repository, the executed notebooks, the run's outputs, the site and the
    results folder), the home folder, the temporary folder, Python's own libraries (a warning names
    its file), each as given and with its links resolved; one under a temporary or home folder of any
    machine (:data:`_ANY_MACHINE`); or one that goes on below a top-level folder of this machine
    (``/work/run/outputs``, ``/usr/lib/...``; not ``/dev/null`` and the like, nor a bare ``/usr``).
    A match is the whole path, from its start to the next space or quote; a relative path, a web
    address's path and a path that merely ends the same do not match."""
    import sys
    import sysconfig

    python = [sysconfig.get_paths().get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    prefixes = set()
    for folder in (*folders, Path.home(), tempfile.gettempdir(), sys.prefix, *python):
        if folder is None or not str(folder):
            continue
        for form in (os.path.abspath(folder), os.path.realpath(folder)):
            form = form.rstrip("/\\")
            if len(form) > 1:
                prefixes.add(re.escape(form))
    alternatives = sorted(prefixes, key=len, reverse=True) + list(_ANY_MACHINE)
    try:
        tops = sorted(re.escape(name) for name in os.listdir("/") if name not in ("dev", "proc", "sys")
                      and os.path.isdir(os.path.join("/", name)))
    except OSError:
        tops = []
    below = rf"|/(?:{'|'.join(tops)})(?=/[\w.~@+-])" if tops else ""
    return re.compile(r"(?<![\w.~<-])(?:(?:" + "|".join(alternatives) + r")(?![\w.-])" + below + r")[^\s\"'<>]*")


def _the_line(text: str, start: int) -> str:
    line = text[text.rfind("\n", 0, start) + 1:].split("\n", 1)[0].strip()
    return line if len(line) <= 200 else line[:197] + "..."


def _refuse_unportable(fragment: str, where: str, paths: re.Pattern, outputs: str = "", advice: str = "") -> None:
    """Raise :class:`BookError` naming ``where`` when the HTML ``fragment`` loads a script or a
    stylesheet from the network, or shows an absolute path of the building machine (``paths``, from
    :func:`machine_paths`; in its text or its attributes), or when ``outputs`` (the HTML of a cell's
    outputs) shows a printed path object: a published book must read offline and show nothing of
    the machine that built it."""
    external = _EXTERNAL.search(fragment)
    if external:
        raise BookError(f"{where}: the page would load a script or stylesheet from the network "
                        f"({_the_line(fragment, external.start())!r}); the book reads offline{advice}")
    for text in (html.unescape(re.sub(r"<[^>]*>", "", fragment)), html.unescape(fragment)):
        found = paths.search(text)
        if found:
            raise BookError(f"{where}: the page would show {found.group(0)!r}, an absolute path of the machine that "
                            f"built it, in {_the_line(text, found.start())!r}{advice or _PATH_ADVICE}")
    printed = _PATH_OBJECT.search(html.unescape(re.sub(r"<[^>]*>", "", outputs)))
    if printed:
        text = html.unescape(re.sub(r"<[^>]*>", "", outputs))
        raise BookError(f"{where}: an output is a printed path object, {_the_line(text, printed.start())!r}"
                        f"{advice or _PATH_ADVICE}")



def build(source: Path | None = None, out: Path | None = None, readme: Path | None = None,
          outputs: Path | None = None, profile: str = "cpu", root: Path | None = None) -> Book:
    """Build the site from the executed notebooks in ``source`` (default: the last reference run's,
    :func:`reference_source`) into ``out`` (default ``docs/book``, ``docs/book-<profile>`` for another
    profile), with ``readme``'s findings as the
    front page and the verdicts read from ``outputs`` (default ``figures/``; for ``gpu``,
    ``figures/gpu``).  Raises :class:`BookError` when there is nothing to build or a notebook holds
    an error.  Relative links of the README to other files go to where they lie in a clone of
    ``root`` (default: this repository)."""
    from blur2vid.core.io import repo_root
    from blur2vid.reproduction.registry import REGISTRY

    check_builder()
    root = Path(root) if root is not None else repo_root()
    source = Path(source) if source is not None else reference_source(profile)
    out = Path(out) if out is not None else root / "docs" / ("book" if profile == "cpu" else f"book-{profile}")
    readme = Path(readme) if readme is not None else root / "README.md"
    if outputs is None:
        outputs = root / "figures" if profile == "cpu" else root / "figures" / profile
    notebooks = sorted(Path(source).glob("[0-9][0-9]_*.ipynb")) if Path(source).is_dir() else []
    if not notebooks:
        raise BookError(f"no executed notebooks in {source}: the book reads a finished run and never runs one. "
                        f"Run `make reproduce` (PROFILE={profile}) first, or pass --source DIR")
    info = source_info(Path(source), root)
    summary = _summary(outputs)
    paths = machine_paths(root, repo_root(), source, out, outputs, _results_root(),
                          os.environ.get("BLUR2VID_FIGURES"))
    failures: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}-build-", dir=out.parent))
    try:
        images = Images(scratch / "img")
        parsed = [(p.stem, read_notebook(p)) for p in notebooks]
        kept = carried(out, {stem for stem, _ in parsed}, root / "notebooks")
        titles = dict(sorted({**kept.titles, **{stem: notebook_title(nb, stem) for stem, nb in parsed}}.items()))
        anchors = dict(kept.anchors)
        for stem, nb in parsed:
            for key in notebook_items(nb, stem):
                anchors[key] = f"{stem}.html#item-{key}"
        if kept.pages:
            info = kept.source_info(info, [stem for stem, _ in parsed])
            for stem, text in kept.pages.items():
                _refuse_unportable(text, f"{stem}.html, kept from the previous book (its executed notebook is not "
                                   f"in {source})", paths, advice="; its page must be made again from its executed "
                                   "notebook: run it again (`make reproduce`) and build the book from that run")
                (scratch / f"{stem}.html").write_text(text, encoding="utf-8")
            for path in kept.images:
                shutil.copy2(path, scratch / "img" / path.name)
        for item in REGISTRY:
            anchors.setdefault(item.key, f"index.html#item-{item.key}")
        order = list(titles)
        for stem, nb in parsed:
            k = order.index(stem)
            prev_, next_ = (order[k - 1] if k else None), (order[k + 1] if k + 1 < len(order) else None)
            text = _notebook_page(stem, nb, titles, prev_, next_, images, summary, root, out, outputs, anchors,
                                  paths, failures)
            _refuse_unportable(text, f"{stem}.html", paths)
            (scratch / f"{stem}.html").write_text(text, encoding="utf-8")
        pages = [f"{stem}.html" for stem in order]
        front = _front_page(readme, titles, anchors, summary, info, images, root, out, outputs, failures)
        _refuse_unportable(front, f"index.html (the front page, from {Path(readme).name})", paths)
        (scratch / "index.html").write_text(front, encoding="utf-8")
        pages.insert(0, "index.html")
        from pygments.formatters import HtmlFormatter

        (scratch / "style.css").write_text(_CSS.lstrip() + HtmlFormatter(style="friendly").get_style_defs(".highlight"),
                                           encoding="utf-8")
        manifest = json.dumps({"source": info, "pages": pages, "anchors": anchors, "titles": titles,
                               "carried": sorted(kept.pages)}, indent=1, sort_keys=True) + "\n"
        _refuse_unportable(manifest, "book.json (the source of the run)", paths)
        (scratch / "book.json").write_text(manifest)
        swap_in(scratch, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return Book(out, pages, len(images.names), size, anchors, failures)


def _results_root() -> Path | None:
    from blur2vid.reproduction.runs import results_root

    try:
        return results_root()
    except Exception:  # noqa: BLE001 - only one more folder to look for
        return None


def _nav(titles: dict[str, str], current: str | None) -> str:
    links = ['<a class="home" href="index.html">blur2vid: the reference run</a>']
    for stem in titles:
        number = stem.split("_", 1)[0]
        cls = ' aria-current="page"' if stem == current else ""
        links.append(f'<a href="{stem}.html" title="{html.escape(titles[stem])}"{cls}>{number}</a>')
    return " ".join(links)


def _linker(root: Path, base: Path, out: Path, outputs: Path | None, images: Images | None,
            anchors: dict[str, str] | None, pages: set[str] = frozenset()):
    """Rewrite a link of a text that lives in ``base`` (the README: the root; a notebook:
    ``notebooks/``) for a page in ``out``: a link to a file of a registry item's outputs goes to the
    item's section (wherever the run wrote it: notebook 08 links its output folder by absolute path),
    an image of ``outputs`` (shown, or linked and no item's) is copied into the site, a notebook of
    the book (a stem in ``pages``), or a page of the committed book (``docs/book/<stem>.html``, as the
    README's findings link it), goes to this book's page, any other file of the repository is linked where
    it lies in a clone.  Web addresses and anchors stay as they are."""
    from urllib.parse import unquote, urlsplit

    from blur2vid.reproduction.registry import REGISTRY, _owner

    owners = {s: i.key for i in REGISTRY for s in i.outputs}
    root = Path(root).resolve()

    def link(url: str, image: bool = False) -> str:
        if not url or url.startswith("#") or re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I):
            return url
        parts = urlsplit(url)
        path = Path(unquote(parts.path))
        name = path.name
        stem = _owner(name.split(".")[0])
        in_figures = path.is_absolute() or Path(os.path.normpath(base / path)).parent.name == "figures"
        if not image and in_figures and anchors is not None and stem in owners and anchors.get(owners[stem]):
            return anchors[owners[stem]]
        file = Path(outputs) / name if outputs is not None else None
        if in_figures and images is not None and file is not None and file.suffix in (".png", ".gif", ".jpg") \
                and file.is_file():
            return images.add_file(file)
        target = path if path.is_absolute() else Path(os.path.normpath(Path(base).resolve() / path))
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if path.suffix == ".ipynb" and path.stem in pages and target.parent.name == "notebooks":
            return f"{path.stem}.html{fragment}"
        if path.suffix == ".html" and path.stem in pages and target.parent == root / "docs" / "book":
            return f"{path.stem}.html{fragment}"  # the README's links into the book: this book's own page
        try:
            inside = target.relative_to(root)
        except ValueError:
            return url  # outside the repository: nothing to point a reader to
        return os.path.relpath(root / inside, out).replace(os.sep, "/") + fragment

    return link


def _notebook_page(stem, nb, titles, prev_, next_, images, summary, root, out, outputs, anchors, paths,
                   failures) -> str:
    from blur2vid.reproduction.registry import REGISTRY

    used: set[str] = {f"cell-{k}" for k in range(len(nb.cells))} | {f"item-{key}" for key in anchors}
    md = Markdown(link=_linker(root, root / "notebooks", out, outputs, images, anchors, set(titles)), used=used)
    where = notebook_items(nb, stem)
    starts: dict[int, list[str]] = {}
    for key, index in where.items():
        starts.setdefault(_section_start(nb, index) if index >= 0 else -1, []).append(key)
    items = {i.key: i for i in REGISTRY}
    states = widget_states(nb)
    body = []
    for k, cell in enumerate(nb.cells):
        for key in starts.get(k, []):
            body.append(f'<span class="anchor-item" id="item-{key}"></span>')
        name, drawn, outputs_html = f"{stem}.ipynb, cell {k}", len(md.failures), ""
        if cell.cell_type == "markdown":
            body.append(f'<div class="cell markdown" id="cell-{k}">{md.render(cell.source)}</div>')
        elif cell.cell_type == "code":
            tags = cell.get("metadata", {}).get("tags", [])
            label = ("parameters (the notebook's defaults)" if "parameters" in tags else
                     "parameters of this run (injected by papermill)" if "injected-parameters" in tags else "")
            head = f'<div class="label">{label}</div>' if label else ""
            outputs_html = cell_outputs(cell, name, images, md, states)
            body.append(f'<div class="cell code" id="cell-{k}">{head}{highlight_code(cell.source) if cell.source.strip() else ""}'
                        + (f'<div class="output">{outputs_html}</div>' if outputs_html else "") + "</div>")
        if cell.cell_type in ("markdown", "code"):
            _refuse_unportable(body[-1], name, paths, outputs_html)
            failures += [f"{name}: {tex} ({why})" for tex, why in md.failures[drawn:]]
        if k == 0 and where:  # under the title: what this page reproduces
            body.append(_items_box(where, items, summary, starts.get(-1, [])))
    pager = ['<nav class="pager">',
             f'<a href="{prev_}.html">← {html.escape(titles[prev_])}</a>' if prev_ else '<span></span>',
             f'<a href="{next_}.html">{html.escape(titles[next_])} →</a>' if next_ else '<span></span>', "</nav>"]
    source = f'<p class="note">Executed notebook <code>notebooks/{stem}.ipynb</code> of the reference run.</p>'
    return _page(titles[stem], "\n".join(body) + source + "\n".join(pager), _nav(titles, stem))


def _items_box(where, items, summary, unplaced) -> str:
    rows = []
    for key in where:
        item = items[key]
        verdict = ""
        if summary is not None and f"{item.paper}: {item.name}" in summary.index:
            v = summary.loc[f"{item.paper}: {item.name}", "verdict"]
            verdict = f' <span class="verdict {_verdict_class(v)}">{html.escape(v)}</span>'
        anchor = "" if key in unplaced else f' <a href="#item-{key}">go to its section</a>'
        ident = f' id="item-{key}" class="anchor-item"' if key in unplaced else ""
        rows.append(f"<li{ident}><b>{html.escape(item.paper)}: {html.escape(item.name)}</b>, {html.escape(item.shows)}"
                    f"{verdict}{anchor}</li>")
    return f'<aside class="items"><b>Paper items on this page</b><ul>{"".join(rows)}</ul></aside>'


_GALLERY = "\x00gallery\x00"


def _readme_parts(readme: Path) -> tuple[str, str]:
    """The README's introduction (after its title, before the first section) and its findings (the
    section "What reproduced", without the gallery, which the book draws itself)."""
    from blur2vid.reproduction.registry import GALLERY_END, GALLERY_START

    if not readme.is_file():
        raise BookError(f"{readme}: no README to take the front page from")
    text = readme.read_text(encoding="utf-8")
    sections = re.split(r"(?m)^## ", text)
    intro = re.sub(r"(?m)\A# .*\n", "", sections[0]).strip()
    findings = next((s for s in sections[1:] if s.startswith("What reproduced")), None)
    if findings is None:
        raise BookError(f"{readme}: no section '## What reproduced' to take the findings from")
    findings = findings.split("\n", 1)[1] if "\n" in findings else ""
    if GALLERY_START in findings and GALLERY_END in findings:
        head, rest = findings.split(GALLERY_START, 1)
        findings = head + _GALLERY + rest.split(GALLERY_END, 1)[1]
    return intro, findings


def _front_page(readme, titles, anchors, summary, info, images, root, out, outputs, failures) -> str:
    from blur2vid.reproduction.registry import REGISTRY, SEED_FIGURES

    intro, findings = _readme_parts(readme)
    used = {"blur2vid", "notebooks", "what-reproduced", "across-seeds"} | {f"item-{k}" for k in anchors} | {
        f"row-{k}" for k in anchors}
    md = Markdown(link=_linker(root, Path(readme).parent, out, outputs, images, anchors, set(titles)), used=used)
    rows = ['<table class="items"><thead><tr><th>paper item</th><th>what it shows</th><th>notebook</th>'
            '<th>verdict</th><th>rule</th></tr></thead><tbody>']
    for item in REGISTRY:
        label = f"{item.paper}: {item.name}"
        verdict = rule = "-"
        if summary is not None and label in summary.index:
            verdict, rule = summary.loc[label, "verdict"], summary.loc[label, "rule"]
        target = anchors[item.key]
        page = target.split("#", 1)[0]
        notebook = (f'<a href="{page}">{html.escape(item.notebook)}</a>' if page != "index.html" else
                    html.escape(item.notebook))
        rows.append(f'<tr id="{"item-" + item.key if page == "index.html" else "row-" + item.key}">'
                    f'<td><a href="{target}">{html.escape(label)}</a></td><td>{html.escape(item.shows)}</td>'
                    f'<td>{notebook}</td><td class="verdict {_verdict_class(verdict)}">{html.escape(verdict)}</td>'
                    f'<td>{html.escape(rule)}</td></tr>')
    rows.append("</tbody></table>")
    gallery = "\n".join(rows)
    before, _, after = findings.partition(_GALLERY)  # the README's own gallery gives way to the book's
    findings_html = md.render(before) + gallery + md.render(after)
    toc = ["<ol class=\"notebooks\">"] + [f'<li><a href="{s}.html">{html.escape(t)}</a></li>' for s, t in titles.items()]
    toc.append("</ol>")
    spread = []
    for stem in SEED_FIGURES:
        file = Path(outputs) / f"{stem}.png" if outputs is not None else None
        if file is not None and file.is_file():
            spread.append(f'<figure><img src="{images.add_file(file)}" alt="{stem}" loading="lazy">'
                          f'<figcaption class="note"><code>figures/{stem}.png</code></figcaption></figure>')
    run = ", ".join(f"{k} {v}" for k, v in sorted(info.items()) if k != "folder" and not isinstance(v, (dict, list))
                    ) or f"notebooks from {info.get('folder')}"
    seeds = info.get("seeds")
    rerun = "".join(f"; {html.escape(stem)} run again at commit {html.escape(str(i.get('commit')))}"
                    for stem, i in sorted(info.get("rerun", {}).items()))
    body = ['<h1 id="blur2vid">blur2vid: the reference run</h1>', md.render(intro),
            f'<p class="note">This book shows the executed notebooks of the reference run ({html.escape(run)}'
            f'{", training seeds " + ", ".join(map(str, seeds)) if seeds else ""}{rerun}). The notebooks that train show '
            f'the first seed; the verdicts and the figures below pool every seed. Nothing here was re-run to make '
            f'the book.</p>',
            '<h2 id="notebooks">The notebooks</h2>', "\n".join(toc),
            '<h2 id="what-reproduced">What reproduced</h2>', findings_html]
    if spread:
        body += ['<h2 id="across-seeds">Across training seeds</h2>', "\n".join(spread)]
    failures += [f"{Path(readme).name}: {tex} ({why})" for tex, why in md.failures]
    return _page("the reference run", "\n".join(body), _nav(titles, None))
