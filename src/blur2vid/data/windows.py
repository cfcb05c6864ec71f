"""What every dataset on disk shares: the window index, samples, errors, splits and sizes.

A dataset here (:class:`~blur2vid.data.frame_folders.FrameFolderDataset`,
:class:`~blur2vid.data.video.VideoDataset`, :class:`~blur2vid.data.rb2v.RB2VDataset`) is a
:class:`torch.utils.data.Dataset` of :class:`Sample` objects (a blur ``[C, H, W]``, its sharp
frames ``[T, C, H, W]`` and a ``meta`` dict), values camera intensities in ``[0, 1]``, 3 channels.
Its public **window index** :attr:`WindowDataset.windows` lists one :class:`Window` per sample, in
dataset order (``ds[i]`` reads ``ds.windows[i]``): which sequence, which split, which frames, and
where on disk.  :meth:`WindowDataset.frame_size` gives a window's image size from file headers
(videos: from the probe) without decoding pixels.  Datasets only downsample (``downsample``,
bilinear with antialiasing, in camera intensity); cropping and the seeds of crops belong to
:class:`~blur2vid.data.source.FolderSource`.

Sliding windows (:class:`SlidingWindowDataset`, the base of frame folders and videos).  A sample
is a window of ``n_frames`` frame *numbers* ``s, s+k, ..., s+(n-1)k`` (``k = frame_step``, default
1); ``s`` runs from the sequence's first number in steps of ``stride`` (default the span
``(n-1)k+1``: windows do not overlap) while the window fits, and only the window's own numbers need
to exist.  A number missing inside a window is an error (:class:`MissingFileError`, naming the
expected file) unless ``on_gap="skip"``, which drops the windows that cross the gap.  A sequence
shorter than a window is an error unless ``skip_short=True``.  The blur of a window is
:func:`~blur2vid.core.formation.synthesize_blur` of its (downsampled) frames through ``crf`` (Jin
Eq. 1).  Frame rate matters: consecutive frames of a 240 fps capture (GoPro, Adobe240) average to
a realistic blur, REDS's 24 fps frames to a ghosted one.

Splits.  Where the layout has no split folders, sequences are split **by sequence**, never by
frame: ``test_sequences`` names the test sequences, otherwise ``round(split_fraction * n)`` of the
``n`` sequences (at least one of each split when ``n >= 2`` and ``0 < split_fraction < 1``) are
drawn for test by a generator seeded with ``seed``; the rest are train.  ``split="all"`` takes
every sequence, in the order on disk.

Errors.  Bad data raises :class:`DatasetError` (a ``ValueError``) or :class:`MissingFileError`
(also a ``FileNotFoundError``), naming the file, sequence or sample and the problem.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from blur2vid.core.formation import get_crf, synthesize_blur
from blur2vid.core.io import load_image
from blur2vid.core.seeding import derive_seed
from blur2vid.data.sample import Batch

__all__ = [
    "DatasetError",
    "MissingFileError",
    "Sample",
    "Window",
    "WindowDataset",
    "SlidingWindowDataset",
    "collate",
    "dataset_table",
    "image_size",
    "natural_key",
]

SPLITS = ("train", "val", "test")
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


@dataclass(frozen=True)
class Window:
    """One entry of a dataset's window index (:attr:`WindowDataset.windows`).

    ``sequence``: the sequence's name (RB2V: the sample id up to its last ``/``); ``split``:
    ``"train"``, ``"val"`` or ``"test"``; ``frames``: the window's frame numbers (frame folders),
    frame indices (videos) or ``1..N`` as listed (RB2V); ``path``: the frame folder, the video file
    or (RB2V) the folder of the sample's blur; ``id``: RB2V's sample id (``None`` otherwise)."""

    sequence: str
    split: str
    frames: tuple[int, ...]
    path: Path
    id: str | None = None


# --------------------------------------------------------------------------- helpers


def natural_key(name: str) -> list:
    """Sort key that compares runs of digits as numbers: ``f2.png < f10.png``."""
    return [int(p) if i % 2 else p.lower() for i, p in enumerate(_DIGITS.split(name))]


def is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def check_split(split, valid: Sequence[str]) -> str:
    if not isinstance(split, str) or split not in valid:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(map(repr, valid))}")
    return split


def check_downsample(downsample) -> float:
    if isinstance(downsample, bool) or not isinstance(downsample, (int, float)) or not 0 < downsample <= 1:
        raise ValueError(f"downsample must be a factor in (0, 1], got {downsample!r}")
    return float(downsample)


def downsample_images(images: torch.Tensor, factor: float) -> torch.Tensor:
    """``[N, C, H, W]`` scaled by ``factor`` (antialiased bilinear, clamped to ``[0, 1]``)."""
    if factor == 1.0:
        return images
    h, w = images.shape[-2:]
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0.0, 1.0)


def load_frame(path: Path, where: str) -> torch.Tensor:
    """:func:`blur2vid.core.io.load_image` with the sample named in the error."""
    try:
        return load_image(path)
    except FileNotFoundError as exc:
        raise MissingFileError(f"{exc} (needed by {where})") from exc
    except ValueError as exc:
        raise DatasetError(f"{exc} (needed by {where})") from exc


def check_same_size(sizes: Sequence[tuple[int, int]], paths: Sequence[Path], where: str) -> None:
    """All ``(H, W)`` in ``sizes`` equal, else an error naming the first file that differs."""
    for size, path in zip(sizes, paths, strict=True):
        if tuple(size) != tuple(sizes[0]):
            raise DatasetError(f"{path}: image is {size[0]}x{size[1]} but {paths[0].name} is "
                               f"{sizes[0][0]}x{sizes[0][1]}; all images of {where} must have one size")


def load_stack(paths: Sequence[Path], where: str) -> torch.Tensor:
    """The images at ``paths`` as one ``[N, C, H, W]`` tensor (they must share one size)."""
    images = [load_frame(p, where) for p in paths]
    check_same_size([tuple(i.shape[-2:]) for i in images], paths, where)
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


def assign_splits(names: list[str], split_fraction: float, test_sequences, seed: int, where: str) -> dict[str, str]:
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


# --------------------------------------------------------------------------- the base class


class WindowDataset(Dataset):
    """A dataset whose samples are listed in a public window index, :attr:`windows`.

    Subclasses set ``root``, ``name``, ``split`` and ``windows`` and provide :meth:`_windows_in`,
    :meth:`_sample`, :meth:`frame_size` and (for :meth:`validate`) :meth:`_image_groups`."""

    source = "windows"
    #: the sample of ``ds[i]`` is read from ``windows[i]``: the loaded split, in dataset order
    windows: list[Window]

    def _windows_in(self, split: str) -> list[Window]:
        """The windows of ``split`` (or ``"all"``) on disk, whichever split is loaded."""
        raise NotImplementedError

    def _sample(self, window: Window, index: int) -> Sample:
        raise NotImplementedError

    def frame_size(self, window: Window) -> tuple[int, int]:
        """``(H, W)`` of the window's first image before downsampling, without decoding pixels."""
        raise NotImplementedError

    def _image_groups(self) -> Iterable[tuple[list[Path], str]]:
        """``(image files, where they belong)`` that must share one size, for :meth:`validate`."""
        return ()

    def validate(self) -> None:
        """Read the image headers of the loaded split: missing or unreadable files and sizes that
        differ where they must agree raise now rather than during training (videos are decoded by
        their probe at construction already)."""
        for paths, where in self._image_groups():
            check_same_size([image_size(p) for p in paths], paths, where)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> Sample:
        index = self._checked(index)
        return self._sample(self.windows[index], index)

    def _checked(self, index: int) -> int:
        """``index`` as a position in ``windows`` (negative ones count from the end), or an error."""
        if not is_int(index):
            raise TypeError(f"dataset index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        return int(index) % len(self)

    @property
    def sequences(self) -> list[str]:
        """Names of the sequences that give samples in the loaded split."""
        return list(dict.fromkeys(w.sequence for w in self.windows))

    def split_counts(self) -> dict[str, tuple[int, int]]:
        """``{split: (sequences, samples)}`` over every split on disk (train and test always, val
        where it has samples); a sequence counts where it gives samples."""
        counts = {}
        for split in SPLITS:
            windows = self._windows_in(split)
            if windows or split != "val":
                counts[split] = (len({w.sequence for w in windows}), len(windows))
        return counts

    def describe(self) -> pd.DataFrame:
        """Print (and return) :func:`dataset_table` of this dataset."""
        table = dataset_table({self.name: self})
        print(table.to_string())
        return table

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.root)!r}, split={self.split!r}: {len(self)} samples from "
                f"{len(self.sequences)} sequences)")


