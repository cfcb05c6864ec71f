import pytest
import torch

from blur2vid.data.sample import Batch
from blur2vid.losses import naive_loss
from blur2vid.models.unet import SequenceUNet
from blur2vid.train import fit, load_checkpoint, save_checkpoint


def _batch_at(step: int) -> Batch:
    g = torch.Generator().manual_seed(step)
    frames = torch.rand(4, 3, 3, 8, 8, generator=g)
    return Batch(frames.mean(1), frames)


def _loss(model, batch):
    return naive_loss(model(batch.blur), batch.frames)


def test_unet_starts_as_identity_on_the_blur_and_handles_odd_sizes():
    net = SequenceUNet(n_frames=5, width=4, depth=2)
    blur = torch.rand(2, 3, 13, 21)
    out = net(blur)
    assert out.shape == (2, 5, 3, 13, 21)
    assert torch.equal(out, blur.unsqueeze(1).expand_as(out))


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    cfg = {"exp": "t"}

    def make():
        torch.manual_seed(0)
        return SequenceUNet(n_frames=3, width=4, depth=1)

    straight = make()
    fit(straight, _batch_at, _loss, steps=6, lr=1e-2, config=cfg, progress=False)
    ckpt = tmp_path / "run.pt"
    first = make()
    fit(first, _batch_at, _loss, steps=3, lr=1e-2, config=cfg, checkpoint=ckpt, progress=False)
    resumed = make()
    history = fit(resumed, _batch_at, _loss, steps=6, lr=1e-2, config=cfg, checkpoint=ckpt, progress=False)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert load_checkpoint(ckpt)["step"] == 6 and history[-1]["step"] == 5


def test_checkpoint_of_another_config_is_refused(tmp_path):
    net = SequenceUNet(n_frames=3, width=4, depth=1)
    save_checkpoint(tmp_path / "c.pt", model=net, config={"width": 4}, step=1)
    with pytest.raises(ValueError, match="another configuration"):
        fit(net, _batch_at, _loss, steps=2, config={"width": 8}, checkpoint=tmp_path / "c.pt", progress=False)


class Evil:
    """Any class outside the allow-list: weights_only loading must refuse it."""


def test_unsafe_or_foreign_checkpoints_are_refused(tmp_path):
    torch.save({"format": "blur2vid-checkpoint/1", "obj": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt.*arbitrary"):
        load_checkpoint(tmp_path / "evil.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt.*not a blur2vid checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_training_reduces_the_loss():
    torch.manual_seed(0)
    net = SequenceUNet(n_frames=3, width=8, depth=1)
    hist = fit(net, lambda s: _batch_at(0), _loss, steps=80, lr=3e-3, progress=False, log_every=1)
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]  # it can fit one batch
