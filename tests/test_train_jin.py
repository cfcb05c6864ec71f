import shutil
from dataclasses import replace

import pytest
import torch
from torch import nn

import blur2vid.training.cascade as tj
from blur2vid.core.ordering import MotionDirectionOrder
from blur2vid.core.seeding import derive_seed
from blur2vid.data.config import DataConfig
from blur2vid.data.sample import Batch
from blur2vid.data.scenes import render_scenes
from blur2vid.experiments.jin_losses import table1
from blur2vid.models.blocks import count_parameters
from blur2vid.models.hypercut import HyperCUT, HyperCUTConfig
from blur2vid.models.jin import JinCascade
from blur2vid.training.cascade import (
    JIN_VARIANTS,
    JinTrainConfig,
    jin_variant,
    predict_variant,
    train_frames,
    train_middle,
    training_batches,
)
from blur2vid.training.loop import Workspace, load_checkpoint, weights_digest

DATA = DataConfig(size=16, max_shift=4.0)
CFG = JinTrainConfig(data=DATA, model="smoke", batch_middle=2, batch_frames=2, steps_middle=2, steps_core=2,
                     steps_outer=2, steps_joint=None)
CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def _ws(folder) -> Workspace:
    return Workspace(folder, CPU, progress=False)


def _files(folder) -> dict[str, int]:
    """The checkpoints of a folder, with the time each was last written."""
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.pt")}


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.fixture
def requested(monkeypatch):
    """The ``(stream, step)`` of every batch that training asks :func:`training_batches` for."""
    calls: list[tuple[str, int]] = []
    real = tj.training_batches

    def counting(cfg, batch_size, stream, device):
        batch_at = real(cfg, batch_size, stream, device)

        def at(step):
            calls.append((stream, step))
            return batch_at(step)

        return at

    monkeypatch.setattr(tj, "training_batches", counting)
    return calls


def test_every_variant_sees_the_same_batches_and_random_directions():
    a = training_batches(CFG, 8, "frames", CPU)
    b = training_batches(CFG, 8, "frames", CPU)
    assert torch.equal(a(3).frames, b(3).frames) and not torch.equal(a(3).frames, a(4).frames)
    plain = replace(CFG, augment=False)
    batch = training_batches(plain, 32, "frames", CPU)(0)
    rendered = render_scenes(plain.scenes(), 32, derive_seed(plain.seed, "frames", 0))
    forward = [torch.equal(f, r) for f, r in zip(batch.frames, rendered.frames, strict=True)]
    backward = [torch.equal(f, r.flip(0)) for f, r in zip(batch.frames, rendered.frames, strict=True)]
    assert all(f or b for f, b in zip(forward, backward, strict=True))
    assert 4 < sum(backward) < 28  # about half the sequences come reversed
    assert torch.equal(batch.blur, rendered.blur)


@pytest.fixture(scope="module")
def middle_run(tmp_path_factory):
    """The middle network trained once: its weights, and the folder holding its checkpoint."""
    folder = tmp_path_factory.mktemp("middle")
    torch.manual_seed(0)
    cascade = JinCascade(CFG.jin_config())
    before = [p.clone() for p in cascade.middle.parameters()]
    train_middle(cascade, CFG, _ws(folder))
    assert any(not torch.equal(a, b) for a, b in zip(before, cascade.middle.parameters(), strict=True))
    return cascade.middle.state_dict(), folder


@pytest.fixture
def middle_state(middle_run):
    return middle_run[0]


@pytest.fixture
def middle_folder(middle_run, tmp_path):
    """A copy of the folder of the trained middle network's checkpoint, for a test to add to."""
    return shutil.copytree(middle_run[1], tmp_path / "ckpt")


def test_a_finished_middle_run_resumes_without_training(middle_state, middle_folder, requested):
    torch.manual_seed(1)  # other initial weights: what comes back is the checkpoint's
    cascade = JinCascade(CFG.jin_config())
    assert not all(torch.equal(v, middle_state[k]) for k, v in cascade.middle.state_dict().items())
    before = _files(middle_folder)
    train_middle(cascade, CFG, _ws(middle_folder))
    assert requested == []  # not one batch drawn: no step trained
    assert _files(middle_folder) == before
    for k, v in cascade.middle.state_dict().items():
        assert torch.equal(v, middle_state[k])


