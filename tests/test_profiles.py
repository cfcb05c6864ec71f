"""Profiles: the resolved configuration of every notebook is pinned, shared where notebooks share
runs, and the dataclass defaults are the cpu profile's."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from blur2vid.data.config import DataConfig
from blur2vid.experiments.blur_formation import FormationConfig
from blur2vid.experiments.hypercut_blur2vid import HyperCUTExperimentConfig
from blur2vid.experiments.hypercut_ordering import OrderingExperimentConfig
from blur2vid.experiments.jin_losses import LossesConfig
from blur2vid.experiments.jin_training import JinExperimentConfig
from blur2vid.experiments.order_ambiguity import AmbiguityConfig
from blur2vid.experiments.your_own_image import PhotosConfig
from blur2vid.reproduction.profiles import NOTEBOOK_SECTIONS, PROFILE_NAMES, get_profile, resolved
from blur2vid.training.cascade import JinTrainConfig, middle_run_config
from blur2vid.training.hyperplane import HyperCUTTrainConfig
from blur2vid.training.loop import config_key, run_config
from blur2vid.training.unet_schemes import UNetTrainConfig

GOLDEN = Path(__file__).parent / "golden" / "profiles.json"


@pytest.fixture(autouse=True)
def _no_vgg_file(monkeypatch):
    monkeypatch.delenv("BLUR2VID_VGG16", raising=False)


def test_resolved_configurations_match_the_golden_file():
    """A change to any size of any notebook at any profile shows here; regenerate the golden file
    (see its test) only for a change made on purpose, and say so in the commit."""
    golden = json.loads(GOLDEN.read_text())
    for name in PROFILE_NAMES:
        assert json.loads(json.dumps(resolved(get_profile(name)))) == golden[name], (
            f"profile {name!r} resolves differently from {GOLDEN.name}")


def test_notebooks_that_share_runs_share_the_configuration_objects():
    """Notebook 06 finds the runs of 02, 04 and 05 because it holds the same configurations, and 07
    finds 04's: one data object for the U-Net and the orderings, its Jin-sized crops for the cascade."""
    for name in PROFILE_NAMES:
        p = get_profile(name, seed=3)
        assert p.hypercut.unet is p.ambiguity.unet
        assert p.hypercut.jin is p.jin.train is p.photos.jin
        assert p.hypercut.ordering is p.ordering.train
        assert p.ambiguity.unet.data is p.ordering.train.data is p.data
        assert p.jin.train.data is p.jin_data  # the same scenes in crops that suit Jin's factors 4 and 5
        assert replace(p.jin_data, size=p.data.size) == p.data
        assert p.jin_data.size % 4 == 0 and p.jin_data.size % 5 == 0
        assert {p.formation.seed, p.losses.seed, p.jin.train.seed, p.ordering.train.seed, p.ambiguity.unet.seed} == {3}


def test_the_keys_follow_seed_and_data(tmp_path):
    a, b = get_profile("cpu", seed=0), get_profile("cpu", seed=1)
    assert config_key("m", middle_run_config(a.jin.train)) != config_key("m", middle_run_config(b.jin.train))
    folder = get_profile("cpu", data_root=tmp_path)
    assert folder.data.data_root == str(tmp_path.resolve()) and folder.jin.train.data.data_root == folder.data.data_root
    assert run_config(folder.ambiguity.unet) != run_config(a.ambiguity.unet)


def test_dataclass_defaults_are_the_cpu_profile():
    cpu = get_profile("cpu")
    assert cpu.data == DataConfig()
    assert cpu.formation == FormationConfig()
    assert cpu.ambiguity == AmbiguityConfig()
    assert cpu.ambiguity.unet == UNetTrainConfig()
    assert cpu.losses == LossesConfig()
    assert cpu.jin == JinExperimentConfig() and cpu.jin.train == JinTrainConfig()
    assert cpu.ordering == OrderingExperimentConfig() and cpu.ordering.train == HyperCUTTrainConfig()
    assert cpu.hypercut == HyperCUTExperimentConfig()
    assert cpu.photos == PhotosConfig()


def test_every_notebook_has_a_section_and_bad_names_are_refused():
    notebooks = {p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert notebooks == set(NOTEBOOK_SECTIONS)
    profile = get_profile("smoke")
    with pytest.raises(KeyError, match="99_nothing"):
        profile.section("99_nothing")
    with pytest.raises(ValueError, match="'fast'"):
        get_profile("fast")


def test_configs_refuse_what_cannot_run():
    with pytest.raises(ValueError, match="scene family 'blobs'"):
        DataConfig(family="blobs")
    with pytest.raises(ValueError, match="7 frames"):
        JinTrainConfig(data=DataConfig(n_frames=5))
    with pytest.raises(ValueError, match="preset 'huge'"):
        JinTrainConfig(model="huge")
    with pytest.raises(ValueError, match="unknown Jin variants"):
        JinExperimentConfig(variants=("independent", "magic"))
    with pytest.raises(ValueError, match="unknown orderings"):
        OrderingExperimentConfig(orderings=("generic", "astrology"))
    with pytest.raises(ValueError, match="not among the orderings"):
        HyperCUTExperimentConfig(main="generic")


def test_the_key_format_version_changes_every_key():
    import blur2vid.training.loop as train

    cfg = UNetTrainConfig()
    before = config_key("u", run_config(cfg))
    version = train.KEY_FORMAT
    try:
        train.KEY_FORMAT = version + 1
        assert config_key("u", run_config(cfg)) != before
    finally:
        train.KEY_FORMAT = version
    assert config_key("u", run_config(replace(cfg, steps=cfg.steps + 1))) != before
