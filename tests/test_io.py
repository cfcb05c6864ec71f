import json

import numpy as np
import pytest
import torch
from PIL import Image

from blur2vid.core.io import (
    atomic_path,
    atomic_write_json,
    forward_then_back,
    load_image,
    repo_root,
    save_gif,
    save_image,
)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_json_round_trip(tmp_path):
    atomic_write_json(tmp_path / "a" / "m.json", {"b": 1})
    assert json.loads((tmp_path / "a" / "m.json").read_text()) == {"b": 1}


def test_image_round_trip_is_exact_at_8_bits(tmp_path):
    img = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 9, 11)).astype(np.float32) / 255)
    save_image(tmp_path / "x.png", img)
    back = load_image(tmp_path / "x.png")
    assert back.shape == (3, 9, 11) and torch.equal(back, img)


def test_grayscale_rgba_and_exif_rotation(tmp_path):
    Image.fromarray(np.full((4, 6), 128, np.uint8), "L").save(tmp_path / "g.png")
    g = load_image(tmp_path / "g.png")
    assert g.shape == (3, 4, 6) and torch.allclose(g, torch.full_like(g, 128 / 255))

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent except one pixel
    rgba[0, 0, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    a = load_image(tmp_path / "a.png")
    assert a[:, 0, 0].tolist() == [1.0, 0.0, 0.0] and a[:, 1, 1].tolist() == [1.0, 1.0, 1.0]

    im = Image.fromarray(np.zeros((4, 6, 3), np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (3, 6, 4)


def test_bad_image_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="junk.png"):
        load_image(tmp_path / "junk.png")
    save_image(tmp_path / "ok.png", torch.rand(3, 32, 32))
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.png"):
        load_image(tmp_path / "cut.png")


def test_gif_has_bounce_frames(tmp_path):
    path = save_gif(tmp_path / "s.gif", torch.rand(5, 3, 8, 8))
    with Image.open(path) as im:
        assert im.n_frames == 8  # 5 forward + 3 back
    with Image.open(save_gif(tmp_path / "f.gif", torch.rand(5, 3, 8, 8), bounce=False)) as im:
        assert im.n_frames == 5


def test_forward_then_back_on_lists_arrays_and_tensors():
    assert forward_then_back([0, 1, 2, 3]) == [0, 1, 2, 3, 2, 1]
    assert forward_then_back([0]) == [0] and forward_then_back([0, 1]) == [0, 1]
    arr = np.arange(4 * 2).reshape(4, 2)
    np.testing.assert_array_equal(forward_then_back(arr), arr[[0, 1, 2, 3, 2, 1]])
    t = torch.arange(4 * 3.0).reshape(4, 3)
    assert torch.equal(forward_then_back(t), t[[0, 1, 2, 3, 2, 1]])
    assert torch.equal(forward_then_back(t[:2]), t[:2]) and torch.equal(forward_then_back(t[:1]), t[:1])


def test_repo_root_finds_the_checkout_from_below_it(tmp_path, monkeypatch):
    root = repo_root()
    assert 'name = "blur2vid"' in (root / "pyproject.toml").read_text(encoding="utf-8")
    assert repo_root(root / "src" / "blur2vid") == root
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert repo_root(tmp_path) == tmp_path  # not a blur2vid checkout: the current folder


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    path = atomic_write_json(tmp_path / "m.json", {})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