def test_the_middle_run_ignores_the_later_steps_settings_only(middle_state, middle_folder, requested):
    """Configurations that differ only in what step 1 does not use (MIDDLE_UNUSED) share one middle
    network; a learning rate, a seed or other data make another run."""
    before = _files(middle_folder)
    later = replace(CFG, steps_core=5, steps_outer=7, adv_weight=0.1, batch_frames=3)
    cascade = JinCascade(later.jin_config())
    train_middle(cascade, later, _ws(middle_folder))
    assert requested == [] and _files(middle_folder) == before
    assert all(torch.equal(v, middle_state[k]) for k, v in cascade.middle.state_dict().items())
    for other in (replace(CFG, lr=2e-3), replace(CFG, seed=1), replace(CFG, data=replace(DATA, max_shift=2.0))):
        requested.clear()
        count = len(_files(middle_folder))
        train_middle(JinCascade(other.jin_config()), other, _ws(middle_folder))
        assert [step for _, step in requested] == [0, 1]
        assert len(_files(middle_folder)) == count + 1


@pytest.mark.parametrize("variant", list(JIN_VARIANTS))
def test_each_variant_trains_the_networks_and_budget_of_table1(variant, middle_state, tmp_path):
    """Every variant leaves the middle network as it was, trains the non-middle networks, predicts
    the middle frame with the middle network, and trains for the steps and on the networks that its
    Table 1 (experiments.jin_losses.table1) lists."""
    torch.manual_seed(0)
    cascade = JinCascade(CFG.jin_config())
    cascade.middle.load_state_dict(middle_state)
    middle_before = {k: v.clone() for k, v in cascade.middle.state_dict().items()}
    net3_before = [p.clone() for p in cascade.net3.parameters()]
    ordering = MotionDirectionOrder(max_shift=4) if jin_variant(variant).needs_ordering else None
    history = train_frames(cascade, variant, CFG, _ws(tmp_path), ordering=ordering)
    assert history and all(torch.isfinite(torch.tensor(h["loss"])) for h in history)
    for k, v in cascade.middle.state_dict().items():
        assert torch.equal(v, middle_before[k]), f"{variant} changed the frozen middle network ({k})"
    assert any(not torch.equal(a, b) for a, b in zip(net3_before, cascade.net3.parameters(), strict=True))
    blur = torch.rand(3, 3, 16, 16)
    frames = predict_variant(cascade, variant, blur)
    assert torch.allclose(frames[:, 3], cascade.middle(blur).clamp(0, 1))

    trained = {}  # stage -> steps trained (the last step is always logged)
    for h in history:
        trained[h["stage"]] = max(trained.get(h["stage"], 0), h["step"] + 1)
    table = table1(CFG, variant)
    assert table.loc[2, "steps"] == trained.get("core", 0)
    assert table.loc[3, "steps"] == trained.get("outer", trained.get("joint"))
    assert table.loc[1, "parameters"] == count_parameters(cascade.middle)
    assert table.loc[2, "parameters"] == count_parameters(nn.ModuleList([cascade.net3, cascade.net5]))
    assert table.loc[3, "parameters"] == count_parameters(nn.ModuleList([cascade.net26, cascade.net17]))
    assert table.attrs["total_parameters"] == count_parameters(cascade)


def test_table1_reports_the_middle_steps_trained(requested, tmp_path):
    train_middle(JinCascade(CFG.jin_config()), CFG, _ws(tmp_path))
    assert len(requested) == table1(CFG).loc[1, "steps"]
    assert {stream for stream, _ in requested} == {"middle"}


def test_teacher_forcing_feeds_the_ground_truth_middle():
    cascade = JinCascade(CFG.jin_config())
    blur, gt = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    fed = predict_variant(cascade, "teacher_forcing", blur, middle="ground_truth", gt_middle=gt)
    est = predict_variant(cascade, "teacher_forcing", blur)
    assert torch.allclose(fed[:, 3], gt) and not torch.allclose(fed[:, 2], est[:, 2])
    with pytest.raises(ValueError, match="gt_middle"):
        predict_variant(cascade, "teacher_forcing", blur, middle="ground_truth")


def test_adversarial_step_updates_the_discriminator_and_not_through_it(tmp_path):
    cfg = replace(CFG, adv_weight=0.1)
    cascade = JinCascade(cfg.jin_config())
    history = train_frames(cascade, "teacher_forcing", cfg, _ws(tmp_path))
    assert any("adversarial" in h for h in history)
    # the discriminator's optimiser state travels with the checkpoint, so a resumed run continues it
    paths = sorted(tmp_path.glob("*.pt"))
    assert len(paths) == 2  # step 2 (core) and step 3 (outer)
    for path in paths:
        state = load_checkpoint(path)
        steps = CFG.steps_core if state["config"]["step"] == "core" else CFG.steps_outer
        extra = state["extra"]["discriminator_optimizer"]
        assert extra["state"] and all(int(s["step"]) == steps for s in extra["state"].values())


