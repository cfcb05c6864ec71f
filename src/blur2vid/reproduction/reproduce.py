"""Run every numbered notebook in order with papermill, and record the run in the manifest.

A run is one or several training seeds.  With several (``--seeds 0 1 2``), the notebooks that train
(:data:`SEEDED`) run once per seed, each into its own ``results/<profile>/outputs/seed-<k>/`` and
each resumable (the checkpoints are keyed by seed; a notebook already finished at this commit is
skipped), then :func:`blur2vid.reproduction.aggregate.aggregate` pools them, and the other notebooks run once,
at the first seed, into the pooled folder, the summary notebook last.  With one seed every notebook
runs into that seed's folder.

The reference run (:func:`blur2vid.reproduction.runs.is_reference_batch`: profile ``cpu`` or ``gpu``, the seeds
:data:`~blur2vid.reproduction.runs.REFERENCE_SEEDS`, the procedural scenes; the default seeds of those profiles)
pools into ``figures/`` (``figures/gpu/``) and refreshes the README gallery; any other pools into
``results/<profile>/outputs/seeds-<...>/`` and leaves ``figures/`` alone.  Executed copies of the
notebooks go under ``results/executed/`` (ignored by git), never over the sources; a reference run
also keeps its first seed's in ``results/executed/<profile>/reference/`` for the book
(:mod:`blur2vid.reproduction.book`) and, at ``cpu``, rebuilds ``docs/book/``; the output
folder's ``manifest.json`` gains one entry per notebook and seed: seconds, profile, seed, device,
precision, data, versions, commit.
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from blur2vid.core.io import repo_root
from blur2vid.core.precision import resolve_precision
from blur2vid.data.source import BATCH_CACHE_ENV, cache_budget
from blur2vid.reproduction.runs import (
    ENV_OUTPUT_DIR,
    REFERENCE_ENV,
    REFERENCE_PROFILES,
    REFERENCE_SEEDS,
    check_parameters,
    environment_info,
    is_reference_batch,
    output_dir,
    read_manifest,
    resolve_device,
    results_root,
    run_name,
    update_manifest,
)

SEEDED = ("02_order_ambiguity", "04_jin_training", "05_hypercut_ordering", "06_hypercut_blur2vid")
"""The notebooks that train, and so run once per training seed."""
SUMMARY = "08_paper_tables_and_figures"
"""The notebook that reads every other's outputs, run last."""

__all__ = ["notebook_paths", "reproduce", "executed_dir", "pooled_dir", "default_seeds", "SEEDED", "SUMMARY"]


def notebook_paths(root: Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_topic.ipynb``) in order."""
    folder = (root or repo_root()) / "notebooks"
    paths = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks (NN_topic.ipynb) in {folder}")
    return paths


def default_seeds(profile: str, data_root: str | None = None) -> list[int]:
    """The reference run's seeds at ``cpu`` and ``gpu`` on the procedural scenes, else ``[0]``."""
    return list(REFERENCE_SEEDS) if profile in REFERENCE_PROFILES and data_root is None else [0]


def executed_dir(profile: str, seed: int = 0, data_root: str | None = None) -> Path:
    """Where the executed notebooks of one seed's run go: ``results/executed/<profile>/<run>/``."""
    return results_root() / "executed" / profile / run_name(seed, data_root)


def pooled_dir(profile: str, seeds: Sequence[int], data_root: str | None = None) -> Path:
    """Where a batch of seeds is pooled: ``figures/`` (``figures/gpu``) for the reference run, else
    ``results/<profile>/outputs/seeds-<...>[-<data>]/``; ``$BLUR2VID_FIGURES`` overrides it."""
    if os.environ.get(ENV_OUTPUT_DIR):
        return Path(os.environ[ENV_OUTPUT_DIR])
    if is_reference_batch(profile, seeds, data_root):
        return output_dir(profile, 0, None, reference=True)
    return results_root() / profile / "outputs" / run_name(list(seeds), data_root)


def _commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _finished(folder: Path, notebook: str, seed: int, commit: str | None, params: dict) -> bool:
    if commit is None or commit.endswith("-dirty"):
        return False
    entry = read_manifest(folder).get("notebooks", {}).get(notebook, {})
    return entry.get("commit") == commit and entry.get("seed") == seed and all(
        entry.get(k) == v for k, v in params.items() if k != "seed")


