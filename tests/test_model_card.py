"""The shipped model's card (docs/model_card.md) cannot disagree with default_model.json or with the
measurements it shows: it is those files rendered, and the committed card is checked against them."""

from pathlib import Path

import pytest

from blur2vid.app import model_card
from blur2vid.core.io import repo_root
from blur2vid.models.card import ModelCard
from blur2vid.models.checkpoint import default_model_path

ROOT = repo_root(Path(__file__))


def _shipped_card() -> ModelCard:
    return ModelCard.read(default_model_path().with_suffix(".json"))


def test_the_committed_card_says_what_default_model_json_says():
    text = (ROOT / model_card.CARD).read_text()
    assert model_card.card_text(_shipped_card()) in text
    card = _shipped_card()
    for number in (str(card.steps), str(card.samples), f"{card.evaluation['real_video']['mean']['mean']:.2f}"):
        assert number in text


def test_the_committed_card_shows_its_measurements():
    text = (ROOT / model_card.CARD).read_text()
    assert model_card.measured_text(ROOT / model_card.MEASURED) in text
    for link in ("real/per_frame.png", "captures/per_frame.png", "held_out_gain.png", "with_denoiser.png",
                 "held_out_at_scale.png"):
        assert (ROOT / model_card.MEASURED / link).is_file() and f"model_card/{link}" in text


def test_a_changed_card_changes_the_text():
    card = _shipped_card()
    other = ModelCard.from_dict({**card.to_dict(), "steps": card.steps + 1})
    assert model_card.card_text(other) != model_card.card_text(card)
    assert f"{card.steps + 1} steps" in model_card.card_text(other)


def test_measure_makes_only_what_is_missing(tmp_path, monkeypatch):
    made = []

    def steps(folder, device, n, progress):
        def step(name):
            def make():
                made.append(name)
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_text("x")
            return make
        return {name: step(name) for name in ("real/summary.csv", "held_out_gain.png")}

    monkeypatch.setattr(model_card, "_steps", steps)
    model_card.measure(tmp_path, n=2, progress=False)
    model_card.measure(tmp_path, n=2, progress=False)  # a resumed run: nothing made again
    assert made == ["real/summary.csv", "held_out_gain.png"]
    model_card.measure(tmp_path, n=2, force=True, progress=False)
    assert len(made) == 4


def test_a_missing_measurement_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="summary.csv"):
        model_card.measured_text(tmp_path)


def test_the_measurements_hold_no_path_of_the_machine_that_made_them():
    folder = ROOT / model_card.MEASURED
    for file in [*folder.rglob("*.json"), *folder.rglob("*.md"), ROOT / model_card.CARD]:
        assert str(ROOT) not in file.read_text() and "/home/" not in file.read_text(), file
