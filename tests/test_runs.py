import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from blur2vid.reproduction.runs import (
    REFERENCE_ENV,
    check_parameters,
    is_reference_run,
    output_dir,
    resolve_device,
    run_name,
    start_run,
)


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
        start_run("99_nothing", profile="smoke")
    with pytest.raises(ValueError, match="'tpu'"):
        resolve_device("tpu")


def test_only_the_reference_run_writes_figures(monkeypatch, tmp_path):
    """Opening a notebook and choosing Run All, trying another seed or a dataset folder never
    replaces the committed reference files: only `blur2vid reproduce` at cpu/gpu, seed 0, on the
    scenes (which marks its kernels) writes figures/."""
    monkeypatch.delenv("BLUR2VID_FIGURES")
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv(REFERENCE_ENV, raising=False)
    assert is_reference_run("cpu", 0, None) and is_reference_run("gpu", 0, None)
    assert not is_reference_run("smoke", 0, None) and not is_reference_run("cpu", 1, None)
    assert not is_reference_run("cpu", 0, str(tmp_path))
    exploring = output_dir("cpu", 0, None)
    assert exploring == tmp_path / "results" / "cpu" / "outputs" / "seed-0"
    monkeypatch.setenv(REFERENCE_ENV, "1")
    assert output_dir("cpu", 0, None).name == "figures" and output_dir("gpu", 0, None).parts[-2:] == ("figures", "gpu")
    assert output_dir("cpu", 3, None) == tmp_path / "results" / "cpu" / "outputs" / "seed-3"
    with_data = output_dir("cpu", 0, tmp_path)
    assert with_data.parent == tmp_path / "results" / "cpu" / "outputs" and with_data.name == run_name(0, tmp_path)
    assert run_name(0, tmp_path).startswith(f"seed-0-{tmp_path.name}-") and run_name(0, tmp_path) != run_name(0, tmp_path / "x")


def test_start_run_says_where_its_outputs_go(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("BLUR2VID_FIGURES")
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path))
    run = start_run("01_blur_formation", profile="smoke", seed=2)
    assert run.out_dir == tmp_path / "smoke" / "outputs" / "seed-2" and not run.reference
    assert str(run.out_dir) in capsys.readouterr().out
    assert run.workspace.checkpoints == tmp_path / "smoke" / "checkpoints"
    assert run.models_dir == run.out_dir / "models"
    assert run.cfg == run.profile_config.formation and run.cfg.seed == 2


def test_a_capped_run_bounds_every_loop_and_is_never_the_reference(monkeypatch, tmp_path):
    """``max_steps`` (a notebook parameter) runs a profile's notebooks as a wiring check: every loop
    capped, outputs in their own folder, even under the reference run's mark."""
    monkeypatch.delenv("BLUR2VID_FIGURES")
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path))
    monkeypatch.setenv(REFERENCE_ENV, "1")
    run = start_run("04_jin_training", profile="gpu", seed=0, max_steps=2, quiet=True)
    assert not run.reference and run.out_dir == tmp_path / "gpu" / "outputs" / "seed-0-capped-2"
    assert run.cfg.train.steps_middle == 2 and run.cfg.train.model == "paper" and run.cfg.n_test == 4
    with pytest.raises(ValueError, match="max_steps"):
        start_run("04_jin_training", profile="gpu", max_steps=0, quiet=True)
    with pytest.raises(TypeError, match="max_steps"):
        start_run("04_jin_training", profile="gpu", max_steps="2", quiet=True)


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


