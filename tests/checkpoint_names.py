"""The checkpoint names (``config_key``) of every training stage of every profile, found without training.

Each stage's training function is called as a notebook calls it, with
:meth:`blur2vid.training.loop.Workspace.checkpoint` replaced by a recorder that notes the name and stops the
function before it trains; the networks a stage depends on (the middle network, an ordering
network) are untrained and seeded, so their digests are the same on every run.  A reorganisation
of the code must leave every name as it was: ``tests/golden/checkpoint_names.json`` holds them,
written by ``python tests/checkpoint_names.py --write`` and compared by ``tests/test_checkpoint_names.py``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

GOLDEN = Path(__file__).parent / "golden" / "checkpoint_names.json"
PROFILES = ("smoke", "cpu", "gpu")


class _Recorded(Exception):
    pass


def _stage(names: dict[str, str], label: str, train, *args, **kwargs) -> None:
    from blur2vid.training.loop import Workspace

    real = Workspace.checkpoint

    def record(self, name, config):
        names[label] = real(self, name, config).stem
        raise _Recorded

    Workspace.checkpoint = record
    try:
        train(*args, **kwargs)
    except _Recorded:
        pass
    finally:
        Workspace.checkpoint = real
    if label not in names:
        raise AssertionError(f"{label}: trained without asking for a checkpoint")


def _seeded(build):
    torch.manual_seed(0)
    return build()


def checkpoint_names() -> dict[str, str]:
    """``{"<profile>/<stage>": "<name>-<hash>"}`` for every stage of every profile (seed 0, fp32, and
    one stage at bf16: the precision is part of the key)."""
    from blur2vid.app.recipes import RECIPES, load_recipe
    from blur2vid.experiments.jin_training import nah_baseline
    from blur2vid.models.jin import JinCascade
    from blur2vid.reproduction.profiles import get_profile
    from blur2vid.training.cascade import JIN_VARIANTS, train_frames, train_middle
    from blur2vid.training.denoiser import DenoiserTrainConfig, train_denoiser
    from blur2vid.training.hyperplane import train_ordering
    from blur2vid.training.inferability import train_side_reader
    from blur2vid.training.loop import Workspace
    from blur2vid.training.unet_schemes import UNET_SCHEMES, train_unet

    names: dict[str, str] = {}
    ws = Workspace(checkpoints=Path("/nonexistent/checkpoints"), precision="fp32", progress=False, validation=0)
    for profile in PROFILES:
        p = get_profile(profile, seed=0)
        jin, order = p.jin.train, p.ordering.train
        cascade = _seeded(lambda: JinCascade(jin.jin_config()))  # noqa: B023
        ordering = _seeded(order.build)
        _stage(names, f"{profile}/jin_middle", train_middle, cascade, jin, ws)
        _stage(names, f"{profile}/jin_middle@bf16", train_middle, cascade, jin, replace(ws, precision="bf16"))
        _stage(names, f"{profile}/nah", nah_baseline, jin, p.jin.nah, ws)
        for variant, v in JIN_VARIANTS.items():
            _stage(names, f"{profile}/jin_{variant}", train_frames, cascade, variant, jin, ws,
                   ordering=ordering if v.needs_ordering else None)
        _stage(names, f"{profile}/hypercut", train_ordering, ordering, order, ws)
        _stage(names, f"{profile}/side_reader", train_side_reader, ordering, p.ordering.reader, ws)
        for label, unet in (("ambiguity", p.ambiguity.unet), ("hypercut", p.hypercut.unet)):
            for scheme, s in UNET_SCHEMES.items():
                _stage(names, f"{profile}/{label}_unet_{scheme}", train_unet, scheme, unet,
                       ordering if s.needs_ordering else None, ws)
    _stage(names, "denoiser/default", train_denoiser, DenoiserTrainConfig(steps=100), ws)
    for recipe in RECIPES:
        r = load_recipe(recipe)
        _stage(names, f"recipe/{recipe}", r.train, r.steps or 100, ws)
    return names


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/checkpoint_names.py --write")
    GOLDEN.write_text(json.dumps(checkpoint_names(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
