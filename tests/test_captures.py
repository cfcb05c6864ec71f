"""Capture-like training scenes (data/captures.py): each switch does what it says."""

import math

import pytest
import torch

from blur2vid.core.formation import get_crf, synthesize_blur
from blur2vid.data.captures import (
    CaptureConfig,
    camera_path,
    composite,
    jpeg,
    poisson_gaussian,
    render_captures,
    soft_mask,
)

SMALL = dict(size=24, n_frames=7, subframes=2, max_motion=8.0)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_clean_blur_is_the_response_of_the_mean_of_the_linear_frames():
    batch = render_captures(CaptureConfig(**SMALL), 4, seed=1)
    assert batch.blur.shape == (4, 3, 24, 24) and batch.frames.shape == (4, 7, 3, 24, 24)
    for i, name in enumerate(batch.meta["crf"]):
        expected = synthesize_blur(batch.frames[i:i + 1], get_crf(name))
        assert torch.allclose(batch.meta["blur_clean"][i:i + 1], expected, atol=1e-4), name


def test_random_responses_mix_srgb_and_gammas_and_a_fixed_one_is_kept():
    names = render_captures(CaptureConfig(**SMALL, noise=False, jpeg=False), 12, seed=2).meta["crf"]
    gammas = [float(n[5:]) for n in names if n.startswith("gamma")]
    assert "srgb" in names and gammas and all(1.8 <= g <= 2.6 for g in gammas)
    assert set(render_captures(CaptureConfig(**SMALL, crf="linear"), 3, seed=2).meta["crf"]) == {"linear"}
    with pytest.raises(ValueError):
        CaptureConfig(crf="sepia")


def test_without_noise_and_jpeg_the_blur_is_the_clean_blur():
    batch = render_captures(CaptureConfig(**SMALL, noise=False, jpeg=False), 3, seed=3)
    assert torch.equal(batch.blur, batch.meta["blur_clean"])
    assert batch.meta["jpeg_quality"] == [0, 0, 0] and batch.meta["photons"] == [0.0, 0.0, 0.0]


def test_poisson_gaussian_noise_has_the_variance_it_claims():
    flat = torch.full((1, 400, 500), 0.3)
    photons, read = 1000.0, 0.01
    noisy = poisson_gaussian(flat, photons, read, torch.Generator().manual_seed(0))
    assert noisy.mean().item() == pytest.approx(0.3, abs=1e-3)
    assert noisy.var().item() == pytest.approx(0.3 / photons + read ** 2, rel=0.05)
    brighter = poisson_gaussian(torch.full((1, 400, 500), 0.8), photons, 0.0, torch.Generator().manual_seed(0))
    assert brighter.var().item() == pytest.approx(0.8 / photons, rel=0.05)  # shot noise grows with the signal


def test_jpeg_loses_more_at_a_lower_quality_and_stays_in_range():
    image = render_captures(CaptureConfig(**SMALL, noise=False, jpeg=False), 1, seed=4).blur[0]
    errors = {q: (jpeg(image, q) - image).abs().mean().item() for q in (30, 95)}
    assert errors[30] > errors[95] > 0
    out = jpeg(image, 60)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1
    qualities = render_captures(CaptureConfig(**SMALL), 6, seed=4).meta["jpeg_quality"]
    assert all(60 <= q <= 95 for q in qualities)


def test_the_camera_path_is_a_translation_plus_shake_rotation_and_zoom():
    times = CaptureConfig(**SMALL).instant_times()
    assert times[0] == pytest.approx(-0.5 + 1 / 28) and times.mean().item() == pytest.approx(0.0, abs=1e-12)
    plain = CaptureConfig(**SMALL, shake=0.0, max_rotation=0.0, max_zoom=0.0, camera_motion=(0.25, 1.0))
    lengths, signs = [], []
    for s in range(40):
        path = camera_path(plain, torch.Generator().manual_seed(s), times)
        v = (path["offset"][-1] - path["offset"][0]) / (times[-1] - times[0])
        assert torch.allclose(path["offset"], times[:, None] * v, atol=1e-9)  # straight, uniform
        assert (path["angle"] == 0).all() and (path["scale"] == 1).all()
        lengths.append(v.norm().item())
        signs.append(v[0].item())
    assert all(0.25 * 8.0 - 1e-9 <= n <= 8.0 + 1e-9 for n in lengths)
    assert min(signs) < 0 < max(signs)  # every direction, so a scene and its reverse are alike
    # the scene's share of the motion scales the camera's: none at all is a still camera
    still = camera_path(CaptureConfig(**SMALL, shake=0.5), torch.Generator().manual_seed(0), times, motion=0.0)
    assert (still["offset"] == 0).all() and (still["angle"] == 0).all() and (still["scale"] == 1).all()
    with pytest.raises(ValueError, match="camera_motion"):
        CaptureConfig(camera_motion=(0.5, 0.2))
    with pytest.raises(ValueError, match="scene_motion"):
        CaptureConfig(scene_motion=(0.0, 1.5))
    shaky = camera_path(CaptureConfig(**SMALL, shake=0.5, max_rotation=3.0, max_zoom=0.04),
                        torch.Generator().manual_seed(0), times)
    v = (shaky["offset"][-1] - shaky["offset"][0]) / (times[-1] - times[0])
    assert not torch.allclose(shaky["offset"], times[:, None] * v, atol=1e-3)
    assert shaky["angle"].abs().max() <= math.radians(3.0) / 2 + 1e-9
    assert (shaky["scale"] - 1).abs().max() <= 0.02 + 1e-9


