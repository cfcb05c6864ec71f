"""The precision option: fp32 by default, bf16 autocast on request, auto decided by the device."""

import pytest
import torch
from torch import nn

from blur2vid.core.precision import autocast, cpu_has_native_bf16, resolve_precision
from blur2vid.data.sample import Batch
from blur2vid.training.loop import Workspace, fit, load_checkpoint


def test_resolve_precision():
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto", "cpu") == ("bf16" if cpu_has_native_bf16() else "fp32")
    with pytest.raises(ValueError, match="'fp8'"):
        resolve_precision("fp8")


def test_autocast_runs_matrix_products_in_bfloat16():
    x, w = torch.rand(4, 8), torch.rand(8, 3)
    with autocast("bf16"):
        assert (x @ w).dtype == torch.bfloat16
    with autocast("fp32"):
        assert (x @ w).dtype == torch.float32


def _batches(step: int) -> Batch:
    g = torch.Generator().manual_seed(step)
    x = torch.rand(16, 3, 8, 8, generator=g)
    return Batch(x, x.unsqueeze(1))


def _loss(seen: list):
    def loss_fn(model, batch):
        seen.append(torch.is_autocast_enabled("cpu"))
        pred = model(batch.blur)
        return ((pred.float() - batch.frames[:, 0]) ** 2).mean()
    return loss_fn


def test_fit_trains_under_bf16_and_keeps_fp32_weights(tmp_path):
    """The forward runs under autocast, the weights stay fp32, the loss falls, and the checkpoint
    records the precision; an fp32 run of the same config is another file."""
    results = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        net = nn.Conv2d(3, 3, 3, padding=1)
        ws = Workspace(tmp_path, precision=precision)
        seen: list = []
        path = ws.checkpoint("conv", {"lr": 1e-2})
        history = fit(net, _batches, _loss(seen), steps=40, lr=1e-2, checkpoint=path, precision=ws.precision,
                      progress=False, log_every=1)
        assert set(seen) == {precision == "bf16"}
        assert all(p.dtype == torch.float32 for p in net.parameters())
        assert history[-1]["loss"] < 0.5 * history[0]["loss"]
        assert load_checkpoint(path)["config"]["precision"] == precision
        results[precision] = (path, net.weight.detach().clone())
    assert results["fp32"][0] != results["bf16"][0]
    assert not torch.equal(results["fp32"][1], results["bf16"][1])  # bf16 rounding moves the weights
    assert torch.allclose(results["fp32"][1], results["bf16"][1], atol=0.05)


def test_compile_changes_the_speed_not_the_run(tmp_path):
    """``compile`` (here the ``eager`` backend, which traces the model without generating code) trains
    the same weights, keeps the same checkpoint key, and predicts the same frames."""
    from blur2vid.core.precision import compiled
    from blur2vid.models.inference import predict_frames
    from blur2vid.models.unet import SequenceUNet

    weights, keys = {}, {}
    for mode in (False, "eager"):
        torch.manual_seed(0)
        net = nn.Conv2d(3, 3, 3, padding=1)
        path = tmp_path / f"{mode}.pt"
        fit(net, _batches, _loss([]), steps=5, lr=1e-2, checkpoint=path, progress=False, compile=mode)
        weights[mode], keys[mode] = net.weight.detach().clone(), load_checkpoint(path)["config"]
    assert torch.allclose(weights[False], weights["eager"], atol=1e-6) and keys[False] == keys["eager"]
    torch.manual_seed(0)
    unet = SequenceUNet(n_frames=3, width=4, depth=1)
    with torch.no_grad():
        unet.out.weight.normal_(0, 0.1)
    image = torch.rand(3, 21, 30)
    plain = predict_frames(unet, image, progress=False)
    assert torch.allclose(predict_frames(unet, image, progress=False, compile="eager"), plain, atol=1e-6)
    assert compiled(unet, False) is unet
    with pytest.raises(ValueError, match="compile"):
        compiled(unet, 3)
