"""Run every numbered notebook in order with papermill, and record the run in the manifest.

The reference run (:func:`blur2vid.runs.is_reference_run`: profile ``cpu`` or ``gpu``, seed 0, the
procedural scenes) writes ``figures/`` (``figures/gpu/``) and refreshes the README gallery; any other
seed, profile or ``data_root`` writes under ``results/<profile>/outputs/<run>/`` and leaves
``figures/`` alone.  Executed copies of the notebooks go under ``results/executed/`` (ignored by
git), never over the sources; the output folder's ``manifest.json`` gains one entry per notebook:
seconds, profile, seed, device, data, versions, commit.
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
import time
from pathlib import Path

from blur2vid.io import repo_root
from blur2vid.runs import (
    REFERENCE_ENV,
    check_parameters,
    environment_info,
    is_reference_run,
    output_dir,
    resolve_device,
    results_root,
    run_name,
    update_manifest,
)

__all__ = ["notebook_paths", "reproduce", "executed_dir"]


def notebook_paths(root: Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_topic.ipynb``) in order."""
    folder = (root or repo_root()) / "notebooks"
    paths = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks (NN_topic.ipynb) in {folder}")
    return paths


def executed_dir(profile: str, seed: int = 0, data_root: str | None = None) -> Path:
    """Where the executed notebooks of a run go: ``results/executed/<profile>/`` for the reference
    run, ``results/executed/<profile>/<run>/`` for any other."""
    base = results_root() / "executed" / profile
    return base if is_reference_run(profile, seed, data_root) else base / run_name(seed, data_root)


def _commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def reproduce(profile: str = "cpu", device: str = "auto", seed: int = 0, only: list[str] | None = None,
              data_root: str | None = None, kernel_name: str = "python3") -> dict[str, float]:
    """Execute the notebooks (all, or those whose name contains one of ``only``) with these
    parameters; return seconds each."""
    import papermill

    check_parameters(profile=profile, device=device, seed=seed, data_root=data_root)
    # resolved here: the kernels run in notebooks/, and the run's folder name hashes the path
    data_root = None if data_root is None else str(Path(data_root).resolve())
    root = repo_root()
    dev = resolve_device(device)
    reference = is_reference_run(profile, seed, data_root)
    executed = executed_dir(profile, seed, data_root)
    executed.mkdir(parents=True, exist_ok=True)
    out = output_dir(profile, seed, data_root, reference=reference)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    paths = [p for p in notebook_paths(root) if not only or any(o in p.name for o in only)]
    if not paths:
        raise ValueError(f"no notebook name contains any of {only}")
    commit = _commit(root)
    parameters = dict(profile=profile, device=device, seed=seed, data_root=data_root)
    print(f"[blur2vid] {'reference run' if reference else 'exploration run'}: outputs in {out}", flush=True)
    previous = os.environ.get(REFERENCE_ENV)
    os.environ[REFERENCE_ENV] = "1" if reference else "0"  # the kernels inherit it (see runs.output_dir)
    try:
        for path in paths:
            print(f"[blur2vid] {path.name} (profile={profile}, device={dev}, seed={seed}, data_root={data_root})",
                  flush=True)
            t0 = time.perf_counter()
            papermill.execute_notebook(str(path), str(executed / path.name), parameters=parameters,
                                       cwd=str(path.parent), kernel_name=kernel_name, progress_bar=False,
                                       log_output=False)
            seconds[path.stem] = round(time.perf_counter() - t0, 1)
            print(f"[blur2vid]   done in {seconds[path.stem]:.1f} s", flush=True)
            update_manifest(out, "notebooks", path.stem, {
                "seconds": seconds[path.stem], "profile": profile, "seed": seed, "device": str(dev),
                "data_root": parameters["data_root"], "commit": commit,
                "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            })
    finally:
        if previous is None:
            os.environ.pop(REFERENCE_ENV, None)
        else:
            os.environ[REFERENCE_ENV] = previous
    update_manifest(out, "run", "environment", environment_info(dev))
    from blur2vid.paper import REGISTRY, item_files, update_readme_gallery

    for item in REGISTRY:
        update_manifest(out, "items", item.key, {"files": [f.name for f in item_files(out, item)],
                                                 "notebook": item.notebook, "paper": f"{item.paper}: {item.name}"})
    if reference and profile == "cpu" and not only and out == root / "figures":
        update_readme_gallery(root / "README.md", out)
    return seconds
