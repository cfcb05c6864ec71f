"""Does a learnt hold weight tell the photograph's noise from the detail its frames lack?

A network built with ``hold_weight`` (``blur2vid train --set match_blur=true --set hold_weight=12``)
carries a :class:`blur2vid.models.consistency.HoldWeight` head that says per pixel how much of the
residual between the photograph and its frames' re-blur is put back.  It helps only if it holds
less where the residual is sensor noise and JPEG (the held-out capture scenes) and fully where it
is detail the frames lack (clean footage).  For each model file (or a training checkpoint of one)
this prints

* the mean weight on the held-out capture scenes as they are (noisy), on the same scenes' blurs
  without noise and JPEG, on the real footage (``no_time_for_that_tiny.gif``, clean) and on
  scikit-image's astronaut at 128 px (clean);
* the scores of :mod:`blur2vid.shipping`: held-out middle frame over the blurry input (95% over 64
  scenes, moderate and full motion) and the real footage's mean and middle frame over the blur copy.

    python benchmarks/hold_weight_probe.py --checkpoint results/train/RUN/model.pt
    python benchmarks/hold_weight_probe.py --checkpoint results/train/RUN/checkpoints/unet_hypercut-*.pt
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from blur2vid.benchmark import device_name
from blur2vid.data.config import CAPTURES, DataConfig
from blur2vid.experiments import real
from blur2vid.formation import synthesize_blur
from blur2vid.models.checkpoint import load_model
from blur2vid.models.consistency import MatchBlur, hold_weigher
from blur2vid.models.unet import SequenceUNet
from blur2vid.shipping import MOTIONS, held_out
from blur2vid.tensors import batched


def network(path: Path) -> tuple[SequenceUNet, str]:
    """The U-Net of a model file, or of a training checkpoint (its step in the label)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "step" not in state:
        net, _ = load_model(path, expect="SequenceUNet")
        return net.eval(), path.name
    weights = state["model"]
    width = weights["inc.0.weight"].shape[0]
    depth = len({k.split(".")[1] for k in weights if k.startswith("down.")})
    head = weights["weigh.body.0.weight"].shape[0] if "weigh.body.0.weight" in weights else 0
    net = SequenceUNet(width=width, depth=depth, hold_weight=head)
    net.load_state_dict(weights)
    return net.eval(), f"{path.parent.parent.name} step {state['step']}"


def mean_weight(net: SequenceUNet, blur: torch.Tensor) -> float:
    """The head's mean weight over ``blur [N, 3, H, W]`` (1: the full hold; 1 without a head)."""
    weigh = hold_weigher(net)
    if weigh is None:
        return 1.0
    photo = blur.float().clamp(0, 1)
    return float(weigh(photo, photo - synthesize_blur(batched(net, photo, 16, clamp=True).float(), "srgb")).mean())


def measure(model: torch.nn.Module, weight_of: Callable[[torch.Tensor], float]) -> dict:
    """``weight_of(blur)``, the mean hold weight, on the held-out scenes (noisy and noise-free),
    the real footage and the astronaut; then ``model``'s (held) scores of :mod:`blur2vid.shipping`."""
    from skimage import data

    test = DataConfig(family=CAPTURES, size=64, max_shift=MOTIONS["moderate"]).test_set(64, "cpu", "shipping")
    clips = real.video_windows(real.real_video())
    astronaut = torch.from_numpy(data.astronaut()[::4, ::4].copy()).permute(2, 0, 1)[None].float() / 255
    row = {"weight: held-out (noisy)": weight_of(test.blur),
           "weight: same, noise-free": weight_of(test.meta["blur_clean"]),
           "weight: real video": weight_of(clips.blur),
           "weight: astronaut 128 px": weight_of(astronaut)}
    model = model.eval()
    for name, motion in MOTIONS.items():
        iv = held_out(model, motion=motion)["middle_over_blur_db"]
        row[f"held-out {name}"] = f"{iv['mean']:+.2f} [{iv['low']:+.2f}, {iv['high']:+.2f}]"
    video = real.score_on_video(model, clips)
    row["real video, mean over copy"] = round(float(video["over_blur_copy"].mean()), 2)
    row["real video, middle over copy"] = round(float(video["middle_over_blur"].mean()), 2)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", action="append", type=Path, required=True,
                    help="a model file or a training checkpoint (repeatable)")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    rows = {}
    for path in args.checkpoint:
        net, label = network(path)
        rows[label] = measure(MatchBlur(net), lambda blur, net=net: mean_weight(net, blur))
    print(f"# {device_name('cpu')}, {torch.get_num_threads()} threads")
    print(pd.DataFrame(rows).to_markdown())


if __name__ == "__main__":
    main()
