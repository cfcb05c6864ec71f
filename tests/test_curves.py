"""Learning-curve tables: what a notebook saves and plots, and the final slope that says whether a
run had levelled off."""

import math

import pytest

from blur2vid.experiments.curves import SLOPE_SAMPLES, curve_table, final_slopes


def _history(points, stage=None, slope=0.0, start=20.0):
    out = [{"step": s, "samples": s * 100, "loss": 1.0} for s in range(0, points * 10, 3)]  # loss-only entries
    for k in range(1, points + 1):
        entry = {"step": k * 10, "samples": k * 1000, "loss": 1.0, "val_psnr": start + slope * k * 1000}
        out.append(entry if stage is None else {**entry, "stage": stage})
    return out


def test_curve_table_keeps_only_the_validation_points():
    table = curve_table({"a": _history(5), "b": _history(3)}, "val_psnr")
    assert list(table.columns) == ["run", "stage", "samples", "val_psnr"]
    assert table.groupby("run").size().to_dict() == {"a": 5, "b": 3}


def test_final_slope_of_a_straight_line_is_its_slope():
    slope = 2e-5  # dB per sample
    table = final_slopes(curve_table({"rising": _history(6, slope=slope), "flat": _history(6)}, "val_psnr"),
                         "val_psnr")
    column = f"slope per {SLOPE_SAMPLES // 1000}k samples"
    assert table.loc["rising", column] == pytest.approx(slope * SLOPE_SAMPLES)
    assert table.loc["flat", column] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["rising", "final"] == pytest.approx(20 + slope * 6000)
    assert table.loc["rising", "samples"] == 6000


def test_a_staged_run_takes_its_slope_from_the_last_stage():
    core = _history(4, stage="core", slope=1e-4)
    outer = [{**h, "samples": h["samples"] + 4000} for h in _history(4, stage="outer", slope=0.0, start=25.0)]
    table = final_slopes(curve_table({"staged": core + outer}, "val_psnr"), "val_psnr")
    assert table.iloc[0, -1] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["staged", "first"] == pytest.approx(20 + 1e-4 * 1000)


def test_one_point_has_no_slope_and_no_curve_is_a_clear_error():
    table = final_slopes(curve_table({"short": _history(1)}, "val_psnr"), "val_psnr")
    assert math.isnan(table.iloc[0, -1])
    with pytest.raises(ValueError, match="no history logged 'val_psnr'"):
        curve_table({"untracked": [{"step": 0, "samples": 8, "loss": 1.0}]}, "val_psnr")


def test_a_curve_table_read_back_from_csv_keeps_its_slopes(tmp_path):
    import pandas as pd

    from blur2vid.reproduction.aggregate import read_curve_table

    slope = 2e-5
    curve_table({"rising": _history(6, slope=slope)}, "val_psnr").to_csv(tmp_path / "c.csv")  # with row numbers
    table = final_slopes(read_curve_table(tmp_path / "c.csv"), "val_psnr")  # its empty stage reads back as NaN
    assert pd.isna(pd.read_csv(tmp_path / "c.csv")["stage"]).all()
    assert table.loc["rising", f"slope per {SLOPE_SAMPLES // 1000}k samples"] == pytest.approx(slope * SLOPE_SAMPLES)
