"""A batch of seeds as jobs: each seed's chain of notebooks a job of its own, on this machine or on
a cluster's scheduler, then one step that pools them.

``blur2vid reproduce --executor local`` (the default) is :func:`~blur2vid.reproduction.reproduce.reproduce`:
threads of one process.  The executors here run the batch's steps
(:mod:`blur2vid.reproduction.reproduce`: ``table3``, ``chains``, ``pool``) as jobs instead:

* ``--executor processes`` (:class:`ProcessExecutor`): each seed's chain a ``blur2vid reproduce
  --step chains`` process of its own on this machine, ``--jobs`` at a time, each on a GPU of its
  own (``CUDA_VISIBLE_DEVICES``) where there are GPUs, its output in a log file; Table 3 and the
  pooling run in this process.  What a cluster job does, without a cluster: it is how the tests
  run the cluster's path end to end.
* ``--executor slurm`` (:class:`SubmititExecutor`): each step a SLURM job submitted through
  `submitit <https://github.com/facebookincubator/submitit>`_ (the optional extra ``cluster``):
  Table 3 timed in a job of its own first, then one job per seed, then the pooling job.  The
  resources (:class:`Resources`: partition, GPUs, CPUs, memory, time, account, any sbatch option)
  come from ``--resources FILE`` (TOML or JSON) and the options; ``--dry-run`` prints the sbatch
  script every job would get and submits nothing.

**Why submitit, not Snakemake's SLURM executor.**  The batch is N identical chains and one join,
and what makes a chain resumable is already ours (a notebook finished in the batch is skipped,
the trainings resume from checkpoints keyed by their configuration): there is no graph of files
for a workflow engine to schedule, and Snakemake would decide "done" from output files and times
beside our manifests, two notions of finished to keep in agreement, with a Snakefile, the
snakemake package and its executor plugin (dozens of dependencies, its own version cadence) to
carry.  submitit is one small package (it pulls in cloudpickle), submits a Python callable as an
sbatch job with the resources as plain parameters, gives each job's state and log paths,
requeues a job that is pre-empted or out of time (``--signal USR2`` and ``scontrol requeue``,
calling the callable's ``checkpoint``: here the same command again, which skips what it
finished), and has local and in-process executors that run the same jobs without a cluster.

**Resuming.**  Every job of a batch carries its id (:func:`~blur2vid.reproduction.reproduce.batch_id`:
the commit, and a hash of the checkout's changes if it has any), recorded with each notebook it
finishes; a job that runs again (requeued, or the batch submitted again) skips them and its
trainings resume from their checkpoints.  The batch's record (``batch.json``: its id, settings,
jobs and their logs) and the logs are in ``results/<profile>/jobs/seeds-<...>/``; the results
folder (``$BLUR2VID_RESULTS``) must be a filesystem every job sees.  A seed whose job failed is
named with its log and the command that resumes; the pooling step checks every seed's manifest
and never pools a partial batch (``--step pool`` runs it on its own, if the submitting process
died).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["Resources", "load_resources", "render_sbatch", "Job", "Outcome", "CliJob", "Executor",
           "ProcessExecutor", "SubmititExecutor", "run_batch", "pool_step", "jobs_dir", "read_record", "EXECUTORS"]

EXECUTORS = ("local", "processes", "slurm")
"""``--executor``: threads of this process (today's), processes of this machine, SLURM jobs."""
_SUBMITIT_CLUSTERS = {"slurm": "slurm", "submitit-local": "local", "submitit-debug": "debug"}
"""The executors that go through submitit (``submitit-local`` and ``submitit-debug``, submitit's
own stand-ins for a cluster, are for tests)."""
KINDS = ("chain", "table3", "pool")
"""The kinds of job of a batch, each with its resources."""


# --- resources -------------------------------------------------------------------------------------

@dataclass
class Resources:
    """What one job asks the scheduler for.  ``sbatch``: any other sbatch option, as sbatch spells
    it (``{"gres": "gpu:a100:1", "mail-type": "FAIL"}``); ``setup``: shell lines run before the job
    (``module load cuda``); ``max_requeues``: how many times a job out of time is requeued."""

    partition: str | None = None
    gpus: int = 1
    cpus: int = 8
    mem_gb: float = 32
    time_min: int = 720
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    exclusive: bool = False
    setup: list[str] = field(default_factory=list)
    sbatch: dict[str, Any] = field(default_factory=dict)
    max_requeues: int = 3
    signal_delay_s: int = 120

    def __post_init__(self):
        def whole(name, low):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"resource {name!r} must be a whole number >= {low}, got {value!r}")

        for name, low in (("gpus", 0), ("cpus", 1), ("time_min", 1), ("max_requeues", 0), ("signal_delay_s", 0)):
            whole(name, low)
        if isinstance(self.mem_gb, bool) or not isinstance(self.mem_gb, int | float) or self.mem_gb <= 0:
            raise ValueError(f"resource 'mem_gb' must be a positive number, got {self.mem_gb!r}")
        for name in ("partition", "account", "qos", "constraint"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"resource {name!r} must be text, got {getattr(self, name)!r}")
        if not isinstance(self.setup, list) or not all(isinstance(line, str) for line in self.setup):
            raise ValueError(f"resource 'setup' must be a list of shell lines, got {self.setup!r}")
        if not isinstance(self.sbatch, dict):
            raise ValueError(f"resource 'sbatch' must be a table of sbatch options, got {self.sbatch!r}")
        if not isinstance(self.exclusive, bool):
            raise ValueError(f"resource 'exclusive' must be true or false, got {self.exclusive!r}")

    def slurm_parameters(self, name: str) -> dict[str, Any]:
        """What :class:`submitit.SlurmExecutor` receives (its ``update_parameters``), rendered by
        it into the job's sbatch script (:func:`render_sbatch`).  Every job may be requeued
        (``--requeue``: pre-emption, a failed node) and gets ``USR2`` ``signal_delay_s`` before its
        time runs out, which submitit answers by requeuing it."""
        mem = f"{int(self.mem_gb)}GB" if self.mem_gb == int(self.mem_gb) else f"{int(self.mem_gb * 1024)}MB"
        params: dict[str, Any] = {"job_name": name, "time": self.time_min, "cpus_per_task": self.cpus, "mem": mem,
                                  "signal_delay_s": self.signal_delay_s,
                                  "additional_parameters": {"requeue": True, **self.sbatch}}
        if self.gpus:
            params["gpus_per_node"] = self.gpus
        for key in ("partition", "account", "qos", "constraint"):
            if getattr(self, key) is not None:
                params[key] = getattr(self, key)
        if self.exclusive:
            params["exclusive"] = True
        if self.setup:
            params["setup"] = list(self.setup)
        return params


