"""The data every trained notebook reads: one :class:`DataConfig` per profile.

Notebooks 02, 04, 05 and 06 train on the same data in a profile (the procedural scenes of
:mod:`blur2vid.data.scenes`, or a dataset folder), so the profile holds one ``DataConfig`` and
every training configuration carries that object: a later notebook finds the checkpoints of an
earlier one because the data is the same object, not because copies of its settings agree.

Two named evaluation sets are fixed here, before anything is tuned on them:

* the **validation set** (:meth:`DataConfig.validation_set`, seed :data:`VALIDATION_SEED`): for every
  design choice (budgets, widths, learning rates) and for the validation curves logged during
  training;
* the **test set** (:meth:`DataConfig.test_set`, seed :data:`TEST_SEED`): frozen, read only by the
  reported tables.

Neither depends on the training seed, so every seed of a batch of runs is scored on the very same
scenes (the intervals of :mod:`blur2vid.experiments.intervals` resample them as one crossed factor).
Training batches come from ``derive_seed(training seed, "train", step)``, another stream.  With a
dataset folder the test set is the folder's test split; the validation set its ``val`` split where
the layout has one (RB2V), else centre crops of evenly spaced *training* windows (so on a folder the
validation scores are in-sample: good enough to compare choices, never reported as results).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from blur2vid.data.scenes import SCENE_FAMILIES, SceneConfig, scene_config

__all__ = ["DataConfig", "VALIDATION_SEED", "TEST_SEED", "split_seed"]

VALIDATION_SEED = 20261202
"""Seed of the validation set (named once; changing it changes every choice made on it)."""
TEST_SEED = 20181118
"""Seed of the frozen test set: the reported tables' scenes.  Never tune anything on these."""


def split_seed(split: str, purpose: str = "") -> int:
    """The seed of evaluation set ``split`` (``"validation"`` or ``"test"``) for ``purpose`` (a
    separate set, e.g. ``"large"`` for Table 2's larger blur, or ``"ordering"``)."""
    from blur2vid.core.seeding import derive_seed

    seeds = {"validation": VALIDATION_SEED, "test": TEST_SEED}
    if split not in seeds:
        raise ValueError(f"unknown evaluation split {split!r}; expected one of {sorted(seeds)}")
    return derive_seed(seeds[split], purpose) if purpose else seeds[split]


CAPTURES = "captures"
"""The family of the capture-like scenes (:mod:`blur2vid.data.captures`)."""

FAMILIES = (*SCENE_FAMILIES, CAPTURES)
"""Every value ``DataConfig.family`` takes."""


