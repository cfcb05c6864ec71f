"""Folders of numbered frames (GoPro, REDS, Adobe240, your own): :class:`FrameFolderDataset`.

A *sequence* is a folder of numbered frames (``.png .jpg .jpeg .bmp .tif .tiff .webp``).  A frame's
number is the **last run of digits in its file name** (``000047.png`` -> 47, ``frame_12.jpg`` -> 12);
files are listed in natural order (numbers compared as numbers) and two files of one folder with the
same number are an error.  A sequence folder that has a ``sharp/`` sub-folder reads its frames from
there (GoPro's ``blur/`` and ``blur_gamma/`` are ignored: blurs are synthesised).

The layout under ``root`` is detected by these rules, first match wins (or forced with ``layout=``):

========== =========================================================== ==============================
layout     rule                                                        splits
========== =========================================================== ==============================
``single`` ``root`` itself holds frames: one sequence                  by fraction
``reds``   ``root/train_sharp/`` or ``root/val_sharp/`` exists (also    ``train_sharp`` -> train,
           ``root/train/train_sharp/``, ``root/val/val_sharp/``):      ``val_sharp`` -> test (REDS
           sequences are their sub-folders                             withholds its test frames)
``gopro``  ``root/train/`` or ``root/test/`` exists: sequences are      the folder's name
           their sub-folders (GoPro ``root/train/SEQ/sharp/*.png``;
           Adobe240 extracted as ``root/test/SEQ/*.png``)
``plain``  otherwise every (non-hidden) sub-folder of ``root`` is a     by fraction
           sequence: ``root/SEQ/*.png``
========== =========================================================== ==============================

Sequence names are unique within a dataset: ``SEQ`` (plain), ``train/SEQ`` (gopro),
``train_sharp/SEQ`` (reds), ``root``'s own name (single).  Windows, the split by fraction and the
synthesised blur are those of :mod:`blur2vid.data.windows`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import torch

from blur2vid.data.windows import (
    DatasetError,
    MissingFileError,
    Seq,
    SlidingWindowDataset,
    Window,
    assign_splits,
    image_size,
    load_stack,
    natural_key,
)

__all__ = ["IMAGE_EXTENSIONS", "FrameFolderDataset", "frame_number"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_DIGITS = re.compile(r"\d+")


def frame_number(path: str | os.PathLike) -> int:
    """The frame number of a file: the last run of digits in its name without suffix."""
    digits = _DIGITS.findall(Path(path).stem)
    if not digits:
        raise DatasetError(f"{path}: frame file name has no number; frames must be numbered (e.g. 000001.png)")
    return int(digits[-1])


def _name_for(neighbour: Path, number: int) -> str:
    """The file name ``number`` would have, by the pattern of ``neighbour`` (zero padding kept)."""
    stem = neighbour.stem
    m = list(_DIGITS.finditer(stem))[-1]
    return stem[: m.start()] + str(number).zfill(len(m.group())) + stem[m.end() :] + neighbour.suffix


class FrameFolderDataset(SlidingWindowDataset):
    """Sliding windows of ``n_frames`` numbered frames in sequence folders; blur synthesised.

    See the module docstring for the layouts (``layout="auto"`` detects them) and
    :mod:`blur2vid.data.windows` for windows (``stride``, ``frame_step``, ``on_gap``,
    ``skip_short``), splits (``split``, ``split_fraction``, ``test_sequences``, ``seed``) and
    ``downsample``; ``crf`` is the camera response of the synthesised blur.  ``validate=True`` reads
    every frame header of the loaded split at construction (:meth:`validate`).  ``name`` (default:
    the folder's name) labels the dataset in :func:`~blur2vid.data.windows.dataset_table`.
    """

    source = "frames"
    layouts = ("auto", "single", "plain", "gopro", "reds")

    def __init__(
        self,
        root: str | os.PathLike,
        n_frames: int = 7,
        stride: int | None = None,
        split: str = "train",
        downsample: float = 1.0,
        crf="gamma2.2",
        seed: int = 0,
        split_fraction: float = 0.2,
        test_sequences: Iterable[str] | None = None,
        layout: str = "auto",
        on_gap: str = "error",
        skip_short: bool = False,
        validate: bool = False,
        name: str | None = None,
        frame_step: int = 1,
    ) -> None:
        self._init_common(n_frames, stride, split, downsample, crf, seed, on_gap, skip_short, split_fraction,
                          frame_step)
        if layout not in self.layouts:
            raise ValueError(f"unknown layout {layout!r}; expected one of {self.layouts}")
        self.root = Path(root)
        if not self.root.exists():
            raise MissingFileError(f"{self.root}: no such folder")
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a folder (FrameFolderDataset reads folders of frames; "
                               f"VideoDataset reads video files)")
        self.name = name or self.root.resolve().name
        self.layout, found = _detect_layout(self.root, layout)
        fixed_split = self.layout in ("gopro", "reds")
        if fixed_split and test_sequences is not None:
            raise DatasetError(f"{self.root}: the {self.layout} layout fixes the split by folder; "
                               f"test_sequences applies to the single and plain layouts only")
        if not fixed_split:
            splits = assign_splits([n for n, _, _ in found], self.split_fraction, test_sequences, self.seed,
                                   str(self.root))
            found = [(n, splits[n], d) for n, _, d in found]
        for seq_name, seq_split, frame_dir in found:
            frames = _index_frames(frame_dir)
            if not frames:
                raise DatasetError(f"{frame_dir}: empty sequence folder: no frames ({' '.join(IMAGE_EXTENSIONS)})")
            self._sequences.append(Seq(seq_name, seq_split, frame_dir, frames))
        for seq in self._sequences:  # every split's windows: gaps anywhere on disk are reported
            self._windows(seq)
        self._select()
        if validate:
            self.validate()

    def frame_size(self, window: Window) -> tuple[int, int]:
        """``(H, W)`` of the window's first frame, from its header."""
        return image_size(self._seq(window.sequence).frames[window.frames[0]])

    def _image_groups(self):
        for name in self.sequences:  # every frame of a sequence, in or out of windows
            frames = self._seq(name).frames
            yield [frames[k] for k in sorted(frames)], f"sequence '{name}'"

    def _numbers(self, seq: Seq) -> list[int]:
        return sorted(seq.frames)

    def _missing_name(self, seq: Seq, number: int) -> str:
        below = [k for k in seq.frames if k < number]
        neighbour = seq.frames[max(below)] if below else seq.frames[min(seq.frames)]
        return str(seq.path / _name_for(neighbour, number))

    def _load(self, seq: Seq, window: Window, where: str) -> tuple[torch.Tensor, dict]:
        paths = [seq.frames[k] for k in window.frames]
        return load_stack(paths, where), {"frame_numbers": window.frames, "paths": [str(p) for p in paths]}


def _is_image(entry: os.DirEntry) -> bool:
    return entry.is_file() and not entry.name.startswith(".") and Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS


def _has_images(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return any(_is_image(e) for e in it)


def _subdirs(folder: Path) -> list[Path]:
    with os.scandir(folder) as it:
        dirs = [Path(e.path) for e in it if e.is_dir() and not e.name.startswith(".")]
    return sorted(dirs, key=lambda p: natural_key(p.name))


def _index_frames(folder: Path) -> dict[int, Path]:
    """Frame number -> file of the images directly in ``folder``, in number order."""
    with os.scandir(folder) as it:
        files = [Path(e.path) for e in it if _is_image(e)]
    frames: dict[int, Path] = {}
    for path in sorted(files, key=lambda p: natural_key(p.name)):
        number = frame_number(path)
        if number in frames:
            raise DatasetError(f"{path}: frame number {number} is also the number of {frames[number].name}; "
                               f"one numbered frame per file in a sequence folder")
        frames[number] = path
    return dict(sorted(frames.items()))


def _frame_dir(seq_dir: Path) -> Path:
    sharp = seq_dir / "sharp"
    return sharp if sharp.is_dir() else seq_dir


def _reds_folders(root: Path) -> list[tuple[Path, str]]:
    found = []
    for folder, split in (("train_sharp", "train"), ("val_sharp", "test")):
        for cand in (root / folder, root / folder.split("_")[0] / folder):
            if cand.is_dir():
                found.append((cand, split))
                break
    return found


def _detect_layout(root: Path, layout: str) -> tuple[str, list[tuple[str, str | None, Path]]]:
    """The layout of ``root`` and its sequences ``(name, split or None, frame folder)``."""
    if layout == "auto":
        if _has_images(root):
            layout = "single"
        elif _reds_folders(root):
            layout = "reds"
        elif (root / "train").is_dir() or (root / "test").is_dir():
            layout = "gopro"
        elif _subdirs(root):
            layout = "plain"
        else:
            raise DatasetError(f"{root}: empty folder: no frames ({' '.join(IMAGE_EXTENSIONS)}) and no sequence folders")
    if layout == "single":
        return layout, [(root.resolve().name, None, root)]
    if layout == "plain":
        seqs = [(d.name, None, _frame_dir(d)) for d in _subdirs(root)]
    elif layout == "gopro":
        seqs = [(f"{s}/{d.name}", s, _frame_dir(d)) for s in ("train", "test") if (root / s).is_dir()
                for d in _subdirs(root / s)]
    else:  # reds
        seqs = [(f"{folder.name}/{d.name}", split, _frame_dir(d)) for folder, split in _reds_folders(root)
                for d in _subdirs(folder)]
    if not seqs:
        raise DatasetError(f"{root}: empty folder: no sequence folders for the {layout} layout")
    return layout, seqs
