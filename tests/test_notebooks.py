"""The notebook contract of docs/DESIGN.md, checked on every committed notebook: outputs stripped,
one parameters cell that papermill can read, and no logic (loops, comprehensions, lambdas,
definitions): a notebook holds parameters, one library call per step, and a look at the result.

The checks read what git commits, not what JupyterLab last saved: the staged notebook (the index)
and the working file passed through the clean filter that `.gitattributes` names for it (nbstripout,
configured for the clone by `make install`, target git-filters), so a reader's autosaved outputs
pass and an output that reaches the index fails. Where no filter is configured (pytest run before
`make install`, git missing, not a git checkout) git would take the working file as it is, and so
the working file is checked as it is. (papermill's listing reads the working file: the filter leaves
sources and tags alone.)"""

import ast
import functools
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
GIT = shutil.which("git")
NO_FILTER = "clear them, or run `make install` so that git strips them (nbstripout filter, target git-filters)"


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GIT, "-C", str(ROOT), *args], capture_output=True, check=False)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@functools.cache
def clean_command(rel: str) -> str | None:
    """The clean command git runs on the file `rel` in this clone: the `filter` attribute's driver,
    `filter.<driver>.clean`; None without git, outside a checkout, or with no such command."""
    if GIT is None:
        return None
    attr = _git("check-attr", "-z", "filter", "--", rel)
    fields = attr.stdout.decode().split("\0")
    if attr.returncode or len(fields) < 3 or fields[2] in ("unspecified", "unset", "set"):
        return None
    command = _git("config", "--get", f"filter.{fields[2]}.clean")
    if command.returncode:
        return None
    return command.stdout.decode().strip() or None


def run_clean(command: str, rel: str, data: bytes) -> str:
    """What git stores for `data` at `rel`: the command run as git runs it (by the shell, from the
    top of the working tree, `%f` the path)."""
    done = subprocess.run(command.replace("%f", shlex.quote(rel)), shell=True, cwd=ROOT, input=data,
                          capture_output=True, check=False)
    if done.returncode:
        pytest.fail(f"{rel}: the clean filter `{command}` failed ({done.returncode}): {done.stderr.decode()}")
    return done.stdout.decode()


@functools.cache
def committed_text(path: Path) -> str:
    """The working file as the next commit would take it: through the clean filter where one is
    configured, as it is where none is."""
    command = clean_command(_rel(path))
    return path.read_text() if command is None else run_clean(command, _rel(path), path.read_bytes())


def staged_text(path: Path) -> str | None:
    """The notebook in the index (HEAD's unless something was staged); None without git or untracked."""
    if GIT is None:
        return None
    done = _git("show", f":{_rel(path)}")
    return done.stdout.decode() if done.returncode == 0 else None


def load(path: Path) -> dict:
    return json.loads(committed_text(path))


def test_there_are_numbered_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert path.name[:2].isdigit() and path.name[2] == "_", f"{path.name}: not named NN_topic.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    """Neither the index nor the working file as git would take it holds an output or an execution
    count: outputs JupyterLab saved pass where the filter strips them, and only there."""
    restage = " (stage it stripped: `git add --renormalize notebooks`)"
    hint = restage if clean_command(_rel(path)) else f" ({NO_FILTER})"
    forms = {"the working file as git takes it": committed_text(path), "the index": staged_text(path)}
    for where, text in forms.items():
        if text is None:
            continue
        for i, cell in enumerate(json.loads(text)["cells"]):
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name}, {where}: cell {i} has outputs{hint}"
                assert cell.get("execution_count") is None, (
                    f"{path.name}, {where}: cell {i} has an execution count{hint}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_as_the_filter_writes_it(path):
    """The staged notebook is byte for byte what the clean filter makes of it (keys sorted, as
    JupyterLab writes them, kernel details dropped): otherwise a notebook that JupyterLab merely
    saved shows as modified. Skipped where no filter is configured."""
    command = clean_command(_rel(path))
    if command is None:
        pytest.skip("no clean filter configured for notebooks in this clone (`make install`)")
    staged = staged_text(path)
    if staged is None:
        pytest.skip(f"{path.name} is not tracked")
    assert run_clean(command, _rel(path), staged.encode()) == staged, (
        f"{path.name}: committed in another form than the filter's; stage the filter's with "
        "`git add --renormalize notebooks` and commit")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell(path):
    nb = load(path)
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
    nb = load(path)
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

    nb = load(path)
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    names = [node.target.id for node in ast.parse("".join(cell["source"])).body]
    listed = papermill.inspect_notebook(str(path))
    assert list(listed) == names, f"{path.name}: papermill lists {list(listed)}, the cell defines {names}"
    assert all(p["inferred_type_name"] not in ("None", "") for p in listed.values()), listed


def test_gitattributes_routes_notebooks_to_nbdime_and_nbstripout():
    text = (ROOT / ".gitattributes").read_text()
    assert "*.ipynb diff=jupyternotebook merge=jupyternotebook" in text
    assert "*.ipynb filter=nbstripout" in text
    if GIT is None or _git("rev-parse", "--git-dir").returncode:
        return
    attrs = _git("check-attr", "-z", "diff", "merge", "filter", "--", *map(_rel, NOTEBOOKS)).stdout.decode()
    fields = attrs.split("\0")[:-1]
    found = {(fields[i], fields[i + 1]): fields[i + 2] for i in range(0, len(fields), 3)}
    for path in NOTEBOOKS:
        for attr, value in (("diff", "jupyternotebook"), ("merge", "jupyternotebook"), ("filter", "nbstripout")):
            assert found.get((_rel(path), attr)) == value, f"{path.name}: {attr}={found.get((_rel(path), attr))}"
