"""Contracts of the procedural scenes (blur2vid.data.scenes)."""

import math

import pytest
import torch

from blur2vid.core.formation import average_subframes, get_crf, synthesize_blur
from blur2vid.core.seeding import derive_seed
from blur2vid.data.sample import Batch
from blur2vid.data.scenes import (
    SCENE_FAMILIES,
    TEXTURE_NAMES,
    SceneConfig,
    frame_times,
    instant_times,
    render_params,
    render_scenes,
    sample_params,
    scene_batches,
    scene_config,
    scene_set,
    texture_bank,
)

SMALL = SceneConfig(height=32, width=40, n_frames=5, subframes=3, max_shift=8.0)


def _same(a: Batch, b: Batch) -> bool:
    return torch.equal(a.blur, b.blur) and torch.equal(a.frames, b.frames)


# --------------------------------------------------------------------------- configuration


def test_config_is_frozen_and_sprite_size_normalised():
    c = SceneConfig(sprite_size=[1 / 8, 1 / 4])
    assert c.sprite_size == (0.125, 0.25) and hash(c) == hash(SceneConfig(sprite_size=(0.125, 0.25)))
    with pytest.raises(AttributeError):
        c.height = 32  # frozen


def test_scene_families():
    for family in SCENE_FAMILIES:
        assert scene_config(family, height=24) == SceneConfig(**{**SCENE_FAMILIES[family], "height": 24})
    with pytest.raises(ValueError, match="'wobble'"):
        scene_config("wobble")
    pans = render_scenes(scene_config("pans", height=24, width=24), 8, seed=0)
    assert (pans.meta["params"]["n_sprites"] == 0).all() and not pans.meta["params"]["sprite_present"].any()
    sprites = render_scenes(scene_config("sprites", height=24, width=24), 8, seed=0)
    assert (sprites.meta["params"]["n_sprites"] >= 1).all()


@pytest.mark.parametrize(
    "field,value",
    [
        ("height", 0),
        ("width", -3),
        ("n_frames", 0),
        ("subframes", 0),
        ("subframes", 1.5),
        ("min_sprites", -1),
        ("max_sprites", -2),
        ("sprite_size", (0.0, 0.3)),
        ("sprite_size", (0.3, 0.2)),
        ("sprite_size", (0.2, 0.7)),
        ("sprite_size", (0.2,)),
        ("max_shift", -1.0),
        ("max_shift", float("nan")),
        ("noise", -0.01),
        ("zoom", -0.1),
        ("crf", "gamma-2"),
        ("crf", "log"),
        ("pan", "yes"),
    ],
)
def test_bad_config_raises_naming_field_and_value(field, value):
    with pytest.raises(ValueError) as info:
        SceneConfig(**{field: value})
    message = str(info.value)
    assert field in message and repr(value) in message, message


def test_min_sprites_above_max_raises():
    with pytest.raises(ValueError, match=r"min_sprites.*3.*max_sprites.*2"):
        SceneConfig(min_sprites=3, max_sprites=2)


def test_bad_counts_raise():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        render_scenes(SMALL, 0, seed=0)
    with pytest.raises(ValueError, match="start must be an integer >= 0, got -1"):
        next(scene_batches(SMALL, 2, seed=0, start=-1))
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        scene_set(SMALL, 0, seed=0)


# --------------------------------------------------------------------------- textures


def test_texture_bank_is_cached_and_valid():
    bank = texture_bank(64)
    assert bank.shape == (len(TEXTURE_NAMES), 3, 64, 64) and bank.dtype == torch.float32
    assert texture_bank(64) is bank
    assert 0.0 <= bank.min() and bank.max() <= 1.0
    assert (bank.flatten(1).std(dim=1) > 0.05).all(), "every texture has contrast"


# --------------------------------------------------------------------------- output contract


def test_shapes_range_and_meta():
    batch = render_scenes(SMALL, 6, seed=3)
    assert batch.blur.shape == (6, 3, 32, 40) and batch.frames.shape == (6, 5, 3, 32, 40)
    assert batch.blur.dtype == torch.float32 and batch.frames.dtype == torch.float32
    for x in (batch.blur, batch.frames):
        assert torch.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0
    assert batch.meta["seed"] == 3 and batch.meta["config"] == SMALL
    params = batch.meta["params"]
    assert isinstance(params, dict)
    for name, value in params.items():
        assert isinstance(value, torch.Tensor) and value.device.type == "cpu", name
        assert value.shape[0] == 6, name
    assert ((params["n_sprites"] >= SMALL.min_sprites) & (params["n_sprites"] <= SMALL.max_sprites)).all()
    assert torch.allclose(batch.meta["frame_times"], frame_times(SMALL).float())
    assert not batch.blur.requires_grad
    # usable in autograd (not an inference-mode tensor)
    w = torch.ones(1, requires_grad=True)
    (batch.blur * w).sum().backward()
    assert w.grad is not None


