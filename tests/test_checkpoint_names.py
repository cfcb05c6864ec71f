"""Every training stage of every profile keeps its checkpoint name (``config_key``) through any
reorganisation of the code: a finished run is found again, nothing retrains."""

import json

from checkpoint_names import GOLDEN, checkpoint_names


def test_every_stage_keeps_its_checkpoint_name():
    golden = json.loads(GOLDEN.read_text())
    now = checkpoint_names()
    assert set(now) == set(golden), sorted(set(now) ^ set(golden))
    changed = {k: (golden[k], now[k]) for k in golden if now[k] != golden[k]}
    assert not changed, changed
