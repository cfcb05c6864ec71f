
import pytest
import torch

from blur2vid.core.formation import (
    CameraResponse,
    add_noise,
    average_subframes,
    blur_from_linear,
    frames_for_shift,
    get_crf,
    linear_intensities,
    match_blur,
    synthesize_blur,
)


@pytest.mark.parametrize("name", ["linear", "srgb", "gamma2.2", 1.8])
def test_crf_inverse_round_trip(name):
    g = get_crf(name)
    x = torch.linspace(0, 1, 1001, dtype=torch.float64)
    assert torch.allclose(g.inverse(g(x)), x, atol=1e-5)
    assert torch.allclose(g(g.inverse(x)), x, atol=1e-5)


def test_gamma_and_srgb_known_values():
    assert get_crf("gamma2.2")(torch.tensor(0.5)).item() == pytest.approx(0.5 ** (1 / 2.2))
    # sRGB: linear 0.5 encodes to 0.7354 (IEC 61966-2-1)
    assert get_crf("srgb")(torch.tensor(0.5, dtype=torch.float64)).item() == pytest.approx(0.735357, abs=1e-5)
    assert get_crf("srgb").inverse(torch.tensor(0.04, dtype=torch.float64)).item() == pytest.approx(0.04 / 12.92)


@pytest.mark.parametrize("name", ["srgb", "gamma2.2", 1.8, 0.5])
def test_the_curves_powers_are_pows_to_float32_rounding_with_finite_gradients(name):
    """The curves take their powers as exp(p log x) (pow is not vectorised on a CPU): within 1e-6
    of the same curve through float64 pow, both ways, and their gradients finite at 0 and 1."""
    g = get_crf(name)
    x = torch.linspace(0, 1, 100_001)
    exact = x.double()
    if g.kind == "srgb":
        fwd = torch.where(exact <= 0.0031308, 12.92 * exact, 1.055 * exact.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)
        inv = torch.where(exact <= 0.04045, exact / 12.92, ((exact + 0.055) / 1.055) ** 2.4)
    else:
        fwd, inv = exact ** (1 / g.gamma), exact ** g.gamma
    assert (g(x).double() - fwd).abs().max() < 1e-6
    assert (g.inverse(x).double() - inv).abs().max() < 1e-6
    with torch.no_grad():  # the banded path of Eq. 1: the whole one, to float32 rounding
        frames = torch.rand(7, 3, 40, 33, generator=torch.Generator().manual_seed(1))
        banded = synthesize_blur(frames, name)
    torch.testing.assert_close(banded, g(g.inverse(frames).mean(0)), atol=1e-6, rtol=0)
    ends = torch.tensor([0.0, 1e-9, 0.5, 1.0], requires_grad=True)
    (g(ends).sum() + g.inverse(ends).sum()).backward()
    assert torch.isfinite(ends.grad).all()


def test_blur_of_a_static_scene_is_the_scene():
    frame = torch.rand(3, 8, 8, dtype=torch.float64)
    seq = frame.expand(7, 3, 8, 8)
    assert torch.allclose(synthesize_blur(seq, "gamma2.2"), frame, atol=1e-6)


@pytest.mark.parametrize("crf", ["srgb", "gamma2.2", "linear", 1.8])
def test_eq1_from_kept_linear_intensities_is_the_blur_to_the_bit_for_any_size_or_crop(crf):
    """Frames taken to linear intensities one at a time (as windows that share frames keep them)
    blur to synthesize_blur's numbers exactly, and a crop's blur is the blur's crop exactly, at
    sizes whose rows do not fall into whole bands of 16 (a reduction's rounding depends on how the
    pixels are laid out; the mean is summed frame by frame so that it does not)."""
    g = torch.Generator().manual_seed(3)
    for t, h, w in ((7, 37, 64), (7, 33, 37), (5, 17, 13), (7, 128, 101), (3, 16, 16)):
        frames = torch.rand(t, 3, h, w, generator=g)
        blur = synthesize_blur(frames, crf)
        kept = torch.stack([linear_intensities(f, crf) for f in frames])
        assert torch.equal(blur_from_linear(kept, crf), blur), (t, h, w)
        assert torch.equal(synthesize_blur(frames[..., 3:h - 2, 5:w - 1], crf), blur[..., 3:h - 2, 5:w - 1]), (t, h, w)


def test_blur_averages_in_linear_space():
    # A pixel that is black for half the exposure and white for the other half receives half the
    # irradiance: its intensity is g(0.5), brighter than the naive average 0.5.
    seq = torch.zeros(2, 1, 1, 1, dtype=torch.float64)
    seq[1] = 1.0
    assert synthesize_blur(seq, "linear").item() == pytest.approx(0.5)
    assert synthesize_blur(seq, "gamma2.2").item() == pytest.approx(0.5 ** (1 / 2.2), abs=1e-9)


def test_blur_is_independent_of_frame_order():
    seq = torch.rand(2, 7, 3, 6, 6)
    perm = torch.randperm(7)
    assert torch.allclose(synthesize_blur(seq), synthesize_blur(seq[:, perm]), atol=1e-6)


