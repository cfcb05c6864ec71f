"""The notebook contract of DESIGN.md, checked on every committed notebook."""

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_cell_and_no_long_functions(path):
    nb = json.loads(path.read_text())
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# "), (
        f"{path.name}: first cell must be a markdown title")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(line for line in cell["source"] if not line.lstrip().startswith(("%", "!"))))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 5, f"{path.name}: cell {i} defines {node.name} ({length} lines): move it to src/"


def test_gitattributes_routes_notebooks_to_nbdime():
    text = (ROOT / ".gitattributes").read_text()
    assert "*.ipynb diff=jupyternotebook merge=jupyternotebook" in text
