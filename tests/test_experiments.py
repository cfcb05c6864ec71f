"""The claims the notebooks print are read off their tables by these functions: check them on
tables with known numbers."""

import pandas as pd
import pytest

from blur2vid import experiments as ex

FRAMES = ["F1", "F2", "F3", "F4", "F5", "F6", "F7"]


def _row(outer: float, inner: float = 25.0, middle: float = 28.0) -> list[float]:
    values = [outer, outer, inner, middle, inner, outer, outer]
    return [*values, sum(values) / 7]


def _jin_tables(variant_outer: float):
    from blur2vid.train_jin import JIN_VARIANTS

    names = ["independent", "global", "pair_no_middle", "pair", "sequential", "teacher_forcing"]
    rows = {ex.BLUR_BASELINE: _row(22.0), ex.COPY_BASELINE: _row(21.0)}
    rows.update({JIN_VARIANTS[n].label: _row(variant_outer + 0.01 * i) for i, n in enumerate(names)})
    ablation = pd.DataFrame(rows, index=[*FRAMES, "mean"]).T
    table2 = pd.DataFrame({"moderate": [27.0, 27.5], "large": [23.0, 23.2]}, index=["Nah-style multi-scale", "Middle (Jin)"])
    feed = pd.DataFrame({"estimated middle fed": _row(22.0), "ground-truth middle fed": _row(21.0)},
                        index=[*FRAMES, "mean"]).T
    return table2, ablation, feed


def test_the_fig4_premise_is_measured_against_the_better_baseline():
    """Variants 0.5 dB above the middle estimate copied everywhere but 0.5 dB below the blur copied
    everywhere have learned nothing: the premise fails by the distance to the blur."""
    claims = ex.jin_claims(*_jin_tables(21.5))
    premise = next(c for c in claims.index if "premise" in c)
    assert claims.loc[premise, "margin_db"] == pytest.approx(21.55 - 22.0)
    assert not claims.loc[premise, "reproduced"]
    claims = ex.jin_claims(*_jin_tables(23.0))
    assert claims.loc[premise, "margin_db"] == pytest.approx(23.05 - 22.0) and claims.loc[premise, "reproduced"]
    assert claims.loc["Table 2: Middle beats Nah on blur like the training data", "margin_db"] == pytest.approx(0.5)
    assert claims.loc["Fig. 4: teacher forcing beats sequential", "margin_db"] == pytest.approx(0.01 * 4 / 7)


def test_hypercut_claims_read_the_labelled_rows():
    main, other = "learned", "hand-made"
    rows = {
        ex.hypercut_label("naive"): _row(22.0),
        ex.hypercut_label("order_invariant"): _row(21.5),
        ex.hypercut_label("hypercut", main): _row(22.3),
        ex.hypercut_label("order_invariant_reg", main): _row(21.4),
        ex.hypercut_label("hypercut", other): _row(23.0),
    }
    table = pd.DataFrame(rows, index=[*FRAMES, "mean"]).T
    claims = ex.hypercut_claims(table, main, prefix="U-Net: ")
    margin = claims["margin_db"]
    assert margin["U-Net: HyperCUT order beats the naive loss on frames 1, 2, 6, 7"] == pytest.approx(0.3)
    assert margin["U-Net: HyperCUT order beats the order-invariant loss on frames 1, 2, 6, 7"] == pytest.approx(0.8)
    assert margin["U-Net: the regulariser improves the order-invariant loss"] == pytest.approx(-0.4 / 7)
    assert margin[f"U-Net: reference: [{other}] beats the naive loss on frames 1, 2, 6, 7"] == pytest.approx(1.0)
    assert not any("premise" in c for c in claims.index)  # no baseline rows, no premise
    baselines = pd.DataFrame({ex.BLUR_BASELINE: _row(22.5), ex.COPY_BASELINE: _row(21.0)}, index=[*FRAMES, "mean"]).T
    with_baselines = pd.concat([baselines, table])
    premise = ex.hypercut_claims(with_baselines, main).iloc[0]
    assert premise.name.startswith("premise:") and premise["margin_db"] == pytest.approx(23.0 - 22.5)
    gain = ex.gain_over(table, ex.hypercut_label("naive"))
    assert list(gain.index) == FRAMES and gain.loc["F1", ex.hypercut_label("hypercut", other)] == pytest.approx(1.0)


def test_grids_of_fig3_and_fig5():
    import torch

    from blur2vid.data.sample import Batch
    from blur2vid.models.jin import JinCascade, JinConfig

    frames = torch.rand(3, 7, 3, 20, 20)
    test = Batch(frames.mean(1), frames)
    rows, labels = ex.middle_grid({"copy": torch.nn.Identity()}, test, n=2)
    assert labels == ["blurry input", "copy", "ground truth x[4]"] and len(rows) == 2
    assert torch.equal(rows[1][1], test.blur[1].clamp(0, 1)) and torch.equal(rows[1][2], frames[1, 3])
    rows, labels = ex.middle_feed_grid(JinCascade(JinConfig.smoke()), "teacher_forcing", test, n=2)
    assert len(rows) == 2 and len(labels) == 6 == len(rows[0])
    assert torch.allclose(rows[0][4], frames[0, 3])  # the ground-truth middle, shown as fed
