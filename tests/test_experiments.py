"""The claims the notebooks save are read off their tables by the experiments' claims functions:
check them on tables with known numbers, by claim id."""

import numpy as np
import pandas as pd
import pytest
import torch

from blur2vid.data.sample import Batch
from blur2vid.experiments import (
    blur_formation,
    hypercut_blur2vid,
    hypercut_ordering,
    jin_losses,
    jin_training,
    order_ambiguity,
)
from blur2vid.experiments.claims import (
    Claim,
    aggregate_claims,
    assert_facts,
    claims_table,
    evidence_table,
    fact,
    margin_claim,
    threshold_claim,
)
from blur2vid.experiments.tables import BASELINES, gain_long, scene_table, summary
from blur2vid.training.cascade import JIN_VARIANTS

FRAMES = ["F1", "F2", "F3", "F4", "F5", "F6", "F7"]
SCENE_OFFSETS = np.array([-0.2, 0.2, -0.1, 0.1])  # four test scenes around each row's mean


def _scores(outer: float, inner: float = 25.0, middle: float = 28.0) -> np.ndarray:
    """Per-scene pPSNR of a row whose frame means are known: [4 scenes, 7 frames]."""
    return np.array([outer, outer, inner, middle, inner, outer, outer]) + SCENE_OFFSETS[:, None]


def _jin_tables(variant_outer: float):
    rows = {"baseline_blur": (BASELINES["baseline_blur"], _scores(22.0)),
            "baseline_middle": (BASELINES["baseline_middle"], _scores(21.0))}
    rows.update({n: (JIN_VARIANTS[n].label, _scores(variant_outer + 0.01 * i)) for i, n in enumerate(jin_training.ABLATION)})
    ablation = scene_table(rows)
    table2 = scene_table({r: (r, np.array([[m, g]] * 4) + SCENE_OFFSETS[:, None]) for r, m, g in
                          (("blur", 26.0, 22.0), ("nah", 27.0, 23.0), ("middle", 27.5, 23.2))},
                         columns=["moderate", "large"], mean=False)
    feed = scene_table({"estimated": ("est", _scores(22.0)), "ground_truth": ("gt", _scores(21.0))})
    runtime = pd.DataFrame({"320P_s": [2.0, 0.2, 0.6], "paper_320P_s": [2.43, 0.24, 0.61]}, index=["Nah", "Middle", "Full"])
    return table2, ablation, feed, runtime


def _hypercut_table(baselines: bool = False):
    rows = {
        "naive": ("naive", _scores(22.0)),
        "order_invariant": ("inv", _scores(21.5)),
        "hypercut:antisymmetric_crop": ("hc", _scores(22.3)),
        "order_invariant_reg:antisymmetric_crop": ("reg", _scores(21.4)),
        "hypercut:motion_rule": ("rule", _scores(23.0)),
    }
    if baselines:
        rows = {"baseline_blur": ("blur", _scores(22.5)), "baseline_middle": ("copy", _scores(21.0)), **rows}
    return scene_table(rows)


def test_the_fig4_premise_is_measured_against_the_better_baseline():
    """Variants 0.5 dB above the middle estimate copied everywhere but 0.5 dB below the blur copied
    everywhere have learned nothing: the premise fails by the distance to the blur."""
    claims = jin_training.claims(*_jin_tables(21.5))
    assert claims.loc["jin.fig4.premise", "value"] == pytest.approx(21.55 - 22.0)
    assert claims.loc["jin.fig4.premise", "kind"] == "premise" and not claims.loc["jin.fig4.premise", "holds"]
    assert claims.loc["jin.fig4.premise", "verdict"] == "contradicted"  # every scene 0.45 dB below the blur
    claims = jin_training.claims(*_jin_tables(23.0))
    assert claims.loc["jin.fig4.premise", "value"] == pytest.approx(23.05 - 22.0) and claims.loc["jin.fig4.premise", "holds"]
    assert claims.loc["jin.tab2.middle_beats_nah", "value"] == pytest.approx(0.5)
    assert claims.loc["jin.tab2.nah_better_on_large_blur", "value"] == pytest.approx((23.0 - 23.2) - (27.0 - 27.5))
    assert claims.loc["jin.fig4.teacher_forcing_beats_sequential", "value"] == pytest.approx(0.01 * 4 / 7)
    assert claims.loc["jin.fig5.gt_middle_helps", "value"] == pytest.approx(-1.0)
    assert claims.loc["jin.tab3.middle_much_faster_than_nah", "value"] == pytest.approx(10.0)
    assert claims.loc["jin.tab3.middle_much_faster_than_nah", "holds"]
    assert claims.loc["jin.tab3.middle_faster_than_full", "value"] == pytest.approx(3.0)