def test_blur_is_synthesize_blur_of_frames():
    for crf in ("gamma2.2", "linear", "srgb"):
        config = SceneConfig(height=24, width=24, n_frames=5, crf=crf)
        batch = render_scenes(config, 4, seed=11)
        torch.testing.assert_close(batch.blur, synthesize_blur(batch.frames, crf), atol=2e-5, rtol=0)


def test_frames_are_averaged_subframes():
    """Jin Eq. 2: rendering (T*s frames, 1 subframe) gives the instants themselves, and averaging
    them in groups of s through the camera response gives the (T frames, s subframes) render."""
    coarse = SceneConfig(height=24, width=32, n_frames=3, subframes=4)
    fine = SceneConfig(height=24, width=32, n_frames=12, subframes=1)
    assert torch.allclose(instant_times(coarse), frame_times(fine))
    a = render_scenes(coarse, 4, seed=5)
    b = render_scenes(fine, 4, seed=5)
    torch.testing.assert_close(a.frames, average_subframes(b.frames, 4, coarse.crf), atol=2e-5, rtol=0)
    torch.testing.assert_close(a.blur, b.blur, atol=2e-5, rtol=0)


def test_noise_only_on_the_blur():
    clean = render_scenes(SMALL, 4, seed=2)
    noisy_config = SceneConfig(**{**SMALL.__dict__, "noise": 0.02})
    noisy = render_scenes(noisy_config, 4, seed=2)
    assert torch.equal(clean.frames, noisy.frames)
    diff = noisy.blur - clean.blur
    inside = (clean.blur > 0.1) & (clean.blur < 0.9)
    assert abs(diff[inside].std().item() - 0.02) < 0.003
    assert torch.equal(noisy.blur, render_scenes(noisy_config, 4, seed=2).blur)


# --------------------------------------------------------------------------- seeding


def test_same_seed_same_scenes_different_seed_different():
    a = render_scenes(SMALL, 4, seed=7)
    b = render_scenes(SMALL, 4, seed=7)
    c = render_scenes(SMALL, 4, seed=8)
    assert _same(a, b)
    for name in a.meta["params"]:
        assert torch.equal(a.meta["params"][name], b.meta["params"][name])
    assert (a.frames - c.frames).abs().flatten(1).mean(1).min() > 1e-3
    # scenes within a batch differ from each other too
    assert (a.frames[0] - a.frames[1]).abs().mean() > 1e-3


def test_scene_does_not_depend_on_batch_size():
    big = render_scenes(SMALL, 5, seed=9)
    small = render_scenes(SMALL, 3, seed=9)
    torch.testing.assert_close(big.frames[:3], small.frames, atol=1e-6, rtol=0)
    held_out = scene_set(SMALL, 5, seed=9, batch_size=2)
    torch.testing.assert_close(held_out.frames, big.frames, atol=1e-6, rtol=0)
    torch.testing.assert_close(held_out.blur, big.blur, atol=1e-6, rtol=0)
    assert torch.equal(held_out.meta["params"]["scene_seed"], big.meta["params"]["scene_seed"])
    assert len(held_out) == 5 and held_out.meta["params"]["bg_scale"].shape == (5,)


def test_derive_seed_is_keyed_stable_and_fits_a_generator():
    # pinned: a change here silently changes every scene, batch and crop of every run
    assert derive_seed(0, 3) == 6515528556742908675 and derive_seed(4, "batch", 1) == 3746834273924544304
    seeds = {derive_seed(s, *k) for s in range(20) for k in [(), (0,), (1,), ("batch", 0), ("batch", 1)]}
    assert len(seeds) == 100 and all(0 <= x < 2**63 for x in seeds)
    assert derive_seed(1, 2, 3) != derive_seed(1, 23) and derive_seed(1, 2, 3) != derive_seed(12, 3)
    torch.Generator().manual_seed(max(seeds))


def test_scene_batches_resume_exactly():
    stream = scene_batches(SMALL, 3, seed=4)
    batches = [next(stream) for _ in range(3)]
    resumed = next(scene_batches(SMALL, 3, seed=4, start=2))
    assert _same(resumed, batches[2]) and resumed.meta["batch_index"] == 2
    assert not _same(batches[0], batches[1])
    assert batches[1].meta["seed"] == derive_seed(4, "batch", 1)


# --------------------------------------------------------------------------- motion


def test_scenes_move_and_most_pixels_change():
    batch = render_scenes(SceneConfig(), 16, seed=1)
    first, last = batch.frames[:, 0], batch.frames[:, -1]
    per_scene = (first - last).abs().flatten(1).mean(1)
    assert (per_scene > 0.02).float().mean() >= 0.9, per_scene
    moving = ((first - last).abs().amax(dim=1) > 0.02).flatten(1).float().mean(1)
    assert moving.mean() > 0.6, moving  # the pan moves the textured background everywhere
    # ... and the blur is not one of the sharp frames
    assert ((batch.blur - batch.frames[:, 3]).abs().flatten(1).mean(1) > 0.005).float().mean() >= 0.9


