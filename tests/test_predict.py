import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from blur2vid.cli import main
from blur2vid.inference import predict_frames
from blur2vid.models.checkpoint import load_model, save_model
from blur2vid.models.jin import JinCascade, JinConfig
from blur2vid.models.unet import SequenceUNet
from blur2vid.predict import write_frames
from blur2vid.train import save_checkpoint


class Local(nn.Module):
    """A per-pixel model: tiling must reproduce its untiled output exactly."""

    def forward(self, y):
        return torch.stack([y * (t + 1) / 7 for t in range(7)], 1)


def test_tiles_stitch_back_exactly():
    image = torch.rand(3, 70, 45)
    whole = predict_frames(Local(), image, tile=512, progress=False)
    tiled = predict_frames(Local(), image, tile=40, overlap=8, progress=False)
    assert tiled.shape == (7, 3, 70, 45) and torch.equal(whole, tiled)


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


def test_tiles_are_played_in_one_direction():
    image = torch.cat([torch.full((3, 40, 30), 0.2), torch.full((3, 40, 30), 0.9)], dim=-1)  # left dark, right bright
    tiled = predict_frames(Flippy(), image, tile=40, overlap=8, progress=False)
    first = tiled[0]
    # frame 1 is the dimmest everywhere: one direction across the whole image
    assert (first <= tiled[-1]).all()


def test_the_shipped_default_model_predicts_without_a_checkpoint(tmp_path):
    from blur2vid.predict import default_model_path, load_predictor

    assert default_model_path().is_file(), "the package must ship assets/default_model.pt"
    model, notes = load_predictor(None)
    assert notes["arch"] in ("JinCascade", "SequenceUNet") and "retrain" in notes
    Image.fromarray(np.full((30, 41, 3), 120, np.uint8)).save(tmp_path / "photo.jpg")
    assert main(["predict", str(tmp_path / "photo.jpg"), "--out", str(tmp_path / "x"), "--quiet"]) == 0
    assert len(list((tmp_path / "x").glob("frame*.png"))) == 7


def test_extract_photos_scores_each_photograph():
    from blur2vid.data.sample import Batch
    from blur2vid.experiments.photos import extract_photos
    from blur2vid.metrics import ppsnr_sequence

    frames = torch.rand(2, 7, 3, 20, 26)
    pred, table = extract_photos(Local(), Batch(frames.mean(1), frames))
    assert list(table.index) == ["#0", "#1"] and list(table.columns)[-1] == "mean"
    for i in range(2):  # each photograph predicted on its own, as `blur2vid predict` does, and scored
        assert torch.equal(pred[i], predict_frames(Local(), frames.mean(1)[i], progress=False))
        scores = ppsnr_sequence(pred[i:i + 1], frames[i:i + 1]).clamp(max=100)[0]
        assert table.loc[f"#{i}", [f"F{k}" for k in range(1, 8)]].tolist() == pytest.approx(scores.tolist())
        assert table.loc[f"#{i}", "mean"] == pytest.approx(scores.mean().item())
    swapped, swapped_table = extract_photos(Local(), Batch(frames.mean(1).flip(0), frames.flip(0)))
    assert torch.equal(swapped, pred.flip(0))
    assert swapped_table.loc["#0"].tolist() == pytest.approx(table.loc["#1"].tolist())
