"""Contracts of blur2vid.data.source: a dataset folder in place of the procedural scenes (data_root)."""

import json
import shutil

import pytest
import torch

from blur2vid.data.folders import DatasetError
from blur2vid.data.sample import Batch
from blur2vid.data.scenes import SceneConfig, render_scenes, scene_set
from blur2vid.data.source import FolderSource, SceneSource, detect_kind, open_source
from blur2vid.formation import synthesize_blur
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