def test_static_scene_has_identical_frames():
    config = SceneConfig(height=24, width=24, min_sprites=0, max_sprites=0, pan=False)
    batch = render_scenes(config, 3, seed=0)
    torch.testing.assert_close(batch.frames, batch.frames[:, :1].expand_as(batch.frames), atol=1e-6, rtol=0)
    torch.testing.assert_close(batch.blur, batch.frames[:, 0], atol=2e-5, rtol=0)


def test_motion_magnitudes_and_switches():
    config = SceneConfig(max_shift=10.0)
    p = sample_params(config, range(2000))
    pan = p["pan_velocity"].norm(dim=-1)
    assert pan.min() >= 2.5 - 1e-4 and pan.max() <= 10.0 + 1e-4
    extent = p["sprite_velocity"].norm(dim=-1) + p["sprite_accel"].norm(dim=-1) / 8
    assert extent.max() <= 10.0 + 1e-4 and extent.min() >= 2.5 - 1e-4
    # directions uniform: no preferred direction, so a scene and its time reverse are equally likely
    for v in (p["pan_velocity"], p["sprite_velocity"].flatten(0, 1)):
        unit = v / v.norm(dim=-1, keepdim=True)
        assert unit.mean(0).norm() < 0.06
    assert abs(p["sprite_spin"].mean()) < 0.03 and abs(p["zoom_rate"].mean()) < 0.005
    assert (p["bg_texture"][:, None] != p["sprite_texture"]).all()
    # switches remove one kind of motion and keep every other parameter
    off = sample_params(SceneConfig(max_shift=10.0, pan=False, accel=False, rotate=False), range(50))
    on = {k: v[:50] for k, v in p.items()}
    assert (off["pan_velocity"] == 0).all() and (off["zoom_rate"] == 0).all()
    assert (off["sprite_accel"] == 0).all() and (off["sprite_spin"] == 0).all()
    for name in ("sprite_position", "sprite_angle", "sprite_half", "bg_texture", "sprite_tint"):
        assert torch.equal(off[name], on[name]), name


def _flip_time(params):
    flipped = dict(params)
    for name in ("pan_velocity", "zoom_rate", "sprite_velocity", "sprite_spin"):
        flipped[name] = -params[name]
    return flipped  # a t^2 / 2 is even in t


def test_a_pan_is_one_translation_of_the_whole_frame():
    """Without sprites or zoom, frame k + 1 is frame k moved by the pan's displacement per frame
    (here exactly (2, -1) pixels), wherever both see the same content."""
    config = scene_config("pans", height=32, width=40, n_frames=5, subframes=1, zoom=0.0)
    p = sample_params(config, [3, 4])
    p["pan_velocity"] = torch.tensor([[10.0, -5.0], [10.0, -5.0]])  # over the exposure: 5 frames of (2, -1)
    _, frames = render_params(config, p)
    dx, dy = 2, -1
    for k in range(config.n_frames - 1):
        # frame k+1 at (y, x) shows what frame k showed at (y - dy, x - dx)
        later = frames[:, k + 1, :, max(dy, 0):32 + min(dy, 0), dx:]
        earlier = frames[:, k, :, max(-dy, 0):32 + min(-dy, 0), :-dx]
        torch.testing.assert_close(later, earlier, atol=1e-4, rtol=0)
        assert (frames[:, k + 1] - frames[:, k]).abs().mean() > 0.01  # ... and the content does move


def test_time_reversal_plays_frames_backwards():
    """Negating every odd-in-t parameter plays the video backwards, frame by frame: the frames sit
    symmetrically about t = 0 and the middle one is the exposure's midpoint."""
    config = SceneConfig(height=32, width=32, n_frames=7)
    params = sample_params(config, range(4))
    blur, frames = render_params(config, params)
    blur_r, frames_r = render_params(config, _flip_time(params))
    torch.testing.assert_close(frames_r, frames.flip(1), atol=2e-4, rtol=0)
    torch.testing.assert_close(blur_r, blur, atol=2e-4, rtol=0)
    assert (frames[:, 0] - frames[:, -1]).abs().mean() > 0.01


def _flat_textures(values, size=64):
    return torch.tensor(values, dtype=torch.float32)[:, None, None, None].expand(len(values), 3, size, size).contiguous()


