"""The notebook contract of docs/DESIGN.md, checked on every committed notebook: outputs stripped,
one parameters cell that papermill can read, and no logic (loops, comprehensions, lambdas,
definitions): a notebook holds parameters, one library call per step, and a look at the result."""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_numbered_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert path.name[:2].isdigit() and path.name[2] == "_", f"{path.name}: not named NN_topic.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters', found {len(tagged)}"
    cell = tagged[0]
    assert cell["metadata"].get("nbmake", {}).get("mock", {}).get("profile") == "smoke", (
        f"{path.name}: the parameters cell must mock profile to 'smoke' for nbmake")
    source = "".join(cell["source"])
    tree = ast.parse(source)
    names = []
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), f"{path.name}: parameters cell holds only annotated assignments"
        names.append(node.target.id)
    assert {"profile", "device", "seed"} <= set(names), f"{path.name}: standard parameters missing: {names}"
    for line in source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line, f"{path.name}: parameter line without a comment: {line!r}"


LOGIC = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda,
         ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_cell_and_no_logic(path):
    nb = json.loads(path.read_text())
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# "), (
        f"{path.name}: first cell must be a markdown title")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(line for line in cell["source"] if not line.lstrip().startswith(("%", "!"))))
        for node in ast.walk(tree):
            assert not isinstance(node, LOGIC), (
                f"{path.name}: cell {i} line {node.lineno} holds a {type(node).__name__}: move the logic to src/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_lists_every_parameter(path):
    """`papermill --help-notebook` (papermill.inspect_notebook) names every parameter with its type:
    an annotation papermill cannot parse (such as `str | None`) hides the parameter from it."""
    import papermill

    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    names = [node.target.id for node in ast.parse("".join(cell["source"])).body]
    listed = papermill.inspect_notebook(str(path))
    assert list(listed) == names, f"{path.name}: papermill lists {list(listed)}, the cell defines {names}"
    assert all(p["inferred_type_name"] not in ("None", "") for p in listed.values()), listed


def test_gitattributes_routes_notebooks_to_nbdime():
    text = (ROOT / ".gitattributes").read_text()
    assert "*.ipynb diff=jupyternotebook merge=jupyternotebook" in text
