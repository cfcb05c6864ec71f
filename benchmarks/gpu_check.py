"""The prepared GPU check: what the `gpu` profile needs proven on a real GPU, in about 5 minutes.

    python benchmarks/gpu_check.py                      # on the GPU machine; outputs in figures/gpu-check/
    python benchmarks/gpu_check.py --dry-run            # the same stages on this CPU at toy sizes, uncompiled

Stages, in order; each writes its file and the manifest as soon as it ends, so a run cut off still
returns what it measured (and ``--archive`` packs whatever exists into one ``.tar.gz``; on the device
machine, ``--out /tmp/gpu-check --archive $OUT/gpu-check.tar.gz`` brings back that one file):

1. ``env.json``: torch, the device, and the measured dense matrix-product rate in fp32 and bf16
   (the yardstick of every share below);
2. ``cuda_tests.txt``: the test suite's CUDA tests (``pytest -m gpu``, the project's marker for them), where
   pytest is installed; the stage fails when pytest does (a failed test, or none selected);
3. ``table3.csv``: Jin Table 3, Nah-style, Middle and Full at 320P/480P/720P in fp32, bf16 and
   (Full) bf16 compiled: milliseconds per image, FLOPs counted by ``torch.utils.flop_counter``, and
   the share of the measured rate they reach;
4. ``training.csv``: training samples per second per network, precision and compile
   (``benchmarks/bench_training.py``);
5. ``evaluate.csv``: ``blur2vid evaluate``'s windows per second (``benchmarks/bench_evaluate.py``)
   with the network on the GPU in fp32 and bf16, and on two of the host's cores at ``--precision
   auto`` (bf16 where the processor has it, fp32 otherwise: the issue's 2-core yardstick);
6. ``capped_02.csv``, ``capped_04.csv``: notebooks 02 and 04 at the `gpu` profile with every loop
   capped (:func:`blur2vid.reproduction.profiles.get_profile` ``max_steps``), run through the library.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
import traceback
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from blur2vid.core.precision import autocast, compiled  # noqa: E402
from blur2vid.models.timing import _sync, device_name, table3_models, time_forward  # noqa: E402

RESOLUTIONS = {"320P": (320, 568), "480P": (480, 854), "720P": (720, 1280)}


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 10) -> float:
    """Dense ``n x n`` matrix products per second, in TFLOP/s."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e12


