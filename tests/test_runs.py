import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from blur2vid.profiles import PROFILES, check_parameters, get_profile, resolve_device
from blur2vid.runs import output_dir, start_run


def test_every_profile_configures_the_same_notebooks_with_the_same_keys():
    names = {p: set(v) for p, v in PROFILES.items()}
    assert names["smoke"] == names["cpu"] == names["gpu"]
    for nb in names["cpu"]:
        assert set(PROFILES["smoke"][nb]) == set(PROFILES["cpu"][nb]) == set(PROFILES["gpu"][nb]), nb


def test_bad_parameters_name_the_value():
    with pytest.raises(ValueError, match="'fast'"):
        start_run("01_blur_formation", profile="fast")
    with pytest.raises(TypeError, match="'seed'.*'3'"):
        check_parameters(seed="3")
    with pytest.raises(TypeError, match="'seed'"):
        check_parameters(seed=True)
    with pytest.raises(FileNotFoundError, match="no/such/dir"):
        check_parameters(data_root="no/such/dir")
    with pytest.raises(KeyError, match="99_nothing"):
        get_profile("cpu", "99_nothing")
    with pytest.raises(ValueError, match="'tpu'"):
        resolve_device("tpu")


def test_profile_settings_are_copies():
    get_profile("cpu", "02_order_ambiguity")["steps"] = -1
    assert get_profile("cpu", "02_order_ambiguity")["steps"] > 0


def test_save_writes_files_and_manifest(tmp_path):
    run = start_run("01_blur_formation", profile="smoke", seed=3)
    assert run.out_dir == output_dir("smoke") == tmp_path / "figures"
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    paths = run.save(fig, "jin_eq1_test")
    paths += run.save(pd.DataFrame({"psnr": [20.0]}), "jin_eq1_table")
    assert sorted(p.name for p in paths) == ["jin_eq1_table.csv", "jin_eq1_table.md", "jin_eq1_test.png"]
    manifest = json.loads((run.out_dir / "manifest.json").read_text())
    entry = manifest["outputs"]["jin_eq1_test.png"]
    assert entry["notebook"] == "01_blur_formation" and entry["profile"] == "smoke" and entry["seed"] == 3
    with pytest.raises(ValueError, match="'../x'"):
        run.save(fig, "../x")
    with pytest.raises(TypeError, match="list"):
        run.save([1], "thing")


def test_save_a_sequence_as_gif():
    import torch

    run = start_run("01_blur_formation", profile="smoke")
    (path,) = run.save(torch.rand(7, 3, 8, 8), "jin_fig1_test")
    assert path.suffix == ".gif" and path.is_file()


def test_sequence_comparison_has_a_row_per_sample_and_group():
    import torch

    from blur2vid.experiments import predict_with
    from blur2vid.plots import sequence_comparison

    seqs = torch.rand(3, 5, 3, 8, 8)
    groups = {"truth": seqs, **predict_with({"same": lambda b: seqs[: len(b)]}, seqs[:, 0])}
    assert torch.equal(groups["same"], seqs.clamp(0, 1))
    fig = sequence_comparison(groups, range(2))
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["#0 truth", "#0 same", "#1 truth", "#1 same"]