_RESOURCE_KEYS = tuple(f.name for f in fields(Resources))


def default_resources(profile: str, device: str = "auto") -> dict[str, Resources]:
    """The resources of each kind of job when nothing is given: one GPU (none for ``--device
    cpu``), 8 CPUs on a GPU (the scene renderers) else 4, 32 GB, and a day for a ``gpu`` chain (4
    hours at ``cpu``, 30 minutes at ``smoke``); Table 3's job an hour at most."""
    gpus = 0 if device == "cpu" else 1
    time_min = {"smoke": 30, "cpu": 240}.get(profile, 1440)
    chain = Resources(gpus=gpus, cpus=8 if gpus else 4, time_min=time_min)
    return {"chain": chain, "table3": replace(chain, time_min=min(60, time_min)), "pool": chain}


def load_resources(path: str | os.PathLike | None = None, profile: str = "cpu", device: str = "auto",
                   **overrides: Any) -> dict[str, Resources]:
    """Each kind of job's :class:`Resources` (``{"chain": ..., "table3": ..., "pool": ...}``):
    :func:`default_resources`, then the file's top-level keys for every job (TOML or JSON, the
    field names of :class:`Resources`), then its ``[table3]`` and ``[pool]`` tables for those jobs,
    then ``overrides`` (the command's options; ``None`` values ignored) for every job."""
    defaults = default_resources(profile, device)
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"resources file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"resources file {path}: expected a table of resources, got {type(data).__name__}")
    sections = {kind: data.pop(kind, {}) for kind in ("table3", "pool")}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    for where, table in [("", data), *((f"[{k}] ", v) for k, v in sections.items()), ("option ", overrides)]:
        if not isinstance(table, dict):
            raise ValueError(f"resources {where.strip() or 'file'}: expected a table, got {table!r}")
        unknown = sorted(set(table) - set(_RESOURCE_KEYS))
        if unknown:
            raise ValueError(f"unknown resource {where}{', '.join(map(repr, unknown))}; "
                             f"known: {', '.join(_RESOURCE_KEYS)}, and the tables [table3] and [pool]")
    out = {}
    for kind in KINDS:
        merged = {**data, **sections.get(kind, {}), **overrides}
        if "sbatch" in data and "sbatch" in sections.get(kind, {}):
            merged["sbatch"] = {**data["sbatch"], **sections[kind]["sbatch"]}
        out[kind] = replace(defaults[kind], **merged)
    return out


