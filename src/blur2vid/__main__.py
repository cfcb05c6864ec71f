"""``python -m blur2vid``, the same as the ``blur2vid`` command (and what ``torchrun -m blur2vid`` starts)."""

from blur2vid.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
