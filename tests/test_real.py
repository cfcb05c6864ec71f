"""Scores on real pictures (:mod:`blur2vid.experiments.real`): blurs made from real video and the
no-reference checks of real photographs."""

import pytest
import torch
from torch import nn

from blur2vid.core.formation import synthesize_blur
from blur2vid.experiments import real


class BlurCopy(nn.Module):
    """Returns the blurry input as every frame: the baseline the scores are measured against."""

    def forward(self, y):
        return torch.stack([y] * 7, 1)


def test_the_real_video_is_cut_into_windows_with_their_blur():
    clip = real.real_video()
    assert clip.shape[1] == 3 and clip.shape[0] >= 7 and 0 <= clip.min() and clip.max() <= 1
    windows = real.video_windows(clip)
    assert len(windows) == clip.shape[0] - 6
    assert torch.equal(windows.frames[2], clip[2:9])
    assert torch.allclose(windows.blur[2], synthesize_blur(clip[2:9], "srgb"))
    with pytest.raises(ValueError, match="at least 7 frames"):
        real.video_windows(clip[:5])


def test_the_blur_copy_scores_zero_over_itself():
    windows = real.video_windows(real.real_video()[:9])
    table = real.score_on_video(BlurCopy(), windows)
    assert list(table.index) == ["frames 1-7", "frames 2-8", "frames 3-9"]
    assert table["over_blur_copy"].abs().max() < 1e-6 and table["middle_over_blur"].abs().max() < 1e-6
    assert (table["blur_copy_mean"] < 100).all()


def test_a_model_that_returns_the_photo_re_blurs_perfectly_and_shows_no_motion():
    photo = real.real_photos()["clock_motion.png"]
    check = real.photo_check(BlurCopy()(photo[None])[0], photo)
    assert check == {"reblur_psnr_db": 100.0, "first_last_difference": 0.0, "frames_vs_photo_psnr_db": 100.0}
    moving = torch.stack([photo.roll(k, -1) for k in range(-3, 4)])
    moved = real.photo_check(moving, photo)
    assert moved["first_last_difference"] > 1 and moved["reblur_psnr_db"] < 100


class Darker(nn.Module):
    """Every frame 5% darker than the blur: worse than the copy on every window."""

    def forward(self, y):
        return torch.stack([y * 0.95] * 7, 1)


def test_models_are_compared_on_the_same_photos():
    photo = torch.rand(3, 20, 30)
    frames, checks = real.compare_on_photos({"copy": BlurCopy(), "darker": Darker()}, {"p.png": photo})
    assert frames["darker"]["p.png"].shape == (7, 3, 20, 30)
    assert checks.loc[("copy", "p.png"), "reblur_psnr_db"] == 100.0
    assert checks.loc[("darker", "p.png"), "reblur_psnr_db"] < 100
    _, scaled = real.compare_on_photos({"darker": Darker()}, {"p.png": photo}, scales={"darker": 2})
    assert scaled.loc[("darker", "p.png"), "reblur_psnr_db"] > 60  # run small, then held to the photograph


def test_the_before_after_figure_has_a_row_per_model():
    from blur2vid.reproduction import plots

    photo = torch.rand(3, 12, 16)
    fig = plots.before_after(photo, {"a": torch.stack([photo] * 7), "b": torch.rand(7, 3, 12, 16)})
    assert len(fig.axes) == 10 and fig.axes[4].get_title().startswith("|x[1] − x[7]|")
    still = fig.axes[4].images[0].get_array()
    assert still.max() == 0  # no motion shows black
