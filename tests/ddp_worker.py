"""Launched by tests/test_distributed.py under ``torchrun --nproc_per_node 2`` (or alone, as the
single-process reference): trains a small network with :func:`blur2vid.training.loop.fit` and writes each
rank's final weights to ``OUT/rank<r>.pt``.

``python ddp_worker.py unet OUT [--steps N] [--stop-at K]``: a SequenceUNet on random batches of 4
(seeded by the step); ``--stop-at K`` dies at step K, after the checkpoint of step 5.
``python ddp_worker.py jin OUT``: step 2 of Jin's ``pair`` scheme with a frozen middle network and
the adversarial term (a discriminator stepped inside the loss).
"""

import argparse
import sys
from pathlib import Path

import torch

from blur2vid.data.config import DataConfig
from blur2vid.data.sample import Batch
from blur2vid.models.jin import JinCascade
from blur2vid.models.unet import SequenceUNet
from blur2vid.training import distributed
from blur2vid.training.cascade import JinTrainConfig, train_frames
from blur2vid.training.loop import Workspace, fit


def unet(out: Path, steps: int, stop_at: int | None) -> dict:
    torch.manual_seed(0)
    model = SequenceUNet(n_frames=3, width=4, depth=1)
    with torch.no_grad():  # a head that is not zero, so the first steps move every layer
        model.out.weight.normal_(0, 0.01)

    def batch_at(step):
        if stop_at is not None and step == stop_at:
            sys.exit(3)  # a kill between checkpoints
        g = torch.Generator().manual_seed(1000 + step)
        frames = torch.rand(4, 3, 3, 12, 12, generator=g)
        return Batch(frames.mean(1), frames, {"seed": [step] * 4})

    def loss_fn(m, batch):
        return ((m(batch.blur) - batch.frames) ** 2).mean()

    fit(model, batch_at, loss_fn, steps=steps, lr=1e-2, config={"test": "ddp"}, checkpoint=out / "unet.pt",
        checkpoint_every=5, checkpoint_seconds=None, progress=False, schedule="constant")
    return model.state_dict()


def jin(out: Path) -> dict:
    cfg = JinTrainConfig(data=DataConfig(size=20, max_shift=4.0), model="smoke", batch_middle=2, batch_frames=4,
                         steps_middle=2, steps_core=4, steps_outer=2, steps_joint=None, adv_weight=0.1,
                         augment=False)
    torch.manual_seed(0)
    cascade = JinCascade(cfg.jin_config())
    middle = {k: v.clone() for k, v in cascade.middle.state_dict().items()}
    train_frames(cascade, "pair", cfg, Workspace(out / "checkpoints", torch.device("cpu"), progress=False))
    assert all(torch.equal(v, middle[k]) for k, v in cascade.middle.state_dict().items()), "the middle moved"
    return cascade.state_dict()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["unet", "jin"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--stop-at", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    distributed.init_from_env("cpu")
    state = unet(args.out, args.steps, args.stop_at) if args.what == "unet" else jin(args.out)
    torch.save(state, args.out / f"rank{distributed.rank()}.pt")
    distributed.shutdown()
