"""Jin et al.'s released weights mapped onto our cascade (:mod:`blur2vid.models.jin_authors`).

No real weights are here: the tests build state dicts with the authors' key names and shapes
(facts of their layout, written out below independently of the mapping), fill them with random
numbers, and check that our cascade holding them computes what a functional forward pass of the
authors' layout computes with the same numbers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blur2vid.models.jin import JinCascade, JinConfig
from blur2vid.models.jin_authors import (
    AUTHORS_FILES,
    cascade_from_authors_states,
    key_table,
    load_authors_cascade,
)

MIDDLE_STAGES = [[(1, 1)] * 3, [(1, 2), (2, 4), (4, 8)], [(8, 4), (4, 2), (2, 1)], [(1, 1)] * 3]
DILATED = [(1, 2), (4, 8), (8, 4), (2, 1)]
N8_STAGES = [[(1, 1)] * 4, DILATED, [(1, 1)] * 4]
N9_STAGES = [[(1, 1)] * 2, DILATED, [(1, 1)] * 2]


def _block_keys(prefix: str, c: int, three: bool = True) -> dict[str, tuple]:
    keys = {}
    for norm in ("norm1", "norm2", "norm4") if three else ("norm1", "norm2"):
        keys[f"{prefix}.{norm}.weight"] = (c,)
        keys[f"{prefix}.{norm}.bias"] = (c,)
    keys[f"{prefix}.conv1.weight"] = (c, c, 1, 1)
    keys[f"{prefix}.conv2.weight"] = (c, c, 3, 3)
    if three:
        keys[f"{prefix}.conv4.weight"] = (c, c, 3, 3)
    return keys


def _fuse_keys(prefix: str, c: int, out: int) -> dict[str, tuple]:
    return {f"{prefix}.norm1.weight": (c,), f"{prefix}.norm1.bias": (c,), f"{prefix}.norm2.weight": (c,),
            f"{prefix}.norm2.bias": (c,), f"{prefix}.conv1.weight": (out, c, 1, 1), f"{prefix}.conv2.weight": (out, c, 3, 3)}


def middle_shapes() -> dict[str, tuple]:
    shapes = {"conv1_B.weight": (144, 16, 5, 5)}
    for s, stage in enumerate(MIDDLE_STAGES, 1):
        for b in range(len(stage)):
            shapes |= _block_keys(f"LocalGrad{s}.{b}", 144)
        shapes |= _fuse_keys(f"fuse{s}.0", 144, 16)
    shapes |= {"conv2.weight": (64, 3, 3, 3), **_block_keys("GlobalGrad.0", 64), "norm3.weight": (64,),
               "norm3.bias": (64,), "conv3.weight": (3, 64, 3, 3)}
    return shapes


def frame_shapes(prefix: str, stages) -> dict[str, tuple]:
    shapes = {"conv1_B.weight": (64, 25, 5, 5), "conv1_S1.weight": (32, 25, 5, 5), "conv1_S2.weight": (32, 25, 5, 5)}
    for s, stage in enumerate(stages, 1):
        for b in range(len(stage)):
            shapes |= _block_keys(f"LocalGrad{s}.{b}", 128)
        shapes |= _fuse_keys(f"fuse{s}.0", 128, 25)
    shapes |= {"conv2.weight": (32, 3, 3, 3), **_block_keys("GlobalGrad.0", 32, three=False), "norm3.weight": (32,),
               "norm3.bias": (32,), "conv3.weight": (3, 32, 3, 3)}
    return {prefix + k: v for k, v in shapes.items()}


def authors_shapes() -> dict[str, dict[str, tuple]]:
    return {"middle": middle_shapes(),
            "3_5": frame_shapes("generateFrame3.", N8_STAGES) | frame_shapes("generateFrame5.", N8_STAGES),
            "2_6": frame_shapes("generateFrame2_6.", N9_STAGES),
            "1_7": frame_shapes("generateFrame1_7.", N9_STAGES)}


def random_states(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    states = {}
    for stage, shapes in authors_shapes().items():
        state = {}
        for key, shape in shapes.items():
            if len(shape) == 4:
                fan_in = shape[1] * shape[2] * shape[3]
                state[key] = torch.randn(shape, generator=g) * (0.5 / fan_in) ** 0.5
            elif key.endswith("weight"):
                state[key] = 1 + 0.1 * torch.randn(shape, generator=g)
            else:
                state[key] = 0.1 * torch.randn(shape, generator=g)
        states[stage] = state
    return states


# ---- a functional forward of the authors' layout, from the facts above -----------------------------


def _norm(x, p, name):
    return F.instance_norm(x, weight=p[f"{name}.weight"], bias=p[f"{name}.bias"], eps=1e-5)


def _block(x, p, k, dils=(1, 1)):
    one = F.conv2d(F.relu(_norm(x, p, f"{k}.norm1")), p[f"{k}.conv1.weight"])
    a = F.conv2d(F.relu(_norm(x, p, f"{k}.norm2")), p[f"{k}.conv2.weight"], padding=dils[0], dilation=dils[0])
    b = F.conv2d(F.relu(_norm(a, p, f"{k}.norm4")), p[f"{k}.conv4.weight"], padding=dils[1], dilation=dils[1])
    return x + one + b


def _two(x, p, k):
    return (F.conv2d(F.relu(_norm(x, p, f"{k}.norm1")), p[f"{k}.conv1.weight"])
            + F.conv2d(F.relu(_norm(x, p, f"{k}.norm2")), p[f"{k}.conv2.weight"], padding=1))


def _trunk_and_fuse(h, p, stages, base, factor):
    out = base
    for s, stage in enumerate(stages, 1):
        for b, d in enumerate(stage):
            h = _block(h, p, f"LocalGrad{s}.{b}", d)
        out = out + _two(h, p, f"fuse{s}.0")
    return F.pixel_shuffle(out, factor)


def their_middle(y, p):
    chans = []
    for c in range(3):
        g = F.pixel_unshuffle(y[:, c:c + 1], 4)
        chans.append(_trunk_and_fuse(F.conv2d(g, p["conv1_B.weight"], padding=2), p, MIDDLE_STAGES, g, 4))
    out = _block(F.conv2d(torch.cat(chans, 1), p["conv2.weight"], padding=1), p, "GlobalGrad.0")
    return F.conv2d(F.relu(_norm(out, p, "norm3")), p["conv3.weight"], padding=1) + y


def their_frame(y, x2, x3, p, prefix, stages):
    p = {k.removeprefix(prefix): v for k, v in p.items() if k.startswith(prefix)}
    chans = []
    for c in range(3):
        gy, g2, g3 = (F.pixel_unshuffle(t[:, c:c + 1], 5) for t in (y, x2, x3))
        h = torch.cat([F.conv2d(gy, p["conv1_B.weight"], padding=2), F.conv2d(g2, p["conv1_S1.weight"], padding=2),
                       F.conv2d(g3, p["conv1_S2.weight"], padding=2)], 1)
        chans.append(_trunk_and_fuse(h, p, stages, g3, 5))
    out = _two(F.conv2d(torch.cat(chans, 1), p["conv2.weight"], padding=1), p, "GlobalGrad.0")
    return F.conv2d(F.relu(_norm(out, p, "norm3")), p["conv3.weight"], padding=1)


def their_cascade(y, s):
    x4 = their_middle(y, s["middle"])
    x3 = their_frame(y, x4, x4, s["3_5"], "generateFrame3.", N8_STAGES) + x4
    x5 = their_frame(y, x3, x4, s["3_5"], "generateFrame5.", N8_STAGES) + x4
    x2 = their_frame(y, x4, x3, s["2_6"], "generateFrame2_6.", N9_STAGES) + x3
    x6 = their_frame(y, x4, x5, s["2_6"], "generateFrame2_6.", N9_STAGES) + x5
    x1 = their_frame(y, x3, x2, s["1_7"], "generateFrame1_7.", N9_STAGES) + x2
    x7 = their_frame(y, x5, x6, s["1_7"], "generateFrame1_7.", N9_STAGES) + x6
    return torch.stack([x1, x2, x3, x4, x5, x6, x7], 1)


# ---- tests ------------------------------------------------------------------------------------------


def test_the_table_covers_every_tensor_of_the_authors_files_with_their_shapes():
    expected = {(AUTHORS_FILES[stage], key, shape) for stage, shapes in authors_shapes().items()
                for key, shape in shapes.items()}
    table = {(row["file"], row["theirs"], row["shape"]) for row in key_table()}
    assert table == expected
    assert sum(v.numel() for v in random_states()["middle"].values()) == 4_972_032


@torch.no_grad()
def test_our_cascade_with_their_weights_computes_their_layout(one_thread):
    states = random_states(1)
    cascade = cascade_from_authors_states(states)
    y = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    theirs = their_cascade(y, states)
    ours = cascade(y)
    assert ours.shape == (1, 7, 3, 40, 40)
    err = (ours - theirs).abs().max() / theirs.abs().max()
    assert err < 1e-4, f"largest relative difference {err:.2e}"
    # the cascade is not near an identity: the check compares real computations
    assert (theirs - y[:, None]).abs().mean() > 1e-2


def test_missing_extra_and_misshapen_keys_are_named_with_their_file():
    states = random_states()
    broken = {**states, "2_6": dict(states["2_6"])}
    del broken["2_6"]["generateFrame2_6.fuse2.0.conv1.weight"]
    with pytest.raises(ValueError, match=r"F26_N9_from_F35_N8\.pth has no key 'generateFrame2_6\.fuse2\.0\.conv1\.weight'"):
        cascade_from_authors_states(broken)
    broken["2_6"] = dict(states["2_6"], **{"generateFrame2_6.fuse2.0.conv1.weight": torch.zeros(25, 64, 1, 1)})
    with pytest.raises(ValueError, match=r"shape \[25, 64, 1, 1\].*needs \[25, 128, 1, 1\]"):
        cascade_from_authors_states(broken)
    broken["2_6"] = dict(states["2_6"], extra=torch.zeros(1))
    with pytest.raises(ValueError, match="keys our cascade has no place for: \\['extra'\\]"):
        cascade_from_authors_states(broken)
    with pytest.raises(ValueError, match="paper's layout"):
        cascade_from_authors_states(states, config=JinConfig.cpu())


def test_a_folder_of_the_four_released_files_loads(tmp_path):
    states = random_states(3)
    for stage, name in AUTHORS_FILES.items():
        torch.save({"state_dict_G": states[stage], "epoch": 7}, tmp_path / name)
    model, notes = load_authors_cascade(tmp_path)
    assert isinstance(model, JinCascade) and "released" in notes["trained"]
    assert torch.equal(model.middle.extract.conv.weight, states["middle"]["conv1_B.weight"])
    (tmp_path / AUTHORS_FILES["1_7"]).unlink()
    with pytest.raises(FileNotFoundError, match="missing \\['F17_N9"):
        load_authors_cascade(tmp_path)
    (tmp_path / AUTHORS_FILES["1_7"]).write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="F17_N9_from_F26_N9_from_F35_N8.pth: not a loadable weights file") as info:
        load_authors_cascade(tmp_path)
    assert "weights_only" not in str(info.value)