def test_the_oracle_is_a_reference_beside_the_six_schemes_not_their_premise():
    """The oracle (ours) gets its own reference claim against the better baseline, and the Fig. 4
    premise still takes the best of the paper's six schemes, however well the oracle does."""
    table2, ablation, feed, runtime = _jin_tables(21.5)
    oracle = scene_table({jin_training.ORACLE: (JIN_VARIANTS[jin_training.ORACLE].label, _scores(23.0))})
    claims = jin_training.claims(table2, pd.concat([ablation, oracle]), feed, runtime)
    assert claims.loc["jin.fig4.oracle_learns", "kind"] == "reference"
    assert claims.loc["jin.fig4.oracle_learns", "value"] == pytest.approx(23.0 - 22.0)
    assert claims.loc["jin.fig4.premise", "value"] == pytest.approx(21.55 - 22.0)
    assert "jin.fig4.oracle_learns" not in jin_training.claims(*_jin_tables(21.5)).index


def test_table3_is_timed_once_per_processor_and_read_back(tmp_path, monkeypatch):
    from blur2vid.models import timing

    calls = []

    def fake(models, resolutions, device, repeats):
        calls.append(1)
        return pd.DataFrame({"320P_s": [2.0, 0.2, 0.6], "params": [3, 1, 2], "device": ["cpu"] * 3},
                            index=pd.Index(["Nah", "Middle", "Full"], name="model"))

    monkeypatch.setattr(timing, "table3", fake)
    monkeypatch.setattr(timing, "table3_models", lambda scale: {})
    cfg = jin_training.JinExperimentConfig()
    first = jin_training.table3(cfg, cache=tmp_path)
    again = jin_training.table3(cfg, cache=tmp_path)
    assert len(calls) == 1 and "cached" in again.attrs and "cached" not in first.attrs
    pd.testing.assert_frame_equal(first, again)
    jin_training.table3(jin_training.JinExperimentConfig(bench_repeats=2), cache=tmp_path)  # another configuration
    jin_training.table3(cfg)  # no cache: always timed
    assert len(calls) == 3


def test_one_test_set_leaves_the_larger_blur_claim_unheld():
    table2, ablation, feed, runtime = _jin_tables(23.0)
    claims = jin_training.claims(table2.drop(columns="large"), ablation, feed, runtime)
    assert pd.isna(claims.loc["jin.tab2.nah_better_on_large_blur", "value"])
    assert not claims.loc["jin.tab2.nah_better_on_large_blur", "holds"]


def test_hypercut_claims_read_the_rows_by_id():
    claims = hypercut_blur2vid.claims(_hypercut_table(), _hypercut_table(baselines=True), "antisymmetric_crop")
    value = claims["value"]
    assert claims.loc["hypercut.ppsnr.unet.order_beats_naive_outer", "verdict"] == "reproduced"
    assert claims.loc["hypercut.ppsnr.unet.regulariser_helps", "verdict"] == "contradicted"
    assert (claims["rule"] == "interval").all() and (claims["scenes"] == 4).all() and (claims["seeds"] == 1).all()
    assert value["hypercut.ppsnr.unet.order_beats_naive_outer"] == pytest.approx(0.3)
    assert value["hypercut.ppsnr.unet.order_beats_invariant_outer"] == pytest.approx(0.8)
    assert value["hypercut.ppsnr.unet.regulariser_helps"] == pytest.approx(-0.4 / 7)
    assert value["hypercut.ppsnr.unet.reference.motion_rule"] == pytest.approx(1.0)
    assert claims.loc["hypercut.ppsnr.unet.reference.motion_rule", "kind"] == "reference"
    # the learned order gains 0.3 dB where the hand-made one gains 1.0: it keeps 30%, not 70%
    kept = claims.loc["hypercut.ppsnr.unet.order_keeps_hand_made_gain"]
    assert kept["value"] == pytest.approx(0.3 - hypercut_blur2vid.HAND_MADE_SHARE * 1.0) and kept["verdict"] == "contradicted"
    assert kept["kind"] == "reference"
    assert "hypercut.ppsnr.unet.premise" not in claims.index  # no baseline rows, no premise
    assert value["hypercut.ppsnr.jin.premise"] == pytest.approx(23.0 - 22.5)
    gain = gain_long(_hypercut_table(), "naive")
    rule = gain[(gain["model"] == "rule") & (gain["frame"] == "F1")]["gain"]
    assert len(rule) == 4 and rule.to_numpy() == pytest.approx([1.0] * 4)  # per scene
    assert summary(_hypercut_table()).loc["naive", "F1"] == pytest.approx(22.0)