def test_average_subframes_then_blur_equals_blur_of_instants():
    instants = torch.rand(21, 3, 5, 5, dtype=torch.float64)
    frames = average_subframes(instants, 3, "srgb")
    assert frames.shape == (7, 3, 5, 5)
    assert torch.allclose(synthesize_blur(frames, "srgb"), synthesize_blur(instants, "srgb"), atol=1e-9)


@pytest.mark.parametrize("shift,expected", [(0, 1), (0.5, 1), (1, 1), (7, 7), (7.2, 8), (31.9, 32)])
def test_frames_for_shift_is_the_T_equals_Delta_rule(shift, expected):
    assert frames_for_shift(shift) == expected


def test_bad_inputs_name_the_value():
    with pytest.raises(ValueError, match="zero frames"):
        synthesize_blur(torch.zeros(0, 3, 4, 4))
    with pytest.raises(ValueError, match="'gamma-x'"):
        get_crf("gamma-x")
    with pytest.raises(ValueError, match="'sepia'"):
        get_crf("sepia")
    with pytest.raises(ValueError, match="-1"):
        frames_for_shift(-1)
    with pytest.raises(ValueError, match="cannot be grouped"):
        average_subframes(torch.zeros(7, 3, 2, 2), 2)
    with pytest.raises(ValueError, match="-0.1"):
        get_crf(-0.1)
    for gamma in (0.1, 20.0, float("nan"), "gamma0.05"):  # float32 overflows near 0 beyond GAMMAS
        with pytest.raises(ValueError, match="between 0.25 and 10"):
            get_crf(gamma)


def test_noise_is_seeded_and_has_the_asked_sigma():
    img = torch.full((3, 64, 64), 0.5)
    a = add_noise(img, 0.01, torch.Generator().manual_seed(1))
    b = add_noise(img, 0.01, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert (a - img).std().item() == pytest.approx(0.01, rel=0.05)
    assert add_noise(img, 0.0) is img


def test_noise_clamps_unless_asked_not_to():
    img = torch.tensor([0.0, 0.5, 1.0]).repeat(1000)
    g = torch.Generator().manual_seed(2)
    clamped = add_noise(img, 0.1, torch.Generator().manual_seed(2))
    raw = add_noise(img, 0.1, g, clamp=False)
    assert clamped.min() == 0.0 and clamped.max() == 1.0 and raw.min() < 0.0 and raw.max() > 1.0
    assert torch.equal(clamped, raw.clamp(0, 1))  # the same draw, clipped or not
    torch.testing.assert_close(raw - img, 0.1 * torch.randn(3000, generator=torch.Generator().manual_seed(2)))


@pytest.mark.parametrize("crf", [CameraResponse("linear"), CameraResponse("srgb"), CameraResponse("gamma", 1.8)])
def test_a_camera_response_is_named_by_its_name(crf):
    assert get_crf(crf.name) == crf


@pytest.mark.parametrize("crf", ["linear", "srgb", "gamma2.2"])
def test_blur_lies_between_the_darkest_and_brightest_frame(crf):
    """A mean of irradiance seen through a monotone response: never outside the frames' range, and
    for gamma/sRGB (concave) never darker than the plain average of the intensities."""
    seq = torch.rand(4, 7, 3, 6, 6, dtype=torch.float64)
    blur = synthesize_blur(seq, crf)
    assert (blur >= seq.amin(1) - 1e-12).all() and (blur <= seq.amax(1) + 1e-12).all()
    assert (blur >= seq.mean(1) - 1e-12).all()


def test_match_blur_reblurs_to_the_blur_and_keeps_the_differences_between_frames(device):
    g = torch.Generator().manual_seed(3)
    frames = (0.2 + 0.6 * torch.rand(2, 5, 3, 8, 8, generator=g)).to(device)
    blur = synthesize_blur(frames, "srgb")
    off = (frames * 0.9 + 0.03).clamp(0, 1)  # what a network that dims and smooths all frames alike returns
    matched = match_blur(off, blur, "srgb")
    assert torch.allclose(synthesize_blur(matched, "srgb"), blur, atol=1e-5)
    lin = get_crf("srgb").inverse
    diffs = lin(matched) - lin(matched).mean(1, keepdim=True)
    assert torch.allclose(diffs, lin(off) - lin(off).mean(1, keepdim=True), atol=1e-5)  # the motion is kept
    # frames that already re-blur to the blur are left as they are
    assert torch.allclose(match_blur(frames, blur, "srgb"), frames, atol=1e-5)
    # without a gradient it works in bands of rows: the same frames as with one
    tall = torch.rand(5, 3, 40, 6, generator=g).to(device)
    tall_blur = torch.rand(3, 40, 6, generator=g).to(device)
    with torch.no_grad():
        banded = match_blur(tall, tall_blur, "srgb")
    whole = match_blur(tall.clone().requires_grad_(), tall_blur, "srgb").detach()
    if device == "cpu":
        assert torch.equal(banded, whole)
    else:  # a GPU may order a sum's terms by the tensor's shape
        torch.testing.assert_close(banded, whole, atol=1e-6, rtol=0)
