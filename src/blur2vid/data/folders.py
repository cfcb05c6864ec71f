"""Real data on disk: folders of frames (GoPro, REDS, Adobe240, your own), video files, and RB2V.

Every loader here is a :class:`torch.utils.data.Dataset` of single :class:`Sample` objects (a blur
``[C, H, W]``, its sharp frames ``[T, C, H, W]`` and a ``meta`` dict); :func:`collate` stacks them
into the :class:`~blur2vid.data.sample.Batch` that the procedural scenes return, and :func:`loader`
wraps a dataset in a seeded :class:`~torch.utils.data.DataLoader` that does so.  Values are camera
intensities in ``[0, 1]``, 3 channels.

Frame folders: :class:`FrameFolderDataset`
------------------------------------------
A *sequence* is a folder of numbered frames (``.png .jpg .jpeg .bmp .tif .tiff .webp``).  A frame's
number is the **last run of digits in its file name** (``000047.png`` -> 47, ``frame_12.jpg`` -> 12);
files are listed in natural order (numbers compared as numbers) and two files of one folder with the
same number are an error.  A sequence folder that has a ``sharp/`` sub-folder reads its frames from
there (GoPro's ``blur/`` and ``blur_gamma/`` are ignored: blurs are synthesised).

The layout under ``root`` is detected by these rules, first match wins (or forced with ``layout=``):

========== =========================================================== ==============================
layout     rule                                                        splits
========== =========================================================== ==============================
``single`` ``root`` itself holds frames: one sequence                  by fraction (see below)
``reds``   ``root/train_sharp/`` or ``root/val_sharp/`` exists (also    ``train_sharp`` -> train,
           ``root/train/train_sharp/``, ``root/val/val_sharp/``):      ``val_sharp`` -> test (REDS
           sequences are their sub-folders                             withholds its test frames)
``gopro``  ``root/train/`` or ``root/test/`` exists: sequences are      the folder's name
           their sub-folders (GoPro ``root/train/SEQ/sharp/*.png``;
           Adobe240 extracted as ``root/test/SEQ/*.png``)
``plain``  otherwise every (non-hidden) sub-folder of ``root`` is a     by fraction (see below)
           sequence: ``root/SEQ/*.png``
========== =========================================================== ==============================

Sequence names are unique within a dataset: ``SEQ`` (plain), ``train/SEQ`` (gopro),
``train_sharp/SEQ`` (reds), ``root``'s own name (single).  Where the layout has no split folders,
sequences are split **by sequence**, never by frame: ``test_sequences`` names the test sequences
explicitly, otherwise ``round(split_fraction * n)`` of the ``n`` sequences (at least one of each
split when ``n >= 2`` and ``0 < split_fraction < 1``) are drawn for test by a generator seeded with
``seed``, and the rest are train.  ``split="all"`` takes every sequence.

Windows.  A sample is a window of ``n_frames`` consecutive frame *numbers* ``s, s+1, ..., s+n-1``;
``s`` runs from the sequence's first number in steps of ``stride`` (default ``n_frames``: windows
do not overlap; ``stride=1``: every window) while the window fits.  ``frame_step=k`` takes every
``k``-th frame instead, ``s, s+k, ..., s+(n-1)k`` (the same ``n_frames`` with ``k`` times the motion
between them: a larger blur, more ghosted at low frame rates; the default stride is then the span
``(n-1)k+1``, and only the numbers of the window need to exist).  A number missing inside a window
is an error (:class:`MissingFileError`, naming the expected file) unless ``on_gap="skip"``, which
drops the windows that cross the gap.  A sequence with fewer than ``n_frames`` frames is an error
unless ``skip_short=True``.  The blur of a window is :func:`~blur2vid.formation.synthesize_blur` of
its frames through ``crf`` (Jin Eq. 1).  Note that frame rate matters: consecutive frames of a
high-speed capture (GoPro and Adobe240 at 240 fps) average to a realistic blur, REDS's 24 fps
frames to a ghosted one.

Geometry.  Frames are downsampled by ``downsample`` (bilinear with antialiasing, in camera
intensity; Jin used 0.45 of GoPro's 1280x720), then cropped to ``crop`` (an int or ``(h, w)``) at
the same place in every frame of the window.  ``crop_mode="center"`` is deterministic;
``"random"`` draws the corner from ``(seed, epoch, index)``, so a sample is reproducible and
:meth:`set_epoch` gives new crops each epoch (call it before creating the epoch's iterator; workers
receive a copy of the dataset then).

Video files: :class:`VideoDataset`
----------------------------------
A sequence is one video file (``.mp4 .mov .avi .mkv .webm``), decoded with the ffmpeg binary that
ships inside the ``imageio-ffmpeg`` wheel (the backend of imageio's FFMPEG plugin), first video
stream, every decoded frame kept (``-fps_mode passthrough``: no frames dropped or duplicated to a
constant rate).  ``path_or_folder`` is one video, a folder of videos (searched recursively; split by
fraction as above) or a folder with ``train/`` and ``test/`` sub-folders of videos.  At construction
each video of the selected split is *probed*: decoded once by ffmpeg to a null sink, which counts
its frames and, with ``strict=True``, rejects any video for which ffmpeg reports an error (truncated
or corrupt files).  Frames are decoded on first use of a video and the whole video is kept in memory
as ``uint8 [N, H, W, 3]`` (720p: 2.8 MB a frame, so about 0.8 GB for 300 frames) for the
``cache_videos`` most recently used videos of each process; windows of one video are then cheap.
Reading windows of many long videos in random order re-decodes them: extract the frames to a
folder and use :class:`FrameFolderDataset` instead.

RB2V: :class:`RB2VDataset`
--------------------------
HyperCUT's real blur dataset: ``root/metadata.json`` holds ``name``, ``frame_per_seq`` (7) and
``data``, a list of samples, each with ``id``, ``order``, ``partition`` (``train`` / ``val`` /
``test``), ``blur_path`` and ``frame001_path`` ... ``frame{N:03d}_path``, paths relative to ``root``
(the folder of ``metadata.json``).  The blur is the real captured image.  ``order`` sets the
direction of the target sequence, as in the public HyperCUT release:

============================ ==================================================================
``order``                    ``frames`` of the sample
============================ ==================================================================
``"ignore"`` (or ``"keep"``, ``frame001 ... frameN`` as listed
``"forward"``)
``"reverse"``                ``frameN ... frame001`` (the listed order played backwards)
``"random"``                 reversed or not with probability 1/2, drawn once per sample from
                             ``(seed, id)``: fixed for the dataset's lifetime, reproducible
============================ ==================================================================

Anything else (including booleans and numbers) is an error naming the sample.  The blur is never
changed by ``order``; ``meta["reversed"]`` records the outcome.  A sample's *sequence* (for
:func:`dataset_table`) is its ``id`` up to the last ``/`` (``"00000/0000"`` -> ``"00000"``).

Errors
------
Bad data raises :class:`DatasetError` (a ``ValueError``) or :class:`MissingFileError` (also a
``FileNotFoundError``), with the file, sequence or sample in the message: a gap in the numbering
inside a window, frames of different sizes in one window, an unreadable or truncated image or video,
a malformed or incomplete ``metadata.json``, a window longer than a sequence, an empty folder, an
unknown split.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from blur2vid.data.sample import Batch
from blur2vid.data.scenes import derive_seed
from blur2vid.formation import get_crf, synthesize_blur
from blur2vid.io import load_image

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "DatasetError",
    "MissingFileError",
    "Sample",
    "FrameFolderDataset",
    "image_size",
    "VideoDataset",
    "RB2VDataset",
    "dataset_table",
    "collate",
    "loader",
    "natural_key",
    "frame_number",
    "VideoInfo",
    "probe_video",
    "read_video",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm")
_SPLIT_ORDER = ("train", "val", "test")
_DIGITS = re.compile(r"(\d+)")


class DatasetError(ValueError):
    """Data on disk that cannot be used as it is; the message names the file, sequence or sample."""


class MissingFileError(DatasetError, FileNotFoundError):
    """A file or folder the dataset needs does not exist (also a ``FileNotFoundError``)."""


@dataclass
class Sample:
    """One sample: ``blur [C, H, W]``, ``frames [T, C, H, W]`` and per-sample ``meta``."""

    blur: torch.Tensor
    frames: torch.Tensor
    meta: dict = field(default_factory=dict)

    def as_batch(self) -> Batch:
        """This sample as a batch of one."""
        return collate([self])


# --------------------------------------------------------------------------- small helpers


def natural_key(name: str) -> list:
    """Sort key that compares runs of digits as numbers: ``f2.png < f10.png``."""
    return [int(p) if i % 2 else p.lower() for i, p in enumerate(_DIGITS.split(name))]


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


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_split(split, valid: Sequence[str]) -> str:
    if not isinstance(split, str) or split not in valid:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(map(repr, valid))}")
    return split


def _check_geometry(downsample, crop, crop_mode) -> tuple[float, tuple[int, int] | None]:
    if isinstance(downsample, bool) or not isinstance(downsample, (int, float)) or not 0 < downsample <= 1:
        raise ValueError(f"downsample must be a factor in (0, 1], got {downsample!r}")
    if crop is not None:
        pair = (crop, crop) if _is_int(crop) else tuple(crop) if isinstance(crop, (tuple, list)) else None
        if pair is None or len(pair) != 2 or not all(_is_int(c) and c >= 1 for c in pair):
            raise ValueError(f"crop must be None, a positive int or a pair (h, w) of positive ints, got {crop!r}")
        crop = (int(pair[0]), int(pair[1]))
    if crop_mode not in ("random", "center"):
        raise ValueError(f"crop_mode must be 'random' or 'center', got {crop_mode!r}")
    return float(downsample), crop


def _resize_crop(images: torch.Tensor, downsample: float, crop, crop_mode: str, rng_seed: int, where: str):
    """Downsample ``[N, C, H, W]`` (antialiased bilinear) and crop all N images at one place.

    Returns the images and the crop box ``(top, left, h, w)`` (``None`` without a crop)."""
    if downsample != 1.0:
        h, w = images.shape[-2:]
        size = (max(1, round(h * downsample)), max(1, round(w * downsample)))
        images = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0.0, 1.0)
    if crop is None:
        return images, None
    (ch, cw), (h, w) = crop, images.shape[-2:]
    if ch > h or cw > w:
        scaled = f" after downsample {downsample:g}" if downsample != 1.0 else ""
        raise DatasetError(f"crop {ch}x{cw} is larger than the {h}x{w} frames{scaled} of {where}")
    if crop_mode == "center":
        top, left = (h - ch) // 2, (w - cw) // 2
    else:
        rng = random.Random(rng_seed)
        top, left = rng.randint(0, h - ch), rng.randint(0, w - cw)
    return images[..., top : top + ch, left : left + cw].contiguous(), (top, left, ch, cw)


def _load_frame(path: Path, where: str) -> torch.Tensor:
    """:func:`blur2vid.io.load_image` with the sample named in the error."""
    try:
        return load_image(path)
    except FileNotFoundError as exc:
        raise MissingFileError(f"{exc} (needed by {where})") from exc
    except ValueError as exc:
        raise DatasetError(f"{exc} (needed by {where})") from exc


def _stack_same_size(images: list[torch.Tensor], paths: list[Path], where: str) -> torch.Tensor:
    ref = images[0].shape
    for img, path in zip(images, paths, strict=True):
        if img.shape != ref:
            raise DatasetError(
                f"{path}: image is {img.shape[-2]}x{img.shape[-1]} but {paths[0].name} is {ref[-2]}x{ref[-1]}; "
                f"all images of {where} must have one size"
            )
    return torch.stack(images)


def image_size(path: Path) -> tuple[int, int]:
    """``(H, W)`` from the image header (EXIF rotation applied), without decoding the pixels."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.getexif().get(0x0112) in (5, 6, 7, 8):
                w, h = h, w
    except FileNotFoundError as exc:
        raise MissingFileError(f"{path}: no such image file") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read as an image ({exc})") from exc
    return h, w


