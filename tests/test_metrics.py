import math

import pytest
import torch

from blur2vid.core.metrics import per_frame_psnr, ppsnr, ppsnr_pairs, ppsnr_sequence, psnr, ssim


def test_psnr_known_values():
    target = torch.zeros(3, 8, 8)
    assert psnr(target + 0.1, target).item() == pytest.approx(20.0)      # MSE 0.01
    assert psnr(target + 0.01, target).item() == pytest.approx(40.0)
    assert psnr(target + 25.5, target, data_range=255).item() == pytest.approx(20.0)
    assert math.isinf(psnr(target, target).item())


def test_ssim_uses_skimage_and_has_known_extremes():
    torch.manual_seed(0)
    img = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(img, img), torch.ones(2, dtype=torch.float64))
    noisy = (img + 0.2 * torch.randn_like(img)).clamp(0, 1)
    assert (ssim(noisy, img) < 0.9).all()
    assert ssim(img[:, :1], img[:, :1]).shape == (2,)


def _seq(b=3, t=7):
    g = torch.Generator().manual_seed(0)
    return torch.rand(b, t, 3, 8, 8, generator=g)


@pytest.mark.parametrize("level", ["sequence", "pair"])
def test_ppsnr_is_invariant_to_reversing_the_prediction(level):
    target = _seq()
    pred = (target + 0.05 * torch.randn_like(target)).clamp(0, 1)
    assert torch.allclose(ppsnr(pred, target, level), ppsnr(pred.flip(1), target, level))
    # reversing the ground truth instead mirrors the columns: F_k always scores ground-truth frame k
    assert torch.allclose(ppsnr(pred, target.flip(1), level), ppsnr(pred, target, level).flip(-1))


@pytest.mark.parametrize("level", ["sequence", "pair"])
def test_column_k_scores_ground_truth_frame_k_as_hypercut_defines_it(level):
    """HyperCUT reverses the prediction, not the target.  A reversed prediction whose predicted
    frame 1 (which stands for ground-truth frame 7) is damaged must lose its score in column F7;
    reversing the target instead would report the damage in F1."""
    target = _seq(b=1)
    pred = target.flip(1).clone()
    pred[:, 0] = (pred[:, 0] + 0.3).clamp(0, 1)  # predicted frame 1 = ground-truth frame 7, damaged
    pred[:, 1:] = pred[:, 1:] + 0.01              # the rest nearly exact (40 dB)
    scores = ppsnr(pred, target, level)[0]
    assert scores[6] < 15 and (scores[:6] > 35).all()
    wrong = ppsnr(pred.flip(1), target.flip(1), level)[0]  # what reversing the target reports instead
    assert wrong[0] < 15 and (wrong[1:] > 35).all()


def test_reversed_prediction_scores_like_the_straight_one():
    target = _seq()
    pred = target.flip(1) + 0.1
    assert torch.allclose(ppsnr_sequence(pred, target), torch.full((3, 7), 20.0, dtype=torch.float64))
    # plain per-frame PSNR punishes the reversal
    assert per_frame_psnr(pred, target)[:, 0].max() < 15


def test_pair_level_picks_each_pair_independently():
    target = _seq(b=1)
    pred = target.clone() + 0.1
    pred[:, [0, 6]] = pred[:, [6, 0]]          # outer pair swapped, the rest straight
    seq_level = ppsnr_sequence(pred, target)
    pair_level = ppsnr_pairs(pred, target)
    assert torch.allclose(pair_level, torch.full((1, 7), 20.0, dtype=torch.float64))
    assert (pair_level >= seq_level - 1e-9).all() and (seq_level[0, [0, 6]] < 15).all()


def test_shape_mismatch_and_bad_level_are_clear():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(torch.zeros(3, 4, 4), torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="'frame'"):
        ppsnr(_seq(), _seq(), level="frame")


def test_capped_reads_identical_images_as_the_cap():
    from blur2vid.core.metrics import PSNR_CAP, capped
    img = torch.rand(2, 3, 8, 8)
    db = psnr(img, img)
    assert torch.isinf(db).all() and (capped(db) == PSNR_CAP).all()
    other = psnr(img, img.flip(-1))
    assert torch.equal(capped(other), other)  # finite scores below the cap pass through
