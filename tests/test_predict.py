import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from blur2vid.app.predict import write_frames
from blur2vid.cli import main
from blur2vid.models.checkpoint import default_model_path, load_model, save_model
from blur2vid.models.inference import predict_frames
from blur2vid.models.jin import JinCascade, JinConfig
from blur2vid.models.unet import SequenceUNet
from blur2vid.training.loop import save_checkpoint


class Local(nn.Module):
    """A per-pixel model: tiling must reproduce its untiled output exactly."""

    def forward(self, y):
        return torch.stack([y * (t + 1) / 7 for t in range(7)], 1)


def test_tiles_stitch_back_exactly(device):
    image = torch.rand(3, 70, 45)
    whole = predict_frames(Local(), image, device=device, tile=512, progress=False)
    tiled = predict_frames(Local(), image, device=device, tile=40, overlap=8, progress=False)
    assert tiled.shape == (7, 3, 70, 45) and torch.equal(whole, tiled)
    assert tiled.device.type == "cpu"  # the frames come back to the host, whatever ran them


@pytest.mark.gpu
def test_tiled_prediction_waits_for_the_gpu_no_more_often_with_more_tiles():
    """No tile reads anything back from the GPU: six tiles synchronise as often as one."""
    import warnings

    image = torch.rand(3, 70, 45, device="cuda")

    def syncs(tile: int) -> int:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                predict_frames(Local(), image, device="cuda", tile=tile, overlap=8, progress=False)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in seen)

    predict_frames(Local(), image, device="cuda", tile=40, overlap=8, progress=False)  # warm-up
    assert syncs(40) == syncs(512)


