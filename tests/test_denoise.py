"""The noise-level denoiser and ``blur2vid predict --noise``: the frames are held to the photograph
as the denoiser cleans it, never run at level 0, trained by ``blur2vid train --scheme denoise`` on
the scenes whose noise-free blur is known, and refused clearly where it cannot work."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from blur2vid.app.recipes import load_recipe, train_model
from blur2vid.cli import main
from blur2vid.core.formation import synthesize_blur
from blur2vid.models.checkpoint import default_denoiser_path, load_model, save_model
from blur2vid.models.denoise import SIGMA_SCALE, NoiseLevelDenoiser, noise_level
from blur2vid.models.inference import predict_frames
from blur2vid.models.unet import SequenceUNet

pytestmark = pytest.mark.usefixtures("one_thread")


class Brightening(nn.Module):
    """Seven frames that brighten over time: a network whose frames differ."""

    def forward(self, y):
        return torch.stack([(y * (0.8 + 0.05 * t)).clamp(0, 1) for t in range(7)], 1)


class Halving(nn.Module):
    """A 'denoiser' whose output is easy to recognise: the photograph's contrast halved at any level."""

    levels: list = []

    def forward(self, photo, sigma):
        Halving.levels.append(float(torch.as_tensor(sigma).reshape(-1)[0]))
        return 0.5 * photo + 0.25


class Refusing(nn.Module):
    def forward(self, photo, sigma):
        raise AssertionError("the denoiser must not run at noise level 0")


def _image(seed=0, size=(40, 52)):
    g = torch.Generator().manual_seed(seed)
    return 0.2 + 0.6 * torch.rand(3, *size, generator=g)


def test_an_untrained_denoiser_returns_the_photograph_and_checks_its_level(device):
    photo = torch.rand(2, 3, 21, 30, device=device)
    den = NoiseLevelDenoiser(width=4, depth=1).to(device)
    assert torch.equal(den(photo, 4 / 255), photo)  # a residual on the photograph, zero at the start
    assert torch.equal(den(photo, torch.tensor([0.0, 0.02])), photo)
    assert torch.equal(den(photo, torch.tensor([0.0, 0.02], device=device)), photo)
    for bad in (-0.01, float("nan"), torch.tensor([0.01, 0.01, 0.01])):
        with pytest.raises(ValueError, match="sigma must be one level >= 0 or one per image"):
            den(photo, bad)


def test_the_level_is_the_fourth_input_channel_and_changes_what_a_trained_denoiser_does():
    torch.manual_seed(0)
    den = NoiseLevelDenoiser(width=4, depth=1)
    torch.nn.init.normal_(den.unet.out.weight, std=0.1)  # as if trained: the residual is no longer zero
    photo = torch.rand(1, 3, 16, 16)
    assert den.unet.inc[0].in_channels == 4
    assert not torch.allclose(den(photo, 0.0), den(photo, 8 / 255))
    seen = {}
    den.unet.inc.register_forward_hook(lambda m, args, out: seen.setdefault("x", args[0]))
    den(photo, 5 / 255)
    torch.testing.assert_close(seen["x"][:, 3], torch.full((1, 16, 16), 5 / 255 * SIGMA_SCALE))


def test_noise_level_is_the_standard_deviation_of_the_noise():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 3, 64, 64, generator=g)
    sigma = torch.tensor([0.0, 0.01, 0.03])
    noisy = clean + sigma.view(-1, 1, 1, 1) * torch.randn(clean.shape, generator=g)
    torch.testing.assert_close(noise_level(noisy, clean), sigma, atol=4e-4, rtol=0.02)


def test_a_unet_with_extra_inputs_asks_for_them_and_old_files_keep_their_keys():
    net = SequenceUNet(n_frames=1, width=4, depth=1, inputs=1)
    with pytest.raises(ValueError, match="takes 1 extra input channel"):
        net(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="takes 0 extra input channel"):
        SequenceUNet(n_frames=1, width=4, depth=1)(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8))
    assert "inputs" not in SequenceUNet(width=4).config_dict()  # a frames network's identity is unchanged
    assert net.config_dict()["inputs"] == 1


