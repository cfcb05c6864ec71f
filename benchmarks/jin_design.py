"""Design probes for Jin's cascade at small scale: which crop size, normalisation, width, dilations
and initialisation let the networks learn in the `cpu` profile's budget.

Every probe trains one network of the cascade with the library's training loop (``fit``: Adam,
cosine schedule, the run's precision) on the procedural camera pans, for the same number of
training samples, and scores its learning curve on the **validation set** (never the test set):

* ``middle``: the middle network ``phi_4`` with ``L_middle`` (Eq. 3, gradient fallback of the
  perceptual term); the score is the PSNR of ``x4`` minus the blurry input's (dB);
* ``core``: the frame-3 and frame-5 networks with Eq. 5 on the core pair, fed the ground-truth
  middle (teacher forcing); the score is the order-invariant PSNR of ``(x3, x5)`` minus that of
  copying the middle frame to both (dB): what the networks add to "no motion at all".

A design is a set of overrides of the ``cpu`` preset (:class:`~blur2vid.models.jin.JinConfig`) plus
the crop ``size``, the learning rate and the batch.  The table lists, per design and seed, the
final gain, the best gain on the curve, the slope of the last two points (dB per 10k samples), the
seconds and samples per second (name the processor beside them), and the parameter count.

    python benchmarks/jin_design.py --stage middle --designs base s40 s40_layer --seeds 0
    python benchmarks/jin_design.py --stage core --designs s40 s40_small_init --samples 16000
    python benchmarks/jin_design.py --list

The measurements behind the ``cpu`` preset are in ``docs/measurements/jin_design_*.csv`` (AMD EPYC,
2 threads, bf16, seed 0; ``warm_pair`` is what ``JinTrainConfig.core_warmup`` does).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch

from blur2vid.core.metrics import capped, psnr
from blur2vid.core.ordering import canonical_order
from blur2vid.core.seeding import derive_seed
from blur2vid.core.tensors import batched
from blur2vid.data.config import DataConfig
from blur2vid.losses import PerceptualLoss, best_order_pair_loss, middle_loss, pair_loss
from blur2vid.models.blocks import count_parameters
from blur2vid.models.jin import JinCascade, JinConfig
from blur2vid.models.timing import device_name
from blur2vid.training.cascade import JinTrainConfig, hand_made_order, training_batches
from blur2vid.training.loop import fit

DESIGNS: dict[str, dict] = {
    "base": dict(size=32),
    "s40": dict(size=40),
    "s40_layer": dict(size=40, norm="layer"),
    "s40_none": dict(size=40, norm="none"),
    "s40_w64": dict(size=40, middle_features=64, frame_blur_features=32, frame_ref_features=16),
    "s40_layer_w64": dict(size=40, norm="layer", middle_features=64, frame_blur_features=32, frame_ref_features=16),
    "s40_dil2": dict(size=40, middle_dilations=((1, 2), (2, 2), (2, 2), (2, 1)), frame_dilations=((1, 2), (2, 1))),
    "s40_lr3e-4": dict(size=40, lr=3e-4),
    "s40_layer_lr3e-4": dict(size=40, norm="layer", lr=3e-4),
    "s40_layer_refined": dict(size=40, norm="layer", colour_skip="refined"),
    "s40_layer_refined_lr2e-3": dict(size=40, norm="layer", colour_skip="refined", lr=2e-3),
    "s40_layer_refined_init0.1": dict(size=40, norm="layer", colour_skip="refined", residual_init_scale=0.1),
    "s40_layer_lr2e-3": dict(size=40, norm="layer", lr=2e-3),
    "s40_layer_b32": dict(size=40, norm="layer", batch=32),
    "s40_layer_mse": dict(size=40, norm="layer", perceptual="none"),
    "s40_instance_refined": dict(size=40, colour_skip="refined"),
    "s40_layer_lr1e-4": dict(size=40, norm="layer", lr=1e-4),
    "s40_none_lr3e-4": dict(size=40, norm="none", lr=3e-4),
    "s40_lr2e-3": dict(size=40, lr=2e-3),
    "s40_b32": dict(size=40, batch=32),
    "s40_small_init": dict(size=40, residual_init_scale=0.1),
    "core_layer_lr3e-4": dict(size=40, norm="layer", lr=3e-4, batch=16),
    "core_layer_lr3e-4_init0.1": dict(size=40, norm="layer", lr=3e-4, batch=16, residual_init_scale=0.1),
    "core_layer_lr3e-4_init0.01": dict(size=40, norm="layer", lr=3e-4, batch=16, residual_init_scale=0.01),
    "core_layer_lr1e-3": dict(size=40, norm="layer", lr=1e-3, batch=16),
    "core_layer_lr1e-3_init0.1": dict(size=40, norm="layer", lr=1e-3, batch=16, residual_init_scale=0.1),
    "core_layer_lr2e-3": dict(size=40, norm="layer", lr=2e-3, batch=16),
    "core_instance_lr1e-3": dict(size=40, lr=1e-3, batch=16),
    "core_layer_oracle": dict(size=40, norm="layer", lr=1e-3, batch=16, core_loss="oracle"),
    "core_layer_warm_pair": dict(size=40, norm="layer", lr=1e-3, batch=16, core_loss="warm_pair"),
    "core_instance_warm_pair": dict(size=40, lr=1e-3, batch=16, core_loss="warm_pair"),
    "core_layer_min_order": dict(size=40, norm="layer", lr=1e-3, batch=16, core_loss="min_order"),
    "core_layer_min_order_init0.1": dict(size=40, norm="layer", lr=1e-3, batch=16, core_loss="min_order",
                                         residual_init_scale=0.1),
    "s40_default_init": dict(size=40, zero_init=False),
}
"""Named designs: ``size``, ``lr``, ``batch``, ``zero_init`` and ``perceptual`` (the fallback of the
perceptual term without VGG weights: ``gradient`` or ``none``) are training settings; every other key
overrides :meth:`JinConfig.cpu`."""

TRAINING_KEYS = ("size", "lr", "batch", "zero_init", "perceptual", "core_loss")


def _split(design: dict) -> tuple[dict, dict]:
    train = {k: v for k, v in design.items() if k in TRAINING_KEYS}
    return train, {k: v for k, v in design.items() if k not in TRAINING_KEYS}


def _cascade(design: dict, seed: int) -> JinCascade:
    train, arch = _split(design)
    torch.manual_seed(derive_seed(seed, "probe-init"))
    return JinCascade(JinConfig.cpu(zero_init_residual=train.get("zero_init", True), **arch))


def _order_invariant_pair_psnr(x3, x5, g3, g5) -> torch.Tensor:
    fwd = (psnr(x3, g3) + psnr(x5, g5)) / 2
    rev = (psnr(x3, g5) + psnr(x5, g3)) / 2
    return torch.maximum(fwd, rev)


def probe(stage: str, name: str, design: dict, seed: int, samples: int, n_val: int, precision: str,
          points: int) -> tuple[dict, list[dict]]:
    train, _ = _split(design)
    size, lr = int(train.get("size", 32)), float(train.get("lr", 1e-3))
    batch = int(train.get("batch", 16 if stage == "middle" else 8))
    data = DataConfig(size=size, max_shift=8.0)
    cfg = JinTrainConfig(data=data, seed=seed)
    steps = max(1, samples // batch)
    val = data.validation_set(n_val)
    cascade = _cascade(design, seed)
    if stage == "middle":
        net = cascade.middle
        perceptual = PerceptualLoss(None, fallback=train.get("perceptual", "gradient"))
        floor = psnr(val.blur, val.frames[:, 3]).mean().item()

        def loss_fn(m, b):
            return middle_loss(m(b.blur), b.frames[:, 3], perceptual)

        def score(m):
            est = batched(m, val.blur, 32, clamp=True).float()
            return {"val_gain_db": capped(psnr(est, val.frames[:, 3])).mean().item() - floor}

        stream = "middle"
    elif stage == "core":
        net = torch.nn.ModuleDict({"net3": cascade.net3, "net5": cascade.net5})
        g3, g4, g5 = val.frames[:, 2], val.frames[:, 3], val.frames[:, 4]
        floor = _order_invariant_pair_psnr(g4, g4, g3, g5).mean().item()

        core_loss = train.get("core_loss", "pair")
        oracle = hand_made_order(data)
        calls: list[int] = []  # steps taken (warm_pair: the first quarter per image, then Eq. 5)

        def loss_fn(m, b):
            x4 = b.frames[:, 3]
            x3 = m["net3"](b.blur, x4)
            x5 = m["net5"](b.blur, x4, x3)
            calls.append(1)
            if core_loss == "pair" or (core_loss == "warm_pair" and len(calls) > steps // 4):  # Eq. 5
                return pair_loss(x3, x5, b.frames[:, 2], b.frames[:, 4])
            if core_loss == "oracle":  # per-frame MSE in the hand-made order: can the networks learn the frames?
                target = canonical_order(b.frames, oracle)[0]
                return ((x3 - target[:, 2]) ** 2).mean() + ((x5 - target[:, 4]) ** 2).mean()
            if core_loss in ("min_order", "warm_pair"):  # per-frame MSE in the better of the two orders, per image
                return best_order_pair_loss(x3, x5, b.frames)
            raise ValueError(f"unknown core_loss {core_loss!r}")

        def score(m):
            x3 = m["net3"](val.blur, g4).float().clamp(0, 1)
            x5 = m["net5"](val.blur, g4, x3).float().clamp(0, 1)
            return {"val_gain_db": capped(_order_invariant_pair_psnr(x3, x5, g3, g5)).mean().item() - floor}

        stream = "frames"
    else:
        raise ValueError(f"unknown stage {stage!r}; expected middle or core")
    t0 = time.perf_counter()
    history = fit(net, training_batches(cfg, batch, stream, torch.device("cpu")), loss_fn, steps=steps, lr=lr,
                  progress=False, precision=precision, validate=score, validate_every=max(1, steps // points),
                  desc=f"{stage}:{name}")
    seconds = time.perf_counter() - t0
    curve = [{"design": name, "seed": seed, "samples": h["samples"], "val_gain_db": h["val_gain_db"]}
             for h in history if "val_gain_db" in h]
    last, prev = curve[-1], curve[-2] if len(curve) > 1 else curve[-1]
    slope = (last["val_gain_db"] - prev["val_gain_db"]) / max(last["samples"] - prev["samples"], 1) * 1e4
    row = {"stage": stage, "design": name, "seed": seed, "size": size, "batch": batch, "lr": lr,
           "samples": last["samples"], "final_gain_db": last["val_gain_db"],
           "best_gain_db": max(c["val_gain_db"] for c in curve), "slope_db_per_10k": slope,
           "floor_psnr_db": floor, "seconds": seconds, "samples_per_s": last["samples"] / seconds,
           "parameters": count_parameters(net), "design_json": json.dumps(design)}
    return row, curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="middle", choices=["middle", "core"])
    parser.add_argument("--designs", nargs="+", default=["base", "s40"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--samples", type=int, default=25600, help="training samples per run")
    parser.add_argument("--validation", type=int, default=128, help="validation scenes")
    parser.add_argument("--points", type=int, default=8, help="validation points on each curve")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--out", default="results/jin_design", help="folder of the CSV files")
    parser.add_argument("--list", action="store_true", help="list the designs and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, design in DESIGNS.items():
            print(f"{name:18s} {design}")
        return 0
    unknown = [d for d in args.designs if d not in DESIGNS]
    if unknown:
        parser.error(f"unknown designs {unknown}; --list shows them")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"device: {device_name('cpu')}, {torch.get_num_threads()} threads", flush=True)
    rows, curves = [], []
    for seed in args.seeds:
        for name in args.designs:
            row, curve = probe(args.stage, name, DESIGNS[name], seed, args.samples, args.validation,
                               args.precision, args.points)
            rows.append(row)
            curves += curve
            print(f"{args.stage} {name} seed {seed}: final {row['final_gain_db']:+.3f} dB, best "
                  f"{row['best_gain_db']:+.3f}, slope {row['slope_db_per_10k']:+.3f} dB/10k, "
                  f"{row['seconds']:.0f} s", flush=True)
            stem = out / f"{args.stage}"
            table = pd.DataFrame(rows)
            # appended to what earlier invocations measured (one file per stage), rewritten atomically
            for frame, suffix in ((table, ""), (pd.DataFrame(curves), "_curves")):
                path = Path(f"{stem}{suffix}.csv")
                old = pd.read_csv(path) if path.is_file() else None
                merged = frame if old is None else pd.concat([old[~old.set_index(["design", "seed"]).index.isin(
                    frame.set_index(["design", "seed"]).index)], frame])
                tmp = path.with_suffix(".tmp")
                merged.to_csv(tmp, index=False)
                tmp.replace(path)
    print(pd.DataFrame(rows).drop(columns=["design_json"]).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
