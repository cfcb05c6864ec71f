"""The losses of Jin et al. (CVPR 2018) and HyperCUT: the papers' invariance claims and the contracts."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch

import blur2vid.losses.perceptual as perceptual_module
from blur2vid.losses import (
    MissingVGGWeightsWarning,
    PerceptualLoss,
    choose_order,
    global_loss,
    gradient_loss,
    independent_loss,
    middle_loss,
    naive_loss,
    order_targets,
    pair_loss,
    pair_losses,
    sequential_loss,
    symmetric_pairs,
)
from blur2vid.models.discriminator import PatchDiscriminator, adversarial_losses
from blur2vid.models.vgg import VGG16_ENV_VAR, VGG16Features, VGGWeightsError, load_vgg16_features

B, T, C, H, W = 2, 7, 3, 12, 12


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def fresh_warning(monkeypatch, no_vgg_env):
    """Forget that the missing-weights warning was already given in this process."""
    monkeypatch.setattr(perceptual_module, "_WARNED_NO_VGG", False)


def _seq(b: int = B, t: int = T) -> torch.Tensor:
    return torch.rand(b, t, C, H, W)


# ---- ordering invariance (Jin Sec. 5.1, 5.2) vs the order-dependent losses -------------------------


def test_invariant_losses_ignore_reversal_and_the_others_do_not(device):
    pred, target = _seq().to(device), _seq().to(device)
    for loss in (global_loss, pair_losses):
        base = loss(pred, target)
        assert base > 0
        torch.testing.assert_close(loss(pred, target.flip(1)), base)
        torch.testing.assert_close(loss(pred.flip(1), target), base)
        torch.testing.assert_close(loss(pred.flip(1), target.flip(1)), base)
    for loss in (independent_loss, naive_loss):
        assert not torch.isclose(loss(pred, target.flip(1)), loss(pred, target))
        assert not torch.isclose(loss(pred.flip(1), target), loss(pred, target))
    # a perfect prediction in the reversed order: invariant losses 0, order-dependent ones not
    assert global_loss(target.flip(1), target) < 1e-6  # 0 up to the order of float summation
    assert pair_losses(target.flip(1), target) == 0
    assert independent_loss(target.flip(1), target) > 0.05
    assert naive_loss(target.flip(1), target) > 0.01


def test_pair_loss_is_invariant_to_pixelwise_swaps():
    """Eq. 5 only sees the sum and |difference| of a pair: a per-pixel exchange leaves it unchanged."""
    xa, xb, ta, tb = (torch.rand(B, C, H, W) for _ in range(4))
    mask = torch.rand(B, C, H, W) < 0.5
    sa, sb = torch.where(mask, xb, xa), torch.where(mask, xa, xb)
    assert not torch.equal(sa, xa) and not torch.equal(sa, xb)
    torch.testing.assert_close(pair_loss(sa, sb, ta, tb), pair_loss(xa, xb, ta, tb))
    torch.testing.assert_close(pair_loss(xa, xb, torch.where(mask, tb, ta), torch.where(mask, ta, tb)),
                               pair_loss(xa, xb, ta, tb))
    # so a pixel-wise mix of the two true frames is a perfect prediction for it
    assert pair_loss(torch.where(mask, tb, ta), torch.where(mask, ta, tb), ta, tb) == 0
    # whole-sequence version: swap pixels inside every symmetric pair
    pred, target = _seq(), _seq()
    mixed = pred.clone()
    for a, b in symmetric_pairs(T):
        m = torch.rand(B, C, H, W) < 0.5
        mixed[:, a - 1] = torch.where(m, pred[:, b - 1], pred[:, a - 1])
        mixed[:, b - 1] = torch.where(m, pred[:, a - 1], pred[:, b - 1])
    torch.testing.assert_close(pair_losses(mixed, target), pair_losses(pred, target))


def test_global_loss_is_invariant_to_any_permutation_of_non_middle_frames():
    pred, target = _seq(), _seq()
    base = global_loss(pred, target)
    others = [0, 1, 2, 4, 5, 6]
    for k, perm in enumerate(itertools.permutations(others)):
        if k % 37:  # a spread-out sample of the 720 permutations
            continue
        order = [*perm[:3], 3, *perm[3:]]
        torch.testing.assert_close(global_loss(pred[:, order], target), base)
        torch.testing.assert_close(global_loss(pred, target[:, order]), base)
    # the middle frame of the prediction plays no part; moving it into the sum does
    changed = pred.clone()
    changed[:, 3] = 0.0
    torch.testing.assert_close(global_loss(changed, target), base)
    assert not torch.isclose(global_loss(pred[:, [3, 1, 2, 0, 4, 5, 6]], target), base)


# ---- known values --------------------------------------------------------------------------------


def test_losses_are_zero_on_a_perfect_prediction():
    x = _seq()
    assert global_loss(x, x) == 0
    assert pair_losses(x, x) == 0
    assert independent_loss(x, x) == 0
    assert naive_loss(x, x) == 0
    assert middle_loss(x[:, 3], x[:, 3]) == 0
    assert gradient_loss(x, x) == 0


def test_known_values_for_a_constant_offset():
    x = torch.rand(B, T, C, H, W) * 0.5
    c = 0.1
    pred = x + c
    # Eq. 4: six frames each off by c -> |6c|
    torch.testing.assert_close(global_loss(pred, x), torch.tensor(6 * c))
    # Eq. 5: per pair the sum is off by 2c, the |difference| not at all -> 3 pairs * 2c
    torch.testing.assert_close(pair_loss(pred[:, 0], pred[:, 6], x[:, 0], x[:, 6]), torch.tensor(2 * c))
    torch.testing.assert_close(pair_losses(pred, x), torch.tensor(3 * 2 * c))
    torch.testing.assert_close(pair_losses(pred, x, pairs=[(3, 5)]), torch.tensor(2 * c))
    # L_indep = sum over 7 frames of the per-frame MSE c^2;  = T * naive_loss
    torch.testing.assert_close(independent_loss(pred, x), torch.tensor(T * c * c))
    torch.testing.assert_close(independent_loss(pred, x), T * naive_loss(pred, x))
    torch.testing.assert_close(independent_loss(pred, x, norm="l1"), torch.tensor(T * c))
    torch.testing.assert_close(independent_loss(pred, x, frames=[1, 7]), torch.tensor(2 * c * c))
    # Eq. 3 without a perceptual term: the MSE
    torch.testing.assert_close(middle_loss(pred[:, 3], x[:, 3]), torch.tensor(c * c))
    # the gradient fallback ignores a constant offset
    torch.testing.assert_close(gradient_loss(pred, x), torch.tensor(0.0))


def test_gradient_loss_known_value_on_a_ramp():
    """A horizontal ramp of slope s against a flat image: d_x differs by s everywhere, d_y by 0, so
    the squared feature loss is s^2 (the MSE of the features, like the VGG term it stands in for)."""
    s = 0.05
    ramp = (torch.arange(8.0) * s).expand(1, 3, 8, 8)
    torch.testing.assert_close(gradient_loss(ramp, torch.zeros_like(ramp)), torch.tensor(s * s))
    torch.testing.assert_close(gradient_loss(ramp.transpose(-1, -2), torch.zeros_like(ramp)), torch.tensor(s * s))


def test_pair_loss_difference_term_uses_absolute_values():
    """Restored bars: |x_hat_a - x_hat_b| vs |x_a - x_b|.  A pair predicted in the swapped order costs 0,
    a pair with the right sum but no contrast costs exactly |x_a - x_b|."""
    ta, tb = torch.full((1, 1, 2, 2), 0.8), torch.full((1, 1, 2, 2), 0.2)
    assert pair_loss(tb, ta, ta, tb) == 0
    grey = torch.full_like(ta, 0.5)
    torch.testing.assert_close(pair_loss(grey, grey, ta, tb), torch.tensor(0.6))


def test_losses_check_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        global_loss(_seq(), _seq(t=5))
    with pytest.raises(ValueError, match="odd"):
        pair_losses(_seq(t=6), _seq(t=6))
    assert symmetric_pairs(7) == [(1, 7), (2, 6), (3, 5)]


# ---- sequential pairwise procedure (Sec. 5.3, Table 1) --------------------------------------------


def test_choose_order_and_order_targets():
    target = _seq(b=4)
    pred = target.clone()
    pred[1] = target[1].flip(0)  # sample 1 predicted in the reversed direction
    pred[3] = target[3].flip(0) + 0.05 * torch.randn_like(target[3])
    reverse = choose_order(pred[:, 2], pred[:, 4], target)
    assert reverse.dtype == torch.bool and reverse.tolist() == [False, True, False, True]
    ordered = order_targets(target, reverse)
    torch.testing.assert_close(ordered[1], target[1].flip(0))
    torch.testing.assert_close(ordered[0], target[0])
    # an involution
    torch.testing.assert_close(order_targets(ordered, reverse), target)
    for mask in (torch.tensor([True, False, True, True]), torch.zeros(4, dtype=torch.bool)):
        torch.testing.assert_close(order_targets(order_targets(target, mask), mask), target)
    # ties keep the data's order
    same = target.clone()
    same[:, 4] = same[:, 2]
    assert not choose_order(same[:, 2], same[:, 2], same).any()


def _stages(seq: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"middle": seq[:, 3:4], "3_5": seq[:, [2, 4]], "2_6": seq[:, [1, 5]], "1_7": seq[:, [0, 6]]}


def test_sequential_loss_orders_outer_frames_by_the_core_pairs_choice():
    target = _seq(b=3)
    # sample 0 forward, sample 1 fully reversed, sample 2: core pair reversed but outer frames not
    pred = target.clone()
    pred[1] = target[1].flip(0)
    pred[2, [2, 4]] = target[2, [4, 2]]
    out = sequential_loss(_stages(pred), target)
    assert out.reverse.tolist() == [False, True, True]
    assert set(out.terms) == {"middle", "3_5", "2_6", "1_7"}
    assert out.terms["middle"] == 0 and out.terms["3_5"] == 0
    # only sample 2's outer frames disagree with the direction its core pair chose
    assert out.terms["2_6"] > 0 and out.terms["1_7"] > 0
    torch.testing.assert_close(out.total, sum(out.terms.values()))
    ok = sequential_loss(_stages(pred[:2]), target[:2])
    assert ok.total == 0
    # the literal Table-1 reading (pair losses, pairs corrected) cannot see the inconsistency
    assert sequential_loss(_stages(pred), target, outer="pair").total == 0
    # the whole thing is invariant to reversing the target sequence
    torch.testing.assert_close(sequential_loss(_stages(pred), target.flip(1)).total, out.total)
    # outer stages alone need the direction
    with pytest.raises(ValueError, match="reverse"):
        sequential_loss({"2_6": pred[:, [1, 5]]}, target)
    given = sequential_loss({"2_6": pred[:2, [1, 5]]}, target[:2], reverse=torch.tensor([False, True]))
    assert given.total == 0


def test_sequential_loss_gradients_reach_every_stage(device):
    target = _seq().to(device)
    pred = _seq().to(device).requires_grad_(True)
    sequential_loss(_stages(pred), target).total.backward()
    assert pred.grad is not None
    assert all(pred.grad[:, i].abs().sum() > 0 for i in range(T))


# ---- perceptual loss (Eq. 3) and VGG16 -----------------------------------------------------------

TORCHVISION_KEYS = [
    f"features.{i}.{p}" for i in (0, 2, 5, 7, 10, 12, 14) for p in ("weight", "bias")
]
OUT_CHANNELS = [64, 64, 128, 128, 256, 256, 256]


def test_vgg_state_dict_has_torchvision_names_and_shapes():
    state = VGG16Features().state_dict()
    assert list(state) == TORCHVISION_KEYS
    in_ch = [3, *OUT_CHANNELS[:-1]]
    for k, (cin, cout) in enumerate(zip(in_ch, OUT_CHANNELS, strict=True)):
        i = (0, 2, 5, 7, 10, 12, 14)[k]
        assert state[f"features.{i}.weight"].shape == (cout, cin, 3, 3)
        assert state[f"features.{i}.bias"].shape == (cout,)
    vgg = VGG16Features()
    assert len(vgg.features) == 16
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training
    f22, f33 = vgg(torch.rand(2, 3, 16, 16))
    assert f22.shape == (2, 128, 8, 8) and f33.shape == (2, 256, 4, 4)
    assert (f22 >= 0).all() and (f33 >= 0).all()


@pytest.fixture
def vgg_file(tmp_path):
    """A randomly initialised VGG16 saved as a torchvision-style state dict, with deeper and
    classifier keys that the loader has to ignore."""
    state = dict(VGG16Features().state_dict())
    state["features.17.weight"] = torch.zeros(512, 256, 3, 3)
    state["classifier.0.bias"] = torch.zeros(4096)
    path = tmp_path / "vgg16-random.pth"
    torch.save(state, path)
    return path, state


def test_load_vgg16_features_and_perceptual_loss(vgg_file, no_vgg_env):
    path, state = vgg_file
    vgg = load_vgg16_features(path)
    assert isinstance(vgg, VGG16Features)
    torch.testing.assert_close(vgg.features[0].weight, state["features.0.weight"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = PerceptualLoss(weights_path=path)
    assert loss.mode == "vgg"
    x = torch.rand(2, 3, 16, 16)
    y = torch.rand(2, 3, 16, 16)
    assert loss(x, x) == 0
    pred = y.clone().requires_grad_(True)
    value = loss(pred, x)
    assert value > 0
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    # sequences [B, T, C, H, W] and grayscale pass too
    assert loss(torch.rand(1, 2, 3, 16, 16), torch.rand(1, 2, 3, 16, 16)) > 0
    assert loss(x[:, :1], y[:, :1]) > 0
    # Eq. 3 = MSE + perceptual
    torch.testing.assert_close(middle_loss(y, x, loss), torch.mean((y - x) ** 2) + loss(y, x))
    torch.testing.assert_close(middle_loss(y, x, loss, weight=0.0), torch.mean((y - x) ** 2))


def test_vgg_from_environment_variable(vgg_file, monkeypatch):
    path, _ = vgg_file
    monkeypatch.setenv(VGG16_ENV_VAR, str(path))
    assert isinstance(load_vgg16_features(None), VGG16Features)
    assert PerceptualLoss().mode == "vgg"
    monkeypatch.setenv(VGG16_ENV_VAR, str(path.with_name("nowhere.pth")))
    with pytest.raises(VGGWeightsError, match=f"nowhere.pth.*{VGG16_ENV_VAR}"):
        load_vgg16_features(None)
    monkeypatch.delenv(VGG16_ENV_VAR)
    assert load_vgg16_features(None) is None


def test_bad_vgg_files_name_the_file_and_the_keys(tmp_path):
    wrong = tmp_path / "not-vgg.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 3, 3)}, wrong)
    with pytest.raises(VGGWeightsError, match=r"not-vgg\.pth.*missing keys.*features\.0\.weight"):
        load_vgg16_features(wrong)
    shapes = tmp_path / "bad-shape.pth"
    state = dict(VGG16Features().state_dict())
    state["features.5.weight"] = torch.zeros(128, 32, 3, 3)
    torch.save(state, shapes)
    with pytest.raises(VGGWeightsError, match=r"bad-shape\.pth.*features\.5\.weight"):
        load_vgg16_features(shapes)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(VGGWeightsError, match="garbage.pth"):
        PerceptualLoss(weights_path=garbage)
    with pytest.raises(VGGWeightsError, match="missing.pth"):
        load_vgg16_features(tmp_path / "missing.pth")


def test_no_weights_warns_once_and_uses_the_fallback(fresh_warning, recwarn):
    first = PerceptualLoss()
    second = PerceptualLoss(fallback="none")
    third = PerceptualLoss(fallback="gradient")
    caught = [w for w in recwarn if issubclass(w.category, MissingVGGWeightsWarning)]
    assert len(caught) == 1
    message = str(caught[0].message)
    assert VGG16_ENV_VAR in message and "weights_path" in message and "gradient" in message
    assert first.mode == "gradient" and third.mode == "gradient" and second.mode == "none"
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(first(x, y), gradient_loss(x, y))
    assert first(x, x) == 0 and first(x, y) > 0
    assert second(x, y) == 0
    torch.testing.assert_close(middle_loss(x, y, second), torch.mean((x - y) ** 2))
    with pytest.raises(ValueError, match="fallback"):
        PerceptualLoss(fallback="vgg")


def test_warning_names_env_var_when_first_given(fresh_warning):
    with pytest.warns(MissingVGGWeightsWarning, match=VGG16_ENV_VAR):
        PerceptualLoss(fallback="none")


# ---- discriminator and adversarial losses (Jin Sec. 5.3, Table 1) --------------------------------


def test_patch_discriminator_outputs_a_patch_map():
    disc = PatchDiscriminator(width=8, depth=3)
    out = disc(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 1, 6, 6)
    seq = disc(torch.rand(2, 4, 3, 32, 32))
    assert seq.shape == (2, 4, 1, 2, 2)
    small = PatchDiscriminator(in_channels=1, width=4, depth=2, norm="none")(torch.rand(3, 1, 5, 7))
    assert small.shape[:2] == (3, 1) and small.shape[-1] >= 1 and small.shape[-2] >= 1
    with pytest.raises(ValueError, match="channels"):
        disc(torch.rand(1, 1, 32, 32))


class _MeanScore(torch.nn.Module):
    """A 'discriminator' whose logit is a scaled image mean: bright = real."""

    def __init__(self, scale: float = 4.0):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(scale))

    def forward(self, x):
        return self.scale * (x.mean(dim=(-3, -2, -1), keepdim=True) - 0.5)


@pytest.mark.parametrize("mode", ["nonsaturating", "lsgan"])
def test_adversarial_losses_sign_behaviour(mode, device):
    disc = _MeanScore().to(device)
    bright, dark = torch.full((2, 3, 8, 8), 0.9, device=device), torch.full((2, 3, 8, 8), 0.1, device=device)
    g_good, d_good = adversarial_losses(disc, fake=dark, real=bright, mode=mode)  # D right
    g_bad, d_bad = adversarial_losses(disc, fake=bright, real=dark, mode=mode)  # D wrong
    assert d_good < d_bad  # real scored high (and fake low) lowers the discriminator loss
    assert g_bad < g_good  # a fake scored high lowers the generator loss
    # the generator loss trains the generator; the discriminator loss does not reach it
    fake = torch.full((1, 3, 8, 8), 0.3, device=device, requires_grad=True)
    g, d = adversarial_losses(disc, fake, bright[:1], mode=mode)
    (grad,) = torch.autograd.grad(g, fake, retain_graph=True)
    assert grad.mean() < 0  # brighter (more 'real') lowers L_G
    d.backward()
    assert fake.grad is None and disc.scale.grad is not None
    # a real PatchGAN: finite losses, gradients to both players
    pd = PatchDiscriminator(width=8, depth=2).to(device)
    g, d = adversarial_losses(pd, torch.rand(2, 3, 32, 32, device=device), torch.rand(2, 3, 32, 32, device=device),
                              mode=mode)
    assert torch.isfinite(g) and torch.isfinite(d) and d > 0
    with pytest.raises(ValueError, match="mode"):
        adversarial_losses(pd, dark, bright, mode="wgan")


def test_the_best_order_pair_loss_chooses_the_order_per_image_not_per_pixel():
    """The warm-up loss of step 2 (ours): zero at the truth in either order (it is invariant to
    reversal, so the network still chooses the direction), but not blind to swapping the pair pixel
    by pixel, which Eq. 5 is."""
    from blur2vid.losses import best_order_pair_loss, pair_loss

    torch.manual_seed(0)
    seq = torch.rand(2, 7, 3, 8, 8)
    x3, x5 = seq[:, 2], seq[:, 4]
    assert best_order_pair_loss(x3, x5, seq) == 0 and best_order_pair_loss(x5, x3, seq) == 0
    swap = torch.rand(2, 1, 8, 8) < 0.5  # per pixel: which frame holds which value
    mixed3, mixed5 = torch.where(swap, x5, x3), torch.where(swap, x3, x5)
    assert pair_loss(mixed3, mixed5, x3, x5) == 0  # Eq. 5 cannot tell
    assert best_order_pair_loss(mixed3, mixed5, seq) > 0.01
    # per sample: the first in the data's order, the second reversed, each costs nothing
    assert best_order_pair_loss(torch.stack([x3[0], x5[1]]), torch.stack([x5[0], x3[1]]), seq) == 0
