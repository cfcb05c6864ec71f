"""Executed notebook cells as HTML, for the book (:mod:`blur2vid.reproduction.book`): Markdown (CommonMark with
tables, TeX drawn as MathML at build time, heading ids unique on a page, link targets rewritten by the
caller), code through Pygments, and every kind of output a run leaves: streams as a terminal shows them
(ANSI colours dropped, ``\\r`` honoured, consecutive writes joined), images re-encoded as WebP and stored
once by content hash, pandas tables without their inline styles, widgets from the notebook's saved
widget state (a tqdm bar as its last state), errors refused.

The mathematics needs no network and no script: markdown-it's own rules take ``$...$``, ``\\(...\\)``
(inline), ``$$...$$`` and ``\\[...\\]`` (display; also as a block of lines) as one token each, before
emphasis, escapes or HTML can touch their ``_``, ``*``, ``\\`` or ``<``, and after code spans and fenced
code, which never hold mathematics; :func:`tex_to_mathml` turns each into MathML with ``latex2mathml``,
which browsers draw natively.  TeX it cannot draw stays visible as TeX in ``<code class="math-error">``
and is counted (:attr:`Markdown.failures`)."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from pathlib import Path

from blur2vid.training.loop import DONE_BEFORE

__all__ = ["BookError", "Markdown", "Images", "encode_image", "read_notebook", "notebook_title", "cell_outputs", "align_table_cells",
           "widget_states", "highlight_code", "slug", "tex_to_mathml", "is_progress"]

_WIDGET = "application/vnd.jupyter.widget-view+json"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class BookError(RuntimeError):
    """The book cannot be built: no executed notebooks, a broken one, or one that failed."""

# ---------------------------------------------------------------------------------------------
# text


def slug(text: str) -> str:
    """An id from plain text (a heading's words, code included: `<video>` gives "video")."""
    text = text.lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "section"


def _unique(slug: str, used: set[str]) -> str:
    base, k = slug, 2
    while slug in used:
        slug, k = f"{base}-{k}", k + 1
    used.add(slug)
    return slug


_CLOSING = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}


def _math_rule(state, silent: bool) -> bool:
    r"""markdown-it inline rule: ``$$tex$$`` and ``\[tex\]`` (display), ``$tex$`` and ``\(tex\)``
    (inline).  Dollars follow Pandoc's rule (no space inside either dollar, no digit right after the
    closing one, so "costs $5 and $10" stays prose) and never reach across a code span (no backtick
    inside); an escaped dollar ``\$`` is the escape rule's.  Code spans and code blocks never reach
    this rule (their own rules take them first), and it runs before the escape and emphasis rules, so
    the TeX comes through untouched."""
    src, pos = state.src, state.pos
    if src.startswith(("\\(", "\\["), pos):
        opening = src[pos:pos + 2]
        end = src.find(_CLOSING[opening], pos + 2)
        if end < 0 or not src[pos + 2:end].strip():
            return False
        kind, content, stop = ("math_display" if opening == "\\[" else "math_inline"), src[pos + 2:end], end + 2
    elif src[pos] != "$" or (pos > 0 and src[pos - 1] == "\\"):
        return False
    elif src.startswith("$$", pos):
        opening, end = "$$", src.find("$$", pos + 2)
        if end < 0 or not src[pos + 2:end].strip() or "`" in src[pos + 2:end]:
            return False
        kind, content, stop = "math_display", src[pos + 2:end], end + 2
    else:
        if pos + 1 >= len(src) or src[pos + 1].isspace() or src[pos + 1] == "$":
            return False
        end = pos + 1
        while True:
            end = src.find("$", end)
            if end < 0:
                return False
            if src[end - 1] != "\\":
                break
            end += 1
        content = src[pos + 1:end]
        if (content[-1].isspace() or "\n\n" in content or "`" in content
                or (end + 1 < len(src) and src[end + 1].isdigit())):
            return False
        opening, kind, stop = "$", "math_inline", end + 1
    if not silent:
        token = state.push(kind, "math", 0)
        token.content, token.markup = content, opening
    state.pos = stop
    return True


