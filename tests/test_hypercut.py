import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from blur2vid.core.formation import add_noise
from blur2vid.core.ordering import (
    canonical_order,
    con_at_k,
    flip_fraction,
    fp32_score,
    hit_rate,
    order_stability,
    random_crop,
    random_shift,
)
from blur2vid.data.config import DataConfig
from blur2vid.data.scenes import SceneConfig, render_scenes
from blur2vid.losses import (
    hypercut_regulariser,
    nested_consistency_loss,
    ordering_loss,
    standardize_scores,
)
from blur2vid.models.hypercut import LEAKY_SLOPE, HyperCUT, HyperCUTConfig, Hyperplane, OrderEmbedding
from blur2vid.training.hyperplane import HyperCUTTrainConfig, ordering_batches, train_ordering
from blur2vid.training.loop import Workspace, load_checkpoint

TINY = dict(width=4, depth=1, dim=8)


def _net(seed: int = 0, **kw) -> HyperCUT:
    torch.manual_seed(seed)
    return HyperCUT(HyperCUTConfig(**{**TINY, **kw}))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def scenes():
    return render_scenes(SceneConfig(height=16, width=16, n_frames=7, max_shift=4.0), 12, seed=3).frames


# ------------------------------------------------------------------------------------------------
# losses
# ------------------------------------------------------------------------------------------------


def test_ordering_loss_small_when_separated_large_when_on_one_side():
    fwd, rev = torch.tensor([5.0, -5.0]), torch.tensor([-5.0, 5.0])
    assert ordering_loss(fwd, rev) < 1e-6
    assert ordering_loss(fwd, fwd) > 24.0  # softplus(25)
    assert ordering_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(math.log(2))


