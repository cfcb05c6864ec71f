"""The Table 3 benchmark: structure only (no test asserts a timing)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from blur2vid.benchmark import PAPER_TABLE3, RESOLUTIONS, device_name, table3, table3_models, time_forward
from blur2vid.models import JinConfig, MiddleNet

TINY = {"8P": (8, 12), "10P": (10, 10)}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny convolutions on several threads stall when other processes load the CPU (each parallel
    region waits for a descheduled thread: seconds instead of milliseconds); one thread avoids it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class _Recorder(nn.Module):
    """One 1x1 convolution (3*3 + 3 = 12 parameters) that records how it was called."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.calls: list[tuple] = []

    def forward(self, x):
        self.calls.append((tuple(x.shape), self.training, torch.is_inference_mode_enabled()))
        return self.conv(x)


def test_time_forward_structure_and_protocol():
    model = _Recorder()
    model.train()
    result = time_forward(model, (6, 10), "cpu", warmup=2, repeats=3, batch=2)
    assert set(result) >= {"min_s", "median_s", "mean_s", "max_s", "times_s", "size", "device"}
    assert len(result["times_s"]) == 3
    assert result["min_s"] <= result["median_s"] <= result["max_s"]
    assert all(t >= 0 for t in result["times_s"])
    # 2 warm-up + 3 timed runs, in eval mode under inference mode, on [batch, 3, H, W]
    assert model.calls == [((2, 3, 6, 10), False, True)] * 5
    assert model.training  # the training flag is restored


def test_time_forward_rejects_zero_repeats():
    with pytest.raises(ValueError):
        time_forward(_Recorder(), (4, 4), "cpu", repeats=0)


def test_table3_structure_and_exact_parameter_counts():
    models = {"Nah": _Recorder(), "Middle": MiddleNet(JinConfig.smoke()), "other": nn.Conv2d(3, 3, 3, padding=1)}
    table = table3(models, TINY, device="cpu", repeats=1, warmup=0)
    assert isinstance(table, pd.DataFrame)
    assert list(table.index) == ["Nah", "Middle", "other"]
    for col in ("8P_s", "10P_s", "params", "params_M", "paper_320P_s", "paper_480P_s", "paper_720P_s",
                "paper_params_M", "device", "paper_device"):
        assert col in table.columns
    assert table.loc["Nah", "params"] == 12
    assert table.loc["other", "params"] == 3 * 3 * 9 + 3
    assert table.loc["Nah", "params_M"] == pytest.approx(12e-6)
    assert (table[["8P_s", "10P_s"]] >= 0).all().all()
    assert table.loc["Middle", "device"] == device_name("cpu")


def test_table3_carries_the_papers_numbers():
    table = table3({"Nah": _Recorder(), "Middle": _Recorder(), "Full": _Recorder(), "mine": _Recorder()},
                   {"4P": (4, 4)}, repeats=1, warmup=0)
    assert table.loc["Nah", ["paper_320P_s", "paper_480P_s", "paper_720P_s", "paper_params_M"]].tolist() == [
        2.43, 3.52, 4.80, 12.0]
    assert table.loc["Middle", ["paper_320P_s", "paper_480P_s", "paper_720P_s", "paper_params_M"]].tolist() == [
        0.24, 0.30, 0.45, 5.0]
    assert table.loc["Full", ["paper_320P_s", "paper_480P_s", "paper_720P_s", "paper_params_M"]].tolist() == [
        0.61, 0.74, 1.10, 17.0]
    assert math.isnan(table.loc["mine", "paper_320P_s"])
    assert (table["paper_device"] == "NVIDIA Titan X").all()
    assert set(PAPER_TABLE3) == {"Nah", "Middle", "Full"}


def test_resolutions_are_16_by_9_frames():
    assert RESOLUTIONS == {"320P": (320, 568), "480P": (480, 854), "720P": (720, 1280)}
    for h, w in RESOLUTIONS.values():
        assert w % 2 == 0 and abs(w / h - 16 / 9) < 0.01


def test_table3_models_at_smoke_scale_run():
    models = table3_models("smoke")
    assert set(models) == {"Nah", "Middle", "Full"}
    table = table3(models, {"12P": (12, 20)}, repeats=1, warmup=0)
    assert table.loc["Full", "params"] > table.loc["Middle", "params"]
    with pytest.raises(ValueError):
        table3_models("huge")


def test_device_name_is_readable():
    assert device_name("cpu")
    assert device_name(torch.device("cpu")) == device_name("cpu")


def test_script_runs_at_smoke_scale(capsys, tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_table3.py"
    spec = importlib.util.spec_from_file_location("bench_table3", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    csv = tmp_path / "t3.csv"
    # the smallest paper resolution at smoke scale keeps this well under a second
    assert module.main(["--device", "cpu", "--scale", "smoke", "--repeats", "1", "--warmup", "0",
                        "--resolutions", "320P", "--models", "Middle", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "Middle" in out and "paper_320P_s" in out
    assert pd.read_csv(csv, index_col=0).loc["Middle", "paper_params_M"] == 5.0


@pytest.mark.gpu
def test_time_forward_on_cuda():
    result = time_forward(_Recorder(), (16, 16), "cuda", repeats=2)
    assert result["device"].startswith("cuda") and len(result["times_s"]) == 2
