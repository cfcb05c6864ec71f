import io

import torch
from PIL import Image

from blur2vid.widgets import blur_explorer, png_bytes, sequence_scrubber


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
