"""``blur2vid train``: a seconds-long run that exports a model predict reads, resumes after a kill to
the same weights, and refuses a bad config, a bad value and a bad data folder by name."""

import json

import pytest
import torch

from blur2vid.app.recipes import Recipe, load_recipe, train_model
from blur2vid.cli import main
from blur2vid.models.checkpoint import load_model
from blur2vid.training.unet_schemes import UNetTrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_smoke_run_exports_a_model_with_its_notes(tmp_path, capsys):
    assert main(["train", "--preset", "smoke", "--out", str(tmp_path / "run"), "--quiet", "--precision", "fp32"]) == 0
    model, stored = load_model(tmp_path / "run" / "model.pt")
    notes = json.loads((tmp_path / "run" / "model.json").read_text())
    assert stored["steps"] == notes["steps"]  # the model file carries its notes
    assert notes["steps"] == 4 and notes["samples"] == 8 and notes["spec"]["data"]["family"] == "captures"
    assert notes["trained_by"].startswith("blur2vid train --preset smoke")
    assert set(notes["held_out"]) >= {"mean_ppsnr_db", "middle_over_blur_db", "frames_1_2_6_7_over_blur_copy_db"}
    out = model(torch.rand(1, 3, 16, 16))
    assert out.shape == (1, 7, 3, 16, 16)
    assert "wrote" in capsys.readouterr().out


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    spec = load_recipe("smoke", overrides=["steps=6"])
    straight = train_model(spec, tmp_path / "straight", progress=False, precision="fp32")
    import blur2vid.training.loop as train
    import blur2vid.training.unet_schemes as train_unet

    real = train.save_checkpoint

    def save_then_die(*args, **kwargs):  # the process dies right after the checkpoint of step 3
        real(*args, **kwargs)
        if kwargs.get("step") == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "save_checkpoint", save_then_die)
    monkeypatch.setattr(train_unet, "fit", _with_checkpoints_every_step(train.fit))
    with pytest.raises(KeyboardInterrupt):
        train_model(spec, tmp_path / "killed", progress=False, precision="fp32")
    monkeypatch.undo()
    resumed = train_model(spec, tmp_path / "killed", progress=False, precision="fp32")
    a, b = load_model(straight)[0], load_model(resumed)[0]
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.allclose(va, vb, atol=1e-6), ka


def _with_checkpoints_every_step(fit):
    def wrapped(*args, **kwargs):
        kwargs["checkpoint_every"] = 1
        return fit(*args, **kwargs)
    return wrapped


def test_a_budget_in_minutes_is_converted_once_and_recorded(tmp_path, monkeypatch):
    import blur2vid.app.recipes as tc

    monkeypatch.setattr(tc, "_measured_steps", lambda spec, ws: (3, 0.5))
    spec = load_recipe("smoke", overrides=["minutes=0.025"])
    assert spec.steps is None and spec.minutes == 0.025
    train_model(spec, tmp_path / "run", progress=False, precision="fp32")
    record = json.loads((tmp_path / "run" / "train_spec.json").read_text())
    assert record["steps"] == 3 and record["budget"]["minutes"] == 0.025
    assert record["budget"]["measured_s_per_step"] == 0.5
    monkeypatch.setattr(tc, "_measured_steps", lambda spec, ws: pytest.fail("measured again"))
    train_model(spec, tmp_path / "run", progress=False, precision="fp32")  # resumed: the recorded steps
    other = load_recipe("smoke", overrides=["steps=5"])
    with pytest.raises(ValueError, match="another configuration"):
        train_model(other, tmp_path / "run", progress=False, precision="fp32")


