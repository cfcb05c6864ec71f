"""Data: the ambiguity toys, procedural scenes, and (later) real datasets on disk.

Every source yields :class:`~blur2vid.data.sample.Batch`, so any experiment accepts any of them.
"""

from blur2vid.data.sample import Batch

__all__ = ["Batch"]
