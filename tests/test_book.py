"""The book (blur2vid.reproduction.book): a static site of executed notebooks, built without running any.

Unit tests build it from notebooks made here, with every kind of output a run leaves, and check that
it reads offline (mathematics as MathML, no script or stylesheet from the network, every link and
image leading to a file of the site or the repository) and shows nothing of the machine that built
it; the slow test builds it from a real smoke run's executed notebooks and checks that every notebook
has a page, every registry item an anchor on the page it links to, and that no page shows a traceback."""

import base64
import io
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from blur2vid.reproduction import book, book_render
from blur2vid.reproduction.registry import REGISTRY

README = """# blur2vid

An introduction with a [link to the design](docs/DESIGN.md).

## Two commands

Not on the front page.

## What reproduced

The findings, with $x_3$ and a [figure](figures/jin_fig4_ablation.png).

<!-- gallery:start -->
| old | gallery |
|---|---|
<!-- gallery:end -->

- **A finding** with a table:

| a | b |
|---|---|
| 1 | 2 |

## The notebooks

Not on the front page either.
"""


def _png(seed: int, size: int = 64) -> str:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _notebook(extra_outputs=()) -> nbformat.NotebookNode:
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("# 04 · Training Jin's cascade\n\nThe story."),
        v4.new_code_cell('profile: str = "cpu"  # smoke | cpu | gpu', metadata={"tags": ["parameters"]}),
        v4.new_markdown_cell("## Fig. 4: the ablation of losses\n\nSix schemes, frames $\\hat x_3$ and\n\n$$L = \\sum_i |x_i|$$"),
        v4.new_code_cell('ablation = ex.ablation_table(cascades, moderate)\nrun.save(ablation, "jin_fig4_ablation")'),
        v4.new_markdown_cell("## Fig. 4: the ablation of losses\n\nThe same heading again."),
        v4.new_code_cell("plots.show()"),
    ]
    png = _png(0)
    cells[3].outputs = [
        v4.new_output("stream", name="stderr", text="step  10%|#   |\rstep  50%|#####  |\rstep 100%|##########|\n"),
        v4.new_output("stream", name="stdout", text="\x1b[31mred text\x1b[0m done\n"),
        v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        v4.new_output("execute_result", execution_count=3, data={
            "text/html": '<style scoped>.dataframe td {color: red}</style><table class="dataframe"><tr><td>26.1</td>'
                         "</tr></table>", "text/plain": "table"}),
        v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                                            "text/plain": "HBox(children=(FloatProgress(value=0.0),))"}),
    ]
    cells[5].outputs = [v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
                        *extra_outputs]
    return v4.new_notebook(cells=cells)


@pytest.fixture
def site(tmp_path):
    source = tmp_path / "executed"
    source.mkdir()
    nbformat.write(_notebook(), source / "04_jin_training.ipynb")
    (tmp_path / "README.md").write_text(README)
    return source, tmp_path / "docs" / "book", tmp_path / "README.md"


def test_a_notebook_page_shows_its_outputs_once_each_and_small(site, tmp_path):
    source, out, readme = site
    built = book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    assert built.pages == ["index.html", "04_jin_training.html"]
    page = (out / "04_jin_training.html").read_text()
    # the same figure shown twice is stored once, re-encoded smaller than the notebook's PNG
    assert built.images == 1 and len(list((out / "img").iterdir())) == 1
    (image,) = (out / "img").iterdir()
    assert image.suffix == ".webp" and image.stat().st_size < len(base64.b64decode(_png(0)))
    assert page.count(f'src="img/{image.name}"') == 2
    assert Image.open(image).size == (64, 64)
    # a progress bar ends as its last state; colours are dropped; pandas' styles are not copied
    assert "100%" in page and "10%" not in page and "\x1b" not in page and "red text done" in page
    assert "<style" not in page and "<td class=\"num\">26.1</td>" in page
    assert "interactive widget" in page and "HBox(" not in page
    # TeX is drawn as MathML when the book is built (no script, no network); headings get ids, distinct
    # when a heading repeats
    assert '<math display="inline"><mrow><msub><mover accent="true"><mi>x</mi>' in page
    assert page.count('<math display="block">') == 1 and "<msub><mi>x</mi><mi>i</mi></msub>" in page
    assert "<script" not in page and "\\hat" not in page and not built.math_failures
    assert 'id="fig-4-the-ablation-of-losses"' in page and 'id="fig-4-the-ablation-of-losses-2"' in page
    assert "parameters (the notebook&#x27;s defaults)" in page or "parameters (the notebook's defaults)" in page
    assert "Traceback" not in page


