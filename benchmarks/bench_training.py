"""Training speed per network and precision: samples per second of ``blur2vid.training.loop.fit``.

Each network trains on one fixed batch of procedural scenes (rendered once, so the data generator
is not timed) for ``--warmup`` untimed steps, then ``--steps`` timed ones, in each precision
(``fp32`` and ``bf16`` autocast; see :mod:`blur2vid.core.precision`), memory format (the default
contiguous NCHW, and ``channels_last``: NHWC, which some CPU and GPU convolution kernels prefer),
and with ``--compile`` also through ``torch.compile``; on CUDA with ``--device cuda``.
Run it on a quiet machine: two trainings at once on 2 cores slow each other down several times.

    python benchmarks/bench_training.py                 # the cpu profile's networks at 64 px
    python benchmarks/bench_training.py --size 32 --steps 20 --device cuda
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from blur2vid.core.precision import cpu_has_native_bf16
from blur2vid.data.config import DataConfig
from blur2vid.experiments.hypercut_ordering import ORDERINGS
from blur2vid.losses import middle_loss, naive_loss, ordering_loss
from blur2vid.models.jin import JinCascade, JinConfig
from blur2vid.models.timing import device_name
from blur2vid.training.hyperplane import HyperCUTTrainConfig
from blur2vid.training.loop import fit
from blur2vid.training.unet_schemes import UNetTrainConfig


def _networks(size: int, batch: int):
    """``{name: (model, loss_fn, batch size)}``: the cpu profile's networks."""
    jin = JinCascade(JinConfig.preset("cpu", zero_init_residual=True))
    unet = UNetTrainConfig(data=DataConfig(size=size)).build()
    hypercut = HyperCUTTrainConfig(**ORDERINGS["antisymmetric"].embedding).build()

    def middle(m, b):
        return middle_loss(m(b.blur), b.frames[:, 3], None)

    def frames(m, b):
        return naive_loss(m(b.blur), b.frames)

    def order(m, b):
        fwd, rev = m.score_both(m.pairs(b.frames).flatten(0, 1))
        return ordering_loss(fwd, rev)

    return {"Jin middle (cpu preset)": (jin.middle, middle, batch), "U-Net width 32 (all frames)": (unet, frames, batch),
            "HyperCUT ordering (antisymmetric)": (hypercut, order, max(1, batch // 2))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=64, help="square crop side in pixels")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=15, help="timed steps per network and precision")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--formats", nargs="+", default=["contiguous"], choices=["contiguous", "channels_last"],
                        help="memory formats of the network and its input")
    parser.add_argument("--compile", action="store_true", help="also time each column through torch.compile (inductor)")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    data = DataConfig(size=args.size).source()
    fixed = data.batch(args.batch, seed=0, device=device)
    print(f"device: {device_name(device)}; native bf16 on this CPU: {cpu_has_native_bf16()}; "
          f"{args.size} px, {args.steps} timed steps after {args.warmup}", flush=True)
    rows = []
    for name, (model, loss_fn, batch) in _networks(args.size, args.batch).items():
        for fmt, precision, compiled in [(f, p, c) for f in args.formats for p in args.precisions
                                         for c in ([False, True] if args.compile else [False])]:
            memory = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
            model = model.to(memory_format=memory)
            sample = fixed[:batch]
            sample = type(sample)(sample.blur.contiguous(memory_format=memory), sample.frames, sample.meta)
            torch.manual_seed(0)
            state = {k: v.clone() for k, v in model.state_dict().items()}
            stamps: dict[int, float] = {}

            def batch_at(step, s=sample, stamps=stamps):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                stamps[step] = time.perf_counter()  # the start of each step; the warm-up (and a compiler) before
                return s

            # one run of warmup + steps + 1 steps: timed from the start of step `warmup` to the start of
            # step `warmup + steps` (a compiled run compiles once, in its warm-up)
            fit(model, batch_at, loss_fn, steps=args.warmup + args.steps + 1, device=device, progress=False,
                precision=precision, compile=compiled, checkpoint_seconds=None)
            seconds = stamps[args.warmup + args.steps] - stamps[args.warmup]
            model.load_state_dict(state)
            column = (precision if fmt == "contiguous" else f"{precision} channels_last") + (" compiled" if compiled else "")
            rows.append({"network": name, "column": column, "batch": batch, "samples_per_s": args.steps * batch / seconds})
            print(f"  {name:36s} {column}: {rows[-1]['samples_per_s']:7.1f} samples/s", flush=True)
    table = pd.DataFrame(rows).pivot(index="network", columns="column", values="samples_per_s")
    if {"fp32", "bf16"} <= set(table.columns):
        table["bf16 / fp32"] = table["bf16"] / table["fp32"]
    for precision in args.precisions:
        if {precision, f"{precision} channels_last"} <= set(table.columns):
            table[f"channels_last / contiguous ({precision})"] = table[f"{precision} channels_last"] / table[precision]
        if {precision, f"{precision} compiled"} <= set(table.columns):
            table[f"compiled / eager ({precision})"] = table[f"{precision} compiled"] / table[precision]
    print(table.round(2).to_markdown())
    if args.csv:
        table.to_csv(args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