@dataclass(frozen=True)
class DataConfig:
    """Where training and test sequences come from.

    ``family`` names a kind of procedural scene (:data:`~blur2vid.data.scenes.SCENE_FAMILIES`,
    or ``"captures"``: the capture-like scenes of :mod:`blur2vid.data.captures` with their
    defaults), rendered at ``size`` x ``size`` with ``n_frames`` frames whose content moves at most
    ``max_shift`` pixels over the exposure.  With ``data_root`` the sequences are windows of the
    dataset folder instead, cropped to ``size`` (``max_shift`` is then only a guess at how far the
    footage moves, used by the hand-made order).

    ``capture`` sets switches of the capture-like scenes (``family="captures"`` only): any field
    of :class:`~blur2vid.data.captures.CaptureConfig` but the three set here (``size``, ``n_frames``,
    ``max_motion``), as a mapping (``{"minify": [1, 8], "clean": 0.3}``); it is kept as sorted
    ``(name, value)`` pairs, lists as tuples, and left out of the keys while empty (so runs without
    it keep their checkpoints)."""

    family: str = "pans"
    size: int = 32
    max_shift: float = 8.0
    n_frames: int = 7
    data_root: str | None = None
    capture: tuple[tuple[str, Any], ...] = field(default=(), metadata={"plain": "omit_default"})

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown scene family {self.family!r}; expected one of {sorted(FAMILIES)}")
        if self.size < 8 or self.n_frames < 1 or self.max_shift < 0:
            raise ValueError(f"DataConfig needs size >= 8, n_frames >= 1 and max_shift >= 0, got {self}")
        if self.data_root is not None:  # resolved, so that a checkpoint key names one folder
            object.__setattr__(self, "data_root", str(Path(self.data_root).resolve()))
        object.__setattr__(self, "capture", _switches(self.capture))
        if self.capture:
            from blur2vid.data.captures import CaptureConfig

            if self.family != CAPTURES or self.data_root is not None:
                raise ValueError(f"capture switches {dict(self.capture)} apply to family='captures' without a "
                                 f"data_root, not to family={self.family!r}"
                                 + (f" on {self.data_root}" if self.data_root else ""))
            known = sorted({f.name for f in fields(CaptureConfig)} - _OWN_CAPTURE_FIELDS)
            bad = sorted(k for k, _ in self.capture if k not in known)
            if bad:
                raise ValueError(f"unknown capture switch(es) {bad}; expected some of {known}")
            self.captures()  # the values are checked by CaptureConfig

    def scenes(self, **fields) -> SceneConfig:
        """The :class:`SceneConfig` of these scenes (``fields`` override, e.g. ``max_shift``).  For
        ``"captures"`` it only carries the sizes a data folder's crops need (a camera pan)."""
        base = dict(height=self.size, width=self.size, n_frames=self.n_frames, max_shift=self.max_shift)
        return scene_config("pans" if self.family == CAPTURES else self.family, **{**base, **fields})

    def captures(self, **fields):
        """The :class:`~blur2vid.data.captures.CaptureConfig` of ``family="captures"``: its
        defaults at this size, frame count and motion (``max_shift`` is its ``max_motion``), with the
        ``capture`` switches and then ``fields`` over them."""
        from blur2vid.data.captures import CaptureConfig

        if "max_shift" in fields:
            fields["max_motion"] = fields.pop("max_shift")
        return CaptureConfig(**{"size": self.size, "n_frames": self.n_frames, "max_motion": self.max_shift,
                                **dict(self.capture), **fields})

    def source(self, **options):
        """The :class:`~blur2vid.data.source.SceneSource`, ``CaptureSource`` or ``FolderSource``
        that serves batches."""
        from blur2vid.data.source import CaptureSource, open_source

        if self.family == CAPTURES and self.data_root is None:
            if options:
                raise ValueError(f"options {sorted(options)} apply to a data_root only")
            return CaptureSource(self.captures())
        return open_source(self.data_root, self.scenes(), **options)

    def test_set(self, n: int, device="cpu", purpose: str = "", **scene_fields):
        """The frozen test set: ``n`` held-out scenes (or the folder's test windows) for ``purpose``;
        ``scene_fields`` change the scenes (e.g. ``max_shift`` for a larger blur; procedural only)."""
        seed = split_seed("test", purpose)
        if scene_fields:
            from blur2vid.data.scenes import scene_set
            from blur2vid.data.source import CaptureSource

            if self.data_root is not None:
                raise ValueError("scene fields apply to the procedural scenes only, not to a data folder")
            if self.family == CAPTURES:
                return CaptureSource(self.captures(**scene_fields)).test_set(n, seed, device)
            return scene_set(self.scenes(**scene_fields), n, seed, device)
        return self.source().test_set(n, seed, device)

    def validation_set(self, n: int, device="cpu", purpose: str = ""):
        """The validation set: ``n`` scenes for design choices and training curves (see the module
        docstring), never the test set's."""
        return self.source().validation_set(n, split_seed("validation", purpose), device)

    def with_root(self, data_root: str | None) -> DataConfig:
        """The same settings on another dataset folder (``None``: the procedural scenes)."""
        return replace(self, data_root=data_root)

    def identity(self) -> dict[str, Any]:
        """What decides the data, for checkpoint keys: the settings, and for a folder what the
        loaders found in it (layout, windows per split), so that other footage in the same folder
        trains anew instead of resuming.  A folder is read once per process (``open_source`` keeps
        its index): footage added while a kernel runs is seen after a restart, by keys and batches
        alike."""
        out = asdict(self)
        if self.capture:
            out["capture"] = dict(self.capture)
        else:  # left out while empty: the keys of runs from before the switches existed hold
            out.pop("capture")
        if self.data_root is not None:
            out["found"] = self.source().describe()
        return out


_OWN_CAPTURE_FIELDS = {"size", "n_frames", "max_motion"}
"""The CaptureConfig fields a DataConfig sets itself (``size``, ``n_frames``, ``max_shift``)."""


def _switches(value) -> tuple[tuple[str, Any], ...]:
    """Capture switches as sorted ``(name, value)`` pairs, lists as tuples (hashable, one spelling)."""
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        try:
            pairs = [tuple(p) for p in value]
        except TypeError:
            pairs = None
        if pairs is None or any(len(p) != 2 for p in pairs):
            raise ValueError(f"capture must be a mapping of CaptureConfig switches, got {value!r}")
    fixed = [(str(k), tuple(v) if isinstance(v, list) else v) for k, v in pairs]
    return tuple(sorted(fixed))
