import pytest
import torch

from blur2vid.data.toy import ambiguity_scenarios, column_meanings, direction_combinations, figure2_columns


def test_four_scenarios_for_two_balls():
    seqs, dirs = ambiguity_scenarios(n_objects=2, n_frames=5, size=32)
    assert seqs.shape == (4, 5, 3, 32, 32)
    assert sorted(dirs) == sorted(direction_combinations(2)) and len(set(dirs)) == 4


@pytest.mark.parametrize("n_objects,n_frames", [(2, 5), (2, 7), (3, 5)])
def test_blur_and_symmetric_pair_statistics_are_identical_across_scenarios(n_objects, n_frames):
    """Jin Fig. 2: columns f (blur), g/h (pair means), i/j (pair absolute differences) are the same
    image, bit for bit, in every motion scenario, while the frames themselves differ."""
    seqs, _ = ambiguity_scenarios(n_objects=n_objects, n_frames=n_frames, size=48)
    cols = figure2_columns(seqs)
    frame_keys = list(cols)[:n_frames]
    derived = list(cols)[n_frames:]
    assert len(derived) == 1 + 2 * (n_frames // 2)
    for key in derived:
        for r in range(1, len(seqs)):
            assert torch.equal(cols[key][0], cols[key][r]), f"column {key} differs in row {r}"
    middle = frame_keys[n_frames // 2]
    for key in frame_keys:
        same = all(torch.equal(cols[key][0], cols[key][r]) for r in range(1, len(seqs)))
        assert same == (key == middle), f"frame {key}: identical across rows = {same}"


def test_column_letters_match_the_paper():
    meanings = column_meanings(5)
    assert meanings["f"].startswith("blur")
    assert meanings["g"] == "mean of (b, d)" and meanings["h"] == "mean of (a, e)"
    assert meanings["i"] == "|b - d|" and meanings["j"] == "|a - e|"


def test_balls_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="radius"):
        ambiguity_scenarios(size=16, radius=20)
    with pytest.raises(ValueError, match="n_frames"):
        ambiguity_scenarios(n_frames=0)
