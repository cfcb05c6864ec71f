import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _figures_to_tmp(tmp_path, monkeypatch):
    """No test writes into the committed figures/ folder."""
    monkeypatch.setenv("BLUR2VID_FIGURES", str(tmp_path / "figures"))