def _motion(batch):
    """Per scene, the mean absolute change between consecutive sharp frames."""
    return (batch.frames[:, 1:] - batch.frames[:, :-1]).abs().mean((1, 2, 3, 4))


def test_a_scene_without_motion_is_still_and_small_motions_are_common():
    still = render_captures(CaptureConfig(**SMALL, scene_motion=(0.0, 0.0), noise=False, jpeg=False), 4, seed=5)
    # camera, objects, rotation and zoom all stop: every frame is the photograph itself
    assert torch.allclose(still.frames, still.blur[:, None].expand_as(still.frames), atol=1e-5)
    assert _motion(still).max() < 1e-5
    moving = _motion(render_captures(CaptureConfig(**SMALL, noise=False, jpeg=False), 40, seed=5))
    large = _motion(render_captures(CaptureConfig(**SMALL, scene_motion=(1.0, 1.0), noise=False, jpeg=False), 40,
                                    seed=5))
    # the default draws the share uniformly: its scenes move less than at full share, and a good
    # part of them far less
    assert moving.median() < large.median()
    assert (moving < large.median() / 3).float().mean() > 0.15


def _detail(images):
    """Mean absolute difference between horizontal neighbours: how much detail a pixel holds."""
    return (images[..., 1:] - images[..., :-1]).abs().mean().item()


def test_minified_photographs_pack_more_detail_and_the_default_draws_nothing_new():
    plain = dict(SMALL, noise=False, jpeg=False, scene_motion=(0.0, 0.0))
    one = render_captures(CaptureConfig(**plain), 24, seed=6)
    four = render_captures(CaptureConfig(**plain, minify=(4.0, 4.0)), 24, seed=6)
    assert _detail(four.frames) > 1.3 * _detail(one.frames)
    again = render_captures(CaptureConfig(**plain, minify=(1.0, 1.0)), 24, seed=6)
    assert torch.equal(again.frames, one.frames)
    with pytest.raises(ValueError, match="minify"):
        CaptureConfig(minify=(0.5, 2.0))


def test_clean_scenes_have_neither_noise_nor_jpeg():
    clean = render_captures(CaptureConfig(**SMALL, clean=1.0), 4, seed=7)
    assert torch.equal(clean.blur, clean.meta["blur_clean"]) and clean.meta["jpeg_quality"] == [0] * 4
    mixed = render_captures(CaptureConfig(**SMALL, clean=0.5), 40, seed=7).meta["jpeg_quality"]
    assert 0 < sum(q == 0 for q in mixed) < 40
    default = render_captures(CaptureConfig(**SMALL), 4, seed=7)
    assert all(q > 0 for q in default.meta["jpeg_quality"])  # off by default
    with pytest.raises(ValueError, match="clean"):
        CaptureConfig(clean=1.5)


def test_still_scenes_are_sharp_photographs_whose_frames_are_the_blur():
    still = render_captures(CaptureConfig(**SMALL, still=1.0, clean=1.0), 4, seed=8)
    assert torch.allclose(still.frames, still.blur[:, None].expand_as(still.frames), atol=1e-5)
    mixed = render_captures(CaptureConfig(**SMALL, still=0.5, clean=1.0), 24, seed=8)
    spread = (mixed.frames - mixed.blur[:, None]).abs().amax((1, 2, 3, 4))
    assert 0 < int((spread < 1e-5).sum()) < 24  # some scenes still, the others moving
    default = render_captures(CaptureConfig(**SMALL, clean=1.0), 24, seed=8)
    assert int(((default.frames - default.blur[:, None]).abs().amax((1, 2, 3, 4)) < 1e-5).sum()) == 0
    with pytest.raises(ValueError, match="still"):
        CaptureConfig(still=-0.1)


