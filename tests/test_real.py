"""Real pictures (:mod:`blur2vid.experiments.real`): the real video cut into windows by ``blur2vid
evaluate``, the shipped model's footage numbers, and the no-reference checks of real photographs."""

import torch
from torch import nn

from blur2vid.core.formation import synthesize_blur
from blur2vid.experiments import real


class BlurCopy(nn.Module):
    """Returns the blurry input as every frame: the baseline the scores are measured against."""

    def forward(self, y):
        return torch.stack([y] * 7, 1)


def test_the_real_video_is_cut_into_windows_with_their_blur():
    from blur2vid.app.evaluate import EvalConfig, open_footage

    clip = real.real_video()
    assert clip.shape[1] == 3 and clip.shape[0] >= 7 and 0 <= clip.min() and clip.max() <= 1
    footage = open_footage("real", EvalConfig(stride=1))
    assert len(footage.windows) == clip.shape[0] - 6 and footage.windows[2] == (real.REAL_VIDEO, "2")
    blur, frames = footage.load(2)
    assert torch.equal(frames, clip[2:9])
    assert torch.allclose(blur, synthesize_blur(clip[2:9], "srgb"))


def test_the_blur_copy_scores_zero_over_itself_on_the_real_footage():
    """The shipped model's footage numbers (``shipping.on_real_footage``, through ``blur2vid
    evaluate``'s scoring): a network that returns its input is the blur copy, window by window."""
    from blur2vid.app.shipping import on_real_footage

    table = on_real_footage(BlurCopy())
    assert len(table) == real.real_video().shape[0] - 6
    assert table["over_blur_copy"].abs().max() < 1e-6 and table["middle_over_blur"].abs().max() < 1e-6
    assert (table["blur_copy_mean"] < 100).all() and table["blur_copy_mean"].std() > 0.1


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
