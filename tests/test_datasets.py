"""Contracts of the datasets on disk (blur2vid.data.windows, frame_folders, video, rb2v), on miniature
datasets built in tmp_path."""

import gc
import json
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from blur2vid.core.formation import synthesize_blur
from blur2vid.data.frame_folders import FrameFolderDataset, frame_number
from blur2vid.data.rb2v import RB2VDataset
from blur2vid.data.sample import Batch
from blur2vid.data.video import VideoDataset, VideoInfo, probe_video, read_video
from blur2vid.data.windows import (
    DatasetError,
    MissingFileError,
    Sample,
    Window,
    collate,
    dataset_table,
    natural_key,
)
from minidata import arrays as _arrays
from minidata import pixels as _pixels
from minidata import rb2v as _rb2v
from minidata import smooth_frames as _smooth_frames
from minidata import write_seq as _write_seq
from minidata import write_video as _write_video


def _check_sample(sample: Sample, crf="gamma2.2"):
    """Frames are the files' pixels and the blur is synthesize_blur of them."""
    assert isinstance(sample, Sample)
    expected = torch.stack([_pixels(p) for p in sample.meta["paths"]])
    assert torch.equal(sample.frames, expected)
    assert torch.allclose(sample.blur, synthesize_blur(expected, crf), atol=1e-6)


def _windows(ds):
    return [(w.sequence, w.frames) for w in ds.windows]


# --------------------------------------------------------------------------- names and layouts


def test_natural_key_and_frame_number():
    names = ["f10.png", "f2.png", "f1.png", "f11.png"]
    assert sorted(names, key=natural_key) == ["f1.png", "f2.png", "f10.png", "f11.png"]
    assert frame_number("cam2_000047.png") == 47 and frame_number("00000000.png") == 0
    with pytest.raises(DatasetError, match="no number"):
        frame_number("frame.png")


def test_plain_layout_windows_and_pixels(tmp_path):
    _write_seq(tmp_path / "a", range(1, 11))
    _write_seq(tmp_path / "b", range(1, 9))
    _write_seq(tmp_path / "c", range(1, 8))
    ds = FrameFolderDataset(tmp_path, n_frames=3, split="all")
    assert ds.layout == "plain" and len(ds) == 3 + 2 + 2
    assert _windows(ds)[:4] == [("a", (1, 2, 3)), ("a", (4, 5, 6)), ("a", (7, 8, 9)), ("b", (1, 2, 3))]
    for i in range(len(ds)):
        _check_sample(ds[i])
    s = ds[-1]
    assert s.frames.shape == (3, 3, 16, 16) and s.blur.shape == (3, 16, 16)
    assert s.meta["sequence"] == "c" and s.meta["frame_numbers"] == (4, 5, 6) and s.meta["blur"] == "synthesized"
    assert len(FrameFolderDataset(tmp_path, n_frames=3, stride=1, split="all")) == 8 + 6 + 5
    linear = FrameFolderDataset(tmp_path, n_frames=3, split="all", crf="linear")[0]
    assert torch.allclose(linear.blur, linear.frames.mean(0), atol=1e-6)
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_natural_order_of_unpadded_names(tmp_path):
    _write_seq(tmp_path / "s", range(1, 13), pattern="img{}.png")
    ds = FrameFolderDataset(tmp_path, n_frames=4, split="all")
    assert [w for _, w in _windows(ds)] == [(1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12)]
    assert [p.rsplit("/", 1)[-1] for p in ds[2].meta["paths"]] == ["img9.png", "img10.png", "img11.png", "img12.png"]
    _check_sample(ds[2])


def test_single_folder_layout(tmp_path):
    root = tmp_path / "myclip"
    _write_seq(root, range(0, 14), pattern="{:05d}.png")
    ds = FrameFolderDataset(root, n_frames=7, split="all")
    assert ds.layout == "single" and ds.sequences == ["myclip"] and len(ds) == 2
    assert ds[1].meta["frame_numbers"] == tuple(range(7, 14))
    assert len(FrameFolderDataset(root, n_frames=7)) == 2  # one sequence: train keeps it


