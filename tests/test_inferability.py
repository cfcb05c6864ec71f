"""The side-accuracy measure: a rule a network can read from the blur scores near 1, a side the blur
does not decide near 0.5, and a reader that learned nothing exactly 0.5."""

import pytest
import torch
import torch.nn.functional as F

from blur2vid.core.ordering import MotionDirectionOrder
from blur2vid.data.sample import Batch
from blur2vid.models.hypercut import HyperCUT, HyperCUTConfig
from blur2vid.training.inferability import (
    EndReader,
    SideReaderConfig,
    canonical_ends,
    ordering_identity,
    side_reads,
    side_scores,
    train_side_reader,
)
from blur2vid.training.loop import Workspace

SIZE = 20


pytestmark = pytest.mark.usefixtures("one_thread")


def pans(n: int, seed: int, size: int = SIZE, frames: int = 7) -> Batch:
    """A smooth random texture panned one pixel per frame to the left or the right (a coin per
    sequence), its blur the mean of the frames: a sequence and its reverse give the same blur."""
    g = torch.Generator().manual_seed(seed)
    tex = F.interpolate(torch.rand(n, 3, size // 4 + 1, (size + 8) // 4 + 1, generator=g), scale_factor=4,
                        mode="bilinear", align_corners=False)[..., :size, :size + 8]
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1, 1)
    seq = torch.stack([torch.stack([tex[i, ..., 4 + int(sign[i]) * (t - 3):4 + int(sign[i]) * (t - 3) + size]
                                    for t in range(frames)]) for i in range(n)])
    return Batch(blur=seq.mean(1), frames=seq)


class DataDirection(torch.nn.Module):
    """An "ordering" that keeps every sequence as the data gave it: a coin the blur cannot see."""

    def score(self, frames: torch.Tensor, pair: int = 1) -> torch.Tensor:
        return torch.ones(len(frames))


def _accuracy(ordering, steps=120) -> float:
    cfg = SideReaderConfig(steps=steps, batch=16, width=16, depth=3)
    reader, history = train_side_reader(ordering, cfg, Workspace(progress=False), batches=lambda s: pans(16, 1000 + s))
    assert history[-1]["l1"] < history[0]["l1"] or isinstance(ordering, DataDirection)
    return float(side_scores(reader, ordering, pans(128, 7)).mean())


def test_a_side_the_blur_shows_is_read():
    # "the content moves right" on horizontal pans: the blur shows the axis, the rule names the end
    assert _accuracy(MotionDirectionOrder(max_shift=3)) > 0.9


def test_a_side_the_blur_does_not_decide_is_a_coin():
    # the data's own random direction: the same blur either way, so no reader beats chance
    assert abs(_accuracy(DataDirection()) - 0.5) < 0.15


def test_an_untrained_reader_ties_and_scores_one_half():
    test = pans(8, 3)
    reader = EndReader(3, 8, 2)
    scores = side_scores(reader, MotionDirectionOrder(max_shift=3), test)
    assert (scores == 0.5).all()


def test_side_reads_counts_the_nearer_direction():
    ends = torch.rand(3, 2, 3, 4, 4)
    pred = torch.stack([ends[0], ends[1].flip(0), (ends[2, 0] + ends[2, 1]).div(2).expand(2, 3, 4, 4)])
    assert side_reads(pred, ends).tolist() == [1.0, 0.0, 0.5]
    with pytest.raises(ValueError, match=r"\[B, 2, C, H, W\]"):
        side_reads(pred[:, :1], ends[:, :1])


def test_canonical_ends_follow_the_ordering_and_not_the_data_direction():
    batch = pans(6, 5)
    rule = MotionDirectionOrder(max_shift=3)
    ends = canonical_ends(batch.frames, rule)
    assert torch.equal(ends, canonical_ends(batch.frames.flip(1), rule))  # a sequence and its reverse agree
    assert (rule.score(torch.stack([ends[:, 0], ends[:, 1]], 1)) > 0).all()


def test_the_reader_rejects_a_batch_of_frames():
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        EndReader()(torch.rand(2, 7, 3, 8, 8))


def test_an_ordering_is_identified_by_its_settings_or_its_weights():
    assert ordering_identity(MotionDirectionOrder(max_shift=3))["arch"] == "MotionDirectionOrder"
    net = HyperCUT(HyperCUTConfig(n_frames=7, channels=3, mode="pair", width=4, depth=1, dim=4, antisymmetric=True))
    first = ordering_identity(net)
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    assert ordering_identity(net) != first
