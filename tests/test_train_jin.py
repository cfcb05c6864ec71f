import pytest
import torch

from blur2vid.data.scenes import derive_seed, render_scenes
from blur2vid.models.jin import JinCascade
from blur2vid.ordering import MotionDirectionOrder, canonical_order
from blur2vid.train import load_checkpoint
from blur2vid.train_jin import (
    JIN_VARIANTS,
    NEEDS_ORDERING,
    JinTrainConfig,
    evaluate_frames,
    predict_frames,
    table1,
    train_frames,
    train_middle,
    training_batches,
)

CFG = JinTrainConfig(size=20, max_shift=4.0, model="smoke", batch_middle=2, batch_frames=2, steps_middle=2,
                     steps_core=2, steps_outer=2)


def test_every_variant_sees_the_same_batches_and_random_directions():
    a = training_batches(CFG, 8, "frames", torch.device("cpu"))
    b = training_batches(CFG, 8, "frames", torch.device("cpu"))
    assert torch.equal(a(3).frames, b(3).frames) and not torch.equal(a(3).frames, a(4).frames)
    plain = JinTrainConfig(**{**CFG.as_dict(), "augment": False})
    batch = training_batches(plain, 32, "frames", torch.device("cpu"))(0)
    rendered = render_scenes(plain.scenes(), 32, derive_seed(plain.seed, "frames", 0))
    forward = [torch.equal(f, r) for f, r in zip(batch.frames, rendered.frames, strict=True)]
    backward = [torch.equal(f, r.flip(0)) for f, r in zip(batch.frames, rendered.frames, strict=True)]
    assert all(f or b for f, b in zip(forward, backward, strict=True))
    assert 4 < sum(backward) < 28  # about half the sequences come reversed
    assert torch.equal(batch.blur, rendered.blur)


@pytest.fixture(scope="module")
def middle_state(tmp_path_factory):
    torch.manual_seed(0)
    cascade = JinCascade(CFG.jin_config())
    before = [p.clone() for p in cascade.middle.parameters()]
    train_middle(cascade, CFG, torch.device("cpu"), tmp_path_factory.mktemp("ckpt"), progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, cascade.middle.parameters(), strict=True))
    return cascade.middle.state_dict()


@pytest.mark.parametrize("variant", list(JIN_VARIANTS))
def test_each_variant_trains_only_the_non_middle_networks(variant, middle_state, tmp_path):
    torch.manual_seed(0)
    cascade = JinCascade(CFG.jin_config())
    cascade.middle.load_state_dict(middle_state)
    middle_before = {k: v.clone() for k, v in cascade.middle.state_dict().items()}
    net3_before = [p.clone() for p in cascade.net3.parameters()]
    ordering = MotionDirectionOrder(max_shift=4) if JIN_VARIANTS[variant].loss in NEEDS_ORDERING else None
    history = train_frames(cascade, variant, CFG, torch.device("cpu"), tmp_path, progress=False, hypercut=ordering)
    assert history and all(torch.isfinite(torch.tensor(h["loss"])) for h in history)
    for k, v in cascade.middle.state_dict().items():
        assert torch.equal(v, middle_before[k]), f"{variant} changed the frozen middle network ({k})"
    assert any(not torch.equal(a, b) for a, b in zip(net3_before, cascade.net3.parameters(), strict=True))
    blur = torch.rand(3, 3, 20, 20)
    frames = predict_frames(cascade, variant, blur)
    assert frames.shape == (3, 7, 3, 20, 20)
    assert torch.allclose(frames[:, 3], cascade.middle(blur).clamp(0, 1))
    scores = evaluate_frames(frames, torch.rand(3, 7, 3, 20, 20))
    assert len(scores["ppsnr_sequence"]) == 7


def test_teacher_forcing_feeds_the_ground_truth_middle():
    cascade = JinCascade(CFG.jin_config())
    blur, gt = torch.rand(2, 3, 20, 20), torch.rand(2, 3, 20, 20)
    fed = predict_frames(cascade, "teacher_forcing", blur, middle="ground_truth", gt_middle=gt)
    est = predict_frames(cascade, "teacher_forcing", blur)
    assert torch.allclose(fed[:, 3], gt) and not torch.allclose(fed[:, 2], est[:, 2])
    with pytest.raises(ValueError, match="gt_middle"):
        predict_frames(cascade, "teacher_forcing", blur, middle="ground_truth")