def test_reproduce_passes_data_root_to_every_notebook(monkeypatch, tmp_path):
    """`blur2vid reproduce --data-root DIR` reaches the notebooks' `data_root` parameter, runs as an
    exploration (outputs under results/, not figures/), and records the folder in the manifest."""
    import papermill

    from blur2vid import cli

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda src, dst, parameters, **kw: calls.append(
        (src, parameters, os.environ.get(REFERENCE_ENV))))
    monkeypatch.delenv("BLUR2VID_FIGURES")
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path / "results"))
    data = tmp_path / "footage"
    data.mkdir()
    assert cli.main(["reproduce", "--profile", "cpu", "--only", "02", "06", "--data-root", str(data)]) == 0
    assert [c[0].rsplit("/", 1)[-1] for c in calls] == ["02_order_ambiguity.ipynb", "06_hypercut_blur2vid.ipynb"]
    assert all(c[1]["data_root"] == str(data.resolve()) and c[1]["profile"] == "cpu" for c in calls)
    assert {c[2] for c in calls} == {"0"}  # not the reference run
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)  # a folder relative to where the command runs reaches the kernels (in notebooks/) resolved
    calls.clear()
    assert cli.main(["reproduce", "--profile", "cpu", "--only", "02", "--data-root", os.path.relpath(data, root)]) == 0
    assert calls[0][1]["data_root"] == str(data.resolve())
    out = output_dir("cpu", 0, str(data), reference=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["notebooks"]["02_order_ambiguity"]["data_root"] == str(data.resolve())
    calls.clear()
    monkeypatch.setenv("BLUR2VID_FIGURES", str(tmp_path / "figures"))  # never the committed folder
    assert cli.main(["reproduce", "--profile", "cpu", "--only", "01"]) == 0
    assert calls[0][1]["data_root"] is None and calls[0][2] == "1"  # the reference run marks its kernels


def test_a_batch_of_seeds_runs_the_trained_notebooks_per_seed_and_pools_them(monkeypatch, tmp_path):
    """`reproduce --seeds 0 1`: each notebook that trains runs once per seed into its own folder, the
    claims are pooled (their intervals over both seeds), the other notebooks run once, at the first
    seed, into the pooled folder, the summary last; a notebook finished at this commit is skipped
    when the batch is run again (resume)."""
    import numpy as np
    import papermill

    from blur2vid.experiments.claims import claims_table, margin_claim
    from blur2vid.reproduction import reproduce as rep

    calls = []

    def fake(src, dst, parameters, **kw):
        name = Path(src).stem
        calls.append((name, parameters["seed"], os.environ.get("BLUR2VID_FIGURES")))
        if name == "02_order_ambiguity":
            run = start_run(name, profile="smoke", seed=parameters["seed"], quiet=True)
            margin = 0.5 if parameters["seed"] == 0 else -0.4
            run.save(claims_table([margin_claim("x.gain", "x", margin + np.linspace(-0.01, 0.01, 50))]), "ambiguity_claims")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    monkeypatch.setattr(rep, "_commit", lambda root: "abc1234")
    monkeypatch.delenv("BLUR2VID_FIGURES")
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path))
    rep.reproduce(profile="smoke", seeds=[0, 1], only=["01", "02", "08"])
    pooled = tmp_path / "smoke" / "outputs" / "seeds-0-1"
    assert calls == [("02_order_ambiguity", 0, None), ("02_order_ambiguity", 1, None),
                     ("01_blur_formation", 0, str(pooled)), ("08_paper_tables_and_figures", 0, str(pooled))]
    per_seed = [pd.read_csv(tmp_path / "smoke" / "outputs" / f"seed-{k}" / "ambiguity_claims.csv", index_col="id")
                for k in (0, 1)]
    assert [t.loc["x.gain", "verdict"] for t in per_seed] == ["reproduced", "contradicted"]
    claims = pd.read_csv(pooled / "ambiguity_claims.csv", index_col="id")
    assert claims.loc["x.gain", "seeds"] == 2 and claims.loc["x.gain", "verdict"] == "not shown"
    manifest = json.loads((pooled / "manifest.json").read_text())
    assert manifest["run"]["seeds"]["seeds"] == [0, 1] and set(manifest["seeds"]) == {"0", "1"}
    assert manifest["outputs"]["ambiguity_claims.csv"]["made"] == "pooled over seeds [0, 1]"
    calls.clear()
    rep.reproduce(profile="smoke", seeds=[0, 1], only=["02"])
    assert calls == []  # both seeds finished at this commit


