"""Jin et al.'s training augmentation: channel shuffle, rotation, 1% noise on the blurry input."""

from __future__ import annotations

import itertools

import pytest
import torch

from blur2vid.core.formation import synthesize_blur
from blur2vid.data.augment import augment, rotation_choices
from blur2vid.data.sample import Batch


def _consistent_batch(b: int = 6, t: int = 5, c: int = 3, h: int = 8, w: int = 8, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(b, t, c, h, w, generator=g)
    return Batch(synthesize_blur(frames), frames, {"source": "test"})


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("size", [(8, 8), (6, 10)])
@pytest.mark.parametrize("flip", [False, True])
def test_blur_stays_consistent_with_frames(size, flip):
    batch = _consistent_batch(b=16, h=size[0], w=size[1])
    aug = augment(batch, _gen(1), noise=0.0, flip=flip)
    assert aug.blur.shape == batch.blur.shape and aug.frames.shape == batch.frames.shape
    torch.testing.assert_close(synthesize_blur(aug.frames), aug.blur, rtol=0, atol=1e-6)
    # and something did change
    assert not torch.equal(aug.frames, batch.frames)


def test_each_sample_gets_exactly_the_recorded_transform():
    batch = _consistent_batch(b=12)
    aug = augment(batch, _gen(3), noise=0.0, flip=True)
    rec = aug.meta["augment"]
    for i in range(len(batch)):
        expect_blur = batch.blur[i][rec["perm"][i]]
        expect_frames = batch.frames[i][:, rec["perm"][i]]
        if rec["hflip"][i]:
            expect_blur, expect_frames = expect_blur.flip(-1), expect_frames.flip(-1)
        k = int(rec["quarter_turns"][i])
        expect_blur = torch.rot90(expect_blur, k, dims=(-2, -1))
        expect_frames = torch.rot90(expect_frames, k, dims=(-2, -1))
        assert torch.equal(aug.blur[i], expect_blur)
        assert torch.equal(aug.frames[i], expect_frames)
    # the input is untouched and its meta kept
    assert "augment" not in batch.meta and aug.meta["source"] == "test"


def test_same_seed_same_result_and_different_seed_differs():
    batch = _consistent_batch()
    a = augment(batch, _gen(7))
    b = augment(batch, _gen(7))
    c = augment(batch, _gen(8))
    assert torch.equal(a.blur, b.blur) and torch.equal(a.frames, b.frames)
    assert not torch.equal(a.blur, c.blur)


def test_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    augment(_consistent_batch(), _gen(0))
    assert torch.equal(torch.rand(4), expected)


def test_noise_has_the_requested_std_on_the_blur_only():
    b, t, c, h, w = 4, 3, 3, 64, 64
    frames = torch.full((b, t, c, h, w), 0.5)
    batch = Batch(torch.full((b, c, h, w), 0.5), frames)
    aug = augment(batch, _gen(0), shuffle_channels=False, rotate=False, noise=0.01)
    residual = aug.blur - 0.5
    assert abs(residual.mean().item()) < 1e-3
    assert residual.std().item() == pytest.approx(0.01, rel=0.03)
    assert torch.equal(aug.frames, frames)  # targets stay clean


def test_switches_off_give_the_identity():
    batch = _consistent_batch()
    aug = augment(batch, _gen(0), shuffle_channels=False, rotate=False, noise=0.0)
    assert torch.equal(aug.blur, batch.blur) and torch.equal(aug.frames, batch.frames)


def test_non_square_images_rotate_by_180_only():
    assert rotation_choices(6, 10) == (0, 2)
    assert rotation_choices(8, 8) == (0, 1, 2, 3)
    batch = _consistent_batch(b=64, h=6, w=10)
    aug = augment(batch, _gen(0), shuffle_channels=False, noise=0.0)
    turns = aug.meta["augment"]["quarter_turns"]
    assert set(turns.tolist()) == {0, 2}
    assert aug.blur.shape == (64, 3, 6, 10)
    for i in range(len(batch)):
        assert torch.equal(aug.frames[i], torch.rot90(batch.frames[i], int(turns[i]), dims=(-2, -1)))


def test_square_images_use_all_four_rotations():
    aug = augment(_consistent_batch(b=64), _gen(0), noise=0.0)
    assert set(aug.meta["augment"]["quarter_turns"].tolist()) == {0, 1, 2, 3}


def test_each_sample_gets_its_own_channel_permutation():
    # a flat image per channel (value = channel index) makes the permutation visible in the output
    b, c = 600, 3
    frames = torch.arange(c, dtype=torch.float32).view(1, 1, c, 1, 1).expand(b, 2, c, 4, 4) / 10
    batch = Batch(frames[:, 0].clone(), frames.clone())
    aug = augment(batch, _gen(0), rotate=False, noise=0.0)
    perms = (aug.blur[:, :, 0, 0] * 10).round().long()  # [B, C]
    assert torch.equal(perms, aug.meta["augment"]["perm"])
    assert torch.equal((aug.frames[:, 1, :, 0, 0] * 10).round().long(), perms)
    counts = {p: 0 for p in itertools.permutations(range(c))}
    for row in perms.tolist():
        counts[tuple(row)] += 1
    # all 6 permutations occur, each about 1/6 of the time (100 expected; 5 sigma is about 46)
    assert min(counts.values()) > 55 and max(counts.values()) < 145


def test_rejects_bad_arguments():
    batch = _consistent_batch()
    with pytest.raises(ValueError):
        augment(batch, _gen(0), noise=-0.1)
    with pytest.raises(TypeError):
        augment(batch, 0)  # type: ignore[arg-type]


@pytest.mark.gpu
def test_cuda_batch_gets_the_same_augmentation_as_cpu():
    batch = _consistent_batch()
    cpu = augment(batch, _gen(5))
    gpu = augment(batch.to("cuda"), _gen(5))
    assert gpu.blur.is_cuda and gpu.frames.is_cuda
    torch.testing.assert_close(gpu.blur.cpu(), cpu.blur)
    torch.testing.assert_close(gpu.frames.cpu(), cpu.frames)