def test_gopro_layout(tmp_path):
    _write_seq(tmp_path / "train" / "GOPR0372_07_00" / "sharp", range(47, 61))
    _write_seq(tmp_path / "train" / "GOPR0372_07_00" / "blur", range(47, 61))
    _write_seq(tmp_path / "train" / "GOPR0374_11_00" / "sharp", range(1, 8))
    _write_seq(tmp_path / "test" / "GOPR0384_11_00" / "sharp", range(1, 8))
    train = FrameFolderDataset(tmp_path, n_frames=7, split="train")
    test = FrameFolderDataset(tmp_path, n_frames=7, split="test")
    assert train.layout == "gopro"
    assert train.sequences == ["train/GOPR0372_07_00", "train/GOPR0374_11_00"] and len(train) == 3
    assert test.sequences == ["test/GOPR0384_11_00"] and len(test) == 1
    assert all("/sharp/" in p for i in range(len(train)) for p in train[i].meta["paths"])
    _check_sample(train[1])
    assert len(FrameFolderDataset(tmp_path, n_frames=7, split="all")) == 4
    with pytest.raises(DatasetError, match="fixes the split"):
        FrameFolderDataset(tmp_path, n_frames=7, test_sequences=["x"])


def test_reds_layout(tmp_path):
    _write_seq(tmp_path / "train_sharp" / "000", range(0, 10), pattern="{:08d}.png")
    _write_seq(tmp_path / "train_sharp" / "001", range(0, 10), pattern="{:08d}.png")
    _write_seq(tmp_path / "val" / "val_sharp" / "000", range(0, 10), pattern="{:08d}.png")
    train = FrameFolderDataset(tmp_path, n_frames=5, split="train")
    test = FrameFolderDataset(tmp_path, n_frames=5, split="test")
    assert train.layout == "reds" and train.sequences == ["train_sharp/000", "train_sharp/001"]
    assert test.sequences == ["val_sharp/000"] and len(test) == 2
    _check_sample(test[1])


def test_split_by_sequence(tmp_path):
    for name in "abcde":
        _write_seq(tmp_path / name, range(1, 7))
    kw = dict(n_frames=3, stride=1)
    train, test = FrameFolderDataset(tmp_path, split="train", **kw), FrameFolderDataset(tmp_path, split="test", **kw)
    assert len(test.sequences) == 1 and len(train.sequences) == 4  # round(0.2 * 5)
    assert set(train.sequences).isdisjoint(test.sequences)
    assert sorted(train.sequences + test.sequences) == list("abcde")
    assert len(train) + len(test) == len(FrameFolderDataset(tmp_path, split="all", **kw)) == 5 * 4
    assert {train[i].meta["split"] for i in range(len(train))} == {"train"}
    again = FrameFolderDataset(tmp_path, split="test", **kw)
    assert again.sequences == test.sequences  # deterministic in the seed
    many = {tuple(FrameFolderDataset(tmp_path, split="test", seed=s, split_fraction=0.4, **kw).sequences) for s in range(8)}
    assert len(many) > 1 and all(len(m) == 2 for m in many)
    explicit = FrameFolderDataset(tmp_path, split="test", test_sequences=["b", "e"], **kw)
    assert explicit.sequences == ["b", "e"]
    assert FrameFolderDataset(tmp_path, split="train", test_sequences=["b", "e"], **kw).sequences == ["a", "c", "d"]
    with pytest.raises(DatasetError, match="unknown sequences"):
        FrameFolderDataset(tmp_path, test_sequences=["zzz"], **kw)