def test_seeds_train_side_by_side_each_in_order_with_its_share_of_threads(monkeypatch, tmp_path):
    """`reproduce --jobs 3`: the three seeds' chains run at once (a barrier that only three
    concurrent kernels pass), each seed's notebooks in order, every kernel with cpu_count // 3
    threads (at least 1) and a third of the batch cache; Table 3 is timed alone before any of them,
    and the environment is restored afterwards."""
    import threading

    import papermill

    from blur2vid.data.source import BATCH_CACHE_ENV, cache_budget
    from blur2vid.reproduction import reproduce as rep

    barrier, calls, order = threading.Barrier(3, timeout=20), [], []

    def fake(src, dst, parameters, **kw):
        name = Path(src).stem
        calls.append((name, parameters["seed"], os.environ.get("OMP_NUM_THREADS"), os.environ.get(BATCH_CACHE_ENV)))
        if name == "02_order_ambiguity":
            barrier.wait()  # raises BrokenBarrierError unless three seeds are here at once

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    monkeypatch.setattr(rep, "_commit", lambda root: "abc1234")
    monkeypatch.setattr(rep, "_time_table3_alone", lambda profile, device: order.append(len(calls)))
    monkeypatch.delenv("BLUR2VID_FIGURES")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv(BATCH_CACHE_ENV, raising=False)
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path))
    rep.reproduce(profile="smoke", seeds=[0, 1, 2], only=["02", "04"], jobs=3)
    assert order == [0]  # before any notebook ran
    threads = str(max(1, (os.cpu_count() or 1) // 3))
    cache = str(cache_budget() // 3 // 2**20)
    assert sorted(calls) == sorted((nb, seed, threads, cache) for seed in (0, 1, 2)
                                   for nb in ("02_order_ambiguity", "04_jin_training"))
    for seed in (0, 1, 2):
        assert [c[0] for c in calls if c[1] == seed] == ["02_order_ambiguity", "04_jin_training"]
    assert "OMP_NUM_THREADS" not in os.environ and BATCH_CACHE_ENV not in os.environ
    manifest = json.loads((tmp_path / "smoke" / "outputs" / "seeds-0-1-2" / "manifest.json").read_text())
    assert manifest["run"]["seeds"]["jobs"] == 3 and manifest["run"]["seeds"]["threads_per_job"] == int(threads)


def test_jobs_are_checked_and_never_more_than_the_seeds():
    from blur2vid.reproduction.reproduce import _jobs

    assert _jobs(4, [0, 1], "cpu") == 2 and _jobs("1", [0, 1, 2], "cpu") == 1
    assert _jobs("auto", [0, 1, 2], "cpu") == (3 if (os.cpu_count() or 1) > 1 else 1)
    for bad in (0, "many", -2):
        with pytest.raises(ValueError, match="jobs must be a positive integer"):
            _jobs(bad, [0], "cpu")


def test_the_reference_run_is_a_batch_of_seeds():
    from blur2vid.reproduction.reproduce import default_seeds
    from blur2vid.reproduction.runs import REFERENCE_SEEDS, is_reference_batch

    assert default_seeds("cpu") == list(REFERENCE_SEEDS) == [0, 1, 2] and default_seeds("smoke") == [0]
    assert is_reference_batch("cpu", [2, 0, 1], None) and not is_reference_batch("cpu", [0], None)
    assert not is_reference_batch("cpu", [0, 1, 2], "/data") and not is_reference_batch("smoke", [0, 1, 2], None)


def test_a_cell_that_ends_with_a_save_shows_file_names_not_machine_paths(tmp_path, monkeypatch):
    from IPython.lib.pretty import pretty

    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path))
    run = start_run("08_paper_tables_and_figures", profile="smoke", quiet=True)
    saved = run.save(pd.DataFrame({"a": [1.0]}), "table_x")
    assert [p.name for p in saved] == ["table_x.csv", "table_x.md"] and all(p.is_absolute() for p in saved)
    assert pretty(saved) == repr(saved) == "saved table_x.csv, table_x.md"
    assert str(tmp_path) not in pretty(saved)


def test_the_perceptual_stand_in_is_said_once_as_a_note_not_an_error_box(tmp_path, monkeypatch, capsys):
    import warnings

    from blur2vid.losses.perceptual import MissingVGGWeightsWarning
    from blur2vid.models.vgg import VGG16_ENV_VAR

    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path))
    monkeypatch.delenv(VGG16_ENV_VAR, raising=False)
    with warnings.catch_warnings():
        start_run("04_jin_training", profile="smoke")
        out = capsys.readouterr().out
        assert "note: no VGG16 weights" in out
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn("stand-in", MissingVGGWeightsWarning, stacklevel=2)
        assert not caught
    start_run("01_blur_formation", profile="smoke")
    assert "note" not in capsys.readouterr().out


def test_a_seed_that_fails_in_a_local_batch_is_named_with_its_notebook_and_the_command_that_resumes(
        monkeypatch, tmp_path, capsys):
    """`reproduce --executor local` (threads): a seed whose notebook fails is named, with the executed
    notebook that holds the error and the command that runs the batch again; the seeds not yet
    started are not started, and nothing is pooled."""
    import papermill

    from blur2vid.reproduction import reproduce as rep

    calls = []

    def fake(src, dst, parameters, **kw):
        calls.append((Path(src).stem, parameters["seed"]))
        if calls[-1] == ("04_jin_training", 1):
            raise RuntimeError("out of memory")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    monkeypatch.setattr(rep, "_commit", lambda root: "abc1234")
    monkeypatch.delenv("BLUR2VID_FIGURES")
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path))
    with pytest.raises(RuntimeError, match="out of memory"):
        rep.reproduce(profile="smoke", seeds=[0, 1, 2], only=["02", "04"], jobs=1)
    out = capsys.readouterr().out
    assert "04_jin_training.ipynb, seed 1 failed (RuntimeError)" in out
    assert str(tmp_path / "executed" / "smoke" / "seed-1" / "04_jin_training.ipynb") in out
    assert "seed 1 failed" in out and "blur2vid reproduce --profile smoke --seeds 0 1 2 --only 02 04 --jobs 1" in out
    assert all(seed != 2 for _, seed in calls)
    assert not (tmp_path / "smoke" / "outputs" / "seeds-0-1-2" / "manifest.json").exists()
