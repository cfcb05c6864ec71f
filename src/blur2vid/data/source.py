"""Where an experiment's batches come from: the procedural scenes, or a dataset folder (``data_root``).

Every experiment asks a *source* for two things, both :class:`~blur2vid.data.sample.Batch`:

* ``batch(size, seed, device)``: a training batch, a function of ``seed`` only (training resumes
  from checkpoints and several variants must see identical batches);
* ``test_set(n, seed, device)``: a fixed held-out set;
* ``validation_set(n, seed, device)``: a fixed set for design choices (the named seeds of both are
  in :mod:`blur2vid.data.config`).

:func:`open_source` picks the source from the notebooks' ``data_root`` parameter:

* ``None``: :class:`SceneSource`, the procedural scenes of :mod:`blur2vid.data.scenes`, exactly as
  before (``batch`` is :func:`~blur2vid.data.scenes.render_scenes`, ``test_set`` is
  :func:`~blur2vid.data.scenes.scene_set`);
* a folder: :class:`FolderSource` over the datasets of :mod:`blur2vid.data.frame_folders`,
  :mod:`blur2vid.data.video` and :mod:`blur2vid.data.rb2v`, with the layout detected under the folder:

  =============================== ============================== ====================================
  what is under ``root``          loader                         blur
  =============================== ============================== ====================================
  ``metadata.json``               :class:`RB2VDataset` (HyperCUT) the captured image
  video files and no images       :class:`VideoDataset`          synthesised from the frames
  anything else (frame folders:   :class:`FrameFolderDataset`    synthesised from the frames
  GoPro, REDS, Adobe240, plain)
  =============================== ============================== ====================================

  Samples are windows of ``scenes.n_frames`` frames (``frame_step=k``: every k-th frame).
  Training batches are random crops of ``scenes.height x scenes.width`` of random windows of the
  *train* split: a ``torch.Generator`` seeded with ``seed`` draws the windows (with replacement),
  the crop positions and the noise, so the same seed gives the same batch.  The test set is the
  centre crops of up to ``n`` windows of the *test* split, evenly spaced over it (deterministic:
  ``seed`` only seeds the noise, if any).  A synthesised blur goes through the scenes' camera
  response ``scenes.crf`` (Jin Eq. 1, as the scenes' blur does) and gets the scenes' noise
  ``scenes.noise`` (0 by default); RB2V's captured blur is used as it is.  ``downsample`` scales
  the frames first (Jin used 0.45 of GoPro's 1280x720).

A folder source is opened once per process and settings (later calls return the same object), and
prints its dataset table (sequences and samples per split, like HyperCUT's RB2V table) when opened.
Its :meth:`FolderSource.describe` (the resolved root, the layout, the window and crop settings, the
number of windows per split) goes into the experiments' checkpoint keys, so a run on other data
trains anew instead of resuming this one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from blur2vid.core.formation import get_crf
from blur2vid.data.frame_folders import IMAGE_EXTENSIONS, FrameFolderDataset
from blur2vid.data.rb2v import RB2VDataset
from blur2vid.data.sample import Batch
from blur2vid.data.scenes import SceneConfig, render_scenes, scene_set
from blur2vid.data.video import VIDEO_EXTENSIONS, VideoDataset
from blur2vid.data.windows import DatasetError, MissingFileError, Sample, Window, collate, dataset_table

__all__ = ["SceneSource", "CaptureSource", "FolderSource", "open_source", "detect_kind", "DatasetError", "MissingFileError",
           "BATCH_CACHE", "BATCH_CACHE_ENV", "cache_budget"]


def _scenes_dict(scenes: SceneConfig) -> dict[str, Any]:
    d = dict(scenes.__dict__)
    d["crf"] = get_crf(scenes.crf).name
    d["sprite_size"] = list(d["sprite_size"])
    return d


BATCH_CACHE_ENV = "BLUR2VID_BATCH_CACHE_MB"


def cache_budget() -> int:
    """Bytes the rendered-batch cache may hold: ``$BLUR2VID_BATCH_CACHE_MB``, else a sixth of the
    machine's memory, at most 4 GiB (0 turns the cache off)."""
    if os.environ.get(BATCH_CACHE_ENV):
        return int(float(os.environ[BATCH_CACHE_ENV]) * 2**20)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        memory = 8 * 2**30
    return min(4 * 2**30, memory // 6)


class _BatchCache:
    """Rendered training batches kept for the next run of the same process: the schemes of one
    experiment train on identical batch streams (the same seeds), and rendering a batch of 32
    scenes at 32 px costs about as much as the U-Net's step on it.  The first batches asked for are
    kept until the budget is full and none is evicted after, so that every later pass over the same
    stream finds the same ones.  A hit returns copies, so that no caller can change what the next
    one gets; the values are those rendering gives, bit for bit."""

    def __init__(self) -> None:
        self.entries: dict[tuple, Batch] = {}
        self.bytes = 0
        self.hits = self.misses = 0

    def get(self, key: tuple, make) -> Batch:
        hit = self.entries.get(key)
        if hit is not None:
            self.hits += 1
            return Batch(hit.blur.clone(), hit.frames.clone(), dict(hit.meta))
        self.misses += 1
        batch = make()
        size = (batch.blur.numel() + batch.frames.numel()) * batch.frames.element_size()
        if self.bytes + size <= cache_budget():
            self.entries[key] = Batch(batch.blur.clone(), batch.frames.clone(), dict(batch.meta))
            self.bytes += size
        return batch

    def clear(self) -> None:
        self.entries.clear()
        self.bytes = self.hits = self.misses = 0


BATCH_CACHE = _BatchCache()


def _endless_table(name: str, n_frames: int) -> pd.DataFrame:
    """The dataset-table row of a source that renders scenes without end: no counts, no splits."""
    return pd.DataFrame({"total sequences": pd.array([pd.NA], "Int64"), "total samples": pd.array([pd.NA], "Int64"),
                         "frames": pd.array([n_frames], "Int64"), "blur": ["synthesized"]},
                        index=pd.Index([name], name="dataset"))


class SceneSource:
    """The procedural scenes of :mod:`blur2vid.data.scenes` (no ``data_root``)."""

    kind = "scenes"

    def __init__(self, scenes: SceneConfig) -> None:
        self.scenes = scenes

    def batch(self, size: int, seed: int, device="cpu") -> Batch:
        """:func:`~blur2vid.data.scenes.render_scenes` ``(scenes, size, seed, device)``; batches
        rendered on the CPU are kept in :data:`BATCH_CACHE` for the next run of this process."""
        return _cached_render(render_scenes, self.scenes, size, seed, device)

    def test_set(self, n: int, seed: int, device="cpu") -> Batch:
        """:func:`~blur2vid.data.scenes.scene_set` ``(scenes, n, seed, device)``."""
        return scene_set(self.scenes, n, seed, device)

    def validation_set(self, n: int, seed: int, device="cpu") -> Batch:
        """Like :meth:`test_set`: other scenes from another seed."""
        return scene_set(self.scenes, n, seed, device)

    def describe(self) -> dict[str, Any]:
        return {"source": "scenes", "scenes": _scenes_dict(self.scenes)}

    def table(self) -> pd.DataFrame:
        """A :func:`~blur2vid.data.windows.dataset_table`-shaped row: endless scenes, no splits."""
        return _endless_table("procedural scenes", self.scenes.n_frames)

    def __repr__(self) -> str:
        s = self.scenes
        return f"SceneSource({s.height}x{s.width}, {s.n_frames} frames, max_shift={s.max_shift:g})"


def _cached_render(render, config, size: int, seed: int, device) -> Batch:
    """``render(config, size, seed, device)``; on the CPU through :data:`BATCH_CACHE` (a batch is a
    function of its config, size and seed), elsewhere rendered anew on the device."""
    if torch.device(device).type != "cpu":
        return render(config, size, seed, device)
    return BATCH_CACHE.get((config, int(size), int(seed)), lambda: render(config, size, seed, device))


class CaptureSource:
    """The capture-like scenes of :mod:`blur2vid.data.captures` (``DataConfig(family="captures")``)."""

    kind = "captures"

    def __init__(self, captures) -> None:
        self.captures = captures

    def batch(self, size: int, seed: int, device="cpu") -> Batch:
        """:func:`~blur2vid.data.captures.render_captures` ``(captures, size, seed, device)``;
        batches rendered on the CPU are kept in :data:`BATCH_CACHE` like the scenes'."""
        from blur2vid.data.captures import render_captures

        return _cached_render(render_captures, self.captures, size, seed, device)

    def test_set(self, n: int, seed: int, device="cpu") -> Batch:
        from blur2vid.data.captures import render_captures

        return render_captures(self.captures, n, seed, device)

    def validation_set(self, n: int, seed: int, device="cpu") -> Batch:
        return self.test_set(n, seed, device)

    def describe(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"source": "captures", "captures": asdict(self.captures)}

    def table(self) -> pd.DataFrame:
        return _endless_table("capture-like scenes", self.captures.n_frames)

    def __repr__(self) -> str:
        c = self.captures
        return f"CaptureSource({c.size}x{c.size}, {c.n_frames} frames, max_motion={c.max_motion:g})"


# --------------------------------------------------------------------------- folders


def _walk_kinds(root: Path) -> tuple[bool, bool]:
    """``(any image, any video)`` under ``root`` (hidden entries skipped; stops at the first image)."""
    has_video = False
    for _folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            suffix = os.path.splitext(name)[1].lower()
            if suffix in IMAGE_EXTENSIONS:
                return True, has_video
            has_video = has_video or suffix in VIDEO_EXTENSIONS
    return False, has_video


def detect_kind(root: str | os.PathLike) -> str:
    """``"rb2v"`` (a ``metadata.json`` in ``root``, or ``root`` is a ``.json`` file), ``"video"`` (a
    video file, or a folder with video files and no images under it) or ``"frames"`` (otherwise)."""
    root = Path(root)
    if not root.exists():
        raise MissingFileError(f"{root}: no such file or folder (data_root)")
    if root.is_file():
        if root.suffix.lower() == ".json":
            return "rb2v"
        if root.suffix.lower() in VIDEO_EXTENSIONS:
            return "video"
        raise DatasetError(f"{root}: not a dataset; data_root is a folder of frames or videos, a video file, or an "
                           f"RB2V folder (with metadata.json)")
    if (root / "metadata.json").is_file():
        return "rb2v"
    has_images, has_videos = _walk_kinds(root)
    return "video" if has_videos and not has_images else "frames"


_FRAME_LAYOUTS = ("single", "plain", "gopro", "reds")


class FolderSource:
    """Batches from a dataset on disk, in place of the procedural scenes (see the module docstring).

    ``scenes`` gives the window length (``n_frames``), the crop (``height x width``), the camera
    response of the synthesised blur (``crf``) and its noise (``noise``); its motion settings do not
    apply.  Options: ``downsample`` (a factor in (0, 1]), ``frame_step`` (every k-th frame),
    ``stride`` (between window starts; default: windows do not overlap), ``layout`` (``"auto"``,
    ``"rb2v"``, ``"video"``, ``"frames"`` or a frame-folder layout: ``"single"``, ``"plain"``,
    ``"gopro"``, ``"reds"``), and for layouts without split folders ``split_fraction``,
    ``test_sequences`` and ``split_seed`` (see :mod:`blur2vid.data.windows`); ``skip_short`` and
    ``on_gap`` as there; ``cache_videos`` (videos kept decoded in memory); ``name`` for the table.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        scenes: SceneConfig,
        *,
        downsample: float = 1.0,
        frame_step: int = 1,
        stride: int | None = None,
        layout: str = "auto",
        split_fraction: float = 0.2,
        test_sequences=None,
        split_seed: int = 0,
        skip_short: bool = False,
        on_gap: str = "error",
        cache_videos: int = 8,
        name: str | None = None,
    ) -> None:
        kinds = ("auto", "rb2v", "video", "frames", *_FRAME_LAYOUTS)
        if layout not in kinds:
            raise ValueError(f"unknown layout {layout!r}; expected one of {kinds}")
        self.root = Path(root)
        self.scenes = scenes
        self.crop = (scenes.height, scenes.width)
        self.crf = get_crf(scenes.crf)
        self.kind = detect_kind(self.root) if layout == "auto" else ("frames" if layout in _FRAME_LAYOUTS else layout)
        if self.kind == "rb2v":
            if frame_step != 1 or stride is not None:
                raise DatasetError(f"{self.root}: frame_step and stride do not apply to RB2V (its samples and their "
                                   f"captured blur are fixed by metadata.json)")
            ds = RB2VDataset(self.root, split="all", downsample=downsample, seed=split_seed, name=name)
            if ds.n_frames != scenes.n_frames:
                raise DatasetError(f"{ds.metadata_path}: samples of {ds.n_frames} frames (frame_per_seq) but the "
                                   f"experiment asks for windows of {scenes.n_frames} frames")
            self.layout = "rb2v"
        else:
            common = dict(n_frames=scenes.n_frames, stride=stride, split="all", downsample=downsample,
                          crf=self.crf, seed=split_seed, split_fraction=split_fraction, test_sequences=test_sequences,
                          skip_short=skip_short, name=name, frame_step=frame_step)
            if self.kind == "video":
                ds = VideoDataset(self.root, cache_videos=cache_videos, **common)
            else:
                ds = FrameFolderDataset(self.root, layout=layout if layout in _FRAME_LAYOUTS else "auto",
                                        on_gap=on_gap, **common)
            self.layout = ds.layout
        self.dataset = ds
        self.downsample = float(downsample)
        self.frame_step = int(frame_step)
        self.stride = getattr(ds, "stride", None)
        self.split_options = {"split_fraction": split_fraction, "split_seed": split_seed,
                              "test_sequences": None if test_sequences is None else
                              ([test_sequences] if isinstance(test_sequences, str) else list(test_sequences))}
        windows = ds.windows  # every window (split="all"; RB2V: every sample, in metadata order)
        #: dataset indices of each split's windows (RB2V: samples)
        self.indices = {split: [i for i, w in enumerate(windows) if w.split == split]
                        for split in ("train", "val", "test")}
        firsts: dict[str, Window] = {}  # the first window of each sequence that gives windows
        for w in windows:
            firsts.setdefault(w.sequence, w)
        for first in firsts.values():
            self._check_size(first)

    # -- sizes
    def _check_size(self, first: Window) -> None:
        """The first image of a sequence (header only) against the crop, after downsampling."""
        size = self.dataset.frame_size(first)
        sh, sw = self._scaled(size)
        if sh < self.crop[0] or sw < self.crop[1]:
            raise self._too_small(first.path, size)

    def _scaled(self, size: tuple[int, int]) -> tuple[int, int]:
        if self.downsample == 1.0:
            return size
        return max(1, round(size[0] * self.downsample)), max(1, round(size[1] * self.downsample))

    def _too_small(self, where, size: tuple[int, int]) -> DatasetError:
        h, w = size
        sh, sw = self._scaled(size)
        after = f" ({sh}x{sw} after downsample {self.downsample:g})" if self.downsample != 1.0 else ""
        ch, cw = self.crop
        return DatasetError(f"{where}: frames are {h}x{w}{after}, smaller than the {ch}x{cw} crop the experiment "
                            f"takes (its image size); use a smaller size, less downsampling, or larger frames")

    # -- samples
    def _load(self, index: int) -> Sample:
        sample = self.dataset[index]
        h, w = sample.frames.shape[-2:]
        if h < self.crop[0] or w < self.crop[1]:  # the sequence's first frame was large enough, this one is not
            raise self._too_small(self.dataset.windows[index].path, sample.meta["size"])
        return sample

    def _cropped(self, sample: Sample, top: int, left: int) -> Sample:
        ch, cw = self.crop
        return Sample(blur=sample.blur[..., top:top + ch, left:left + cw].contiguous(),
                      frames=sample.frames[..., top:top + ch, left:left + cw].contiguous(),
                      meta=dict(sample.meta, crop=(top, left, ch, cw)))

    def _finish(self, samples: list[Sample], seed: int, generator: torch.Generator, device) -> Batch:
        batch = collate(samples)
        if self.scenes.noise > 0 and self.kind != "rb2v":  # as the scenes: noise on the synthesised blur only
            noise = torch.randn(batch.blur.shape, generator=generator)
            batch = Batch((batch.blur + self.scenes.noise * noise).clamp_(0.0, 1.0), batch.frames, batch.meta)
        batch.meta["seed"] = int(seed)
        return batch.to(device)

    def _split(self, split: str, what: str) -> list[int]:
        idx = self.indices[split]
        if not idx:
            counts = {s: len(v) for s, v in self.indices.items() if v}
            hint = ("a single folder of frames is one sequence, and all of it is train: put several sequence folders "
                    "under data_root, or train/ and test/ folders" if self.layout == "single" else
                    "add sequences, or set split_fraction or test_sequences (or use train/ and test/ folders)")
            raise DatasetError(f"{self.root}: the {split} split has no windows of {self.scenes.n_frames} frames for "
                               f"{what} (windows per split: {counts}); {hint}")
        return idx

    def batch(self, size: int, seed: int, device="cpu") -> Batch:
        """``size`` random ``height x width`` crops of random train windows, drawn from ``seed``."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"batch size must be an integer >= 1, got {size!r}")
        idx = self._split("train", "training")
        g = torch.Generator().manual_seed(int(seed))
        picks = torch.randint(len(idx), (size,), generator=g).tolist()
        corners = torch.rand(size, 2, generator=g, dtype=torch.float64).tolist()  # crop corners, as fractions
        samples: list[Sample | None] = [None] * size
        ch, cw = self.crop
        # each window is read once, in index order (a video is decoded once per batch), and cropped
        # at once: a batch holds one full-size window at a time
        for p in sorted(set(picks)):
            full = self._load(idx[p])
            h, w = full.frames.shape[-2:]
            for j in (j for j, q in enumerate(picks) if q == p):
                u, v = corners[j]
                samples[j] = self._cropped(full, min(int(u * (h - ch + 1)), h - ch), min(int(v * (w - cw + 1)), w - cw))
        return self._finish(samples, seed, g, device)

    def test_set(self, n: int, seed: int = 0, device="cpu") -> Batch:
        """Centre crops of up to ``n`` windows of the test split, evenly spaced over it (``seed`` only
        seeds the noise, when ``scenes.noise > 0``)."""
        return self._centre_crops("test", "the test set", n, seed, device)

    def validation_set(self, n: int, seed: int = 0, device="cpu") -> Batch:
        """Centre crops of up to ``n`` windows of the ``val`` split where the layout has one (RB2V),
        else of evenly spaced windows of the train split (in-sample; see :mod:`blur2vid.data.config`)."""
        split = "val" if self.indices["val"] else "train"
        return self._centre_crops(split, "the validation set", n, seed, device)

    def _centre_crops(self, split: str, what: str, n: int, seed: int, device) -> Batch:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        idx = self._split(split, what)
        k = min(n, len(idx))
        if k < n and split == "test":
            print(f"{self.dataset.name}: the test split has {len(idx)} windows; the test set takes all {k} "
                  f"(asked for {n})")
        ch, cw = self.crop
        samples = []
        for i in np.linspace(0, len(idx) - 1, k).round().astype(int):
            full = self._load(idx[int(i)])
            h, w = full.frames.shape[-2:]
            samples.append(self._cropped(full, (h - ch) // 2, (w - cw) // 2))
        return self._finish(samples, seed, torch.Generator().manual_seed(int(seed)), device)

    # -- description
    def describe(self) -> dict[str, Any]:
        """What decides the data (JSON-able; part of the experiments' checkpoint keys)."""
        fixed_split = self.layout in ("gopro", "reds", "split", "rb2v")
        return {
            "source": "folder",
            "root": str(self.root.resolve()),
            "kind": self.kind,
            "layout": self.layout,
            "n_frames": self.scenes.n_frames,
            "frame_step": self.frame_step,
            "stride": self.stride,
            "crop": list(self.crop),
            "downsample": self.downsample,
            "blur": "captured" if self.kind == "rb2v" else f"synthesized ({self.crf.name})",
            "noise": 0.0 if self.kind == "rb2v" else self.scenes.noise,
            **({"split_seed": self.split_options["split_seed"]} if self.kind == "rb2v" else
               {} if fixed_split else self.split_options),
            "windows": {s: len(v) for s, v in self.indices.items() if v},
        }

    def table(self) -> pd.DataFrame:
        """:func:`~blur2vid.data.windows.dataset_table` of the dataset (every split on disk)."""
        return dataset_table({self.dataset.name: self.dataset})

    def sequences(self, split: str) -> list[str]:
        """Names of the sequences that give the windows of ``split``."""
        return list(dict.fromkeys(self.dataset.windows[i].sequence for i in self.indices[split]))

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}: {len(v)}" for s, v in self.indices.items() if v)
        return (f"FolderSource({str(self.root)!r}, {self.kind}, layout={self.layout!r}, windows of "
                f"{self.scenes.n_frames} frames, crops {self.crop[0]}x{self.crop[1]}; windows {counts})")


_OPENED: dict[tuple, FolderSource] = {}


def _freeze(value):
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def open_source(data_root: str | os.PathLike | None, scenes: SceneConfig, **options) -> SceneSource | FolderSource:
    """:class:`SceneSource` for ``data_root=None``, else the :class:`FolderSource` of the folder
    (``options`` as :class:`FolderSource`).  A folder source is built once per process and settings
    and prints its dataset table when built."""
    if data_root is None:
        if options:
            raise ValueError(f"options {sorted(options)} apply to a data_root only")
        return SceneSource(scenes)
    key = (str(Path(data_root).resolve()), repr(scenes), tuple(sorted((k, _freeze(v)) for k, v in options.items())))
    source = _OPENED.get(key)
    if source is None:
        source = FolderSource(data_root, scenes, **options)
        _OPENED[key] = source
        step = f" (frame_step {source.frame_step})" if source.frame_step > 1 else ""
        print(f"data_root {source.root.resolve()}: {source.kind} ({source.layout} layout), samples of "
              f"{scenes.n_frames} frames{step}, crops {scenes.height}x{scenes.width}")
        print(source.table().to_string())
    return source