def test_every_registry_item_has_an_anchor_where_the_front_page_points(site, tmp_path):
    source, out, readme = site
    built = book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    pages = {p: (out / p).read_text() for p in built.pages}
    front = pages["index.html"]
    for item in REGISTRY:
        target = built.anchors[item.key]
        page, anchor = target.split("#")
        assert f'href="{target}"' in front, item.key
        assert f'id="{anchor}"' in pages[page], (item.key, page)
    # Fig. 4's anchor opens the section whose code saves its table, not the page's top
    page = pages["04_jin_training.html"]
    assert built.anchors["jin_fig4"] == "04_jin_training.html#item-jin_fig4"
    assert page.index('id="item-jin_fig4"') < page.index('id="fig-4-the-ablation-of-losses"') < page.index("ablation_table")
    # Table 2 is on notebook 04 too, but this notebook never saves it: anchored in the box at the top
    assert re.search(r'<li id="item-jin_tab2"', page)
    # items of notebooks that are not here are anchored in the front page's table
    assert built.anchors["hypercut_ordering"] == "index.html#item-hypercut_ordering"


def test_the_readme_findings_link_into_whichever_book_is_built(site, tmp_path):
    """The README links a finding to the committed book's page (docs/book/04_jin_training.html#...);
    in a book built elsewhere (another profile's, a scratch folder) the link opens that book's page."""
    source, _, readme = site
    readme.write_text(README.replace("- **A finding**", "- **[A linked finding](docs/book/04_jin_training.html#item-jin_tab2)**"))
    for out in (tmp_path / "docs" / "book", tmp_path / "elsewhere" / "book-gpu"):
        book.build(source, out, readme=readme, outputs=tmp_path / "no-figures", root=tmp_path)
        assert 'href="04_jin_training.html#item-jin_tab2"' in (out / "index.html").read_text()


def test_the_front_page_is_the_readme_findings_with_links_into_the_book(site, tmp_path):
    source, out, readme = site
    book.build(source, out, readme=readme, outputs=tmp_path / "no-figures", root=tmp_path)
    front = (out / "index.html").read_text()
    assert "An introduction" in front and "The findings" in front and "A finding" in front
    assert "Not on the front page" not in front and "old | gallery" not in front
    assert '<td>1</td>' in front  # the README's own tables are rendered
    # a registry figure links to its item's section; another repository file to its place in a clone
    assert 'href="04_jin_training.html#item-jin_fig4"' in front
    assert 'href="../DESIGN.md"' in front  # docs/book/../DESIGN.md
    assert 'href="04_jin_training.html"' in front  # the list of notebooks


def test_a_failed_notebook_is_refused_and_the_previous_book_stays(site, tmp_path):
    source, out, readme = site
    book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    before = (out / "index.html").read_text()
    error = nbformat.v4.new_output("error", ename="RuntimeError", evalue="diverged", traceback=["Traceback ..."])
    nbformat.write(_notebook([error]), source / "04_jin_training.ipynb")
    with pytest.raises(book.BookError, match=r"04_jin_training.ipynb, cell 5.*RuntimeError: diverged"):
        book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    assert (out / "index.html").read_text() == before
    assert [p.name for p in out.parent.iterdir()] == ["book"]  # no scratch folder left behind


def test_nothing_to_build_and_broken_notebooks_are_named(tmp_path, capsys):
    from blur2vid.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(book.BookError, match=r"no executed notebooks in .*empty.*make reproduce"):
        book.build(empty, tmp_path / "book")
    assert main(["book", "--source", str(empty), "--out", str(tmp_path / "book")]) == 1
    assert "no executed notebooks" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "01_blur_formation.ipynb").write_text("{not json")
    with pytest.raises(book.BookError, match=r"01_blur_formation.ipynb: not a readable notebook"):
        book.build(broken, tmp_path / "book")
    assert not (tmp_path / "book").exists()


def test_keep_reference_replaces_the_previous_sources_whole(tmp_path, monkeypatch):
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path / "results"))
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, names in ((first, ["01_a.ipynb", "02_b.ipynb"]), (second, ["01_a.ipynb"])):
        folder.mkdir()
        for name in names:
            nbformat.write(nbformat.v4.new_notebook(), folder / name)
    target = book.keep_reference(first, "cpu", {"commit": "abc1234", "seeds": [0, 1, 2]})
    assert target == tmp_path / "results" / "executed" / "cpu" / "reference"
    assert sorted(p.name for p in target.iterdir()) == ["01_a.ipynb", "02_b.ipynb", book.SOURCE_INFO]
    book.keep_reference(second, "cpu", {"commit": "def5678", "seeds": [0, 1, 2]})
    assert sorted(p.name for p in target.iterdir()) == ["01_a.ipynb", book.SOURCE_INFO]
    assert json.loads((target / book.SOURCE_INFO).read_text())["commit"] == "def5678"
    # a run of only some notebooks replaces those and keeps the others, and says which were re-run
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# new")]), second / "02_b.ipynb")
    book.keep_reference(second, "cpu", {"commit": "0123abc"}, notebooks=["02_b"])
    assert sorted(p.name for p in target.iterdir()) == ["01_a.ipynb", "02_b.ipynb", book.SOURCE_INFO]
    assert "# new" in (target / "02_b.ipynb").read_text()
    info = json.loads((target / book.SOURCE_INFO).read_text())
    assert info["commit"] == "def5678" and info["rerun"] == {"02_b": {"commit": "0123abc"}}
    with pytest.raises(book.BookError, match="no executed notebooks"):
        book.keep_reference(tmp_path / "nothing", "cpu", {})