def _math_block(state, start: int, end: int, silent: bool) -> bool:
    r"""markdown-it block rule: display mathematics on lines of its own, opened by ``$$`` or ``\[`` at
    a line's start and closed by ``$$`` or ``\]`` at a line's end, however many lines lie between
    (blank ones, or ones that would open a list or a quote, included).  It may interrupt a paragraph;
    a closing delimiter with more text after it leaves the line to the inline rule."""
    if state.is_code_block(start):
        return False
    first = state.src[state.bMarks[start] + state.tShift[start]:state.eMarks[start]]
    opening = next((o for o in ("$$", "\\[") if first.startswith(o)), None)
    if opening is None:
        return False
    closing, lines, line, rest = _CLOSING[opening], [], start, first[2:]
    while True:
        k = rest.find(closing)
        if k >= 0:
            if rest[k + 2:].strip():
                return False
            lines.append(rest[:k])
            break
        lines.append(rest)
        line += 1
        if line >= end:
            return False
        rest = state.src[state.bMarks[line] + state.tShift[line]:state.eMarks[line]]
    content = "\n".join(lines)
    if not content.strip() or (opening == "$$" and "`" in content):
        return False
    if not silent:
        token = state.push("math_block", "math", 0)
        token.content, token.markup, token.block, token.map = content, opening, True, [start, line + 1]
    state.line = line + 1
    return True


def tex_to_mathml(tex: str, display: bool) -> str:
    """``tex`` as a MathML ``<math>`` element (``display="block"`` for display mathematics), by
    ``latex2mathml``.  Raises :class:`ValueError`, saying why, for TeX it cannot draw: a parse error,
    unbalanced braces, and what it would otherwise pass through silently as text (an unknown command
    shown as ``\\foo``, an alignment ``&`` outside an environment it knows, such as ``aligned``)."""
    from latex2mathml.converter import convert

    depth = 0
    for char in re.sub(r"\\.", "", tex, flags=re.DOTALL):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            raise ValueError("a closing brace without its opening one")
    if depth:
        raise ValueError("an opening brace without its closing one")
    try:
        mathml = convert(tex, display="block" if display else "inline")
    except Exception as exc:  # noqa: BLE001 - latex2mathml raises many kinds, all meaning "cannot"
        raise ValueError(f"{type(exc).__name__}{': ' + str(exc) if str(exc) else ''}") from None
    for text in re.findall(r">([^<]+)<", mathml):  # each text node as latex2mathml wrote it
        unknown = re.search(r"\\[A-Za-z]+|\\.", text)
        if unknown:
            raise ValueError(f"latex2mathml does not know {unknown.group(0)} (it would show it as text)")
        if re.search(r"&(?!#?[0-9A-Za-z]+;)", text):
            raise ValueError("an alignment & outside an environment latex2mathml knows")
    return re.sub(r'^<math xmlns="[^"]*"', "<math", mathml)  # HTML needs no namespace