def test_an_object_mask_is_soft_at_its_edge_only():
    mask = soft_mask(32, (8.0, 8.0), 0.0, 2.0, edge=2.0)
    assert mask[16, 16] == 1 and mask[0, 0] == 0
    row = mask[16]
    ramp = ((row > 0) & (row < 1)).sum().item()
    assert 2 <= ramp <= 6  # about two pixels of ramp on each side


def test_later_objects_occlude_earlier_ones():
    bottom, first, second = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.5), torch.ones(1, 3, 4, 4)
    alpha1 = torch.ones(1, 1, 4, 4)
    alpha2 = torch.zeros(1, 1, 4, 4)
    alpha2[..., :2] = 1
    out = composite(bottom, [(first, alpha1), (second, alpha2)])
    assert (out[..., :2] == 1).all() and (out[..., 2:] == 0.5).all()


def test_frames_are_the_mean_of_their_instants():
    fine = CaptureConfig(**{**SMALL, "n_frames": 14, "subframes": 1}, noise=False, jpeg=False, crf="linear")
    coarse = CaptureConfig(**SMALL, noise=False, jpeg=False, crf="linear")  # 7 frames of 2 instants
    a, b = render_captures(fine, 2, seed=5), render_captures(coarse, 2, seed=5)
    grouped = a.frames.view(2, 7, 2, 3, 24, 24).mean(2)
    assert torch.allclose(grouped, b.frames, atol=1e-5)


def test_a_scene_is_the_same_whatever_the_batch_and_objects_move_on_their_own():
    cfg = CaptureConfig(**SMALL, noise=False, jpeg=False)
    three = render_captures(cfg, 3, seed=6)
    third = render_captures(cfg, 1, seed=6, start=2)
    assert torch.equal(three.frames[2], third.frames[0]) and torch.equal(three.blur[2], third.blur[0])
    assert not torch.equal(three.frames[0], three.frames[1])
    still = CaptureConfig(**{**SMALL, "max_motion": 0.0}, max_rotation=0.0, max_zoom=0.0, noise=False, jpeg=False)
    frozen = render_captures(still, 2, seed=6)
    assert torch.allclose(frozen.frames[:, 0], frozen.frames[:, -1], atol=1e-6)  # nothing moves: no blur
    turning = render_captures(CaptureConfig(**{**SMALL, "max_motion": 0.0}, noise=False, jpeg=False), 2, seed=6)
    assert not torch.allclose(turning.frames[:, 0], turning.frames[:, -1], atol=1e-3)  # rotation and zoom alone blur


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="jpeg_quality"):
        CaptureConfig(jpeg_quality=(90, 50))
    with pytest.raises(ValueError, match="max_motion"):
        CaptureConfig(max_motion=-1.0)
    with pytest.raises(ValueError, match="n must be"):
        render_captures(CaptureConfig(**SMALL), 0, seed=0)


@pytest.mark.gpu
def test_the_same_scenes_render_on_a_gpu():
    cfg = CaptureConfig(**SMALL, noise=False, jpeg=False)
    cpu, gpu = render_captures(cfg, 2, seed=7), render_captures(cfg, 2, seed=7, device="cuda")
    assert torch.allclose(cpu.frames, gpu.frames.cpu(), atol=1e-4)


def test_a_data_config_serves_capture_scenes_to_every_training_loop():
    from blur2vid.data.config import DataConfig
    from blur2vid.data.source import CaptureSource

    data = DataConfig(family="captures", size=24, max_shift=6.0)
    source = data.source()
    assert isinstance(source, CaptureSource) and source.captures.max_motion == 6.0 and source.captures.size == 24
    batch = source.batch(2, seed=11)
    assert batch.blur.shape == (2, 3, 24, 24) and batch.frames.shape == (2, 7, 3, 24, 24)
    assert torch.equal(source.batch(2, seed=11).blur, batch.blur)  # seeded
    test = data.test_set(3)
    assert torch.equal(test.frames, data.test_set(3).frames)
    assert not torch.equal(test.frames[:2], data.validation_set(2).frames)  # its own scenes
    larger = data.test_set(2, max_shift=12.0)  # Table 2's larger blur, for these scenes too
    assert larger.frames.shape == (2, 7, 3, 24, 24)
    assert data.identity()["family"] == "captures" and data.scenes().height == 24
    with pytest.raises(ValueError, match="unknown scene family"):
        DataConfig(family="holiday")
