import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def one_thread():
    """Small convolutions: a second intra-op thread only adds contention on a busy 2-core machine
    (measured 28x slower training with 2 threads under load).  Files of small trainings use it
    for every test (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
