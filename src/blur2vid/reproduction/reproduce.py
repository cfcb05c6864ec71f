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

**Devices.**  Seeds that train side by side (``jobs > 1``) on a machine with several GPUs each get
one GPU of their own (:func:`assign_devices`; ``devices`` chooses which, default every GPU), never
two trainings on one unless ``share_devices``.  A seed's GPU reaches its kernels through their own
environment (``CUDA_VISIBLE_DEVICES``, given to each kernel as it starts, :func:`_kernel_options`:
the threads of this process share one ``os.environ``), so a kernel sees its GPU alone, as
``cuda``, and nothing in it (a timing's ``synchronize``, the memory it reports) can fall on a
neighbour's card.  Whether a notebook is finished compares the device's type, not its index: a
seed finished on ``cuda:1`` is not trained again because it now lands on ``cuda:0``.  On a CPU
nothing changes: the kernels share the cores, ``cpu_count // jobs`` threads each.

**Steps.**  The batch is three steps, each also a command of its own, which is how the executors
of :mod:`blur2vid.reproduction.executors` (``--executor processes`` or ``slurm``) run it as jobs:
:func:`time_table3` (``--step table3``: Table 3 timed alone, into notebook 04's cache),
:func:`run_chain` (``--step chains``: one seed's notebooks that train) and :func:`pool`
(``--step pool``: every seed's chain checked finished, or the missing ones named, then pooled and
the other notebooks run).  A job's steps carry a batch id (:func:`batch_id`: the commit, and for a
checkout with changes a hash of them): what a step finished in its batch is skipped when the job
runs again (a requeued or resubmitted job resumes), even in a checkout with changes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from blur2vid.core.io import repo_root, shown_path
from blur2vid.core.precision import resolve_precision
from blur2vid.data.source import BATCH_CACHE_ENV, cache_budget
from blur2vid.reproduction.runs import (
    ENV_OUTPUT_DIR,
    POOLED_ENV,
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

__all__ = ["notebook_paths", "reproduce", "executed_dir", "pooled_dir", "default_seeds", "SEEDED", "SUMMARY",
           "assign_devices", "run_chain", "pool", "time_table3", "batch_id", "BatchError"]


class BatchError(RuntimeError):
    """A batch of seeds that did not finish: which seeds, where their logs are, and the command that
    resumes it."""


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


def batch_id(root: Path, commit: str | None, fresh: bool = False) -> str:
    """The id a batch's jobs record with every notebook they finish, so that a job run again skips
    them: the commit; for a checkout with changes, ``<commit>+<hash of git diff HEAD>`` (the same
    changes, the same id: a resubmitted batch resumes); without git, or with ``fresh``
    (``--no-resume``: nothing finished before this batch counts), a time is added, so only the
    batch's own jobs share it."""
    ident = commit or "no-git"
    if commit is not None and commit.endswith("-dirty"):
        try:
            diff = subprocess.run(["git", "-C", str(root), "diff", "HEAD", "--binary"], capture_output=True,
                                  check=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            diff = _dt.datetime.now(_dt.UTC).isoformat().encode()
        ident += "+" + hashlib.sha1(diff).hexdigest()[:10]
    if fresh or commit is None:
        ident += "." + _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
    return ident


def _device_type(device) -> str:
    """``cuda`` of ``cuda:1``: the kind of device, which changes what a run computes (kernels,
    precision); the index only says which card was free."""
    return str(device or "").split(":", 1)[0]


def _finished(folder: Path, notebook: str, seed: int, commit: str | None, params: dict,
              device_type: str | None = None, batch: str | None = None, fresh: bool = False) -> bool:
    """Whether ``folder``'s manifest records ``notebook`` of ``seed`` finished with these parameters:
    at this clean ``commit`` (not with ``fresh``), or by a job of the same ``batch`` (a job run again
    after it was pre-empted or killed, in any checkout).  The device is compared by its type only
    (``device_type``; ``None``: not at all): a seed finished on ``cuda:1`` is finished on
    ``cuda:0``, while one finished on the CPU is run again on a GPU."""
    entry = read_manifest(folder).get("notebooks", {}).get(notebook, {})
    if entry.get("seed") != seed or any(entry.get(k) != v for k, v in params.items() if k not in ("seed", "device")):
        return False
    if device_type is not None and _device_type(entry.get("resolved_device", entry.get("device"))) != device_type:
        return False
    if batch is not None and entry.get("batch") == batch:
        return True
    return not fresh and commit is not None and not commit.endswith("-dirty") and entry.get("commit") == commit


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


@functools.cache
def _kernel_manager_class():
    """A Jupyter kernel manager that starts its kernel with ``kernel_env`` over this process's
    environment (``None`` removes a variable)."""
    from jupyter_client import AsyncKernelManager
    from traitlets import Dict

    class KernelWithEnv(AsyncKernelManager):
        kernel_env = Dict(config=True, help="variables set (None: removed) in the kernel's environment only")

        async def start_kernel(self, **kw):
            env = dict(kw.pop("env", None) or os.environ)
            for name, value in self.kernel_env.items():
                if value is None:
                    env.pop(name, None)
                else:
                    env[name] = str(value)
            await super().start_kernel(env=env, **kw)

    return KernelWithEnv


def _kernel_options(env: dict[str, str | None] | None) -> dict:
    """papermill's keyword arguments that give one kernel its own ``env`` (nothing when there is
    none): the kernel manager above, configured through nbclient, which papermill hands them to."""
    if not env:
        return {}
    from traitlets.config import Config

    cls = _kernel_manager_class()
    return {"kernel_manager_class": cls, "config": Config({cls.__name__: {"kernel_env": dict(env)}})}


@dataclass
class _Run:
    """What every notebook of one invocation shares."""

    profile: str
    device: str
    data_root: str | None
    precision: str
    kernel_name: str
    resume: bool
    commit: str | None
    dev: object  # torch.device
    resolved_precision: str
    batch: str | None = None
    batch_mode: bool = True  # the notebooks that train may be skipped when finished
    seconds: dict[str, float] = field(default_factory=dict)


def _checked(profile, device, seeds, only, data_root, precision):
    """Validate a batch's settings as every step does; returns ``(seeds, data_root resolved, notebook
    paths, reference, batch)``.  The device is not resolved here (a login node has no GPU)."""
    seeds = list(default_seeds(profile, data_root) if seeds is None else seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
    for seed in seeds:
        check_parameters(profile=profile, device=device, seed=seed, data_root=data_root, precision=precision)
    # resolved here: the kernels run in notebooks/, and the run's folder name hashes the path
    data_root = None if data_root is None else str(Path(data_root).resolve())
    paths = [p for p in notebook_paths(repo_root()) if not only or any(o in p.name for o in only)]
    if not paths:
        raise ValueError(f"no notebook name contains any of {only}")
    reference = is_reference_batch(profile, seeds, data_root)
    return seeds, data_root, paths, reference, len(seeds) > 1 or reference


def _run(profile, device, data_root, precision, kernel_name, resume, batch=None, batch_mode=True) -> _Run:
    dev = resolve_device(device)
    return _Run(profile=profile, device=device, data_root=data_root, precision=precision, kernel_name=kernel_name,
                resume=resume, commit=_commit(repo_root()), dev=dev, resolved_precision=resolve_precision(precision, dev),
                batch=batch, batch_mode=batch_mode)


def reproduce(profile: str = "cpu", device: str = "auto", seeds: Sequence[int] | None = None,
              only: list[str] | None = None, data_root: str | None = None, precision: str = "auto",
              kernel_name: str = "python3", resume: bool = True, jobs: int | str = 1,
              devices: str | Sequence[str] | None = None, share_devices: bool = False) -> dict[str, float]:
    """Execute the notebooks (all, or those whose name contains one of ``only``) for ``seeds``
    (default :func:`default_seeds`) with these parameters, as the module docstring describes;
    return seconds per notebook run (``"<notebook>"``, or ``"<notebook> (seed k)"`` for a batch).

    ``jobs > 1`` trains that many seeds at once (``"auto"``: on a CPU one per seed, or one on a
    single core; on GPUs one per GPU), each kernel with ``max(1, cpu_count // jobs)`` threads and a
    share of the batch cache (the small convolutions of the ``cpu`` profile use a second thread
    poorly: on 2 cores two 1-thread seeds did 1.06x (U-Net) to 1.48x (Jin frame networks) the work
    of one 2-thread seed).  On GPUs each seed trains on a GPU of its own (``devices``, e.g.
    ``"cuda:0,cuda:2"``; default every GPU), seeds beyond the GPUs waiting for one; more ``jobs``
    than GPUs is an error unless ``share_devices``.  Table 3 is then timed alone first (its cache,
    see :func:`~blur2vid.experiments.jin_training.table3`, with the threads the kernels will have),
    so no timing runs beside a training.  Threads change the order of floating-point sums, so a
    run's numbers depend on ``jobs`` within the noise of another processor.

    The kernels start without ``$MPLBACKEND`` (a non-interactive backend set for the tests would
    keep every figure out of the executed notebooks, and so out of the book)."""
    with _Env(MPLBACKEND=None):
        return _reproduce(profile, device, seeds, only, data_root, precision, kernel_name, resume, jobs,
                          devices, share_devices)


def _reproduce(profile, device, seeds, only, data_root, precision, kernel_name, resume, jobs,
               devices=None, share_devices=False) -> dict[str, float]:
    given_seeds = seeds
    seeds, data_root, paths, reference, batch = _checked(profile, device, seeds, only, data_root, precision)
    run = _run(profile, device, data_root, precision, kernel_name, resume, batch_mode=batch)
    pooled = pooled_dir(profile, seeds, data_root) if batch else output_dir(profile, seeds[0], data_root, reference=False)
    if not batch and devices:
        raise ValueError("--devices spreads the seeds of a batch over GPUs; one seed runs on --device")
    gpus = _devices(device, devices) if batch else [str(run.dev)]
    jobs = _jobs(jobs, seeds, device, len(gpus))
    lanes = assign_devices(seeds, gpus, jobs, share_devices)
    pooled.mkdir(parents=True, exist_ok=True)
    print(f"[blur2vid] {'reference run' if reference else 'exploration run'}: seeds {seeds}, precision "
          f"{run.resolved_precision}; outputs in {pooled}", flush=True)
    if not batch:  # one seed: every notebook into its folder
        with _Env(**{REFERENCE_ENV: "0"}):
            for path in paths:
                _execute(run, path, seeds[0], pooled, path.stem)
        update_manifest(pooled, "run", "environment", environment_info(run.dev))
        return run.seconds
    trained = [p for p in paths if p.stem in SEEDED]
    folders = [output_dir(profile, seed, data_root, reference=False) for seed in seeds]
    folder_of = dict(zip(seeds, folders, strict=True))

    per_job = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None  # None: torch's own default
    kernel_env = {v: str(per_job) for v in _THREAD_VARS} if per_job else {}
    if jobs > 1 and BATCH_CACHE_ENV not in os.environ:  # the kernels share the memory a lone one may take
        kernel_env[BATCH_CACHE_ENV] = str(cache_budget() // jobs // 2**20)
    if jobs > 1 and any(p.stem == "04_jin_training" for p in trained):
        with _torch_threads(per_job):  # the cache's key names the threads: those the kernels will have
            _time_table3_alone(profile, run.dev)
    if jobs > 1:
        print(f"[blur2vid] {jobs} seeds at a time, {per_job} thread(s) each", flush=True)
    on_gpus = _device_type(lanes[0][0]) == "cuda"  # each seed's kernels see its GPU alone
    if on_gpus:
        print("[blur2vid] " + "; ".join(f"seed{'s' * (len(s) > 1)} {', '.join(map(str, s))} on {gpu}"
                                        for gpu, s in lanes), flush=True)
    stop = threading.Event()

    def lane(gpu: str, lane_seeds: list[int]) -> None:  # its seeds one after another, on its device
        options = _gpu_options(gpu) if on_gpus else {}
        for seed in lane_seeds:
            if stop.is_set():  # a failed seed stops the seeds not yet started
                return
            try:
                _chain(run, trained, seed, folder_of[seed], **options)
            except BaseException:
                stop.set()
                print(f"[blur2vid] seed {seed} failed; notebooks finished at a clean commit are skipped and trainings "
                      f"resume from their checkpoints when you run again: "
                      f"{resume_command(profile, device, given_seeds, only, data_root, precision, resume, jobs=jobs, devices=devices, share_devices=share_devices)}",
                      flush=True)
                raise

    with _Env(**{REFERENCE_ENV: "0", ENV_OUTPUT_DIR: None, POOLED_ENV: str(shown_path(pooled))}, **kernel_env), \
            ThreadPoolExecutor(len(lanes)) as threads:
        futures = [threads.submit(lane, gpu, lane_seeds) for gpu, lane_seeds in lanes]
        for future in futures:  # one worker: the seeds one after another
            future.result()
    return _pool_and_finish(run, paths, seeds, trained, folders, pooled, reference, only,
                            {"jobs": jobs, "threads_per_job": per_job}
                            | ({"devices": {str(s): gpu for gpu, ss in lanes for s in ss}} if on_gpus else {}))


def _chain(run: _Run, trained: list[Path], seed: int, folder: Path, **options) -> None:
    """One seed's notebooks that train, in order (06 reuses 02, 04, 05)."""
    for path in trained:
        _execute(run, path, seed, folder, f"{path.stem} (seed {seed})", **options)


def _gpu_options(gpu: str) -> dict:
    """How a kernel trains on ``gpu`` (``cuda:N`` as this process numbers the GPUs): it sees that
    GPU alone, as ``cuda``."""
    return {"kernel_env": {"CUDA_VISIBLE_DEVICES": _visible_id(gpu, os.environ.get("CUDA_VISIBLE_DEVICES"))},
            "kernel_device": "cuda", "resolved": gpu}


def _execute(run: _Run, path: Path, seed: int, out: Path, key: str, kernel_env: dict | None = None,
             kernel_device: str | None = None, resolved: str | None = None) -> None:
    """Execute one notebook for ``seed`` into ``out`` unless it is finished (a notebook that trains,
    in a batch), and record it in ``out``'s manifest."""
    import papermill

    params = dict(profile=run.profile, device=kernel_device or run.device, seed=seed, data_root=run.data_root,
                  precision=run.precision)
    if "precision" not in _declared(path):  # a notebook that trains nothing has no precision
        params.pop("precision")
    if path.stem in SEEDED and run.batch_mode and (run.resume or run.batch) and _finished(
            out, path.stem, seed, run.commit, params, device_type=run.dev.type, batch=run.batch, fresh=not run.resume):
        print(f"[blur2vid] {path.name}, seed {seed}: finished {'in this batch' if run.batch else 'at this commit'}, "
              "skipped", flush=True)
        return
    where = resolved or str(run.dev)
    print(f"[blur2vid] {path.name} (profile={run.profile}, device={where}, seed={seed}, "
          f"precision={run.resolved_precision}, data_root={run.data_root})", flush=True)
    executed = executed_dir(run.profile, seed, run.data_root)
    executed.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(str(path), str(executed / path.name), parameters=params, cwd=str(path.parent),
                                   kernel_name=run.kernel_name, progress_bar=False, log_output=False,
                                   **_kernel_options(kernel_env))
    except Exception as exc:
        print(f"[blur2vid] {path.name}, seed {seed} failed ({type(exc).__name__}); the executed notebook, with the "
              f"error in its cell: {executed / path.name}", flush=True)
        raise
    run.seconds[key] = round(time.perf_counter() - t0, 1)
    print(f"[blur2vid]   done in {run.seconds[key]:.1f} s", flush=True)
    visible = (kernel_env or {}).get("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
    update_manifest(out, "notebooks", path.stem, {
        "seconds": run.seconds[key], "profile": run.profile, "seed": seed, "device": run.device, "resolved_device": where,
        "precision": run.precision, "resolved_precision": run.resolved_precision, "data_root": run.data_root,
        "commit": run.commit, "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    } | ({"batch": run.batch} if run.batch else {}) | ({"cuda_visible_devices": visible} if visible is not None else {}))


def _pool_and_finish(run: _Run, paths, seeds, trained, folders, pooled: Path, reference: bool, only,
                     info: dict) -> dict[str, float]:
    """After every seed's chain: pool them into ``pooled``, run the other notebooks once (the
    summary last), and record the run."""
    profile, commit, resolved_precision = run.profile, run.commit, run.resolved_precision
    root = repo_root()
    pooled.mkdir(parents=True, exist_ok=True)
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
            _execute(run, path, seeds[0], pooled, path.stem)
    update_manifest(pooled, "run", "environment", environment_info(run.dev))
    update_manifest(pooled, "run", "seeds", {"seeds": seeds, "precision": resolved_precision, "reference": reference}
                    | info)
    from blur2vid.reproduction.registry import REGISTRY, item_files, update_readme_gallery

    for item in REGISTRY:
        update_manifest(pooled, "items", item.key, {"files": [f.name for f in item_files(pooled, item)],
                                                    "notebook": item.notebook, "paper": f"{item.paper}: {item.name}"})
    if reference and profile == "cpu" and not only and pooled == root / "figures":
        update_readme_gallery(root / "README.md", pooled)
    if reference:
        _refresh_book(profile, executed_dir(profile, seeds[0], run.data_root), pooled, root, {
            "commit": commit, "seeds": seeds, "precision": resolved_precision,
            "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")},
            [p.stem for p in paths] if only else None)
    return run.seconds


def run_chain(profile: str = "cpu", device: str = "auto", seeds: Sequence[int] | None = None,
              only: list[str] | None = None, data_root: str | None = None, precision: str = "auto",
              kernel_name: str = "python3", resume: bool = True, batch: str | None = None) -> dict[str, float]:
    """``reproduce --step chains``, what one job of a batch runs: the notebooks that train, for each
    of ``seeds`` in turn (a job has one), each seed into its own folder on this process's device
    (a job's GPU), a notebook finished in ``batch`` (or at this clean commit) skipped, so a job
    run again after it was pre-empted or killed does only what is missing; trainings resume from
    their checkpoints.  Pool them with :func:`pool`."""
    with _Env(MPLBACKEND=None):
        seeds, data_root, paths, _, _ = _checked(profile, device, seeds, only, data_root, precision)
        run = _run(profile, device, data_root, precision, kernel_name, resume, batch=batch)
        trained = [p for p in paths if p.stem in SEEDED]
        if not trained:
            print(f"[blur2vid] no notebook that trains among {[p.name for p in paths]}: nothing to run per seed",
                  flush=True)
        with _Env(**{REFERENCE_ENV: "0", ENV_OUTPUT_DIR: None}):
            for seed in seeds:
                _chain(run, trained, seed, _seed_folder(profile, seed, data_root))
        return run.seconds


def _seed_folder(profile: str, seed: int, data_root: str | None) -> Path:
    """Where a seed of a batch writes: ``results/<profile>/outputs/seed-<k>[...]/``, whatever
    ``$BLUR2VID_FIGURES`` says (it moves the pooled outputs only)."""
    return results_root() / profile / "outputs" / run_name(seed, data_root)


def time_table3(profile: str = "cpu", device: str = "auto") -> None:
    """``reproduce --step table3``: Table 3 timed alone into notebook 04's cache (a job of its own
    before the seeds' jobs, so no timing runs beside a training), with the threads the chains'
    kernels will have (``$OMP_NUM_THREADS`` when set): the cache's key names them."""
    check_parameters(profile=profile, device=device)
    threads = os.environ.get("OMP_NUM_THREADS", "")
    with _torch_threads(int(threads) if threads.isdigit() and int(threads) > 0 else None):
        _time_table3_alone(profile, resolve_device(device))


def pool(profile: str = "cpu", device: str = "auto", seeds: Sequence[int] | None = None,
         only: list[str] | None = None, data_root: str | None = None, precision: str = "auto",
         kernel_name: str = "python3", resume: bool = True, batch: str | None = None,
         logs: dict[int, str] | None = None, resume_with: str | None = None) -> dict[str, float]:
    """``reproduce --step pool``: after every seed's chain (run by :func:`run_chain`, as jobs or by
    hand), check that each seed's folder records every notebook that trains finished (in ``batch``,
    or at this clean commit), then pool them and run the other notebooks, as :func:`reproduce`
    does after its chains.  A partial batch is never pooled: :class:`BatchError` names the seeds
    and notebooks missing (``logs``: each seed's job log, named beside it) and ``resume_with``."""
    with _Env(MPLBACKEND=None):
        seeds, data_root, paths, reference, batch_run = _checked(profile, device, seeds, only, data_root, precision)
        run = _run(profile, device, data_root, precision, kernel_name, resume, batch=batch, batch_mode=batch_run)
        trained = [p for p in paths if p.stem in SEEDED]
        folders = [_seed_folder(profile, seed, data_root) for seed in seeds]
        missing = missing_notebooks(run, trained, seeds, folders)
        if missing:
            lines = [f"seed {seed}: {', '.join(names)} not finished (in {folder})"
                     + (f"; its job's log: {logs[seed]}" if logs and logs.get(seed) else "")
                     for seed, folder, names in missing]
            how = resume_with or resume_command(profile, device, seeds, only, data_root, precision, resume, batch=batch)
            raise BatchError(f"not pooled: {len(missing)} of {len(seeds)} seeds have not finished their notebooks "
                             f"that train{' in batch ' + batch if batch else ' at this commit'}:\n  "
                             + "\n  ".join(lines) + f"\nrun them (what is finished is skipped): {how}")
        if not batch_run:  # one seed: the rest of its notebooks into its folder
            with _Env(**{REFERENCE_ENV: "0", ENV_OUTPUT_DIR: None}):
                for path in [p for p in paths if p.stem not in SEEDED]:
                    _execute(run, path, seeds[0], folders[0], path.stem)
            update_manifest(folders[0], "run", "environment", environment_info(run.dev))
            return run.seconds
        pooled = pooled_dir(profile, seeds, data_root)
        print(f"[blur2vid] pooling seeds {seeds} ({'reference run' if reference else 'exploration run'}) into {pooled}",
              flush=True)
        return _pool_and_finish(run, paths, seeds, trained, folders, pooled, reference, only,
                                {"batch": batch} if batch else {})


def missing_notebooks(run: _Run, trained: list[Path], seeds: Sequence[int],
                      folders: Sequence[Path]) -> list[tuple[int, Path, list[str]]]:
    """``(seed, folder, notebooks)`` for each seed whose folder does not record every notebook of
    ``trained`` finished with ``run``'s parameters (in its batch, or at its clean commit), on any
    device."""
    missing = []
    for seed, folder in zip(seeds, folders, strict=True):
        names = []
        for path in trained:
            params = dict(profile=run.profile, seed=seed, data_root=run.data_root, precision=run.precision)
            if "precision" not in _declared(path):
                params.pop("precision")
            if not _finished(folder, path.stem, seed, run.commit, params, batch=run.batch, fresh=not run.resume):
                names.append(path.stem)
        if names:
            missing.append((seed, folder, names))
    return missing


def resume_command(profile: str, device: str, seeds, only, data_root, precision: str, resume: bool = True,
                   batch: str | None = None, extra: Sequence[str] = (), **options) -> str:
    """The ``blur2vid reproduce`` command that runs this batch again (finished notebooks skipped,
    trainings resumed from their checkpoints).  ``options``: ``jobs``, ``devices``,
    ``share_devices`` as :func:`reproduce` takes them; ``extra``: more options, as typed."""
    import shlex

    argv = ["blur2vid", "reproduce", "--profile", profile]
    if device != "auto":
        argv += ["--device", device]
    if seeds is not None:
        argv += ["--seeds", *map(str, seeds)]
    if precision != "auto":
        argv += ["--precision", precision]
    if only:
        argv += ["--only", *only]
    if data_root is not None:
        argv += ["--data-root", str(data_root)]
    if options.get("jobs") not in (None, "auto"):
        argv += ["--jobs", str(options["jobs"])]
    if options.get("devices"):
        devices = options["devices"]
        argv += ["--devices", devices if isinstance(devices, str) else ",".join(devices)]
    if options.get("share_devices"):
        argv.append("--share-devices")
    if not resume:
        argv.append("--no-resume")
    argv += list(extra)
    if batch is not None:
        argv += ["--batch", batch]
    return shlex.join(argv)


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


def _jobs(jobs: int | str, seeds: Sequence[int], device: str, gpus: int = 1) -> int:
    """How many seeds train at once: ``jobs``, or for ``"auto"`` one per GPU (``gpus`` of them) on
    GPUs, on a CPU one per seed (one on a single core); never more than there are seeds."""
    if jobs == "auto":  # on a CPU one kernel per seed: single-threaded kernels share cores without spinning
        if resolve_device(device).type != "cpu":
            return max(1, min(gpus, len(seeds)))
        return 1 if (os.cpu_count() or 1) < 2 else len(seeds)
    try:
        n = int(jobs)
    except (TypeError, ValueError):
        raise ValueError(f"jobs must be a positive integer or 'auto', got {jobs!r}") from None
    if n < 1:
        raise ValueError(f"jobs must be a positive integer or 'auto', got {jobs!r}")
    return min(n, len(seeds))


def assign_devices(seeds: Sequence[int], devices: Sequence[str], jobs: int,
                   share: bool = False) -> list[tuple[str, list[int]]]:
    """Which device each of ``jobs`` simultaneous chains uses, and its seeds, in order:
    ``[(device, seeds), ...]``, chain ``k`` on ``devices[k % len(devices)]`` with ``seeds[k::jobs]``
    (so a seed waits for its chain's previous seed, never for another's GPU).  GPUs (``cuda:N``)
    are not shared: more chains than GPUs is an error unless ``share``; another device (the CPU)
    is shared by every chain, its cores divided between them.  A pure function: any names stand
    in for GPUs."""
    seeds, devices = list(seeds), list(devices)
    if not devices:
        raise ValueError("no device to run the seeds on")
    if len(set(devices)) != len(devices):
        raise ValueError(f"a device is named twice in {devices}")
    if not seeds:
        raise ValueError("no seeds to run")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    jobs = min(jobs, len(seeds))
    gpus = [d for d in devices if _device_type(d) == "cuda"]
    if gpus and len(gpus) != len(devices):
        raise ValueError(f"GPUs and other devices mixed in {devices}: name GPUs only, or one other device")
    if not gpus and len(devices) > 1:
        raise ValueError(f"several devices that are not GPUs, {devices}: name one (the chains share it)")
    if gpus and jobs > len(gpus) and not share:
        raise ValueError(f"{jobs} seeds at a time would put two trainings on one GPU ({len(gpus)}: "
                         f"{', '.join(gpus)}): use --jobs {len(gpus)} or fewer, name more GPUs with --devices, "
                         "or allow it with --share-devices")
    return [(devices[k % len(devices)], seeds[k::jobs]) for k in range(jobs)]


def _devices(device: str, devices: str | Sequence[str] | None) -> list[str]:
    """The devices a batch's seeds run on: ``devices`` (``"cuda:0,cuda:2"``: GPUs of this machine),
    else every GPU for ``device`` ``auto`` or ``cuda`` on a machine with GPUs, ``cuda:N`` alone,
    or the CPU."""
    import torch

    if devices:
        names = [d.strip() for d in (devices.split(",") if isinstance(devices, str) else devices) if d.strip()]
        if device not in ("auto", "cuda"):
            raise ValueError(f"--devices names the GPUs the seeds train on; --device {device!r} contradicts it "
                             "(leave --device auto)")
        bad = [d for d in names if not re.fullmatch(r"cuda:\d+", d)]
        if bad or not names:
            raise ValueError(f"--devices takes GPUs as cuda:N separated by commas, e.g. cuda:0,cuda:2; got {devices!r}")
        if not torch.cuda.is_available():
            raise ValueError(f"--devices {','.join(names)} was asked for but this machine has no CUDA GPU")
        count = torch.cuda.device_count()
        absent = [d for d in names if int(d.split(":")[1]) >= count]
        if absent:
            raise ValueError(f"{', '.join(absent)} asked for, but this machine has {count} GPU(s) "
                             f"(cuda:0 to cuda:{count - 1})")
        return names
    dev = resolve_device(device)
    if dev.type == "cuda" and dev.index is None:
        return [f"cuda:{k}" for k in range(torch.cuda.device_count())]
    return [str(dev) if dev.index is not None or dev.type != "cuda" else "cuda:0"]


def _visible_id(gpu: str, visible: str | None) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` value that shows a kernel only ``gpu`` (``cuda:N`` as this
    process numbers them: the N-th entry of this process's own ``visible``, when it has one)."""
    index = int(gpu.split(":", 1)[1])
    if visible is None:
        return str(index)
    ids = [v.strip() for v in visible.split(",") if v.strip()]
    if index >= len(ids):
        raise ValueError(f"{gpu} is not among this process's GPUs (CUDA_VISIBLE_DEVICES={visible!r})")
    return ids[index]


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables that set a kernel's intra-op threads (torch reads them when it starts)."""


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """This process's torch threads set to ``threads`` for a block (``None``: left as they are)."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