class _Env:
    """Set environment variables for the kernels of a block, and restore them after it."""

    def __init__(self, **values: str | None):
        self.values, self.saved = values, {}

    def __enter__(self):
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def reproduce(profile: str = "cpu", device: str = "auto", seeds: Sequence[int] | None = None,
              only: list[str] | None = None, data_root: str | None = None, precision: str = "auto",
              kernel_name: str = "python3", resume: bool = True, jobs: int | str = 1) -> dict[str, float]:
    """Execute the notebooks (all, or those whose name contains one of ``only``) for ``seeds``
    (default :func:`default_seeds`) with these parameters, as the module docstring describes;
    return seconds per notebook run (``"<notebook>"``, or ``"<notebook> (seed k)"`` for a batch).

    ``jobs > 1`` trains that many seeds at once (``"auto"``: one on a GPU or a single core, else one
    per seed), each kernel with ``max(1, cpu_count // jobs)`` threads and a share of the batch cache (the
    small convolutions of the ``cpu`` profile use a second thread poorly: on 2 cores two 1-thread
    seeds did 1.06x (U-Net) to 1.48x (Jin frame networks) the work of one 2-thread seed).  Table 3
    is then timed alone first (its cache, see :func:`~blur2vid.experiments.jin_training.table3`),
    so no timing runs beside a training.  Threads change the order of floating-point sums, so a
    run's numbers depend on ``jobs`` within the noise of another processor.

    The kernels start without ``$MPLBACKEND`` (a non-interactive backend set for the tests would
    keep every figure out of the executed notebooks, and so out of the book)."""
    with _Env(MPLBACKEND=None):
        return _reproduce(profile, device, seeds, only, data_root, precision, kernel_name, resume, jobs)


