"""Video files: :class:`VideoDataset`, and :func:`probe_video` / :func:`read_video` beneath it.

A sequence is one video file (``.mp4 .mov .avi .mkv .webm``), decoded by the ffmpeg binary that
ships inside the ``imageio-ffmpeg`` wheel (the backend of imageio's FFMPEG plugin), first video
stream, every decoded frame kept (``-fps_mode passthrough``: no frames dropped or duplicated to a
constant rate).  ``path_or_folder`` is one video, a folder of videos (searched recursively; split
by fraction as in :mod:`blur2vid.data.windows`) or a folder with ``train/`` and ``test/``
sub-folders of videos.

At construction each video of the loaded split is *probed* (:func:`probe_video`): its size and
frame rate come from the metadata that :func:`imageio_ffmpeg.read_frames` yields first, its frame
count from :func:`imageio_ffmpeg.count_frames_and_secs` (a decode to a null sink), and with
``strict=True`` one more decode to a null sink rejects any video for which ffmpeg reports an error
(truncated or corrupt files).  Frames are decoded on first use of a video (:func:`read_video`) and
the whole video is kept in memory as ``uint8 [N, H, W, 3]`` (720p: 2.8 MB a frame, so about 0.8 GB
for 300 frames) for the ``cache_videos`` most recently used videos; windows of one video are then
cheap.  Reading windows of many long videos in random order re-decodes them: extract the frames to
a folder and use :class:`~blur2vid.data.frame_folders.FrameFolderDataset` instead.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from blur2vid.data.windows import (
    DatasetError,
    MissingFileError,
    Seq,
    SlidingWindowDataset,
    Window,
    assign_splits,
    is_int,
    natural_key,
)

__all__ = ["VIDEO_EXTENSIONS", "VideoDataset", "VideoInfo", "probe_video", "read_video", "find_videos"]

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm")
# first video stream, every decoded frame (no rate conversion); read_frames adds rgb24 rawvideo
_OUTPUT = ["-map", "0:v:0", "-fps_mode", "passthrough"]


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a pinned dependency
        raise ImportError("VideoDataset needs imageio-ffmpeg (pip install imageio-ffmpeg)") from exc
    return imageio_ffmpeg


@contextmanager
def _read_frames(path: Path) -> Iterator[Iterator]:
    """:func:`imageio_ffmpeg.read_frames` of ``path`` (first item: its metadata dict), closed on
    exit.  ResourceWarnings are silenced meanwhile: imageio-ffmpeg leaves the pipes of an ffmpeg
    that has already exited to the garbage collector."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        reader = _ffmpeg().read_frames(str(path), output_params=_OUTPUT)
        try:
            yield reader
        finally:
            reader.close()


# what imageio-ffmpeg raises for a file ffmpeg cannot open or read (and its header parser, for odd headers)
_FAILED = (OSError, RuntimeError, ValueError, IndexError, AttributeError)


def _last_lines(text, n: int = 3) -> str:
    """The last ``n`` distinct non-empty lines of ffmpeg's log, joined (for error messages)."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return "; ".join(list(dict.fromkeys(lines))[-n:])


def _detail(exc: BaseException) -> str:
    """:func:`_last_lines` of an error of :func:`_read_frames`, dropping its traceback: that lets go
    of the reader's ffmpeg process now, while its warnings are silenced."""
    exc.__traceback__ = None
    return _last_lines(exc)


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learned: the frame count, the size of the decoded frames, the rate."""

    path: Path
    n_frames: int
    height: int
    width: int
    fps: float


def probe_video(path: str | os.PathLike, strict: bool = True) -> VideoInfo:
    """Frame count, size and rate of the first video stream of ``path`` (see the module docstring).

    Raises :class:`DatasetError` naming the file when ffmpeg cannot open or decode it, or (with
    ``strict``) reports any error on the way, as a truncated or corrupt file does."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such video file")
    ffmpeg = _ffmpeg()
    with _read_frames(path) as reader:
        try:
            header = next(reader)
        except _FAILED as exc:
            raise DatasetError(f"{path}: cannot decode as a video (truncated or corrupt?): {_detail(exc)}") from None
    if strict:
        cmd = [ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), *_OUTPUT, "-f", "null", "-"]
        proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=False)
        log = proc.stderr.decode(errors="replace")
        if proc.returncode != 0 or log.strip():
            detail = _last_lines(log) or f"ffmpeg exit status {proc.returncode}"
            raise DatasetError(f"{path}: cannot decode as a video (truncated or corrupt?): {detail}")
    try:
        n_frames, _ = ffmpeg.count_frames_and_secs(str(path))
    except RuntimeError as exc:
        raise DatasetError(f"{path}: cannot decode as a video (truncated or corrupt?): {_last_lines(exc)}") from exc
    if not n_frames:
        raise DatasetError(f"{path}: no video frames could be decoded")
    width, height = header["size"]
    return VideoInfo(path, int(n_frames), int(height), int(width), float(header["fps"]))


