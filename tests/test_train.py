import pytest
import torch

from blur2vid.data.sample import Batch
from blur2vid.losses import naive_loss
from blur2vid.models.unet import SequenceUNet
from blur2vid.training.loop import fit, load_checkpoint, save_checkpoint


def _batch_at(step: int) -> Batch:
    g = torch.Generator().manual_seed(step)
    frames = torch.rand(4, 3, 3, 8, 8, generator=g)
    return Batch(frames.mean(1), frames)


def _loss(model, batch):
    return naive_loss(model(batch.blur), batch.frames)


def _interrupted_at(stop: int):
    """``_batch_at`` that is interrupted (Ctrl-C) when asked for batch ``stop``."""
    def at(step: int) -> Batch:
        if step == stop:
            raise KeyboardInterrupt
        return _batch_at(step)
    return at


def make():
    """The small network every resume test trains, from the same initial weights."""
    torch.manual_seed(0)
    return SequenceUNet(n_frames=3, width=4, depth=1)


def test_learning_rate_schedules():
    from blur2vid.training.loop import learning_rate

    assert [learning_rate(s, 10, 0.1, "constant") for s in (0, 9)] == [0.1, 0.1]
    steps = 1000  # warm-up over 50 steps, then a half cosine to 0
    lrs = [learning_rate(s, steps, 1.0) for s in range(steps)]
    assert lrs[0] < lrs[25] < lrs[49] < lrs[50] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[50:], lrs[51:], strict=False))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12) and lrs[525] == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="unknown schedule"):
        learning_rate(0, 10, 0.1, "step")
    with pytest.raises(ValueError, match="unknown schedule"):
        fit(SequenceUNet(n_frames=3, width=4, depth=1), _batch_at, _loss, steps=1, schedule="step", progress=False)