def test_row_ids_and_labels_of_the_ppsnr_table():
    assert hypercut_blur2vid.row_id("naive") == "naive" and hypercut_blur2vid.row_id("hypercut", "motion_rule") == "hypercut:motion_rule"
    assert hypercut_blur2vid.row_label("hypercut", "motion_rule") == "HyperCUT order [motion rule (hand-made)]"
    cfg = hypercut_blur2vid.HyperCUTExperimentConfig(orderings=("antisymmetric_crop", "motion_rule"), main="antisymmetric_crop")
    assert [hypercut_blur2vid.row_id(s, o) for s, o in hypercut_blur2vid._rows(cfg)] == [
        "naive", "order_invariant", "hypercut:antisymmetric_crop", "order_invariant_reg:antisymmetric_crop",
        "hypercut:motion_rule"]


def test_formation_claims_follow_the_numbers():
    growth = pd.DataFrame({"speed_px_per_frame": [1.0] * 3, "frames": [1, 3, 5], "psnr_blur_vs_middle": [99, 30, 25]})
    rule = pd.DataFrame({"delta_px": [4.0, 8.0], "shift_per_frame_px": [1.0, 1.0], "psnr_frame_vs_instant": [45, 44]})
    claims = blur_formation.claims(growth, rule)
    assert claims["holds"].all() and claims.loc["jin.eq1.blur_grows_with_frames", "value"] == -5
    growth.loc[2, "psnr_blur_vs_middle"] = 31  # the blur of 5 frames sharper than that of 3: not a growth
    rule.loc[1, "psnr_frame_vs_instant"] = 42  # the curves of the two Deltas 3 dB apart
    claims = blur_formation.claims(growth, rule)
    assert not claims.loc["jin.eq1.blur_grows_with_frames", "holds"]
    assert claims.loc["jin.sec3.sharp_at_rule", "holds"] and not claims.loc["jin.sec3.depends_on_ratio", "holds"]


def _eq2_scenes(true, pair):
    return scene_table({"vs_true_frame": ("t", np.array([true] * 4) + SCENE_OFFSETS[:, None]),
                        "vs_pair_mean": ("p", np.array([pair] * 4) + SCENE_OFFSETS[:, None])}, mean=False)


def test_eq2_claims_need_every_outer_frame_closer_to_the_pair_mean():
    scenes = _eq2_scenes([20, 22, 24, 27, 24, 22, 20.0], [26, 27, 28, 27, 28, 27, 19.5])
    fig2 = order_ambiguity.figure2(order_ambiguity.AmbiguityConfig(toy_size=16))
    claims = order_ambiguity.claims(fig2, scenes)
    assert claims.loc["hypercut.eq2.closer_to_pair_mean", "value"] == pytest.approx(-0.5)
    assert "F7" in claims.loc["hypercut.eq2.closer_to_pair_mean", "claim"]  # the frame it was judged on
    assert not claims.loc["hypercut.eq2.closer_to_pair_mean", "holds"] and claims.loc["hypercut.eq2.middle_best", "holds"]
    assert assert_facts(claims) is claims  # the toy's identities hold bit for bit


def test_loss_facts_hold_and_fail_when_they_should():
    cfg = jin_losses.LossesConfig(size=16, n=2)
    inv = jin_losses.loss_invariance_table(cfg)
    swap = jin_losses.pair_swap_example(cfg)
    assert assert_facts(jin_losses.claims(inv, swap))["holds"].all()
    broken = inv.copy()
    broken.loc["global", "reversed"] += 1e-3
    with pytest.raises(AssertionError, match="jin.eq4.invariant_to_order"):
        assert_facts(jin_losses.claims(broken, swap))


def test_ordering_claims():
    table = pd.DataFrame({"label": ["g", "a", "c", "m"], "Hit": [0.96, 1.0, 1.0, 1.0]},
                         index=pd.Index(["generic", "antisymmetric", "antisymmetric_crop", "motion_rule"], name="id"))
    hits = scene_table({"generic": ("g", np.ones((200, 1)))}, columns=["Hit"], mean=False)
    claims = hypercut_ordering.claims(table, hits)
    assert list(claims.index) == ["hypercut.ordering.generic_hit", "hypercut.ordering.antisymmetric_hit",
                                  "hypercut.ordering.antisymmetric_crop_hit"]
    assert claims["holds"].all() and claims.loc["hypercut.ordering.generic_hit", "threshold"] == hypercut_ordering.GENERIC_HIT
    missed = np.ones((200, 1))
    missed[:8] = 0  # Hit 0.96 on 200 sequences: the interval reaches below 0.95, so not shown
    claims = hypercut_ordering.claims(table, scene_table({"generic": ("g", missed)}, columns=["Hit"], mean=False))
    assert claims.loc["hypercut.ordering.generic_hit", "value"] == pytest.approx(0.96)
    assert claims.loc["hypercut.ordering.generic_hit", "verdict"] == "not shown"
    table.loc["antisymmetric", "Hit"] = 0.99
    with pytest.raises(AssertionError, match="antisymmetric_hit"):
        assert_facts(hypercut_ordering.claims(table, hits))