def render_sbatch(resources: Resources, name: str, folder: str | os.PathLike, python: str | None = None) -> str:
    """The sbatch script submitit writes for a job with these resources (submitted, it runs
    ``python -u -m submitit.core._submit FOLDER``, which unpickles and calls the job's
    :class:`CliJob`): made by the function submitit's own ``SlurmExecutor`` makes it with (its
    parameters are checked by it on submission too), so what is shown is what the scheduler gets."""
    from submitit.slurm import slurm as submitit_slurm

    python = python or shlex.quote(sys.executable)
    command = " ".join([python, "-u -m submitit.core._submit", shlex.quote(str(folder))])
    return submitit_slurm._make_sbatch_string(command=command, folder=folder, **resources.slurm_parameters(name))


# --- jobs ------------------------------------------------------------------------------------------

@dataclass
class Job:
    """One step of a batch as a command: ``blur2vid reproduce`` with ``argv``, with ``env`` over
    the environment (``None`` removes a variable), in ``cwd`` (the checkout)."""

    name: str  # "seed 0", "table3", "pool"
    kind: str  # "chain", "table3" or "pool"
    argv: list[str]
    env: dict[str, str | None]
    cwd: str
    seed: int | None = None
    lane: int = 0  # ProcessExecutor: jobs of one lane run one after another, lanes side by side

    @property
    def key(self) -> str:
        return self.name.replace(" ", "-")

    def command(self) -> str:
        return shlex.join(["blur2vid", "reproduce", *self.argv])


@dataclass
class Outcome:
    """How a job ended: ``ok``, its log, and in a few words why it failed."""

    job: Job
    ok: bool
    log: Path | None
    detail: str = ""
    job_id: str | None = None


class CliJob:
    """A :class:`Job`'s command run in the job's own process: what submitit pickles and the job
    calls.  It sets the job's variables (and, under SLURM, the kernels' threads to the job's CPUs),
    runs ``blur2vid reproduce`` in the checkout, and fails with the command's status.

    ``checkpoint`` makes it requeueable: when the job is pre-empted or its time runs out, submitit
    calls it and requeues the same command, which skips the notebooks its batch finished and
    resumes the trainings from their checkpoints."""

    def __init__(self, argv: Sequence[str], env: dict[str, str | None], cwd: str, entry):
        self.argv, self.env, self.cwd, self.entry = list(argv), dict(env), cwd, entry

    def __call__(self) -> str:
        from blur2vid.reproduction.reproduce import _Env

        env = dict(self.env)
        cpus = os.environ.get("SLURM_CPUS_PER_TASK")
        if cpus and "OMP_NUM_THREADS" not in os.environ and "OMP_NUM_THREADS" not in env:
            env.update(OMP_NUM_THREADS=cpus, MKL_NUM_THREADS=cpus)
        before = os.getcwd()
        with _Env(**env):
            os.chdir(self.cwd)
            try:
                status = self.entry(["reproduce", *self.argv])
            finally:
                os.chdir(before)
        if status:
            raise RuntimeError(f"blur2vid reproduce {shlex.join(self.argv)} exited with status {status} "
                               "(the reason is above, in this job's log)")
        return "done"

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)

    def __repr__(self) -> str:
        return f"CliJob(blur2vid reproduce {shlex.join(self.argv)})"