def test_downsample(tmp_path):
    _write_seq(tmp_path / "s", range(1, 8), size=(20, 24))
    full = FrameFolderDataset(tmp_path, n_frames=7, split="all")[0].frames
    half = FrameFolderDataset(tmp_path, n_frames=7, split="all", downsample=0.5)[0]
    assert half.frames.shape == (7, 3, 10, 12)
    ref = F.interpolate(full, size=(10, 12), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    assert torch.allclose(half.frames, ref, atol=1e-6)
    assert torch.allclose(half.blur, synthesize_blur(half.frames), atol=1e-6)
    assert half.meta["size"] == (20, 24) and half.meta["downsample"] == 0.5 and "crop" not in half.meta
    for bad in (dict(downsample=0), dict(downsample=1.5), dict(n_frames=0), dict(stride=0), dict(seed=1.5)):
        with pytest.raises(ValueError):
            FrameFolderDataset(tmp_path, split="all", **bad)


def test_collate_and_table(tmp_path):
    for name in "abcd":
        _write_seq(tmp_path / name, range(1, 11))
    ds = FrameFolderDataset(tmp_path, n_frames=5, split="all")
    batch = collate([ds[0], ds[3]])
    assert isinstance(batch, Batch) and batch.frames.shape == (2, 5, 3, 16, 16) and batch.blur.shape == (2, 3, 16, 16)
    assert batch.meta["source"] == "frames" and batch.meta["sequence"] == ["a", "b"]
    assert ds[2].as_batch().frames.shape == (1, 5, 3, 16, 16)
    (tmp_path / "e").mkdir()
    _write_seq(tmp_path / "e", range(1, 6), size=(8, 8))
    mixed = FrameFolderDataset(tmp_path, n_frames=5, split="all")
    with pytest.raises(DatasetError, match="different shapes"):
        collate([mixed[0], mixed[-1]])
    table = dataset_table({"mine": ds})
    assert list(table.columns[:4]) == ["train sequences", "train samples", "test sequences", "test samples"]
    row = table.loc["mine"]
    assert (row["train sequences"], row["test sequences"], row["total samples"]) == (3, 1, 8)
    assert row["train samples"] + row["test samples"] == 8 and row["blur"] == "synthesized" and row["frames"] == 5
    printed = ds.describe()
    assert printed.equals(table.rename(index={"mine": ds.name}))


# --------------------------------------------------------------------------- video


def test_video_mp4_windows(tmp_path):
    src = _smooth_frames(20)
    path = _write_video(tmp_path / "clip.mp4", src, quality=10)
    ds = VideoDataset(path, n_frames=7, split="all")
    assert ds.layout == "single" and len(ds) == 2 and ds.sequences == ["clip"]
    with warnings.catch_warnings():  # imageio's FFMPEG reader leaves its pipes to the garbage collector
        warnings.simplefilter("ignore", ResourceWarning)
        decoded = iio.imread(path, plugin="FFMPEG")  # imageio's own decode of the same file
        gc.collect()
    assert decoded.shape[0] == 20
    for i, start in enumerate((0, 7)):
        s = ds[i]
        ref = torch.from_numpy(decoded[start : start + 7]).permute(0, 3, 1, 2).float() / 255
        assert s.meta["frame_indices"] == tuple(range(start, start + 7))
        assert torch.equal(s.frames, ref)
        assert torch.allclose(s.blur, synthesize_blur(ref), atol=1e-6)
    assert (ds[0].frames - torch.from_numpy(np.stack(src[:7])).permute(0, 3, 1, 2) / 255).abs().mean() < 0.05
    assert len(VideoDataset(path, n_frames=7, stride=1, split="all")) == 14


def test_video_lossless_folder_split(tmp_path):
    clips = {}
    for name in ("a", "b", "c"):
        clips[name] = _arrays(9)
        _write_video(tmp_path / "vids" / f"{name}.avi", clips[name], codec="png")
    (tmp_path / "vids" / "notes.txt").write_text("not a video")
    all_ = VideoDataset(tmp_path / "vids", n_frames=3, split="all")
    assert all_.layout == "folder" and len(all_) == 9
    for i in range(len(all_)):
        s = all_[i]
        k = s.meta["frame_indices"][0]
        ref = torch.from_numpy(np.stack(clips[s.meta["sequence"]][k : k + 3])).permute(0, 3, 1, 2).float() / 255
        assert torch.equal(s.frames, ref)  # lossless codec: the exact pixels
        assert torch.allclose(s.blur, synthesize_blur(ref), atol=1e-6)
    train = VideoDataset(tmp_path / "vids", n_frames=3, split="train", cache_videos=1)
    test = VideoDataset(tmp_path / "vids", n_frames=3, split="test")
    assert set(train.sequences).isdisjoint(test.sequences) and len(train) + len(test) == 9
    table = dataset_table({"vids": train})
    assert (table.loc["vids", "train samples"], table.loc["vids", "test samples"]) == (len(train), len(test))
    batch = collate([train[i] for i in range(4)])
    assert batch.frames.shape == (4, 3, 3, 16, 16) and batch.meta["source"] == "video"


# --------------------------------------------------------------------------- RB2V


def test_rb2v_samples_and_order(tmp_path):
    meta = _rb2v(tmp_path, [("00000/0000", "ignore", "train"), ("00000/0001", "reverse", "train"),
                            ("00001/0000", "random", "test"), ("00002/0000", "keep", "val")])
    train = RB2VDataset(tmp_path, split="train")
    assert len(train) == 2 and train.n_frames == 7 and train.sequences == ["00000"] and train.dataset_name == "Street"
    for i, sample in enumerate((train[0], train[1])):
        entry = meta["data"][i]
        listed = torch.stack([_pixels(tmp_path / entry[f"frame{t:03d}_path"]) for t in range(1, 8)])
        assert torch.equal(sample.blur, _pixels(tmp_path / entry["blur_path"]))  # the captured blur, as stored
        assert torch.equal(sample.frames, listed.flip(0) if entry["order"] == "reverse" else listed)
        assert sample.meta["reversed"] == (entry["order"] == "reverse") and sample.meta["blur"] == "captured"
    assert len(RB2VDataset(tmp_path, split="val")) == 1 and len(RB2VDataset(tmp_path / "metadata.json", split="all")) == 4
    table = dataset_table({"street": train})
    assert table.loc["street", ["train samples", "val samples", "test samples", "total sequences"]].tolist() == [2, 1, 1, 3]
    half = RB2VDataset(tmp_path, split="train", downsample=0.5)[1]
    assert half.blur.shape == (3, 8, 8) and half.frames.shape == (7, 3, 8, 8) and half.meta["size"] == (16, 16)


def test_rb2v_random_order_is_seeded(tmp_path):
    _rb2v(tmp_path, [(f"{s:05d}/0000", "random", "train") for s in range(16)], n=3)
    flips = [r["reversed"] for r in RB2VDataset(tmp_path, seed=0).records]
    assert flips == [r["reversed"] for r in RB2VDataset(tmp_path, seed=0).records]
    assert 0 < sum(flips) < 16 and flips != [r["reversed"] for r in RB2VDataset(tmp_path, seed=1).records]
    ds = RB2VDataset(tmp_path, seed=0)
    for i in (0, 1, 2, 3):
        s = ds[i]
        listed = torch.stack([_pixels(p) for p in ds.records[i]["frames"]])
        assert torch.equal(s.frames, listed.flip(0) if flips[i] else listed)


# --------------------------------------------------------------------------- bad input


def test_gap_inside_a_window(tmp_path):
    _write_seq(tmp_path / "s", [1, 2, 3, 4, 5, 7, 8, 9, 10])
    with pytest.raises(MissingFileError, match=r"000006\.png.*sequence 's'") as err:
        FrameFolderDataset(tmp_path, n_frames=3, split="all")
    assert isinstance(err.value, FileNotFoundError) and "4..6" in str(err.value)
    ds = FrameFolderDataset(tmp_path, n_frames=3, split="all", on_gap="skip")
    assert [w for _, w in _windows(ds)] == [(1, 2, 3), (7, 8, 9)]
    outside = tmp_path / "outside"
    _write_seq(outside / "s", [1, 2, 3, 4, 5, 6, 8])  # 7 is missing but no window reaches it
    assert len(FrameFolderDataset(outside, n_frames=3, split="all")) == 2


def test_frames_of_different_sizes(tmp_path):
    paths = _write_seq(tmp_path / "s", range(1, 8))
    Image.fromarray(_arrays(1, 16, 20)[0]).save(paths[4])
    ds = FrameFolderDataset(tmp_path, n_frames=7, split="all")
    with pytest.raises(DatasetError, match=r"000005\.png: image is 16x20"):
        ds[0]
    with pytest.raises(DatasetError, match=r"000005\.png: image is 16x20 but 000001\.png is 16x16; all images of sequence 's'"):
        FrameFolderDataset(tmp_path, n_frames=7, split="all", validate=True)


def test_unreadable_and_truncated_images(tmp_path):
    paths = _write_seq(tmp_path / "s", range(1, 7))
    paths[1].write_bytes(b"not a png at all")
    data = paths[4].read_bytes()
    paths[4].write_bytes(data[: len(data) // 2])
    ds = FrameFolderDataset(tmp_path, n_frames=3, split="all")
    with pytest.raises(DatasetError, match=r"000002\.png: cannot read as an image.*sequence 's'"):
        ds[0]
    with pytest.raises(DatasetError, match=r"000005\.png: cannot read as an image"):
        ds[1]
    paths[0].unlink()  # deleted after indexing
    with pytest.raises(MissingFileError, match=r"000001\.png"):
        ds[0]


def test_truncated_and_unreadable_video(tmp_path):
    good = _write_video(tmp_path / "v" / "good.mp4", _smooth_frames(10))
    data = good.read_bytes()
    (tmp_path / "v" / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(DatasetError, match=r"cut\.mp4: cannot decode as a video"):
        VideoDataset(tmp_path / "v", n_frames=3, split="all")
    lossless = _write_video(tmp_path / "w" / "clip.avi", _arrays(12), codec="png")
    data = lossless.read_bytes()
    lossless.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(DatasetError, match=r"clip\.avi: cannot decode as a video \(truncated"):
        VideoDataset(lossless, n_frames=3, split="all")
    assert len(VideoDataset(lossless, n_frames=3, split="all", strict=False)) >= 1  # what decodes, when asked
    (tmp_path / "junk.mkv").write_bytes(b"\x00" * 64)
    with pytest.raises(DatasetError, match=r"junk\.mkv"):
        VideoDataset(tmp_path / "junk.mkv", split="all")
    with pytest.raises(MissingFileError):
        VideoDataset(tmp_path / "nothing.mp4")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"x\.txt: not a video file"):
        VideoDataset(tmp_path / "x.txt", split="all")


def test_window_longer_than_sequence(tmp_path):
    _write_seq(tmp_path / "long", range(1, 10))
    _write_seq(tmp_path / "short", range(1, 5))
    with pytest.raises(DatasetError, match=r"window of 7 frames is longer than sequence 'short' \(4 frames\)"):
        FrameFolderDataset(tmp_path, n_frames=7, split="all")
    assert FrameFolderDataset(tmp_path, n_frames=7, split="all", skip_short=True).sequences == ["long"]
    video = _write_video(tmp_path / "clip.avi", _arrays(5), codec="png")
    with pytest.raises(DatasetError, match=r"clip\.avi: a window of 7 frames is longer than sequence 'clip' \(5 frames\)"):
        VideoDataset(video, n_frames=7, split="all")


def test_empty_folders_and_unknown_splits(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty folder"):
        FrameFolderDataset(tmp_path / "empty")
    with pytest.raises(DatasetError, match="empty folder: no video files"):
        VideoDataset(tmp_path / "empty")
    _write_seq(tmp_path / "root" / "a", range(1, 8))
    (tmp_path / "root" / "b").mkdir()
    with pytest.raises(DatasetError, match=r"b: empty sequence folder"):
        FrameFolderDataset(tmp_path / "root")
    with pytest.raises(MissingFileError, match="no such folder"):
        FrameFolderDataset(tmp_path / "missing")
    _write_seq(tmp_path / "one", range(1, 8))
    with pytest.raises(DatasetError, match="split 'test' has no sequences"):
        FrameFolderDataset(tmp_path / "one", split="test")
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        FrameFolderDataset(tmp_path / "one", split="validation")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        VideoDataset(tmp_path / "one", split="val")
    _rb2v(tmp_path / "rb", [("00000/0000", "ignore", "train")], n=2)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        RB2VDataset(tmp_path / "rb", split="dev")
    with pytest.raises(DatasetError, match="split 'test' has no samples"):
        RB2VDataset(tmp_path / "rb", split="test")


def test_duplicate_frame_numbers(tmp_path):
    _write_seq(tmp_path / "s", range(1, 4), pattern="a{}.png")
    _write_seq(tmp_path / "s", [2], pattern="b{}.png")
    with pytest.raises(DatasetError, match=r"b2\.png: frame number 2 is also the number of a2\.png"):
        FrameFolderDataset(tmp_path, n_frames=3, split="all")


def test_malformed_metadata(tmp_path):
    meta = _rb2v(tmp_path, [("00000/0000", "ignore", "train"), ("00000/0001", "reverse", "test")], n=3)
    path = tmp_path / "metadata.json"

    def broken(edit):
        m = json.loads(json.dumps(meta))
        edit(m)
        path.write_text(json.dumps(m))

    path.write_text("{not json")
    with pytest.raises(DatasetError, match=r"metadata\.json: not valid JSON"):
        RB2VDataset(tmp_path)
    for key in ("name", "frame_per_seq", "data"):
        broken(lambda m, key=key: m.pop(key))
        with pytest.raises(DatasetError, match=f"missing key '{key}'"):
            RB2VDataset(tmp_path)
    broken(lambda m: m["data"][1].pop("frame002_path"))
    with pytest.raises(DatasetError, match=r"sample '00000/0001' is missing key 'frame002_path'"):
        RB2VDataset(tmp_path)
    broken(lambda m: m["data"][0].pop("blur_path"))
    with pytest.raises(DatasetError, match=r"sample '00000/0000' is missing key 'blur_path'"):
        RB2VDataset(tmp_path)
    broken(lambda m: m["data"][1].pop("id"))
    with pytest.raises(DatasetError, match=r"sample 1 of 'data' is missing key 'id'"):
        RB2VDataset(tmp_path)
    broken(lambda m: m["data"][1].update(order=True))
    with pytest.raises(DatasetError, match=r"sample '00000/0001' has order True"):
        RB2VDataset(tmp_path)
    broken(lambda m: m["data"][0].update(partition="dev"))
    with pytest.raises(DatasetError, match=r"sample '00000/0000' has partition 'dev'"):
        RB2VDataset(tmp_path)
    broken(lambda m: m.update(frame_per_seq=4))
    with pytest.raises(DatasetError, match=r"missing key 'frame004_path'"):
        RB2VDataset(tmp_path)
    broken(lambda m: m["data"].append(dict(m["data"][0])))
    with pytest.raises(DatasetError, match="appears twice"):
        RB2VDataset(tmp_path)
    broken(lambda m: m["data"][0].update(frame002_path="00000/sharp/gone.png"))
    ds = RB2VDataset(tmp_path)
    with pytest.raises(MissingFileError, match=r"gone\.png: no such image file.*'00000/0000'"):
        ds[0]
    with pytest.raises(MissingFileError, match=r"gone\.png"):
        RB2VDataset(tmp_path, validate=True)
    path.unlink()
    with pytest.raises(MissingFileError, match=r"metadata\.json: no such file"):
        RB2VDataset(tmp_path)


def test_rb2v_images_of_different_sizes(tmp_path):
    meta = _rb2v(tmp_path, [("00000/0000", "ignore", "train")], n=3)
    Image.fromarray(_arrays(1, 12, 16)[0]).save(tmp_path / meta["data"][0]["frame003_path"])
    with pytest.raises(DatasetError, match=r"0000_3\.png: image is 12x16"):
        RB2VDataset(tmp_path)[0]


def test_frame_step_takes_every_kth_frame(tmp_path):
    _write_seq(tmp_path / "s", range(1, 15))
    ds = FrameFolderDataset(tmp_path, n_frames=3, split="all", frame_step=2)
    assert [w for _, w in _windows(ds)] == [(1, 3, 5), (6, 8, 10)]  # default stride: the span (n-1)k+1 = 5
    assert ds[1].meta["frame_step"] == 2
    _check_sample(ds[1])  # the blur is synthesize_blur of the three frames taken
    assert [w for _, w in _windows(FrameFolderDataset(tmp_path, n_frames=3, split="all", frame_step=2, stride=4))] == [
        (1, 3, 5), (5, 7, 9), (9, 11, 13)]
    assert len(FrameFolderDataset(tmp_path, n_frames=3, split="all", frame_step=5, stride=1)) == 4  # span 11 of 14
    with pytest.raises(DatasetError, match=r"frame_step 7: a span of 15\) is longer"):
        FrameFolderDataset(tmp_path, n_frames=3, split="all", frame_step=7)
    with pytest.raises(ValueError, match="frame_step"):
        FrameFolderDataset(tmp_path, n_frames=3, split="all", frame_step=0)
    clip = _arrays(9)
    video = VideoDataset(_write_video(tmp_path / "v" / "a.avi", clip, codec="png"), n_frames=3, split="all", frame_step=3)
    assert len(video) == 1 and video[0].meta["frame_indices"] == (0, 3, 6)
    ref = torch.from_numpy(np.stack(clip[0:9:3])).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(video[0].frames, ref) and torch.allclose(video[0].blur, synthesize_blur(ref), atol=1e-6)


# --------------------------------------------------------------------------- the window index


def test_window_index_and_frame_size(tmp_path):
    _write_seq(tmp_path / "frames" / "a", range(1, 8), size=(16, 20))
    _write_seq(tmp_path / "frames" / "b", range(3, 10), size=(12, 18))
    ds = FrameFolderDataset(tmp_path / "frames", n_frames=7, split="all")
    assert ds.windows == [Window("a", ds.windows[0].split, tuple(range(1, 8)), tmp_path / "frames" / "a"),
                          Window("b", ds.windows[1].split, tuple(range(3, 10)), tmp_path / "frames" / "b")]
    assert {w.split for w in ds.windows} == {"train", "test"} and ds.windows[0].id is None
    for i, w in enumerate(ds.windows):  # ds[i] reads ds.windows[i]
        s = ds[i]
        assert (s.meta["sequence"], s.meta["split"], s.meta["frame_numbers"]) == (w.sequence, w.split, w.frames)
        assert ds.frame_size(w) == tuple(s.frames.shape[-2:])
    assert [ds.frame_size(w) for w in ds.windows] == [(16, 20), (12, 18)]

    video = VideoDataset(_write_video(tmp_path / "v.avi", _arrays(9, 12, 20), codec="png"), n_frames=3, split="all")
    assert [w.frames for w in video.windows] == [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    assert video.windows[0].path == tmp_path / "v.avi" and video.frame_size(video.windows[2]) == (12, 20)

    _rb2v(tmp_path / "rb", [("00000/0000", "ignore", "train"), ("00001/0003", "reverse", "test")], n=3, size=(10, 14))
    rb = RB2VDataset(tmp_path / "rb", split="all")
    assert [(w.sequence, w.split, w.frames, w.id) for w in rb.windows] == [
        ("00000", "train", (1, 2, 3), "00000/0000"), ("00001", "test", (1, 2, 3), "00001/0003")]
    assert rb.windows[1].path == tmp_path / "rb" / "00001" / "blur" and rb.frame_size(rb.windows[1]) == (10, 14)
    assert rb[1].meta["id"] == "00001/0003" and rb[1].meta["reversed"]


def test_probe_and_read_video(tmp_path):
    clip = _arrays(11, 12, 20)  # not square: height and width must not swap
    path = _write_video(tmp_path / "clip.avi", clip, codec="png")
    info = probe_video(path)
    assert info == VideoInfo(path, 11, 12, 20, 10.0)
    frames = read_video(path, info)
    assert frames.dtype == np.uint8 and np.array_equal(frames, np.stack(clip))  # lossless: the exact pixels
    assert np.array_equal(read_video(path), frames)  # probed when not given
    with pytest.raises(DatasetError, match=r"clip\.avi: decoded 11 frames of 20x12 where the probe counted 12"):
        read_video(path, VideoInfo(path, 12, 12, 20, 10.0))
    with pytest.raises(DatasetError, match=r"clip\.avi: decoded more than 10 frames"):
        read_video(path, VideoInfo(path, 10, 12, 20, 10.0))
    with pytest.raises(DatasetError, match=r"clip\.avi: decoded 0 frames of 20x12 where the probe counted 11 of 24x12"):
        read_video(path, VideoInfo(path, 11, 12, 24, 10.0))
    with pytest.raises(MissingFileError, match=r"gone\.mp4: no such video file"):
        probe_video(Path(tmp_path / "gone.mp4"))


def test_validate_rb2v_sizes(tmp_path):
    meta = _rb2v(tmp_path, [("00000/0000", "ignore", "train")], n=3)
    Image.fromarray(_arrays(1, 12, 16)[0]).save(tmp_path / meta["data"][0]["frame002_path"])
    with pytest.raises(DatasetError, match=r"0000_2\.png: image is 12x16 but 0000\.png is 16x16; all images of "
                                           r"RB2V sample '00000/0000' must have one size"):
        RB2VDataset(tmp_path, validate=True)