class Markdown:
    """CommonMark with tables; TeX drawn as MathML (:func:`tex_to_mathml`); heading ids unique on the
    page (``used``, shared with the page's other ids); the targets of links and images rewritten by
    ``link(url, image=...)``.  ``failures`` lists the TeX that could not be drawn, as written, with why."""

    def __init__(self, link=None, used: set[str] | None = None):
        from markdown_it import MarkdownIt

        self.md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
        self.md.inline.ruler.before("escape", "math", _math_rule)
        self.md.block.ruler.before("fence", "math_block", _math_block,
                                   {"alt": ["paragraph", "reference", "blockquote", "list"]})
        self.link = link
        self.used = used if used is not None else set()
        self.math = False  # whether any mathematics was rendered
        self.failures: list[tuple[str, str]] = []  # (the TeX as written, why it could not be drawn)
        outer = self

        def math(self, tokens, idx, options, env):
            token = tokens[idx]
            display = token.type != "math_inline"
            outer.math = True
            try:
                drawn = tex_to_mathml(token.content, display)
            except ValueError as exc:
                written = token.markup + token.content + _CLOSING[token.markup]
                outer.failures.append((written, str(exc)))
                drawn = (f'<code class="math-error{" display" if display else ""}" title="TeX that could not be '
                         f'drawn: {html.escape(str(exc))}">{html.escape(written)}</code>')
            return drawn + ("\n" if token.block else "")

        def heading_open(self, tokens, idx, options, env):
            inline = tokens[idx + 1]
            text = "".join(t.content for t in (inline.children or []) if t.type in ("text", "code_inline",
                                                                                     "math_inline"))
            tokens[idx].attrSet("id", _unique(slug(text or inline.content), outer.used))
            return self.renderToken(tokens, idx, options, env)

        def heading_close(self, tokens, idx, options, env):
            slug = tokens[idx - 2].attrGet("id")
            return f'<a class="pilcrow" href="#{slug}">#</a>' + self.renderToken(tokens, idx, options, env)

        def target(attr):
            def rule(self, tokens, idx, options, env):
                if outer.link is not None and tokens[idx].attrGet(attr) is not None:
                    tokens[idx].attrSet(attr, outer.link(tokens[idx].attrGet(attr), image=tokens[idx].type == "image"))
                if tokens[idx].type == "image":
                    return self.image(tokens, idx, options, env)
                return self.renderToken(tokens, idx, options, env)
            return rule

        for name, rule in (("math_inline", math), ("math_display", math), ("math_block", math),
                           ("heading_open", heading_open),
                           ("heading_close", heading_close), ("link_open", target("href")),
                           ("image", target("src"))):
            self.md.add_render_rule(name, rule)

    def render(self, text: str) -> str:
        return self.md.render(text)


def _stream_text(text: str) -> str:
    """A stream as a terminal would show it: ANSI colours dropped, each ``\\r`` overwriting its line
    (a progress bar ends as its last state)."""
    text = _ANSI.sub("", text)
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))


_PROGRESS = re.compile(r"\d+%\s*\||: \d+ steps " + re.escape(DONE_BEFORE) + r"\b")


def is_progress(text: str) -> bool:
    """Whether every line of a stream is a progress bar's last state or :func:`~blur2vid.training.
    loop.fit`'s line for a run trained before: shown quietly, not as a warning."""
    lines = [line for line in text.split("\n") if line.strip()]
    return bool(lines) and all(_PROGRESS.search(line) for line in lines)


def highlight_code(code: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return highlight(code, PythonLexer(), HtmlFormatter(nowrap=False, cssclass="highlight"))


# ---------------------------------------------------------------------------------------------
# images


class Images:
    """Every image of the site, re-encoded once and stored once under ``img/`` by content hash."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.names: dict[str, str] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, data: bytes, what: str) -> str:
        key = hashlib.sha256(data).hexdigest()[:16]
        if key not in self.names:
            encoded, ext = encode_image(data, what)
            name = f"{key}.{ext}"
            (self.folder / name).write_bytes(encoded)
            self.names[key] = name
        return f"img/{self.names[key]}"

    def add_file(self, path: Path) -> str:
        return self.add(path.read_bytes(), str(path))


def encode_image(data: bytes, what: str) -> tuple[bytes, str]:
    """``data`` (PNG, JPEG or GIF) as WebP: lossless, unless lossy at quality 90 is under 1/1.3 of
    its size (photographs; a plot's thin lines stay exact); an animated GIF as an animated WebP with
    its frame times and loop count; 16-bit and float images scaled to 8 bits first.  The original
    where it is smaller."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BookError(f"{what}: an image output that is not a readable image ({exc})") from None
    original_ext = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}.get(image.format or "", "png")
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        durations = []
        for k in range(frames):
            image.seek(k)
            durations.append(int(image.info.get("duration", 100)))
        image.seek(0)
        out = io.BytesIO()
        image.save(out, format="WEBP", save_all=True, quality=85, method=4, duration=durations,
                   loop=int(image.info.get("loop", 0)))
        candidates = [out.getvalue()]
    else:
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # deep images: scaled, never clipped
            values = np.asarray(image, dtype=np.float64)
            top = 255.0 if values.max() <= 255 else 65535.0
            image = Image.fromarray(np.clip(values / top * 255 + 0.5, 0, 255).astype(np.uint8))
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
        if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
            image = image.convert("RGB")
        lossless, lossy = io.BytesIO(), io.BytesIO()
        image.save(lossless, format="WEBP", lossless=True, quality=100, method=4)
        image.save(lossy, format="WEBP", quality=90, method=4)
        candidates = [lossless.getvalue() if len(lossless.getvalue()) <= 1.3 * len(lossy.getvalue())
                      else lossy.getvalue()]
    encoded = candidates[0]
    return (encoded, "webp") if len(encoded) < len(data) else (data, original_ext)


# ---------------------------------------------------------------------------------------------
# notebooks


def read_notebook(path: Path):
    import nbformat

    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError, nbformat.reader.NotJSONError) as exc:
        raise BookError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None


