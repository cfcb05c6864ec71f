"""The Table 3 benchmark: its protocol, its columns and the paper's numbers beside them.  No test
asserts how fast anything is, only lower bounds that a sleeping model guarantees."""

from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from blur2vid.core.published import JIN_TABLE3, JIN_TABLE3_DEVICE
from blur2vid.models import JinConfig, MiddleNet, count_parameters
from blur2vid.models.timing import RESOLUTIONS, device_name, table3, table3_models, time_forward

pytestmark = pytest.mark.usefixtures("one_thread")


class _Recorder(nn.Module):
    """One 1x1 convolution (3*3 + 3 = 12 parameters) that records how it was called."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.calls: list[tuple] = []

    def forward(self, x):
        self.calls.append((tuple(x.shape), self.training, torch.is_inference_mode_enabled()))
        return self.conv(x)


class _Sleeper(nn.Module):
    """Sleeps 5 ms per 8 rows of its input: a forward pass of known least duration."""

    def forward(self, x):
        time.sleep(0.005 * x.shape[-2] / 8)
        return x


class _Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        raise RuntimeError("out of memory")


def test_time_forward_protocol():
    model = _Recorder()
    model.train()
    result = time_forward(model, (6, 10), "cpu", warmup=2, repeats=3, batch=2)
    assert len(result["times_s"]) == 3
    times = result["times_s"]
    assert result["min_s"] == min(times) and result["max_s"] == max(times)
    assert result["min_s"] <= result["median_s"] == statistics.median(times) <= result["max_s"]
    assert result["mean_s"] == pytest.approx(sum(times) / 3)
    # 2 warm-up + 3 timed runs, in eval mode under inference mode, on [batch, 3, H, W]
    assert model.calls == [((2, 3, 6, 10), False, True)] * 5
    assert model.training  # the training flag is restored
    time_forward(model.eval(), (6, 10), "cpu", warmup=0, repeats=1)
    assert not model.training  # ... whichever it was
    broken = _Broken().train()
    with pytest.raises(RuntimeError, match="out of memory"):
        time_forward(broken, (4, 4), "cpu")
    assert broken.training  # restored even when the forward pass fails


def test_time_forward_times_the_forward_pass():
    result = time_forward(_Sleeper(), (16, 16), "cpu", warmup=1, repeats=2)
    assert result["min_s"] >= 0.010  # the 16-row forward pass sleeps 10 ms


def test_time_forward_rejects_zero_repeats():
    with pytest.raises(ValueError):
        time_forward(_Recorder(), (4, 4), "cpu", repeats=0)


def test_table3_columns_hold_each_models_time_and_exact_parameter_count():
    models = {"Nah": _Recorder(), "Middle": MiddleNet(JinConfig.smoke()), "other": nn.Conv2d(3, 3, 3, padding=1),
              "sleeper": _Sleeper()}
    table = table3(models, {"8P": (8, 12), "16P": (16, 10)}, device="cpu", repeats=1, warmup=0)
    assert list(table.index) == ["Nah", "Middle", "other", "sleeper"]
    assert table.loc["Nah", "params"] == 12
    assert table.loc["other", "params"] == 3 * 3 * 9 + 3
    for name, model in models.items():
        assert table.loc[name, "params"] == count_parameters(model)
        assert table.loc[name, "params_M"] == pytest.approx(count_parameters(model) / 1e6)
    # each resolution's column holds that resolution's time: the sleeper sleeps 5 ms and 10 ms
    assert table.loc["sleeper", "8P_s"] >= 0.005 and table.loc["sleeper", "16P_s"] >= 0.010
    assert table.loc["Middle", "device"] == device_name("cpu")
    with pytest.raises(ValueError, match="stat"):
        table3(models, {"8P": (8, 12)}, stat="p90_s")


def test_table3_paper_columns_come_from_the_published_table():
    names = ["Nah", "middle (ours)", "Full-cpu", "mine", "nah-style"]
    table = table3({n: _Recorder() for n in names}, {"4P": (4, 4)}, repeats=1, warmup=0)
    paper = [f"paper_{r}_s" for r in ("320P", "480P", "720P")] + ["paper_params_M"]
    for name, row in (("Nah", "Nah"), ("middle (ours)", "Middle"), ("Full-cpu", "Full"), ("nah-style", "Nah")):
        published = JIN_TABLE3[row]
        assert table.loc[name, paper].tolist() == [published[r] for r in ("320P", "480P", "720P", "params_M")]
    assert table.loc["mine", paper].isna().all()
    assert (table["paper_device"] == JIN_TABLE3_DEVICE).all()


def test_resolutions_are_16_by_9_frames_of_their_height():
    for label, (h, w) in RESOLUTIONS.items():
        assert label == f"{h}P" and w % 2 == 0 and abs(w / h - 16 / 9) < 0.01
    table = table3({"Full": _Recorder()}, ["320P"], repeats=1, warmup=0)
    assert list(table.columns[:1]) == ["320P_s"]


def test_table3_models_at_smoke_scale():
    models = table3_models("smoke")
    assert set(models) == {"Nah", "Middle", "Full"}
    table = table3(models, {"12P": (12, 20)}, repeats=1, warmup=0)
    for name, model in models.items():
        assert table.loc[name, "params"] == count_parameters(model)
    # the full cascade holds a middle network of the same preset
    assert count_parameters(models["Full"].middle) == table.loc["Middle", "params"] < table.loc["Full", "params"]
    with pytest.raises(ValueError, match="huge"):
        table3_models("huge")


def test_device_name_reports_the_threads_torch_uses():
    torch.set_num_threads(1)
    assert device_name("cpu").endswith("(1 threads)")
    assert device_name(torch.device("cpu")) == device_name("cpu")
    assert device_name("meta") == "meta"


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
    assert pd.read_csv(csv, index_col=0).loc["Middle", "paper_params_M"] == JIN_TABLE3["Middle"]["params_M"]


@pytest.mark.gpu
def test_time_forward_on_cuda():
    result = time_forward(_Recorder(), (16, 16), "cuda", repeats=2)
    assert result["device"].startswith("cuda") and len(result["times_s"]) == 2