def test_plain_ordering_loss_is_flat_at_the_hyperplane_and_normalised_one_is_scale_free():
    a = torch.zeros(4, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    ordering_loss(a, b).backward()
    assert torch.equal(a.grad, torch.zeros(4)) and torch.equal(b.grad, torch.zeros(4))  # the collapse trap
    fwd = torch.tensor([1.0, -2.0, 0.5, 3.0])
    rev = torch.tensor([-1.5, 1.0, 0.7, -2.0])
    centred = (fwd - torch.cat([fwd, rev]).mean(), rev - torch.cat([fwd, rev]).mean())
    small = ordering_loss(1e-2 * centred[0], 1e-2 * centred[1], normalize=True)
    big = ordering_loss(1e2 * centred[0], 1e2 * centred[1], normalize=True)
    assert small.item() == pytest.approx(big.item(), rel=1e-4)
    sep = ordering_loss(torch.tensor([1.0, -1.0]), torch.tensor([-1.0, 1.0]), normalize=True, temperature=4.0)
    same = ordering_loss(torch.tensor([1.0, -1.0]), torch.tensor([1.0, -1.0]), normalize=True, temperature=4.0)
    assert sep < 0.05 < 3.0 < same
    z_f, z_r, offset = standardize_scores(fwd + 10, rev + 10)
    assert offset.item() == pytest.approx((torch.cat([fwd, rev]).mean() + 10).item() ** 2, rel=1e-5)
    assert torch.cat([z_f, z_r]).mean().abs() < 1e-6


def test_nested_consistency_loss():
    assert nested_consistency_loss(torch.tensor([5.0, -5.0]), torch.tensor([4.0, -4.0])) < 1e-6
    assert nested_consistency_loss(torch.tensor([5.0, -5.0]), torch.tensor([-4.0, 4.0])) > 19.0


class _Scripted(nn.Module):
    """A stand-in hypercut: the score of a sequence (or of its pair k) is the value of its first
    frame (of x_k), so reversing a sequence reads its last frame (x_{T+1-k})."""

    def __init__(self, mode: str = "pair"):
        super().__init__()
        self.mode = mode

    def score(self, frames, pair: int = 1):
        return frames[:, pair - 1].flatten(1)[:, 0]

    def pair_scores(self, frames):
        return frames[:, : frames.shape[1] // 2].flatten(2)[:, :, 0]


def _scripted_frames(values) -> torch.Tensor:
    """``[B, T]`` values -> frames ``[B, T, 1, 2, 2]`` constant per frame."""
    v = torch.as_tensor(values, dtype=torch.float32)
    return v[:, :, None, None, None].expand(*v.shape, 1, 2, 2).clone()


def test_regulariser_sign_convention_and_pair_sum():
    fake = _Scripted("pair")
    positive = _scripted_frames([[3.0, 3.0, 3.0, 0.0, -1.0, -1.0, -1.0]])
    negative = _scripted_frames([[-3.0, -3.0, -3.0, 0.0, 1.0, 1.0, 1.0]])
    assert hypercut_regulariser(fake, positive) < 0.2 * 3 * 0.05
    assert hypercut_regulariser(fake, negative).item() == pytest.approx(0.2 * 3 * math.log1p(math.exp(3.0)))
    # side=-1 is the public code's softplus(+h)
    assert hypercut_regulariser(fake, positive, side=-1).item() == pytest.approx(0.2 * 3 * math.log1p(math.exp(3.0)))
    # the outermost pair alone: the pair that decides the canonical order
    assert hypercut_regulariser(fake, negative, pairs="outer").item() == pytest.approx(0.2 * math.log1p(math.exp(3.0)))
    with pytest.raises(ValueError, match="pairs"):
        hypercut_regulariser(fake, negative, pairs="inner")
    pred = negative.clone().requires_grad_(True)
    hypercut_regulariser(fake, pred).backward()
    assert pred.grad.abs().sum() > 0


def test_regulariser_on_a_real_network_reaches_the_prediction_only(scenes):
    net = _net(mode="pair").requires_grad_(False)
    pred = scenes[:2].clone().requires_grad_(True)
    loss = hypercut_regulariser(net, pred)
    loss.backward()
    assert torch.isfinite(loss) and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


# ------------------------------------------------------------------------------------------------
# the network and its hyperplane
# ------------------------------------------------------------------------------------------------


def test_hyperplane_is_frozen_seeded_and_unit_norm():
    a, b, c = Hyperplane(16, seed=5), Hyperplane(16, seed=5), Hyperplane(16, seed=6)
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(a.normal, b.normal) and not torch.equal(a.normal, c.normal)
    assert a.normal.norm().item() == pytest.approx(1.0, abs=1e-6)
    assert list(a.parameters()) == [] and not a.normal.requires_grad
    net = _net(plane_bias=0.3)
    names = {n for n, _ in net.named_parameters()}
    assert not any(n.startswith("hyperplane") for n in names)
    assert {"hyperplane.normal", "hyperplane.bias"} <= set(net.state_dict())


def test_score_is_normal_dot_embedding_plus_bias(scenes):
    net = _net(mode="sequence", plane_bias=0.75)
    frames = scenes[:3]
    with torch.no_grad():
        emb = net.embedding(frames)
        by_hand = (emb * net.hyperplane.normal).sum(dim=1) + 0.75
        assert torch.allclose(net.score(frames), by_hand, atol=1e-6)
        # not the public code's w + b: that would be emb . (w + b)
        wrong = (emb * (net.hyperplane.normal + 0.75)).sum(dim=1)
        assert not torch.allclose(net.score(frames), wrong, atol=1e-3)


def test_embedding_is_not_linear():
    emb = OrderEmbedding(HyperCUTConfig(mode="pair", **TINY))
    assert all(m.negative_slope == LEAKY_SLOPE == 0.2 for m in emb.modules() if isinstance(m, nn.LeakyReLU))
    assert any(isinstance(m, nn.LeakyReLU) for m in emb.modules())
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 2, 3, 8, 8, generator=g), torch.randn(2, 2, 3, 8, 8, generator=g)
    with torch.no_grad():
        gap = emb(a + b) - (emb(a) + emb(b) - emb(torch.zeros_like(a)))
    assert gap.abs().max() > 1e-3


def test_modes_check_their_inputs(scenes):
    with pytest.raises(ValueError, match="sequence mode"):
        _net(mode="sequence").score(scenes[:, :5])
    with pytest.raises(ValueError, match="pair"):
        _net(mode="sequence").pair_scores(scenes)
    with pytest.raises(ValueError, match="mode"):
        HyperCUTConfig(mode="triple")


def test_pair_scores_match_single_pair_scores(scenes):
    net = _net(mode="pair")
    with torch.no_grad():
        all_pairs = net.pair_scores(scenes)
        assert all_pairs.shape == (len(scenes), 3)
        for k in (1, 2, 3):
            assert torch.allclose(all_pairs[:, k - 1], net.score(scenes, pair=k), atol=1e-5)


@pytest.mark.parametrize("mode", ["sequence", "pair"])
@pytest.mark.parametrize("seed", [1, 7])
def test_antisymmetric_embedding_is_exactly_odd_for_random_weights(scenes, mode, seed):
    """The construction itself: H(rev x) = -H(x) bit for bit, whatever the weights (and a generic
    embedding of the same weights is not odd, so the test can tell the two apart)."""
    net = _net(seed=seed, mode=mode, antisymmetric=True)
    with torch.no_grad():
        for p in net.parameters():  # weights far from any initialisation's symmetries
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + p.numel())))
        x = scenes if mode == "sequence" else scenes[:, [0, 6]]
        assert torch.equal(net.embedding(x.flip(1)), -net.embedding(x))
        assert torch.equal(net.score(scenes.flip(1)), -net.score(scenes))
        generic = _net(seed=seed, mode=mode)
        assert not torch.allclose(generic.embedding(x.flip(1)), -generic.embedding(x), atol=1e-4)


