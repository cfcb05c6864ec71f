import io

import torch
from PIL import Image

from blur2vid.app.widgets import blur_explorer, png_bytes, sequence_scrubber


def test_png_bytes_lays_images_side_by_side():
    data = png_bytes([torch.zeros(3, 4, 5), torch.ones(1, 4, 5)], scale=2)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == ((5 + 2 + 5) * 2, 4 * 2)


def test_explorer_updates_its_picture_when_a_slider_moves():
    box = blur_explorer(size=16, max_frames=5)
    image = box.children[-1]
    first = image.value
    frames = box.children[0].children[0]
    frames.value = 1  # one frame: the "blur" is the middle frame itself
    assert image.value != first and len(image.value) > 0


def test_scrubber_shows_the_chosen_frame():
    seq = torch.rand(5, 3, 8, 8)
    box = sequence_scrubber(seq)
    before = box.children[1].value
    box.children[0].value = 0
    assert box.children[1].value != before


def test_upload_predictor_shows_the_frames_and_holds_them_to_the_cleaned_photograph_when_told_a_noise_level():
    import datetime

    from torch import nn

    from blur2vid.app.widgets import upload_predictor

    class Brightening(nn.Module):
        def forward(self, y):
            return torch.stack([(y * (0.8 + 0.05 * t)).clamp(0, 1) for t in range(7)], 1)

    class Halving(nn.Module):
        levels = []

        def forward(self, photo, sigma):
            Halving.levels.append(sigma)
            return 0.5 * photo + 0.25

    buf = io.BytesIO()
    Image.fromarray((torch.rand(20, 30, 3) * 255).byte().numpy()).save(buf, format="PNG")
    box = upload_predictor(Brightening(), denoiser=Halving())
    upload, noise = box.children[0].children
    status, strip = box.children[1:]
    upload.value = ({"name": "p.png", "content": buf.getvalue(), "type": "image/png", "size": len(buf.getvalue()),
                     "last_modified": datetime.datetime(2026, 1, 1)},)
    assert status.value == "p.png: blur, then 7 frames" and len(strip.value) > 0 and Halving.levels == []
    plain = strip.value
    noise.value = 4.0  # the slider reruns the last photograph, now held to it cleaned
    assert Halving.levels == [4.0 / 255] and "noise level 4" in status.value and strip.value != plain