def test_level_zero_runs_no_denoiser_and_a_level_holds_the_frames_to_the_denoised_photograph():
    image = _image()
    plain = predict_frames(Brightening(), image, progress=False)
    assert torch.equal(predict_frames(Brightening(), image, progress=False, noise=0.0, denoiser=Refusing()), plain)
    Halving.levels = []
    frames = predict_frames(Brightening(), image, progress=False, noise=3 / 255, denoiser=Halving(), scale=1)
    assert Halving.levels == [pytest.approx(3 / 255)]
    # held (though the model was not): the frames re-blur to the denoised photograph, not to the photograph
    torch.testing.assert_close(synthesize_blur(frames, "srgb"), 0.5 * image + 0.25, atol=1e-5, rtol=0)
    assert (frames[-1] - frames[0]).mean() > 0.02  # and keep the network's change over time
    with pytest.raises(ValueError, match="needs a denoiser"):
        predict_frames(Brightening(), image, progress=False, noise=0.01)
    with pytest.raises(ValueError, match="noise must be a level >= 0"):
        predict_frames(Brightening(), image, progress=False, noise=-1, denoiser=Halving())


def test_the_denoiser_is_tiled_like_the_frames_network():
    """A photograph larger than a tile is denoised in the same tiles, at full size, even when the
    frames network sees it shrunk."""
    image = _image(1, size=(150, 90))
    Halving.levels = []
    frames = predict_frames(Brightening(), image, progress=False, noise=0.02, denoiser=Halving(), tile=96,
                            overlap=16, scale=2)
    assert len(Halving.levels) == 2  # two tiles of at most 96 px cover 150 px
    torch.testing.assert_close(synthesize_blur(frames, "srgb"), 0.5 * image + 0.25, atol=1e-5, rtol=0)


def _photo(path, size=(30, 44)):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(60, 200, (*size, 3), dtype=np.uint8)).save(path)
    return path


def test_cli_noise_refusals_come_before_any_work(tmp_path, capsys, monkeypatch):
    import blur2vid.app.predict as predict

    calls = []
    monkeypatch.setattr(predict, "load_image", lambda p: calls.append(p))
    photo = _photo(tmp_path / "p.png")
    out = ["--out", str(tmp_path / "c.gif"), "--quiet"]
    with pytest.raises(SystemExit):
        main(["predict", str(photo), *out, "--noise", "-1"])
    assert "noise must be a level >= 0, got '-1'" in capsys.readouterr().err
    for args, message in [(["--noise", "2", "--no-match-blur"], "cannot go with --no-match-blur"),
                          (["--denoiser", "x.pt"], "--denoiser is used only with --noise"),
                          (["--noise", "2", "--denoiser", str(tmp_path / "none.pt")], "no such denoiser file")]:
        assert main(["predict", str(photo), *out, *args]) == 2
        assert message in capsys.readouterr().err
    save_model(tmp_path / "frames.pt", SequenceUNet(width=4, depth=1))
    assert main(["predict", str(photo), *out, "--noise", "2", "--denoiser", str(tmp_path / "frames.pt")]) == 2
    assert "holds a SequenceUNet, but a NoiseLevelDenoiser was asked for" in capsys.readouterr().err
    assert calls == []