@pytest.mark.slow
def test_the_book_of_a_smoke_run(tmp_path, monkeypatch):
    """Every notebook executed at smoke by `reproduce`, then the book: a page per notebook, an
    anchor for every registry item on the page the front page links, notebook 04's tables and
    figures inline, every image on disk and every link leading somewhere, nothing loaded from the
    network, and no traceback anywhere.  The test's run writes outside the repository, so its
    notebooks may print their folders whole: the book refuses that, and is built from the notebooks
    as a reference run prints them (inside the repository, relative to it); any other path of this
    machine (a kernel's warning, a printed ``PosixPath``) is refused in both."""
    from blur2vid.core.io import repo_root
    from blur2vid.reproduction.reproduce import executed_dir, notebook_paths, reproduce

    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path / "results"))
    outputs = tmp_path / "figures"  # conftest points BLUR2VID_FIGURES here
    reproduce(profile="smoke", seeds=[0])
    executed = executed_dir("smoke", 0)
    try:
        book.build(executed, tmp_path / "book", outputs=outputs, profile="smoke")
    except book.BookError as exc:  # named: the notebook and its cell
        assert re.match(r"\d\d_\w+\.ipynb, cell \d+: ", str(exc)), exc
        assert not (tmp_path / "book").exists()
    source = tmp_path / "as-a-reference-run-prints-them"
    source.mkdir()
    for path in executed.glob("*.ipynb"):
        (source / path.name).write_text(path.read_text().replace(f"{tmp_path}/", "").replace(str(tmp_path), "."))
    built = book.build(source, tmp_path / "book", outputs=outputs, profile="smoke")
    stems = [p.stem for p in notebook_paths()]
    assert built.pages == ["index.html"] + [f"{s}.html" for s in stems]
    pages = {p: (tmp_path / "book" / p).read_text() for p in built.pages}
    for stem in stems:
        assert f'href="{stem}.html"' in pages["index.html"]
    for item in REGISTRY:
        page, anchor = built.anchors[item.key].split("#")
        assert f'href="{built.anchors[item.key]}"' in pages["index.html"]
        assert f'id="{anchor}"' in pages[page], (item.key, page)
        if item.notebook != "-":
            assert page == f"{item.notebook}.html", item.key
    jin = pages["04_jin_training.html"]
    assert jin.count("<table") >= 4 and jin.count("<img") >= 4
    for text in pages.values():
        assert "Traceback" not in text and "<script" not in text and "cdn" not in text.lower()
        assert not [t for t in re.findall(r"<link\b[^>]*>", text) if "//" in t]
    assert _unresolved(tmp_path / "book", repo_root()) == []
    assert built.bytes < 10 * 2**20
    assert not built.math_failures, built.math_failures


def test_markdown_keeps_prose_dollars_code_and_heading_ids_apart():
    md = book_render.Markdown(used={"cell-3"})
    html_ = md.render("It costs $5 and $10, frame $\\hat x_3$ moves.\n\n`a$b` and ``c $x`` stay code.\n\n"
                      "```\necho $HOME $PATH\n```\n\n## The `<video>` tag\n\n## Cell 3\n\n$$\nB = g(x)\n$$")
    assert "costs $5 and $10" in html_ and '<math display="inline"><mrow><msub><mover accent="true">' in html_
    assert "<code>a$b</code>" in html_ and "<code>c $x</code>" in html_ and "echo $HOME $PATH" in html_
    assert 'id="the-video-tag"' in html_ and 'id="cell-3-2"' in html_ and '<math display="block">' in html_
    assert md.math and not md.failures


def test_links_resolve_from_where_their_text_lives(tmp_path):
    root, out = tmp_path, tmp_path / "docs" / "book"
    anchors = {"jin_fig4": "04_jin_training.html#item-jin_fig4"}
    link = book._linker(root, root / "notebooks", out, tmp_path / "figures", None, anchors)
    assert link("../docs/DESIGN.md#layout") == "../DESIGN.md#layout"
    assert link("HTTPS://example.org/a.png") == "HTTPS://example.org/a.png" and link("#x") == "#x"
    # notebook 08 links its run's output folder by absolute path: the item's section, wherever it was
    assert link("/elsewhere/figures/jin_fig4_ablation.md") == anchors["jin_fig4"]
    assert link("../figures/jin_fig4_ablation_scenes.csv") == anchors["jin_fig4"]
    assert link("/outside/the/repo.txt") == "/outside/the/repo.txt"


