"""LPIPS-VGG (Zhang et al. 2018): the metric's properties and its layer-by-layer formula, on random
weights of the real file layouts (the real weight files are never needed here)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blur2vid.models.lpips import (
    LPIPS,
    LPIPS_CHANNELS,
    LPIPS_LIN_KEYS,
    LPIPSWeightsError,
    VGG16LPIPSFeatures,
    load_lpips,
)
from blur2vid.models.vgg import VGG16_ENV_VAR, VGG16Features, VGGWeightsError, load_vgg16_features

# torchvision vgg16 "features" up to relu5_3, written out independently of the module under test:
# numbers are conv output channels, "M" a 2x2 max-pooling; taps after the ReLU of the 2nd, 4th, 7th,
# 10th and 13th convolution
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_TAP_CONVS = (2, 4, 7, 10, 13)
SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A randomly initialised VGG16 up to relu5_3 saved as a torchvision-style state dict, with a
    classifier key the loader has to ignore.  He initialisation and small biases keep the deep levels
    image-dependent (PyTorch's default initialisation shrinks the signal layer by layer until relu5_3
    is the biases' pattern alone, and a wrong level-4/5 tap would go unnoticed)."""
    torch.manual_seed(1)
    vgg = VGG16LPIPSFeatures()
    for layer in vgg.features:
        if isinstance(layer, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            torch.nn.init.normal_(layer.bias, std=0.01)
    state = {k: v.clone() for k, v in vgg.state_dict().items()}
    assert "features.28.weight" in state and "features.30.weight" not in state
    state["classifier.0.bias"] = torch.zeros(4096)
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(state, path)
    return path, state


def _lin_state(seed: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for k, c in enumerate(LPIPS_CHANNELS)}


@pytest.fixture
def lpips_file(tmp_path):
    state = _lin_state()
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture
def metric(vgg_file, lpips_file, no_vgg_env) -> LPIPS:
    return load_lpips(lpips_file[0], vgg_file[0])


def _images(*shape: int) -> torch.Tensor:
    """Smooth-ish random images in [0, 1] (upsampled noise), so that added noise is a visible change."""
    *lead, c, h, w = shape
    small = torch.rand(int(torch.tensor(lead).prod()) if lead else 1, c, h // 4, w // 4)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).reshape(shape)


def _reference_features(state: dict[str, torch.Tensor], x: torch.Tensor) -> list[torch.Tensor]:
    """relu1_2 ... relu5_3 of the LPIPS-scaled images, straight from the state dict with F.conv2d."""
    h = (2 * x - 1 - SHIFT) / SCALE
    out, conv, layer = [], 0, 0
    for item in _CFG:
        if item == "M":
            h = F.max_pool2d(h, 2)
            layer += 1
            continue
        h = F.relu(F.conv2d(h, state[f"features.{layer}.weight"], state[f"features.{layer}.bias"], padding=1))
        layer += 2
        conv += 1
        if conv in _TAP_CONVS:
            out.append(h)
    return out


def _unit(f: torch.Tensor) -> torch.Tensor:
    return f / (torch.sqrt((f**2).sum(dim=1, keepdim=True)) + 1e-10)


def test_identity_symmetry_and_non_negativity(metric, device):
    metric = metric.to(device)
    x = _images(4, 3, 32, 32).to(device)
    y = _images(4, 3, 32, 32).to(device)
    self_distance = metric(x, x)
    assert self_distance.shape == (4,)
    assert self_distance.abs().max() < 1e-6
    d = metric(x, y)
    assert torch.all(d > 0)
    torch.testing.assert_close(metric(y, x), d)
    assert torch.all(metric(torch.rand(8, 3, 16, 16, device=device), torch.rand(8, 3, 16, 16, device=device)) >= 0)
    assert not d.requires_grad  # evaluation: no graph by default


def test_distance_grows_with_noise(metric):
    x = _images(3, 3, 32, 32)
    noise = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    d = torch.stack([metric(x, (x + sigma * noise).clamp(0, 1)) for sigma in (0.02, 0.1, 0.4)])
    assert torch.all(d[0] > 0)
    assert torch.all(d[1] > d[0]) and torch.all(d[2] > d[1]), d


def test_leading_dims_and_single_images(metric):
    x = _images(2, 7, 3, 32, 32)
    y = _images(2, 7, 3, 32, 32)
    d = metric(x, y)
    assert d.shape == (2, 7)
    torch.testing.assert_close(d[1, 3], metric(x[1, 3], y[1, 3]))
    assert metric(x[1, 3], y[1, 3]).shape == ()
    torch.testing.assert_close(d.reshape(14), metric(x.reshape(14, 3, 32, 32), y.reshape(14, 3, 32, 32)))
    # grayscale is repeated to RGB
    torch.testing.assert_close(metric(x[:, :, :1], y[:, :, :1]), metric(x[:, :, :1].expand_as(x), y[:, :, :1].expand_as(y)))


@pytest.mark.parametrize("level", range(5))
def test_known_answer_one_level(vgg_file, level):
    """With the lin weights zero except level k set to ones, the distance is the spatial mean of the
    channel-summed squared difference of the unit-normalised level-k features."""
    path, state = vgg_file
    lin = {key: torch.zeros(shape) for key, shape in LPIPS_LIN_KEYS.items()}
    lin[f"lin{level}.model.1.weight"] = torch.ones(1, LPIPS_CHANNELS[level], 1, 1)
    vgg = VGG16LPIPSFeatures()
    vgg.load_torchvision_state_dict(state)
    metric = LPIPS(vgg, lin)
    x, y = _images(2, 3, 32, 32), _images(2, 3, 32, 32)
    f0, f1 = _reference_features(state, x)[level], _reference_features(state, y)[level]
    assert f0.shape[1:] == (LPIPS_CHANNELS[level], 32 >> level, 32 >> level)
    expected = ((_unit(f0) - _unit(f1)) ** 2).sum(dim=1).mean(dim=(-2, -1))
    assert torch.all(expected > 0.02)  # the level carries the images, not only the biases
    torch.testing.assert_close(metric(x, y), expected)
    if level in (1, 2):
        # the same levels from the project's VGG16Features.forward (relu2_2, relu3_3), fed the input that
        # its ImageNet normalisation turns into the LPIPS-scaled image
        plain = load_vgg16_features(path)
        to_vgg = lambda im: ((2 * im - 1 - SHIFT) / SCALE) * IMAGENET_STD + IMAGENET_MEAN  # noqa: E731
        g0, g1 = plain(to_vgg(x))[level - 1], plain(to_vgg(y))[level - 1]
        torch.testing.assert_close(((_unit(g0) - _unit(g1)) ** 2).sum(dim=1).mean(dim=(-2, -1)), expected)


def test_known_answer_all_levels(vgg_file, lpips_file):
    path, state = vgg_file
    lin = lpips_file[1]
    vgg = VGG16LPIPSFeatures()
    vgg.load_torchvision_state_dict(state)
    metric = LPIPS(vgg, lin)
    x, y = _images(2, 3, 24, 40), _images(2, 3, 24, 40)
    expected = sum(
        ((_unit(a) - _unit(b)) ** 2 * lin[f"lin{k}.model.1.weight"]).sum(dim=1).mean(dim=(-2, -1))
        for k, (a, b) in enumerate(zip(_reference_features(state, x), _reference_features(state, y), strict=True))
    )
    torch.testing.assert_close(metric(x, y), expected)


def test_smallest_size_and_too_small(metric):
    d = metric(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
    assert d.shape == (2,) and torch.isfinite(d).all()
    with pytest.raises(ValueError, match=r"at least 16x16, got 15x32.*relu5_3"):
        metric(torch.rand(1, 3, 15, 32), torch.rand(1, 3, 15, 32))
    with pytest.raises(ValueError, match="same shape"):
        metric(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 17))
    with pytest.raises(ValueError, match=r"\[\.\.\., 3, H, W\]"):
        metric(torch.rand(1, 4, 16, 16), torch.rand(1, 4, 16, 16))


def test_differentiable_on_request(vgg_file, lpips_file, no_vgg_env):
    metric = load_lpips(lpips_file[0], vgg_file[0], differentiable=True)
    pred = torch.rand(1, 3, 16, 16, requires_grad=True)
    metric(pred, torch.rand(1, 3, 16, 16)).sum().backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in metric.parameters())
    metric.train()
    assert not metric.training and not metric.vgg.training


def test_vgg16_from_environment_variable(vgg_file, lpips_file, monkeypatch):
    monkeypatch.setenv(VGG16_ENV_VAR, str(vgg_file[0]))
    assert isinstance(load_lpips(lpips_file[0]), LPIPS)
    monkeypatch.setenv(VGG16_ENV_VAR, str(vgg_file[0].with_name("nowhere.pth")))
    with pytest.raises(VGGWeightsError, match=f"nowhere.pth.*{VGG16_ENV_VAR}"):
        load_lpips(lpips_file[0])


def test_no_vgg16_file_says_both_files_are_needed(lpips_file, monkeypatch):
    monkeypatch.delenv(VGG16_ENV_VAR, raising=False)
    with pytest.raises(ValueError, match=rf"needs two weight files.*vgg16_path.*{VGG16_ENV_VAR}"):
        load_lpips(lpips_file[0])
    monkeypatch.setenv(VGG16_ENV_VAR, "  ")
    with pytest.raises(ValueError, match="needs two weight files"):
        load_lpips(lpips_file[0], None)


def _save(tmp_path, name, state):
    path = tmp_path / name
    torch.save(state, path)
    return path


def test_bad_lpips_files_name_the_file_and_the_key(tmp_path, vgg_file, no_vgg_env):
    vgg = vgg_file[0]
    missing = _lin_state()
    del missing["lin3.model.1.weight"]
    with pytest.raises(LPIPSWeightsError, match=r"missing\.pth.*missing key 'lin3\.model\.1\.weight'"):
        load_lpips(_save(tmp_path, "missing.pth", missing), vgg)

    shape = _lin_state()
    shape["lin2.model.1.weight"] = torch.rand(1, 384, 1, 1)  # AlexNet's third level
    with pytest.raises(LPIPSWeightsError, match=r"shape\.pth.*'lin2\.model\.1\.weight' has shape \(1, 384, 1, 1\), expected \(1, 256, 1, 1\)"):
        load_lpips(_save(tmp_path, "shape.pth", shape), vgg)

    extra = _lin_state()
    extra["lin5.model.1.weight"] = torch.rand(1, 512, 1, 1)  # SqueezeNet has 7 levels
    with pytest.raises(LPIPSWeightsError, match=r"extra\.pth.*unexpected key 'lin5\.model\.1\.weight'"):
        load_lpips(_save(tmp_path, "extra.pth", extra), vgg)

    negative = _lin_state()
    negative["lin0.model.1.weight"][0, 5] = -0.1
    with pytest.raises(LPIPSWeightsError, match=r"negative\.pth.*'lin0\.model\.1\.weight' has negative"):
        load_lpips(_save(tmp_path, "negative.pth", negative), vgg)

    with pytest.raises(LPIPSWeightsError, match=r"list\.pth.*expected the lpips v0\.1 VGG state dict"):
        load_lpips(_save(tmp_path, "list.pth", [torch.zeros(1)]), vgg)

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file at all")
    with pytest.raises(LPIPSWeightsError, match=r"garbage\.pth.*not a loadable LPIPS weight file"):
        load_lpips(garbage, vgg)

    with pytest.raises(LPIPSWeightsError, match=r"absent\.pth.*does not exist"):
        load_lpips(tmp_path / "absent.pth", vgg)


def test_bad_vgg16_files_name_the_file_and_the_key(tmp_path, lpips_file, no_vgg_env):
    # a VGG16 cut at relu3_3 (what the perceptual loss needs) is not enough for LPIPS
    shallow = _save(tmp_path, "vgg16-shallow.pth", dict(VGG16Features().state_dict()))
    with pytest.raises(VGGWeightsError, match=r"vgg16-shallow\.pth.*missing keys.*features\.17\.weight"):
        load_lpips(lpips_file[0], shallow)
    state = dict(VGG16LPIPSFeatures().state_dict())
    state["features.24.weight"] = torch.zeros(512, 256, 3, 3)
    with pytest.raises(VGGWeightsError, match=r"vgg16-shape\.pth.*features\.24\.weight"):
        load_lpips(lpips_file[0], _save(tmp_path, "vgg16-shape.pth", state))
    garbage = tmp_path / "vgg16-garbage.pth"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(VGGWeightsError, match=r"vgg16-garbage\.pth"):
        load_lpips(lpips_file[0], garbage)


def test_lpips_needs_the_deep_vgg(vgg_file):
    with pytest.raises(ValueError, match="relu5_3.*VGG16LPIPSFeatures"):
        LPIPS(VGG16Features(), _lin_state())
    vgg = VGG16LPIPSFeatures()
    bad = _lin_state()
    bad["lin4.model.1.weight"] = torch.rand(1, 256, 1, 1)
    with pytest.raises(LPIPSWeightsError, match=r"LPIPS linear weights.*lin4\.model\.1\.weight"):
        LPIPS(vgg, bad)