@pytest.mark.parametrize("mode", ["sequence", "pair"])
def test_canonical_order_is_idempotent_and_reverse_equivariant(scenes, mode):
    net = _net(seed=2, mode=mode, antisymmetric=True)
    canon, flipped = canonical_order(scenes, net)
    canon_rev, flipped_rev = canonical_order(scenes.flip(1), net)
    assert torch.equal(canon, canon_rev)
    assert torch.equal(flipped, ~flipped_rev)
    again, flipped_again = canonical_order(canon, net)
    assert torch.equal(again, canon) and not flipped_again.any()
    assert torch.equal(canon[~flipped], scenes[~flipped]) and torch.equal(canon[flipped], scenes[flipped].flip(1))
    assert (net.score(canon) >= 0).all()



def test_the_order_is_decided_in_fp32_inside_bf16_autocast(scenes):
    """Training at bf16 runs the frozen ordering network under autocast: its decision (which way a
    sequence plays, the regulariser's side) is still the fp32 one, bit for bit."""
    net = _net(seed=4, mode="sequence")
    score = net.score(scenes)
    canon, flipped = canonical_order(scenes, net)
    reg = hypercut_regulariser(net, scenes)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not torch.equal(net.score(scenes).float(), score)  # what autocast alone would decide on
        assert torch.equal(fp32_score(net, scenes), score)
        canon_bf16, flipped_bf16 = canonical_order(scenes, net)
        reg_bf16 = hypercut_regulariser(net, scenes.bfloat16())
    assert torch.equal(flipped_bf16, flipped) and torch.equal(canon_bf16, canon)
    assert reg_bf16.dtype == torch.float32
    torch.testing.assert_close(reg_bf16, hypercut_regulariser(net, scenes.bfloat16().float()))
    assert reg_bf16.item() == pytest.approx(reg.item(), rel=1e-2)

def test_compare_rule_is_equivariant_for_a_generic_embedding(scenes):
    net = _net(seed=4, mode="pair")
    canon, _ = canonical_order(scenes, net, rule="compare")
    canon_rev, _ = canonical_order(scenes.flip(1), net, rule="compare")
    assert torch.equal(canon, canon_rev)
    assert torch.equal(canonical_order(canon, net, rule="compare")[0], canon)


# ------------------------------------------------------------------------------------------------
# metrics, on scripted scores
# ------------------------------------------------------------------------------------------------


def test_metrics_on_scripted_scores():
    fake = _Scripted("pair")
    frames = _scripted_frames([
        [1.0, 2.0, 3.0, 0.0, -3.0, -2.0, -1.0],  # hit; pairs + + +    -> Con@2, Con@3
        [1.0, 2.0, -3.0, 0.0, 3.0, -2.0, -1.0],  # hit; pairs + + -    -> Con@2 only
        [-1.0, 2.0, 3.0, 0.0, 3.0, 2.0, 1.0],    # hit; pairs - + +    -> neither; flipped
        [1.0, 2.0, 3.0, 0.0, 3.0, 2.0, 1.0],     # miss (palindromic signs)
    ])
    assert hit_rate(fake, frames) == 0.75
    assert con_at_k(fake, frames, 2) == 0.75
    assert con_at_k(fake, frames, 3) == 0.5
    assert flip_fraction(fake, frames) == 0.25
    canon, flipped = canonical_order(frames, fake)
    assert flipped.tolist() == [False, False, True, False]
    assert torch.equal(canon[2], frames[2].flip(0))
    with pytest.raises(ValueError, match="k must be"):
        con_at_k(fake, frames, 4)
    # perturbations: a sign flip of every value moves every sequence across
    assert order_stability(fake, frames, lambda f: f) == 1.0
    assert order_stability(fake, frames, lambda f: -f) == 0.0