def test_unet_starts_as_identity_on_the_blur_and_handles_odd_sizes():
    net = SequenceUNet(n_frames=5, width=4, depth=2)
    blur = torch.rand(2, 3, 13, 21)
    out = net(blur)
    assert out.shape == (2, 5, 3, 13, 21)
    assert torch.equal(out, blur.unsqueeze(1).expand_as(out))


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, device, monkeypatch):
    """Also on a GPU: the optimiser's state, saved from the device and read back on the CPU, is
    put back beside the weights."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)  # the same sums in both runs
    cfg = {"exp": "t"}

    straight = make()
    fit(straight, _batch_at, _loss, steps=6, lr=1e-2, config=cfg, progress=False, device=device)
    ckpt = tmp_path / "run.pt"
    first = make()
    with pytest.raises(KeyboardInterrupt):
        fit(first, _interrupted_at(3), _loss, steps=6, lr=1e-2, config=cfg, checkpoint=ckpt, checkpoint_every=3,
            progress=False, device=device)
    assert load_checkpoint(ckpt)["step"] == 3
    resumed = make()
    history = fit(resumed, _batch_at, _loss, steps=6, lr=1e-2, config=cfg, checkpoint=ckpt, progress=False,
                  device=device)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert load_checkpoint(ckpt)["step"] == 6 and history[-1]["step"] == 5


def test_checkpoints_come_by_time_as_well_as_by_steps(tmp_path):
    """A kill between step checkpoints loses at most ``checkpoint_seconds`` of work (0 here: every
    step), and the run resumed from a time checkpoint ends as if never interrupted."""
    cfg = {"exp": "time"}

    straight = make()
    fit(straight, _batch_at, _loss, steps=6, lr=1e-2, config=cfg, progress=False)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        fit(make(), _interrupted_at(4), _loss, steps=6, lr=1e-2, config=cfg, checkpoint=ckpt, checkpoint_every=1000,
            checkpoint_seconds=0.0, progress=False)
    assert load_checkpoint(ckpt)["step"] == 4  # by time, long before the step checkpoint at 1000
    resumed = make()
    fit(resumed, _batch_at, _loss, steps=6, lr=1e-2, config=cfg, checkpoint=ckpt, progress=False)
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    ckpt.unlink()
    with pytest.raises(KeyboardInterrupt):  # by steps only: nothing before step 1000
        fit(make(), _interrupted_at(4), _loss, steps=6, lr=1e-2, config=cfg, checkpoint=ckpt, checkpoint_every=1000,
            checkpoint_seconds=None, progress=False)
    assert not ckpt.exists()
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        fit(make(), _batch_at, _loss, steps=1, checkpoint_seconds=-1.0, progress=False)


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


def test_training_reduces_the_loss(device):
    torch.manual_seed(0)
    net = SequenceUNet(n_frames=3, width=8, depth=1)
    hist = fit(net, lambda s: _batch_at(0), _loss, steps=80, lr=3e-3, progress=False, log_every=1, schedule="constant",
               device=device)
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]  # it can fit one batch
    assert next(net.parameters()).device.type == device


def test_a_loss_that_stops_being_finite_stops_the_run_before_the_weights_take_it():
    torch.manual_seed(0)
    net = SequenceUNet(n_frames=3, width=4, depth=1)
    seen = {}

    def exploding(model, batch):
        loss = _loss(model, batch)
        if batch.meta["bad"]:
            seen["weights"] = {k: v.clone() for k, v in model.state_dict().items()}
            loss = loss * float("inf")
        return loss

    def batch_at(step):
        batch = _batch_at(step)
        return Batch(batch.blur, batch.frames, {"bad": step == 2})

    with pytest.raises(FloatingPointError, match="loss became (inf|nan) at step 2"):
        fit(net, batch_at, exploding, steps=4, lr=1e-2, progress=False, schedule="constant")
    assert all(torch.equal(v, seen["weights"][k]) for k, v in net.state_dict().items())


def test_extra_state_such_as_a_second_optimiser_resumes_exactly(tmp_path):
    """A loss function that steps its own optimiser (a GAN's discriminator): with ``extra_state`` the
    optimiser's momentum is checkpointed, so an interrupted run ends where a straight one does."""
    cfg = {"exp": "extra"}

    def make():
        torch.manual_seed(0)
        model = torch.nn.ModuleDict({"net": SequenceUNet(n_frames=3, width=4, depth=1), "aux": torch.nn.Linear(8, 1)})
        return model, torch.optim.SGD(model["aux"].parameters(), lr=0.1, momentum=0.9)

    def loss_fn(opt):
        def fn(model, batch):
            aux_loss = model["aux"](batch.blur.mean(dim=(1, 2))).pow(2).mean()
            opt.zero_grad()
            aux_loss.backward()
            opt.step()
            return _loss(model["net"], batch)
        return fn

    straight, opt = make()
    fit(straight, _batch_at, loss_fn(opt), steps=6, lr=1e-2, config=cfg, progress=False)
    ckpt = tmp_path / "run.pt"
    first, opt = make()
    with pytest.raises(KeyboardInterrupt):
        fit(first, _interrupted_at(3), loss_fn(opt), steps=6, lr=1e-2, config=cfg, checkpoint=ckpt, checkpoint_every=3,
            progress=False, extra_state={"aux_opt": opt})
    assert load_checkpoint(ckpt)["extra"]["aux_opt"]["state"]
    resumed, opt = make()
    fit(resumed, _batch_at, loss_fn(opt), steps=6, lr=1e-2, config=cfg, checkpoint=ckpt, progress=False,
        extra_state={"aux_opt": opt})
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    other, opt = make()
    with pytest.raises(ValueError, match="no saved state for 'other'"):
        fit(other, _batch_at, loss_fn(opt), steps=6, config=cfg, checkpoint=ckpt, progress=False,
            extra_state={"other": opt})


def test_weights_digest_tells_weights_apart():
    from blur2vid.training.loop import weights_digest

    a, b = SequenceUNet(n_frames=3, width=4, depth=1), SequenceUNet(n_frames=3, width=4, depth=1)
    b.load_state_dict(a.state_dict())
    assert weights_digest(a) == weights_digest(b) and len(weights_digest(a)) == 16
    with torch.no_grad():
        next(b.parameters())[0].view(-1)[0] += 1e-6
    assert weights_digest(a) != weights_digest(b)


def test_run_config_is_plain_and_survives_a_checkpoint(tmp_path):
    """What a checkpoint stores must compare equal after loading (fit refuses a run whose stored
    configuration differs): dataclasses become dicts, tuples lists, paths strings."""
    from dataclasses import dataclass
    from pathlib import Path

    from blur2vid.training.loop import KEY_FORMAT, run_config

    @dataclass(frozen=True)
    class Inner:
        path: Path
        shape: tuple

    @dataclass(frozen=True)
    class Outer:
        inner: Inner
        lr: float

    cfg = run_config(Outer(Inner(Path("/data/x"), (1, 2)), 0.1), step="core", ordering={"sizes": (3,)})
    assert cfg == {"key_format": KEY_FORMAT, "config": {"inner": {"path": "/data/x", "shape": [1, 2]}, "lr": 0.1},
                   "step": "core", "ordering": {"sizes": [3]}}
    net = SequenceUNet(n_frames=3, width=4, depth=1)
    save_checkpoint(tmp_path / "c.pt", model=net, config=cfg, step=1)
    assert load_checkpoint(tmp_path / "c.pt")["config"] == cfg


def test_config_keys_and_workspace_paths(tmp_path, monkeypatch):
    import blur2vid.training.loop as train
    from blur2vid.training.loop import Workspace, config_key, run_config

    a, b = {"lr": 0.1, "data": {"size": 16, "root": None}}, {"data": {"root": None, "size": 16}, "lr": 0.1}
    assert config_key("run", a) == config_key("run", b)  # the order of the fields does not matter
    assert config_key("run", a) != config_key("run", {**a, "lr": 0.2}) != config_key("other", a)
    before = config_key("run", run_config(a))
    monkeypatch.setattr(train, "KEY_FORMAT", train.KEY_FORMAT + 1)
    assert config_key("run", run_config(a)) != before  # a new key format trains every run anew

    ws = Workspace(str(tmp_path), "cpu", progress=False)
    assert ws.checkpoints == tmp_path and ws.device == torch.device("cpu")
    assert ws.checkpoint("run", a) == ws.checkpoint("run", b) != ws.checkpoint("run", {**a, "lr": 0.2})
    assert ws.checkpoint("run", a).parent == tmp_path
    assert Workspace().checkpoint("run", a) is None
    fit(SequenceUNet(n_frames=3, width=4, depth=1), _batch_at, _loss, steps=1, config=a,
        checkpoint=Workspace().checkpoint("run", a), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_frozen_identity_names_architecture_and_weights():
    from blur2vid.models.hypercut import HyperCUT, HyperCUTConfig
    from blur2vid.training.loop import frozen_identity, weights_digest

    torch.manual_seed(0)
    a = HyperCUT(HyperCUTConfig(width=4, depth=1, dim=8))
    b = HyperCUT(HyperCUTConfig(width=4, depth=1, dim=8))
    b.load_state_dict(a.state_dict())
    assert frozen_identity(a) == frozen_identity(b) and frozen_identity(a)["weights"] == weights_digest(a)
    with torch.no_grad():
        next(b.parameters()).view(-1)[0] += 1e-3
    assert frozen_identity(a) != frozen_identity(b)
    wider = HyperCUT(HyperCUTConfig(width=8, depth=1, dim=8))
    assert {k: v for k, v in frozen_identity(wider).items() if k != "weights"} != {
        k: v for k, v in frozen_identity(a).items() if k != "weights"}


def test_spike_clip_cuts_a_gradient_far_above_the_runs_own():
    """After its warm-up, SpikeClip clips a gradient 1000x the recent ones to 5x their median, leaves
    ordinary ones alone, and its state round-trips (a resumed run clips the same)."""
    from blur2vid.training.loop import SpikeClip

    p = torch.nn.Parameter(torch.zeros(4))
    clip = SpikeClip(factor=5.0, window=50, warmup=20)
    for k in range(30):
        p.grad = torch.full((4,), 0.005 * (1 + 0.1 * (k % 3)))
        clip([p])
    assert clip.clipped == 0
    typical = float(torch.tensor(clip.norms).median())
    p.grad = torch.full((4,), 5.0)  # norm 10
    assert clip([p]) == pytest.approx(10.0) and p.grad.norm().item() == pytest.approx(5 * typical, rel=1e-5)
    assert clip.clipped == 1 and max(clip.norms) == pytest.approx(5 * typical, rel=1e-5)
    again = SpikeClip(factor=5.0, window=50, warmup=20)
    again.load_state_dict(clip.state_dict())
    assert again.threshold() == pytest.approx(clip.threshold()) and again.clipped == 1
    with pytest.raises(ValueError, match="grad_clip"):
        fit(torch.nn.Linear(1, 1), lambda s: None, lambda m, b: None, steps=1, grad_clip="sometimes")


def test_a_validation_function_logs_the_learning_curve_without_changing_training():
    """fit's validate is called about ten times (and at the end), in eval mode and without
    gradients; its scores land in the history with the samples seen, and the weights are those of a
    run without it."""
    frames = torch.rand(4, 3, 3, 8, 8)
    batch = Batch(frames.mean(1), frames)
    calls = []

    def validate(model):
        calls.append((model.training, torch.is_grad_enabled()))
        return {"val_loss": float(naive_loss(model(batch.blur), batch.frames))}

    def run(**kw):
        torch.manual_seed(0)
        net = SequenceUNet(n_frames=3, width=4, depth=1)
        history = fit(net, lambda step: batch, lambda m, b: naive_loss(m(b.blur), b.frames), steps=40, progress=False, **kw)
        return net, history

    plain_net, _ = run()
    net, history = run(validate=validate)
    curve = [h for h in history if "val_loss" in h]
    assert [h["step"] for h in curve] == [3, 7, 11, 15, 19, 23, 27, 31, 35, 39]
    assert [h["samples"] for h in curve][:2] == [16, 32] and calls == [(False, False)] * 10
    assert all(torch.equal(a, b) for a, b in zip(plain_net.state_dict().values(), net.state_dict().values(), strict=True))


def test_the_ordering_network_trains_in_fp32_whatever_the_run(tmp_path):
    """bf16 autocast collapses the generic ordering embedding (Hit 0 at the cpu profile), so its
    training ignores the Workspace's precision: the checkpoint says fp32."""
    from blur2vid.data.config import DataConfig
    from blur2vid.training.hyperplane import HyperCUTTrainConfig, train_ordering
    from blur2vid.training.loop import Workspace

    cfg = HyperCUTTrainConfig(data=DataConfig(size=16, max_shift=4.0), steps=2, batch=2, dim=8, width=4, depth=2)
    ws = Workspace(tmp_path, precision="bf16", progress=False)
    train_ordering(cfg.build(), cfg, ws)
    (path,) = tmp_path.glob("hypercut-*.pt")
    assert load_checkpoint(path)["config"]["precision"] == "fp32"


def test_workers_rendering_ahead_give_the_same_batches_and_weights(tmp_path):
    cfg = {"exp": "t"}
    inline = make()
    fit(inline, _batch_at, _loss, steps=5, lr=1e-2, config=cfg, progress=False)
    ahead = make()
    ckpt = tmp_path / "run.pt"
    def fails_at_3(step: int) -> Batch:
        if step == 3:
            raise OSError("a scene file went missing")
        return _batch_at(step)

    with pytest.raises(OSError, match="went missing"):  # a worker's failure reaches the training process
        fit(ahead, fails_at_3, _loss, steps=5, lr=1e-2, config=cfg, checkpoint=ckpt, checkpoint_every=1,
            progress=False, workers=2)
    resumed = make()
    fit(resumed, _batch_at, _loss, steps=5, lr=1e-2, config=cfg, checkpoint=ckpt, progress=False, workers=2)
    for a, b in zip(inline.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="workers"):
        fit(make(), _batch_at, _loss, steps=1, lr=1e-2, progress=False, workers=-1)


def test_a_finished_run_says_it_was_trained_before_instead_of_a_bar(tmp_path, capsys):
    """Resuming a finished checkpoint trains nothing and shows no bar at 100% in no time: one line
    names the steps, the rate they were trained at and the file they were read from."""
    path = tmp_path / "run.pt"
    fit(make(), _batch_at, _loss, steps=3, lr=1e-3, checkpoint=path, log_every=1, progress=False)
    capsys.readouterr()
    history = fit(make(), _batch_at, _loss, steps=3, lr=1e-3, checkpoint=path, log_every=1, progress=True,
                  desc="tiny")
    err = capsys.readouterr().err
    rate = history[-1]["samples_per_s"]
    assert err == f"tiny: 3 steps trained before at {rate:.0f} samples/s, read from run.pt\n"
    fit(make(), _batch_at, _loss, steps=3, lr=1e-3, checkpoint=path, log_every=1, progress=False)
    assert capsys.readouterr().err == ""
