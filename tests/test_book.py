"""The book (blur2vid.reproduction.book): a static site of executed notebooks, built without running any.

Unit tests build it from notebooks made here, with every kind of output a run leaves; the slow test
builds it from a real smoke run's executed notebooks and checks that every notebook has a page,
every registry item an anchor on the page it links to, and that no page shows a traceback."""

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
    assert "<style" not in page and "<td>26.1</td>" in page
    assert "interactive widget" in page and "HBox(" not in page
    # TeX is left for MathJax, escaped; headings get ids, distinct when a heading repeats
    assert r"\(\hat x_3\)" in page and r"\[L = \sum_i |x_i|\]" in page and book.MATHJAX in page
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
    figures inline, every image on disk, and no traceback anywhere."""
    from blur2vid.reproduction.reproduce import executed_dir, notebook_paths, reproduce

    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path / "results"))
    outputs = tmp_path / "figures"  # conftest points BLUR2VID_FIGURES here
    reproduce(profile="smoke", seeds=[0])
    built = book.build(executed_dir("smoke", 0), tmp_path / "book", outputs=outputs, profile="smoke")
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
        assert "Traceback" not in text
        for src in re.findall(r'src="(img/[^"]+)"', text):
            assert (tmp_path / "book" / src).is_file()
    assert built.bytes < 10 * 2**20


def test_markdown_keeps_prose_dollars_code_and_heading_ids_apart():
    md = book_render.Markdown(used={"cell-3"})
    html_ = md.render("It costs $5 and $10, frame $\\hat x_3$ moves.\n\n`a$b` and ``c $x`` stay code.\n\n"
                      "```\necho $HOME $PATH\n```\n\n## The `<video>` tag\n\n## Cell 3\n\n$$\nB = g(x)\n$$")
    assert "costs $5 and $10" in html_ and r'<span class="math">\(\hat x_3\)</span>' in html_
    assert "<code>a$b</code>" in html_ and "<code>c $x</code>" in html_ and "echo $HOME $PATH" in html_
    assert 'id="the-video-tag"' in html_ and 'id="cell-3-2"' in html_ and r"\[" in html_ and md.math


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

    code = ("import sys; sys.modules['markdown_it'] = sys.modules['pygments'] = None\n"
            "import blur2vid.app.predict, blur2vid.app.recipes, blur2vid.app.shipping, blur2vid.cli\n"
            "import blur2vid.reproduction.reproduce")
    subprocess.run([sys.executable, "-c", code], check=True)