def test_margin_claims_are_judged_by_their_interval():
    rng = np.random.default_rng(0)
    clear = margin_claim("a.b", "x", 0.5 + rng.normal(0, 0.5, 200))     # +0.5 dB, se 0.035
    unclear = margin_claim("a.b", "x", 0.02 + rng.normal(0, 0.5, 200))  # +0.02 dB: within the scenes' noise
    against = margin_claim("a.b", "x", -0.5 + rng.normal(0, 0.5, 200))
    assert (clear.verdict, unclear.verdict, against.verdict) == ("reproduced", "not shown", "contradicted")
    assert clear.holds and not unclear.holds and not against.holds
    assert clear.low < clear.value < clear.high and clear.low > 0 and unclear.low < 0 < unclear.high
    none = margin_claim("a.b", "x", [float("nan")] * 3)
    assert none.verdict == "not shown" and np.isnan(none.value) and none.scenes == 0


def test_claims_of_several_seeds_pool_their_evidence():
    """Two runs each 'reproduce' a margin on their own scenes, but they disagree by more than the
    scenes' noise: pooled over both seeds the interval carries that spread and straddles zero."""
    scenes = np.random.default_rng(1).normal(0, 0.05, 100)
    runs = [claims_table([margin_claim("a.b", "x", 0.4 + scenes), threshold_claim("a.c", "t", 2.0, above=1.0)]),
            claims_table([margin_claim("a.b", "x", -0.3 + scenes), threshold_claim("a.c", "t", 3.0, above=1.0)])]
    assert [r.loc["a.b", "verdict"] for r in runs] == ["reproduced", "contradicted"]
    evidence = pd.concat([r.attrs["evidence"].assign(seed=k) for k, r in enumerate(runs)])
    pooled = aggregate_claims(runs, evidence)
    assert pooled.loc["a.b", "seeds"] == 2 and pooled.loc["a.b", "scenes"] == 200
    assert pooled.loc["a.b", "verdict"] == "not shown" and pooled.loc["a.b", "value"] == pytest.approx(0.05, abs=0.02)
    assert pooled.loc["a.c", "holds"] and pooled.loc["a.c", "value"] == pytest.approx(2.5) and pooled.loc["a.c", "seeds"] == 2
    assert list(evidence_table([margin_claim("a.b", "x", [1.0, 2.0])]).columns) == ["claim", "seed", "scene", "value"]


def test_claim_helpers():
    assert threshold_claim("a.b", "x", 0.95, at_least=0.95).holds and not threshold_claim("a.b", "x", 0.95, above=0.95).holds
    with pytest.raises(ValueError, match="exactly one"):
        threshold_claim("a.b", "x", 1.0, above=0.0, below=2.0)
    with pytest.raises(ValueError, match="repeat"):
        claims_table([fact("a.b", "x", True), fact("a.b", "y", True)])
    with pytest.raises(ValueError, match="kind"):
        Claim("a.b", "x", 0.0, True, kind="hunch")
    with pytest.raises(ValueError, match="without spaces"):
        fact("a b", "x", True)


def test_grids_of_fig3_and_fig5():
    from blur2vid.models.jin import JinCascade, JinConfig

    frames = torch.rand(3, 7, 3, 20, 20)
    test = Batch(frames.mean(1), frames)
    rows, labels = jin_training.middle_grid(torch.nn.Identity(), torch.nn.Identity(), test, n=2)
    assert labels == ["blurry input", "Nah-style", "Middle (Jin)", "ground truth x[4]"] and len(rows) == 2
    assert torch.equal(rows[1][2], test.blur[1].clamp(0, 1)) and torch.equal(rows[1][3], frames[1, 3])
    rows, labels = jin_training.middle_feed_grid(JinCascade(JinConfig.smoke()), "teacher_forcing", test, n=2)
    assert len(rows) == 2 and len(labels) == 6 == len(rows[0])
    assert torch.allclose(rows[0][4], frames[0, 3])  # the ground-truth middle, shown as fed