def read_video(path: str | os.PathLike, info: VideoInfo | None = None) -> np.ndarray:
    """All frames of the first video stream as ``uint8 [N, H, W, 3]`` RGB, through
    :func:`imageio_ffmpeg.read_frames` (``info`` from :func:`probe_video`, probed here when not
    given); a count or size other than the probe's is an error naming the file."""
    path = Path(path)
    info = info or probe_video(path)
    n, h, w = info.n_frames, info.height, info.width
    frames = np.empty((n, h, w, 3), np.uint8)
    got, size, detail = 0, (w, h), ""
    with _read_frames(path) as reader:
        try:
            size = tuple(next(reader)["size"])
            for buf in reader if size == (w, h) else ():
                if got == n:
                    got += 1  # one more than the probe counted: enough to tell
                    break
                frames[got] = np.frombuffer(buf, np.uint8).reshape(h, w, 3)
                got += 1
        except _FAILED as exc:
            detail = f": {_detail(exc)}"
    if got != n or size != (w, h):
        decoded = f"more than {n}" if got > n else f"{got}"
        raise DatasetError(f"{path}: decoded {decoded} frames of {size[0]}x{size[1]} where the probe counted {n} "
                           f"of {w}x{h} (file changed or corrupt?){detail}")
    return frames


def find_videos(folder: Path) -> list[Path]:
    videos = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
              and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(videos, key=lambda p: natural_key(p.relative_to(folder).as_posix()))


class VideoDataset(SlidingWindowDataset):
    """Sliding windows of ``n_frames`` consecutive frames of video files; blur synthesised.

    ``path_or_folder``: a video file, a folder of videos (recursive; split by fraction or
    ``test_sequences``, by video), or a folder with ``train/`` and ``test/`` sub-folders of videos.
    Sequence names are the videos' paths relative to the folder, without suffix.  ``strict=False``
    accepts videos for which ffmpeg reports decoding errors (the frames it does decode are used).
    ``cache_videos`` decoded videos are kept in memory (see the module docstring).  Other arguments
    as :class:`~blur2vid.data.frame_folders.FrameFolderDataset`.
    """

    source = "video"

    def __init__(
        self,
        path_or_folder: str | os.PathLike,
        n_frames: int = 7,
        stride: int | None = None,
        split: str = "train",
        downsample: float = 1.0,
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
        self._init_common(n_frames, stride, split, downsample, crf, seed, "error", skip_short, split_fraction,
                          frame_step)
        if not is_int(cache_videos) or cache_videos < 1:
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
                     for s in ("train", "test") if (self.root / s).is_dir() for v in find_videos(self.root / s)]
        else:
            self.layout = "folder"
            found = [(v.relative_to(self.root).with_suffix("").as_posix(), None, v) for v in find_videos(self.root)]
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
            splits = assign_splits(names, self.split_fraction, test_sequences, self.seed, str(self.root))
            found = [(n, splits[n], p) for n, _, p in found]
        self._sequences = [Seq(n, s, p) for n, s, p in found]
        self._select()  # probes the videos of the loaded split only; split_counts() probes the rest

    def info(self, sequence: str) -> VideoInfo:
        """The probe of a sequence's video (probed now if it was not yet)."""
        if sequence not in self._info:
            self._info[sequence] = probe_video(self._seq(sequence).path, self.strict)
        return self._info[sequence]

    def frame_size(self, window: Window) -> tuple[int, int]:
        """``(H, W)`` of the window's video, from its probe."""
        info = self.info(window.sequence)
        return info.height, info.width

    def _numbers(self, seq: Seq) -> list[int]:
        return list(range(self.info(seq.name).n_frames))

    def _video(self, seq: Seq) -> np.ndarray:
        key = seq.name
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        frames = read_video(seq.path, self.info(key))
        self._cache[key] = frames
        while len(self._cache) > self.cache_videos:
            self._cache.popitem(last=False)
        return frames

    def _load(self, seq: Seq, window: Window, where: str) -> tuple[torch.Tensor, dict]:
        video = self._video(seq)
        k = window.frames
        clip = torch.from_numpy(video[k[0] : k[-1] + 1 : self.frame_step]).permute(0, 3, 1, 2).float().div_(255.0)
        return clip, {"frame_indices": k, "path": str(seq.path), "fps": self.info(seq.name).fps}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = OrderedDict()  # copies (e.g. in worker processes) decode their own
        return state
