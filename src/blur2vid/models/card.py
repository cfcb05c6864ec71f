"""A shipped model's card: how it was made, what it scored, how to remake it, under which licence.

The card is the JSON beside a shipped model file (``assets/default_model.json``,
``assets/default_denoiser.json``) and the notes inside it.  :class:`ModelCard` reads and writes
that JSON unchanged (the same keys, in the same order), so code reads a card by attribute and a
typo is an error, not a silent ``None``.  :mod:`blur2vid.app.shipping` writes cards.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blur2vid.core.io import atomic_write_text

__all__ = ["ModelCard"]

_FILE_NOTES = ("arch", "blur2vid")
"""What :func:`blur2vid.models.checkpoint.load_model` adds to a model file's notes, not part of its card."""


@dataclass(frozen=True, kw_only=True)
class ModelCard:
    """One model's card; the fields in the order the JSON holds them.  Fields that are ``None``
    are absent from the JSON (a denoiser's card has no ``match_blur``; only a fine-tune has
    ``fine_tuned_from``; only a model shipped held has ``evaluation_network_alone``)."""

    file: str
    """The model file the card belongs to, beside it."""
    trained_by: str | None = None
    """The ``blur2vid train`` command that trained it."""
    spec: dict[str, Any] | None = None
    """The training recipe's settings (:meth:`blur2vid.app.recipes.Recipe.settings`)."""
    steps: int | None = None
    budget: dict[str, Any] | None = None
    """Its budget: ``steps``, or ``minutes`` with the measured seconds per step and the processor."""
    samples: int | None = None
    train_seconds_this_session: float | None = None
    held_out: dict[str, Any] | None = None
    """The scores ``blur2vid train`` wrote into its notes (held-out scenes of its own data)."""
    last_loss: float | None = None
    match_blur: bool | None = None
    """Whether its frames are held to the photograph (``blur2vid predict`` does as this says)."""
    data_switches: dict[str, Any] | None = None
    """Every switch of its capture-like training scenes, defaults included."""
    fine_tuned_from: dict[str, Any] | None = None
    """The command, steps, samples and budget of the shipped model it started from."""
    retrain: str
    """The commands that remake it, from nothing."""
    licence: str
    evaluation: dict[str, Any]
    """What :mod:`blur2vid.app.shipping` measured it on."""
    evaluation_network_alone: dict[str, Any] | None = None
    """For a model shipped held: the same measurements of its network alone."""

    @classmethod
    def from_dict(cls, card: dict[str, Any], where: str = "a model card") -> ModelCard:
        """The card of a JSON object (or of a model file's notes, whose ``arch`` and ``blur2vid``
        it leaves out); an unknown key or a missing one is refused by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        card = {k: v for k, v in card.items() if k not in _FILE_NOTES}
        unknown = sorted(set(card) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; a model card has {sorted(known)}")
        required = sorted(f.name for f in dataclasses.fields(cls)
                          if f.default is dataclasses.MISSING and f.name not in card)
        if required:
            raise ValueError(f"{where}: missing key(s) {required}")
        return cls(**card)

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model card")
        try:
            return cls.from_dict(json.loads(path.read_text()), str(path))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc

    def to_dict(self) -> dict[str, Any]:
        """The card as its JSON holds it: the fields in order, those that are ``None`` left out."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the card to ``path``, atomically."""
        return atomic_write_text(Path(path), self.to_json())