def _assign_splits(names: list[str], split_fraction: float, test_sequences, seed: int, where: str) -> dict[str, str]:
    """Sequence name -> ``"train"`` / ``"test"`` for layouts without split folders."""
    if test_sequences is not None:
        wanted = [test_sequences] if isinstance(test_sequences, str) else list(test_sequences)
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise DatasetError(f"{where}: test_sequences names unknown sequences {unknown}; sequences are {names}")
        test = set(wanted)
    else:
        n = len(names)
        n_test = round(split_fraction * n)
        if n >= 2 and 0 < split_fraction < 1:
            n_test = min(max(n_test, 1), n - 1)
        test = set(random.Random(derive_seed(seed, "split")).sample(sorted(names), n_test))
    return {name: ("test" if name in test else "train") for name in names}


# --------------------------------------------------------------------------- window datasets


@dataclass
class _Seq:
    name: str
    split: str
    path: Path  # frame folder, or video file
    frames: dict[int, Path] | None = None  # frame folders: number -> file


class _WindowDataset(Dataset):
    """Shared machinery: sequences, sliding windows, geometry, blur synthesis, split counts."""

    source = "windows"
    splits = ("train", "test", "all")

    def _init_common(self, n_frames, stride, split, downsample, crop, crop_mode, crf, seed, on_gap, skip_short,
                     split_fraction, frame_step=1) -> None:
        if not _is_int(n_frames) or n_frames < 1:
            raise ValueError(f"n_frames must be a positive int, got {n_frames!r}")
        if not _is_int(frame_step) or frame_step < 1:
            raise ValueError(f"frame_step must be a positive int, got {frame_step!r}")
        self.frame_step = int(frame_step)
        if stride is None:
            stride = (n_frames - 1) * self.frame_step + 1
        if not _is_int(stride) or stride < 1:
            raise ValueError(f"stride must be a positive int or None, got {stride!r}")
        if on_gap not in ("error", "skip"):
            raise ValueError(f"on_gap must be 'error' or 'skip', got {on_gap!r}")
        if isinstance(split_fraction, bool) or not isinstance(split_fraction, (int, float)) or not 0 <= split_fraction <= 1:
            raise ValueError(f"split_fraction must be in [0, 1], got {split_fraction!r}")
        if not _is_int(seed):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.n_frames, self.stride = int(n_frames), int(stride)
        self.split = _check_split(split, self.splits)
        self.downsample, self.crop = _check_geometry(downsample, crop, crop_mode)
        self.crop_mode = crop_mode
        self.crf = get_crf(crf)
        self.seed = int(seed)
        self.on_gap, self.skip_short = on_gap, bool(skip_short)
        self.split_fraction = float(split_fraction)
        self.epoch = 0
        self._sequences: list[_Seq] = []
        self._windows_of: dict[str, list[tuple[int, ...]]] = {}

    # -- to be provided by subclasses
    def _numbers(self, seq: _Seq) -> list[int]:
        raise NotImplementedError

    def _load(self, seq: _Seq, window: tuple[int, ...], where: str) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def _missing_name(self, seq: _Seq, number: int) -> str:
        return f"{seq.path}: frame {number}"

    # -- windows
    def _windows(self, seq: _Seq) -> list[tuple[int, ...]]:
        if seq.name not in self._windows_of:
            self._windows_of[seq.name] = self._build_windows(seq)
        return self._windows_of[seq.name]

    def _build_windows(self, seq: _Seq) -> list[tuple[int, ...]]:
        numbers = self._numbers(seq)
        n = (self.n_frames - 1) * self.frame_step + 1  # the span of a window, in frame numbers
        if len(numbers) < n:
            if self.skip_short:
                return []
            step = f" (frame_step {self.frame_step}: a span of {n})" if self.frame_step > 1 else ""
            raise DatasetError(
                f"{seq.path}: a window of {self.n_frames} frames{step} is longer than sequence '{seq.name}' "
                f"({len(numbers)} frames); use fewer n_frames or skip_short=True"
            )
        present = set(numbers)
        windows = []
        for start in range(numbers[0], numbers[-1] - n + 2, self.stride):
            window = tuple(range(start, start + n, self.frame_step))
            missing = [k for k in window if k not in present]
            if missing:
                if self.on_gap == "skip":
                    continue
                raise MissingFileError(
                    f"{self._missing_name(seq, missing[0])} is missing from sequence '{seq.name}' (numbered "
                    f"{numbers[0]}..{numbers[-1]}, {len(numbers)} frames present); the window of frames "
                    f"{start}..{start + n - 1} needs it (on_gap='skip' drops windows across gaps)"
                )
            windows.append(window)
        return windows

    def _select(self) -> None:
        chosen = [s for s in self._sequences if self.split == "all" or s.split == self.split]
        if not chosen:
            have = sorted({s.split for s in self._sequences})
            raise DatasetError(
                f"{self.root}: split {self.split!r} has no sequences (splits present: {have}); "
                f"use split='all', another split, split_fraction or test_sequences"
            )
        self._index = [(s, w) for s in chosen for w in self._windows(s)]
        if not self._index:
            raise DatasetError(f"{self.root}: split {self.split!r} has no window of {self.n_frames} frames")

    # -- Dataset protocol
    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> Sample:
        if not _is_int(index):
            raise TypeError(f"dataset index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index = int(index) % len(self)
        seq, window = self._index[index]
        where = f"sequence '{seq.name}' frames {window[0]}..{window[-1]}"
        frames, meta = self._load(seq, window, where)
        size = tuple(frames.shape[-2:])
        frames, box = _resize_crop(frames, self.downsample, self.crop, self.crop_mode,
                                   derive_seed(self.seed, "crop", self.epoch, index), where)
        blur = synthesize_blur(frames, self.crf)
        meta = {
            "source": self.source,
            "dataset": self.name,
            "split": seq.split,
            "sequence": seq.name,
            "index": index,
            **meta,
            "size": size,
            "downsample": self.downsample,
            "frame_step": self.frame_step,
            "crop": box,
            "blur": "synthesized",
            "crf": self.crf.name,
        }
        return Sample(blur=blur, frames=frames, meta=meta)

    def set_epoch(self, epoch: int) -> None:
        """Random crops are drawn from ``(seed, epoch, index)``: a new epoch, new crops."""
        self.epoch = int(epoch)

    # -- description
    @property
    def sequences(self) -> list[str]:
        """Names of the sequences that give samples in this split."""
        return list(dict.fromkeys(s.name for s, _ in self._index))

    def split_counts(self) -> dict[str, tuple[int, int]]:
        """``{split: (sequences, samples)}`` over every split on disk (not only the loaded one)."""
        counts = {}
        for split in ("train", "test"):
            seqs = [s for s in self._sequences if s.split == split]
            if not seqs and split != "train":
                continue
            windows = [len(self._windows(s)) for s in seqs]
            counts[split] = (sum(1 for w in windows if w), sum(windows))
        return counts

    def describe(self) -> pd.DataFrame:
        """Print (and return) :func:`dataset_table` of this dataset."""
        table = dataset_table({self.name: self})
        print(table.to_string())
        return table

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.root)!r}, layout={self.layout!r}, split={self.split!r}, "
                f"n_frames={self.n_frames}, stride={self.stride}, frame_step={self.frame_step}: {len(self)} samples from "
                f"{len(self.sequences)} sequences)")


