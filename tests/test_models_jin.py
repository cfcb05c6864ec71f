"""The Jin et al. (CVPR 2018) networks and the Nah et al. (2017) baseline: sizes, shapes, structure."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blur2vid.models import (
    FrameNet,
    JinCascade,
    JinConfig,
    MiddleNet,
    NahConfig,
    NahMultiScale,
    PreActResBlock,
    ResamplingConv,
    count_parameters,
    crop_to,
    make_stage_plan,
    pad_to_multiple,
)

SMOKE = JinConfig.smoke()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _rand(*shape: int) -> torch.Tensor:
    return torch.rand(*shape)


# ---- (a) parameter counts against the paper (Table 3: Middle 5M, Full 17M, Nah 12M) -------------


def test_parameter_counts_match_the_paper():
    cascade = JinCascade()
    counts = cascade.parameter_counts()
    nah = count_parameters(NahMultiScale())
    print(f"\nJin parameter counts: {counts}; Nah: {nah}")
    assert 4.0e6 <= counts["middle"] <= 6.0e6
    assert 15.0e6 <= counts["total"] <= 20.0e6
    assert 9.0e6 <= nah <= 14.0e6
    # the total counts every distinct network once
    distinct = counts["middle"] + counts["net3"] + counts["net5"] + counts["net26"] + counts["net17"]
    assert counts["total"] == distinct


def test_default_architecture_is_the_papers():
    cfg = JinConfig()
    # middle: 12 blocks in 4 stages of 3, the central 6 dilated (Sec. 6)
    assert [len(s) for s in cfg.middle_plan] == [3, 3, 3, 3]
    flat = [d for s in cfg.middle_plan for d in s]
    assert flat[3:9] == [(1, 2), (2, 4), (4, 8), (8, 4), (4, 2), (2, 1)]
    assert all(d == (1, 1) for d in flat[:3] + flat[9:])
    assert [len(s) for s in cfg.plan_3_5] == [4, 4, 4]
    assert [len(s) for s in cfg.plan_outer] == [2, 4, 2]
    middle = MiddleNet(cfg)
    assert middle.factor == 4 and middle.extract.conv.in_channels == 16 and middle.extract.conv.out_channels == 144
    blocks = [m for m in middle.modules() if isinstance(m, PreActResBlock)]
    assert len(blocks) == 12 + 1  # 12 in the trunk, 1 in the colour fusion
    frame = FrameNet(cfg)
    assert frame.factor == 5
    assert (frame.extract_blur.conv.out_channels, frame.extract_ref_a.conv.out_channels) == (64, 32)
    assert frame.extract_ref_b.conv.out_channels == 32 and frame.extract_blur.conv.in_channels == 25
    # the dilations reach the convolutions
    assert blocks[5].conv_a.dilation == (4, 4) and blocks[5].conv_b.dilation == (8, 8)


def test_stage_plan_validation():
    assert make_stage_plan(5, ((1, 2), (2, 1)), 2) == (((1, 1),) * 2, ((1, 2),), ((2, 1),), ((1, 1),))
    with pytest.raises(ValueError):
        make_stage_plan(1, ((1, 2), (2, 1)))


# ---- (b) any input size ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (5, 9)])
def test_odd_sizes_keep_their_shape(size):
    h, w = size
    y = _rand(2, 3, h, w)
    ref = _rand(2, 3, h, w)
    assert MiddleNet(SMOKE)(y).shape == y.shape
    assert FrameNet(SMOKE)(y, ref).shape == y.shape
    assert JinCascade(SMOKE)(y).shape == (2, 7, 3, h, w)
    assert NahMultiScale(NahConfig.smoke())(y).shape == y.shape


def test_pad_and_crop_round_trip():
    x = _rand(1, 3, 37, 53)
    xp, size = pad_to_multiple(x, 5)
    assert xp.shape[-2:] == (40, 55)
    assert torch.equal(xp[..., :37, :53], x)
    assert torch.equal(xp[..., 37, :53], x[..., 35, :])  # reflect
    assert torch.equal(crop_to(xp, size), x)
    tiny, _ = pad_to_multiple(_rand(1, 3, 2, 3), 5)  # pad larger than the side: replicate
    assert tiny.shape[-2:] == (5, 5)


# ---- (c) the resampling convolution is space-to-depth + convolution ------------------------------


@pytest.mark.parametrize("factor,in_channels", [(4, 1), (5, 1), (2, 3)])
def test_resampling_conv_is_space_to_depth_then_conv(factor, in_channels):
    layer = ResamplingConv(in_channels, 7, factor, kernel_size=5)
    b, h, w = 2, 3 * factor, 4 * factor
    x = _rand(b, in_channels, h, w)
    # manual space-to-depth: channel c*r*r + i*r + j holds pixel (r*y + i, r*x + j) of channel c
    manual = x.reshape(b, in_channels, h // factor, factor, w // factor, factor)
    manual = manual.permute(0, 1, 3, 5, 2, 4).reshape(b, in_channels * factor * factor, h // factor, w // factor)
    assert torch.equal(manual[:, 1 if factor > 1 else 0, 0, 0], x[:, 0, 0, 1])
    expected = F.conv2d(manual, layer.conv.weight, layer.conv.bias, padding=2)
    torch.testing.assert_close(layer(x), expected)


# ---- (d) every colour channel goes through the same grayscale weights ----------------------------


def test_middle_colour_channels_share_weights():
    net = MiddleNet(SMOKE)
    y = _rand(2, 3, 24, 28)
    perm = [2, 0, 1]
    gray = net.grayscale(y)
    torch.testing.assert_close(net.grayscale(y[:, perm]), gray[:, perm], atol=1e-5, rtol=1e-5)
    # a channel alone, as a one-channel image, gives the same refined channel
    for c in range(3):
        torch.testing.assert_close(net.grayscale(y[:, c : c + 1]), gray[:, c : c + 1], atol=1e-5, rtol=1e-5)


def test_frame_net_colour_channels_share_weights():
    net = FrameNet(SMOKE)
    y, a, b = _rand(1, 3, 25, 30), _rand(1, 3, 25, 30), _rand(1, 3, 25, 30)
    perm = [1, 2, 0]
    gray = net.grayscale(y, a, b)
    torch.testing.assert_close(net.grayscale(y[:, perm], a[:, perm], b[:, perm]), gray[:, perm], atol=1e-5, rtol=1e-5)
    # but the colour fusion mixes channels: the full output is not channel-separable
    out = net(y, a, b)
    y2 = y.clone()
    y2[:, 0] = 0.0
    assert not torch.allclose(net(y2, a, b)[:, 1], out[:, 1])


# ---- (e) global skips ---------------------------------------------------------------------------


def test_middle_global_skip():
    net = MiddleNet(SMOKE)
    y = _rand(2, 3, 30, 22)
    assert not torch.allclose(net(y), y)
    with torch.no_grad():
        net.colour.out.weight.zero_()
    torch.testing.assert_close(net(y), y)


def test_frame_net_skip_is_the_nearest_reference():
    net = FrameNet(SMOKE)
    y, a, b = _rand(1, 3, 20, 20), _rand(1, 3, 20, 20), _rand(1, 3, 20, 20)
    with torch.no_grad():
        net.colour.out.weight.zero_()
    torch.testing.assert_close(net(y, a, b), a)
    cascade = JinCascade(JinConfig.smoke(zero_init_residual=True))
    frames = cascade(y)
    for i in range(7):
        torch.testing.assert_close(frames[:, i], y)


# ---- (f) teacher forcing --------------------------------------------------------------------------


def test_teacher_forcing_with_ground_truth_middle():
    cascade = JinCascade(SMOKE)
    y, gt4 = _rand(2, 3, 32, 32), _rand(2, 3, 32, 32)
    own = cascade(y)
    forced, stages = cascade(y, middle=gt4, return_stages=True)
    assert torch.equal(forced[:, 3], gt4)
    assert torch.equal(stages["middle"][:, 0], gt4)
    for i in (0, 1, 2, 4, 5, 6):
        assert not torch.allclose(forced[:, i], own[:, i])
    # without teacher forcing frame 4 is the middle network's own estimate, as if run alone
    torch.testing.assert_close(own[:, 3], cascade.middle(y))


def test_given_reference_frames_feed_later_stages():
    cascade = JinCascade(SMOKE)
    y, gt3, gt4 = _rand(1, 3, 20, 25), _rand(1, 3, 20, 25), _rand(1, 3, 20, 25)
    frames, stages = cascade(y, given={3: gt3, 4: gt4}, return_stages=True)
    assert torch.equal(frames[:, 2], gt3)
    torch.testing.assert_close(frames[:, 4], cascade.net5(y, gt4, gt3))
    torch.testing.assert_close(frames[:, 1], cascade.net26(y, gt3, gt4))
    assert stages["3_5"].shape == (1, 2, 3, 20, 25)
    with pytest.raises(ValueError):
        cascade(y, given={8: gt3})


def test_cascade_is_the_composition_of_its_stages():
    cascade = JinCascade(SMOKE)
    y = _rand(1, 3, 24, 26)
    frames = cascade(y)
    x4 = cascade.predict_middle(y)
    x3, x5 = cascade.predict_3_5(y, x4)
    x2, x6 = cascade.predict_2_6(y, x3, x4, x5)
    x1, x7 = cascade.predict_1_7(y, x2, x3, x5, x6)
    torch.testing.assert_close(frames, torch.stack([x1, x2, x3, x4, x5, x6, x7], dim=1))


# ---- (g) weight sharing between the two sides of the 2/6 and 1/7 stages ---------------------------


def test_outer_stages_share_one_network_per_pair():
    cascade = JinCascade(SMOKE)
    assert cascade.network_for(2) is cascade.network_for(6) is cascade.net26
    assert cascade.network_for(1) is cascade.network_for(7) is cascade.net17
    assert cascade.net3 is not cascade.net5
    assert cascade.net26 is not cascade.net17
    ids = {id(p) for p in cascade.parameters()}
    assert len(ids) == len(list(cascade.parameters()))
    assert count_parameters(cascade) == sum(
        count_parameters(n) for n in (cascade.middle, cascade.net3, cascade.net5, cascade.net26, cascade.net17)
    )
    # the mirrored side really runs the same weights on mirrored inputs
    y = _rand(1, 3, 20, 20)
    frames = cascade(y)
    x4, x5 = frames[:, 3], frames[:, 4]
    torch.testing.assert_close(frames[:, 5], cascade.net26(y, x5, x4))
    torch.testing.assert_close(frames[:, 6], cascade.net17(y, frames[:, 5], x5))
    shared = JinCascade(JinConfig.smoke(share_outer_stages=True))
    assert shared.network_for(1) is shared.network_for(2) is shared.network_for(7)


# ---- (h) a CPU-sized configuration trains --------------------------------------------------------


def test_gradient_reaches_every_parameter_of_the_cascade():
    # speed is measured by benchmarks, never asserted here
    cascade = JinCascade(JinConfig.smoke())
    y = _rand(2, 3, 40, 40)
    frames = cascade(y)
    loss = (frames - y.unsqueeze(1)).square().mean()
    loss.backward()
    assert frames.shape == (2, 7, 3, 40, 40)
    assert all(p.grad is not None for p in cascade.parameters())


def test_nah_multiscale_outputs_every_level():
    net = NahMultiScale(NahConfig.smoke())
    y = _rand(1, 3, 30, 42)
    estimates, pyramid = net(y, return_all=True)
    assert [e.shape[-2:] for e in estimates] == [(8, 11), (16, 22), (30, 42)]
    assert [p.shape for p in pyramid] == [e.shape for e in estimates]
    torch.testing.assert_close(net(y), estimates[-1])


# ---- (g) small-scale design options: normalisation, near-identity initialisation ------------------


@pytest.mark.parametrize(("norm", "kind"), [("instance", torch.nn.InstanceNorm2d), ("layer", torch.nn.GroupNorm),
                                            ("none", None)])
def test_every_block_uses_the_configured_normalisation(norm, kind):
    cascade = JinCascade(JinConfig.smoke(norm=norm))
    norms = [m for m in cascade.modules() if isinstance(m, (torch.nn.InstanceNorm2d, torch.nn.GroupNorm))]
    if kind is None:
        assert norms == []
    else:
        assert norms and all(type(m) is kind for m in norms)
        if kind is torch.nn.GroupNorm:  # one group: statistics over every channel and position of an image
            assert all(m.num_groups == 1 for m in norms)
    y = _rand(2, 3, 20, 20)
    assert cascade(y).shape == (2, 7, 3, 20, 20)


def test_layer_norm_sees_all_channels_and_instance_norm_each_one():
    """Instance norm removes each channel's own mean: a constant added to one channel of the input
    does not reach the block's branches; layer norm keeps the channels' relative levels."""
    x = _rand(1, 4, 8, 8)
    shifted = x.clone()
    shifted[:, 0] += 5.0
    instance, layer = PreActResBlock(4, norm="instance"), PreActResBlock(4, norm="layer")
    torch.testing.assert_close(instance(shifted) - shifted, instance(x) - x, atol=1e-4, rtol=0)
    assert not torch.allclose(layer(shifted) - shifted, layer(x) - x, atol=1e-3)


def test_an_unknown_normalisation_is_named_in_the_error():
    with pytest.raises(ValueError, match="'batch'.*instance"):
        JinConfig.smoke(norm="batch")


def test_zero_init_makes_frames_3_and_5_identical_and_a_small_init_breaks_the_tie():
    """Zero-initialised, the frame-3 and frame-5 networks both return x4, so |x3 - x5| of Eq. 5 has
    no gradient at the start; scaled down instead of zeroed they differ, yet stay near the skip."""
    y = _rand(2, 3, 20, 20)
    zero = JinCascade(JinConfig.smoke(zero_init_residual=True))
    x3, x5 = zero.predict_3_5(y, y)
    assert torch.equal(x3, x5)
    torch.manual_seed(0)
    small = JinCascade(JinConfig.smoke(zero_init_residual=True, residual_init_scale=0.1))
    torch.manual_seed(0)
    default = JinCascade(JinConfig.smoke())
    s3, s5 = small.predict_3_5(y, y)
    d3, _ = default.predict_3_5(y, y)
    assert (s3 - s5).abs().max() > 0
    torch.testing.assert_close(s3 - y, 0.1 * (d3 - y), atol=1e-5, rtol=1e-4)  # the residual is linear in the last conv


def test_the_refined_colour_skip_starts_at_the_skip_and_reaches_the_trunk_at_once():
    """Zero-initialised, both skips return the blurry input; with the authors' skip (``"input"``) the
    zeroed colour fusion blocks every gradient to the stages, with the skip on the refined image the
    stages' fusion gets one from the first step."""
    y, target = _rand(2, 3, 20, 20), _rand(2, 3, 20, 20)
    grads = {}
    for skip in ("input", "refined"):
        net = MiddleNet(JinConfig.smoke(zero_init_residual=True, colour_skip=skip))
        out = net(y)
        torch.testing.assert_close(out, y)
        ((out - target) ** 2).mean().backward()
        grads[skip] = sum(float(f.conv_3x3.weight.grad.abs().sum()) for f in net.fuse)
    assert grads["input"] == 0.0 and grads["refined"] > 0.0
    with pytest.raises(ValueError, match="colour_skip"):
        JinConfig.smoke(colour_skip="output")