def test_adversarial_step_updates_the_discriminator_and_not_through_it(tmp_path):
    cfg = JinTrainConfig(**{**CFG.as_dict(), "adv_weight": 0.1})
    cascade = JinCascade(cfg.jin_config())
    history = train_frames(cascade, "teacher_forcing", cfg, torch.device("cpu"), tmp_path, progress=False)
    assert any("adversarial" in h for h in history)
    # the discriminator's optimiser state travels with the checkpoint, so a resumed run continues it
    paths = sorted(tmp_path.glob("*.pt"))
    assert len(paths) == 2  # step 2 (core) and step 3 (outer)
    for path in paths:
        state = load_checkpoint(path)
        steps = CFG.steps_core if state["config"]["step"] == "core" else CFG.steps_outer
        extra = state["extra"]["discriminator_optimizer"]
        assert extra["state"] and all(int(s["step"]) == steps for s in extra["state"].values())


def test_pair_and_sequential_share_step_2_and_differ_only_after(middle_state, tmp_path):
    cascades = {}
    for variant in ("pair", "sequential"):
        torch.manual_seed(0)
        cascades[variant] = JinCascade(CFG.jin_config())
        cascades[variant].middle.load_state_dict(middle_state)
        train_frames(cascades[variant], variant, CFG, torch.device("cpu"), tmp_path, progress=False)
    cores = sorted(p.name for p in tmp_path.glob("jin_core_*.pt"))
    assert len(cores) == 1 and cores[0].startswith("jin_core_pair_estimated")
    for net in ("net3", "net5"):
        for a, b in zip(getattr(cascades["pair"], net).parameters(), getattr(cascades["sequential"], net).parameters(),
                        strict=True):
            assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(cascades["pair"].net26.parameters(),
                                                      cascades["sequential"].net26.parameters(), strict=True))


def test_hypercut_variant_trains_against_the_canonical_order(middle_state, tmp_path):
    """Per-frame MSE against the ordering's canonical sequences: a stage-2 step's loss equals the
    MSE of (x3, x5) against the canonical targets, not against the data's order."""
    from blur2vid.train_jin import _FrameNets, _stage_loss

    order = MotionDirectionOrder(max_shift=4)
    with pytest.raises(ValueError, match="ordering network"):
        train_frames(JinCascade(CFG.jin_config()), "hypercut_order", CFG, torch.device("cpu"))
    cascade = JinCascade(CFG.jin_config())
    batch = training_batches(CFG, 8, "frames", torch.device("cpu"))(0)
    module = _FrameNets(cascade, ["net3", "net5"], False, 8)
    loss, logs = _stage_loss(cascade, JIN_VARIANTS["hypercut_order"], "core", module, None, CFG, batch, order)
    canonical, flipped = canonical_order(batch.frames, order)
    x3, x5 = cascade.predict_3_5(batch.blur, batch.frames[:, 3])
    expected = ((x3 - canonical[:, 2]) ** 2).mean() + ((x5 - canonical[:, 4]) ** 2).mean()
    torch.testing.assert_close(loss, expected)
    assert logs["flipped"] == flipped.float().mean().item()
    assert 0 < logs["flipped"] < 1  # some sequences reversed, some kept: the targets are not the data's order
    naive, _ = _stage_loss(cascade, JIN_VARIANTS["naive_order"], "core", module, None, CFG, batch)
    torch.testing.assert_close(naive, ((x3 - batch.frames[:, 2]) ** 2).mean() + ((x5 - batch.frames[:, 4]) ** 2).mean())


@pytest.mark.parametrize("variant", list(JIN_VARIANTS))
def test_table1_renders_every_variant(variant):
    df = table1(CFG, variant)
    assert df.loc[1, "loss"].startswith("L_middle") and all(df["loss"].str.len() > 0)
    if JIN_VARIANTS[variant].loss == "table1_reg":
        assert "softplus" in df.loc[2, "loss"] and "softplus" in df.loc[3, "loss"]


def test_table1_is_rendered_from_the_training_config():
    df = table1(CFG)
    assert list(df.index) == [1, 2, 3]
    assert df.loc[1, "steps"] == CFG.steps_middle and df.loc[2, "batch"] == CFG.batch_frames
    assert "ground truth" in df.loc[2, "inputs"]
    assert "L_adv" not in df.loc[2, "loss"]
    assert "L_adv" in table1(JinTrainConfig(adv_weight=0.01)).loc[3, "loss"]
    with pytest.raises(ValueError, match="'huge'"):
        JinTrainConfig(model="huge").jin_config()
    with pytest.raises(ValueError, match="'nonsense'"):
        train_frames(JinCascade(CFG.jin_config()), "nonsense", CFG, torch.device("cpu"))
