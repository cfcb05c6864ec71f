"""Notebook 06 stands on the runs of 02, 04 and 05: run after them, it trains nothing that they
trained.  Papermill runs at the smoke profile, checkpoints in a temporary results folder."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checkpoints(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.pt"))}


def _execute(name: str, out: Path) -> None:
    import papermill

    papermill.execute_notebook(str(ROOT / "notebooks" / name), str(out / name), parameters={"profile": "smoke"},
                               cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)


@pytest.mark.slow
def test_notebook_06_reuses_the_runs_of_02_04_05(tmp_path, monkeypatch):
    monkeypatch.setenv("BLUR2VID_RESULTS", str(tmp_path / "results"))
    for name in ("02_order_ambiguity.ipynb", "04_jin_training.ipynb", "05_hypercut_ordering.ipynb"):
        _execute(name, tmp_path)
    folder = tmp_path / "results" / "smoke" / "checkpoints"
    before = _checkpoints(folder)
    assert len(before) >= 10, sorted(before)  # naive U-Net, middle, Nah, the ablation stages, orderings
    _execute("06_hypercut_blur2vid.ipynb", tmp_path)
    after = _checkpoints(folder)
    assert {k: after[k] for k in before} == before, "06 retrained (rewrote) a run of 02, 04 or 05"
    new = sorted(set(after) - set(before))
    # what 06 adds: the U-Net against each ordering and the regulariser, and three Jin schemes
    assert all(n.startswith(("unet_hypercut", "unet_order_invariant", "jin_core_", "jin_naive_order",
                             "jin_hypercut_order", "jin_table1_regulariser")) for n in new), new
    assert not any(n.startswith(("unet_naive", "jin_middle", "nah", "hypercut-", "jin_teacher_forcing")) for n in new), new
