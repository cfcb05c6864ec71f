"""The shared tensor helpers (blur2vid.core.tensors)."""

import pytest
import torch

from blur2vid.core.tensors import apply_crop_boxes, batched, crop_boxes, reverse_where


def _seq(b=4, t=5, c=2, h=9, w=11):
    return torch.rand(b, t, c, h, w, generator=torch.Generator().manual_seed(0))


def test_reverse_where_reverses_exactly_the_masked_sequences():
    x = _seq()
    mask = torch.tensor([True, False, False, True])
    out = reverse_where(x, mask)
    for i in range(len(x)):
        assert torch.equal(out[i], x[i].flip(0) if mask[i] else x[i])
    assert torch.equal(reverse_where(out, mask), x)  # an involution
    assert torch.equal(reverse_where(x, torch.zeros(4, dtype=torch.bool)), x)
    assert torch.equal(reverse_where(x, torch.tensor([1, 0, 0, 1])), out)  # 0/1 masks are read as bool
    # any trailing shape: [B, T] too
    seq = torch.arange(6.0).reshape(2, 3)
    assert reverse_where(seq, torch.tensor([False, True])).tolist() == [[0, 1, 2], [5, 4, 3]]
    with pytest.raises(ValueError, match=r"mask must have shape \[4\], got \(3,\)"):
        reverse_where(x, torch.ones(3, dtype=torch.bool))


def test_crop_boxes_are_seeded_fit_and_cover_every_position():
    shape = (200, 5, 3, 10, 12)
    boxes = crop_boxes(shape, (4, 6), seed=3)
    assert boxes == crop_boxes(shape, (4, 6), seed=3) and boxes != crop_boxes(shape, (4, 6), seed=4)
    assert len(boxes) == 200 and all(h == 4 and w == 6 for _, _, h, w in boxes)
    assert {t for t, _, _, _ in boxes} == set(range(10 - 4 + 1))  # every top that fits, nothing else
    assert {x for _, x, _, _ in boxes} == set(range(12 - 6 + 1))
    assert crop_boxes(shape, 7, seed=0)[0][2:] == (7, 7)
    assert all(box == (0, 0, 10, 12) for box in crop_boxes(shape, (10, 12), seed=1))  # the whole frame


def test_crop_boxes_draw_all_tops_then_all_lefts():
    """The draw order is part of the contract: a caller that drew tops then lefts from the same
    seed (HyperCUT's crop-consistency term) gets the same boxes."""
    g = torch.Generator().manual_seed(11)
    tops = torch.randint(0, 10 - 3 + 1, (6,), generator=g).tolist()
    lefts = torch.randint(0, 12 - 5 + 1, (6,), generator=g).tolist()
    assert crop_boxes((6, 7, 3, 10, 12), (3, 5), seed=11) == [(t, x, 3, 5) for t, x in zip(tops, lefts, strict=True)]


def test_crop_boxes_refuse_a_box_that_does_not_fit():
    with pytest.raises(ValueError, match="crop 11x4 does not fit frames of 10x12"):
        crop_boxes((2, 5, 3, 10, 12), (11, 4), seed=0)
    with pytest.raises(ValueError, match="crop 0x0"):
        crop_boxes((2, 5, 3, 10, 12), 0, seed=0)


def test_apply_crop_boxes_cuts_each_sequence_at_its_box_in_every_frame():
    x = _seq()
    boxes = crop_boxes(x.shape, (4, 5), seed=2)
    crops = apply_crop_boxes(x, boxes)
    assert crops.shape == (4, 5, 2, 4, 5)
    for i, (t, left, h, w) in enumerate(boxes):
        assert torch.equal(crops[i], x[i, :, :, t:t + h, left:left + w])
    with pytest.raises(ValueError, match="one crop box per sequence"):
        apply_crop_boxes(x, boxes[:3])


def test_batched_equals_one_call_without_gradients():
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    x = torch.rand(10, 3, 6, 6)
    whole = net(x)
    for size in (1, 3, 10, 64):
        out = batched(net, x, batch_size=size)
        torch.testing.assert_close(out, whole, atol=1e-6, rtol=0)
        assert not out.requires_grad
    clamped = batched(net, x, 4, clamp=True)
    torch.testing.assert_close(clamped, whole.clamp(0, 1), atol=1e-6, rtol=0)
    assert clamped.min() >= 0 and clamped.max() <= 1 and (whole < 0).any()


def test_batched_calls_fn_on_chunks_in_order():
    seen = []

    def fn(chunk):
        seen.append(chunk.tolist())
        return chunk * 2

    assert batched(fn, torch.arange(7), batch_size=3).tolist() == [0, 2, 4, 6, 8, 10, 12]
    assert seen == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        batched(fn, torch.arange(7), batch_size=0)
    with pytest.raises(ValueError, match="at least one input"):
        batched(fn, torch.arange(0))
