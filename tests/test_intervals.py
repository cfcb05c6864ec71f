"""The two-level bootstrap on synthetic margins with a known answer, and the verdict rule at its edges."""

import numpy as np
import pytest

from blur2vid.experiments.intervals import Interval, hierarchical_bootstrap, interval_verdict


def _margins(rng, mu: float, tau: float, sigma: float, seeds: int, scenes: int):
    """Per-seed margins: the effect mu, a training-seed offset of sd tau, scene noise of sd sigma."""
    return [mu + rng.normal(0, tau) + rng.normal(0, sigma, scenes) for _ in range(seeds)]


def test_constant_margins_give_a_point_interval():
    iv = hierarchical_bootstrap({0: [0.3] * 5, 1: [0.3] * 7}, n_resamples=200)
    assert iv.estimate == pytest.approx(0.3) and iv.low == pytest.approx(0.3) and iv.high == pytest.approx(0.3)
    assert (iv.seeds, iv.scenes) == (2, 12)


def test_one_seed_covers_the_effect_at_the_stated_rate_when_seeds_do_not_matter():
    hits = 0
    for s in range(100):
        iv = hierarchical_bootstrap(_margins(np.random.default_rng(100 + s), 0.5, 0.0, 1.0, 1, 100), n_resamples=500,
                                    seed=s)
        hits += iv.low <= 0.5 <= iv.high
    assert 0.88 <= hits / 100 <= 1.0, hits  # nominal 0.95 (measured 0.945 over 200 simulations)


def test_the_interval_carries_the_spread_between_training_seeds():
    """With a seed-to-seed offset of sd 0.3 dB, resampling the seeds widens the interval well beyond
    what the same scenes pooled as one seed would give: a single run cannot show it."""
    rng = np.random.default_rng(1)
    values = _margins(rng, 0.5, 0.3, 1.0, 3, 100)
    hierarchical = hierarchical_bootstrap(values, n_resamples=2000)
    pooled = hierarchical_bootstrap([np.concatenate(values)], n_resamples=2000)
    assert hierarchical.estimate == pytest.approx(pooled.estimate)
    assert (hierarchical.high - hierarchical.low) > 1.5 * (pooled.high - pooled.low)


def test_resampling_is_reproducible_and_inputs_are_checked():
    values = _margins(np.random.default_rng(2), 0.1, 0.1, 1.0, 3, 20)
    assert hierarchical_bootstrap(values, seed=5) == hierarchical_bootstrap(values, seed=5)
    with pytest.raises(ValueError, match="at least one"):
        hierarchical_bootstrap([[1.0], []])
    with pytest.raises(ValueError, match="non-finite"):
        hierarchical_bootstrap([[1.0, float("nan")]])
    with pytest.raises(ValueError, match="confidence"):
        hierarchical_bootstrap([[1.0]], confidence=1.0)


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (0.01, 0.5, "reproduced"), (0.0, 0.5, "not shown"), (-0.2, 0.3, "not shown"), (-0.5, 0.0, "not shown"),
    (-0.5, -0.01, "contradicted")])
def test_verdict_rule_at_its_edges(low, high, verdict):
    assert interval_verdict(Interval((low + high) / 2, low, high, 0.95, 3, 300)) == verdict


def test_verdict_against_a_threshold():
    iv = Interval(0.3, 0.15, 0.45, 0.95, 3, 300)
    assert interval_verdict(iv, threshold=0.1) == "reproduced" and interval_verdict(iv, threshold=0.2) == "not shown"


def test_scenes_shared_by_every_seed_are_resampled_together():
    """On the frozen test set every seed sees the same scenes, so a scene's difficulty is shared:
    resampling scene indices once per draw (paired) covers the effect at about the stated rate,
    while fresh draws per seed average that shared noise away and under-cover."""
    def coverage(paired: bool) -> float:
        hits = 0
        for r in range(60):
            rng = np.random.default_rng(500 + r)
            scene = rng.normal(0, 1.0, 100)
            values = [0.5 + scene + rng.normal(0, 0.3, 100) for _ in range(3)]
            iv = hierarchical_bootstrap(values, n_resamples=500, seed=r, paired=paired)
            hits += iv.low <= 0.5 <= iv.high
        return hits / 60

    paired, nested = coverage(True), coverage(False)
    assert paired >= 0.88 and nested <= paired - 0.08, (paired, nested)
    with pytest.raises(ValueError, match="same number"):
        hierarchical_bootstrap([[1.0, 2.0], [1.0]], paired=True)