def test_progress_bars_split_over_outputs_end_as_their_last_state(tmp_path):
    v4 = nbformat.v4
    cell = v4.new_code_cell("train()")
    cell.outputs = [v4.new_output("stream", name="stderr", text=f"\rstep {k:3d}%") for k in (10, 50, 100)]
    cell.outputs.append(v4.new_output("stream", name="stderr", text="\n"))
    cell.outputs.append(v4.new_output("stream", name="stdout", text="a\rb\r\n"))
    html_ = book_render.cell_outputs(cell, "x.ipynb, cell 0", book_render.Images(tmp_path / "img"), book_render.Markdown())
    assert html_.count("<pre") == 2 and "step 100%" in html_ and "50%" not in html_ and ">b\n<" in html_


def test_progress_is_shown_quietly_and_warnings_are_not(tmp_path):
    """A stream of progress bars (or of runs trained before) is set apart from a warning on stderr."""
    from blur2vid.training.loop import DONE_BEFORE

    bars = "U-Net naive: 100% |##########| 1000/1000 [04:10<00:00, 4.0it/s]\n"
    before = f"step 1: middle: 1600 steps {DONE_BEFORE} at 95 samples/s, read from jin-1a2b.pt\n"
    warning = "UserWarning: no VGG16 weights, so the perceptual term is replaced\n"
    assert book_render.is_progress(bars) and book_render.is_progress(before + bars)
    assert not book_render.is_progress(warning) and not book_render.is_progress(bars + warning)
    assert not book_render.is_progress("\n")
    v4 = nbformat.v4
    cell = v4.new_code_cell("train()")
    cell.outputs = [v4.new_output("stream", name="stderr", text=before), v4.new_output("stream", name="stdout", text="x\n"),
                    v4.new_output("stream", name="stderr", text=warning)]
    html_ = book_render.cell_outputs(cell, "x.ipynb, cell 0", book_render.Images(tmp_path / "img"), book_render.Markdown())
    assert '<pre class="stream progress">step 1: middle' in html_ and '<pre class="stream stderr">UserWarning' in html_


def test_a_long_identifier_heading_a_row_may_break_at_its_dots_and_underscores():
    table = ("<table><tr><th>jin.tab3.middle_much_faster_than_nah</th><td>a claim in words</td></tr>"
             "<tr><th>blur_copy</th><td>jin.tab3.middle_much_faster</td></tr>"
             "<tr><th>a heading in words</th><td>x</td></tr></table>")
    out = book_render.align_table_cells(table)
    assert "<th>jin.<wbr>tab3.<wbr>middle_<wbr>much_<wbr>faster_<wbr>than_<wbr>nah</th>" in out
    assert out.count("<wbr>") == 6 and "<th>blur_copy</th>" in out and "<td>jin.tab3.middle_much_faster</td>" in out


def test_images_keep_their_depth_their_timing_and_plots_stay_exact():
    ramp = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, format="PNG")
    data, ext = book_render.encode_image(buffer.getvalue(), "deep")
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=float)
    assert abs(decoded.mean() - ramp.mean() / 257) < 2 and decoded.std() > 50  # scaled, not clipped white
    rng = np.random.default_rng(1)  # noise: a GIF that WebP beats, so the re-encoded file is read back
    frames = [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=[100, 500, 900], loop=1)
    data, ext = book_render.encode_image(buffer.getvalue(), "gif")
    gif = Image.open(io.BytesIO(data))
    assert gif.n_frames == 3 and ext == "webp"
    if ext == "webp":
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            gif.load()  # WebP reads a frame's time when it is decoded
            durations.append(gif.info["duration"])
        assert durations == [100, 500, 900] and gif.info.get("loop") == 1
    # a plot (few colours, thin lines) is stored without loss
    plot = np.full((60, 80, 3), 255, np.uint8)
    plot[::7, :, :] = (31, 95, 168)
    buffer = io.BytesIO()
    Image.fromarray(plot).save(buffer, format="PNG")
    data, ext = book_render.encode_image(buffer.getvalue(), "plot")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), plot)


def test_the_gallery_replaces_the_readme_one_even_without_blank_lines(site, tmp_path):
    source, out, readme = site
    readme.write_text("# t\n\nIntro.\n\n## What reproduced\n\nFindings.\n<!-- gallery:start -->\n| a |\n|---|\n"
                      "<!-- gallery:end -->\nNext line.\n")
    book.build(source, out, readme=readme, outputs=tmp_path / "no-figures", root=tmp_path)
    front = (out / "index.html").read_text()
    assert '<table class="items">' in front and "\x00" not in front and "Next line." in front
    assert 'id="item-hypercut_ordering"' in front