def test_the_registry_cites_only_claims_the_experiments_make():
    """Every claim id the registry judges an item by is produced by some experiment's claims function."""
    from blur2vid.reproduction import registry

    fig2 = order_ambiguity.figure2(order_ambiguity.AmbiguityConfig(toy_size=16))
    eq2 = _eq2_scenes([20.0] * 7, [21.0] * 7)
    growth = pd.DataFrame({"speed_px_per_frame": [1.0] * 2, "frames": [3, 5], "psnr_blur_vs_middle": [30, 25]})
    rule = pd.DataFrame({"delta_px": [4.0], "shift_per_frame_px": [1.0], "psnr_frame_vs_instant": [45]})
    cfg = jin_losses.LossesConfig(size=16, n=2)
    hit = pd.DataFrame({"label": ["g", "a", "c"], "Hit": [1.0] * 3},
                       index=pd.Index(["generic", "antisymmetric", "antisymmetric_crop"], name="id"))
    hits = scene_table({"generic": ("g", np.ones((10, 1)))}, columns=["Hit"], mean=False)
    made = set().union(*(set(t.index) for t in [
        blur_formation.claims(growth, rule), order_ambiguity.claims(fig2, eq2),
        jin_losses.claims(jin_losses.loss_invariance_table(cfg), jin_losses.pair_swap_example(cfg)),
        jin_training.claims(*_jin_tables(23.0)), hypercut_ordering.claims(hit, hits),
        hypercut_blur2vid.claims(_hypercut_table(), _hypercut_table(baselines=True), "antisymmetric_crop")]))
    cited = {i for item in registry.REGISTRY for i in getattr(item.verdict, "claim_ids", ())}
    assert cited, "the registry cites no claim ids"
    assert cited <= made, f"cited but never made: {sorted(cited - made)}"


def test_the_naive_loss_on_a_reversible_toy_learns_the_pair_mean():
    """HyperCUT Eq. 2, with a trained network: the toy's blur is the same for a sequence and its
    reverse, so a network trained with the per-frame L2 loss on sequences of random direction ends
    predicting the mean of each symmetric pair (x_k + x_{T+1-k}) / 2 rather than either frame."""
    from blur2vid.core.metrics import per_frame_psnr
    from blur2vid.data import toy
    from blur2vid.losses import naive_loss
    from blur2vid.models.unet import SequenceUNet
    from blur2vid.training.loop import fit
    from blur2vid.training.unet_schemes import random_direction

    sequences, _ = toy.ambiguity_scenarios(n_objects=1, n_frames=5, size=16)
    frames = sequences[:1].float().expand(8, -1, -1, -1, -1)
    batch = Batch(frames.mean(1), frames)
    torch.manual_seed(0)
    net = SequenceUNet(n_frames=5, width=8, depth=1)
    fit(net, lambda step: random_direction(batch, torch.Generator().manual_seed(step)),
        lambda m, b: naive_loss(m(b.blur), b.frames), steps=150, lr=3e-3, progress=False)
    with torch.no_grad():
        pred = net(batch.blur[:1]).clamp(0, 1)
    truth = frames[:1]
    vs_mean = per_frame_psnr(pred, (truth + truth.flip(1)) / 2)[0]
    vs_true = per_frame_psnr(pred, truth)[0]
    for k in (0, 1, 3, 4):  # every frame but the middle one, where the pair is the frame itself
        assert vs_mean[k] > vs_true[k] + 5, (k, vs_mean.tolist(), vs_true.tolist())
    assert vs_true[2] > 25


def test_the_claims_view_puts_the_verdict_first_and_leaves_out_what_says_nothing():
    from blur2vid.experiments.claims import claims_view

    claims = claims_table([fact("x.fact", "an identity holds", True),
                           margin_claim("x.margin", "A beats B", {0: np.array([1.0, 1.2, 0.8]), 1: np.array([1.1, 0.9, 1.0])})])
    view = claims_view(claims)
    assert list(view.columns[:2]) == ["verdict", "claim"] and "low" not in view.columns
    assert view.loc["x.margin", "value"].startswith("+1.00 [") and view.loc["x.margin", "value"].endswith("dB")
    assert view.loc["x.fact", "value"] == "" and view.loc["x.margin", "evidence"] == "2 seed(s), 6 scene(s)"
    assert view.loc["x.margin", "rule"] == "interval, against 0" and view.loc["x.fact", "rule"] == "fact"  # the bar shown
    facts = claims_view(claims.loc[["x.fact"]])
    assert "value" not in facts.columns and "evidence" not in facts.columns  # nothing to say: left out
