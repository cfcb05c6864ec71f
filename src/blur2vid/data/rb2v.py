"""HyperCUT's real blur dataset RB2V (or any data in its ``metadata.json`` format): :class:`RB2VDataset`.

``root/metadata.json`` holds ``name``, ``frame_per_seq`` (7) and ``data``, a list of samples, each
with ``id``, ``order``, ``partition`` (``train`` / ``val`` / ``test``), ``blur_path`` and
``frame001_path`` ... ``frame{N:03d}_path``, paths relative to ``root`` (the folder of
``metadata.json``).  The blur is the real captured image.  ``order`` sets the direction of the
target sequence, as in the public HyperCUT release:

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
:func:`~blur2vid.data.windows.dataset_table`) is its ``id`` up to the last ``/``
(``"00000/0000"`` -> ``"00000"``).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from blur2vid.core.seeding import derive_seed
from blur2vid.data.windows import (
    SPLITS,
    DatasetError,
    MissingFileError,
    Sample,
    Window,
    WindowDataset,
    check_downsample,
    check_split,
    downsample_images,
    image_size,
    is_int,
    load_stack,
)

__all__ = ["RB2VDataset"]

_ORDERS = {"ignore": "keep", "keep": "keep", "forward": "keep", "reverse": "reverse", "random": "random"}


class RB2VDataset(WindowDataset):
    """RB2V's samples: real blur, real frames (see the module docstring).

    ``root`` is the folder of ``metadata.json`` (or the json file itself).  ``split``: ``"train"``,
    ``"val"``, ``"test"`` or ``"all"``.  ``seed`` draws the ``"random"`` orders.  ``downsample``
    applies identically to the blur and every frame.  ``validate=True`` checks at construction
    that every file of the loaded split exists and that each sample's images share one size
    (header reads only).  ``records`` lists every sample of ``metadata.json`` (all splits).
    """

    source = "rb2v"
    splits = ("train", "val", "test", "all")

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        downsample: float = 1.0,
        seed: int = 0,
        validate: bool = False,
        name: str | None = None,
    ) -> None:
        self.split = check_split(split, self.splits)
        self.downsample = check_downsample(downsample)
        if not is_int(seed):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.seed = int(seed)
        path = Path(root)
        self.metadata_path = path if path.suffix.lower() == ".json" else path / "metadata.json"
        self.root = self.metadata_path.parent
        if not self.root.is_dir():
            raise MissingFileError(f"{self.root}: no such folder")
        if not self.metadata_path.is_file():
            raise MissingFileError(f"{self.metadata_path}: no such file (RB2V keeps its index in metadata.json)")
        self.dataset_name, self.records = _read_metadata(self.metadata_path, self.seed)
        self.name = name or self.dataset_name
        self._by_id = {r["id"]: r for r in self.records}
        self._all = [Window(r["sequence"], r["partition"], tuple(range(1, len(r["frames"]) + 1)), r["blur"].parent,
                            r["id"]) for r in self.records]
        self.windows = self._windows_in(self.split)
        if not self.windows:
            have = sorted({r["partition"] for r in self.records})
            raise DatasetError(f"{self.metadata_path}: split {self.split!r} has no samples (partitions present: {have})")
        if validate:
            self.validate()

    @property
    def n_frames(self) -> int:
        return len(self.records[0]["frames"])

    def _windows_in(self, split: str) -> list[Window]:
        return [w for w in self._all if split == "all" or w.split == split]

    def frame_size(self, window: Window) -> tuple[int, int]:
        """``(H, W)`` of the sample's blur, from its header."""
        return image_size(self._by_id[window.id]["blur"])

    def _image_groups(self):
        for w in self.windows:
            rec = self._by_id[w.id]
            yield [rec["blur"], *rec["frames"]], f"RB2V sample '{w.id}'"

    def _sample(self, window: Window, index: int) -> Sample:
        rec = self._by_id[window.id]
        images = load_stack([rec["blur"], *rec["frames"]], f"RB2V sample '{rec['id']}'")
        size = tuple(images.shape[-2:])
        images = downsample_images(images, self.downsample)
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
            "blur": "captured",
        }
        return Sample(blur=images[0].contiguous(), frames=frames.contiguous(), meta=meta)


def _read_metadata(path: Path, seed: int) -> tuple[str, list[dict]]:
    """The dataset's name and one record per sample of ``metadata.json``, checked."""
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
    if not is_int(n) or n < 1:
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
        if item["partition"] not in SPLITS:
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