def test_a_progress_bar_widget_shows_its_last_saved_state(tmp_path):
    """tqdm in a notebook is a widget whose output holds only its first state; the notebook's saved
    widget state holds the last, and the book shows that; a widget only a kernel can draw is named."""
    v4 = nbformat.v4
    cell = v4.new_code_cell("train()")
    view = "application/vnd.jupyter.widget-view+json"
    cell.outputs = [v4.new_output("display_data", data={view: {"model_id": "bar"}, "text/plain": "step: 0%| | 0/8"}),
                    v4.new_output("display_data", data={view: {"model_id": "slider"}, "text/plain": "IntSlider()"})]
    states = {"bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b", "IPY_MODEL_c"]}},
              "a": {"model_name": "HTMLModel", "state": {"value": "step:\u2007100%"}},
              "b": {"model_name": "FloatProgressModel", "state": {"value": 8.0, "max": 8.0}},
              "c": {"model_name": "HTMLModel", "state": {"value": "\u20078/8\u2007[00:02&lt;00:00]"}},
              "slider": {"model_name": "IntSliderModel", "state": {"value": 3}}}
    html_ = book_render.cell_outputs(cell, "x.ipynb, cell 0", book_render.Images(tmp_path / "img"), book_render.Markdown(), states)
    assert "step: 100% |██████████|  8/8 [00:02&lt;00:00]" in html_ and "0/8" not in html_
    assert html_.count("interactive widget") == 1


def test_a_rebuild_from_one_notebook_keeps_the_other_pages_of_the_book(tmp_path):
    """A clone holds the committed book but not the executed run it was built from; re-running one
    notebook (``reproduce --only 07``) must replace that page and keep the others, with their images,
    links and the record of which notebook was run again, rather than leave a one-page book."""
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "notebooks").mkdir()
    full = tmp_path / "full"
    full.mkdir()
    first, second = "04_jin_training", "07_your_own_image"
    for stem in (first, second, "09_gone"):
        nbformat.write(_notebook(), full / f"{stem}.ipynb")
    (full / book.SOURCE_INFO).write_text(json.dumps({"commit": "aaa", "seeds": [0, 1, 2]}))
    for stem in (first, second):  # 09's notebook was removed from the project since the last build
        (tmp_path / "notebooks" / f"{stem}.ipynb").write_text("{}")
    out = tmp_path / "docs" / "book"
    book.build(full, out, readme=tmp_path / "README.md", outputs=tmp_path / "no-figures", root=tmp_path)
    kept = (out / f"{first}.html").read_text()
    again = tmp_path / "again"
    again.mkdir()
    nb = _notebook()
    nb.cells[0].source = "# 07 · Your own image, again\n\nNew text."
    nb.cells[5].outputs[0].data["image/png"] = _png(7)
    nbformat.write(nb, again / f"{second}.ipynb")
    (again / book.SOURCE_INFO).write_text(json.dumps({"commit": "bbb", "seeds": [0]}))
    built = book.build(again, out, readme=tmp_path / "README.md", outputs=tmp_path / "no-figures", root=tmp_path)
    assert built.pages == ["index.html", f"{first}.html", f"{second}.html"]  # 09 is not carried over
    assert (out / f"{first}.html").read_text() == kept
    for name in re.findall(r'"img/([^"/]+)"', kept) + re.findall(r'"img/([^"/]+)"', (out / f"{second}.html").read_text()):
        assert (out / "img" / name).is_file(), name
    assert "New text." in (out / f"{second}.html").read_text()
    assert f'href="{first}.html"' in (out / f"{second}.html").read_text()  # its nav still lists every page
    manifest = json.loads((out / "book.json").read_text())
    assert manifest["source"]["commit"] == "aaa" and manifest["source"]["rerun"][second]["commit"] == "bbb"
    assert manifest["carried"] == [first] and manifest["titles"][second] == "07 · Your own image, again"
    front = (out / "index.html").read_text()
    assert f"{second} run again at commit bbb" in front and "commit aaa" in front