def test_pair_and_sequential_share_step_2_and_differ_only_after(middle_state, tmp_path, requested):
    cascades = {}
    files = {}
    for variant in ("pair", "sequential"):
        torch.manual_seed(0)
        cascades[variant] = JinCascade(CFG.jin_config())
        cascades[variant].middle.load_state_dict(middle_state)
        requested.clear()
        train_frames(cascades[variant], variant, CFG, _ws(tmp_path))
        files[variant] = _files(tmp_path)
    # pair trains step 2 and its step 3; sequential reads step 2 back and trains only its own step 3
    assert len(files["pair"]) == 2
    assert files["sequential"].items() > files["pair"].items() and len(files["sequential"]) == 3
    outer = list(range(CFG.steps_core, CFG.steps_core + CFG.steps_outer))
    assert requested == [("frames", s) for s in outer]
    for net in ("net3", "net5"):
        assert _same_weights(getattr(cascades["pair"], net), getattr(cascades["sequential"], net))
    assert not _same_weights(cascades["pair"].net26, cascades["sequential"].net26)
    # their step 2 sees the middle network's estimate: another middle network trains it anew
    other = JinCascade(CFG.jin_config())
    other.middle.load_state_dict(middle_state)
    with torch.no_grad():
        next(other.middle.parameters()).add_(0.01)
    requested.clear()
    train_frames(other, "sequential", CFG, _ws(tmp_path))
    assert len(_files(tmp_path)) == 5 and [s for _, s in requested] == list(range(CFG.steps_core)) + outer


def test_the_joint_budget_is_its_own_and_a_new_outer_budget_reuses_step_2(middle_state, tmp_path, requested):
    """``steps_joint`` sets the joint schemes' steps (the cpu profile gives them the 500 updates a
    staged network gets); step 2's key leaves out the step-3 budgets, so changing them retrains
    step 3 only."""
    joint = replace(CFG, steps_joint=3)
    cascade = JinCascade(joint.jin_config())
    cascade.middle.load_state_dict(middle_state)
    train_frames(cascade, "independent", joint, _ws(tmp_path / "joint"))
    assert [s for _, s in requested] == [0, 1, 2] and table1(joint, "independent").loc[3, "steps"] == 3
    assert table1(CFG, "independent").loc[3, "steps"] == CFG.steps_core + CFG.steps_outer  # the default
    for cfg in (CFG, replace(CFG, steps_outer=3, steps_joint=9)):
        cascade = JinCascade(cfg.jin_config())
        cascade.middle.load_state_dict(middle_state)
        requested.clear()
        train_frames(cascade, "pair", cfg, _ws(tmp_path / "staged"))
    assert requested == [("frames", s) for s in range(CFG.steps_core, CFG.steps_core + 3)]
    assert len(_files(tmp_path / "staged")) == 3  # one step 2, two step 3


def _ordering(seed: int) -> HyperCUT:
    torch.manual_seed(seed)
    return HyperCUT(HyperCUTConfig(n_frames=7, width=4, depth=1, dim=8, antisymmetric=True))


def test_the_ordering_network_is_part_of_the_frame_stages_key(tmp_path, requested):
    a, b = _ordering(0), _ordering(1)
    assert weights_digest(a) != weights_digest(b)
    ws = _ws(tmp_path)
    train_frames(JinCascade(CFG.jin_config()), "hypercut_order", CFG, ws, ordering=a)
    first = _files(tmp_path)
    assert len(first) == 2
    assert {load_checkpoint(tmp_path / name)["config"]["ordering"]["weights"] for name in first} == {weights_digest(a)}
    requested.clear()
    train_frames(JinCascade(CFG.jin_config()), "hypercut_order", CFG, ws, ordering=_ordering(0))  # same weights
    assert requested == [] and _files(tmp_path) == first
    train_frames(JinCascade(CFG.jin_config()), "hypercut_order", CFG, ws, ordering=b)
    assert len(_files(tmp_path)) == 4 and len(requested) == CFG.steps_core + CFG.steps_outer
    with pytest.raises(ValueError, match="ordering network"):
        train_frames(JinCascade(CFG.jin_config()), "hypercut_order", CFG, ws)


def test_hypercut_variant_trains_against_the_canonical_order(middle_state, monkeypatch):
    """With an exactly odd ordering, the canonical targets of a sequence and of its reverse are the
    same: HyperCUT's variant trains to the same weights, bit for bit, when every training sequence
    comes the other way round; the naive per-frame loss, trained on the data's order, does not."""
    real = tj.training_batches

    def cascade_after(variant: str, reverse: bool) -> JinCascade:
        def batches(cfg, batch_size, stream, device):
            batch_at = real(cfg, batch_size, stream, device)

            def at(step):
                batch = batch_at(step)
                return Batch(batch.blur, batch.frames.flip(1), batch.meta) if reverse else batch

            return at

        monkeypatch.setattr(tj, "training_batches", batches)
        torch.manual_seed(0)
        cascade = JinCascade(CFG.jin_config())
        cascade.middle.load_state_dict(middle_state)
        train_frames(cascade, variant, CFG, Workspace(progress=False), ordering=MotionDirectionOrder(max_shift=4))
        return cascade

    for variant in ("hypercut_order", "hand_made_order"):  # the oracle: the same, with the rule built inside
        as_given, reversed_ = cascade_after(variant, False), cascade_after(variant, True)
        for net in ("net3", "net5", "net26", "net17"):
            assert _same_weights(getattr(as_given, net), getattr(reversed_, net)), (variant, net)
    naive, naive_reversed = cascade_after("naive_order", False), cascade_after("naive_order", True)
    assert not _same_weights(naive.net3, naive_reversed.net3)


