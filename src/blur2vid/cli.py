"""The ``blur2vid`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _reproduce(args: argparse.Namespace) -> int:
    from blur2vid.reproduce import reproduce

    seconds = reproduce(profile=args.profile, device=args.device, seed=args.seed, only=args.only or None)
    total = sum(seconds.values())
    for name, s in seconds.items():
        print(f"{name:32s} {s:8.1f} s")
    print(f"{'total':32s} {total:8.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="blur2vid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="run every notebook with papermill and regenerate figures/")
    rep.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "gpu"])
    rep.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--only", nargs="*", help="run only notebooks whose file name contains one of these")
    rep.set_defaults(func=_reproduce)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, TypeError) as exc:
        print(f"blur2vid: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