def test_cli_predict_with_noise_writes_frames_that_reblur_to_the_denoised_photograph(tmp_path):
    torch.manual_seed(0)
    den = NoiseLevelDenoiser(width=4, depth=1)
    torch.nn.init.normal_(den.unet.out.weight, std=0.2)
    save_model(tmp_path / "den.pt", den)
    save_model(tmp_path / "m.pt", SequenceUNet(width=4, depth=1), {"match_blur": True})
    photo = _photo(tmp_path / "p.png")
    assert main(["predict", str(photo), "--out", str(tmp_path / "frames"), "--checkpoint", str(tmp_path / "m.pt"),
                 "--noise", "3", "--denoiser", str(tmp_path / "den.pt"), "--quiet"]) == 0
    frames = torch.stack([torch.from_numpy(np.array(Image.open(tmp_path / "frames" / f"frame{k + 1:03d}.png")))
                          for k in range(7)]).permute(0, 3, 1, 2).float() / 255
    image = torch.from_numpy(np.array(Image.open(photo))).permute(2, 0, 1).float() / 255
    with torch.no_grad():
        target = den(image[None], 3 / 255)[0].clamp(0, 1)
    assert (target - image).abs().max() > 0.02  # the denoiser changed the photograph...
    torch.testing.assert_close(synthesize_blur(frames, "srgb"), target, atol=3 / 255, rtol=0)  # ...and that is
    # what the frames (8-bit PNGs) re-blur to


def test_the_shipped_denoiser_loads_and_says_how_it_was_made():
    den, notes = load_model(default_denoiser_path(), expect="NoiseLevelDenoiser")
    card = json.loads(default_denoiser_path().with_suffix(".json").read_text())
    assert card["trained_by"].startswith("blur2vid train --preset denoiser")
    assert card["spec"]["scheme"] == "denoise" and notes["steps"] == card["steps"]
    assert set(card["evaluation"]["by_noise_level"]) >= {"0", "own"}
    assert card["held_out"]["denoised_db"] > card["held_out"]["input_db"]  # it cleans held-out scenes


def test_blur2vid_train_trains_a_denoiser_and_refuses_scenes_without_a_noise_free_blur(tmp_path, capsys):
    spec = load_recipe("denoiser", overrides=["steps=3", "data.size=16", "data.max_shift=4", "width=4", "depth=1", "batch=2", "n_test=4"])
    path = train_model(spec, tmp_path / "run", progress=False, precision="fp32")
    den, notes = load_model(path, expect="NoiseLevelDenoiser")
    assert notes["steps"] == 3 and notes["spec"]["scheme"] == "denoise"
    assert set(notes["held_out"]) == {"scenes", "noisy_scenes", "input_db", "denoised_db"}
    assert den(torch.rand(1, 3, 16, 16), 0.01).shape == (1, 3, 16, 16)
    code = main(["train", "--preset", "smoke", "--set", "scheme=denoise", "--set", "data.family=pans",
                 "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 2 and "the denoiser learns from scenes whose noise-free blur is known" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="match_blur is for frames networks"):
        load_recipe("denoiser", overrides=["match_blur=true"])
    start = load_recipe("denoiser", overrides=["init=default"]).init_model()  # fine-tuning starts from the shipped one
    assert isinstance(start, NoiseLevelDenoiser)
    with pytest.raises(ValueError, match="cannot start from a denoiser of"):
        train_model(load_recipe("denoiser", overrides=["init=default", "width=4", "steps=1", "n_test=2"]),
                    tmp_path / "ft", progress=False, precision="fp32")


def test_the_denoiser_trains_on_batches_rendered_ahead_on_the_cpu(device):
    """Its loss reads the noise-free blur from the batch's ``meta``: rendered by workers on the CPU
    (as ``blur2vid train`` does for a GPU run), it must reach the device with the batch."""
    from blur2vid.data.config import CAPTURES, DataConfig
    from blur2vid.training.denoiser import DenoiserTrainConfig, train_denoiser
    from blur2vid.training.loop import Workspace

    cfg = DenoiserTrainConfig(data=DataConfig(family=CAPTURES, size=16, max_shift=4.0), width=4, depth=1, steps=2,
                              batch=2)
    model, history = train_denoiser(cfg, Workspace(device=device, progress=False, workers=1))
    assert [h["step"] for h in history] == [0, 1] and next(model.parameters()).device.type == device