class FrameFolderDataset(_WindowDataset):
    """Sliding windows of ``n_frames`` numbered frames in sequence folders; blur synthesised.

    See the module docstring for the layouts (``layout="auto"`` detects them), windows (and
    ``frame_step``), splits and geometry.  ``validate=True`` reads every frame header of the selected
    split at construction, so unreadable files and frames of different sizes in a sequence surface
    before training.
    ``name`` (default: the folder's name) labels the dataset in :func:`dataset_table`.
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
        crop: int | tuple[int, int] | None = None,
        crop_mode: str = "random",
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
        self._init_common(n_frames, stride, split, downsample, crop, crop_mode, crf, seed, on_gap, skip_short,
                          split_fraction, frame_step)
        if layout not in self.layouts:
            raise ValueError(f"unknown layout {layout!r}; expected one of {self.layouts}")
        self.root = Path(root)
        if not self.root.exists():
            raise MissingFileError(f"{self.root}: no such folder")
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a folder (FrameFolderDataset reads folders of frames; "
                               f"VideoDataset reads video files)")
        self.name = name or self.root.resolve().name
        self.layout, found = _detect_frame_layout(self.root, layout)
        fixed_split = self.layout in ("gopro", "reds")
        if fixed_split and test_sequences is not None:
            raise DatasetError(f"{self.root}: the {self.layout} layout fixes the split by folder; "
                               f"test_sequences applies to the single and plain layouts only")
        if not fixed_split:
            splits = _assign_splits([n for n, _, _ in found], self.split_fraction, test_sequences, self.seed, str(self.root))
            found = [(n, splits[n], d) for n, _, d in found]
        for seq_name, seq_split, frame_dir in found:
            frames = _index_frames(frame_dir)
            if not frames:
                raise DatasetError(f"{frame_dir}: empty sequence folder: no frames ({' '.join(IMAGE_EXTENSIONS)})")
            self._sequences.append(_Seq(seq_name, seq_split, frame_dir, frames))
        for seq in self._sequences:  # every split's windows: gaps anywhere on disk are reported
            self._windows(seq)
        self._select()
        if validate:
            self.validate()

    def validate(self) -> None:
        """Read every frame header of the selected split: unreadable files and sizes that differ
        within a sequence raise now rather than during training."""
        for seq in dict.fromkeys(s.name for s, _ in self._index):
            s = next(q for q in self._sequences if q.name == seq)
            paths = [s.frames[k] for k in sorted(s.frames)]
            ref = image_size(paths[0])
            for p in paths[1:]:
                if (size := image_size(p)) != ref:
                    raise DatasetError(f"{p}: frame is {size[0]}x{size[1]} but {paths[0].name} is {ref[0]}x{ref[1]}; "
                                       f"all frames of sequence '{s.name}' must have one size")

    def _numbers(self, seq: _Seq) -> list[int]:
        return sorted(seq.frames)

    def _missing_name(self, seq: _Seq, number: int) -> str:
        below = [k for k in seq.frames if k < number]
        neighbour = seq.frames[max(below)] if below else seq.frames[min(seq.frames)]
        return str(seq.path / _name_for(neighbour, number))

    def _load(self, seq: _Seq, window: tuple[int, ...], where: str) -> tuple[torch.Tensor, dict]:
        paths = [seq.frames[k] for k in window]
        images = [_load_frame(p, where) for p in paths]
        frames = _stack_same_size(images, paths, f"the window of {where}")
        return frames, {"frame_numbers": window, "paths": [str(p) for p in paths]}


def _has_images(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return any(e.is_file() and not e.name.startswith(".") and Path(e.name).suffix.lower() in IMAGE_EXTENSIONS
                   for e in it)


def _subdirs(folder: Path) -> list[Path]:
    with os.scandir(folder) as it:
        dirs = [Path(e.path) for e in it if e.is_dir() and not e.name.startswith(".")]
    return sorted(dirs, key=lambda p: natural_key(p.name))


def _index_frames(folder: Path) -> dict[int, Path]:
    """Frame number -> file of the images directly in ``folder``, in natural order."""
    with os.scandir(folder) as it:
        files = [Path(e.path) for e in it
                 if e.is_file() and not e.name.startswith(".") and Path(e.name).suffix.lower() in IMAGE_EXTENSIONS]
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


def _detect_frame_layout(root: Path, layout: str) -> tuple[str, list[tuple[str, str | None, Path]]]:
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


# --------------------------------------------------------------------------- video


def _ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a pinned dependency
        raise ImportError("VideoDataset needs imageio-ffmpeg (pip install imageio-ffmpeg)") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


_FFMPEG_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")
# first video stream, every decoded frame (no rate conversion), packed 8-bit RGB
_DECODE = ["-map", "0:v:0", "-fps_mode", "passthrough", "-pix_fmt", "rgb24", "-c:v", "rawvideo"]


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learned: the frame count and the size of the decoded frames."""

    path: Path
    n_frames: int
    height: int
    width: int
    fps: float