def test_the_builder_says_how_to_install_what_it_needs(monkeypatch):
    """The builder's packages are an optional extra: without them the book is refused with the
    command that installs them, before anything is read or written."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pygments" else real(name, *a))
    with pytest.raises(book.BookError, match=r"needs pygments: pip install 'blur2vid\[book\]'"):
        book.build(source=Path("/nonexistent"))


def test_the_library_imports_without_the_builders_packages():
    import subprocess
    import sys

    code = ("import sys; sys.modules['markdown_it'] = sys.modules['pygments'] = sys.modules['latex2mathml'] = None\n"
            "import blur2vid.app.predict, blur2vid.app.recipes, blur2vid.app.shipping, blur2vid.cli\n"
            "import blur2vid.reproduction.reproduce")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# a book that reads offline and shows nothing of the machine that built it

MATH = ("## Mathematics\n\nA frame $x_1 * y_2 * z_{3}$ and \\(a_i * b_i\\), a price of $5 and $10, a shell "
        "`echo $HOME` and `$x_1$`.\n\n$$\n\\sum_{i} w_i\n- 1\n\n+ \\frac{a}{b}\n$$\n\nBetween.\n\\[c_k < d_k\\]\n\n"
        "```\nprint('$y_2$ costs $PATH')\n```")


def _site_pages(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8") for p in out.rglob("*.html")}


def _unresolved(out: Path, root: Path) -> list[str]:
    """Every internal link (``href``) and image (``src``) of every page of the site in ``out`` that
    does not lead to a file (in the site, or in the repository ``root`` for a file the site does not
    hold) or to an anchor that exists on its page."""
    from urllib.parse import unquote, urlsplit

    bad = []
    for name, text in _site_pages(out).items():
        for attr, url in re.findall(r'\b(href|src)="([^"]*)"', text):
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue
            target = (out / name).parent / unquote(parts.path) if parts.path else out / name
            target = Path(__import__("os").path.normpath(target))
            if not target.is_file() or not (target.is_relative_to(out) or target.is_relative_to(root)):
                bad.append(f"{name}: {attr}={url}")
            elif parts.fragment and f'id="{parts.fragment}"' not in target.read_text(encoding="utf-8"):
                bad.append(f"{name}: {attr}={url} (no such anchor)")
    return bad


def test_the_book_reads_offline_and_every_link_and_image_resolves(site, tmp_path):
    source, out, readme = site
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "DESIGN.md").write_text("# design\n")
    nb = _notebook()
    nb.cells.insert(5, nbformat.v4.new_markdown_cell(
        MATH + "\n\nSee [the ablation](04_jin_training.ipynb#fig-4-the-ablation-of-losses), [the design]"
        "(../docs/DESIGN.md) and ![a figure](../figures/jin_fig4_ablation.png)."))
    nbformat.write(nb, source / "04_jin_training.ipynb")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "jin_fig4_ablation.png").write_bytes(base64.b64decode(_png(3)))
    built = book.build(source, out, readme=readme, outputs=tmp_path / "figures", root=tmp_path)
    pages = _site_pages(out)
    assert sorted(pages) == sorted(built.pages)
    for name, text in pages.items():
        tags = re.findall(r"<(?:script|link)\b[^>]*>", text, re.I)
        assert not [t for t in tags if "http://" in t or "https://" in t or "//" in t], (name, tags)
        assert "<script" not in text and "cdn" not in text.lower() and "mathjax" not in text.lower(), name
        assert "http://" not in text and "https://" not in text, name  # nothing in these pages points outside
    assert _unresolved(out, tmp_path) == []
    # the front page's mathematics too, and where the notebooks came from without a machine's path
    assert '<math display="inline"><mrow><msub><mi>x</mi><mn>3</mn></msub></mrow></math>' in pages["index.html"]
    assert "notebooks from executed" in pages["index.html"]
    assert 'href="04_jin_training.html#fig-4-the-ablation-of-losses"' in pages["04_jin_training.html"]
    # an image of the run's outputs shown in a notebook is copied into the site (a link to it goes to its item)
    assert re.search(r'<img src="img/[0-9a-f]+\.webp" alt="a figure"', pages["04_jin_training.html"])
    assert 'href="04_jin_training.html#item-jin_fig4"' in pages["index.html"]
    assert json.loads((out / "book.json").read_text())["source"] == {"folder": "executed"}


def test_mathematics_is_mathml_with_its_tex_intact_and_dollars_elsewhere_stay_text(site, tmp_path):
    source, out, readme = site
    nb = _notebook()
    nb.cells[4].source = MATH
    nbformat.write(nb, source / "04_jin_training.ipynb")
    built = book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    page = (out / "04_jin_training.html").read_text()
    cell = page[page.index('id="cell-4"'):page.index('id="cell-5"')]
    # `_` and `*` inside mathematics are subscripts and products, not emphasis
    assert ('<math display="inline"><mrow><msub><mi>x</mi><mn>1</mn></msub><mo>&#x0002A;</mo><msub><mi>y</mi>'
            '<mn>2</mn></msub><mo>&#x0002A;</mo><msub><mi>z</mi><mrow><mn>3</mn></mrow></msub></mrow></math>') in cell
    assert "<msub><mi>a</mi><mi>i</mi></msub><mo>&#x0002A;</mo><msub><mi>b</mi><mi>i</mi></msub>" in cell
    assert "<em>" not in cell and "<strong>" not in cell
    # display mathematics over lines, a blank one and ones that would open a list included
    assert cell.count('<math display="block">') == 2 and "<mfrac>" in cell and "<li>" not in cell
    assert "<msub><mi>c</mi><mi>k</mi></msub><mo>&#x0003C;</mo>" in cell
    assert cell.count("<math") == 4
    # prices, code spans and fenced code keep their dollars as text
    assert "a price of $5 and $10" in cell and "<code>echo $HOME</code>" in cell and "<code>$x_1$</code>" in cell
    assert "$y_2$ costs $PATH" in cell
    assert not built.math_failures


def test_tex_that_cannot_be_drawn_stays_visible_as_tex_and_is_reported(site, tmp_path):
    source, out, readme = site
    nb = _notebook()
    nb.cells[4].source = "Fine $x_1$, unknown $\\foo{x}$, broken $$a^$$ and\n\n\\[\\left( x\\]\n"
    nbformat.write(nb, source / "04_jin_training.ipynb")
    built = book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    page = (out / "04_jin_training.html").read_text()
    assert page.count('<code class="math-error') == 3 and "$\\foo{x}$</code>" in page
    assert "$$a^$$</code>" in page and "\\[\\left( x\\]</code>" in page
    assert page[page.index('id="cell-4"'):page.index('id="cell-5"')].count("<math") == 1  # x_1
    assert len(built.math_failures) == 3
    assert all(f.startswith("04_jin_training.ipynb, cell 4: ") for f in built.math_failures)
    assert "$\\foo{x}$" in built.math_failures[0] and "\\foo" in built.math_failures[0].split("(", 1)[1]
    report = str(built)
    assert "warning: 3 TeX expression(s) could not be drawn" in report and "$$a^$$" in report


def test_tex_to_mathml_refuses_what_it_would_draw_wrong():
    assert book_render.tex_to_mathml("x_1", False).startswith('<math display="inline">')
    assert book_render.tex_to_mathml("\\{x\\} \\% \\$", True).startswith('<math display="block">')
    for tex in ("\\foo{x}", "x}", "{x", "a^", "\\begin{aligned}a&=b\\end{aligned}", "\\left( x"):
        with pytest.raises(ValueError):
            book_render.tex_to_mathml(tex, False)


def _machine(tmp_path):
    """Outputs that show absolute paths of this machine: the repository, the home folder, a
    temporary folder, a kernel's warning."""
    import tempfile

    from blur2vid.core.io import repo_root

    return {
        "repository": f"saved {repo_root() / 'figures' / 'a.png'}\n",
        "home": f"cache in {Path.home() / '.cache' / 'blur2vid'}\n",
        "temporary": f"outputs in {Path(tempfile.gettempdir()) / 'ref' / 'figures'} (the reference run)\n",
        "kernel": "/tmp/ipykernel_7726/3079060485.py:1: UserWarning: careful\n  run()\n",
        "another home": "read /home/someone/data/clip.mp4\n",
    }


