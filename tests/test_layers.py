"""The house has floors, and a module's folder is its floor: core -> data -> models and losses ->
training -> experiments -> reproduction -> app -> the command line at the package's root
(docs/DESIGN.md).  No import runs up a floor, no imports go round in a circle (within a floor
either), and no two floors hold a module of the same name.  Imports inside functions count too."""

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "blur2vid"

FLOORS = ["core", "data", ("models", "losses"), "training", "experiments", "reproduction", "app"]
"""The floors from the bottom; each is one folder (models and losses share theirs).  The package's
``__init__`` (its version) is on the ground; every other module at the root (``cli``, ``__main__``,
and the ``python -m blur2vid.shipping`` alias) is on the top."""


def floor_of(module: str) -> int:
    """The floor of ``blur2vid.<module>``, read from its folder."""
    head = module.split(".")[0]
    if module == "__init__":
        return 0
    for i, floor in enumerate(FLOORS):
        if head in (floor if isinstance(floor, tuple) else (floor,)):
            return i
    if (SRC / head).is_dir() and head != "shipping":
        raise AssertionError(f"blur2vid/{head}/ is on no floor of tests/test_layers.py: add it")
    return len(FLOORS)


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(SRC).with_suffix("").parts): p for p in sorted(SRC.rglob("*.py"))}


def _target(base: str, names: list[str], known: set[str]) -> set[str]:
    """The modules an ``import`` names: ``from blur2vid.core import io`` names ``core.io``."""
    out = set()
    for name in names:
        dotted = f"{base}.{name}" if base else name
        if dotted in known:
            out.add(dotted)
        elif base in known or f"{base}.__init__" in known:
            out.add(base if base in known else f"{base}.__init__")
        elif not base:
            out.add("__init__")
    return out


def imports(path: Path, known: set[str]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("blur2vid"):
            base = node.module[len("blur2vid"):].lstrip(".")
            out |= _target(base, [a.name for a in node.names], known)
        elif isinstance(node, ast.Import):
            out |= {a.name[len("blur2vid."):] for a in node.names if a.name.startswith("blur2vid.")}
    return {m for m in out if m}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules) | {m.rsplit(".__init__", 1)[0] for m in modules if m.endswith(".__init__")}
    return {m: imports(p, known) for m, p in modules.items()}


def test_no_import_runs_up():
    upward = [f"{m} (floor {floor_of(m)}) imports {t} (floor {floor_of(t)})"
              for m, targets in _graph().items() for t in targets if floor_of(t) > floor_of(m)]
    assert not upward, "imports that run up:\n" + "\n".join(upward)


def test_no_import_cycle():
    graph = defaultdict(set)
    for m, targets in _graph().items():
        graph[m.removesuffix(".__init__")] |= {t.removesuffix(".__init__") for t in targets} - {m.removesuffix(".__init__")}
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                cycles.append(" -> ".join(path[path.index(t):] + [m, t]) if t in path else f"{m} -> {t}")
            elif t not in state:
                visit(t, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_two_floors_hold_a_module_of_the_same_name():
    by_name = defaultdict(set)
    for m in _modules():
        name = m.split(".")[-1]
        if not name.startswith("__"):
            by_name[name].add(floor_of(m))
    shared = {name: sorted(floors) for name, floors in by_name.items() if len(floors) > 1}
    assert not shared, shared


def test_the_root_holds_only_the_command_line():
    root = sorted(p.name for p in SRC.iterdir() if p.suffix == ".py" or (p.is_dir() and p.name not in (
        "__pycache__", "assets") and not any(p.name in (f if isinstance(f, tuple) else (f,)) for f in FLOORS)))
    assert root == ["__init__.py", "__main__.py", "cli.py", "shipping"], root


def test_the_layer_check_sees_an_upward_import_and_a_cycle(tmp_path):
    """The checks above can fail: an import from a higher floor, and two modules that import each other."""
    assert floor_of("core.io") < floor_of("training.loop") < floor_of("app.recipes") < floor_of("cli")
    low = tmp_path / "low.py"
    low.write_text("from blur2vid.app.recipes import Recipe\n")
    assert imports(low, {"app.recipes"}) == {"app.recipes"}
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def f():\n    from blur2vid.training import loop\n")
    b.write_text("from blur2vid.training.cascade import train_middle\n")
    assert imports(a, {"training.loop", "training"}) == {"training.loop"}
    assert imports(b, {"training.cascade"}) == {"training.cascade"}