def test_bad_configs_name_the_key_and_the_value(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['widht'\]"):
        load_recipe("smoke", overrides=["widht=3"])
    with pytest.raises(ValueError, match="scheme='fancy'"):
        load_recipe("smoke", overrides=["scheme=fancy"])
    with pytest.raises(ValueError, match=r"unknown data setting\(s\) \['szie'\]"):
        load_recipe("smoke", overrides=["data.szie=3"])
    with pytest.raises(ValueError, match="steps=0"):
        load_recipe("smoke", overrides=["steps=0"])
    with pytest.raises(ValueError, match="unknown recipe 'huge'"):
        load_recipe("huge")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        load_recipe(config=bad)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"width": 4, "depth": 1, "batch": 2, "minutes": 1.0}))
    spec = load_recipe(config=cfg)
    assert spec == Recipe.from_settings(dict(width=4, depth=1, batch=2, steps=None, minutes=1.0))
    assert spec.run == UNetTrainConfig(width=4, depth=1, batch=2, steps=1) and spec.minutes == 1.0
    assert main(["train", "--config", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.json: no such config file" in capsys.readouterr().err


def test_a_bad_data_root_is_refused_before_training(tmp_path, capsys):
    code = main(["train", "--preset", "smoke", "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"),
                 "--quiet"])
    assert code == 2 and "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written


def test_help_lists_every_setting(capsys):
    from dataclasses import fields

    from blur2vid.app.recipes import RECIPES, SETTINGS
    from blur2vid.data.config import DataConfig

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    missing = [name for name in SETTINGS if name != "data" and name not in text]
    missing += [f"data.{f.name}" for f in fields(DataConfig) if f"data.{f.name}" not in text]
    missing += [p for p in RECIPES if p not in text]
    assert not missing, missing


def test_capture_switches_reach_the_scenes_and_leave_other_keys_alone(tmp_path):
    """`data.capture.NAME=value` sets a CaptureConfig switch of the training scenes; a spec without
    switches keeps the key it had before they existed (the field is left out while empty), one with
    them gets another; the recorded spec reads back to the same data."""
    from blur2vid.data.captures import CaptureConfig
    from blur2vid.data.config import DataConfig
    from blur2vid.training.loop import config_key, plain

    spec = load_recipe("smoke", overrides=["data.capture.minify=[1,8]", "data.capture.clean=0.25"])
    assert spec.data.capture == (("clean", 0.25), ("minify", (1, 8)))
    captures = spec.data.source().captures
    assert isinstance(captures, CaptureConfig) and captures.minify == (1, 8) and captures.clean == 0.25
    assert captures.size == 16 and captures.max_motion == 4.0  # the DataConfig's own fields still rule
    plain_default = plain(load_recipe("smoke").data)
    assert "capture" not in plain_default and "capture" not in load_recipe("smoke").data.identity()
    assert plain(spec.data)["capture"] == [["clean", 0.25], ["minify", [1, 8]]]
    assert spec.data.identity()["capture"] == {"clean": 0.25, "minify": (1, 8)}
    assert config_key("x", plain(spec.run)) != config_key("x", plain(load_recipe("smoke").run))
    # a config file spells them as an object; the record (lists of pairs) reads back to the same data
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"data": {"family": "captures", "size": 16, "max_shift": 4.0,
                                         "capture": {"minify": [1, 8], "clean": 0.25}}, "steps": 2}))
    from_file = load_recipe(config=path)
    assert from_file.data == spec.data
    assert DataConfig(**json.loads(json.dumps(plain(spec.data)))) == spec.data


@pytest.mark.parametrize("overrides, message", [
    (["data.capture.minify=[1,8]", "data.family=pans"], r"capture switches .* apply to family='captures'"),
    (["data.capture.wobble=2"], r"unknown capture switch\(es\) \['wobble'\]; expected some of .*minify"),
    (["data.capture.size=32"], r"unknown capture switch\(es\) \['size'\]"),  # data.size sets it
    (["data.capture.minify=[0.5,2]"], r"minify must be a range 1 <= low <= high <= 8"),
    (["data.capture=3"], r"capture must be a mapping"),
])
def test_bad_capture_switches_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        load_recipe("smoke", overrides=overrides)


