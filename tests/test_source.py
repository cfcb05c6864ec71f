"""Contracts of blur2vid.data.source: a dataset folder in place of the procedural scenes (data_root)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from blur2vid.core.formation import synthesize_blur
from blur2vid.data.config import DataConfig
from blur2vid.data.sample import Batch
from blur2vid.data.scenes import SceneConfig, render_scenes, scene_set
from blur2vid.data.source import DatasetError, FolderSource, SceneSource, detect_kind, open_source
from blur2vid.experiments.jin_training import claims as jin_claims
from blur2vid.experiments.jin_training import jin_test_sets
from blur2vid.experiments.order_ambiguity import AmbiguityConfig, naive_order_experiment
from blur2vid.experiments.tables import BASELINES, scene_table
from blur2vid.reproduction.runs import run_name
from blur2vid.training.cascade import JIN_VARIANTS, JinTrainConfig, middle_run_config, training_batches
from blur2vid.training.hyperplane import HyperCUTTrainConfig, ordering_batches
from blur2vid.training.loop import Workspace, config_key, load_checkpoint, run_config
from blur2vid.training.unet_schemes import UNetTrainConfig, unet_test_set
from minidata import pixels, rb2v, smooth_frames, write_seq, write_video

SCENES = SceneConfig(height=12, width=14, n_frames=7)


def plain(root, names="abcde", n=21, size=(16, 20)):
    for name in names:
        write_seq(root / name, range(1, n + 1), size=size)
    return root


def gopro(root):
    for split, seqs in (("train", ("GOPR0372_07_00", "GOPR0374_11_00")), ("test", ("GOPR0384_11_00",))):
        for seq in seqs:
            write_seq(root / split / seq / "sharp", range(1, 15), size=(16, 20))
            write_seq(root / split / seq / "blur", range(1, 15), size=(16, 20))  # ignored: blur is synthesised
    return root


def videos(root):
    write_video(root / "train" / "walk.mp4", smooth_frames(21, 16, 20), quality=10)
    write_video(root / "train" / "run.mp4", smooth_frames(14, 16, 20)[::-1], quality=10)
    write_video(root / "test" / "jump.mp4", smooth_frames(14, 16, 20), quality=10)
    return root


def rb2v_root(root):
    rb2v(root, [("00000/0000", "ignore", "train"), ("00000/0001", "reverse", "train"), ("00001/0000", "ignore", "train"),
                ("00002/0000", "ignore", "test"), ("00002/0001", "ignore", "test"), ("00003/0000", "keep", "val")],
         size=(16, 20))
    return root


LAYOUTS = {"plain": (plain, "frames"), "gopro": (gopro, "frames"), "video": (videos, "video"), "rb2v": (rb2v_root, "rb2v")}


@pytest.fixture(params=list(LAYOUTS))
def dataset(request, tmp_path):
    build, kind = LAYOUTS[request.param]
    return build(tmp_path / request.param), kind, request.param


def _check_batch(batch, n, scenes=SCENES):
    assert isinstance(batch, Batch)
    assert batch.frames.shape == (n, scenes.n_frames, 3, scenes.height, scenes.width)
    assert batch.blur.shape == (n, 3, scenes.height, scenes.width)
    for x in (batch.frames, batch.blur):
        assert x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1


def test_every_layout_gives_batches_of_the_scenes_type(dataset, capsys):
    root, kind, layout = dataset
    source = open_source(str(root), SCENES)
    assert isinstance(source, FolderSource) and source.kind == kind and detect_kind(root) == kind
    printed = capsys.readouterr().out
    assert "train sequences" in printed and "test samples" in printed  # the dataset table, printed once
    assert open_source(str(root), SCENES) is source and capsys.readouterr().out == ""

    batch = source.batch(5, seed=11)
    _check_batch(batch, 5)
    again = source.batch(5, seed=11)
    assert torch.equal(batch.frames, again.frames) and torch.equal(batch.blur, again.blur)
    other = source.batch(5, seed=12)
    assert not torch.equal(batch.frames, other.frames)
    assert set(batch.meta["split"]) == {"train"}

    test = source.test_set(100, seed=0)
    _check_batch(test, len(source.indices["test"]))
    assert set(test.meta["split"]) == {"test"}
    assert set(test.meta["sequence"]) <= set(source.sequences("test"))
    assert set(source.sequences("test")).isdisjoint(source.sequences("train"))
    assert torch.equal(test.frames, source.test_set(100, seed=5).frames)  # deterministic

    if kind == "rb2v":  # the captured blur, cropped where the frames are
        for b in (batch, test):
            for i in range(len(b)):
                top, left, h, w = b.meta["crop"][i]
                assert torch.equal(b.blur[i], pixels(b.meta["blur_path"][i])[:, top:top + h, left:left + w])
        assert test.meta["blur"] == ["captured"] * len(test)
    else:  # the blur is synthesised from the frames through the scenes' camera response
        for b in (batch, test):
            assert torch.allclose(b.blur, synthesize_blur(b.frames, SCENES.crf), atol=1e-6)
    if kind != "video":  # the frames are the files' pixels at the crop (video: lossy mp4, decoded)
        for i in range(len(batch)):
            top, left, h, w = batch.meta["crop"][i]
            files = torch.stack([pixels(p)[:, top:top + h, left:left + w] for p in batch.meta["paths"][i]])
            assert torch.equal(batch.frames[i], files)

    desc = source.describe()
    assert json.loads(json.dumps(desc)) == desc
    assert desc["root"] == str(root.resolve()) and desc["kind"] == kind and desc["crop"] == [12, 14]


def test_test_windows_are_centre_crops_evenly_spaced(tmp_path):
    plain(tmp_path, names="abcde", n=70)  # 10 windows per sequence
    source = FolderSource(tmp_path, SCENES, test_sequences=["c"])
    assert source.sequences("test") == ["c"] and len(source.indices["test"]) == 10
    test = source.test_set(4)
    assert [w[0] for w in test.meta["frame_numbers"]] == [1, 22, 43, 64]  # windows 0, 3, 6, 9 of 10
    assert test.meta["crop"] == [(2, 3, 12, 14)] * 4  # (16 - 12) // 2, (20 - 14) // 2
    assert test.meta["sequence"] == ["c"] * 4


def test_validation_and_test_sets_are_named_fixed_and_apart(tmp_path):
    """The test set is frozen: the same scenes whatever the training seed (every seed of a batch is
    scored on the very same scenes), and the validation set is another, seeded set.  On a folder the
    test set is the test split and the validation set comes from the train split (no val split)."""
    from blur2vid.data.config import TEST_SEED, VALIDATION_SEED, split_seed

    data = DataConfig(size=16, max_shift=4.0)
    test, again, val = data.test_set(6), data.test_set(6), data.validation_set(6)
    assert torch.equal(test.frames, again.frames) and not torch.equal(test.frames, val.frames)
    assert torch.equal(test.frames, scene_set(data.scenes(), 6, TEST_SEED).frames)
    assert torch.equal(val.frames, scene_set(data.scenes(), 6, VALIDATION_SEED).frames)
    large = data.test_set(6, purpose="large", max_shift=8.0)
    assert torch.equal(large.frames, scene_set(data.scenes(max_shift=8.0), 6, split_seed("test", "large")).frames)
    # the training configs of two seeds read one test set
    assert torch.equal(unet_test_set(UNetTrainConfig(data=data, seed=0), 6).frames,
                       unet_test_set(UNetTrainConfig(data=data, seed=5), 6).frames)
    with pytest.raises(ValueError, match="evaluation split"):
        split_seed("train")
    plain(tmp_path, names="abcde", n=21)
    folder = DataConfig(size=12, data_root=str(tmp_path)).source(test_sequences=["e"])
    assert set(folder.validation_set(4).meta["sequence"]) <= set("abcd") and folder.test_set(4).meta["sequence"] == ["e"] * 3


def test_scene_source_is_render_scenes():
    scenes = SceneConfig(height=16, width=16, n_frames=5, max_shift=4.0)
    source = open_source(None, scenes)
    assert isinstance(source, SceneSource)
    for got, ref in ((source.batch(3, 7), render_scenes(scenes, 3, 7)), (source.test_set(4, 9), scene_set(scenes, 4, 9))):
        assert torch.equal(got.frames, ref.frames) and torch.equal(got.blur, ref.blur)
    assert json.loads(json.dumps(source.describe())) == source.describe()
    assert source.table().loc["procedural scenes", "frames"] == 5
    with pytest.raises(ValueError, match="data_root only"):
        open_source(None, scenes, downsample=0.5)


def test_describe_and_checkpoint_keys_follow_the_root(tmp_path, monkeypatch):
    a, b = plain(tmp_path / "a", names="xyz"), plain(tmp_path / "b", names="xyz")
    da, db = open_source(str(a), SCENES).describe(), open_source(str(b), SCENES).describe()
    assert da != db and da["root"] != db["root"]
    assert open_source(str(a), SCENES, downsample=0.9).describe() != da  # and the settings
    # a DataConfig names its folder resolved, and its identity holds what the loaders found there
    monkeypatch.chdir(tmp_path)
    data_a = DataConfig(size=12, data_root="a")
    assert data_a == DataConfig(size=12, data_root=str(a)) and data_a.data_root == str(a.resolve())
    assert data_a.identity()["found"] == open_source(str(a), data_a.scenes()).describe()
    assert json.loads(json.dumps(data_a.identity())) == data_a.identity()
    # so the runs of another folder, or of the scenes, have other checkpoint keys
    configs = [JinTrainConfig(data=data) for data in (data_a, data_a.with_root(str(b)), data_a.with_root(None))]
    keys = {config_key("jin_middle", middle_run_config(cfg, step="middle")) for cfg in configs}
    assert len(keys) == 3
    hc = [HyperCUTTrainConfig(data=cfg.data) for cfg in configs]
    assert len({config_key("hypercut", run_config(cfg, data=cfg.data.identity())) for cfg in hc}) == 3
    assert (config_key("jin_middle", middle_run_config(JinTrainConfig(data=DataConfig(size=12, data_root="a"))))
            == config_key("jin_middle", middle_run_config(configs[0])))  # the same folder: the same key


def test_frames_smaller_than_the_crop(tmp_path):
    plain(tmp_path, names="ab", size=(16, 20))
    write_seq(tmp_path / "tiny", range(1, 8), size=(10, 30))
    with pytest.raises(DatasetError, match=r"tiny: frames are 10x30, smaller than the 12x14 crop"):
        open_source(str(tmp_path), SCENES)
    shutil.rmtree(tmp_path / "tiny")
    big = SceneConfig(height=12, width=12, n_frames=7)
    with pytest.raises(DatasetError, match=r"/a: frames are 16x20 \(8x10 after downsample 0.5\), smaller than the 12x12"):
        FolderSource(tmp_path, big, downsample=0.5, test_sequences=["b"])
    write_seq(tmp_path / "a", range(15, 22), size=(8, 8))  # a later window smaller than the first frame
    source = FolderSource(tmp_path, SCENES, test_sequences=["b"])
    with pytest.raises(DatasetError, match=r"/a: frames are 8x8, smaller than the 12x14 crop"):
        for seed in range(20):
            source.batch(4, seed)


def test_downsample_and_frame_step(tmp_path):
    plain(tmp_path, names="abc", n=28, size=(32, 40))
    half = FolderSource(tmp_path, SCENES, downsample=0.5, test_sequences=["c"])
    test = half.test_set(2)
    assert test.meta["size"] == [(32, 40)] * 2 and test.meta["crop"][0] == (2, 3, 12, 14)  # of the 16x20 frames
    step = FolderSource(tmp_path, SCENES, frame_step=2, test_sequences=["c"])
    assert step.describe()["frame_step"] == 2 and len(step.indices["test"]) == 2  # 28 frames: spans 1..13, 14..26
    assert step.test_set(1).meta["frame_numbers"][0] == tuple(range(1, 14, 2))


def test_no_test_split_and_rb2v_window_length(tmp_path, capsys):
    write_seq(tmp_path / "single", range(1, 15), size=(16, 20))
    source = open_source(str(tmp_path / "single"), SCENES)
    _check_batch(source.batch(2, 0), 2)
    with pytest.raises(DatasetError, match=r"single: the test split has no windows of 7 frames .*one sequence"):
        source.test_set(4)
    few = FolderSource(plain(tmp_path / "p", names="ab"), SCENES)
    assert len(few.test_set(50)) == 3 and "takes all 3 (asked for 50)" in capsys.readouterr().out
    rb2v(tmp_path / "rb", [("00000/0000", "ignore", "train")], n=3, size=(16, 20))
    with pytest.raises(DatasetError, match=r"metadata\.json: samples of 3 frames .* windows of 7 frames"):
        open_source(str(tmp_path / "rb"), SCENES)


def test_noise_as_the_scenes(tmp_path):
    plain(tmp_path, names="abc")
    noisy = FolderSource(tmp_path, SceneConfig(height=12, width=14, n_frames=7, noise=0.05), test_sequences=["c"])
    clean = FolderSource(tmp_path, SCENES, test_sequences=["c"])
    a, b = noisy.batch(3, 4), clean.batch(3, 4)
    assert torch.equal(a.frames, b.frames) and not torch.equal(a.blur, b.blur)
    assert 0.02 < (a.blur - b.blur).std() < 0.08 and torch.equal(a.blur, noisy.batch(3, 4).blur)


def test_training_streams_read_data_root(tmp_path):
    plain(tmp_path, names="abcd", size=(24, 24))
    jin = JinTrainConfig(data=DataConfig(size=16, max_shift=4.0, data_root=str(tmp_path)), model="smoke", seed=3)
    batch = training_batches(jin, 2, "middle", torch.device("cpu"))(0)
    _check_batch(batch, 2, jin.scenes())
    assert batch.meta["source"] == "frames" and set(batch.meta["sequence"]) <= set("abcd")
    hc = HyperCUTTrainConfig(data=DataConfig(size=16, data_root=str(tmp_path)), batch=3)
    b1, b2 = ordering_batches(hc)(5), ordering_batches(hc)(5)
    assert b1.meta["source"] == "frames" and torch.equal(b1.frames, b2.frames)


def test_naive_order_experiment_trains_and_tests_on_the_folder(tmp_path, monkeypatch):
    data = plain(tmp_path / "data", names="abcde", n=14, size=(20, 20))
    unet = UNetTrainConfig(data=DataConfig(size=16, max_shift=4.0, data_root=str(data)), width=4, steps=2, batch=2,
                           lr=1e-3)
    cfg = AmbiguityConfig(unet=unet, n_test=8)
    ws = Workspace(tmp_path / "checkpoints", progress=False)
    seen = []
    original = FolderSource.batch
    monkeypatch.setattr(FolderSource, "batch", lambda self, *a, **k: seen.append(a) or original(self, *a, **k))
    result = naive_order_experiment(cfg, ws)
    assert len(seen) == 2 and [h["step"] for h in result.history] == [0, 1]  # trained on the folder's windows
    source = unet.data.source()
    test = result.test
    assert test.meta["source"] == "frames"
    assert len(test) == 2 and set(test.meta["sequence"]) == set(source.sequences("test"))
    for i in range(len(test)):  # the test set is the folder's frames (centre crops)
        files = torch.stack([pixels(p)[:, 2:18, 2:18] for p in test.meta["paths"][i]])
        assert torch.equal(test.frames[i], files)
    assert result.prediction.shape == test.frames.shape and np.isfinite(result.table.to_numpy()).all()
    (ckpt,) = (tmp_path / "checkpoints").glob("*.pt")  # the checkpoint names the folder and what was in it
    assert load_checkpoint(ckpt)["config"]["data"] == unet.data.identity()
    assert load_checkpoint(ckpt)["config"]["data"]["found"] == source.describe()
    naive_order_experiment(cfg, ws)
    assert len(seen) == 2  # resumed from its checkpoint: no more training
    assert unet_test_set(unet, 8).frames.equal(test.frames)


def test_jin_test_sets_on_data(tmp_path):
    plain(tmp_path / "long", names="abcde", n=26, size=(20, 20))
    cfg = JinTrainConfig(data=DataConfig(size=16, max_shift=4.0, data_root=str(tmp_path / "long")), model="smoke")
    tests = jin_test_sets(cfg, 4, "cpu")
    assert list(tests) == ["test split", "test split, every 2nd frame (2x motion)"]
    assert tests["test split, every 2nd frame (2x motion)"].meta["frame_numbers"][0] == tuple(range(1, 14, 2))
    plain(tmp_path / "short", names="abcde", n=7, size=(20, 20))
    short = jin_test_sets(JinTrainConfig(data=DataConfig(size=16, data_root=str(tmp_path / "short"))), 4, "cpu")
    assert list(short) == ["test split (sequences too short for a larger-blur set)"]
    rb = jin_test_sets(JinTrainConfig(data=DataConfig(size=12, data_root=str(rb2v_root(tmp_path / "rb")))), 4, "cpu")
    assert list(rb) == ["test split (captured blur: no larger-blur set)"] and len(rb[next(iter(rb))]) == 2
    # Jin's claims read off a Table 2 with that one test set: the larger-blur claim is not measured
    table2 = scene_table({"nah": ("Nah-style multi-scale", np.array([[20.0], [20.2]])),
                          "middle": ("Middle (Jin)", np.array([[21.0], [21.2]]))}, columns=[next(iter(rb))], mean=False)
    ablation = scene_table({r: (r, np.ones((2, 7))) for r in [*BASELINES, *JIN_VARIANTS]})
    feed = scene_table({r: (r, np.ones((2, 7))) for r in ["estimated", "ground_truth"]})
    runtime = pd.DataFrame({"320P_s": [1.0, 0.1, 0.3]}, index=["Nah", "Middle", "Full"])
    claims = jin_claims(table2, ablation, feed, runtime)
    assert claims.loc["jin.tab2.middle_beats_nah", "value"] == pytest.approx(1.0)
    assert claims.loc["jin.tab2.middle_beats_nah", "holds"]
    larger = claims.loc["jin.tab2.nah_better_on_large_blur"]
    assert np.isnan(larger["value"]) and not larger["holds"]


@pytest.mark.slow
def test_notebook_02_with_data_root(tmp_path):
    """papermill runs notebook 02 at the smoke profile on a miniature frame folder: its outputs go to
    the run's own folder under results/smoke/outputs/, its checkpoints beside them, and it reads the
    folder it is given."""
    papermill = Path(sys.executable).parent / "papermill"
    if not papermill.exists():
        pytest.skip("papermill is not installed in this environment")
    data = plain(tmp_path / "frames", names="abcde", n=21, size=(24, 24))
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "02.ipynb"
    results = tmp_path / "results"
    env = dict(os.environ, MPLBACKEND="Agg", BLUR2VID_RESULTS=str(results))
    env.pop("BLUR2VID_FIGURES")  # where a run with data_root writes is what this test checks
    env.pop("BLUR2VID_REFERENCE_RUN", None)
    if (Path(sys.prefix) / "share" / "jupyter" / "kernels").is_dir():  # this environment's kernel, as make test
        env["JUPYTER_DATA_DIR"] = str(Path(sys.prefix) / "share" / "jupyter")
    proc = subprocess.run([str(papermill), str(root / "notebooks" / "02_order_ambiguity.ipynb"), str(out),
                           "-p", "profile", "smoke", "-p", "device", "cpu", "-p", "data_root", str(data),
                           "--cwd", str(tmp_path), "-k", "python3"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "train sequences" in text and str(data.resolve()) in text  # the dataset table and the folder
    outputs = results / "smoke" / "outputs"
    (run_dir,) = outputs.iterdir()
    assert run_dir.name == run_name(0, data) and run_dir.name.startswith("seed-0-frames-")
    saved = {p.name for p in run_dir.iterdir()}
    assert {"manifest.json", "hypercut_eq2_naive_psnr.csv", "ambiguity_claims.csv"} <= saved
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["outputs"]["ambiguity_claims.csv"]["profile"] == "smoke"
    (ckpt,) = (results / "smoke" / "checkpoints").glob("*.pt")
    assert load_checkpoint(ckpt)["config"]["data"]["data_root"] == str(data.resolve())


def test_rendered_batches_are_kept_for_the_next_run_bit_for_bit(monkeypatch):
    """Schemes that train on the same stream render each batch once per process: a second request
    returns the very values rendering gives, as copies (changing one does not change the next), and
    a full budget stops keeping new batches without evicting old ones."""
    from blur2vid.data.source import BATCH_CACHE, BATCH_CACHE_ENV

    BATCH_CACHE.clear()
    scenes = SceneConfig(height=16, width=16, n_frames=5, max_shift=4.0)
    source = open_source(None, scenes)
    first = source.batch(3, 11)
    first.frames.zero_()  # a caller that writes into its batch
    again = source.batch(3, 11)
    fresh = render_scenes(scenes, 3, 11)
    assert torch.equal(again.frames, fresh.frames) and torch.equal(again.blur, fresh.blur)
    assert BATCH_CACHE.hits == 1 and len(BATCH_CACHE.entries) == 1
    monkeypatch.setenv(BATCH_CACHE_ENV, "0")
    source.batch(3, 12)
    assert len(BATCH_CACHE.entries) == 1 and torch.equal(source.batch(3, 11).frames, fresh.frames)
    BATCH_CACHE.clear()
