"""The data every trained notebook reads: one :class:`DataConfig` per profile.

Notebooks 02, 04, 05 and 06 train on the same data in a profile (the procedural scenes of
:mod:`blur2vid.data.scenes`, or a dataset folder), so the profile holds one ``DataConfig`` and
every training configuration carries that object: a later notebook finds the checkpoints of an
earlier one because the data is the same object, not because copies of its settings agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from blur2vid.data.scenes import SCENE_FAMILIES, SceneConfig, scene_config

__all__ = ["DataConfig"]


@dataclass(frozen=True)
class DataConfig:
    """Where training and test sequences come from.

    ``family`` names a kind of procedural scene (:data:`~blur2vid.data.scenes.SCENE_FAMILIES`),
    rendered at ``size`` x ``size`` with ``n_frames`` frames whose content moves at most
    ``max_shift`` pixels over the exposure.  With ``data_root`` the sequences are windows of the
    dataset folder instead, cropped to ``size`` (``max_shift`` is then only a guess at how far the
    footage moves, used by the hand-made order)."""

    family: str = "pans"
    size: int = 32
    max_shift: float = 8.0
    n_frames: int = 7
    data_root: str | None = None

    def __post_init__(self) -> None:
        if self.family not in SCENE_FAMILIES:
            raise ValueError(f"unknown scene family {self.family!r}; expected one of {sorted(SCENE_FAMILIES)}")
        if self.size < 8 or self.n_frames < 1 or self.max_shift < 0:
            raise ValueError(f"DataConfig needs size >= 8, n_frames >= 1 and max_shift >= 0, got {self}")
        if self.data_root is not None:  # resolved, so that a checkpoint key names one folder
            object.__setattr__(self, "data_root", str(Path(self.data_root).resolve()))

    def scenes(self, **fields) -> SceneConfig:
        """The :class:`SceneConfig` of these scenes (``fields`` override, e.g. ``max_shift``)."""
        base = dict(height=self.size, width=self.size, n_frames=self.n_frames, max_shift=self.max_shift)
        return scene_config(self.family, **{**base, **fields})

    def source(self, **options):
        """The :class:`~blur2vid.data.source.SceneSource` or ``FolderSource`` that serves batches."""
        from blur2vid.data.source import open_source

        return open_source(self.data_root, self.scenes(), **options)

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
        if self.data_root is not None:
            out["found"] = self.source().describe()
        return out