def probe_video(path: str | os.PathLike, strict: bool = True) -> VideoInfo:
    """Decode the first video stream of ``path`` once (to a null sink): frame count, size, rate.

    Raises :class:`DatasetError` naming the file when ffmpeg cannot open or decode it, or (with
    ``strict``) reports any error on the way, as a truncated or corrupt file does."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such video file")
    cmd = [_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "repeat+level+info", "-i", str(path), *_DECODE,
           "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    lines = proc.stderr.decode(errors="replace").replace("\r", "\n").splitlines()
    errors = [_FFMPEG_PREFIX.sub("", line) for line in lines if "[error]" in line or "[fatal]" in line]
    if proc.returncode != 0 or (strict and errors):
        detail = "; ".join(dict.fromkeys(errors)) or f"ffmpeg exit status {proc.returncode}"
        raise DatasetError(f"{path}: cannot decode as a video (truncated or corrupt?): {detail}")
    counts = re.findall(r"frame=\s*(\d+)", "\n".join(lines))
    out = next((i for i, line in enumerate(lines) if "Output #0" in line), len(lines))
    stream = next((line for line in lines[out:] if "Video: rawvideo" in line), "")
    size = re.search(r", (\d+)x(\d+)", stream)
    if not counts or int(counts[-1]) == 0 or size is None:
        raise DatasetError(f"{path}: no video frames could be decoded")
    fps = re.search(r"(\d+(?:\.\d+)?) fps", stream)
    return VideoInfo(path, int(counts[-1]), int(size.group(2)), int(size.group(1)), float(fps.group(1)) if fps else 0.0)


def read_video(path: str | os.PathLike, info: VideoInfo | None = None) -> np.ndarray:
    """All frames of the first video stream as ``uint8 [N, H, W, 3]`` RGB (``info`` from
    :func:`probe_video`, probed here when not given).  The frames are read from ffmpeg straight
    into one preallocated array."""
    path = Path(path)
    info = info or probe_video(path)
    frames = np.empty((info.n_frames, info.height, info.width, 3), np.uint8)
    buf = memoryview(frames).cast("B")
    cmd = [_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), *_DECODE,
           "-f", "rawvideo", "-"]
    got, extra = 0, b""
    with tempfile.TemporaryFile() as log, subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                           stderr=log) as proc:
        while got < len(buf) and (n := proc.stdout.readinto(buf[got:])):
            got += n
        extra = proc.stdout.read(1)
        if extra:
            proc.kill()
        status = proc.wait()
        log.seek(0)
        detail = "; ".join(x for x in dict.fromkeys(log.read().decode(errors="replace").splitlines()) if x)
    frame_bytes = info.height * info.width * 3
    if extra or got != len(buf) or (status != 0 and not extra):
        decoded = f"more than {info.n_frames}" if extra else f"{got // frame_bytes}"
        raise DatasetError(f"{path}: decoded {decoded} frames of {info.width}x{info.height} where the probe counted "
                           f"{info.n_frames} (file changed or corrupt?){': ' + detail if detail else ''}")
    return frames


def _find_videos(folder: Path) -> list[Path]:
    videos = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
              and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(videos, key=lambda p: natural_key(p.relative_to(folder).as_posix()))


class VideoDataset(_WindowDataset):
    """Sliding windows of ``n_frames`` consecutive frames of video files; blur synthesised.

    ``path_or_folder``: a video file, a folder of videos (recursive; split by fraction or
    ``test_sequences``, by video), or a folder with ``train/`` and ``test/`` sub-folders of videos.
    Sequence names are the videos' paths relative to the folder, without suffix.  ``strict=False``
    accepts videos for which ffmpeg reports decoding errors (the frames it does decode are used).
    ``cache_videos`` decoded videos are kept in memory per process (see the module docstring).
    Other arguments as :class:`FrameFolderDataset`.
    """

    source = "video"

    def __init__(
        self,
        path_or_folder: str | os.PathLike,
        n_frames: int = 7,
        stride: int | None = None,
        split: str = "train",
        downsample: float = 1.0,
        crop: int | tuple[int, int] | None = None,
        crop_mode: str = "random",
        crf="gamma2.2",
        seed: int = 0,
        split_fraction: float = 0.2,
        test_sequences: Iterable[str] | None = None,
        skip_short: bool = False,
        strict: bool = True,
        cache_videos: int = 2,
        name: str | None = None,
        frame_step: int = 1,
    ) -> None:
        self._init_common(n_frames, stride, split, downsample, crop, crop_mode, crf, seed, "error", skip_short,
                          split_fraction, frame_step)
        if not _is_int(cache_videos) or cache_videos < 1:
            raise ValueError(f"cache_videos must be a positive int, got {cache_videos!r}")
        self.root = Path(path_or_folder)
        self.strict, self.cache_videos = bool(strict), int(cache_videos)
        self._info: dict[str, VideoInfo] = {}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        if not self.root.exists():
            raise MissingFileError(f"{self.root}: no such video file or folder")
        self.name = name or (self.root.stem if self.root.is_file() else self.root.resolve().name)
        if self.root.is_file():
            if self.root.suffix.lower() not in VIDEO_EXTENSIONS:
                raise DatasetError(f"{self.root}: not a video file (expected one of {' '.join(VIDEO_EXTENSIONS)})")
            self.layout = "single"
            found = [(self.root.stem, None, self.root)]
        elif any((self.root / s).is_dir() for s in ("train", "test")):
            self.layout = "split"
            found = [(f"{s}/{v.relative_to(self.root / s).with_suffix('').as_posix()}", s, v)
                     for s in ("train", "test") if (self.root / s).is_dir() for v in _find_videos(self.root / s)]
        else:
            self.layout = "folder"
            found = [(v.relative_to(self.root).with_suffix("").as_posix(), None, v) for v in _find_videos(self.root)]
        if not found:
            raise DatasetError(f"{self.root}: empty folder: no video files ({' '.join(VIDEO_EXTENSIONS)})")
        names = [n for n, _, _ in found]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise DatasetError(f"{self.root}: several videos share the name(s) {dup} (differing only by suffix)")
        if self.layout == "split":
            if test_sequences is not None:
                raise DatasetError(f"{self.root}: train/ and test/ folders fix the split; test_sequences is not allowed")
        else:
            splits = _assign_splits(names, self.split_fraction, test_sequences, self.seed, str(self.root))
            found = [(n, splits[n], p) for n, _, p in found]
        self._sequences = [_Seq(n, s, p) for n, s, p in found]
        self._select()  # probes the videos of the selected split only; split_counts() probes the rest

    def _numbers(self, seq: _Seq) -> list[int]:
        if seq.name not in self._info:
            self._info[seq.name] = probe_video(seq.path, self.strict)
        return list(range(self._info[seq.name].n_frames))

    def _video(self, seq: _Seq) -> np.ndarray:
        key = seq.name
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        frames = read_video(seq.path, self._info[key])
        self._cache[key] = frames
        while len(self._cache) > self.cache_videos:
            self._cache.popitem(last=False)
        return frames

    def _load(self, seq: _Seq, window: tuple[int, ...], where: str) -> tuple[torch.Tensor, dict]:
        video = self._video(seq)
        clip = torch.from_numpy(video[window[0] : window[-1] + 1 : self.frame_step]).permute(0, 3, 1, 2).float().div_(255.0)
        return clip, {"frame_indices": window, "path": str(seq.path), "fps": self._info[seq.name].fps}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()  # DataLoader workers decode their own copies
        return state


# --------------------------------------------------------------------------- RB2V


_ORDERS = {"ignore": "keep", "keep": "keep", "forward": "keep", "reverse": "reverse", "random": "random"}


class RB2VDataset(Dataset):
    """HyperCUT's RB2V (or any dataset in its ``metadata.json`` format): real blur, real frames.

    ``root`` is the folder of ``metadata.json`` (or the json file itself); paths in it are
    relative to that folder.  ``split``: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
    ``order`` is honoured as described in the module docstring.  ``downsample`` and ``crop`` apply
    identically to the blur and every frame.  ``validate=True`` checks at construction that every
    file of the selected split exists and that its images share one size (header reads only).
    """

    source = "rb2v"
    splits = ("train", "val", "test", "all")

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        downsample: float = 1.0,
        crop: int | tuple[int, int] | None = None,
        crop_mode: str = "random",
        seed: int = 0,
        validate: bool = False,
        name: str | None = None,
    ) -> None:
        self.split = _check_split(split, self.splits)
        self.downsample, self.crop = _check_geometry(downsample, crop, crop_mode)
        self.crop_mode = crop_mode
        if not _is_int(seed):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.seed, self.epoch = int(seed), 0
        path = Path(root)
        self.metadata_path = path if path.suffix.lower() == ".json" else path / "metadata.json"
        self.root = self.metadata_path.parent
        if not self.root.is_dir():
            raise MissingFileError(f"{self.root}: no such folder")
        if not self.metadata_path.is_file():
            raise MissingFileError(f"{self.metadata_path}: no such file (RB2V keeps its index in metadata.json)")
        self.dataset_name, self.records = _read_rb2v_metadata(self.metadata_path, self.seed)
        self.name = name or self.dataset_name
        self._index = [r for r in self.records if self.split == "all" or r["partition"] == self.split]
        if not self._index:
            have = sorted({r["partition"] for r in self.records})
            raise DatasetError(f"{self.metadata_path}: split {self.split!r} has no samples (partitions present: {have})")
        if validate:
            self.validate()

    @property
    def n_frames(self) -> int:
        return len(self.records[0]["frames"])

    def validate(self) -> None:
        """Every file of the selected split exists and is a readable image of the sample's size."""
        for rec in self._index:
            paths = [rec["blur"], *rec["frames"]]
            ref = image_size(paths[0])
            for p in paths[1:]:
                if (size := image_size(p)) != ref:
                    raise DatasetError(f"{p}: image is {size[0]}x{size[1]} but the blur {paths[0].name} is "
                                       f"{ref[0]}x{ref[1]} (sample '{rec['id']}')")

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> Sample:
        if not _is_int(index):
            raise TypeError(f"dataset index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index = int(index) % len(self)
        rec = self._index[index]
        where = f"RB2V sample '{rec['id']}'"
        paths = [rec["blur"], *rec["frames"]]
        images = _stack_same_size([_load_frame(p, where) for p in paths], paths, where)
        size = tuple(images.shape[-2:])
        images, box = _resize_crop(images, self.downsample, self.crop, self.crop_mode,
                                   derive_seed(self.seed, "crop", self.epoch, index), where)
        frames = images[1:].flip(0) if rec["reversed"] else images[1:]
        meta = {
            "source": self.source,
            "dataset": self.name,
            "split": rec["partition"],
            "sequence": rec["sequence"],
            "id": rec["id"],
            "index": index,
            "order": rec["order"],
            "reversed": rec["reversed"],
            "blur_path": str(rec["blur"]),
            "paths": [str(p) for p in (rec["frames"][::-1] if rec["reversed"] else rec["frames"])],
            "size": size,
            "downsample": self.downsample,
            "crop": box,
            "blur": "captured",
        }
        return Sample(blur=images[0].contiguous(), frames=frames.contiguous(), meta=meta)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def sequences(self) -> list[str]:
        return list(dict.fromkeys(r["sequence"] for r in self._index))

    def split_counts(self) -> dict[str, tuple[int, int]]:
        counts = {}
        for split in _SPLIT_ORDER:
            recs = [r for r in self.records if r["partition"] == split]
            if recs or split != "val":
                counts[split] = (len({r["sequence"] for r in recs}), len(recs))
        return counts

    def describe(self) -> pd.DataFrame:
        table = dataset_table({self.name: self})
        print(table.to_string())
        return table

    def __repr__(self) -> str:
        return (f"RB2VDataset({str(self.root)!r}, name={self.dataset_name!r}, split={self.split!r}: "
                f"{len(self)} samples from {len(self.sequences)} sequences)")


def _read_rb2v_metadata(path: Path, seed: int) -> tuple[str, list[dict]]:
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: expected a JSON object with 'name', 'frame_per_seq' and 'data', "
                           f"got {type(meta).__name__}")
    for key in ("name", "frame_per_seq", "data"):
        if key not in meta:
            raise DatasetError(f"{path}: missing key '{key}' (expected 'name', 'frame_per_seq' and 'data')")
    if not isinstance(meta["name"], str):
        raise DatasetError(f"{path}: 'name' must be a string, got {meta['name']!r}")
    n = meta["frame_per_seq"]
    if not _is_int(n) or n < 1:
        raise DatasetError(f"{path}: 'frame_per_seq' must be a positive int, got {n!r}")
    if not isinstance(meta["data"], list) or not meta["data"]:
        raise DatasetError(f"{path}: 'data' must be a non-empty list of samples")
    root = path.parent
    frame_keys = [f"frame{t:03d}_path" for t in range(1, n + 1)]
    records, seen = [], {}
    for i, item in enumerate(meta["data"]):
        if not isinstance(item, dict):
            raise DatasetError(f"{path}: sample {i} of 'data' is not an object")
        if "id" not in item:
            raise DatasetError(f"{path}: sample {i} of 'data' is missing key 'id'")
        sid = item["id"]
        if not isinstance(sid, (str, int)) or isinstance(sid, bool):
            raise DatasetError(f"{path}: sample {i} has an invalid id {sid!r}")
        sid = str(sid)
        if sid in seen:
            raise DatasetError(f"{path}: sample id '{sid}' appears twice (samples {seen[sid]} and {i})")
        seen[sid] = i
        for key in ("order", "partition", "blur_path", *frame_keys):
            if key not in item:
                raise DatasetError(f"{path}: sample '{sid}' is missing key '{key}' "
                                   f"(frame_per_seq is {n}, so frame001_path..frame{n:03d}_path are needed)")
        for key in ("blur_path", *frame_keys):
            if not isinstance(item[key], str) or not item[key]:
                raise DatasetError(f"{path}: sample '{sid}' has an invalid '{key}': {item[key]!r}")
        if item["partition"] not in _SPLIT_ORDER:
            raise DatasetError(f"{path}: sample '{sid}' has partition {item['partition']!r}; "
                               f"expected 'train', 'val' or 'test'")
        order = item["order"]
        if not isinstance(order, str) or order not in _ORDERS:
            raise DatasetError(f"{path}: sample '{sid}' has order {order!r}; expected one of "
                               f"'ignore' (= 'keep', 'forward'), 'reverse', 'random'")
        kind = _ORDERS[order]
        reverse = kind == "reverse" or (kind == "random" and random.Random(derive_seed(seed, "order", sid)).random() < 0.5)
        records.append({
            "id": sid,
            "sequence": sid.rsplit("/", 1)[0],
            "order": order,
            "reversed": reverse,
            "partition": item["partition"],
            "blur": root / item["blur_path"],
            "frames": [root / item[k] for k in frame_keys],
        })
    return meta["name"], records


