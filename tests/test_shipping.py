"""The shipped model's measurements and install (shipping.py): known answers on a model that
copies the blur, and a card that lets anyone retrain and re-measure."""

import json

import pytest
import torch

from blur2vid.app import shipping
from blur2vid.app.shipping import LICENCE, MOTIONS, RETRAIN, evaluate, install, retrain_command
from blur2vid.core.metrics import capped, ppsnr
from blur2vid.data.config import CAPTURES, DataConfig
from blur2vid.experiments.your_own_image import card_summary
from blur2vid.models.card import ModelCard
from blur2vid.models.checkpoint import load_model, save_model
from blur2vid.models.match_blur import MatchBlur
from blur2vid.models.unet import SequenceUNet
from blur2vid.reproduction.plots import held_out_gain_figure

pytestmark = pytest.mark.usefixtures("one_thread")


def _copy_model():
    """A fresh SequenceUNet: its output head starts at zero, so it copies the blur to every frame."""
    return SequenceUNet(n_frames=7, width=4, depth=1)


def test_a_model_that_copies_the_blur_scores_zero_over_the_blur_copy():
    result = evaluate(_copy_model(), n=6)
    video = result["real_video"]
    assert video["windows"] == 18  # 24 frames, windows of 7
    for key in ("over_blur_copy", "middle_over_blur"):
        assert all(abs(v) < 1e-6 for v in video[key].values()), key
    clock = result["real_photos"]["clock_motion.png"]
    # it re-blurs perfectly and shows no motion: why both numbers are reported
    assert clock["reblur_psnr_db"] > 60 and clock["first_last_difference"] == 0
    assert set(result["held_out"]) == set(MOTIONS)
    for name, row in result["held_out"].items():
        assert row["max_motion"] == MOTIONS[name] and row["scenes"] == 6
        assert row["middle_over_blur_db"] == {"mean": 0.0, "low": 0.0, "high": 0.0}


def test_held_out_scenes_known_answers_for_the_blur_copy():
    """A held copy of the blur gains nothing; the same frames held to the noise-free blur are the
    noise-free blur copied, so their gain is exactly what the input's noise costs the copy."""
    scenes = shipping.held_out_scenes(MatchBlur(_copy_model()), size=32, n=8, motion=12.0)
    assert list(scenes.index) == list(range(8))
    assert scenes["gain_db"].abs().max() < 1e-4
    test = DataConfig(family=CAPTURES, size=32, max_shift=12.0).test_set(8, "cpu", "shipping")
    frames, clean = test.frames.float(), test.meta["blur_clean"].float()
    noisy_copy = capped(ppsnr(test.blur[:, None].expand_as(frames), frames))[:, 3]
    clean_copy = capped(ppsnr(clean[:, None].expand_as(frames), frames))[:, 3]
    assert torch.allclose(torch.tensor(scenes["blur_db"].values), noisy_copy.double(), atol=1e-4)
    assert torch.allclose(torch.tensor(scenes["gain_noise_free_db"].values), (clean_copy - noisy_copy).double(), atol=1e-2)
    assert (scenes["gain_noise_free_db"] > 0).all()  # every held-out input is noisy (no clean share)
    assert (scenes["input_db"] < 100).all()


def test_held_out_scenes_mean_is_the_cards_number():
    model = _copy_model()
    with torch.no_grad():
        model.out.bias.fill_(0.02)  # a model that changes every frame alike: not the copy
    scenes = shipping.held_out_scenes(model, size=32, n=6, motion=12.0)
    assert scenes["gain_db"].mean() == pytest.approx(shipping.held_out(model, size=32, n=6, motion=12.0)["middle_over_blur_db"]["mean"],
                                                     abs=0.006)
    assert scenes["gain_db"].mean() < 0