@dataclass
class Seq:
    """A sequence of a sliding-window dataset: its name, split and frame folder or video file."""

    name: str
    split: str
    path: Path  # frame folder, or video file
    frames: dict[int, Path] | None = None  # frame folders: number -> file


class SlidingWindowDataset(WindowDataset):
    """Sequences cut into sliding windows, blur synthesised (see the module docstring).

    Subclasses fill ``self._sequences`` and call :meth:`_select`, and provide :meth:`_numbers`
    (a sequence's frame numbers) and :meth:`_load` (a window's frames ``[T, C, H, W]`` and meta)."""

    splits = ("train", "test", "all")

    def _init_common(self, n_frames, stride, split, downsample, crf, seed, on_gap, skip_short, split_fraction,
                     frame_step) -> None:
        if not is_int(n_frames) or n_frames < 1:
            raise ValueError(f"n_frames must be a positive int, got {n_frames!r}")
        if not is_int(frame_step) or frame_step < 1:
            raise ValueError(f"frame_step must be a positive int, got {frame_step!r}")
        self.frame_step = int(frame_step)
        if stride is None:
            stride = (n_frames - 1) * self.frame_step + 1
        if not is_int(stride) or stride < 1:
            raise ValueError(f"stride must be a positive int or None, got {stride!r}")
        if on_gap not in ("error", "skip"):
            raise ValueError(f"on_gap must be 'error' or 'skip', got {on_gap!r}")
        if isinstance(split_fraction, bool) or not isinstance(split_fraction, (int, float)) or not 0 <= split_fraction <= 1:
            raise ValueError(f"split_fraction must be in [0, 1], got {split_fraction!r}")
        if not is_int(seed):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.n_frames, self.stride = int(n_frames), int(stride)
        self.split = check_split(split, self.splits)
        self.downsample = check_downsample(downsample)
        self.crf = get_crf(crf)
        self.seed = int(seed)
        self.on_gap, self.skip_short = on_gap, bool(skip_short)
        self.split_fraction = float(split_fraction)
        self._sequences: list[Seq] = []
        self._windows_of: dict[str, list[Window]] = {}

    def _numbers(self, seq: Seq) -> list[int]:
        raise NotImplementedError

    def _load(self, seq: Seq, window: Window, where: str) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def _missing_name(self, seq: Seq, number: int) -> str:
        return f"{seq.path}: frame {number}"

    def _seq(self, name: str) -> Seq:
        return self._by_name[name]

    # -- windows
    def _windows(self, seq: Seq) -> list[Window]:
        if seq.name not in self._windows_of:
            self._windows_of[seq.name] = self._build_windows(seq)
        return self._windows_of[seq.name]

    def _build_windows(self, seq: Seq) -> list[Window]:
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
            frames = tuple(range(start, start + n, self.frame_step))
            missing = [k for k in frames if k not in present]
            if missing:
                if self.on_gap == "skip":
                    continue
                raise MissingFileError(
                    f"{self._missing_name(seq, missing[0])} is missing from sequence '{seq.name}' (numbered "
                    f"{numbers[0]}..{numbers[-1]}, {len(numbers)} frames present); the window of frames "
                    f"{start}..{start + n - 1} needs it (on_gap='skip' drops windows across gaps)"
                )
            windows.append(Window(seq.name, seq.split, frames, seq.path))
        return windows

    def _windows_in(self, split: str) -> list[Window]:
        return [w for s in self._sequences if split == "all" or s.split == split for w in self._windows(s)]

    def _select(self) -> None:
        """Index the windows of the loaded split (building only its sequences' windows)."""
        self._by_name = {s.name: s for s in self._sequences}
        if not any(self.split == "all" or s.split == self.split for s in self._sequences):
            have = sorted({s.split for s in self._sequences})
            raise DatasetError(
                f"{self.root}: split {self.split!r} has no sequences (splits present: {have}); "
                f"use split='all', another split, split_fraction or test_sequences"
            )
        self.windows = self._windows_in(self.split)
        if not self.windows:
            raise DatasetError(f"{self.root}: split {self.split!r} has no window of {self.n_frames} frames")

    def window_frames(self, index: int) -> torch.Tensor:
        """The frames of sample ``index`` (``self[index].frames``) without its blur: for a caller
        that crops them first and blurs only the crop (Eq. 1 is per pixel: the same numbers)."""
        return self._frames(self.windows[self._checked(index)])[1]

    def _frames(self, window: Window) -> tuple[Seq, torch.Tensor, dict, tuple[int, int]]:
        """A window's sequence, its frames downsampled, the loader's notes and the size read."""
        seq = self._seq(window.sequence)
        frames, meta = self._load(seq, window, f"sequence '{seq.name}' frames {window.frames[0]}..{window.frames[-1]}")
        return seq, downsample_images(frames, self.downsample), meta, tuple(frames.shape[-2:])

    def _sample(self, window: Window, index: int) -> Sample:
        seq, frames, meta, size = self._frames(window)
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
            "blur": "synthesized",
            "crf": self.crf.name,
        }
        return Sample(blur=synthesize_blur(frames, self.crf), frames=frames, meta=meta)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.root)!r}, layout={self.layout!r}, split={self.split!r}, "
                f"n_frames={self.n_frames}, stride={self.stride}, frame_step={self.frame_step}: {len(self)} samples "
                f"from {len(self.sequences)} sequences)")


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
    columns = [f"{s} {q}" for s in SPLITS if s in splits for q in ("sequences", "samples")]
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
    different sizes cannot be stacked (crop them first, as :class:`~blur2vid.data.source.FolderSource`
    does)."""
    samples = list(samples)
    if not samples:
        raise ValueError("collate needs at least one sample")
    shapes = [tuple(s.frames.shape) for s in samples]
    if len(set(shapes)) > 1:
        names = [s.meta.get("sequence", s.meta.get("id")) for s in samples]
        raise DatasetError(f"cannot batch samples of different shapes {sorted(set(shapes))} (sequences {names}); "
                           f"crop them to one size first")
    keys = list(dict.fromkeys(k for s in samples for k in s.meta))
    meta = {k: [s.meta.get(k) for s in samples] for k in keys}
    if "source" in meta and len(set(meta["source"])) == 1:
        meta["source"] = meta["source"][0]
    return Batch(blur=torch.stack([s.blur for s in samples]), frames=torch.stack([s.frames for s in samples]), meta=meta)