def test_perturbations_are_seeded_and_the_same_for_every_frame(scenes):
    crop = random_crop(scenes, 10, seed=1)
    assert crop.shape == (*scenes.shape[:3], 10, 10)
    assert torch.equal(crop, random_crop(scenes, 10, seed=1))
    assert not torch.equal(crop, random_crop(scenes, 10, seed=2))
    shifted = random_shift(scenes, 2, seed=0)
    assert shifted.shape == scenes.shape and torch.equal(shifted, random_shift(scenes, 2, seed=0))
    # a static sequence stays static: the same crop / shift for every frame
    static = scenes[:, :1].expand(-1, 7, -1, -1, -1)
    for out in (random_crop(static, 10, seed=3), random_shift(static, 3, seed=3)):
        assert torch.equal(out, out[:, :1].expand_as(out))
    noisy = add_noise(scenes, 0.01, torch.Generator().manual_seed(0), clamp=False)
    assert torch.equal(noisy, add_noise(scenes, 0.01, torch.Generator().manual_seed(0), clamp=False))
    assert (noisy - scenes).std().item() == pytest.approx(0.01, rel=0.05)


@pytest.mark.parametrize("k", [0, 1, 5, 12])
def test_order_stability_counts_the_sequences_that_change_side(scenes, k):
    """Reversing the first ``k`` of 12 sequences moves exactly those across an odd score's
    hyperplane: the stability is the fraction of the others."""
    net = _net(seed=1, mode="pair", antisymmetric=True)
    assert (net.score(scenes) != 0).all()

    def reverse_first_k(frames):
        return torch.cat([frames[:k].flip(1), frames[k:]])

    assert order_stability(net, scenes, reverse_first_k) == pytest.approx(1 - k / len(scenes))


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------