def notebook_title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def widget_states(nb) -> dict:
    """The widget models a notebook saved (``metadata.widgets``): model id -> model."""
    saved = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return saved.get("state", {}) if isinstance(saved, dict) else {}


def _widget_text(model_id: str, states: dict, depth: int = 0) -> str | None:
    """A saved widget as text, where it is made of labels and progress bars (tqdm's bar is an HBox
    of an HTML label, a FloatProgress and an HTML count): its last state; None for anything else
    (a slider, an upload box), which only a kernel can show."""
    model = states.get(model_id)
    if model is None or depth > 4:
        return None
    name, state = model.get("model_name"), model.get("state", {})
    if name in ("HTMLModel", "LabelModel"):
        return html.unescape(re.sub(r"<[^>]+>", "", str(state.get("value", "")))).replace("\u2007", " ")
    if name in ("FloatProgressModel", "IntProgressModel"):
        top = float(state.get("max") or 0) or 1.0
        filled = max(0, min(10, round(10 * float(state.get("value") or 0) / top)))
        return "|" + "█" * filled + " " * (10 - filled) + "|"
    if name in ("HBoxModel", "VBoxModel"):
        texts = [_widget_text(str(c).replace("IPY_MODEL_", ""), states, depth + 1) for c in state.get("children", [])]
        return None if any(t is None for t in texts) or not texts else (" " if name == "HBoxModel" else "\n").join(texts)
    return None


def cell_outputs(cell, where: str, images: Images, md: Markdown, states: dict | None = None) -> str:
    parts, widgets, outputs = [], 0, []
    for out in cell.get("outputs", []):  # consecutive writes to one stream are one text (nbclient
        # keeps every flush of a progress bar as its own output)
        if (out.get("output_type") == "stream" and outputs and outputs[-1].get("output_type") == "stream"
                and outputs[-1].get("name") == out.get("name")):
            outputs[-1] = {**outputs[-1], "text": outputs[-1]["text"] + _join(out.get("text", ""))}
        else:
            outputs.append(dict(out, text=_join(out["text"])) if out.get("output_type") == "stream" else out)
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            text = _stream_text(out.get("text", ""))
            if text.strip():
                name = "progress" if is_progress(text) else html.escape(out.get("name", "stdout"))
                parts.append(f'<pre class="stream {name}">{html.escape(text)}</pre>')
        elif kind == "error":
            raise BookError(f"{where}: the executed notebook holds an error ({out.get('ename')}: {out.get('evalue')}); "
                            "the book shows finished runs only: run `make reproduce` again")
        elif kind in ("display_data", "execute_result"):
            data = out.get("data", {})
            if _WIDGET in data:
                view = data[_WIDGET]
                text = _widget_text(str(view.get("model_id", "")), states or {}) if isinstance(view, dict) else None
                if text is None:
                    widgets += 1
                else:
                    parts.append(f'<pre class="stream {"progress" if is_progress(text) else "stderr"}">'
                                 f'{html.escape(text)}</pre>')
                continue
            parts.append(_mime(data, where, images, md))
    if widgets:
        parts.append('<p class="note">An interactive widget stood here: open the notebook in JupyterLab to use it.</p>')
    return "\n".join(p for p in parts if p)