# --- executors -------------------------------------------------------------------------------------

class Executor(ABC):
    """Runs a batch's jobs.  ``local``: this machine, where Table 3 and the pooling run in this
    process; else they are jobs too."""

    name = ""
    local = False

    @abstractmethod
    def run_all(self, jobs: Sequence[Job]) -> list[Outcome]:
        """Run ``jobs`` (a failure does not stop the others) and wait for them all."""

    @abstractmethod
    def describe(self, jobs: Sequence[Job]) -> str:
        """What each job would run, and with what, without running it."""


class ProcessExecutor(Executor):
    """Each job a ``blur2vid reproduce`` process of this machine, in a session of its own (killed
    with its kernels), its output appended to ``logs/<job>.log``; the jobs of one lane one after
    another, the lanes side by side.  Interrupted, it kills the processes it started."""

    name = "processes"
    local = True

    def __init__(self, folder: str | os.PathLike):
        self.logs = Path(folder) / "logs"
        self.running: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def log_of(self, job: Job) -> Path:
        return self.logs / f"{job.key}.log"

    def describe(self, jobs: Sequence[Job]) -> str:
        return "\n".join(f"lane {job.lane}: {job.name}: {_env_text(job.env)}{job.command()}  (log {self.log_of(job)})"
                         for job in jobs)

    def run_all(self, jobs: Sequence[Job]) -> list[Outcome]:
        lanes: dict[int, list[Job]] = {}
        for job in jobs:
            lanes.setdefault(job.lane, []).append(job)
        outcomes: dict[str, Outcome] = {}
        self._stopping.clear()
        with ThreadPoolExecutor(max(1, len(lanes))) as threads:
            futures = [threads.submit(self._lane, lane, outcomes) for lane in lanes.values()]
            try:
                wait_for(futures)
            except BaseException:  # interrupted: end what this executor started, then say so
                self.stop()
                raise
            for future in futures:
                future.result()
        return [outcomes[job.name] for job in jobs]

    def _lane(self, jobs: list[Job], outcomes: dict[str, Outcome]) -> None:
        for job in jobs:
            if self._stopping.is_set():
                outcomes[job.name] = Outcome(job, False, self.log_of(job), "not started (interrupted)")
                continue
            outcomes[job.name] = self._run(job)

    def _run(self, job: Job) -> Outcome:
        log = self.log_of(job)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for name, value in job.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"\n=== {_now()} {_env_text(job.env)}{job.command()}\n")
            out.flush()
            proc = subprocess.Popen([sys.executable, "-m", "blur2vid.cli", "reproduce", *job.argv], stdout=out,
                                    stderr=subprocess.STDOUT, env=env, cwd=job.cwd, start_new_session=True)
            out.write(f"=== process {proc.pid}\n")
            out.flush()
        with self._lock:
            self.running[job.name] = proc
        try:
            status = proc.wait()
        finally:
            with self._lock:
                self.running.pop(job.name, None)
        if status == 0:
            return Outcome(job, True, log, "finished", str(proc.pid))
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        return Outcome(job, False, log, f"{how}; the last line of its log: {_last_line(log)}", str(proc.pid))

    def stop(self) -> None:
        """End the processes this executor started (each with its kernels), and start no more."""
        import signal

        self._stopping.set()
        with self._lock:
            procs = list(self.running.values())
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                continue
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