def _single_sprite_params(config, half=(9.0, 6.0), position=(3.3, -2.7), velocity=(6.0, 2.5)):
    p = sample_params(config, [0])
    p = {k: v.clone() for k, v in p.items()}
    p["bg_texture"][:] = 0
    p["bg_tint"][:] = 1.0
    p["n_sprites"][:] = 1
    p["sprite_present"][:] = False
    p["sprite_present"][0, 0] = True
    p["sprite_texture"][:] = 1
    p["sprite_tint"][:] = 1.0
    p["sprite_half"][0, 0] = torch.tensor(half)
    p["sprite_position"][0, 0] = torch.tensor(position)
    p["sprite_velocity"][0, 0] = torch.tensor(velocity)
    return p


def _centroid(img):
    """Centroid (pixels from the image centre, x right / y down) of a [H, W] weight image."""
    h, w = img.shape
    ys = torch.arange(h, dtype=torch.float64) + 0.5 - h / 2
    xs = torch.arange(w, dtype=torch.float64) + 0.5 - w / 2
    m = img.double()
    return torch.stack([(m.sum(0) * xs).sum() / m.sum(), (m.sum(1) * ys).sum() / m.sum()])


def test_middle_frame_is_at_t0_and_frames_follow_the_path():
    """A white sprite on black, moving linearly: the middle frame's centroid (in linear irradiance)
    is p0, and frame i's is p0 + v * t_i with t_i the frame's mid-time."""
    config = SceneConfig(height=48, width=48, n_frames=5, subframes=3, min_sprites=1, max_sprites=1, pan=False, accel=False, rotate=False)
    p = _single_sprite_params(config)
    _, frames = render_params(config, p, textures=_flat_textures([0.0, 1.0]))
    linear = get_crf(config.crf).inverse(frames[0, :, 0])  # [T, H, W]
    for i, t in enumerate(frame_times(config).tolist()):
        expected = p["sprite_position"][0, 0].double() + t * p["sprite_velocity"][0, 0].double()
        torch.testing.assert_close(_centroid(linear[i]), expected, atol=0.03, rtol=0)
    assert frame_times(config)[2] == 0
    # the sprite's area is that of its shape (an ellipse for corner fraction 1)
    p["sprite_corner"][0, 0] = 1.0
    _, frames = render_params(config, p, textures=_flat_textures([0.0, 1.0]))
    area = get_crf(config.crf).inverse(frames[0, 2, 0]).sum()
    assert abs(area - math.pi * 9 * 6) < 0.02 * math.pi * 9 * 6


def test_later_sprite_occludes_earlier():
    config = SceneConfig(height=48, width=48, n_frames=3, min_sprites=2, max_sprites=2, pan=False)
    textures = _flat_textures([0.0, 0.3, 0.9])
    base = sample_params(config, [1])
    base = {k: v.clone() for k, v in base.items()}
    base["bg_texture"][:] = 0
    base["bg_tint"][:] = 1.0
    base["sprite_tint"][:] = 1.0
    base["sprite_texture"][0] = torch.tensor([1, 2])  # slot 0 dark, slot 1 bright
    base["sprite_position"][:] = 0.0
    base["sprite_velocity"][:] = 0.0
    base["sprite_accel"][:] = 0.0
    base["sprite_spin"][:] = 0.0
    base["sprite_corner"][:] = 1.0

    small_on_top = dict(base, sprite_half=torch.tensor([[[14.0, 14.0], [5.0, 5.0]]]))
    _, frames = render_params(config, small_on_top, textures=textures)
    img = frames[0, 1, 0]  # [H, W], pixel (24, 24) is just off the centre
    assert abs(img[24, 24] - 0.9) < 1e-3  # bright small disc on top
    assert abs(img[24, 24 + 9] - 0.3) < 1e-3  # dark big disc around it
    assert abs(img[2, 2]) < 1e-3  # background

    big_on_top = dict(base, sprite_half=torch.tensor([[[5.0, 5.0], [14.0, 14.0]]]))
    _, frames = render_params(config, big_on_top, textures=textures)
    img = frames[0, 1, 0]
    assert abs(img[24, 24] - 0.9) < 1e-3 and abs(img[24, 24 + 9] - 0.9) < 1e-3  # slot 1 hides slot 0


# --------------------------------------------------------------------------- devices


@pytest.mark.gpu
def test_cuda_matches_cpu():
    assert torch.cuda.is_available()
    config = SceneConfig(height=48, width=48)
    cpu = render_scenes(config, 8, seed=21)
    gpu = render_scenes(config, 8, seed=21, device="cuda")
    assert gpu.blur.device.type == "cuda" and gpu.frames.device.type == "cuda"
    for name, value in gpu.meta["params"].items():
        assert value.device.type == "cpu" and torch.equal(value, cpu.meta["params"][name]), name
    torch.testing.assert_close(gpu.frames.cpu(), cpu.frames, atol=1e-4, rtol=0)
    torch.testing.assert_close(gpu.blur.cpu(), cpu.blur, atol=1e-4, rtol=0)