def forward_flops(model: torch.nn.Module, size: tuple[int, int], device: torch.device) -> int:
    """FLOPs of one forward pass of ``model`` on one ``size`` image (matrix products and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, *size, device=device)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model.to(device).eval()(x)
    return int(counter.get_total_flops())


class Check:
    """The output folder, its manifest, and the stages' bookkeeping."""

    def __init__(self, out: Path, budget_s: float) -> None:
        self.out, self.budget_s, self.t0 = out, budget_s, time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        self.manifest = {"stages": {}, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.t0)

    def stage(self, name: str, fn) -> None:
        if self.left() <= 0:
            self.manifest["stages"][name] = {"status": "skipped: out of time"}
            self._write()
            return
        t0 = time.perf_counter()
        print(f"[gpu-check] {name} ...", flush=True)
        try:
            files = fn() or []
            self.manifest["stages"][name] = {"status": "done", "seconds": round(time.perf_counter() - t0, 1),
                                             "files": files}
        except Exception as exc:  # a failed stage is reported, and the next one still runs
            self.manifest["stages"][name] = {"status": f"failed: {type(exc).__name__}: {exc}",
                                             "seconds": round(time.perf_counter() - t0, 1),
                                             "traceback": traceback.format_exc()[-2000:]}
        print(f"[gpu-check] {name}: {self.manifest['stages'][name]['status']}", flush=True)
        self._write()

    def _write(self) -> None:
        (self.out / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n")

    def save(self, table: pd.DataFrame, name: str) -> list[str]:
        table.to_csv(self.out / f"{name}.csv")
        print(table.round(3).to_string(), flush=True)
        return [f"{name}.csv"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "figures" / "gpu-check")
    parser.add_argument("--budget-s", type=float, default=280.0, help="stages that would start after this are skipped")
    parser.add_argument("--dry-run", action="store_true", help="on this CPU at toy sizes, to rehearse the stages")
    parser.add_argument("--archive", type=Path, default=None, help="pack the outputs into this .tar.gz at the end")
    parser.add_argument("--capped-steps", type=int, default=20, help="max_steps of the capped notebook runs")
    args = parser.parse_args(argv)

    dry = args.dry_run
    device = torch.device("cpu" if dry or not torch.cuda.is_available() else "cuda")
    resolutions = {"32x56": (32, 56), "48x84": (48, 84)} if dry else RESOLUTIONS
    scale = "smoke" if dry else "paper"
    check = Check(args.out, args.budget_s)
    env: dict = {"torch": torch.__version__, "device": device_name(device), "dry_run": dry}

    def stage_env():
        n = 512 if dry else 8192
        env["matmul_tflops"] = {"fp32": matmul_rate(device, torch.float32, n),
                                "bf16": matmul_rate(device, torch.bfloat16, n)}
        (args.out / "env.json").write_text(json.dumps(env, indent=2) + "\n")
        return ["env.json"]

    def stage_tests():
        try:
            import pytest  # noqa: F401
        except ImportError:
            (args.out / "cuda_tests.txt").write_text("pytest is not installed here: CUDA tests not run\n")
            return ["cuda_tests.txt"]
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "tests", "-p", "no:cacheprovider"],
                              cwd=ROOT, capture_output=True, text=True, timeout=max(30, int(check.left() / 3)))
        (args.out / "cuda_tests.txt").write_text(done.stdout[-20000:] + done.stderr[-5000:])
        if done.returncode != 0:  # 5: the marker selected nothing
            raise RuntimeError(f"pytest -m gpu exited {done.returncode}: see cuda_tests.txt")
        return ["cuda_tests.txt"]

    def stage_table3():
        rate = env.get("matmul_tflops", {})
        rows = []
        for name, model in table3_models(scale).items():
            variants = [("fp32", False), ("bf16", False)] + ([("bf16", True)] if name == "Full" and not dry else [])
            for precision, comp in variants:
                runner = compiled(model.to(device).eval(), comp)
                for label, size in resolutions.items():
                    with autocast(precision, device):
                        timing = time_forward(runner, size, device, warmup=3 if comp else 1, repeats=2 if dry else 10)
                    flops = forward_flops(model, size, device)
                    seconds = timing["median_s"]
                    rows.append({"model": name, "precision": precision + (" compiled" if comp else ""),
                                 "resolution": label, "ms": 1000 * seconds, "gflop": flops / 1e9,
                                 "share_of_matmul_rate": flops / seconds / 1e12 / rate.get(precision, float("nan"))})
        return check.save(pd.DataFrame(rows).set_index(["model", "precision", "resolution"]), "table3")

    def stage_training():
        import bench_training

        csv = args.out / "training.csv"
        bench_training.main(["--device", str(device), "--csv", str(csv)]  # compiling on a CPU takes minutes
                            + (["--size", "16", "--batch", "2", "--steps", "2", "--warmup", "1"] if dry else
                               ["--size", "128", "--batch", "16", "--steps", "20", "--warmup", "5", "--compile"]))
        return ["training.csv"]

    def stage_evaluate():
        import bench_evaluate

        size = ["--windows", "8", "--repeats", "1"] if dry else ["--windows", "48", "--repeats", "2"]
        runs = [["--device", str(device), "--precision", p] for p in ("fp32", "bf16")]
        runs += [["--device", "cpu", "--threads", "2", "--precision", "auto"]]
        threads = torch.get_num_threads()
        try:
            tables = [bench_evaluate.main(size + run) for run in runs]
        finally:
            torch.set_num_threads(threads)
        return check.save(pd.concat(tables).set_index(["device", "precision", "part"]), "evaluate")

    def stage_capped():
        from blur2vid.experiments import jin_training
        from blur2vid.experiments.order_ambiguity import naive_order_experiment
        from blur2vid.reproduction.profiles import get_profile
        from blur2vid.training.loop import Workspace

        p = get_profile("gpu", max_steps=2 if dry else args.capped_steps, max_size=40 if dry else None)
        import tempfile

        scratch = Path(tempfile.mkdtemp(prefix="gpu-check-"))  # checkpoints stay out of the outputs
        ws = Workspace(scratch, device, progress=False, precision="auto", validation=p.validation)
        files = check.save(naive_order_experiment(p.ambiguity, ws).table, "capped_02")
        middle, _ = jin_training.jin_middle(p.jin.train, ws)
        cascades, _ = jin_training.jin_cascades(p.jin, middle, ws)
        test = next(iter(jin_training.jin_test_sets(p.jin.train, p.jin.n_test, device).values()))
        files += check.save(jin_training.ablation_table(cascades, test).groupby(level=0).mean(numeric_only=True),
                            "capped_04")
        return files

    check.stage("env", stage_env)
    check.stage("cuda_tests", stage_tests)
    check.stage("table3", stage_table3)
    check.stage("training", stage_training)
    check.stage("evaluate", stage_evaluate)
    check.stage("capped_notebooks", stage_capped)
    if args.archive is not None:
        with tarfile.open(args.archive, "w:gz") as tar:
            for path in sorted(args.out.iterdir()):
                if path.is_file():
                    tar.add(path, arcname=path.name)
        print(f"[gpu-check] packed {args.archive}", flush=True)
    return 0 if all(s["status"] == "done" for s in check.manifest["stages"].values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