# --------------------------------------------------------------------------- tables and batches


def dataset_table(datasets: Mapping[str, Dataset]) -> pd.DataFrame:
    """Sequences and samples per split of each dataset (HyperCUT's RB2V table, for any data).

    One row per dataset (index: the dict's keys); columns ``"<split> sequences"`` and
    ``"<split> samples"`` for every split any dataset has (train, val, test), then totals,
    ``frames`` (per sample) and ``blur`` (``captured`` or ``synthesized``).  A dataset without
    ``split_counts()`` (any torch ``Dataset`` with ``__len__``) fills the total samples only."""
    rows, splits = {}, set()
    for name, ds in datasets.items():
        row: dict = {}
        if hasattr(ds, "split_counts"):
            counts = ds.split_counts()
            splits.update(counts)
            for split, (n_seq, n_samples) in counts.items():
                row[f"{split} sequences"], row[f"{split} samples"] = n_seq, n_samples
            row["total sequences"] = sum(c[0] for c in counts.values())
            row["total samples"] = sum(c[1] for c in counts.values())
        else:
            row["total samples"] = len(ds)
        row["frames"] = getattr(ds, "n_frames", None)
        row["blur"] = "captured" if getattr(ds, "source", None) == "rb2v" else "synthesized"
        rows[name] = row
    columns = [f"{s} {q}" for s in _SPLIT_ORDER if s in splits for q in ("sequences", "samples")]
    columns += ["total sequences", "total samples", "frames", "blur"]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    for col in columns[:-1]:
        table[col] = table[col].astype("Int64")
    table.index.name = "dataset"
    return table


