"""Do the verdicts depend on the precision?  The U-Net's HyperCUT claims trained in bf16 and in fp32.

For each training seed, the all-frames U-Net of notebook 06 is trained with the naive loss and
against the orders named by ``--orderings`` (HyperCUT's scheme), once with bf16 autocast and once
in fp32, on the same batches from the same initial weights; the ordering networks are the frozen
ones of the run's checkpoints (trained once, so only the U-Net's precision differs).  Each
ordering's claim "the order beats the naive loss on frames 1, 2, 6, 7" is then judged from the
frozen test set in both precisions, pooled over the seeds (blur2vid.experiments.claims), and each
run's mean pPSNR is listed.  Runs already in the checkpoint folder (the reference run's bf16 ones)
are read, not retrained.

``--threads 1 --checkpoints DIR --precisions bf16`` retrains the same configurations with other
arithmetic (one thread sums in another order, as another processor would) into another folder:
how far the same config lands on "another processor".

    python benchmarks/precision_verdicts.py --seeds 0 1 2        # the cpu profile, after make reproduce
    python benchmarks/precision_verdicts.py --profile smoke --seeds 0   # seconds: checks the wiring
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from blur2vid.experiments.claims import claims_table, margin_claim
from blur2vid.experiments.hypercut_blur2vid import row_id, row_label, unet_table, unet_test
from blur2vid.experiments.hypercut_ordering import train_orderings
from blur2vid.experiments.tables import OUTER, outer_gain, summary
from blur2vid.models.timing import device_name
from blur2vid.reproduction.profiles import get_profile
from blur2vid.reproduction.runs import results_root
from blur2vid.training.loop import Workspace
from blur2vid.training.unet_schemes import train_unet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--orderings", nargs="+", default=["antisymmetric_crop", "motion_rule"])
    parser.add_argument("--precisions", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--checkpoints", default=None, help="checkpoint folder of the U-Nets (default: the "
                        "profile's); the ordering networks are always read from the profile's")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoints = results_root() / args.profile / "checkpoints"
    unets = Path(args.checkpoints) if args.checkpoints else checkpoints
    evidence: dict[tuple[str, str], dict[int, object]] = {}
    means = []
    print(f"device: {device_name('cpu')}; checkpoints in {checkpoints}", flush=True)
    for seed in args.seeds:
        cfg = get_profile(args.profile, seed=seed).hypercut
        frozen = Workspace(checkpoints, precision="bf16", progress=False)  # the orderings as notebook 05 trained them
        orderings, _ = train_orderings(cfg.ordering, cfg.orderings, frozen)
        test = unet_test(cfg)
        for precision in args.precisions:
            ws = Workspace(unets, precision=precision, progress=False)
            models = {"naive": (row_label("naive"), train_unet("naive", cfg.unet, None, ws)[0])}
            for oid in args.orderings:
                models[row_id("hypercut", oid)] = (row_label("hypercut", oid),
                                                   train_unet("hypercut", cfg.unet, orderings[oid], ws)[0])
            table = unet_table(models, test)
            means += [{"seed": seed, "precision": precision, "threads": torch.get_num_threads(), "row": r,
                       "mean pPSNR": float(v)} for r, v in summary(table)["mean"].items()]
            for oid in args.orderings:
                evidence.setdefault((precision, oid), {})[seed] = outer_gain(table, row_id("hypercut", oid), "naive", OUTER)
            print(f"seed {seed}, {precision}: done", flush=True)
    rows = []
    for (precision, oid), groups in evidence.items():
        claim = claims_table([margin_claim(f"unet.{oid}", f"[{oid}] beats naive on F1, F2, F6, F7", groups)])
        rows.append({"precision": precision, "ordering": oid, **claim.iloc[0][["value", "low", "high", "seeds",
                                                                              "verdict"]].to_dict()})
    table = pd.DataFrame(rows).set_index(["ordering", "precision"]).sort_index()
    print(pd.DataFrame(means).pivot(index=["row", "precision", "threads"], columns="seed",
                                    values="mean pPSNR").round(3).to_markdown())
    print(table.to_markdown(floatfmt="+.2f"))
    if args.csv:
        table.to_csv(args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
