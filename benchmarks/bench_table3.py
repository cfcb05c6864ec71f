"""Jin et al. (CVPR 2018) Table 3: run time at 320P/480P/720P and parameter counts of the Nah
baseline, the middle network and the full cascade, next to the paper's Titan X numbers.

    python benchmarks/bench_table3.py --device cpu --repeats 1 --scale paper
    python benchmarks/bench_table3.py --device cuda --repeats 10

Resolutions are 16:9 frames (320P = 568x320, 480P = 854x480, 720P = 1280x720); see
:mod:`blur2vid.models.timing` for why.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from blur2vid.models.timing import RESOLUTIONS, table3, table3_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3, help="timed forward passes per model and size")
    parser.add_argument("--warmup", type=int, default=1, help="untimed forward passes first")
    parser.add_argument("--scale", choices=("paper", "cpu", "smoke"), default="paper", help="network sizes")
    parser.add_argument("--models", nargs="+", choices=("Nah", "Middle", "Full"), default=["Nah", "Middle", "Full"])
    parser.add_argument("--resolutions", nargs="+", choices=tuple(RESOLUTIONS), default=list(RESOLUTIONS))
    parser.add_argument("--stat", choices=("min_s", "median_s", "mean_s", "max_s"), default="median_s")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {name: model for name, model in table3_models(args.scale).items() if name in args.models}
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"scale={args.scale} device={args.device} repeats={args.repeats} warmup={args.warmup} "
          f"stat={args.stat} load average={load}", flush=True)
    table = table3(models, args.resolutions, device=args.device, repeats=args.repeats,
                   warmup=args.warmup, stat=args.stat, progress=True)
    shown = table.drop(columns=["device", "paper_device"])
    shown["params"] = shown["params"].map("{:,}".format)
    print(shown.to_markdown(floatfmt=".3f"))
    print(f"measured on: {table['device'].iloc[0]}; paper: {table['paper_device'].iloc[0]}")
    if args.csv:
        table.to_csv(args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