@pytest.mark.parametrize("kind", ["repository", "home", "temporary", "kernel", "another home"])
def test_a_page_that_would_show_a_path_of_this_machine_is_refused(site, tmp_path, kind):
    source, out, readme = site
    book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    before = (out / "04_jin_training.html").read_text()
    text = _machine(tmp_path)[kind]
    stream = nbformat.v4.new_output("stream", name="stderr", text=text)
    nbformat.write(_notebook([stream]), source / "04_jin_training.ipynb")
    path = re.search(r"/\S+", text).group(0)
    with pytest.raises(book.BookError, match=rf"04_jin_training\.ipynb, cell 5: .*{re.escape(path)}.*absolute path"):
        book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    assert (out / "04_jin_training.html").read_text() == before


def test_a_markdown_cell_with_a_path_of_this_machine_is_refused(site, tmp_path):
    from blur2vid.core.io import repo_root

    source, out, readme = site
    nb = _notebook()
    nb.cells[4].source = f"The run wrote [its table]({repo_root() / 'docs' / 'nowhere.csv'})."
    nbformat.write(nb, source / "04_jin_training.ipynb")
    with pytest.raises(book.BookError, match=r"04_jin_training\.ipynb, cell 4: .*nowhere\.csv"):
        book.build(source, out, readme=readme, outputs=tmp_path / "no-figures", root=tmp_path)


def test_paths_that_are_not_of_this_machine_are_published(site, tmp_path):
    source, out, readme = site
    text = ("figures/jin_fig4.png, ../figures/tmp/x.png, data/tmp/y, https://example.org/tmp/z, ~/tmp/w, "
            "/nowhere-on-this-machine/reds, a ratio 4/tmp\n")
    nbformat.write(_notebook([nbformat.v4.new_output("stream", name="stdout", text=text)]),
                   source / "04_jin_training.ipynb")
    book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")
    assert "../figures/tmp/x.png" in (out / "04_jin_training.html").read_text()