def test_by_motion_groups_from_most_to_least_blurred():
    import pandas as pd

    scenes = pd.DataFrame({"blur_db": [30.0, 20.0, 40.0, 25.0, 35.0, 22.0, 38.0, 28.0],
                           "gain_db": [1.0, 3.0, -1.0, 2.0, 0.0, 3.0, -1.0, 1.0]})
    table = shipping.by_motion(scenes)
    assert list(table["scenes"]) == [2, 2, 2, 2]
    assert list(table["blur_db"]) == [21.0, 26.5, 32.5, 39.0]
    assert list(table["gain_db"]) == [3.0, 1.5, 0.5, -1.0]
    assert table.index[0].endswith("(most blurred)") and table.index[-1].endswith("(least blurred)")
    fig = held_out_gain_figure(scenes.assign(gain_noise_free_db=scenes["gain_db"] + 1))
    assert len(fig.axes[0].collections) == 2  # one set of points per column


def test_install_writes_the_model_and_its_card(tmp_path):
    run, assets = tmp_path / "run", tmp_path / "assets"
    run.mkdir()
    assets.mkdir()
    with pytest.raises(FileNotFoundError, match="run"):
        install(run, assets)
    model = _copy_model()
    with torch.no_grad():
        model.out.bias.fill_(0.01)  # a model of its own, to check the weights travel
    save_model(run / "model.pt", model, {"trained_by": "a test"})
    (run / "model.json").write_text(json.dumps({"file": "model.pt", "trained_by": "a test", "steps": 3}))
    notes = install(run, assets)
    card = json.loads((assets / "default_model.json").read_text())
    assert card == notes.to_dict() and ModelCard.read(assets / "default_model.json") == notes
    assert card["file"] == "default_model.pt" and card["steps"] == 3 and card["trained_by"] == "a test"
    assert card["retrain"] == RETRAIN and card["licence"] == LICENCE
    assert card["evaluation"]["real_video"]["over_blur_copy"]["mean"] == pytest.approx(
        evaluate(model, n=2)["real_video"]["over_blur_copy"]["mean"])
    summary = card_summary(notes)  # notebook 07's few lines of it
    assert summary["the whole card"] == "docs/model_card.md" and summary["steps x batch"].startswith("3 x")
    full = card["evaluation"]["held_out"]["full"]["middle_over_blur_db"]
    assert summary["held-out full motion: middle over blur (dB)"] == f"{full['mean']:+.2f} [{full['low']:+.2f}, {full['high']:+.2f}]"
    shipped, shipped_notes = load_model(assets / "default_model.pt")
    assert shipped_notes["retrain"] == RETRAIN
    for (k, a), b in zip(model.state_dict().items(), shipped.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_blur2vid_ship_measures_a_run_without_installing_and_its_older_spelling_agrees(tmp_path, capsys):
    import subprocess
    import sys

    from blur2vid.cli import main

    save_model(tmp_path / "model.pt", _copy_model())
    assert main(["ship", str(tmp_path)]) == 0
    measured = json.loads(capsys.readouterr().out)
    assert "real_video" in measured and set(measured["held_out"]) == set(MOTIONS)
    old = subprocess.run([sys.executable, "-m", "blur2vid.shipping", str(tmp_path)], capture_output=True, text=True,
                         check=True)  # as the committed cards' retrain commands call it
    assert json.loads(old.stdout) == measured


def test_the_retrain_command_remakes_every_step():
    """A run's own command then its install; a fine-tune of the shipped model first remakes the
    model it started from (its card's recipe), so the chain holds end to end."""
    ours = {"trained_by": "blur2vid train --preset unet-captures --out runs/a", "spec": {}}
    assert retrain_command("runs/a", ours) == ("blur2vid train --preset unet-captures --out runs/a && "
                                               "blur2vid ship runs/a --install")
    tuned = {"trained_by": "blur2vid train --preset unet-captures --set init=default --out runs/b",
             "spec": {"init": "default"}}
    chain = retrain_command("runs/b", tuned, ModelCard(file="f", retrain="X && Y", licence="L", evaluation={}))
    assert chain == ("X && Y && blur2vid train --preset unet-captures --set init=default --out runs/b && "
                     "blur2vid ship runs/b --install")
    with pytest.raises(ValueError, match="whose card has no retrain command"):
        retrain_command("runs/b", tuned, None)
    assert retrain_command("runs/c", {"trained_by": "a test"}) == RETRAIN


def test_a_model_shipped_held_to_the_photograph_says_so_and_keeps_the_network_alone_numbers(tmp_path, monkeypatch):
    from blur2vid.experiments.your_own_image import shipped_model
    from blur2vid.models.match_blur import MatchBlur

    run, assets = tmp_path / "run", tmp_path / "assets"
    run.mkdir()
    assets.mkdir()
    model = _copy_model()
    with torch.no_grad():
        model.out.bias.fill_(0.02)  # brightens every frame alike: what match_blur undoes
    save_model(run / "model.pt", model)
    (run / "model.json").write_text(json.dumps({"file": "model.pt", "trained_by": "a test", "steps": 3}))
    card = install(run, assets, match_blur=True)
    assert card.match_blur is True and card.retrain.endswith("--install --match-blur")
    alone, held = card.evaluation_network_alone, card.evaluation
    # the tint is common to all frames: held to the blur, the model is the blur copy again
    assert alone["real_video"]["over_blur_copy"]["mean"] < -1
    assert abs(held["real_video"]["over_blur_copy"]["mean"]) < 0.05
    assert card_summary(card)["frames held to the photograph"].startswith("yes")
    monkeypatch.setattr("blur2vid.experiments.your_own_image.default_model_path", lambda: assets / "default_model.pt")
    net, shipped_card = shipped_model()
    assert isinstance(net, MatchBlur) and shipped_card == card


def test_a_run_trained_held_to_the_blur_ships_held_unless_told_otherwise(tmp_path):
    run, assets = tmp_path / "run", tmp_path / "assets"
    run.mkdir()
    assets.mkdir()
    save_model(run / "model.pt", _copy_model(), {"match_blur": True})
    (run / "model.json").write_text(json.dumps({"file": "model.pt", "trained_by": "a test --set match_blur=true",
                                                "steps": 3, "match_blur": True}))
    card = install(run, assets)
    assert card.match_blur is True and card.evaluation_network_alone is not None
    assert not card.retrain.endswith("--match-blur")  # the training command already says it
    assert install(run, assets, match_blur=False).match_blur is False


def test_a_denoiser_run_installs_beside_the_model_and_an_untrained_one_changes_nothing(tmp_path, monkeypatch):
    """An untrained denoiser returns the photograph: at every level the frames are those of level 0,
    and the card (with its retrain command) and the weights land in the assets."""
    from blur2vid.app.shipping import install_denoiser
    from blur2vid.models.denoise import NoiseLevelDenoiser

    run, assets = tmp_path / "run", tmp_path / "assets"
    run.mkdir()
    assets.mkdir()
    den = NoiseLevelDenoiser(width=4, depth=1)
    command = "blur2vid train --preset denoiser --out r"
    save_model(run / "model.pt", den, {"trained_by": command})
    (run / "model.json").write_text(json.dumps({"file": "model.pt", "trained_by": command, "steps": 2}))
    monkeypatch.setattr(shipping, "NOISE_LEVELS", (0.0, 2.0))
    notes = install_denoiser(run, assets, n=4)
    assert json.loads((assets / "default_denoiser.json").read_text()) == notes.to_dict()
    assert notes.retrain == f"{command} && blur2vid ship {run} --install"
    levels = notes.evaluation["by_noise_level"]
    assert set(levels) == {"0", "2", "own"}
    for level, row in levels.items():
        assert row == levels["0"], level
    loaded, _ = load_model(assets / "default_denoiser.pt", expect="NoiseLevelDenoiser")
    for (k, a), b in zip(den.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("name", ["default_model.json", "default_denoiser.json"])
def test_the_committed_cards_read_and_write_unchanged(name, tmp_path):
    from blur2vid.models.checkpoint import default_model_path

    path = default_model_path().with_name(name)
    card = ModelCard.read(path)
    assert card.to_json() == path.read_text()
    assert ModelCard.read(card.write(tmp_path / name)) == card
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['licens'\]"):
        ModelCard.from_dict({**card.to_dict(), "licens": "x"})
    with pytest.raises(ValueError, match=r"missing key\(s\) \['retrain'\]"):
        ModelCard.from_dict({k: v for k, v in card.to_dict().items() if k != "retrain"})
