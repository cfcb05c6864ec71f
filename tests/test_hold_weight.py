"""The learnt hold weight (models.consistency.HoldWeight): what it is untrained, what it does when it
says less than 1, that it trains, and that a model file carries it."""

import pytest
import torch

from blur2vid.formation import get_crf, match_blur, synthesize_blur
from blur2vid.inference import predict_frames
from blur2vid.models.checkpoint import load_model, save_model
from blur2vid.models.consistency import HoldWeight, MatchBlur, held, hold_weigher
from blur2vid.models.unet import SequenceUNet
from blur2vid.train_command import TrainSpec
from blur2vid.train_unet import UNetTrainConfig


def _frames_and_blur(seed=0, h=20, w=24):
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(2, 7, 3, h, w, generator=g)
    return frames, (synthesize_blur(frames, "srgb") + 0.03 * torch.randn(2, 3, h, w, generator=g)).clamp(0, 1)


def test_an_untrained_head_is_exactly_the_full_hold():
    torch.manual_seed(0)
    plain = SequenceUNet(width=8, depth=1)
    weighed = SequenceUNet(width=8, depth=1, hold_weight=6)
    assert hold_weigher(plain) is None and isinstance(hold_weigher(weighed), HoldWeight)
    frames, blur = _frames_and_blur()
    assert torch.equal(held(weighed, frames, blur).detach(), match_blur(frames, blur))
    assert torch.equal(held(plain, frames, blur), match_blur(frames, blur))


def test_a_weight_of_zero_leaves_the_frames_and_a_half_moves_them_half_way():
    frames, blur = _frames_and_blur(1)
    full = match_blur(frames, blur)
    kept = match_blur(frames, blur, weigh=lambda photo, r: torch.zeros_like(photo[..., :1, :, :]))
    assert torch.allclose(kept, frames, atol=1e-5)
    half = match_blur(frames, blur, weigh=lambda photo, r: torch.full_like(photo[..., :1, :, :], 0.5))
    # in linear units the half-weighed frames lie half way between the frames and the full hold
    g = get_crf("srgb")
    inside = (full > 0.01) & (full < 0.99) & (frames > 0.01) & (frames < 0.99)
    mid = (g.inverse(frames) + g.inverse(full)) / 2
    assert torch.allclose(g.inverse(half)[inside], mid[inside], atol=1e-5)


def test_a_weight_of_the_wrong_shape_is_refused():
    frames, blur = _frames_and_blur()
    with pytest.raises(ValueError, match="hold weight must be"):
        match_blur(frames, blur, weigh=lambda photo, r: torch.ones_like(photo))


def test_the_head_trains_through_the_held_frames():
    torch.manual_seed(0)
    net = SequenceUNet(width=8, depth=1, hold_weight=6)
    frames, blur = _frames_and_blur(2)
    clean = synthesize_blur(frames, "srgb")
    loss = ((held(net, clean[:, None].expand_as(frames).contiguous(), blur) - frames) ** 2).mean()
    loss.backward()
    assert net.weigh.body[-1].weight.grad.abs().sum() > 0


def test_a_model_file_carries_its_head_and_old_files_have_none(tmp_path):
    torch.manual_seed(0)
    net = SequenceUNet(width=8, depth=1, hold_weight=6)
    with torch.no_grad():
        net.weigh.body[-1].bias.fill_(-0.25)
    loaded, _ = load_model(save_model(tmp_path / "m.pt", net))
    assert loaded.config.hold_weight == 6
    assert torch.equal(loaded.weigh.body[-1].bias, net.weigh.body[-1].bias)
    old, _ = load_model(save_model(tmp_path / "old.pt", SequenceUNet(width=8, depth=1)))
    assert old.config.hold_weight == 0 and hold_weigher(old) is None
    assert "hold_weight" not in old.config_dict()  # files without a head read as before it existed


def test_a_tiled_photograph_is_weighed_once_as_a_whole():
    torch.manual_seed(0)
    net = SequenceUNet(width=8, depth=1, hold_weight=6).eval()
    with torch.no_grad():
        net.weigh.body[-1].bias.fill_(-0.4)  # a weight of 0.6 where z is the bias alone
        net.weigh.body[-1].weight.normal_(0, 0.05)
    image = torch.rand(3, 100, 90)
    tiled = predict_frames(MatchBlur(net), image, tile=80, overlap=8, progress=False)
    raw = predict_frames(net, image, tile=80, overlap=8, progress=False)
    assert torch.allclose(tiled, MatchBlur(net).hold(raw[None], image[None])[0], atol=1e-6)


def test_a_hold_weight_needs_the_held_frames():
    with pytest.raises(ValueError, match="hold_weight=4.*match_blur"):
        TrainSpec(hold_weight=4)
    with pytest.raises(ValueError, match="hold_weight"):
        UNetTrainConfig(hold_weight=4)
    with pytest.raises(ValueError, match="hold_weight=-1"):
        TrainSpec(hold_weight=-1, match_blur=True)


def test_without_a_gradient_the_weighed_hold_is_made_in_bands_with_the_same_result():
    torch.manual_seed(0)
    weigh = HoldWeight(3, 6)
    with torch.no_grad():
        weigh.body[-1].bias.fill_(-0.3)
        weigh.body[-1].weight.normal_(0, 0.1)
    frames, blur = _frames_and_blur(3, h=50, w=30)  # bands of 16 rows, the last one short
    whole = match_blur(frames, blur, weigh=weigh).detach()
    with torch.no_grad():
        banded = match_blur(frames, blur, weigh=weigh)
    assert torch.allclose(banded, whole, rtol=0, atol=1e-6)  # a sum over bands may round differently
    assert (whole - match_blur(frames, blur)).abs().max() > 1e-3  # the weight did something  # the weight did something