def test_machine_paths_are_whole_paths_from_their_start():
    import tempfile

    top = "/nowhere-on-this-machine"  # not a top-level folder here: only the folder given counts
    pattern = book.machine_paths(f"{top}/blur2vid")
    assert pattern.search(f"wrote {top}/blur2vid/figures/a.png.").group(0) == f"{top}/blur2vid/figures/a.png."
    assert pattern.search(f"file://{top}/blur2vid/x").group(0) == f"{top}/blur2vid/x"
    assert pattern.search(f"in {tempfile.gettempdir()}/ref, done").group(0) == f"{tempfile.gettempdir()}/ref,"
    assert pattern.search(f'"{Path.home()}"') is not None
    # below a top-level folder of this machine, wherever the run wrote: "/usr" is on every POSIX machine
    assert pattern.search("outputs in /usr/run/cpu/outputs/seed-0 (the run)").group(0) == "/usr/run/cpu/outputs/seed-0"
    for text in (f"{top}/blur2vidx/a", f"x{top}/blur2vid/a", f"..{top}/blur2vid/a", f"https://h.org{top}/blur2vid/a",
                 f"{top}/a/b", "/tmpfiles/a", "/homework/x", "docs/book/index.html", "</pre>", "</root>", "the /usr folder",
                 "> /dev/null"):
        assert pattern.search(text) is None, text


def test_a_printed_list_of_path_objects_is_refused(site, tmp_path):
    source, out, readme = site
    result = nbformat.v4.new_output("execute_result", execution_count=5,
                                    data={"text/plain": "[PosixPath('figures/jin_fig4_ablation.png')]"})
    nbformat.write(_notebook([result]), source / "04_jin_training.ipynb")
    with pytest.raises(book.BookError, match=r"04_jin_training\.ipynb, cell 5: an output is a printed path object, "
                                             r".*PosixPath\('figures/jin_fig4_ablation\.png'\)"):
        book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")


def test_an_html_output_that_loads_a_script_from_the_network_is_refused(site, tmp_path):
    source, out, readme = site
    plot = nbformat.v4.new_output("display_data", data={
        "text/html": '<div id="p"></div><script src="https://cdn.plot.ly/plotly-2.js"></script>'})
    nbformat.write(_notebook([plot]), source / "04_jin_training.ipynb")
    with pytest.raises(book.BookError, match=r"04_jin_training\.ipynb, cell 5: .*script or stylesheet from the network"):
        book.build(source, out, readme=readme, outputs=tmp_path / "no-figures")


def test_a_kept_page_of_an_older_book_that_loads_mathjax_is_refused(tmp_path):
    """A partial rebuild keeps the previous book's other pages byte for byte; a page an older builder
    made (MathJax from a CDN, a machine's paths) cannot be kept: it must be made again."""
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "notebooks").mkdir()
    full, again = tmp_path / "full", tmp_path / "again"
    full.mkdir()
    again.mkdir()
    for stem in ("04_jin_training", "07_your_own_image"):
        nbformat.write(_notebook(), full / f"{stem}.ipynb")
        (tmp_path / "notebooks" / f"{stem}.ipynb").write_text("{}")
    nbformat.write(_notebook(), again / "07_your_own_image.ipynb")
    out = tmp_path / "docs" / "book"
    args = dict(readme=tmp_path / "README.md", outputs=tmp_path / "no-figures", root=tmp_path)
    book.build(full, out, **args)
    book.build(again, out, **args)  # a page of this builder is kept
    kept = out / "04_jin_training.html"
    old = kept.read_text()
    kept.write_text(old.replace("</head>", '<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/'
                                           'tex-chtml.js"></script>\n</head>'))
    with pytest.raises(book.BookError, match=r"04_jin_training\.html, kept from the previous book.*network"):
        book.build(again, out, **args)
    kept.write_text(old.replace("red text done", "red text done in /tmp/ref/figures"))
    with pytest.raises(book.BookError, match=r"04_jin_training\.html, kept from the previous book.*/tmp/ref/figures"):
        book.build(again, out, **args)


def test_the_builder_needs_latex2mathml(monkeypatch):
    import importlib.util

    assert "latex2mathml" in book.BUILDER_PACKAGES
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "latex2mathml" else real(name, *a))
    with pytest.raises(book.BookError, match=r"needs latex2mathml: pip install 'blur2vid\[book\]'"):
        book.check_builder()


def test_table_text_left_numbers_right():
    """Claim text reads left-aligned; a column of numbers (an interval, a unit, nan aside) right."""
    table = ('<table border="1" class="dataframe"><thead><tr style="text-align: right;"><th></th><th>claim</th>'
             '<th>value</th><th>seeds</th></tr></thead><tbody>'
             '<tr><th>a.b</th><td>PSNR falls with every added frame</td><td>+5.99 [+5.81, +6.19] dB</td><td>3</td></tr>'
             '<tr><th>a.c</th><td>sharp at T = 7</td><td>0.96 (threshold 0.90)</td><td>nan</td></tr>'
             '</tbody></table>')
    out = book_render.align_table_cells(table)
    assert "text-align" not in out
    assert "<td>PSNR falls with every added frame</td>" in out and "<th>claim</th>" in out
    assert '<td class="num">+5.99 [+5.81, +6.19] dB</td>' in out and '<th class="num">value</th>' in out
    assert '<td class="num">3</td>' in out and '<th class="num">seeds</th>' in out
    assert "td.num" in book._CSS and "text-align: left" in book._CSS