def collate(samples: Sequence[Sample]) -> Batch:
    """Stack samples into a :class:`Batch`.

    ``meta`` maps every key of the samples' ``meta`` to the list of their values (``None`` where a
    sample lacks it), except ``source``, a single string when all samples share it.  Samples of
    different sizes cannot be stacked: crop them (``crop=``) or use ``batch_size=1``."""
    samples = list(samples)
    if not samples:
        raise ValueError("collate needs at least one sample")
    shapes = [tuple(s.frames.shape) for s in samples]
    if len(set(shapes)) > 1:
        names = [s.meta.get("sequence", s.meta.get("id")) for s in samples]
        raise DatasetError(f"cannot batch samples of different shapes {sorted(set(shapes))} (sequences {names}); "
                           f"pass crop=(h, w) to the dataset, or batch_size=1")
    keys = list(dict.fromkeys(k for s in samples for k in s.meta))
    meta = {k: [s.meta.get(k) for s in samples] for k in keys}
    if "source" in meta and len(set(meta["source"])) == 1:
        meta["source"] = meta["source"][0]
    return Batch(blur=torch.stack([s.blur for s in samples]), frames=torch.stack([s.frames for s in samples]), meta=meta)


def loader(dataset: Dataset, batch_size: int = 8, shuffle: bool = False, seed: int = 0, num_workers: int = 0,
           drop_last: bool = False, **kwargs) -> DataLoader:
    """A :class:`~torch.utils.data.DataLoader` of :class:`Batch` (via :func:`collate`).

    The shuffle order comes from a generator seeded with ``seed``: the same seed gives the same
    sequence of epochs.  Call ``dataset.set_epoch(e)`` before each epoch for fresh random crops."""
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate,
                      num_workers=num_workers, drop_last=drop_last, **kwargs)

