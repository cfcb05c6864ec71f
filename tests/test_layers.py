"""The house has floors, and no import runs up: base -> data -> models/losses -> train ->
experiments -> plots/paper/profiles -> the commands and notebooks (docs/DESIGN.md).  Imports inside
functions count too."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "blur2vid"

FLOORS = [
    ("base", ["__init__", "io", "seeding", "tensors", "formation", "metrics", "published", "precision"]),
    ("data", ["data"]),
    ("models and losses", ["models", "losses", "ordering", "inference"]),
    ("train", ["distributed", "train", "train_jin", "train_hypercut", "train_unet", "train_denoise", "inferability", "benchmark"]),
    ("experiments", ["experiments"]),
    ("plots, paper, profiles", ["plots", "paper", "profiles"]),
    ("commands", ["runs", "reproduce", "aggregate", "cli", "predict", "widgets", "train_command", "shipping", "book", "book_sources", "notebook_html", "__main__"]),
]


def _floor(module: str) -> int:
    """The floor of ``blur2vid.<module>`` (its first component decides, e.g. ``data.scenes`` -> data)."""
    head = module.split(".")[0]
    for i, (_, names) in enumerate(FLOORS):
        if head in names:
            return i
    raise AssertionError(f"blur2vid.{module} is on no floor of tests/test_layers.py: add it")


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("blur2vid"):
            base = node.module[len("blur2vid"):].lstrip(".")
            if base:
                out.add(base)
            else:  # `from blur2vid import plots` names a module; `import __version__`, the package
                out |= {a.name if (SRC / a.name).is_dir() or (SRC / f"{a.name}.py").is_file() else "__init__"
                        for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name[len("blur2vid."):] for a in node.names if a.name.startswith("blur2vid.")}
    return {m for m in out if m}


def test_no_import_runs_up():
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        here = _floor(module)
        for target in _imports(path):
            if _floor(target) > here:
                upward.append(f"{module} ({FLOORS[here][0]}) imports {target} ({FLOORS[_floor(target)][0]})")
    assert not upward, "imports that run up:\n" + "\n".join(upward)


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long