def test_a_run_can_start_from_a_trained_model(tmp_path):
    """`init=model.pt` fine-tunes: the run starts from those weights (a learning rate too small to
    move them leaves them where they were), its key is another run's, and a model of another size
    or a missing file is refused before anything is written."""
    first = train_model(load_recipe("smoke"), tmp_path / "first", progress=False, precision="fp32")
    start, _ = load_model(first)
    spec = load_recipe("smoke", overrides=[f"init={first}", "steps=2", "lr=1e-12"])
    tuned, _ = load_model(train_model(spec, tmp_path / "tuned", progress=False, precision="fp32"))
    for (name, a), b in zip(start.state_dict().items(), tuned.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)
    fresh, _ = load_model(train_model(load_recipe("smoke", overrides=["steps=2", "lr=1e-12"]), tmp_path / "fresh",
                                      progress=False, precision="fp32"))
    first_weights = [next(iter(m.state_dict().values())) for m in (fresh, start)]
    assert not torch.allclose(*first_weights)  # a run without init starts elsewhere
    notes = json.loads((tmp_path / "tuned" / "model.json").read_text())
    assert notes["spec"]["init"] == str(first.resolve())
    with pytest.raises(ValueError, match=r"cannot start from a .*'width': 4.*this run trains a .*'width': 8"):
        train_model(load_recipe("smoke", overrides=[f"init={first}", "width=8"]), tmp_path / "wide", progress=False)
    with pytest.raises(FileNotFoundError, match=r"init='.*nothing.pt': no such model file"):
        train_model(load_recipe("smoke", overrides=[f"init={tmp_path / 'nothing.pt'}"]), tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


def test_a_run_trained_held_to_the_blur_reblurs_to_it_and_predict_holds_it_too(tmp_path):
    """`match_blur=true` trains the frames held to the blur: the held-out scores, the exported notes
    and predict all use the held frames (which re-blur to the input), and the key is another run's."""
    from blur2vid.app.predict import load_predictor
    from blur2vid.core.formation import synthesize_blur
    from blur2vid.models.match_blur import MatchBlur
    from blur2vid.training.loop import config_key, plain

    spec = load_recipe("smoke", overrides=["match_blur=true"])
    assert spec.run.match_blur and not load_recipe("smoke").run.match_blur
    assert config_key("x", plain(spec.run)) != config_key("x", plain(load_recipe("smoke").run))
    assert "match_blur" not in plain(load_recipe("smoke").run)  # old runs keep their keys
    path = train_model(spec, tmp_path / "held", progress=False, precision="fp32")
    notes = json.loads((tmp_path / "held" / "model.json").read_text())
    assert notes["match_blur"] is True and notes["spec"]["match_blur"] is True
    model, _ = load_predictor(path)
    assert isinstance(model, MatchBlur)
    blur = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    with torch.no_grad():
        torch.testing.assert_close(synthesize_blur(model(blur), "srgb"), blur, atol=1e-4, rtol=0)
    with pytest.warns(UserWarning, match=r"trained held to the blur .*not a deblurred video"):
        alone, _ = load_predictor(path, match_blur=False)  # asked for: allowed, but said what it is
    assert not isinstance(alone, MatchBlur)
    with pytest.raises(ValueError, match="match_blur='yes': expected true or false"):
        load_recipe("smoke", overrides=["match_blur=yes"])


@pytest.mark.parametrize("override, message", [
    ("lr=abc", "lr='abc': expected a number"),
    ("lr=0", "lr=0: expected a positive learning rate"),
    ("width=2.5", "width=2.5: expected an integer"),
    ("batch=0", "batch=0: expected a positive integer"),
    ("n_test=many", "n_test='many': expected an integer"),
    ("minutes=-1", "minutes=-1: expected a positive number of minutes"),
    ("data.size=abc", "data.size='abc': expected an integer"),
    ("data.max_shift=far", "data.max_shift='far': expected a number"),
    ("match_blur=1", "match_blur=1: expected true or false"),
    ("seed=null", "seed=None: expected an integer"),
])
def test_a_bad_value_names_its_setting_and_what_it_expects(override, message):
    with pytest.raises(ValueError, match=f"recipe 'smoke': {message}"):
        load_recipe("smoke", overrides=[override])


def test_a_recipe_is_a_budget_and_the_training_config_it_runs():
    """The recipe holds the training configuration itself (not a copy of its fields): the run it
    trains is that configuration with the budget's steps, so its checkpoint key is the one the
    configuration gives."""
    from blur2vid.training.denoiser import DenoiserTrainConfig

    recipe = load_recipe("unet-pans", overrides=["steps=7", "lr=2e-4"])
    assert recipe.run == UNetTrainConfig(data=recipe.data, batch=32, steps=7, lr=2e-4)
    assert recipe.steps == 7 and recipe.minutes is None
    timed = load_recipe("unet-captures")
    assert timed.steps is None and timed.minutes == 60.0 and isinstance(timed.run, UNetTrainConfig)
    assert isinstance(load_recipe("denoiser").run, DenoiserTrainConfig)
    with pytest.raises(ValueError, match="match_blur is for frames networks"):
        load_recipe("denoiser", overrides=["match_blur=true"])


@pytest.mark.parametrize("card", ["default_model.json", "default_denoiser.json"])
def test_the_committed_cards_recipes_read_back_to_the_same_settings(card):
    from importlib import resources

    spec = json.loads((resources.files("blur2vid") / "assets" / card).read_text())["spec"]
    assert Recipe.from_settings(spec).settings() == spec


def test_a_run_in_progress_recorded_before_recipes_were_composed_resumes(tmp_path):
    """``train_spec.json`` as the flat spec of earlier versions wrote it is the same run."""
    old = {"data": {"family": "captures", "size": 16, "max_shift": 4.0, "n_frames": 7, "data_root": None},
           "scheme": "hypercut", "ordering": "motion_rule", "width": 4, "depth": 1, "batch": 2, "lr": 0.001,
           "steps": 4, "minutes": None, "seed": 0, "n_test": 4}
    assert load_recipe("smoke").settings() == old
