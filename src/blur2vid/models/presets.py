"""Size presets of the networks, looked up by name in one way everywhere."""

from __future__ import annotations

__all__ = ["Presets"]


class Presets:
    """Mixin for a network's config dataclass with classmethods ``smoke``, ``cpu`` and ``paper``:
    ``Config.preset("cpu", **overrides)`` picks one by name, with a clear error for another name."""

    PRESETS = ("smoke", "cpu", "paper")

    @classmethod
    def preset(cls, name: str, **overrides):
        if name not in cls.PRESETS:
            raise ValueError(f"unknown {cls.__name__} preset {name!r}; expected one of {list(cls.PRESETS)}")
        return getattr(cls, name)(**overrides)