DATA = DataConfig(size=16, max_shift=4.0)
SMALL = dict(data=DATA, batch=16, width=8, depth=2, dim=16, mode="pair")
TINY_RUN = dict(SMALL, batch=2, width=4, depth=1, dim=8)
QUIET = Workspace(progress=False)


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    import blur2vid.training.hyperplane as th

    cfg = HyperCUTTrainConfig(**TINY_RUN, steps=4)
    straight = cfg.build()
    train_ordering(straight, cfg, QUIET)
    assert torch.equal(straight.hyperplane.normal, cfg.build().hyperplane.normal)  # never trained

    real = th.ordering_batches

    def interrupted(cfg_, device="cpu"):
        batch_at = real(cfg_, device)

        def at(step):
            if step == 3:
                raise KeyboardInterrupt
            return batch_at(step)

        return at

    ws = Workspace(tmp_path, progress=False)
    monkeypatch.setattr(th, "ordering_batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_ordering(cfg.build(), cfg, ws, checkpoint_every=2)
    (ckpt,) = tmp_path.glob("*.pt")
    assert load_checkpoint(ckpt)["step"] == 2
    monkeypatch.setattr(th, "ordering_batches", real)
    resumed = cfg.build()
    history = train_ordering(resumed, cfg, ws, checkpoint_every=2, log_every=1)
    assert [e["step"] for e in history] == [0, 2, 3]  # step 0 from the first run, log_every=10 there
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert list(tmp_path.glob("*.pt")) == [ckpt] and load_checkpoint(ckpt)["step"] == 4


def test_another_configuration_trains_anew_beside_the_first(tmp_path):
    """A run of another learning rate (or other data) gets its own checkpoint instead of resuming,
    or being refused by, the first; the same configuration again trains no step."""
    ws = Workspace(tmp_path, progress=False)
    cfg = HyperCUTTrainConfig(**TINY_RUN, steps=2)
    first = cfg.build()
    train_ordering(first, cfg, ws)
    (ckpt,) = tmp_path.glob("*.pt")
    other = replace(cfg, lr=1e-3)
    other_net = other.build()
    train_ordering(other_net, other, ws)
    assert len(list(tmp_path.glob("*.pt"))) == 2
    assert any(not torch.equal(a, b) for a, b in zip(first.parameters(), other_net.parameters(), strict=True))
    train_ordering(cfg.build(), replace(cfg, data=replace(DATA, max_shift=2.0)), ws)
    assert len(list(tmp_path.glob("*.pt"))) == 3
    before = ckpt.stat().st_mtime_ns
    again = cfg.build()
    train_ordering(again, cfg, ws)
    assert ckpt.stat().st_mtime_ns == before and len(list(tmp_path.glob("*.pt"))) == 3
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_small_antisymmetric_run_widens_its_margin():
    """40 Adamax steps on 16 x 16 scenes (lr 5e-3): the ordering loss falls from log 2 (scores at
    the hyperplane) and the mean |score|, the margin from the hyperplane, grows (measured: loss
    0.69 -> 0.014, |score| 1e-4 -> 12)."""
    cfg = HyperCUTTrainConfig(**{**SMALL, "batch": 8}, steps=40, lr=5e-3, antisymmetric=True)
    history = train_ordering(cfg.build(), cfg, QUIET, log_every=10)
    assert {"hit", "score_abs", "order_loss", "nested_loss", "con2", "con3"} <= set(history[0])
    assert history[-1]["score_abs"] > 100 * history[0]["score_abs"]
    assert history[-1]["order_loss"] < 0.25 * history[0]["order_loss"]


# ------------------------------------------------------------------------------------------------
# the hand-made reference order and the crop-consistency term (ours, beyond the paper)
# ------------------------------------------------------------------------------------------------


def _moving_texture(dx: int, dy: int, n: int = 7, size: int = 20, seed: int = 0) -> torch.Tensor:
    """A random smooth texture translated by ``(dx, dy)`` pixels per frame: ``[1, n, 3, size, size]``."""
    g = torch.Generator().manual_seed(seed)
    big = torch.nn.functional.avg_pool2d(torch.rand(1, 3, size + 40, size + 40, generator=g), 5, 1, 2)
    frames = [big[0, :, 20 - k * dy:20 - k * dy + size, 20 - k * dx:20 - k * dx + size] for k in range(n)]
    return torch.stack(frames).unsqueeze(0)


def test_motion_direction_order_follows_the_motion_not_the_content():
    from blur2vid.core.ordering import MotionDirectionOrder

    right = MotionDirectionOrder()
    down = MotionDirectionOrder(direction=(0, 1))
    for seed in range(4):
        to_right, to_left = _moving_texture(1, 0, seed=seed), _moving_texture(-1, 0, seed=seed)
        assert right.score(to_right).item() > 0 > right.score(to_left).item()
        assert right.score(to_right).item() == -right.score(to_right.flip(1)).item()  # exactly odd
        assert down.score(_moving_texture(0, 1, seed=seed)).item() > 0
        # every symmetric pair agrees (Con@3) and a crop keeps the side
        assert (right.pair_scores(to_right) > 0).all()
        assert right.score(to_right[..., 3:15, 5:17]).item() > 0
    assert hit_rate(right, _moving_texture(1, 1)) == 1.0
    with pytest.raises(ValueError, match="direction"):
        MotionDirectionOrder(direction=(0, 0))


def test_crop_consistency_term():
    from blur2vid.core.ordering import MotionDirectionOrder
    from blur2vid.core.tensors import apply_crop_boxes
    from blur2vid.training.hyperplane import crop_boxes, crop_consistency_loss, ordering_step_loss

    frames = torch.cat([_moving_texture(1, 0, seed=s) for s in range(3)])
    boxes = crop_boxes(frames.shape, 0.75, seed=5)
    assert boxes == crop_boxes(frames.shape, 0.75, seed=5) and boxes != crop_boxes(frames.shape, 0.75, seed=6)
    assert all(h == w == 15 and 0 <= t <= 5 and 0 <= x <= 5 for t, x, h, w in boxes)
    crops = apply_crop_boxes(frames, boxes)
    t, x, h, w = boxes[1]
    assert torch.equal(crops[1], frames[1, ..., t:t + h, x:x + w])
    order = MotionDirectionOrder()
    whole = order.score(frames)
    agree = crop_consistency_loss(order, frames, boxes, whole)
    disagree = crop_consistency_loss(order, frames, boxes, -whole)
    assert agree < math.log(2) < disagree  # softplus(-p): below log 2 exactly when the sides agree
    with pytest.raises(ValueError, match="crop boxes"):
        ordering_step_loss(_net(mode="pair", antisymmetric=True), frames, crop_weight=1.0)


def test_crop_consistency_training_logs_the_term_and_resumes_the_same_crops():
    cfg = HyperCUTTrainConfig(**TINY_RUN, steps=3, antisymmetric=True, crop_weight=1.0)
    a, b = ordering_batches(cfg)(1), ordering_batches(cfg)(1)
    assert a.meta["crop_boxes"] == b.meta["crop_boxes"]
    history = train_ordering(cfg.build(), cfg, QUIET, log_every=1)
    assert all("crop_loss" in e for e in history)
    assert "crop_boxes" not in ordering_batches(HyperCUTTrainConfig(**SMALL))(0).meta


def test_read_loss_pulls_the_ordering_toward_the_side_the_reader_reads():
    from blur2vid.core.ordering import MotionDirectionOrder
    from blur2vid.training.hyperplane import read_loss
    from blur2vid.training.inferability import EndReader

    frames = torch.cat([_moving_texture(1, 0, seed=s) for s in range(4)])
    blur = frames.mean(1)
    order = MotionDirectionOrder()
    reader = EndReader(3, 4, 1)  # its head starts at zero: it predicts the blur for both ends, a tie
    reader_loss, agreement, logs = read_loss(order, reader, frames, blur)
    assert agreement == 0 and logs["read_agree"] == 0  # a reader that reads nothing pulls nowhere
    assert reader_loss > 0

    class Oracle(torch.nn.Module):  # "reads" the first and last frame of the data's own direction
        def forward(self, b):
            return frames[:, [0, frames.shape[1] - 1]]

    class Flipped(torch.nn.Module):
        def score(self, f, pair=1):
            return -order.score(f)

    _, agree, logs = read_loss(order, Oracle(), frames, blur)
    _, disagree, flipped_logs = read_loss(Flipped(), Oracle(), frames, blur)
    scores = order.score(frames)
    assert (scores > 0).all()  # the texture moves right: the rule keeps the data's direction
    assert logs["read_agree"] == 1 and flipped_logs["read_agree"] == 0
    assert agree < math.log(2) < disagree


def test_read_loss_gives_the_reader_no_gradient_path_into_the_ordering_targets():
    from blur2vid.training.hyperplane import read_loss
    from blur2vid.training.inferability import EndReader

    net = _net(mode="pair", antisymmetric=True)
    frames = torch.cat([_moving_texture(1, 0, seed=s) for s in range(2)])
    reader = EndReader(3, 4, 1)
    reader_loss, _, _ = read_loss(net, reader, frames, frames.mean(1))
    reader_loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in net.parameters())
    assert any(p.grad is not None and p.grad.any() for p in reader.parameters())


def test_readable_training_logs_its_term_and_leaves_the_keys_of_other_runs_alone(tmp_path):
    from blur2vid.training.loop import run_config

    plain_cfg = HyperCUTTrainConfig(**TINY_RUN, steps=2, antisymmetric=True)
    ws = Workspace(checkpoints=tmp_path, progress=False)
    train_ordering(plain_cfg.build(), plain_cfg, ws)
    (saved,) = tmp_path.glob("hypercut-*.pt")
    assert "read_weight" not in torch.load(saved, weights_only=False)["config"]["config"]
    assert "read_weight" in run_config(plain_cfg)["config"]  # dropped by train_ordering only
    cfg = HyperCUTTrainConfig(**TINY_RUN, steps=3, antisymmetric=True, read_weight=1.0, reader_width=4,
                              reader_depth=1)
    net = cfg.build()
    history = train_ordering(net, cfg, ws, log_every=1)
    assert all("reader_loss" in e and "read_agree" in e for e in history)
    assert len(list(tmp_path.glob("hypercut-*.pt"))) == 2
    again = cfg.build()
    train_ordering(again, cfg, ws)  # finished: loaded from its checkpoint, the reader with it
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match="read_weight"):
        HyperCUTTrainConfig(read_weight=-1.0)