class SubmititExecutor(Executor):
    """Each job submitted through submitit: ``cluster`` ``slurm`` (an sbatch job with its
    :class:`Resources`), or submitit's stand-ins ``local`` (a process) and ``debug`` (in this
    process, when waited for).  Jobs are submitted together and waited for together; the
    scheduler decides how many run at once."""

    local = False

    def __init__(self, folder: str | os.PathLike, cluster: str = "slurm",
                 resources: dict[str, Resources] | None = None, prefix: str = "blur2vid", entry=None):
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise ValueError("--executor slurm submits through submitit, an optional extra: pip install "
                             "'blur2vid[cluster]' (or submitit==1.5.4)") from None
        if cluster not in ("slurm", "local", "debug"):
            raise ValueError(f"unknown submitit cluster {cluster!r}")
        self.folder = Path(folder) / "submitit"
        self.cluster, self.name = cluster, cluster if cluster == "slurm" else f"submitit-{cluster}"
        self.resources = resources or default_resources("cpu")
        self.prefix = prefix
        self.entry = entry

    def job_name(self, job: Job) -> str:
        """The name the scheduler shows: ``blur2vid-<profile>-seed-0``."""
        return f"{self.prefix}-{job.key}"

    def _executor(self, job: Job):
        import submitit

        res = self.resources[job.kind]
        if self.cluster == "slurm":
            try:
                executor = submitit.SlurmExecutor(self.folder, max_num_timeout=res.max_requeues)
            except RuntimeError:
                raise ValueError("--executor slurm needs SLURM's commands (srun, sbatch) on this machine: run it on "
                                 "the cluster's login node (--dry-run shows the jobs without them)") from None
            executor.update_parameters(**res.slurm_parameters(self.job_name(job)))
            return executor
        if self.cluster == "local":
            executor = submitit.LocalExecutor(self.folder)
            executor.update_parameters(timeout_min=res.time_min)
            return executor
        return submitit.DebugExecutor(self.folder)

    def describe(self, jobs: Sequence[Job]) -> str:
        parts = []
        for job in jobs:
            script = render_sbatch(self.resources[job.kind], self.job_name(job), self.folder) \
                if self.cluster == "slurm" else ""
            parts.append(f"--- {job.name}: {_env_text(job.env)}{job.command()}\n{script}")
        return "\n".join(parts)

    def run_all(self, jobs: Sequence[Job]) -> list[Outcome]:
        submitted = []
        for job in jobs:
            handle = self._executor(job).submit(CliJob(job.argv, job.env, job.cwd, self.entry))
            print(f"[blur2vid] {job.name}: job {handle.job_id}, log {handle.paths.stdout}", flush=True)
            submitted.append((job, handle))
        return [self._outcome(job, handle) for job, handle in submitted]

    def _outcome(self, job: Job, handle) -> Outcome:
        error = handle.exception()  # waits for the job
        log = Path(handle.paths.stderr)
        if error is None:
            return Outcome(job, True, log, "finished", str(handle.job_id))
        state = handle.state
        state = "FAILED" if state in ("DONE", "QUEUED", "UNKNOWN") else state  # submitit's stand-ins say little
        return Outcome(job, False, log, f"{state}: {_reason(error)[:300]}", str(handle.job_id))


# --- the batch -------------------------------------------------------------------------------------

def jobs_dir(profile: str, seeds: Sequence[int], data_root: str | None = None) -> Path:
    """Where a batch's record and logs go: ``results/<profile>/jobs/seeds-<...>/``."""
    from blur2vid.reproduction.runs import results_root, run_name

    return results_root() / profile / "jobs" / run_name(list(seeds), data_root)


