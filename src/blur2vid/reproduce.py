"""Run every numbered notebook in order with papermill, and record the run in the manifest.

Executed copies go to ``results/executed/<profile>/`` (ignored by git), never over the sources; the
figures the notebooks save land in the profile's output folder (see :mod:`blur2vid.runs`), whose
``manifest.json`` gains one entry per notebook: seconds, profile, seed, device, versions, commit.
"""

from __future__ import annotations

import datetime as _dt
import subprocess
import time
from pathlib import Path

from blur2vid.profiles import check_parameters, resolve_device
from blur2vid.runs import environment_info, output_dir, repo_root, update_manifest

__all__ = ["notebook_paths", "reproduce"]


def notebook_paths(root: Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_topic.ipynb``) in order."""
    folder = (root or repo_root()) / "notebooks"
    paths = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks (NN_topic.ipynb) in {folder}")
    return paths


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
              kernel_name: str = "python3") -> dict[str, float]:
    """Execute the notebooks (all, or those whose name contains one of ``only``); return seconds each."""
    import papermill

    check_parameters(profile=profile, device=device, seed=seed)
    root = repo_root()
    dev = resolve_device(device)
    executed = root / "results" / "executed" / profile
    executed.mkdir(parents=True, exist_ok=True)
    out = output_dir(profile)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    paths = [p for p in notebook_paths(root) if not only or any(o in p.name for o in only)]
    commit = _commit(root)
    for path in paths:
        print(f"[blur2vid] {path.name} (profile={profile}, device={dev}, seed={seed})", flush=True)
        t0 = time.perf_counter()
        papermill.execute_notebook(
            str(path), str(executed / path.name), parameters=dict(profile=profile, device=device, seed=seed),
            cwd=str(path.parent), kernel_name=kernel_name, progress_bar=False, log_output=False,
        )
        seconds[path.stem] = round(time.perf_counter() - t0, 1)
        print(f"[blur2vid]   done in {seconds[path.stem]:.1f} s", flush=True)
        update_manifest(out, "notebooks", path.stem, {
            "seconds": seconds[path.stem], "profile": profile, "seed": seed, "device": str(dev),
            "commit": commit, "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        })
    update_manifest(out, "run", "environment", environment_info(dev))
    from blur2vid.paper import REGISTRY, item_files, update_readme_gallery

    for item in REGISTRY:
        update_manifest(out, "items", item.key, {"files": [f.name for f in item_files(out, item)],
                                                 "notebook": item.notebook, "paper": f"{item.paper}: {item.name}"})
    if profile == "cpu" and not only and out == root / "figures":
        update_readme_gallery(root / "README.md", out)
    return seconds