def _reproduce(profile, device, seeds, only, data_root, precision, kernel_name, resume, jobs) -> dict[str, float]:
    import papermill

    seeds = list(default_seeds(profile, data_root) if seeds is None else seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
    jobs = _jobs(jobs, seeds, device)
    for seed in seeds:
        check_parameters(profile=profile, device=device, seed=seed, data_root=data_root, precision=precision)
    # resolved here: the kernels run in notebooks/, and the run's folder name hashes the path
    data_root = None if data_root is None else str(Path(data_root).resolve())
    root = repo_root()
    dev = resolve_device(device)
    resolved_precision = resolve_precision(precision, dev)
    paths = [p for p in notebook_paths(root) if not only or any(o in p.name for o in only)]
    if not paths:
        raise ValueError(f"no notebook name contains any of {only}")
    reference = is_reference_batch(profile, seeds, data_root)
    batch = len(seeds) > 1 or reference
    pooled = pooled_dir(profile, seeds, data_root) if batch else output_dir(profile, seeds[0], data_root, reference=False)
    pooled.mkdir(parents=True, exist_ok=True)
    commit = _commit(root)
    seconds: dict[str, float] = {}
    print(f"[blur2vid] {'reference run' if reference else 'exploration run'}: seeds {seeds}, precision "
          f"{resolved_precision}; outputs in {pooled}", flush=True)

    def execute(path: Path, seed: int, out: Path, key: str) -> None:
        params = dict(profile=profile, device=device, seed=seed, data_root=data_root, precision=precision)
        if "precision" not in _declared(path):  # a notebook that trains nothing has no precision
            params.pop("precision")
        if resume and path.stem in SEEDED and batch and _finished(out, path.stem, seed, commit, params):
            print(f"[blur2vid] {path.name}, seed {seed}: finished at this commit, skipped", flush=True)
            return
        print(f"[blur2vid] {path.name} (profile={profile}, device={dev}, seed={seed}, precision={resolved_precision}, "
              f"data_root={data_root})", flush=True)
        executed = executed_dir(profile, seed, data_root)
        executed.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        papermill.execute_notebook(str(path), str(executed / path.name), parameters=params, cwd=str(path.parent),
                                   kernel_name=kernel_name, progress_bar=False, log_output=False)
        seconds[key] = round(time.perf_counter() - t0, 1)
        print(f"[blur2vid]   done in {seconds[key]:.1f} s", flush=True)
        update_manifest(out, "notebooks", path.stem, {
            "seconds": seconds[key], "profile": profile, "seed": seed, "device": device, "resolved_device": str(dev),
            "precision": precision, "resolved_precision": resolved_precision, "data_root": data_root,
            "commit": commit, "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        })

    if not batch:  # one seed: every notebook into its folder
        with _Env(**{REFERENCE_ENV: "0"}):
            for path in paths:
                execute(path, seeds[0], pooled, path.stem)
        update_manifest(pooled, "run", "environment", environment_info(dev))
        return seconds
    trained = [p for p in paths if p.stem in SEEDED]
    folders = [output_dir(profile, seed, data_root, reference=False) for seed in seeds]

    def chain(seed: int, folder: Path) -> None:  # one seed's notebooks, in order (06 reuses 02, 04, 05)
        for path in trained:
            execute(path, seed, folder, f"{path.stem} (seed {seed})")

    per_job = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None  # None: torch's own default
    kernel_env = {v: str(per_job) for v in _THREAD_VARS} if per_job else {}
    if jobs > 1 and BATCH_CACHE_ENV not in os.environ:  # the kernels share the memory a lone one may take
        kernel_env[BATCH_CACHE_ENV] = str(cache_budget() // jobs // 2**20)
    if jobs > 1 and any(p.stem == "04_jin_training" for p in trained):
        _time_table3_alone(profile, dev)
    if jobs > 1:
        print(f"[blur2vid] {jobs} seeds at a time, {per_job} thread(s) each", flush=True)
    with _Env(**{REFERENCE_ENV: "0", ENV_OUTPUT_DIR: None}, **kernel_env), ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(chain, seed, folder) for seed, folder in zip(seeds, folders, strict=True)]
        try:  # one worker: the seeds one after another
            for future in futures:
                future.result()
        except BaseException:  # a failed seed stops the seeds not yet started
            for future in futures:
                future.cancel()
            raise
    if trained:
        from blur2vid.reproduction.aggregate import aggregate

        how = aggregate(folders, pooled, seeds, notebooks=[p.stem for p in trained])
        for name, note in how.items():
            update_manifest(pooled, "outputs", name, {"made": note, "commit": commit,
                                                      "precision": resolved_precision})
        for seed, folder in zip(seeds, folders, strict=True):
            update_manifest(pooled, "seeds", str(seed), {"folder": str(folder), "notebooks": _notebook_seconds(folder)})
    marks = {REFERENCE_ENV: "1"} if reference else {REFERENCE_ENV: "0", ENV_OUTPUT_DIR: str(pooled)}
    with _Env(**marks):
        for path in [p for p in paths if p.stem not in SEEDED and p.stem != SUMMARY] + \
                    [p for p in paths if p.stem == SUMMARY]:
            execute(path, seeds[0], pooled, path.stem)
    update_manifest(pooled, "run", "environment", environment_info(dev))
    update_manifest(pooled, "run", "seeds", {"seeds": seeds, "precision": resolved_precision, "reference": reference,
                                             "jobs": jobs, "threads_per_job": per_job})
    from blur2vid.reproduction.registry import REGISTRY, item_files, update_readme_gallery

    for item in REGISTRY:
        update_manifest(pooled, "items", item.key, {"files": [f.name for f in item_files(pooled, item)],
                                                    "notebook": item.notebook, "paper": f"{item.paper}: {item.name}"})
    if reference and profile == "cpu" and not only and pooled == root / "figures":
        update_readme_gallery(root / "README.md", pooled)
    if reference:
        _refresh_book(profile, executed_dir(profile, seeds[0], data_root), pooled, root, {
            "commit": commit, "seeds": seeds, "precision": resolved_precision,
            "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")},
            [p.stem for p in paths] if only else None)
    return seconds


def _refresh_book(profile: str, executed: Path, pooled: Path, root: Path, info: dict,
                  notebooks: list[str] | None) -> None:
    """Keep the reference run's executed notebooks where the book reads them (``notebooks``: those of
    a partial run replace theirs) and, for the run that writes ``figures/``, rebuild ``docs/book``
    (a failed build is reported, the run's outputs stay)."""
    from blur2vid.reproduction import book

    try:  # after hours of training, a book that fails to build must not fail the run
        source = book.keep_reference(executed, profile, info, notebooks)
        print(f"[blur2vid] the book's sources: {source}", flush=True)
        if profile == "cpu" and pooled == root / "figures":
            print(f"[blur2vid] {book.build(source, outputs=pooled, profile=profile)}", flush=True)
    except Exception as exc:  # noqa: BLE001 - reported, and `make book` retries it
        print(f"[blur2vid] the book was not rebuilt ({type(exc).__name__}: {exc}); the run's outputs are "
              "complete, see `make book`", flush=True)


def _jobs(jobs: int | str, seeds: Sequence[int], device: str) -> int:
    """How many seeds train at once: ``jobs``, or for ``"auto"`` one on a GPU or a single core and
    else one per seed; never more than there are seeds."""
    if jobs == "auto":  # on a CPU one kernel per seed: single-threaded kernels share cores without spinning
        return 1 if resolve_device(device).type != "cpu" or (os.cpu_count() or 1) < 2 else len(seeds)
    try:
        n = int(jobs)
    except (TypeError, ValueError):
        raise ValueError(f"jobs must be a positive integer or 'auto', got {jobs!r}") from None
    if n < 1:
        raise ValueError(f"jobs must be a positive integer or 'auto', got {jobs!r}")
    return min(n, len(seeds))


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables that set a kernel's intra-op threads (torch reads them when it starts)."""


def _time_table3_alone(profile: str, device) -> None:
    """Time Table 3 into notebook 04's cache before seeds train side by side (a timing made beside
    a training would measure the contention)."""
    from blur2vid.experiments.jin_training import table3
    from blur2vid.reproduction.profiles import get_profile

    print("[blur2vid] Table 3 timed alone first (cached for notebook 04)", flush=True)
    table3(get_profile(profile).jin, device=device, cache=results_root() / profile / "checkpoints")


def _declared(path: Path) -> set[str]:
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def _notebook_seconds(folder: Path) -> dict[str, float]:
    return {k: v.get("seconds") for k, v in read_manifest(folder).get("notebooks", {}).items()}