def read_record(profile: str, seeds: Sequence[int], data_root: str | None = None) -> dict[str, Any]:
    """The batch record ``batch.json`` of these seeds (empty when there is none)."""
    path = jobs_dir(profile, seeds, data_root) / "batch.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    from blur2vid.core.io import atomic_write_json

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "batch.json", record)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _env_text(env: dict[str, str | None]) -> str:
    return "".join(f"{k}={env[k]} " for k in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS") if env.get(k) is not None)


def _reason(error: BaseException) -> str:
    """In a line, why a job failed: the last ``SomeError: ...`` line of the traceback submitit
    reports (its own first line says only that the job failed), else the message's first line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Interrupt|Exit)\b.*:", line)]
    return raised[-1] if raised else (lines[0] if lines else type(error).__name__)


def _last_line(log: Path) -> str:
    """The last line a failed job wrote (its error, most often)."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
            lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"


def _step_argv(step: str, profile: str, device: str, seeds: Sequence[int], only, data_root, precision: str,
               resume: bool, batch: str) -> list[str]:
    argv = ["--profile", profile, "--device", device, "--precision", precision, "--seeds", *map(str, seeds),
            "--step", step, "--batch", batch]
    if only:
        argv += ["--only", *only]
    if data_root is not None:
        argv += ["--data-root", str(data_root)]
    if not resume:
        argv.append("--no-resume")
    return argv


def run_batch(executor: str = "processes", profile: str = "cpu", device: str = "auto",
              seeds: Sequence[int] | None = None, only: list[str] | None = None, data_root: str | None = None,
              precision: str = "auto", kernel_name: str = "python3", resume: bool = True, jobs: int | str = "auto",
              devices: str | Sequence[str] | None = None, share_devices: bool = False,
              resources: dict[str, Resources] | None = None, batch: str | None = None, dry_run: bool = False,
              pool_only: bool = False, options: Sequence[str] = (), entry=None) -> dict[str, float]:
    """Run a batch of seeds as jobs through ``executor`` (``processes``, ``slurm``; ``submitit-local``
    and ``submitit-debug`` for tests): Table 3 alone first (where notebook 04 is run and seeds run
    side by side), each seed's chain a job, then, once every seed finished, the pooling step
    (``pool_only``: that step alone).  A failed job stops the batch before the pooling, naming each
    failed seed, its log and the command that resumes (:class:`~blur2vid.reproduction.reproduce.BatchError`).
    ``batch``: the id of a batch to continue (default :func:`~blur2vid.reproduction.reproduce.batch_id`
    of this checkout); ``options``: the executor's command-line options, for the resume command;
    ``entry``: the command line's ``main`` (``blur2vid.cli.main``), which a submitit job calls with
    its step's arguments (handed down by the command line, which sits above this floor).
    Returns seconds per notebook run in this batch, as :func:`~blur2vid.reproduction.reproduce.reproduce`."""
    from blur2vid.core.io import repo_root
    from blur2vid.reproduction import reproduce as rep
    from blur2vid.reproduction.runs import ENV_OUTPUT_DIR, ENV_RESULTS, read_manifest, results_root

    given_seeds = seeds
    seeds, data_root, paths, reference, _ = rep._checked(profile, device, seeds, only, data_root, precision)
    trained = [p.stem for p in paths if p.stem in rep.SEEDED]
    root = repo_root()
    commit = rep._commit(root)
    batch = batch or rep.batch_id(root, commit, fresh=not resume)
    folder = jobs_dir(profile, seeds, data_root)
    base_env: dict[str, str | None] = {ENV_RESULTS: str(results_root().resolve())}

    def argv(step, step_seeds, step_device=device):
        return _step_argv(step, profile, step_device, step_seeds, only, data_root, precision, resume, batch)

    lanes: list[tuple[str, list[int]]] = []
    per_job = None
    if executor == "processes":
        ex: Executor = ProcessExecutor(folder)
        gpus = rep._devices(device, devices)
        n = rep._jobs(jobs, seeds, device, len(gpus))
        lanes = rep.assign_devices(seeds, gpus, n, share_devices)
        per_job = max(1, (os.cpu_count() or 1) // n) if n > 1 else None
        lane_env = dict(base_env)
        if per_job:
            lane_env.update({v: str(per_job) for v in rep._THREAD_VARS})
            if rep.BATCH_CACHE_ENV not in os.environ:
                lane_env[rep.BATCH_CACHE_ENV] = str(rep.cache_budget() // n // 2**20)
        chains = []
        for k, (gpu, lane_seeds) in enumerate(lanes):
            env, dev = dict(lane_env), device
            if rep._device_type(gpu) == "cuda":  # the lane's GPU alone, as cuda
                env["CUDA_VISIBLE_DEVICES"] = rep._visible_id(gpu, os.environ.get("CUDA_VISIBLE_DEVICES"))
                dev = "cuda"
            chains += [Job(f"seed {s}", "chain", argv("chains", [s], dev), env, str(root), s, k) for s in lane_seeds]
        table3 = None
    elif executor in _SUBMITIT_CLUSTERS:
        if devices:
            raise ValueError("--devices picks GPUs of this machine; a cluster's jobs get theirs from the scheduler "
                             "(--gpus-per-job)")
        if ":" in device:
            raise ValueError(f"--device {device!r}: a job sees only the GPUs the scheduler gave it; use --device "
                             "auto, cuda or cpu")
        if entry is None:
            raise ValueError(f"--executor {executor} runs the command line in each job: pass entry= "
                             "(blur2vid.cli.main)")
        ex = SubmititExecutor(folder, _SUBMITIT_CLUSTERS[executor],
                              resources or load_resources(profile=profile, device=device), f"blur2vid-{profile}",
                              entry)
        chains = [Job(f"seed {s}", "chain", argv("chains", [s]), base_env, str(root), s) for s in seeds]
        table3 = Job("table3", "table3", argv("table3", seeds), base_env, str(root))
    else:
        raise ValueError(f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}")
    pool_env = base_env | ({ENV_OUTPUT_DIR: os.environ[ENV_OUTPUT_DIR]} if os.environ.get(ENV_OUTPUT_DIR) else {})
    pool_job = Job("pool", "pool", argv("pool", seeds), pool_env, str(root))
    timed = "04_jin_training" in trained and not pool_only and (table3 is not None or len(lanes) > 1)
    resume_with = rep.resume_command(profile, device, given_seeds, only, data_root, precision, resume, batch=batch,
                                     extra=options)
    planned = ([table3] if timed and table3 else []) + ([] if pool_only else chains) + ([] if ex.local else [pool_job])
    if dry_run:
        print(f"[blur2vid] batch {batch}: {len(planned)} job(s), nothing submitted\n" + ex.describe(planned), flush=True)
        return {}
    pool_command = rep.resume_command(profile, device, given_seeds, only, data_root, precision, resume, batch=batch,
                                      extra=["--step", "pool", *([] if ex.local else options)])
    record = {"batch": batch, "commit": commit, "profile": profile, "device": device, "seeds": seeds, "only": only,
              "data_root": data_root, "precision": precision, "resume": resume, "executor": ex.name,
              "submitted": _now(), "resume_command": resume_with, "pool_command": pool_command,
              "jobs": read_record(profile, seeds, data_root).get("jobs", {}) if pool_only else {}}
    _write_record(folder, record)
    print(f"[blur2vid] batch {batch} of seeds {seeds} ({'reference run' if reference else 'exploration run'}) through "
          f"{ex.name}; its record and logs: {folder}", flush=True)
    if lanes and rep._device_type(lanes[0][0]) == "cuda":
        print("[blur2vid] " + "; ".join(f"seed{'s' * (len(s) > 1)} {', '.join(map(str, s))} on {gpu}"
                                        for gpu, s in lanes), flush=True)

    def run(batch_jobs: list[Job]) -> list[Outcome]:
        try:
            outcomes = ex.run_all(batch_jobs)
        except KeyboardInterrupt:
            print(f"\n[blur2vid] interrupted; {'the processes were stopped' if ex.local else 'the jobs go on'}. "
                  f"Resume with: {resume_with}" + ("" if ex.local else f"\n  or, once they are done, pool them with: "
                                                   f"{pool_command}"), flush=True)
            raise
        for o in outcomes:
            record["jobs"][o.job.name] = {"id": o.job_id, "log": str(o.log) if o.log else None, "ok": o.ok,
                                          "detail": o.detail, "command": o.job.command()}
        _write_record(folder, record)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            lines = [f"{o.job.name} failed ({o.detail}); its log: {o.log}" for o in failed]
            raise rep.BatchError("\n  ".join([f"batch {batch}: {len(failed)} of {len(outcomes)} job(s) failed, "
                                              "nothing was pooled:", *lines])
                                 + f"\nresume (what finished is skipped, trainings resume from their checkpoints):"
                                   f" {resume_with}")
        return outcomes

    if timed:
        if table3 is not None:
            run([table3])
        else:  # this machine, before the seeds' processes start
            with rep._torch_threads(per_job):
                rep._time_table3_alone(profile, rep.resolve_device(lanes[0][0]))
    if not pool_only:
        if not ex.local:
            print(f"[blur2vid] if this process stops, the jobs go on; once they are done, pool them with: "
                  f"{pool_command}", flush=True)
        run(chains)
    if ex.local:
        logs = {int(name.split()[1]): job["log"] for name, job in record["jobs"].items() if name.startswith("seed ")}
        seconds = rep.pool(profile, device, seeds, only, data_root, precision, kernel_name, resume, batch, logs,
                           resume_with)
    else:
        run([pool_job])
        pooled = rep.pooled_dir(profile, seeds, data_root) if len(seeds) > 1 or reference else \
            rep._seed_folder(profile, seeds[0], data_root)
        seconds = {name: entry["seconds"] for name, entry in read_manifest(pooled).get("notebooks", {}).items()
                   if name not in rep.SEEDED and entry.get("batch") == batch and entry.get("seconds") is not None}
    for seed in seeds:  # what the jobs ran, from the seeds' manifests
        manifest = read_manifest(rep._seed_folder(profile, seed, data_root))
        for name, entry in manifest.get("notebooks", {}).items():
            if name in trained and entry.get("batch") == batch and entry.get("seconds") is not None:
                seconds.setdefault(f"{name} (seed {seed})", entry["seconds"])
    return seconds


def pool_step(profile: str = "cpu", device: str = "auto", seeds: Sequence[int] | None = None,
              only: list[str] | None = None, data_root: str | None = None, precision: str = "auto",
              kernel_name: str = "python3", resume: bool = True, batch: str | None = None) -> dict[str, float]:
    """``reproduce --step pool`` here: :func:`~blur2vid.reproduction.reproduce.pool` with the batch's
    id, logs and resume command from its record when ``batch`` is not given (the record of a batch
    of these seeds, with the same notebooks and precision)."""
    from blur2vid.reproduction import reproduce as rep

    checked_seeds, resolved_root, *_ = rep._checked(profile, device, seeds, only, data_root, precision)
    record = read_record(profile, checked_seeds, resolved_root)
    matches = record and record.get("only") == only and record.get("precision") == precision and (
        batch is None or record.get("batch") == batch)
    if batch is None and matches:
        batch = record.get("batch")
        print(f"[blur2vid] pooling batch {batch} (its record: {jobs_dir(profile, checked_seeds, resolved_root)})",
              flush=True)
    logs = {int(name.split()[1]): job.get("log") for name, job in record.get("jobs", {}).items()
            if name.startswith("seed ")} if matches else None
    return rep.pool(profile, device, seeds, only, data_root, precision, kernel_name, resume, batch, logs,
                    record.get("resume_command") if matches else None)
