"""The `gpu` profile proven on a CPU: every notebook's `gpu` configuration (the paper-size
networks, their losses, optimisers and schedules) is built and every training stage runs two steps
at a reduced crop size, so a typo or a shape error in the profile fails here, not on a rented GPU."""

import json

import pytest
import torch

from blur2vid.experiments import hypercut_blur2vid, hypercut_ordering, jin_training
from blur2vid.experiments.order_ambiguity import naive_order_experiment
from blur2vid.reproduction.profiles import SCALES, capped_scale, get_profile, resolved
from blur2vid.training.loop import Workspace

pytestmark = pytest.mark.usefixtures("one_thread")

CAPPED = ("steps", "n_test", "unet_test", "ordering_test", "validation", "n_scenes", "n", "n_synthetic", "batch",
          "bench_repeats", "bench_resolutions", "size", "jin_size", "synthetic_size")


def _differences(a, b, path=()):
    """The paths at which two resolved configurations differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in a.keys() | b.keys() for d in _differences(a.get(k), b.get(k), (*path, k))]
    return [] if a == b else [path]


def test_the_cap_bounds_the_loops_and_leaves_the_design_alone():
    full = json.loads(json.dumps(resolved(get_profile("gpu"))))
    capped = json.loads(json.dumps(resolved(get_profile("gpu", max_steps=2, max_size=40))))
    changed = _differences(full, capped)
    assert changed  # it does cap something
    for path in changed:  # ... and only what bounds a loop or a crop: no network, loss or rate
        assert path[-1].startswith(CAPPED) or path[-2] == "bench_resolutions", path
    jin = get_profile("gpu", max_steps=2, max_size=40).jin.train
    assert jin.model == "paper" and jin.steps_middle == 2 and jin.data.size == 40 and jin.adv_weight > 0
    with pytest.raises(ValueError, match="max_steps"):
        capped_scale(SCALES["gpu"], 0)


def test_every_training_stage_of_the_gpu_profile_runs_two_steps_on_cpu(tmp_path):
    p = get_profile("gpu", max_steps=2, max_size=40)
    ws = Workspace(tmp_path, torch.device("cpu"), progress=False, validation=p.validation)
    # 02: the U-Net's naive run and its evaluation
    assert naive_order_experiment(p.ambiguity, ws).table.notna().all().all()
    # 04: step 1 (paper-size middle network), the Nah-style baseline, every scheme's steps 2 and 3
    # with the adversarial term, the test sets and Table 3's timing
    middle, history = jin_training.jin_middle(p.jin.train, ws)
    assert history[-1]["step"] == 1 and sum(t.numel() for t in middle.middle.parameters()) == 4_972_032
    jin_training.nah_baseline(p.jin.train, p.jin.nah, ws)
    cascades, histories = jin_training.jin_cascades(p.jin, middle, ws)
    assert set(cascades) == set(p.jin.variants) and all(h for h in histories.values())
    test = next(iter(jin_training.jin_test_sets(p.jin.train, p.jin.n_test).values()))
    assert jin_training.ablation_table(cascades, test).notna().all().all()
    assert len(jin_training.table3(p.jin)) > 0
    # 05: every ordering network and its side reader
    orderings, _ = hypercut_ordering.train_orderings(p.ordering.train, p.ordering.orderings, ws)
    otest = hypercut_ordering.ordering_test_set(p.ordering.train, p.ordering.n_test)
    sides, _ = hypercut_ordering.side_table(orderings, p.ordering.reader, otest, ws)
    assert len(sides) > 0
    # 06: the U-Net every way, and Jin's cascade HyperCUT's ways (reusing 04's middle network)
    models = hypercut_blur2vid.unet_models(p.hypercut, orderings, ws)
    assert hypercut_blur2vid.unet_table(models, hypercut_blur2vid.unet_test(p.hypercut)).notna().all().all()
    assert hypercut_blur2vid.jin_models(p.hypercut, orderings, ws)
