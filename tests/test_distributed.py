"""torchrun with 2 CPU processes (gloo): the one training loop under DistributedDataParallel gives
every rank the same weights, writes one checkpoint, matches one process with the same global
batch, trains a Jin stage with a frozen network and a discriminator, and resumes after a kill."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import blur2vid.training.distributed as distributed
from blur2vid.data.sample import Batch

WORKER = Path(__file__).parent / "ddp_worker.py"
pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built in")


def _torchrun(*args, nproc: int = 2, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *map(str, args)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"torchrun failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def _single(*args) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    subprocess.run([sys.executable, str(WORKER), *map(str, args)], env=env, check=True, timeout=300)


def _max_relative_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp(min=1e-12)) for k in b)


def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    ddp, one = tmp_path / "ddp", tmp_path / "one"
    ddp.mkdir()
    one.mkdir()
    _torchrun(WORKER, "unet", ddp)
    _single("unet", one)
    r0, r1, single = (torch.load(p, weights_only=True) for p in (ddp / "rank0.pt", ddp / "rank1.pt", one / "rank0.pt"))
    assert all(torch.equal(r0[k], r1[k]) for k in r0), "the ranks ended with different weights"
    assert sorted(p.name for p in ddp.glob("*.pt")) == ["rank0.pt", "rank1.pt", "unet.pt"]  # one checkpoint
    start = {k: v for k, v in torch.load(ddp / "unet.pt", weights_only=True)["model"].items()}
    assert all(torch.equal(start[k], r0[k]) for k in r0)  # the checkpoint is the final weights
    assert _max_relative_difference(r0, single) < 1e-4
    moved = torch.load(one / "unet.pt", weights_only=True)["history"][-1]
    assert moved["samples"] == 10 * 4  # both count the global batch
    assert torch.load(ddp / "unet.pt", weights_only=True)["history"][-1]["samples"] == 10 * 4


def test_a_killed_two_process_run_resumes_to_the_same_weights(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    whole.mkdir()
    cut.mkdir()
    _torchrun(WORKER, "unet", whole, "--steps", 12)
    died = _torchrun(WORKER, "unet", cut, "--steps", 12, "--stop-at", 7, check=False)
    assert died.returncode != 0 and not (cut / "rank0.pt").exists()
    assert torch.load(cut / "unet.pt", weights_only=True)["step"] == 5  # the checkpoint before the kill
    _torchrun(WORKER, "unet", cut, "--steps", 12)
    a, b = torch.load(whole / "rank0.pt", weights_only=True), torch.load(cut / "rank0.pt", weights_only=True)
    assert _max_relative_difference(b, a) < 1e-5


def test_a_jin_stage_with_a_frozen_middle_and_a_discriminator_trains_under_ddp(tmp_path):
    _torchrun(WORKER, "jin", tmp_path)
    r0, r1 = torch.load(tmp_path / "rank0.pt", weights_only=True), torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    stages = sorted(p.name.split("-")[0] for p in (tmp_path / "checkpoints").glob("*.pt"))
    assert stages == ["jin_core_pair_estimated", "jin_pair_outer"]  # written once, by rank 0
    disc = [k for k in torch.load(next((tmp_path / "checkpoints").glob("jin_pair_outer*.pt")),
                                  weights_only=True)["model"] if k.startswith("disc.")]
    assert disc, "the discriminator is part of the stage"


def test_blur2vid_train_runs_under_torchrun(tmp_path):
    out = tmp_path / "run"
    _torchrun("-m", "blur2vid", "train", "--preset", "smoke", "--out", out, "--quiet", "--set", "steps=4")
    assert (out / "model.pt").is_file() and (out / "train_spec.json").is_file()
    assert len(list((out / "checkpoints").glob("*.pt"))) == 1


def test_without_torchrun_every_helper_is_a_no_op():
    assert not distributed.is_distributed() and distributed.world_size() == 1 and distributed.is_main()
    batch = Batch(torch.rand(4, 3, 8, 8), torch.rand(4, 7, 3, 8, 8), {"seed": [1, 2, 3, 4]})
    assert distributed.shard(batch) is batch
    assert distributed.init_from_env() is None and distributed.broadcast_object(5) == 5
