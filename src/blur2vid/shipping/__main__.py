"""``python -m blur2vid.shipping``: the older spelling of ``blur2vid ship``, kept because the
committed cards' retrain commands call it."""

import sys

from blur2vid.cli import main

sys.exit(main(["ship", *sys.argv[1:]]))
