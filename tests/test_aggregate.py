"""Pooling the outputs of several training seeds (blur2vid.reproduction.aggregate)."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from blur2vid.experiments.tables import scene_table
from blur2vid.reproduction.aggregate import aggregate, read_scene_table
from blur2vid.reproduction.runs import start_run


def _seed_run(monkeypatch, tmp_path, seed: int, offset: float):
    monkeypatch.setenv("BLUR2VID_FIGURES", str(tmp_path / f"seed-{seed}"))
    run = start_run("06_hypercut_blur2vid", profile="smoke", seed=seed, quiet=True)
    scenes = np.linspace(-0.1, 0.1, 5)[:, None]
    table = scene_table({"naive": ("naive", 22.0 + scenes + np.zeros((5, 7))),
                         "hypercut:x": ("order", 22.0 + offset + scenes + np.zeros((5, 7)))})
    run.save(table, "hypercut_tab_ppsnr")
    run.save(pd.DataFrame({"label": ["a"], "Hit": [0.9 + 0.02 * seed]}, index=pd.Index(["g"], name="id")),
             "hypercut_ordering_table")
    run.save(scene_table({"g": ("a", np.array([[1.0], [0.5], [0.0], [1.0]]))}, columns=["side from blur"], mean=False),
             "hypercut_ordering_side")
    fig, ax = plt.subplots()
    ax.plot([0, seed])
    run.save(fig, "hypercut_frames")
    plt.close(fig)
    return run.out_dir


def test_seeds_are_pooled_table_by_table(monkeypatch, tmp_path):
    folders = [_seed_run(monkeypatch, tmp_path, 0, 0.5), _seed_run(monkeypatch, tmp_path, 1, 0.1)]
    out = tmp_path / "pooled"
    how = aggregate(folders, out, [0, 1])
    pooled = read_scene_table(out / "hypercut_tab_ppsnr_scenes.csv")
    assert sorted(pooled["seed"].unique()) == [0, 1] and len(pooled) == 20
    summary = pd.read_csv(out / "hypercut_tab_ppsnr.csv", index_col="id")
    assert summary.loc["hypercut:x", "F1"] == pytest.approx(22.3)  # the mean of 22.5 and 22.1
    per_seed = pd.read_csv(out / "hypercut_tab_ppsnr_per_seed.csv", index_col=["id", "seed"])
    assert per_seed.loc[("hypercut:x", 0), "mean"] == pytest.approx(22.5)
    assert per_seed.loc[("hypercut:x", 1), "mean"] == pytest.approx(22.1)
    plain = pd.read_csv(out / "hypercut_ordering_table.csv", index_col="id")
    assert plain.loc["g", "Hit"] == pytest.approx(0.91) and plain.loc["g", "label"] == "a"
    sides = read_scene_table(out / "hypercut_ordering_side_scenes.csv")
    assert len(sides) == 8 and sides["side from blur"].mean() == pytest.approx(0.625)
    assert how["hypercut_ordering_side.png"].startswith("drawn from hypercut_ordering_side")
    for name in ("hypercut_tab_ppsnr_gain.png", "hypercut_seed_spread.png", "hypercut_frames.png"):
        assert (out / name).is_file(), name
    assert how["hypercut_frames.png"] == "copied from seed 0"
    assert how["hypercut_tab_ppsnr_gain.png"].startswith("drawn from hypercut_tab_ppsnr")
    assert (out / "hypercut_frames.png").read_bytes() == (folders[0] / "hypercut_frames.png").read_bytes()


def test_only_the_files_of_the_named_notebooks_are_pooled(monkeypatch, tmp_path):
    folder = _seed_run(monkeypatch, tmp_path, 0, 0.5)
    (folder / "stale_from_another_run.csv").write_text("id,x\na,1\n")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "stale_from_another_run.csv" not in manifest["outputs"]
    how = aggregate([folder], tmp_path / "pooled", [0], notebooks=["06_hypercut_blur2vid"])
    assert "stale_from_another_run.csv" not in how and "hypercut_tab_ppsnr.csv" in how
    with pytest.raises(FileNotFoundError, match="run the seeds first"):
        aggregate([tmp_path / "nothing"], tmp_path / "pooled", [0])


def test_learning_curves_are_pooled_with_their_seed_and_drawn_again(monkeypatch, tmp_path):
    from blur2vid.experiments.curves import curve_table

    folders = []
    for seed in (0, 1):
        monkeypatch.setenv("BLUR2VID_FIGURES", str(tmp_path / f"seed-{seed}"))
        run = start_run("04_jin_training", profile="smoke", seed=seed, quiet=True)
        history = [{"samples": 100 * k, "val_psnr": 20.0 + k + seed} for k in (1, 2, 3)]
        run.save(curve_table({"Middle": history}, "val_psnr"), "jin_step1_curves")
        folders.append(run.out_dir)
    out = tmp_path / "pooled"
    how = aggregate(folders, out, [0, 1])
    pooled = pd.read_csv(out / "jin_step1_curves.csv")
    assert list(pooled.columns) == ["run", "stage", "samples", "val_psnr", "seed"]  # no saved row numbers
    assert len(pooled) == 6 and sorted(pooled["seed"].unique()) == [0, 1]
    assert pooled.loc[(pooled["seed"] == 1) & (pooled["samples"] == 300), "val_psnr"].item() == pytest.approx(24.0)
    assert (out / "jin_step1_curves.png").is_file() and how["jin_step1_curves.png"].startswith("pooled")