@pytest.mark.parametrize("size", [17, 100, 512, 513, 720, 1280, 1281, 1920, 4000])
@pytest.mark.parametrize("tile,overlap", [(512, 32), (1280, 32), (40, 8)])
def test_tiles_cover_the_side_with_as_few_as_fit_and_little_twice(size, tile, overlap):
    from blur2vid.models.inference import _tiles

    starts, length = _tiles(size, tile, overlap)
    assert length <= tile and starts[0] == 0 and starts[-1] + length == size
    kept = torch.zeros(size, dtype=torch.int)  # what predict_frames keeps of each tile
    for s in starts:
        kept[s + (0 if s == 0 else overlap): s + length - (0 if s + length >= size else overlap)] += 1
    assert (kept >= 1).all()  # every pixel kept from some tile (a later tile may write one again)
    fewest = 1 if size <= tile else -(-(size - 2 * overlap) // (tile - 2 * overlap))
    assert len(starts) == fewest
    assert len(starts) * length <= size + 2 * overlap * len(starts) + len(starts)  # computed twice: the overlaps only


def test_a_held_model_is_held_once_to_the_whole_photograph_and_its_tiles_agree(device):
    """predict holds a MatchBlur model's frames after its tiles are joined: the frames re-blur to
    the whole photograph, equal the tiles held one by one (a per-pixel network), and the caller's
    tensors are not written into."""
    from blur2vid.core.formation import match_blur, synthesize_blur
    from blur2vid.models.match_blur import with_match_blur

    image = torch.rand(3, 70, 45, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.1  # no clipping
    before = image.clone()
    held = with_match_blur(Local(), True)
    tiled = predict_frames(held, image, device=device, tile=40, overlap=8, progress=False)
    assert torch.equal(image, before)
    torch.testing.assert_close(synthesize_blur(tiled, "srgb"), image, atol=1e-5, rtol=0)
    torch.testing.assert_close(tiled, held(image[None])[0], atol=1e-6, rtol=0)
    frames = Local()(image[None])
    copy = frames.clone()
    with torch.no_grad():
        match_blur(frames, image[None])
    assert torch.equal(frames, copy)


def test_cascade_on_an_odd_sized_image_keeps_its_size():
    frames = predict_frames(JinCascade(JinConfig.smoke()), torch.rand(3, 23, 31), progress=False)
    assert frames.shape == (7, 3, 23, 31) and frames.min() >= 0 and frames.max() <= 1


def test_model_file_round_trip_and_refusals(tmp_path):
    net = SequenceUNet(n_frames=7, width=4, depth=1)
    save_model(tmp_path / "u.pt", net, {"command": "make reproduce"})
    loaded, notes = load_model(tmp_path / "u.pt")
    y = torch.rand(1, 3, 12, 12)
    assert torch.equal(loaded(y), net.eval()(y)) and notes["command"] == "make reproduce"
    with pytest.raises(ValueError, match="holds a SequenceUNet, but a JinCascade"):
        load_model(tmp_path / "u.pt", expect="JinCascade")
    save_checkpoint(tmp_path / "ckpt.pt", model=net, config={}, step=1)
    with pytest.raises(ValueError, match="ckpt.pt.*training checkpoint"):
        load_model(tmp_path / "ckpt.pt")
    torch.save({"format": "blur2vid-model/1", "x": Local()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt.*arbitrary"):
        load_model(tmp_path / "evil.pt")


def test_a_file_of_the_removed_hold_weight_probe_loads_without_a_head_and_is_refused_with_one(tmp_path):
    """Files written while the learnt hold weight existed store ``hold_weight: 0`` (the shipped model
    among them); one that carried a head names what it is instead of failing on its keys."""
    net = SequenceUNet(n_frames=7, width=4, depth=1)
    save_model(tmp_path / "u.pt", net)
    state = torch.load(tmp_path / "u.pt", weights_only=True)
    torch.save({**state, "config": {**state["config"], "hold_weight": 0}}, tmp_path / "zero.pt")
    y = torch.rand(1, 3, 12, 12)
    assert torch.equal(load_model(tmp_path / "zero.pt")[0](y), net.eval()(y))
    torch.save({**state, "config": {**state["config"], "hold_weight": 12}}, tmp_path / "head.pt")
    with pytest.raises(ValueError, match="hold-weight head, a probe that did not ship"):
        load_model(tmp_path / "head.pt")
    shipped = torch.load(default_model_path(), weights_only=True)
    assert shipped["config"].get("hold_weight") == 0 and load_model(default_model_path())[0].config.width == 32


def test_writers(tmp_path):
    frames = torch.rand(7, 3, 15, 21)
    with Image.open(write_frames(frames, tmp_path / "c.gif")) as gif:
        assert gif.n_frames == 12
    import imageio.v3 as iio

    mp4 = iio.imread(write_frames(frames, tmp_path / "c.mp4"), plugin="FFMPEG")
    assert mp4.shape[0] == 12 and mp4.shape[1:3] == (16, 22)  # padded to even sides
    folder = write_frames(frames, tmp_path / "frames", blur=frames[3])
    assert sorted(p.name for p in folder.iterdir())[:2] == ["blur.png", "frame001.png"]
    with pytest.raises(ValueError, match="'.avi'"):
        write_frames(frames, tmp_path / "c.avi")


def test_cli_predict_on_rgba_and_grayscale_photos(tmp_path, capsys):
    save_model(tmp_path / "m.pt", JinCascade(JinConfig.smoke()))
    rgba = np.zeros((19, 27, 4), np.uint8)
    rgba[..., 3] = 200
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(np.full((19, 27), 90, np.uint8), "L").save(tmp_path / "g.png")
    for name in ("a.png", "g.png"):
        assert main(["predict", str(tmp_path / name), "--checkpoint", str(tmp_path / "m.pt"),
                     "--out", str(tmp_path / f"{name}.gif"), "--device", "cpu", "--quiet"]) == 0
        assert (tmp_path / f"{name}.gif").is_file()
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    assert main(["predict", str(tmp_path / "bad.jpg"), "--checkpoint", str(tmp_path / "m.pt"),
                 "--out", str(tmp_path / "x.gif")]) == 2
    assert "bad.jpg" in capsys.readouterr().err


class Flippy(nn.Module):
    """Per-pixel frames whose direction depends on the input's mean, like a network choosing the
    direction of time per tile."""

    def forward(self, y):
        frames = torch.stack([y * (t + 1) / 7 for t in range(7)], 1)
        return frames.flip(1) if y.mean() > 0.5 else frames


def test_tiles_are_played_in_one_direction(device):
    image = torch.cat([torch.full((3, 40, 30), 0.2), torch.full((3, 40, 30), 0.9)], dim=-1)  # left dark, right bright
    tiled = predict_frames(Flippy(), image, device=device, tile=40, overlap=8, progress=False)
    first = tiled[0]
    # frame 1 is the dimmest everywhere: one direction across the whole image
    assert (first <= tiled[-1]).all()


def test_the_shipped_default_model_predicts_without_a_checkpoint(tmp_path):
    from blur2vid.app.predict import default_model_path, load_predictor

    assert default_model_path().is_file(), "the package must ship assets/default_model.pt"
    model, notes = load_predictor(None)
    assert notes["arch"] in ("JinCascade", "SequenceUNet") and "retrain" in notes
    Image.fromarray(np.full((30, 41, 3), 120, np.uint8)).save(tmp_path / "photo.jpg")
    assert main(["predict", str(tmp_path / "photo.jpg"), "--out", str(tmp_path / "x"), "--quiet"]) == 0
    assert len(list((tmp_path / "x").glob("frame*.png"))) == 7


def test_extract_photos_scores_each_photograph():
    from blur2vid.core.metrics import capped, ppsnr_sequence
    from blur2vid.data.sample import Batch
    from blur2vid.experiments.your_own_image import extract_photos

    frames = torch.rand(2, 7, 3, 20, 26)
    pred, table = extract_photos(Local(), Batch(frames.mean(1), frames))
    assert list(table.index) == ["#0", "#1"] and list(table.columns)[-3:] == ["mean", "blur_copy", "over_blur_copy"]
    copy = capped(ppsnr_sequence(frames.mean(1, keepdim=True).expand_as(frames), frames)).mean(1)
    assert table["blur_copy"].tolist() == pytest.approx(copy.tolist())  # the baseline beside every photograph
    assert (table["over_blur_copy"] - (table["mean"] - table["blur_copy"])).abs().max() < 1e-9
    for i in range(2):  # each photograph predicted on its own, as `blur2vid predict` does, and scored
        assert torch.equal(pred[i], predict_frames(Local(), frames.mean(1)[i], progress=False, scale="auto"))
        scores = capped(ppsnr_sequence(pred[i:i + 1], frames[i:i + 1]))[0]
        assert table.loc[f"#{i}", [f"F{k}" for k in range(1, 8)]].tolist() == pytest.approx(scores.tolist())
        assert table.loc[f"#{i}", "mean"] == pytest.approx(scores.mean().item())
    swapped, swapped_table = extract_photos(Local(), Batch(frames.mean(1).flip(0), frames.flip(0)))
    assert torch.equal(swapped, pred.flip(0))
    assert swapped_table.loc["#0"].tolist() == pytest.approx(table.loc["#1"].tolist())


class Counting(nn.Module):
    """A per-pixel model that counts its calls: an output refused early must never reach it."""

    calls = 0

    def forward(self, y):
        Counting.calls += 1
        return torch.stack([y] * 7, 1)


def _photo(path, value=120, size=(19, 27)):
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)
    return path


def test_a_bad_output_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    import blur2vid.app.predict as predict

    Counting.calls = 0
    monkeypatch.setattr(predict, "load_predictor", lambda checkpoint=None: (Counting(), {}))
    photo = _photo(tmp_path / "p.png")
    (tmp_path / "file").write_text("x")
    for out, message in [("x.webp", "unknown output type '.webp'"), ("file/clip.gif", "is a file, not a folder")]:
        assert main(["predict", str(photo), "--out", str(tmp_path / out), "--quiet"]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "d.gif").mkdir()
    with pytest.raises(ValueError, match="is a folder; name a .gif file"):
        predict.predict_file(photo, tmp_path / "d.gif")
    assert Counting.calls == 0


def test_a_folder_of_photographs_gets_one_output_each(tmp_path, capsys):
    save_model(tmp_path / "m.pt", SequenceUNet(n_frames=7, width=4, depth=1))
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("b.png", "a.jpg", "a.png"):
        _photo(photos / name)
    (photos / "notes.txt").write_text("not a photo")
    (photos / ".hidden.png").write_bytes(b"")
    args = ["predict", str(photos), "--checkpoint", str(tmp_path / "m.pt"), "--device", "cpu", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_jpg.gif", "a_png.gif", "b.gif"]
    assert main([*args, "--out", str(tmp_path / "frames"), "--format", "png"]) == 0
    assert len(list((tmp_path / "frames" / "b").glob("frame*.png"))) == 7
    assert main([*args, "--out", str(tmp_path / "one.gif")]) == 2
    assert "needs a folder as --out" in capsys.readouterr().err
    (photos / "c.png").write_bytes(b"\x89PNG broken")
    assert main([*args, "--out", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err
    assert "1 of 4 photographs" in err and "c.png" in err
    assert len(list((tmp_path / "out2").glob("*.gif"))) == 3  # the readable ones were written
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "no photographs in this folder" in capsys.readouterr().err


def test_a_broken_model_file_is_named_and_never_loaded_unsafely(tmp_path, capsys):
    photo = _photo(tmp_path / "p.png")
    good = save_model(tmp_path / "m.pt", SequenceUNet(n_frames=7, width=4, depth=1))
    data = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.pt").write_bytes(b"hello, not a model")
    torch.save({"format": "blur2vid-model/1", "x": Local()}, tmp_path / "evil.pt")
    for name, message in [("cut.pt", "damaged"), ("junk.pt", "damaged"), ("evil.pt", "arbitrary Python objects")]:
        assert main(["predict", str(photo), "--checkpoint", str(tmp_path / name), "--out", str(tmp_path / "x.gif"),
                     "--quiet"]) == 2
        err = capsys.readouterr().err
        assert name in err and message in err, err
        assert "weights_only" not in err and "trust" not in err
    assert main(["predict", str(photo), "--checkpoint", str(tmp_path), "--out", str(tmp_path / "x.gif")]) == 2
    assert "not one of Jin et al.'s released weights" in capsys.readouterr().err


def test_bf16_inference_stays_close_to_fp32():
    net = SequenceUNet(n_frames=7, width=8, depth=2).eval()
    image = torch.rand(3, 32, 40, generator=torch.Generator().manual_seed(0))
    fp32 = predict_frames(net, image, progress=False)
    bf16 = predict_frames(net, image, progress=False, precision="bf16")
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    assert (bf16 - fp32).abs().max() < 0.05


def test_device_auto_prefers_cuda_then_mps_for_predict(monkeypatch):
    from blur2vid.reproduction.runs import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto", mps=True).type == "mps"
    assert resolve_device("auto").type == "cpu"  # training keeps the CPU unless asked
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto", mps=True).type == "cpu"
    with pytest.raises(ValueError, match="no Apple MPS device"):
        resolve_device("mps")


def test_match_blur_holds_the_frames_to_the_photograph_as_the_model_file_says(tmp_path):
    from blur2vid.app.predict import load_predictor
    from blur2vid.core.formation import get_crf, synthesize_blur

    torch.manual_seed(0)
    net = SequenceUNet(n_frames=7, width=4, depth=1)
    with torch.no_grad():
        for p in net.parameters():  # starts as the identity: made to change every frame, as a trained net does
            p.add_(0.03 * torch.randn_like(p))
    photo = torch.rand(3, 20, 20)
    save_model(tmp_path / "plain.pt", net)
    save_model(tmp_path / "held.pt", net, {"match_blur": True})
    plain, notes = load_predictor(tmp_path / "plain.pt")
    assert notes["match_blur"] is False
    raw = predict_frames(plain, photo, progress=False)
    held, notes = load_predictor(tmp_path / "held.pt")
    assert notes["match_blur"] is True
    frames = predict_frames(held, photo, progress=False)
    assert not torch.allclose(synthesize_blur(raw, "srgb"), photo, atol=1e-2)  # the net alone is far off
    lin = get_crf("srgb").inverse
    shifted = lin(raw) + (lin(photo) - lin(raw).mean(0))
    inside = shifted.gt(0).all(0) & shifted.lt(1).all(0)  # where no frame was clipped
    assert inside.float().mean() > 0.5
    reblur = synthesize_blur(frames, "srgb")
    assert torch.allclose(reblur[inside], photo[inside], atol=1e-4)  # held to the photograph
    # the frames' differences (their motion) are the network's, in linear units
    moved, own = lin(frames) - lin(frames).mean(0), lin(raw) - lin(raw).mean(0)
    assert torch.allclose(moved[:, inside], own[:, inside], atol=1e-4)
    off, notes = load_predictor(tmp_path / "held.pt", match_blur=False)  # --no-match-blur
    assert notes["match_blur"] is False and torch.equal(predict_frames(off, photo, progress=False), raw)


def test_working_scale_auto_brings_the_shorter_side_to_the_working_size_and_refuses_bad_factors():
    from blur2vid.models.inference import WORKING_SIDE, working_scale

    assert working_scale(25, 14) == 1.0 and working_scale(WORKING_SIDE, 4000) == 1.0  # never enlarged
    assert working_scale(256, 512) == 256 / WORKING_SIDE and working_scale(720, 1280) == 720 / WORKING_SIDE
    assert working_scale(720, 1280, 3) == 3.0 and working_scale(720, 1280, "1.5") == 1.5
    for bad in (0.5, 0, "x", float("nan"), None):
        with pytest.raises(ValueError, match="scale must be 'auto' or a number >= 1"):
            working_scale(64, 64, bad)


class Recording(nn.Module):
    """A per-pixel model that brightens over time around its input and remembers the size it was shown."""

    seen: list = []

    def forward(self, y):
        Recording.seen.append(tuple(y.shape[-2:]))
        return torch.stack([y * (0.85 + 0.05 * t) for t in range(7)], 1)


def test_a_scaled_prediction_runs_the_network_small_and_holds_its_frames_to_the_full_photograph():
    """scale=2: the network sees the photograph at half size; the frames come back at full size and
    re-blur to the photograph (held, though the model was not), so its detail is back; and they
    differ from each other as the network's frames do."""
    from blur2vid.core.formation import synthesize_blur

    g = torch.Generator().manual_seed(2)
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 9, 6, generator=g), size=(70, 46), mode="bilinear")[0]
    image = 0.2 + 0.4 * smooth + 0.1 * torch.rand(3, 70, 46, generator=g)  # detail the shrinking loses
    Recording.seen = []
    frames = predict_frames(Recording(), image, progress=False, scale=2)
    assert Recording.seen == [(35, 23)] and frames.shape == (7, 3, 70, 46)
    torch.testing.assert_close(synthesize_blur(frames, "srgb"), image, atol=1e-5, rtol=0)
    assert (frames[-1] - frames[0]).mean() > 0.05  # the network's brightening over time survives
    Recording.seen = []
    assert torch.equal(predict_frames(Recording(), image, progress=False, scale="auto"),
                       predict_frames(Recording(), image, progress=False))  # 46 px: under the working size, full size
    assert Recording.seen == [(70, 46), (70, 46)]


def test_cli_predict_takes_a_scale_and_refuses_a_bad_one(tmp_path, capsys):
    save_model(tmp_path / "m.pt", SequenceUNet(n_frames=7, width=4, depth=1))
    photo = _photo(tmp_path / "p.png", size=(40, 60))
    with pytest.raises(SystemExit):
        main(["predict", str(photo), "--out", str(tmp_path / "c.gif"), "--scale", "0.5", "--quiet"])
    assert "scale must be 'auto' or a number >= 1, got '0.5'" in capsys.readouterr().err
    assert main(["predict", str(photo), "--out", str(tmp_path / "c.gif"), "--checkpoint", str(tmp_path / "m.pt"),
                 "--scale", "2", "--quiet"]) == 0
    assert (tmp_path / "c.gif").exists()


def test_no_match_blur_runs_at_full_size_and_refuses_a_scale_that_would_hold(tmp_path, monkeypatch):
    import blur2vid.app.predict as predict

    Recording.seen = []
    monkeypatch.setattr(predict, "load_predictor", lambda checkpoint=None, match_blur=None: (Recording(), {}))
    photo = _photo(tmp_path / "p.png", size=(200, 300))
    predict.predict_file(photo, tmp_path / "a.gif", match_blur=False, progress=False)  # auto: full size
    predict.predict_file(photo, tmp_path / "b.gif", progress=False)  # auto: a shorter side of 96 px
    assert Recording.seen == [(200, 300), (96, 144)]
    with pytest.raises(ValueError, match="cannot go with --no-match-blur"):
        predict.predict_file(photo, tmp_path / "c.gif", match_blur=False, scale=2)
    assert len(Recording.seen) == 2


def test_notebook_07_trains_nothing_unless_the_reader_asks(monkeypatch, capsys):
    """Opened from a fresh clone, notebook 07 shows the shipped model at once: Jin's cascade is
    trained only when its parameter asks for it."""
    import json
    from pathlib import Path

    from blur2vid.data.sample import Batch
    from blur2vid.experiments import your_own_image as ex
    from blur2vid.training.loop import Workspace

    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "07_your_own_image.ipynb").read_text())
    params = next("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    assert "train_cascade: bool = False" in params and 'checkpoint: "Optional[str]" = None' in params
    monkeypatch.setattr(ex, "jin_middle", lambda *a, **k: pytest.fail("notebook 07 trained a cascade unasked"))
    frames = torch.rand(1, 7, 3, 16, 16)
    assert ex.cascade_on_photos(ex.PhotosConfig(), Workspace(), Batch(frames.mean(1), frames), train=False) is None
    assert "train_cascade = True" in capsys.readouterr().out
    with pytest.raises(pytest.fail.Exception, match="unasked"):
        ex.cascade_on_photos(ex.PhotosConfig(), Workspace(), Batch(frames.mean(1), frames), train=True)


def test_notebook_07_reads_what_its_numbers_say():
    import pandas as pd

    from blur2vid.experiments.your_own_image import reading

    checks = pd.Series({"first/last difference (levels of 255)": 6.5})
    above = reading(pd.DataFrame({"over_blur_copy": [0.4, 1.2]}), checks)
    assert "above the blur copied" in above and "+0.40 to +1.20 dB" in above and "6.5 levels" in above
    mixed = reading(pd.DataFrame({"over_blur_copy": [-0.3, 0.2]}), checks.rename(None) * 0 + 1.0)
    assert "on both sides of" in mixed and "little motion" in mixed


def test_a_batch_gives_the_frames_of_each_photograph_alone():
    """``predict_batch`` (channels-last on a CPU, a batch through the network at once, held once)
    gives ``predict_frames``' frames of each photograph, to float32's rounding: the shipped model
    as ``predict`` runs it, at its working scale and held."""
    from blur2vid.app.predict import load_predictor
    from blur2vid.models.inference import predict_batch

    model, notes = load_predictor()
    assert notes["match_blur"]
    blur = torch.rand(3, 3, 120, 150, generator=torch.Generator().manual_seed(0))
    batch = predict_batch(model, blur, scale="auto", batch_size=2)
    alone = torch.stack([predict_frames(model, b, progress=False, scale="auto") for b in blur])
    assert batch.shape == alone.shape == (3, 7, 3, 120, 150) and batch.is_contiguous()
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=0)
    # held instead to the photograph as a denoiser cleans it, at a noise level
    from blur2vid.models.denoise import NoiseLevelDenoiser

    den = NoiseLevelDenoiser(width=4, depth=1).eval()
    torch.manual_seed(0)
    for weight in den.parameters():  # it starts as the identity: made to move the photograph
        weight.data.normal_(0, 0.1)
    batch = predict_batch(model, blur[:2], scale="auto", noise=0.02, denoiser=den)
    alone = torch.stack([predict_frames(model, b, progress=False, scale="auto", noise=0.02, denoiser=den)
                         for b in blur[:2]])
    torch.testing.assert_close(batch, alone, atol=1e-5, rtol=0)
    assert (batch - predict_batch(model, blur[:2], scale="auto")).abs().max() > 1e-3  # the denoiser moved them
    with pytest.raises(ValueError, match="needs a denoiser"):
        predict_batch(model, blur[:1], noise=0.02)
    # a network not held is held when a noise level is given; a photograph larger than the tile
    # goes through predict_frames' tiles, denoised in them
    from blur2vid.models.unet import SequenceUNet

    torch.manual_seed(1)
    net = SequenceUNet(n_frames=7, width=4, depth=1).eval()
    for tile in (1280, 84):
        batch = predict_batch(net, blur[:2], noise=0.02, denoiser=den, tile=tile)
        alone = torch.stack([predict_frames(net, b, progress=False, noise=0.02, denoiser=den, tile=tile) for b in blur[:2]])
        torch.testing.assert_close(batch, alone, atol=1e-5, rtol=0)


def test_frames_are_enlarged_as_colour_images_are():
    """``_enlarge`` (one channel at a time: faster on a CPU) gives bilinear's colour images."""
    import torch.nn.functional as F

    from blur2vid.models.inference import _enlarge

    frames = torch.rand(2, 7, 3, 24, 36, generator=torch.Generator().manual_seed(2))
    colour = F.interpolate(frames.flatten(0, 1), size=[40, 60], mode="bilinear", align_corners=False)
    torch.testing.assert_close(_enlarge(frames, (40, 60)), colour.unflatten(0, (2, 7)), atol=1e-6, rtol=0)


def test_a_batch_leaves_the_photographs_and_the_networks_output_alone():
    """``predict_batch`` clamps a copy, never a tensor its caller or the network still holds: a
    network that returns its input (one channel: no copy is made for channels-last) and keeps its
    output."""
    from blur2vid.models.inference import predict_batch

    class Echo(torch.nn.Module):
        def forward(self, x):
            self.last = x[:, None].expand(-1, 3, -1, -1, -1)
            return self.last

    blur = torch.rand(2, 1, 9, 11) * 1.5
    before = blur.clone()
    net = Echo()
    out = predict_batch(net, blur)
    assert torch.equal(blur, before) and torch.equal(net.last[:, 0], before)
    assert out.max() <= 1.0 and torch.equal(out[:, 0], before.clamp(0, 1))
