"""Jin et al.'s own released weights, where a user has them, loaded into :class:`JinCascade`.

The authors released test-time weights for their four networks as four files (``state_dict_G`` of
each): :data:`AUTHORS_FILES`.  Nothing is downloaded here: a user who has the files puts them in
one folder and passes it as ``blur2vid predict --checkpoint FOLDER``.

The paper-size cascade (``JinConfig.paper()``) has exactly the authors' parameters (4,972,032 in
the middle network, 3,934,464 in each frame-3/5 network, 2,686,208 in each frame-2/6 and 1/7
network); their names differ.  :func:`key_table` gives, for every tensor of our cascade, the
authors' file, their key and the shape; it is built from these facts of the authors' layout:

* the middle network (file ``center_v3.pth``, no prefix): ``conv1_B`` is the resampling
  convolution; ``LocalGrad1..4`` the four trunk stages, whose blocks have ``norm1/conv1`` (the 1x1
  branch) and ``norm2/conv2``, ``norm4/conv4`` (the two 3x3 convolutions); ``fuse1..4`` the stage
  fusions (``norm1/conv1`` the 1x1 branch, ``norm2/conv2`` the 3x3 branch, in a one-block
  ``Sequential``, hence ``.0``); ``conv2``, ``GlobalGrad.0``, ``norm3``, ``conv3`` the colour fusion;
* a frame network (prefixes ``generateFrame3.``, ``generateFrame5.``, ``generateFrame2_6.``,
  ``generateFrame1_7.``): ``conv1_B`` for the blur, ``conv1_S1`` for the *second* reference
  (our ``ref_b``) and ``conv1_S2`` for the *nearest* one (our ``ref_a``, the residual's base),
  concatenated in the order blur, S1, S2; ``LocalGrad1..3``, ``fuse1..3``, and a colour fusion whose
  ``GlobalGrad.0`` is a two-branch block (our ``frame_colour_block="branches"``).

Our trunk concatenates blur, ``ref_a``, ``ref_b``, so the two reference groups of channels are
swapped through every tensor of a frame network's trunk and stage fusion (:func:`trunk_permutation`;
instance norm is per channel, so the permuted network computes the same function).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from blur2vid.core.io import load_plain
from blur2vid.models.jin import JinCascade, JinConfig

__all__ = ["AUTHORS_FILES", "AUTHORS_NETWORKS", "is_authors_folder", "key_table", "trunk_permutation",
           "load_authors_cascade", "cascade_from_authors_states"]

AUTHORS_FILES: dict[str, str] = {
    "middle": "center_v3.pth",
    "3_5": "F35_N8.pth",
    "2_6": "F26_N9_from_F35_N8.pth",
    "1_7": "F17_N9_from_F26_N9_from_F35_N8.pth",
}
"""Stage -> the file name of its released weights (each a dict with the weights under ``state_dict_G``)."""

AUTHORS_NETWORKS: dict[str, tuple[str, str]] = {
    "middle": ("middle", ""),
    "net3": ("3_5", "generateFrame3."),
    "net5": ("3_5", "generateFrame5."),
    "net26": ("2_6", "generateFrame2_6."),
    "net17": ("1_7", "generateFrame1_7."),
}
"""Our network -> (its stage's file, the prefix of its keys there)."""

_BLOCK = {"norm_1x1": "norm1", "conv_1x1": "conv1", "norm_a": "norm2", "conv_a": "conv2", "norm_b": "norm4",
          "conv_b": "conv4", "norm_3x3": "norm2", "conv_3x3": "conv2"}
_RULES: tuple[tuple[str, str], ...] = (
    (r"^extract\.conv\.weight$", "conv1_B.weight"),
    (r"^extract_blur\.conv\.weight$", "conv1_B.weight"),
    (r"^extract_ref_a\.conv\.weight$", "conv1_S2.weight"),
    (r"^extract_ref_b\.conv\.weight$", "conv1_S1.weight"),
    (r"^colour\.inp\.weight$", "conv2.weight"),
    (r"^colour\.norm\.(weight|bias)$", r"norm3.\1"),
    (r"^colour\.out\.weight$", "conv3.weight"),
)


def _authors_key(ours: str) -> str:
    """The authors' name (without the network prefix) of one tensor of one of our networks."""
    for pattern, theirs in _RULES:
        if re.match(pattern, ours):
            return re.sub(pattern, theirs, ours)
    m = re.match(r"^trunk\.stages\.(\d+)\.(\d+)\.(\w+)\.(weight|bias)$", ours)
    if m:
        return f"LocalGrad{int(m[1]) + 1}.{m[2]}.{_BLOCK[m[3]]}.{m[4]}"
    m = re.match(r"^fuse\.(\d+)\.(\w+)\.(weight|bias)$", ours)
    if m:
        return f"fuse{int(m[1]) + 1}.0.{_BLOCK[m[2]]}.{m[3]}"
    m = re.match(r"^colour\.block\.(\w+)\.(weight|bias)$", ours)
    if m:
        return f"GlobalGrad.0.{_BLOCK[m[1]]}.{m[2]}"
    raise KeyError(f"no authors' name for our tensor {ours!r}")


def trunk_permutation(config: JinConfig) -> torch.Tensor:
    """Our trunk channel ``k`` is the authors' channel ``perm[k]`` in a frame network: ours are
    blur, ``ref_a``, ``ref_b``; theirs blur, S1 (``ref_b``), S2 (``ref_a``)."""
    b, r = config.frame_blur_features, config.frame_ref_features
    return torch.cat([torch.arange(b), torch.arange(b + r, b + 2 * r), torch.arange(b, b + r)])


def _permuted_dims(ours: str, ndim: int) -> tuple[int, ...]:
    """The dimensions of a frame network's tensor that run over trunk channels."""
    if ours.startswith("trunk."):
        return (0, 1) if ndim == 4 else (0,)
    if ours.startswith("fuse."):
        return (1,) if ndim == 4 else (0,)
    return ()


def key_table(config: JinConfig | None = None) -> list[dict]:
    """One row per tensor of the cascade: ``network``, ``ours`` (our key in the cascade),
    ``stage`` and ``file`` (its stage and that stage's file), ``theirs`` (their key in that file), ``shape`` and ``permuted`` (the dimensions whose
    channels :func:`trunk_permutation` reorders).  ``net17`` shares no weights with ``net26``."""
    return _rows(JinCascade(config or JinConfig.paper()))


def _rows(cascade: JinCascade) -> list[dict]:
    rows = []
    for network, (stage, prefix) in AUTHORS_NETWORKS.items():
        module = getattr(cascade, network)
        for ours, tensor in module.state_dict().items():
            dims = () if network == "middle" else _permuted_dims(ours, tensor.ndim)
            rows.append({"network": network, "ours": f"{network}.{ours}", "stage": stage, "file": AUTHORS_FILES[stage],
                         "theirs": prefix + _authors_key(ours), "shape": tuple(tensor.shape), "permuted": dims})
    return rows


def cascade_from_authors_states(states: dict[str, dict[str, torch.Tensor]], where: str = "the authors' weights",
                                config: JinConfig | None = None) -> JinCascade:
    """A paper-size :class:`JinCascade` holding the authors' weights: ``states`` maps each stage of
    :data:`AUTHORS_FILES` to that file's state dict.  Every key must be used and every shape must
    fit: a missing key, a key left over, or a shape that differs is named with its file."""
    config = config or JinConfig.paper()
    if config.frame_colour_block != "branches" or config.norm != "instance":
        raise ValueError("the authors' weights need the paper's layout: JinConfig.paper()")
    cascade = JinCascade(config)
    perm = trunk_permutation(config)
    ours: dict[str, torch.Tensor] = {}
    used: dict[str, set[str]] = {stage: set() for stage in states}
    for row in _rows(cascade):
        stage = row["stage"]
        state = states[stage]
        if row["theirs"] not in state:
            raise ValueError(f"{where}: {row['file']} has no key {row['theirs']!r} (for our {row['ours']}, shape "
                             f"{list(row['shape'])}); is it one of Jin et al.'s released files?")
        value = state[row["theirs"]]
        if tuple(value.shape) != row["shape"]:
            raise ValueError(f"{where}: {row['file']}[{row['theirs']!r}] has shape {list(value.shape)}, our "
                             f"{row['ours']} needs {list(row['shape'])}")
        for dim in row["permuted"]:
            value = value.index_select(dim, perm)
        ours[row["ours"]] = value.float()
        used[stage].add(row["theirs"])
    for stage, state in states.items():
        extra = sorted(k for k in state if k not in used[stage] and not k.endswith(("running_mean", "running_var",
                                                                                       "num_batches_tracked")))
        if extra:
            raise ValueError(f"{where}: {AUTHORS_FILES[stage]} holds keys our cascade has no place for: "
                             f"{extra[:5]}{' ...' if len(extra) > 5 else ''}")
    cascade.load_state_dict(ours)
    return cascade.eval()


def is_authors_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding at least one of the authors' file names."""
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in AUTHORS_FILES.values())


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    raw = load_plain(path, "weights file")
    state = raw.get("state_dict_G", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a dict of tensors under 'state_dict_G' (Jin et al.'s format)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_authors_cascade(folder: str | Path) -> tuple[JinCascade, dict]:
    """The paper-size cascade with the authors' weights from ``folder`` (the four files of
    :data:`AUTHORS_FILES`); returns ``(model, notes)`` like :func:`~blur2vid.models.checkpoint.load_model`."""
    folder = Path(folder)
    missing = [name for name in AUTHORS_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: Jin et al.'s weights need all four files; missing {missing}")
    states = {stage: _read_state(folder / name) for stage, name in AUTHORS_FILES.items()}
    cascade = cascade_from_authors_states(states, where=str(folder))
    return cascade, {"arch": "JinCascade", "trained": "Jin et al. (CVPR 2018), the authors' released weights",
                     "source": str(folder)}