def _mime(data: dict, where: str, images: Images, md: Markdown) -> str:
    for mime in ("image/gif", "image/png", "image/jpeg"):
        if mime in data:
            raw = data[mime]
            try:
                payload = base64.b64decode("".join(raw) if isinstance(raw, list) else raw)
            except ValueError as exc:
                raise BookError(f"{where}: an {mime} output that is not base64 ({exc})") from None
            return f'<img src="{images.add(payload, where)}" alt="output of {html.escape(where)}" loading="lazy">'
    if "image/svg+xml" in data:
        return f'<div class="svg">{_join(data["image/svg+xml"])}</div>'
    if "text/html" in data:
        body = re.sub(r"<style[^>]*>.*?</style>", "", _join(data["text/html"]), flags=re.DOTALL)
        return f'<div class="html-output">{align_table_cells(body)}</div>'
    if "text/markdown" in data:
        return align_table_cells(md.render(_join(data["text/markdown"])))
    if "text/plain" in data:
        return f'<pre class="result">{html.escape(_stream_text(_join(data["text/plain"])))}</pre>'
    return ""


_NUM = r"[-+\u2212]?(?:\d[\d,\u2009\u202f]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(  # 12, -0.68, 1,234, +5.99 [+5.81, +6.19] dB, 0.96 (threshold 0.90), 45%
    rf"{_NUM}(?:\s*\[{_NUM},\s*{_NUM}\])?(?:\s*(?:%|dB|px|ms|µs|s|fps|×|x|MB|GB|M|k))?"
    rf"(?:\s*\((?:threshold|at least|at most)\s+{_NUM}\))?")
_NEUTRAL = {"", "nan", "NaN", "None", "<NA>", "—", "–", "-", "inf", "-inf"}
_CELL = re.compile(r"<(td|th)((?:\s[^>]*)?)>(.*?)</\1>", re.DOTALL)


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


def align_table_cells(body: str) -> str:
    """Tables as a person reads them: text left, numbers right.  A column whose body cells all hold
    numbers (with maybe a sign, a unit or a percent; empty and ``nan`` cells aside) gets
    ``class="num"`` on each of its cells, its header's too (the stylesheet aligns those right and
    every other cell left); pandas' inline ``text-align: right`` on header rows and the alignment
    markdown-it writes on cells are dropped so that the stylesheet decides."""
    if "<table" not in body:
        return body
    body = re.sub(r'\s*style="\s*text-align:\s*(?:right|left|center);?\s*"', "", body)
    return _IDENTIFIER.sub(_breakable, _TABLE.sub(_align_table, body))


_IDENTIFIER = re.compile(r"(<th\b[^>]*>)([A-Za-z][\w.]{15,})(</th>)")


def _breakable(match: re.Match) -> str:
    """A long identifier heading a row (a claim's ``jin.tab3.middle_much_faster_than_nah``) may
    break after its dots and underscores, so that it gives the room to the text beside it."""
    head, name, tail = match.groups()
    return head + re.sub(r"([._])", r"\1<wbr>", name) + tail


_TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL)
_ROW = re.compile(r"<tr\b[^>]*>.*?</tr>", re.DOTALL)


def _align_table(match: re.Match) -> str:
    table = match.group(0)
    rows = [[m.groups() for m in _CELL.finditer(r.group(0))] for r in _ROW.finditer(table)]
    body = [r for r in rows if any(tag == "td" for tag, _, _ in r)]
    if not body:
        return table
    width = max(len(r) for r in body)
    numeric = set()
    for c in range(width):
        column = [r[c][2] for r in body if len(r) == width and r[c][0] == "td"]
        texts = [html.unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in column]
        if any(t not in _NEUTRAL for t in texts) and all(t in _NEUTRAL or _is_number(t) for t in texts):
            numeric.add(c)

    def row(match: re.Match) -> str:
        cells = list(_CELL.finditer(match.group(0)))
        if len(cells) != width or any("colspan" in m.group(2) for m in cells):
            return match.group(0)
        out, last = [], 0
        for c, m in enumerate(cells):
            tag, attrs, content = m.groups()
            out.append(match.group(0)[last:m.start()])
            if c in numeric and "class=" not in attrs:
                out.append(f'<{tag}{attrs} class="num">{content}</{tag}>')
            else:
                out.append(m.group(0))
            last = m.end()
        out.append(match.group(0)[last:])
        return "".join(out)

    return _ROW.sub(row, table)


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