def test_table1_is_rendered_from_the_training_config():
    df = table1(CFG)
    assert list(df.index) == [1, 2, 3]
    assert df.loc[1, "steps"] == CFG.steps_middle and df.loc[2, "batch"] == CFG.batch_frames
    assert df.loc[1, "batch"] == CFG.batch_middle
    assert "ground truth" in df.loc[2, "inputs"] and "ground truth" not in table1(CFG, "pair").loc[2, "inputs"]
    assert "L_adv" not in df.loc[2, "loss"]
    assert "L_adv" in table1(replace(CFG, adv_weight=0.01)).loc[3, "loss"]
    with pytest.raises(ValueError, match="'huge'"):
        replace(CFG, model="huge")
    with pytest.raises(ValueError, match="7 frames"):
        replace(CFG, data=replace(DATA, n_frames=5))
    with pytest.raises(ValueError, match="'nonsense'"):
        train_frames(JinCascade(CFG.jin_config()), "nonsense", CFG)


def test_the_networks_sizes_are_part_of_every_key(middle_state, tmp_path, requested):
    """A preset's contents decide its runs, not only its name: another normalisation (the same
    parameter shapes) trains anew instead of loading the other network's checkpoint, and so does a
    frame-network size change in steps 2-3, while the middle network it leaves alone is shared."""
    ws = _ws(tmp_path)
    train_middle(JinCascade(CFG.jin_config()), CFG, ws)
    first = _files(tmp_path)
    requested.clear()
    layer = JinTrainConfig(**{**CFG.__dict__})
    object.__setattr__(layer, "jin_config", lambda: replace(CFG.jin_config(), norm="layer"))
    train_middle(JinCascade(layer.jin_config()), layer, ws)
    assert len(requested) == CFG.steps_middle and len(_files(tmp_path)) == len(first) + 1
    wider = JinTrainConfig(**{**CFG.__dict__})
    object.__setattr__(wider, "jin_config", lambda: replace(CFG.jin_config(), frame_ref_features=8))
    requested.clear()
    train_middle(JinCascade(wider.jin_config()), wider, ws)
    assert requested == []  # the middle network does not depend on the frame networks' sizes
    names = {}
    for cfg in (CFG, wider):
        requested.clear()
        cascade = JinCascade(cfg.jin_config())
        cascade.middle.load_state_dict(middle_state)
        train_frames(cascade, "naive_order", cfg, ws)
        names[cfg is CFG] = len(requested)
    assert names == {True: CFG.steps_core + CFG.steps_outer, False: CFG.steps_core + CFG.steps_outer}


def test_the_core_warmup_chooses_the_order_per_image_for_the_first_steps_of_eq5_cores(middle_state, monkeypatch):
    """``core_warmup``: the first steps of step 2 of the schemes whose core is Eq. 5 train with the
    per-image best-order MSE, the rest with Eq. 5; a per-frame core never; 0 is the paper's."""
    calls = []
    real_best, real_seq = tj.best_order_pair_loss, tj.sequential_loss
    monkeypatch.setattr(tj, "best_order_pair_loss", lambda *a: calls.append("best") or real_best(*a))
    monkeypatch.setattr(tj, "sequential_loss", lambda preds, *a, **k: (calls.append("eq5") if "2_6" not in preds
                                                                      else None) or real_seq(preds, *a, **k))
    cfg = replace(CFG, steps_core=8, steps_outer=1, core_warmup=0.25)
    for variant, expected in (("teacher_forcing", ["best"] * 2 + ["eq5"] * 6), ("naive_order", [])):
        calls.clear()
        cascade = JinCascade(cfg.jin_config())
        cascade.middle.load_state_dict(middle_state)
        train_frames(cascade, variant, cfg, Workspace(progress=False))
        assert calls == expected, variant
    calls.clear()
    cascade = JinCascade(cfg.jin_config())
    cascade.middle.load_state_dict(middle_state)
    train_frames(cascade, "teacher_forcing", replace(cfg, core_warmup=0.0), Workspace(progress=False))
    assert calls == ["eq5"] * 8
    with pytest.raises(ValueError, match="core_warmup"):
        replace(CFG, core_warmup=1.0)
