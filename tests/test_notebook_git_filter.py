"""`make install` makes nbstripout the clean filter for the clone's notebooks (its target git-filters):
in a throwaway clone set up that way, a notebook that JupyterLab saved with outputs, execution counts
and kernel details leaves `git diff` empty, and once `git add` has refreshed git's record of the
file's size, `git status` too: nothing to commit, the cell ids kept. Before the filter is configured
git takes the file as it is, and works."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)  # the environment running the tests, which holds nbstripout (the `test` extra)

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.skipif(shutil.which("make") is None, reason="needs make"),
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout of the project"),
    pytest.mark.skipif(not (VENV / "bin" / "nbstripout").exists(), reason=f"no nbstripout in {VENV}/bin"),
]

# a clone as a stranger's: no user or system git configuration, no outer make or git hook state
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
ENV.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
           GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")

LANGUAGE_INFO = {  # what an ipykernel reports and JupyterLab saves once a notebook has run
    "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py", "mimetype": "text/x-python",
    "name": "python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3", "version": "3.11.9"}


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    assert "error" not in done.stderr.lower(), f"{' '.join(args)}:\n{done.stderr}"
    return done.stdout


def save_as_jupyterlab(path: Path) -> list[str]:
    """Every code cell run: its outputs, counts and timings, and the kernel's details, written the way
    JupyterLab writes a notebook (nbformat). Returns the cell ids."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["language_info"] = LANGUAGE_INFO
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        cell.metadata["execution"] = {"iopub.execute_input": "2025-01-01T00:00:00.000001Z",
                                      "shell.execute_reply": "2025-01-01T00:00:01.000001Z"}
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="training...\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=count),
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        ]
    nbformat.write(nb, path)
    return [cell.id for cell in nb.cells]


def test_jupyterlab_saves_leave_the_clone_clean(tmp_path):
    clone = tmp_path / "clone"
    run("git", "clone", "--quiet", "--shared", str(ROOT), str(clone), cwd=tmp_path)
    for name in ("Makefile", ".gitattributes"):  # the versions under test, committed or not
        shutil.copyfile(ROOT / name, clone / name)
    notebooks = sorted(p.relative_to(clone).as_posix() for p in (clone / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks in the clone"

    # a fresh clone, before `make install`: git ignores the unconfigured filter and takes the file as it is
    save_as_jupyterlab(clone / notebooks[0])
    assert run("git", "status", "--porcelain", "--", notebooks[0], cwd=clone).strip() == f"M {notebooks[0]}"
    run("git", "checkout", "--quiet", "--", notebooks[0], cwd=clone)

    # `make install`'s git part, twice: one value per key, `required` left unset
    for _ in range(2):
        run("make", "--no-print-directory", "-C", str(clone), "git-filters", f"VENV={VENV}", cwd=tmp_path)
    config = run("git", "config", "--local", "--get-regexp", r"^filter\.nbstripout\.", cwd=clone).splitlines()
    keys = sorted(line.split(" ", 1)[0] for line in config)
    assert keys == ["filter.nbstripout.clean", "filter.nbstripout.extrakeys", "filter.nbstripout.smudge"], config
    assert run("git", "config", "filter.nbstripout.clean", cwd=clone).strip() == f"'{VENV}/bin/nbstripout' --keep-id"
    assert run("git", "config", "filter.nbstripout.smudge", cwd=clone).strip() == "cat"
    assert "metadata.language_info.version" in run("git", "config", "filter.nbstripout.extrakeys", cwd=clone).split()
    # ...and nothing where the Makefile is not at the top of a checkout (an archive unpacked inside a repository)
    (clone / "unpacked").mkdir()
    shutil.copyfile(ROOT / "Makefile", clone / "unpacked" / "Makefile")
    run("git", "config", "--local", "--unset-all", "filter.nbstripout.smudge", cwd=clone)
    run("make", "--no-print-directory", "-C", str(clone / "unpacked"), "git-filters", f"VENV={VENV}", cwd=tmp_path)
    assert "smudge" not in run("git", "config", "--local", "--list", cwd=clone)
    shutil.rmtree(clone / "unpacked")
    run("make", "--no-print-directory", "-C", str(clone), "git-filters", f"VENV={VENV}", cwd=tmp_path)

    # the committed notebooks in the filter's form (a no-op once they are: test_notebooks checks that)
    run("git", "add", "--renormalize", "notebooks", cwd=clone)
    run("git", "commit", "--quiet", "--allow-empty", "--no-verify", "-m", "renormalize", cwd=clone)

    ids = {rel: save_as_jupyterlab(clone / rel) for rel in notebooks}
    # `git diff` passes the files through the filter: nothing changed, exit status 0
    assert run("git", "diff", "--no-ext-diff", "--exit-code", "--", "notebooks", cwd=clone) == ""
    # `git status` lists a file whose size changed without reading it (git's stat check, filters or
    # not) until `git add` refreshes the index; that add records nothing
    run("git", "add", "--update", "--", "notebooks", cwd=clone)
    assert run("git", "diff", "--cached", "--no-ext-diff", "--exit-code", "--", "notebooks", cwd=clone) == ""
    assert run("git", "status", "--porcelain", "--", "notebooks", cwd=clone) == ""
    for rel in notebooks:
        staged = nbformat.reads(run("git", "show", f":{rel}", cwd=clone), as_version=4)
        assert [cell.id for cell in staged.cells] == ids[rel], f"{rel}: cell ids changed"
        assert all(not c.outputs and c.execution_count is None for c in staged.cells if c.cell_type == "code"), rel
        assert staged.metadata["language_info"] == {"name": "python"}, rel
        saved = nbformat.read(clone / rel, as_version=4)
        assert any(c.get("outputs") for c in saved.cells), f"{rel}: the filter must leave the working file alone"
